//! Decimal arithmetic adjustments: DAA/DAS/AAA/AAS/AAM/AAD.
//!
//! The defined flags follow the SDM. Undefined flags: DAA/DAS set OF as the signed
//! overflow of the whole adjustment (AL ± the correction); AAA/AAS set SF/ZF/PF/OF from
//! the byte step `AL ± 6` (from the unchanged AL, with OF clear, when no adjustment is
//! made); AAM clears OF/AF/CF; AAD reports OF/AF/CF of the final byte addition
//! `AL + AH × base`. The DAA/DAS, AAA/AAS and AAM choices match 80286 hardware captures.
//! AAA/AAS adjust the whole of AX (`AX ± 6`) as P6-class processors (and the 80286) do,
//! so a carry or borrow out of AL reaches AH.

use super::Exec;
use crate::fault::Fault;
use crate::flags::{add_flags, szp, Flags};
use crate::state::Gpr;
use iced_x86::{Instruction, Mnemonic};

/// Low-nibble values above this are not decimal digits.
const MAX_DIGIT: u32 = 9;
/// Correction added to (subtracted from) a byte's low digit.
const LOW_CORRECTION: u32 = 0x06;
/// Correction added to (subtracted from) a byte's high digit.
const HIGH_CORRECTION: u32 = 0x60;
/// Largest packed-BCD byte.
const MAX_PACKED: u32 = 0x99;
/// The flags DAA/DAS/AAA/AAS/AAM/AAD write.
const BCD_FLAGS: u32 = Flags::ARITH;

