//! Shifts and rotates: ROL/ROR/RCL/RCR/SHL/SAL/SHR/SAR and SHLD/SHRD.
//!
//! Every form masks its count to five bits (as the 80286 and every later processor do);
//! a masked count of zero leaves registers, memory and flags untouched, although a memory
//! destination is still read (and may fault).
//!
//! Flags the SDM calls undefined follow P6 hardware:
//! - OF after a multi-bit shift or rotate is computed with the single-bit formula applied
//!   to the final result (SHL/ROL/RCL: MSB(result) XOR CF; SHR/ROR/RCR/SHRD: the XOR of the
//!   two most significant result bits; SAR: 0; SHLD: MSB(result) XOR CF).
//! - AF, which no Intel document defines for shifts, is set as measured on 80286
//!   hardware: left shifts (SHL/SHLD) copy bit 4 of the result, right shifts
//!   (SHR/SAR/SHRD) set it. Rotates leave it.
//! - Counts past the operand width shift in zeros (sign bits for SAR), so CF ends up as
//!   the last bit shifted out, which is 0 (the sign for SAR) once the count exceeds it.
//! - SHLD/SHRD on 16-bit operands with a count above 16 shift the 48-bit concatenation
//!   `dest:src:dest`, as P6 processors do.

use super::Exec;
use crate::fault::Fault;
use crate::flags::{sign_bit, sign_extend, size_mask, szp, Flags};
use iced_x86::{Instruction, Mnemonic};

/// Shift and rotate counts are masked to this many low bits.
const COUNT_MASK: u32 = 0x1F;

/// The flags a shift (SHL/SHR/SAR/SHLD/SHRD) writes.
const SHIFT_FLAGS: u32 = Flags::ARITH;

/// The flags a rotate writes.
const ROTATE_FLAGS: u32 = Flags::CF | Flags::OF;

/// Result of one shift or rotate: the new destination value and the flags it produced.
pub(super) struct Shifted {
    /// The destination's new value (masked to the operand size).
    pub(super) value: u32,
    /// Flags computed for the bits in the accompanying mask.
    pub(super) flags: u32,
    /// Which flags the operation writes.
    pub(super) mask: u32,
}

/// OF for a left shift or rotate: MSB(result) XOR CF.
#[inline]
fn of_left(result: u32, cf: bool, size: u8) -> u32 {
    if (result & sign_bit(size) != 0) != cf {
        Flags::OF
    } else {
        0
    }
}

/// OF for a right shift or rotate: the XOR of the two most significant result bits.
#[inline]
fn of_right(result: u32, size: u8) -> u32 {
    let top = sign_bit(size);
    if ((result & top) != 0) != ((result & (top >> 1)) != 0) {
        Flags::OF
    } else {
        0
    }
}

/// AF after a left shift: bit 4 of the result.
#[inline]
fn af_left(result: u32) -> u32 {
    result & Flags::AF
}

/// AF after a right shift: always set.
const AF_RIGHT: u32 = Flags::AF;

/// CF as a flag bit.
#[inline]
fn cf_bit(cf: bool) -> u32 {
    if cf {
        Flags::CF
    } else {
        0
    }
}

