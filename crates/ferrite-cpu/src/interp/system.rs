//! System instructions: port I/O, HLT, RDTSC, control/debug registers, the
//! descriptor-table registers, and segment register loading.

use super::Exec;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::paging::{CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE};
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

/// CR0 bits.
const CR0_PE: u32 = 1 << 0;
const CR0_ET: u32 = 1 << 4;
const CR0_TS: u32 = 1 << 3;
const CR0_EM: u32 = 1 << 2;
/// CR4.TSD: RDTSC is privileged.
const CR4_TSD: u32 = 1 << 2;
/// CR4 bits this CPU implements (and CPUID reports); setting any other is #GP(0). VME,
/// PVI, DE, MCE and PCE are absent, as their CPUID bits are.
const CR4_SUPPORTED: u32 =
    CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE | crate::simd::CR4_OSFXSR | crate::simd::CR4_OSXMMEXCPT;

impl Exec<'_> {
    /// #GP(0) unless the current privilege level may use IOPL-sensitive instructions.
    pub(crate) fn check_iopl(&self) -> Result<(), Fault> {
        if self.cpu.protected_mode() && self.cpu.cpl() as u32 > (self.cpu.eflags & Flags::IOPL) >> 12 {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// In virtual-8086 mode, PUSHF/POPF/INT n/IRET need IOPL 3.
    pub(crate) fn v86_needs_iopl3(&self) -> bool {
        self.cpu.eflags & Flags::VM != 0 && self.cpu.eflags & Flags::IOPL != Flags::IOPL
    }

    /// #GP(0) unless running at CPL 0.
    fn check_cpl0(&self) -> Result<(), Fault> {
        if self.cpu.cpl() != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    pub(super) fn exec_system(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        match ins.mnemonic() {
            M::In => {
                let port = self.read_op(ins, 1)? as u16;
                let size = self.op_size(ins, 0);
                self.check_io(port, size)?;
                let v = self.io.io_read(port, size);
                self.set_reg(ins.op0_register(), v);
                self.end_block = true;
                Ok(())
            }
            M::Out => {
                let port = self.read_op(ins, 0)? as u16;
                let size = self.op_size(ins, 1);
                self.check_io(port, size)?;
                let v = self.read_op(ins, 1)?;
                self.io.io_write(port, size, v);
                self.end_block = true;
                Ok(())
            }
            M::Hlt => {
                self.check_cpl0()?;
                self.cpu.halted = true;
                self.end_block = true;
                Ok(())
            }
            M::Cpuid => {
                self.cpuid();
                Ok(())
            }
            M::Rdtsc | M::Rdtscp => {
                if self.cpu.cr4 & CR4_TSD != 0 {
                    self.check_cpl0()?;
                }
                self.cpu.gpr[0] = self.cpu.tsc as u32;
                self.cpu.gpr[2] = (self.cpu.tsc >> 32) as u32;
                if ins.mnemonic() == M::Rdtscp {
                    self.cpu.gpr[1] = self.cpu.msr.tsc_aux;
                }
                Ok(())
            }
            // RDPMC: this CPU models no performance-monitoring counters, so every counter
            // index in ECX is invalid: #GP(0) (as for CPL > 0 with CR4.PCE clear).
            M::Rdpmc => Err(Fault::GP0),
            M::Lgdt | M::Lidt => {
                self.check_cpl0()?;
                if ins.op0_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                let limit = self.read_mem(seg, off, 2)?;
                let mut base = self.read_mem(seg, off.wrapping_add(2), 4)?;
                if ins.code() == Code::Lgdt_m1632_16 || ins.code() == Code::Lidt_m1632_16 {
                    base &= 0x00FF_FFFF;
                }
                let t = if ins.mnemonic() == M::Lgdt { &mut self.cpu.gdtr } else { &mut self.cpu.idtr };
                t.base = base;
                t.limit = limit;
                Ok(())
            }
            M::Sgdt | M::Sidt => {
                if ins.op0_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let t = if ins.mnemonic() == M::Sgdt { self.cpu.gdtr } else { self.cpu.idtr };
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                let base = if matches!(ins.code(), Code::Sgdt_m1632_16 | Code::Sidt_m1632_16) {
                    t.base & 0x00FF_FFFF
                } else {
                    t.base
                };
                self.write_mem(seg, off, 2, t.limit)?;
                self.write_mem(seg, off.wrapping_add(2), 4, base)
            }
            M::Smsw => {
                let v = self.cpu.cr0;
                if ins.op0_kind() == OpKind::Memory {
                    let seg = self.mem_seg(ins);
                    let off = self.ea(ins);
                    self.write_mem(seg, off, 2, v)
                } else {
                    self.write_op(ins, 0, v)
                }
            }
            M::Lmsw => {
                self.check_cpl0()?;
                let v = self.read_op(ins, 0)? & 0xF;
                // LMSW can set PE but never clear it.
                let keep_pe = self.cpu.cr0 & CR0_PE;
                self.cpu.cr0 = (self.cpu.cr0 & !0xF) | v | keep_pe;
                self.end_block = true;
                Ok(())
            }
            M::Clts => {
                self.check_cpl0()?;
                self.cpu.cr0 &= !CR0_TS;
                Ok(())
            }
            M::Lldt | M::Ltr | M::Sldt | M::Str | M::Lar | M::Lsl | M::Verr | M::Verw | M::Arpl => {
                self.exec_protect(ins)
            }
            M::Rdmsr => self.rdmsr(),
            M::Wrmsr => self.wrmsr(),
            M::Sysenter => self.sysenter(),
            M::Sysexit => self.sysexit(),
            M::Invd | M::Wbinvd => self.check_cpl0(),
            M::Invlpg => {
                self.check_cpl0()?;
                if ins.op0_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                let lin = self.linear(seg, off, 1, crate::memory::Access::Read)?;
                self.cpu.tlb.flush_page(lin);
                Ok(())
            }
            M::Ud0 | M::Ud1 | M::Ud2 | M::INVALID => Err(Fault::UD),
            M::Fxsave | M::Fxrstor => {
                // FXSAVE/FXRSTOR: #NM on EM or TS; the x87 image, MXCSR and XMM0–7.
                if self.cpu.cr0 & (CR0_EM | CR0_TS) != 0 {
                    return Err(Fault::new(Vector::DeviceNotAvailable));
                }
                if ins.op0_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                self.exec_x87(ins)
            }
            _ if is_x87(ins) => {
                // ESC opcodes trap with #NM when CR0.EM or CR0.TS is set.
                if self.cpu.cr0 & (CR0_EM | CR0_TS) != 0 {
                    return Err(Fault::new(Vector::DeviceNotAvailable));
                }
                self.exec_x87(ins)
            }
            _ if crate::simd::is_simd(ins) => self.exec_simd(ins),
            _ => Err(Fault::UD),
        }
    }

    pub(super) fn exec_mov_crdr(&mut self, ins: &Instruction) -> Result<(), Fault> {
        self.check_cpl0()?;
        match ins.code() {
            Code::Mov_r32_cr => {
                let v = match ins.op1_register() {
                    Register::CR0 => self.cpu.cr0,
                    Register::CR2 => self.cpu.cr2,
                    Register::CR3 => self.cpu.cr3,
                    Register::CR4 => self.cpu.cr4,
                    _ => return Err(Fault::UD),
                };
                self.set_reg(ins.op0_register(), v);
            }
            Code::Mov_cr_r32 => {
                let v = self.get_reg(ins.op1_register());
                match ins.op0_register() {
                    Register::CR0 => {
                        // PG without PE, or NW without CD, is #GP(0).
                        if (v & 0x8000_0000 != 0 && v & CR0_PE == 0) || (v & 0x2000_0000 != 0 && v & 0x4000_0000 == 0) {
                            return Err(Fault::GP0);
                        }
                        let old = self.cpu.cr0;
                        self.cpu.cr0 = v | CR0_ET;
                        if (old ^ self.cpu.cr0) & (CR0_PG | CR0_WP | CR0_PE) != 0 {
                            self.flush_tlb(false);
                        }
                    }
                    Register::CR2 => self.cpu.cr2 = v,
                    Register::CR3 => {
                        self.cpu.cr3 = v;
                        self.flush_tlb(self.cpu.cr4 & CR4_PGE != 0);
                    }
                    Register::CR4 => {
                        if v & !CR4_SUPPORTED != 0 {
                            return Err(Fault::GP0);
                        }
                        let old = self.cpu.cr4;
                        self.cpu.cr4 = v;
                        if (old ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE) != 0 {
                            self.flush_tlb(false);
                        }
                    }
                    _ => return Err(Fault::UD),
                }
                self.end_block = true;
            }
            Code::Mov_r32_dr => {
                let n = ins.op1_register().number();
                let v = self.cpu.dr[n];
                self.set_reg(ins.op0_register(), v);
            }
            _ => {
                let n = ins.op0_register().number();
                self.cpu.dr[n] = self.get_reg(ins.op1_register());
                if n == 7 {
                    self.cpu.dbg = super::DebugState::from_dr7(self.cpu.dr[7]);
                    self.end_block = true;
                }
            }
        }
        Ok(())
    }

    /// Flushes the soft TLB (a whole-TLB event, counted) and ends the block.
    fn flush_tlb(&mut self, keep_global: bool) {
        self.cpu.tlb.flush(keep_global);
        self.cpu.mmu_stats.flushes += 1;
        self.end_block = true;
    }
}

/// Whether the instruction is an x87 instruction (an ESC opcode D8–DF).
fn is_x87(ins: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    ins.cpuid_features()
        .iter()
        .any(|f| matches!(f, F::FPU | F::FPU287 | F::FPU287XL_ONLY | F::FPU387 | F::FPU387SL_ONLY))
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_rdpmc_without_counters_is_gp_not_ud() {
        // xor ecx, ecx; rdpmc; hlt — #GP handler (vector 13) at 0000:0300, #UD (vector 6)
        // at 0000:0310: hlt each.
        let code = [0x66, 0x31, 0xC9, 0x0F, 0x33, 0xF4];
        let (cpu, _) = crate::tests::run_real_with(&code, |mem| {
            mem.write_bytes(13 * 4, &[0x00, 0x03, 0x00, 0x00]);
            mem.write_bytes(6 * 4, &[0x10, 0x03, 0x00, 0x00]);
            mem.write_u8(0x300, 0xF4);
            mem.write_u8(0x310, 0xF4);
        });
        assert_eq!(cpu.eip, 0x301, "went to the #GP handler");
    }
}