impl Exec<'_> {
    /// Executes a decimal adjustment.
    pub(super) fn exec_bcd(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let ax = self.cpu.reg16(Gpr::Eax) as u32;
        let al = ax & 0xFF;
        let ah = ax >> 8;
        let af = self.cpu.eflags & Flags::AF != 0;
        let cf = self.cf() != 0;
        match ins.mnemonic() {
            Mnemonic::Daa | Mnemonic::Das => {
                let add = ins.mnemonic() == Mnemonic::Daa;
                let mut correction = 0;
                let mut flags = 0;
                if al & 0x0F > MAX_DIGIT || af {
                    correction |= LOW_CORRECTION;
                    flags |= Flags::AF;
                    // The low-digit step can carry (borrow) out of the byte on its own.
                    let out = if add { al + LOW_CORRECTION > 0xFF } else { al < LOW_CORRECTION };
                    if out {
                        flags |= Flags::CF;
                    }
                }
                if al > MAX_PACKED || cf {
                    correction |= HIGH_CORRECTION;
                    flags |= Flags::CF;
                }
                let r = if add { al.wrapping_add(correction) } else { al.wrapping_sub(correction) } & 0xFF;
                let overflow = if add { !al & r & 0x80 } else { al & !r & 0x80 };
                if overflow != 0 {
                    flags |= Flags::OF;
                }
                self.cpu.set_reg16(Gpr::Eax, (ax & 0xFF00 | r) as u16);
                self.set_flags(BCD_FLAGS, flags | szp(r, 1));
                Ok(())
            }
            Mnemonic::Aaa | Mnemonic::Aas => {
                let add = ins.mnemonic() == Mnemonic::Aaa;
                if al & 0x0F > MAX_DIGIT || af {
                    // AX ± 6 (a carry or borrow out of AL reaches AH), then AH ± 1.
                    let new_ax = if add {
                        ax.wrapping_add(0x100 + LOW_CORRECTION)
                    } else {
                        ax.wrapping_sub(LOW_CORRECTION).wrapping_sub(0x100)
                    };
                    // SF/ZF/PF/OF describe the byte step AL ± 6, as measured on hardware.
                    let step = new_ax & 0xFF;
                    let overflow = if add { !al & step & 0x80 } else { al & !step & 0x80 };
                    let of = if overflow != 0 { Flags::OF } else { 0 };
                    self.cpu.set_reg16(Gpr::Eax, (new_ax & 0xFF0F) as u16);
                    self.set_flags(BCD_FLAGS, Flags::AF | Flags::CF | of | szp(step, 1));
                } else {
                    self.cpu.set_reg16(Gpr::Eax, (ax & 0xFF0F) as u16);
                    self.set_flags(BCD_FLAGS, szp(al, 1));
                }
                Ok(())
            }
            Mnemonic::Aam => {
                let base = ins.immediate8() as u32;
                if base == 0 {
                    return Err(Fault::DE);
                }
                let r = al % base;
                self.cpu.set_reg16(Gpr::Eax, ((al / base) << 8 | r) as u16);
                self.set_flags(BCD_FLAGS, szp(r, 1));
                Ok(())
            }
            Mnemonic::Aad => {
                let base = ins.immediate8() as u32;
                let (r, flags) = add_flags(al, ah.wrapping_mul(base) & 0xFF, 0, 1);
                self.cpu.set_reg16(Gpr::Eax, r as u16);
                self.set_flags(BCD_FLAGS, flags);
                Ok(())
            }
            _ => Err(Fault::UD),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::muldiv::tests::{assert_de_at, run_real_trapping};
    use crate::flags::Flags;
    use crate::tests::{ax, run_real, HLT};

    #[test]
    fn test_daa_after_packed_addition() {
        // mov al,0x79 ; add al,0x35 ; daa ; hlt → 79 + 35 = 114: AL=0x14, CF=1
        let (cpu, _) = run_real(&[0xB0, 0x79, 0x04, 0x35, 0x27, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x14);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::AF), Flags::CF | Flags::AF);
    }

    #[test]
    fn test_daa_without_adjustment_clears_carry() {
        // mov al,0x12 ; add al,0x34 ; daa ; hlt → 0x46 needs no adjustment
        let (cpu, _) = run_real(&[0xB0, 0x12, 0x04, 0x34, 0x27, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x46);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::AF | Flags::ZF | Flags::SF), 0);
    }

    #[test]
    fn test_das_after_packed_subtraction() {
        // mov al,0x35 ; sub al,0x47 ; das ; hlt → 35 - 47 = -12: AL=0x88, CF=1
        let (cpu, _) = run_real(&[0xB0, 0x35, 0x2C, 0x47, 0x2F, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x88);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        assert_ne!(cpu.eflags & Flags::SF, 0);
    }

    #[test]
    fn test_aaa_carries_into_ah() {
        // mov ax,0x0009 ; add al,8 ; aaa ; hlt → 9 + 8 = 17: AX=0x0107
        let (cpu, _) = run_real(&[0xB8, 0x09, 0x00, 0x04, 0x08, 0x37, HLT]);
        assert_eq!(ax(&cpu), 0x0107);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::AF), Flags::CF | Flags::AF);
    }

    #[test]
    fn test_aaa_adjusts_whole_ax() {
        // mov ax,0x00FA ; aaa ; hlt → AX + 0x106 = 0x0200, AL &= 0x0F
        let (cpu, _) = run_real(&[0xB8, 0xFA, 0x00, 0x37, HLT]);
        assert_eq!(ax(&cpu), 0x0200);
    }

    #[test]
    fn test_aaa_without_adjustment_masks_al() {
        // mov ax,0x0135 ; aaa ; hlt (AF starts clear) → 0x0105
        let (cpu, _) = run_real(&[0xB8, 0x35, 0x01, 0x37, HLT]);
        assert_eq!(ax(&cpu), 0x0105);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::AF), 0);
    }

    #[test]
    fn test_aas_borrows_from_ah() {
        // mov ax,0x0205 ; sub al,8 ; aas ; hlt → 25 - 8 = 17: AX=0x0107, CF=1
        let (cpu, _) = run_real(&[0xB8, 0x05, 0x02, 0x2C, 0x08, 0x3F, HLT]);
        assert_eq!(ax(&cpu), 0x0107);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::AF), Flags::CF | Flags::AF);
    }

    #[test]
    fn test_aam_splits_al_by_base() {
        // mov al,79 ; aam ; hlt → AH=7, AL=9
        let (cpu, _) = run_real(&[0xB0, 79, 0xD4, 0x0A, HLT]);
        assert_eq!(ax(&cpu), 0x0709);
        // mov al,0x4F ; aam 16 ; hlt → AH=4, AL=0xF
        let (cpu, _) = run_real(&[0xB0, 0x4F, 0xD4, 0x10, HLT]);
        assert_eq!(ax(&cpu), 0x040F);
        // mov al,20 ; aam ; hlt → AL=0: ZF=1, PF=1
        let (cpu, _) = run_real(&[0xB0, 20, 0xD4, 0x0A, HLT]);
        assert_eq!(ax(&cpu), 0x0200);
        assert_eq!(cpu.eflags & (Flags::ZF | Flags::PF | Flags::SF), Flags::ZF | Flags::PF);
    }

    #[test]
    fn test_aam_zero_base_raises_de() {
        // mov ax,0x1234 ; aam 0 ; hlt
        let (cpu, mem) = run_real_trapping(&[0xB8, 0x34, 0x12, 0xD4, 0x00, HLT]);
        assert_de_at(&cpu, &mem, 3);
        assert_eq!(ax(&cpu), 0x1234);
    }

    #[test]
    fn test_aad_combines_digits() {
        // mov ax,0x0709 ; aad ; hlt → AX = 79
        let (cpu, _) = run_real(&[0xB8, 0x09, 0x07, 0xD5, 0x0A, HLT]);
        assert_eq!(ax(&cpu), 79);
        // mov ax,0x0403 ; aad 16 ; hlt → AX = 0x43
        let (cpu, _) = run_real(&[0xB8, 0x03, 0x04, 0xD5, 0x10, HLT]);
        assert_eq!(ax(&cpu), 0x43);
        // mov ax,0x1E0A ; aad ; hlt → 30·10 + 10 = 310 → AL = 0x36, AH = 0
        let (cpu, _) = run_real(&[0xB8, 0x0A, 0x1E, 0xD5, 0x0A, HLT]);
        assert_eq!(ax(&cpu), 0x36);
    }
}
