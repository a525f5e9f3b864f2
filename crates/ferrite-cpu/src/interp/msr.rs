//! Model-specific registers (RDMSR/WRMSR) and the fast system calls SYSENTER/SYSEXIT.
//!
//! MTRRs and the PAT are kept as storage: ferrite does not model caches, but firmware and
//! kernels program them and read them back.

use super::Exec;
use crate::fault::Fault;
use crate::flags::Flags;
use crate::paging::EFER_NXE;
use crate::state::{SegReg, Segment};

/// MSR numbers.
pub(crate) mod index {
    pub const TSC: u32 = 0x10;
    pub const PLATFORM_ID: u32 = 0x17;
    pub const APIC_BASE: u32 = 0x1B;
    pub const BIOS_SIGN_ID: u32 = 0x8B;
    pub const MTRR_CAP: u32 = 0xFE;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const MCG_CAP: u32 = 0x179;
    pub const MCG_STATUS: u32 = 0x17A;
    pub const MISC_ENABLE: u32 = 0x1A0;
    pub const MTRR_VAR_FIRST: u32 = 0x200;
    pub const MTRR_VAR_LAST: u32 = 0x20F;
    pub const MTRR_FIX_64K: u32 = 0x250;
    pub const MTRR_FIX_16K_80000: u32 = 0x258;
    pub const MTRR_FIX_16K_A0000: u32 = 0x259;
    pub const MTRR_FIX_4K_FIRST: u32 = 0x268;
    pub const MTRR_FIX_4K_LAST: u32 = 0x26F;
    pub const PAT: u32 = 0x277;
    pub const MTRR_DEF_TYPE: u32 = 0x2FF;
    pub const EFER: u32 = 0xC000_0080;
    pub const TSC_AUX: u32 = 0xC000_0103;
}

/// IA32_EFER.SCE (bit 0): SYSCALL enable.
const EFER_SCE: u64 = 1;
/// IA32_APIC_BASE bit 8: this is the bootstrap processor (read only).
pub const APIC_BASE_BSP: u64 = 1 << 8;
/// IA32_APIC_BASE bit 11: the local APIC is globally enabled.
pub const APIC_BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE bits 12–35: the register page's physical address.
pub const APIC_BASE_ADDR_MASK: u64 = 0xF_FFFF_F000;
/// IA32_APIC_BASE after reset: base 0xFEE00000, global enable, bootstrap processor.
pub(crate) const APIC_BASE_RESET: u64 = 0xFEE0_0000 | APIC_BASE_ENABLE | APIC_BASE_BSP;
/// IA32_PAT after reset: WB, WT, UC-, UC repeated.
pub(crate) const PAT_RESET: u64 = 0x0007_0406_0007_0406;
/// MTRRcap: 8 variable ranges, fixed ranges supported, write-combining supported.
const MTRR_CAP_VALUE: u64 = 8 | (1 << 8) | (1 << 10);
/// Number of fixed-range MTRR registers (one 64K, two 16K, eight 4K).
pub(crate) const MTRR_FIXED_COUNT: usize = 11;

/// MSR-backed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct MsrState {
    /// IA32_SYSENTER_CS.
    pub sysenter_cs: u32,
    /// IA32_SYSENTER_ESP.
    pub sysenter_esp: u32,
    /// IA32_SYSENTER_EIP.
    pub sysenter_eip: u32,
    /// IA32_APIC_BASE.
    pub apic_base: u64,
    /// IA32_PAT.
    pub pat: u64,
    /// IA32_MISC_ENABLE.
    pub misc_enable: u64,
    /// MTRRdefType.
    pub mtrr_def_type: u64,
    /// Fixed-range MTRRs in the order 0x250, 0x258, 0x259, 0x268–0x26F.
    pub mtrr_fixed: [u64; MTRR_FIXED_COUNT],
    /// Variable-range MTRR base/mask pairs 0x200–0x20F.
    pub mtrr_var: [u64; 16],
    /// IA32_TSC_AUX (bits 0–31; what RDTSCP returns in ECX).
    pub tsc_aux: u32,
}

