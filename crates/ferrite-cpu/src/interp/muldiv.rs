//! Multiplication and division: MUL/IMUL (all three forms) and DIV/IDIV with #DE.
//!
//! Flags: MUL and IMUL set CF = OF = "the full product does not fit the destination"
//! (for MUL: the high half is non-zero; for IMUL: the product differs from the sign
//! extension of its low half). The flags the SDM leaves undefined follow what P6-class
//! processors are modelled to do: SF, ZF and PF describe the low half of the product
//! (the truncated result for the two- and three-operand IMUL forms) and AF is cleared.
//! DIV and IDIV leave every flag unchanged.
//!
//! Division raises #DE for a zero divisor or a quotient that does not fit, before any
//! register is written.

use super::Exec;
use crate::fault::Fault;
use crate::flags::{sign_extend, size_mask, szp, Flags};
use crate::state::Gpr;
use iced_x86::{Instruction, Mnemonic};

/// The flags MUL and IMUL write.
const MUL_FLAGS: u32 = Flags::ARITH;

/// Flags for a product whose stored part is `low` (`size` bytes); `overflow` tells whether
/// the full product did not fit.
#[inline]
fn mul_flags(low: u32, size: u8, overflow: bool) -> u32 {
    let mut f = szp(low, size);
    if overflow {
        f |= Flags::CF | Flags::OF;
    }
    f
}