/// ROL/ROR/RCL/RCR/SHL/SAL/SHR/SAR of `value` (`size` bytes) by a non-zero, already
/// masked `count`, with `carry_in` the current CF.
pub(super) fn shift_rotate(op: Mnemonic, value: u32, count: u32, size: u8, carry_in: bool) -> Shifted {
    use Mnemonic as M;
    let bits = size as u32 * 8;
    let mask = size_mask(size);
    let v = value & mask;
    match op {
        M::Rol => {
            let n = count % bits;
            let r = if n == 0 { v } else { ((v << n) | (v >> (bits - n))) & mask };
            let cf = r & 1 != 0;
            Shifted { value: r, flags: cf_bit(cf) | of_left(r, cf, size), mask: ROTATE_FLAGS }
        }
        M::Ror => {
            let n = count % bits;
            let r = if n == 0 { v } else { ((v >> n) | (v << (bits - n))) & mask };
            let cf = r & sign_bit(size) != 0;
            Shifted { value: r, flags: cf_bit(cf) | of_right(r, size), mask: ROTATE_FLAGS }
        }
        M::Rcl | M::Rcr => {
            // Rotate the (bits + 1)-bit quantity CF:value.
            let width = bits + 1;
            let n = count % width;
            let full_mask = (1u64 << width) - 1;
            let wide = ((carry_in as u64) << bits) | v as u64;
            let rotated = if n == 0 {
                wide
            } else if op == M::Rcl {
                ((wide << n) | (wide >> (width - n))) & full_mask
            } else {
                ((wide >> n) | (wide << (width - n))) & full_mask
            };
            let r = rotated as u32 & mask;
            let cf = (rotated >> bits) & 1 != 0;
            let of = if op == M::Rcl { of_left(r, cf, size) } else { of_right(r, size) };
            Shifted { value: r, flags: cf_bit(cf) | of, mask: ROTATE_FLAGS }
        }
        M::Shl | M::Sal => {
            let wide = (v as u64) << count;
            let r = wide as u32 & mask;
            let cf = (wide >> bits) & 1 != 0;
            Shifted {
                value: r,
                flags: szp(r, size) | af_left(r) | cf_bit(cf) | of_left(r, cf, size),
                mask: SHIFT_FLAGS,
            }
        }
        M::Shr => {
            let r = v >> count;
            let cf = (v >> (count - 1)) & 1 != 0;
            Shifted { value: r, flags: szp(r, size) | AF_RIGHT | cf_bit(cf) | of_right(r, size), mask: SHIFT_FLAGS }
        }
        _ => {
            // SAR: shift the sign-extended value; counts past the width leave all sign bits.
            let s = sign_extend(v, size) as i32;
            let r = (s >> count) as u32 & mask;
            let cf = (s >> (count - 1)) & 1 != 0;
            Shifted { value: r, flags: szp(r, size) | AF_RIGHT | cf_bit(cf), mask: SHIFT_FLAGS }
        }
    }
}

/// SHLD (`left`) or SHRD of `dest` by a non-zero, masked `count`, filling from `src`.
fn double_shift(left: bool, dest: u32, src: u32, count: u32, size: u8) -> Shifted {
    let mask = size_mask(size);
    let (dest, src) = (dest & mask, src & mask);
    let (r, cf);
    if size == 2 {
        // 16-bit operands shift the 48-bit `dest:src:dest`, so counts 17–31 behave as on
        // P6 processors. SHLD takes the top 16 bits, SHRD the bottom 16.
        let wide = (dest as u64) << 32 | (src as u64) << 16 | dest as u64;
        if left {
            r = (wide << count >> 32) as u32 & mask;
            cf = (wide >> (48 - count)) & 1 != 0;
        } else {
            r = (wide >> count) as u32 & mask;
            cf = (wide >> (count - 1)) & 1 != 0;
        }
    } else if left {
        let wide = (dest as u64) << 32 | src as u64;
        r = (wide << count >> 32) as u32 & mask;
        cf = (wide >> (64 - count)) & 1 != 0;
    } else {
        let wide = (src as u64) << 32 | dest as u64;
        r = (wide >> count) as u32 & mask;
        cf = (wide >> (count - 1)) & 1 != 0;
    }
    let (of, af) = if left { (of_left(r, cf, size), af_left(r)) } else { (of_right(r, size), AF_RIGHT) };
    Shifted { value: r, flags: szp(r, size) | af | cf_bit(cf) | of, mask: SHIFT_FLAGS }
}