impl Default for MsrState {
    fn default() -> Self {
        MsrState {
            sysenter_cs: 0,
            sysenter_esp: 0,
            sysenter_eip: 0,
            apic_base: APIC_BASE_RESET,
            pat: PAT_RESET,
            misc_enable: 0,
            mtrr_def_type: 0,
            mtrr_fixed: [0; MTRR_FIXED_COUNT],
            mtrr_var: [0; 16],
            tsc_aux: 0,
        }
    }
}

/// Flat 4 GiB code/data segments SYSENTER/SYSEXIT load (access byte | flags << 8).
const FLAT_CODE_DPL0: u16 = 0xC09B;
const FLAT_DATA_DPL0: u16 = 0xC093;
const FLAT_CODE_DPL3: u16 = 0xC0FB;
const FLAT_DATA_DPL3: u16 = 0xC0F3;

fn fixed_slot(msr: u32) -> Option<usize> {
    use index::*;
    match msr {
        MTRR_FIX_64K => Some(0),
        MTRR_FIX_16K_80000 => Some(1),
        MTRR_FIX_16K_A0000 => Some(2),
        MTRR_FIX_4K_FIRST..=MTRR_FIX_4K_LAST => Some(3 + (msr - MTRR_FIX_4K_FIRST) as usize),
        _ => None,
    }
}

