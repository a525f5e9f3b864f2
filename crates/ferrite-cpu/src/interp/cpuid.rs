//! CPUID: a P6-class processor that reports exactly the features ferrite implements.

use super::Exec;
use crate::state::CPUID_VENDOR;

/// CPUID leaf 1 EAX (and EDX after reset): family 6, model 13, stepping 8 — the P6-family
/// Pentium M, the P6-class part that has SSE2 (earlier P6 models never did).
pub(crate) const CPUID_SIGNATURE: u32 = 0x0000_06D8;

/// Highest standard leaf.
const MAX_LEAF: u32 = 2;
/// Highest extended leaf.
const MAX_EXT_LEAF: u32 = 0x8000_0004;
/// Extended leaves start here.
const EXT_BASE: u32 = 0x8000_0000;
/// The processor brand string (leaves 0x80000002–4), 48 bytes NUL-padded.
const BRAND: &[u8] = b"ferrite virtual P6-class CPU";

/// CPUID leaf 1 EDX feature bits ferrite implements.
pub(crate) mod feature {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// 4 MiB pages (CR4.PSE).
    pub const PSE: u32 = 1 << 3;
    /// Time-stamp counter (RDTSC, CR4.TSD).
    pub const TSC: u32 = 1 << 4;
    /// RDMSR/WRMSR.
    pub const MSR: u32 = 1 << 5;
    /// Physical address extension paging.
    pub const PAE: u32 = 1 << 6;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// An on-chip local APIC (xAPIC at IA32_APIC_BASE; clear while it is globally disabled).
    pub const APIC: u32 = 1 << 9;
    /// SYSENTER/SYSEXIT.
    pub const SEP: u32 = 1 << 11;
    /// MTRR MSRs (kept as storage; caching is not modelled).
    pub const MTRR: u32 = 1 << 12;
    /// Global pages (CR4.PGE).
    pub const PGE: u32 = 1 << 13;
    /// CMOVcc (and FCMOVcc with the FPU).
    pub const CMOV: u32 = 1 << 15;
    /// The PAT MSR (kept as storage).
    pub const PAT: u32 = 1 << 16;
    /// CLFLUSH (line size in leaf 1 EBX bits 8–15).
    pub const CLFSH: u32 = 1 << 19;
    /// MMX.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR with the SSE state, CR4.OSFXSR.
    pub const FXSR: u32 = 1 << 24;
    /// SSE.
    pub const SSE: u32 = 1 << 25;
    /// SSE2.
    pub const SSE2: u32 = 1 << 26;
    /// Leaf 0x80000001 EDX: no-execute pages with PAE.
    pub const EXT_NX: u32 = 1 << 20;
    /// Leaf 0x80000001 EDX: RDTSCP and IA32_TSC_AUX.
    pub const EXT_RDTSCP: u32 = 1 << 27;
}

/// Leaf 1 EDX: everything this CPU implements.
pub(crate) const LEAF1_EDX: u32 = feature::FPU
    | feature::PSE
    | feature::TSC
    | feature::MSR
    | feature::PAE
    | feature::CX8
    | feature::APIC
    | feature::SEP
    | feature::MTRR
    | feature::PGE
    | feature::CMOV
    | feature::PAT
    | feature::CLFSH
    | feature::MMX
    | feature::FXSR
    | feature::SSE
    | feature::SSE2;

/// Leaf 1 EBX: the CLFLUSH line size in 8-byte units (bits 8–15), 64 bytes; the initial
/// APIC ID (bits 24–31) is 0.
const LEAF1_EBX: u32 = 8 << 8;

/// Leaf 2: one descriptor byte per cache/TLB; 0x01 in AL says "call once". We report
/// only "no further cache information" rather than invent a cache geometry.
const LEAF2_EAX: u32 = 0x0000_0001;

impl Exec<'_> {
    /// Executes CPUID for the leaf in EAX.
    pub(super) fn cpuid(&mut self) {
        let leaf = self.cpu.gpr[0];
        let word = |bytes: &[u8], i: usize| {
            let mut w = [0u8; 4];
            for (k, b) in w.iter_mut().enumerate() {
                *b = bytes.get(i * 4 + k).copied().unwrap_or(0);
            }
            u32::from_le_bytes(w)
        };
        let (a, b, c, d) = match leaf {
            0 => (MAX_LEAF, word(CPUID_VENDOR, 0), word(CPUID_VENDOR, 2), word(CPUID_VENDOR, 1)),
            1 => {
                let apic_off = self.cpu.msr.apic_base & super::msr::APIC_BASE_ENABLE == 0;
                (CPUID_SIGNATURE, LEAF1_EBX, 0, if apic_off { LEAF1_EDX & !feature::APIC } else { LEAF1_EDX })
            }
            2 => (LEAF2_EAX, 0, 0, 0),
            EXT_BASE => (MAX_EXT_LEAF, 0, 0, 0),
            0x8000_0001 => (0, 0, 0, feature::EXT_NX | feature::EXT_RDTSCP),
            0x8000_0002..=0x8000_0004 => {
                let base = (leaf - 0x8000_0002) as usize * 4;
                (word(BRAND, base), word(BRAND, base + 1), word(BRAND, base + 2), word(BRAND, base + 3))
            }
            // Out-of-range standard leaves report the highest standard leaf, as Intel does.
            l if l < EXT_BASE => (LEAF2_EAX, 0, 0, 0),
            _ => (0, 0, 0, 0),
        };
        self.cpu.gpr[0] = a;
        self.cpu.gpr[3] = b;
        self.cpu.gpr[1] = c;
        self.cpu.gpr[2] = d;
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::run_real;

    #[test]
    fn test_cpuid_vendor_and_signature() {
        // xor eax,eax; cpuid; hlt
        let (cpu, _) = run_real(&[0x66, 0x31, 0xC0, 0x0F, 0xA2, 0xF4]);
        let mut v = Vec::new();
        for r in [3, 2, 1] {
            v.extend_from_slice(&cpu.gpr[r].to_le_bytes());
        }
        assert_eq!(&v, b"GenuineIntel");
        assert_eq!(cpu.gpr[0], 2);
        // mov eax,1; cpuid; hlt
        let (cpu, _) = run_real(&[0x66, 0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0xF4]);
        assert_eq!(cpu.gpr[0] >> 8 & 0xF, 6, "family 6");
        assert!(cpu.gpr[2] & super::feature::SEP != 0);
    }

    #[test]
    fn test_cpuid_brand_string() {
        // mov eax,0x80000002; cpuid; hlt
        let (cpu, _) = run_real(&[0x66, 0xB8, 2, 0, 0, 0x80, 0x0F, 0xA2, 0xF4]);
        assert_eq!(&cpu.gpr[0].to_le_bytes(), b"ferr");
    }
}