impl Exec<'_> {
    /// Executes a shift, rotate or double-precision shift.
    pub(super) fn exec_shift(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = self.op_size(ins, 0);
        if size == 8 {
            // 64-bit operands exist only in long mode.
            return Err(Fault::UD);
        }
        let op = ins.mnemonic();
        let dest = self.read_op(ins, 0)?;
        let out = match op {
            Mnemonic::Shld | Mnemonic::Shrd => {
                let src = self.read_op(ins, 1)?;
                let count = self.read_op(ins, 2)? & COUNT_MASK;
                if count == 0 {
                    return Ok(());
                }
                double_shift(op == Mnemonic::Shld, dest, src, count, size)
            }
            _ => {
                let count = self.read_op(ins, 1)? & COUNT_MASK;
                if count == 0 {
                    return Ok(());
                }
                shift_rotate(op, dest, count, size, self.cf() != 0)
            }
        };
        self.write_op(ins, 0, out.value)?;
        self.set_flags(out.mask, out.flags);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::flags::Flags;
    use crate::tests::{ax, run_real, HLT};

    #[test]
    fn test_shl_by_one_sets_carry_and_overflow() {
        // mov al,0x40 ; shl al,1 ; hlt  → 0x80, CF=0, OF=1 (sign changed)
        let (cpu, _) = run_real(&[0xB0, 0x40, 0xD0, 0xE0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x80);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF | Flags::SF | Flags::ZF), Flags::OF | Flags::SF);
        // mov al,0xC0 ; shl al,1 ; hlt  → 0x80, CF=1, OF=0
        let (cpu, _) = run_real(&[0xB0, 0xC0, 0xD0, 0xE0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x80);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF);
    }

    #[test]
    fn test_shift_count_is_masked_to_five_bits() {
        // mov ax,1 ; mov cl,0x21 ; shl ax,cl ; hlt  → count 1
        let (cpu, _) = run_real(&[0xB8, 0x01, 0x00, 0xB1, 0x21, 0xD3, 0xE0, HLT]);
        assert_eq!(ax(&cpu), 2);
    }

    #[test]
    fn test_zero_count_changes_nothing() {
        // stc ; mov ax,0x8001 ; mov cl,0x20 ; shl ax,cl ; hlt
        let (cpu, _) = run_real(&[0xF9, 0xB8, 0x01, 0x80, 0xB1, 0x20, 0xD3, 0xE0, HLT]);
        assert_eq!(ax(&cpu), 0x8001);
        assert_eq!(cpu.eflags & Flags::ARITH, Flags::CF);
    }

    #[test]
    fn test_shl_past_width_clears_result_and_carry() {
        // mov al,0xFF ; mov cl,9 ; shl al,cl ; hlt
        let (cpu, _) = run_real(&[0xB0, 0xFF, 0xB1, 0x09, 0xD2, 0xE0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::ZF | Flags::PF), Flags::ZF | Flags::PF);
        // mov al,0x01 ; mov cl,8 ; shl al,cl ; hlt → the last bit out is the old bit 0
        let (cpu, _) = run_real(&[0xB0, 0x01, 0xB1, 0x08, 0xD2, 0xE0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0);
        assert_ne!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_shr_multi_bit_sets_carry_from_last_bit_out() {
        // mov ax,0x8006 ; shr ax,2 ; hlt → 0x2001, CF = bit 1 = 1
        let (cpu, _) = run_real(&[0xB8, 0x06, 0x80, 0xC1, 0xE8, 0x02, HLT]);
        assert_eq!(ax(&cpu), 0x2001);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        assert_eq!(cpu.eflags & Flags::SF, 0);
    }

    #[test]
    fn test_sar_large_count_fills_with_sign() {
        // mov al,0x80 ; mov cl,20 ; sar al,cl ; hlt
        let (cpu, _) = run_real(&[0xB0, 0x80, 0xB1, 20, 0xD2, 0xF8, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0xFF);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF | Flags::SF), Flags::CF | Flags::SF);
    }

    #[test]
    fn test_rol_and_ror_set_carry_from_rotated_bit() {
        // mov ax,0x8001 ; rol ax,1 ; hlt → 0x0003, CF=1, OF = MSB ^ CF = 1
        let (cpu, _) = run_real(&[0xB8, 0x01, 0x80, 0xD1, 0xC0, HLT]);
        assert_eq!(ax(&cpu), 0x0003);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF | Flags::OF);
        // mov al,0x01 ; ror al,4 ; hlt → 0x10, CF = MSB = 0
        let (cpu, _) = run_real(&[0xB0, 0x01, 0xC0, 0xC8, 0x04, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x10);
        assert_eq!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_rotate_leaves_sign_zero_parity() {
        // xor ax,ax (ZF=1,PF=1) ; mov al,0x81 ; rol al,1 ; hlt
        let (cpu, _) = run_real(&[0x31, 0xC0, 0xB0, 0x81, 0xD0, 0xC0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x03);
        assert_eq!(cpu.eflags & (Flags::ZF | Flags::PF), Flags::ZF | Flags::PF);
    }

    #[test]
    fn test_rcl_rotates_through_carry() {
        // stc ; mov al,0x80 ; rcl al,1 ; hlt → 0x01, CF=1
        let (cpu, _) = run_real(&[0xF9, 0xB0, 0x80, 0xD0, 0xD0, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x01);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        // stc ; mov al,0x55 ; rcl al,9 ; hlt → a full 9-bit turn: unchanged, CF kept
        let (cpu, _) = run_real(&[0xF9, 0xB0, 0x55, 0xC0, 0xD0, 0x09, HLT]);
        assert_eq!(cpu.gpr[0] & 0xFF, 0x55);
        assert_ne!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_rcr_word_rotates_seventeen_bits() {
        // clc ; mov ax,0x0003 ; rcr ax,2 ; hlt → bit 1 lands in CF, bit 0 in bit 15
        let (cpu, _) = run_real(&[0xF8, 0xB8, 0x03, 0x00, 0xC1, 0xD8, 0x02, HLT]);
        assert_eq!(ax(&cpu), 0x8000);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        // OF = XOR of the two top result bits = 1
        assert_ne!(cpu.eflags & Flags::OF, 0);
    }

    #[test]
    fn test_rotate_memory_operand() {
        // mov byte [0x200],0x81 ; rol byte [0x200],1 ; hlt
        let (_, mem) = run_real(&[0xC6, 0x06, 0x00, 0x02, 0x81, 0xD0, 0x06, 0x00, 0x02, HLT]);
        assert_eq!(mem.read_u8(0x200), 0x03);
    }

    #[test]
    fn test_shld_and_shrd_dword() {
        // mov eax,0x12345678 ; mov ebx,0x9ABCDEF0 ; shld eax,ebx,8 ; hlt
        let (cpu, _) = run_real(&[
            0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0x66, 0xBB, 0xF0, 0xDE, 0xBC, 0x9A, 0x66, 0x0F, 0xA4, 0xD8, 0x08, HLT,
        ]);
        assert_eq!(cpu.gpr[0], 0x3456_789A);
        assert_eq!(cpu.eflags & Flags::CF, 0);
        // same, shrd eax,ebx,8 → 0xF0123456, CF = bit 7 of EAX = 0
        let (cpu, _) = run_real(&[
            0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0x66, 0xBB, 0xF0, 0xDE, 0xBC, 0x9A, 0x66, 0x0F, 0xAC, 0xD8, 0x08, HLT,
        ]);
        assert_eq!(cpu.gpr[0], 0xF012_3456);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::SF), Flags::SF);
    }

    #[test]
    fn test_shld_word_count_above_sixteen_uses_p6_order() {
        // mov ax,0x1234 ; mov bx,0xABCD ; mov cl,20 ; shld ax,bx,cl ; hlt
        // dest:src:dest = 1234 ABCD 1234 << 20 → top word 0xBCD1
        let (cpu, _) = run_real(&[0xB8, 0x34, 0x12, 0xBB, 0xCD, 0xAB, 0xB1, 20, 0x0F, 0xA5, 0xD8, HLT]);
        assert_eq!(ax(&cpu), 0xBCD1);
        // shrd ax,bx,cl with 20 → low word of (1234 ABCD 1234 >> 20) = 0x4ABC
        let (cpu, _) = run_real(&[0xB8, 0x34, 0x12, 0xBB, 0xCD, 0xAB, 0xB1, 20, 0x0F, 0xAD, 0xD8, HLT]);
        assert_eq!(ax(&cpu), 0x4ABC);
    }

    #[test]
    fn test_shift_af_matches_measured_hardware() {
        // mov al,0x08 ; shl al,1 ; hlt → 0x10: AF = bit 4 of the result = 1
        let (cpu, _) = run_real(&[0xB0, 0x08, 0xD0, 0xE0, HLT]);
        assert_ne!(cpu.eflags & Flags::AF, 0);
        // mov al,0x10 ; shl al,1 ; hlt → 0x20: AF = 0
        let (cpu, _) = run_real(&[0xB0, 0x10, 0xD0, 0xE0, HLT]);
        assert_eq!(cpu.eflags & Flags::AF, 0);
        // mov al,0x02 ; shr al,1 ; hlt → right shifts set AF
        let (cpu, _) = run_real(&[0xB0, 0x02, 0xD0, 0xE8, HLT]);
        assert_ne!(cpu.eflags & Flags::AF, 0);
    }
}