impl Exec<'_> {
    /// RDMSR: EDX:EAX = MSR[ECX]; #GP(0) at CPL > 0 or for an unknown MSR.
    pub(super) fn rdmsr(&mut self) -> Result<(), Fault> {
        if self.cpu.cpl() != 0 {
            return Err(Fault::GP0);
        }
        let v = self.read_msr(self.cpu.gpr[1]).ok_or(Fault::GP0)?;
        self.cpu.gpr[0] = v as u32;
        self.cpu.gpr[2] = (v >> 32) as u32;
        Ok(())
    }

    /// WRMSR: MSR[ECX] = EDX:EAX; #GP(0) at CPL > 0, for an unknown or read-only MSR, or
    /// for reserved bits.
    pub(super) fn wrmsr(&mut self) -> Result<(), Fault> {
        if self.cpu.cpl() != 0 {
            return Err(Fault::GP0);
        }
        let v = (self.cpu.gpr[2] as u64) << 32 | self.cpu.gpr[0] as u64;
        self.write_msr(self.cpu.gpr[1], v).ok_or(Fault::GP0)
    }

    fn read_msr(&self, msr: u32) -> Option<u64> {
        use index::*;
        let m = &self.cpu.msr;
        Some(match msr {
            TSC => self.cpu.tsc,
            PLATFORM_ID | BIOS_SIGN_ID | MCG_CAP | MCG_STATUS => 0,
            APIC_BASE => m.apic_base,
            MTRR_CAP => MTRR_CAP_VALUE,
            SYSENTER_CS => m.sysenter_cs as u64,
            SYSENTER_ESP => m.sysenter_esp as u64,
            SYSENTER_EIP => m.sysenter_eip as u64,
            MISC_ENABLE => m.misc_enable,
            MTRR_VAR_FIRST..=MTRR_VAR_LAST => m.mtrr_var[(msr - MTRR_VAR_FIRST) as usize],
            PAT => m.pat,
            MTRR_DEF_TYPE => m.mtrr_def_type,
            EFER => self.cpu.efer,
            TSC_AUX => m.tsc_aux as u64,
            _ => m.mtrr_fixed[fixed_slot(msr)?],
        })
    }

    fn write_msr(&mut self, msr: u32, v: u64) -> Option<()> {
        use index::*;
        let m = &mut self.cpu.msr;
        match msr {
            TSC => self.cpu.tsc = v,
            BIOS_SIGN_ID | MCG_STATUS => {}
            APIC_BASE => {
                // Base (bits 12–35), global enable (11); BSP (8) is read only; x2APIC (10)
                // and the low byte are reserved.
                if v & !(APIC_BASE_ADDR_MASK | APIC_BASE_ENABLE | APIC_BASE_BSP) != 0 {
                    return None;
                }
                m.apic_base = (v & (APIC_BASE_ADDR_MASK | APIC_BASE_ENABLE)) | (m.apic_base & APIC_BASE_BSP);
                let value = m.apic_base;
                self.io.apic_base_written(value);
                self.end_block = true;
            }
            SYSENTER_CS => m.sysenter_cs = v as u32 & 0xFFFF,
            SYSENTER_ESP => m.sysenter_esp = v as u32,
            SYSENTER_EIP => m.sysenter_eip = v as u32,
            MISC_ENABLE => m.misc_enable = v,
            MTRR_VAR_FIRST..=MTRR_VAR_LAST => m.mtrr_var[(msr - MTRR_VAR_FIRST) as usize] = v,
            PAT => m.pat = v,
            MTRR_DEF_TYPE => m.mtrr_def_type = v & 0xCFF,
            EFER => {
                // NXE, and SCE (read/write; SYSCALL itself exists only in 64-bit mode,
                // which this CPU lacks). LME and the rest are reserved.
                if v & !(EFER_NXE | EFER_SCE) != 0 {
                    return None;
                }
                self.cpu.efer = v;
                self.cpu.tlb.flush(false);
                self.end_block = true;
            }
            // Bits 32–63 are reserved: a write with any of them set is #GP.
            TSC_AUX if v >> 32 != 0 => return None,
            TSC_AUX => m.tsc_aux = v as u32,
            _ => m.mtrr_fixed[fixed_slot(msr)?] = v,
        }
        Some(())
    }

    /// SYSENTER: to the flat ring-0 segments and entry point the MSRs name.
    pub(super) fn sysenter(&mut self) -> Result<(), Fault> {
        let cs = self.cpu.msr.sysenter_cs as u16 & !3;
        if !self.cpu.protected_mode() || cs == 0 {
            return Err(Fault::GP0);
        }
        self.cpu.eflags &= !(Flags::VM | Flags::IF | Flags::RF);
        self.cpu.seg[SegReg::Cs as usize] = flat(cs, FLAT_CODE_DPL0);
        self.cpu.seg[SegReg::Ss as usize] = flat(cs.wrapping_add(8), FLAT_DATA_DPL0);
        self.cpu.gpr[4] = self.cpu.msr.sysenter_esp;
        self.cpu.eip = self.cpu.msr.sysenter_eip;
        self.end_block = true;
        Ok(())
    }

    /// SYSEXIT: back to the flat ring-3 segments, EIP = EDX, ESP = ECX.
    pub(super) fn sysexit(&mut self) -> Result<(), Fault> {
        let cs = self.cpu.msr.sysenter_cs as u16 & !3;
        if !self.cpu.protected_mode() || self.cpu.cpl() != 0 || cs == 0 {
            return Err(Fault::GP0);
        }
        self.cpu.seg[SegReg::Cs as usize] = flat(cs.wrapping_add(16) | 3, FLAT_CODE_DPL3);
        self.cpu.seg[SegReg::Ss as usize] = flat(cs.wrapping_add(24) | 3, FLAT_DATA_DPL3);
        self.cpu.gpr[4] = self.cpu.gpr[1];
        self.cpu.eip = self.cpu.gpr[2];
        self.end_block = true;
        Ok(())
    }
}

fn flat(selector: u16, attrs: u16) -> Segment {
    Segment { selector, attrs, base: 0, limit: 0xFFFF_FFFF }
}

#[cfg(test)]
mod tests {
    use crate::tests::{run_real, run_real_with};

    #[test]
    fn test_wrmsr_rdmsr_round_trip_sysenter_eip() {
        let code = [
            0x66, 0xB9, 0x76, 0x01, 0x00, 0x00, // mov ecx, 0x176
            0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
            0x66, 0x31, 0xD2, // xor edx, edx
            0x0F, 0x30, // wrmsr
            0x66, 0x31, 0xC0, // xor eax, eax
            0x0F, 0x32, // rdmsr
            0xF4,
        ];
        let (cpu, _) = run_real(&code);
        assert_eq!(cpu.msr.sysenter_eip, 0x1234_5678);
        assert_eq!(cpu.gpr[0], 0x1234_5678);
    }