impl Exec<'_> {
    /// Executes MUL, IMUL, DIV or IDIV.
    pub(super) fn exec_muldiv(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = self.op_size(ins, 0);
        if size == 8 {
            // 64-bit operands exist only in long mode.
            return Err(Fault::UD);
        }
        match ins.mnemonic() {
            Mnemonic::Mul => self.mul_acc(ins, size, false),
            Mnemonic::Imul if ins.op_count() == 1 => self.mul_acc(ins, size, true),
            Mnemonic::Imul => self.imul_trunc(ins, size),
            Mnemonic::Div => self.div_acc(ins, size, false),
            Mnemonic::Idiv => self.div_acc(ins, size, true),
            _ => Err(Fault::UD),
        }
    }

    /// The double-width accumulator: AX for byte operands, DX:AX for words, EDX:EAX for
    /// doublewords, as a zero-extended 64-bit value.
    fn acc_wide(&self, size: u8) -> u64 {
        let eax = self.cpu.gpr[Gpr::Eax as usize];
        let edx = self.cpu.gpr[Gpr::Edx as usize];
        match size {
            1 => (eax & 0xFFFF) as u64,
            2 => ((edx & 0xFFFF) << 16 | (eax & 0xFFFF)) as u64,
            _ => (edx as u64) << 32 | eax as u64,
        }
    }

    /// Stores a `size`-byte low half and high half in the accumulator pair (AL/AH,
    /// AX/DX or EAX/EDX).
    fn set_acc_pair(&mut self, size: u8, low: u32, high: u32) {
        match size {
            1 => self.cpu.set_reg16(Gpr::Eax, ((high & 0xFF) << 8 | (low & 0xFF)) as u16),
            2 => {
                self.cpu.set_reg16(Gpr::Eax, low as u16);
                self.cpu.set_reg16(Gpr::Edx, high as u16);
            }
            _ => {
                self.cpu.gpr[Gpr::Eax as usize] = low;
                self.cpu.gpr[Gpr::Edx as usize] = high;
            }
        }
    }

    /// One-operand MUL / IMUL: accumulator × r/m into the double-width accumulator.
    fn mul_acc(&mut self, ins: &Instruction, size: u8, signed: bool) -> Result<(), Fault> {
        let bits = size as u32 * 8;
        let mask = size_mask(size);
        let src = self.read_op(ins, 0)?;
        let acc = self.cpu.gpr[Gpr::Eax as usize] & mask;
        let (product, overflow) = if signed {
            let p = (sign_extend(acc, size) as i32 as i64) * (sign_extend(src, size) as i32 as i64);
            let low = p as u32 & mask;
            (p as u64, sign_extend(low, size) as i32 as i64 != p)
        } else {
            let p = acc as u64 * (src & mask) as u64;
            (p, p >> bits != 0)
        };
        let low = product as u32 & mask;
        let high = (product >> bits) as u32 & mask;
        self.set_acc_pair(size, low, high);
        self.set_flags(MUL_FLAGS, mul_flags(low, size, overflow));
        Ok(())
    }

    /// Two- and three-operand IMUL: a truncated signed product into a register.
    fn imul_trunc(&mut self, ins: &Instruction, size: u8) -> Result<(), Fault> {
        let (a, b) = if ins.op_count() == 3 {
            (self.read_op(ins, 1)?, self.read_op(ins, 2)?)
        } else {
            (self.read_op(ins, 0)?, self.read_op(ins, 1)?)
        };
        let p = (sign_extend(a, size) as i32 as i64) * (sign_extend(b, size) as i32 as i64);
        let low = p as u32 & size_mask(size);
        let overflow = sign_extend(low, size) as i32 as i64 != p;
        self.write_op(ins, 0, low)?;
        self.set_flags(MUL_FLAGS, mul_flags(low, size, overflow));
        Ok(())
    }

    /// DIV / IDIV: the double-width accumulator divided by r/m; quotient to the low half,
    /// remainder to the high half. #DE on a zero divisor or a quotient that does not fit.
    fn div_acc(&mut self, ins: &Instruction, size: u8, signed: bool) -> Result<(), Fault> {
        let bits = size as u32 * 8;
        let mask = size_mask(size);
        let divisor = self.read_op(ins, 0)? & mask;
        if divisor == 0 {
            return Err(Fault::DE);
        }
        let dividend = self.acc_wide(size);
        let (quot, rem) = if signed {
            // Sign-extend the 2×size-bit dividend to 64 bits.
            let shift = 64 - 2 * bits;
            let n = ((dividend << shift) as i64) >> shift;
            let d = sign_extend(divisor, size) as i32 as i64;
            let q = n.checked_div(d).ok_or(Fault::DE)?;
            let r = n.checked_rem(d).ok_or(Fault::DE)?;
            let min = -(1i64 << (bits - 1));
            let max = (1i64 << (bits - 1)) - 1;
            if q < min || q > max {
                return Err(Fault::DE);
            }
            (q as u32 & mask, r as u32 & mask)
        } else {
            let d = divisor as u64;
            let q = dividend / d;
            if q > mask as u64 {
                return Err(Fault::DE);
            }
            (q as u32, (dividend % d) as u32)
        };
        self.set_acc_pair(size, quot, rem);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::flags::Flags;
    use crate::tests::{run_real, run_real_with};
    use crate::Cpu;
    use ferrite_mem::PhysMem;

    const HLT: u8 = 0xF4;
    /// Where [`run_real_trapping`] puts the HLT the #DE vector points at.
    pub(crate) const DE_STUB: u32 = 0x0500;
    /// Where the code under test starts.
    const CODE: u32 = 0x100;

    /// Runs `code` with the IVT's #DE entry pointing at a HLT at 0000:[`DE_STUB`].
    pub(crate) fn run_real_trapping(code: &[u8]) -> (Cpu, PhysMem) {
        run_real_with(code, |mem| {
            mem.write_bytes(0, &(DE_STUB as u16).to_le_bytes());
            mem.write_bytes(2, &0u16.to_le_bytes());
            mem.write_u8(DE_STUB, HLT);
        })
    }

    /// Asserts the run ended in the #DE handler, with the faulting instruction's address
    /// (`CODE + fault_offset`) pushed as the return IP.
    pub(crate) fn assert_de_at(cpu: &Cpu, mem: &PhysMem, fault_offset: u32) {
        assert_eq!(cpu.eip, DE_STUB + 1, "not in the #DE handler");
        let sp = cpu.gpr[4] & 0xFFFF;
        assert_eq!(sp, 0x8000 - 6);
        let ip = mem.read_u8(sp) as u32 | (mem.read_u8(sp + 1) as u32) << 8;
        assert_eq!(ip, CODE + fault_offset);
    }

    fn reg16(cpu: &Cpu, n: usize) -> u32 {
        cpu.gpr[n] & 0xFFFF
    }

    #[test]
    fn test_mul_byte_sets_cf_of_when_high_half_nonzero() {
        // mov al,0x80 ; mov bl,2 ; mul bl ; hlt
        let (cpu, _) = run_real(&[0xB0, 0x80, 0xB3, 0x02, 0xF6, 0xE3, HLT]);
        assert_eq!(reg16(&cpu, 0), 0x0100);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF | Flags::OF);
    }

    #[test]
    fn test_mul_word_that_fits_clears_cf_of() {
        // stc ; mov ax,0x1234 ; mov bx,2 ; mov dx,0xFFFF ; mul bx ; hlt
        let (cpu, _) = run_real(&[0xF9, 0xB8, 0x34, 0x12, 0xBB, 0x02, 0x00, 0xBA, 0xFF, 0xFF, 0xF7, 0xE3, HLT]);
        assert_eq!(reg16(&cpu, 0), 0x2468);
        assert_eq!(reg16(&cpu, 2), 0);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), 0);
    }

    #[test]
    fn test_mul_dword_fills_edx() {
        // mov eax,0x80000000 ; mov ebx,4 ; mul ebx ; hlt
        let (cpu, _) =
            run_real(&[0x66, 0xB8, 0x00, 0x00, 0x00, 0x80, 0x66, 0xBB, 0x04, 0x00, 0x00, 0x00, 0x66, 0xF7, 0xE3, HLT]);
        assert_eq!(cpu.gpr[0], 0);
        assert_eq!(cpu.gpr[2], 2);
        assert_ne!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_imul_byte_signed_product() {
        // mov al,0xFE ; mov bl,3 ; imul bl ; hlt → -6 fits in AL
        let (cpu, _) = run_real(&[0xB0, 0xFE, 0xB3, 0x03, 0xF6, 0xEB, HLT]);
        assert_eq!(reg16(&cpu, 0), 0xFFFA);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), 0);
        // mov al,0x40 ; mov bl,4 ; imul bl ; hlt → 256 does not fit
        let (cpu, _) = run_real(&[0xB0, 0x40, 0xB3, 0x04, 0xF6, 0xEB, HLT]);
        assert_eq!(reg16(&cpu, 0), 0x0100);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF | Flags::OF);
    }

    #[test]
    fn test_imul_word_writes_dx_ax() {
        // mov ax,0xFFFF ; mov bx,0xFFFF ; imul bx ; hlt → (-1)·(-1) = 1
        let (cpu, _) = run_real(&[0xB8, 0xFF, 0xFF, 0xBB, 0xFF, 0xFF, 0xF7, 0xEB, HLT]);
        assert_eq!(reg16(&cpu, 0), 1);
        assert_eq!(reg16(&cpu, 2), 0);
        assert_eq!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_imul_two_operand_truncates_and_flags_overflow() {
        // mov ax,0x4000 ; mov bx,4 ; imul ax,bx ; hlt
        let (cpu, _) = run_real(&[0xB8, 0x00, 0x40, 0xBB, 0x04, 0x00, 0x0F, 0xAF, 0xC3, HLT]);
        assert_eq!(reg16(&cpu, 0), 0);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF | Flags::OF);
    }

    #[test]
    fn test_imul_three_operand_sign_extends_imm8() {
        // mov bx,5 ; imul ax,bx,-2 ; hlt
        let (cpu, _) = run_real(&[0xBB, 0x05, 0x00, 0x6B, 0xC3, 0xFE, HLT]);
        assert_eq!(reg16(&cpu, 0), 0xFFF6);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), 0);
        // mov bx,0x100 ; imul cx,bx,0x0100 ; hlt → 0x10000 overflows
        let (cpu, _) = run_real(&[0xBB, 0x00, 0x01, 0x69, 0xCB, 0x00, 0x01, HLT]);
        assert_eq!(reg16(&cpu, 1), 0);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::OF), Flags::CF | Flags::OF);
    }

    #[test]
    fn test_div_byte_quotient_and_remainder() {
        // mov ax,1000 ; mov bl,7 ; div bl ; hlt → 142 r 6
        let (cpu, _) = run_real(&[0xB8, 0xE8, 0x03, 0xB3, 0x07, 0xF6, 0xF3, HLT]);
        assert_eq!(reg16(&cpu, 0), 0x068E);
    }

    #[test]
    fn test_div_dword() {
        // mov edx,1 ; xor eax,eax ; mov ebx,2 ; div ebx ; hlt
        let (cpu, _) = run_real(&[
            0x66, 0xBA, 0x01, 0x00, 0x00, 0x00, 0x66, 0x31, 0xC0, 0x66, 0xBB, 0x02, 0x00, 0x00, 0x00, 0x66, 0xF7, 0xF3,
            HLT,
        ]);
        assert_eq!(cpu.gpr[0], 0x8000_0000);
        assert_eq!(cpu.gpr[2], 0);
    }

    #[test]
    fn test_div_by_zero_raises_de() {
        // mov ax,0x1234 ; mov bl,0 ; div bl ; hlt
        let (cpu, mem) = run_real_trapping(&[0xB8, 0x34, 0x12, 0xB3, 0x00, 0xF6, 0xF3, HLT]);
        assert_de_at(&cpu, &mem, 5);
        assert_eq!(reg16(&cpu, 0), 0x1234);
    }

    #[test]
    fn test_div_quotient_overflow_raises_de_before_writing() {
        // mov ax,0x1000 ; mov bl,0x10 ; div bl ; hlt → quotient 0x100
        let (cpu, mem) = run_real_trapping(&[0xB8, 0x00, 0x10, 0xB3, 0x10, 0xF6, 0xF3, HLT]);
        assert_de_at(&cpu, &mem, 5);
        assert_eq!(reg16(&cpu, 0), 0x1000);
    }

    #[test]
    fn test_idiv_truncates_toward_zero() {
        // mov ax,-7 ; mov bl,2 ; idiv bl ; hlt → -3 r -1
        let (cpu, _) = run_real(&[0xB8, 0xF9, 0xFF, 0xB3, 0x02, 0xF6, 0xFB, HLT]);
        assert_eq!(reg16(&cpu, 0), 0xFFFD);
    }

    #[test]
    fn test_idiv_most_negative_quotient_allowed_positive_overflow_faults() {
        // mov ax,-128 ; mov bl,1 ; idiv bl ; hlt → AL = 0x80
        let (cpu, _) = run_real(&[0xB8, 0x80, 0xFF, 0xB3, 0x01, 0xF6, 0xFB, HLT]);
        assert_eq!(reg16(&cpu, 0), 0x0080);
        // mov ax,128 ; mov bl,1 ; idiv bl ; hlt → 128 does not fit
        let (cpu, mem) = run_real_trapping(&[0xB8, 0x80, 0x00, 0xB3, 0x01, 0xF6, 0xFB, HLT]);
        assert_de_at(&cpu, &mem, 5);
    }

    #[test]
    fn test_idiv_dword_min_by_minus_one_raises_de() {
        // mov edx,0x80000000 ; xor eax,eax ; mov ebx,-1 ; idiv ebx ; hlt
        let (cpu, mem) = run_real_trapping(&[
            0x66, 0xBA, 0x00, 0x00, 0x00, 0x80, 0x66, 0x31, 0xC0, 0x66, 0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0x66, 0xF7, 0xFB,
            HLT,
        ]);
        assert_de_at(&cpu, &mem, 15);
        assert_eq!(cpu.gpr[2], 0x8000_0000);
    }
}