    #[test]
    fn test_apic_base_msr_keeps_bsp_and_clearing_enable_hides_cpuid_apic() {
        let code = [
            0x66, 0xB9, 0x1B, 0x00, 0x00, 0x00, // mov ecx, 0x1b
            0x0F, 0x32, // rdmsr
            0x66, 0x89, 0xC6, // mov esi, eax
            0x66, 0xB8, 0x00, 0x00, 0xE0, 0xFE, // mov eax, 0xfee00000 (enable and BSP clear)
            0x0F, 0x30, // wrmsr
            0x66, 0xB8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
            0x0F, 0xA2, // cpuid
            0xF4,
        ];
        let (cpu, _) = run_real(&code);
        assert_eq!(cpu.gpr[6], 0xFEE0_0900, "reset value: base, enable, BSP");
        assert_eq!(cpu.msr.apic_base, 0xFEE0_0100, "BSP is read only");
        assert_eq!(cpu.gpr[2] & super::super::cpuid::feature::APIC, 0, "CPUID hides a disabled APIC");
        let (cpu, _) = run_real(&[0x66, 0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0xF4]);
        assert_ne!(cpu.gpr[2] & super::super::cpuid::feature::APIC, 0, "CPUID.1:EDX.APIC");
    }

    #[test]
    fn test_efer_keeps_sce_and_nxe() {
        let code = [
            0x66, 0xB9, 0x80, 0x00, 0x00, 0xC0, // mov ecx, 0xc0000080
            0x66, 0xB8, 0x01, 0x08, 0x00, 0x00, // mov eax, 0x801 (NXE | SCE)
            0x66, 0x31, 0xD2, // xor edx, edx
            0x0F, 0x30, // wrmsr
            0x66, 0x31, 0xC0, // xor eax, eax
            0x0F, 0x32, // rdmsr
            0xF4,
        ];
        let (cpu, _) = run_real(&code);
        assert_eq!(cpu.efer, 0x801);
        assert_eq!(cpu.gpr[0], 0x801);
    }

    #[test]
    fn test_rdtscp_returns_tsc_and_tsc_aux() {
        let code = [
            0x66, 0xB9, 0x03, 0x01, 0x00, 0xC0, // mov ecx, 0xc0000103 (IA32_TSC_AUX)
            0x66, 0xB8, 0x2A, 0x00, 0x00, 0x00, // mov eax, 42
            0x66, 0x31, 0xD2, // xor edx, edx
            0x0F, 0x30, // wrmsr
            0x66, 0x31, 0xC9, // xor ecx, ecx
            0x0F, 0x01, 0xF9, // rdtscp
            0x66, 0x89, 0xC6, // mov esi, eax
            0x66, 0x89, 0xCF, // mov edi, ecx
            0x66, 0xB8, 0x01, 0x00, 0x00, 0x80, // mov eax, 0x80000001
            0x0F, 0xA2, // cpuid
            0xF4,
        ];
        let (cpu, _) = run_real(&code);
        assert_eq!(cpu.msr.tsc_aux, 42);
        assert_eq!(cpu.gpr[7], 42, "RDTSCP puts IA32_TSC_AUX in ECX");
        assert_ne!(cpu.gpr[6], 0, "EAX holds the TSC's low half");
        assert_ne!(cpu.gpr[2] & super::super::cpuid::feature::EXT_RDTSCP, 0, "CPUID.80000001h:EDX.RDTSCP");
    }

    #[test]
    fn test_unknown_msr_is_gp() {
        // mov ecx, 0x12345; rdmsr; hlt — with a #GP handler (vector 13) at 0000:0300: hlt
        let code = [0x66, 0xB9, 0x45, 0x23, 0x01, 0x00, 0x0F, 0x32, 0xF4];
        let (cpu, _) = run_real_with(&code, |mem| {
            mem.write_bytes(13 * 4, &[0x00, 0x03, 0x00, 0x00]);
            mem.write_u8(0x300, 0xF4);
        });
        assert_eq!(cpu.eip, 0x301, "went to the #GP handler");
    }
}
