//! Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, BSWAP.
//!
//! BT and friends set CF to the selected bit and leave the other flags alone (ZF is
//! architecturally unaffected; OF/SF/AF/PF are undefined and P6 leaves them). With a
//! register bit offset and a memory operand the offset is a signed bit string index that
//! may reach memory outside the operand: the access moves by whole operands,
//! `EA + (offset >> log2(bits)) × size`, wrapped to the address size. BSF/BSR set ZF
//! alone; a zero source leaves the destination unchanged. BSWAP of a 16-bit register is
//! undefined; like P6 hardware it clears the low 16 bits.
//!
//! TZCNT and LZCNT (F3 0F BC / F3 0F BD) need BMI1 and ABM, which a P6 lacks: there the
//! F3 prefix is ignored and the bytes are BSF and BSR (compilers emit `rep bsf` on
//! purpose, as it runs everywhere), so they execute as BSF and BSR.

use super::operand::addr16;
use super::Exec;
use crate::fault::Fault;
use crate::flags::{sign_extend, size_mask, Flags};
use iced_x86::{Instruction, Mnemonic, OpKind};

/// What a bit-test instruction does to the selected bit after copying it into CF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    /// BT: leave it.
    Test,
    /// BTS: set it.
    Set,
    /// BTR: clear it.
    Reset,
    /// BTC: invert it.
    Complement,
}

impl BitOp {
    /// Applies the operation to bit `bit` of `v`.
    fn apply(self, v: u32, bit: u32) -> u32 {
        let m = 1u32 << bit;
        match self {
            BitOp::Test => v,
            BitOp::Set => v | m,
            BitOp::Reset => v & !m,
            BitOp::Complement => v ^ m,
        }
    }
}

impl Exec<'_> {
    /// Executes BT/BTS/BTR/BTC, BSF/BSR or BSWAP.
    pub(super) fn exec_bits(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = self.op_size(ins, 0);
        if size == 8 {
            // 64-bit operands exist only in long mode.
            return Err(Fault::UD);
        }
        let mnemonic = match ins.mnemonic() {
            Mnemonic::Tzcnt => Mnemonic::Bsf,
            Mnemonic::Lzcnt => Mnemonic::Bsr,
            m => m,
        };
        match mnemonic {
            Mnemonic::Bt => self.bit_test(ins, size, BitOp::Test),
            Mnemonic::Bts => self.bit_test(ins, size, BitOp::Set),
            Mnemonic::Btr => self.bit_test(ins, size, BitOp::Reset),
            Mnemonic::Btc => self.bit_test(ins, size, BitOp::Complement),
            Mnemonic::Bsf | Mnemonic::Bsr => {
                let src = self.read_op(ins, 1)? & size_mask(size);
                if src == 0 {
                    self.set_flags(Flags::ZF, Flags::ZF);
                    return Ok(());
                }
                let index = if mnemonic == Mnemonic::Bsf { src.trailing_zeros() } else { 31 - src.leading_zeros() };
                self.write_op(ins, 0, index)?;
                self.set_flags(Flags::ZF, 0);
                Ok(())
            }
            Mnemonic::Bswap => {
                if ins.op0_kind() != OpKind::Register {
                    return Err(Fault::UD);
                }
                let v = self.read_op(ins, 0)?;
                let r = if size == 4 { v.swap_bytes() } else { 0 };
                self.write_op(ins, 0, r)
            }
            _ => Err(Fault::UD),
        }
    }

    /// BT/BTS/BTR/BTC with a register or imm8 bit offset.
    fn bit_test(&mut self, ins: &Instruction, size: u8, op: BitOp) -> Result<(), Fault> {
        let bits = size as u32 * 8;
        let offset = self.read_op(ins, 1)?;
        let bit;
        let value;
        if ins.op0_kind() == OpKind::Memory && ins.op1_kind() == OpKind::Register {
            // A signed bit-string index: move the access by whole operands.
            let signed = sign_extend(offset, size) as i32;
            let units = signed >> bits.trailing_zeros();
            let mut addr = self.ea(ins).wrapping_add((units as u32).wrapping_mul(size as u32));
            if addr16(ins) {
                addr &= 0xFFFF;
            }
            bit = offset & (bits - 1);
            let seg = self.mem_seg(ins);
            let v = self.read_mem(seg, addr, size)?;
            if op != BitOp::Test {
                self.write_mem(seg, addr, size, op.apply(v, bit))?;
            }
            value = v;
        } else {
            bit = offset & (bits - 1);
            let v = self.read_op(ins, 0)?;
            if op != BitOp::Test {
                self.write_op(ins, 0, op.apply(v, bit))?;
            }
            value = v;
        }
        let cf = if value >> bit & 1 != 0 { Flags::CF } else { 0 };
        self.set_flags(Flags::CF, cf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::flags::Flags;
    use crate::tests::{ax, run_real, HLT};

    #[test]
    fn test_bt_imm_offset_wraps_to_operand_width() {
        // mov ax,0x0010 ; bt ax,20 ; hlt → bit 4
        let (cpu, _) = run_real(&[0xB8, 0x10, 0x00, 0x0F, 0xBA, 0xE0, 20, HLT]);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        assert_eq!(ax(&cpu), 0x0010);
    }

    #[test]
    fn test_bt_leaves_zero_flag() {
        // xor ax,ax (ZF=1) ; bt ax,0 ; hlt
        let (cpu, _) = run_real(&[0x31, 0xC0, 0x0F, 0xBA, 0xE0, 0x00, HLT]);
        assert_eq!(cpu.eflags & (Flags::CF | Flags::ZF), Flags::ZF);
    }

    #[test]
    fn test_bts_btr_btc_register() {
        // xor ax,ax ; mov cx,19 ; bts ax,cx ; hlt → bit 3 set, CF=0
        let (cpu, _) = run_real(&[0x31, 0xC0, 0xB9, 19, 0x00, 0x0F, 0xAB, 0xC8, HLT]);
        assert_eq!(ax(&cpu), 0x0008);
        assert_eq!(cpu.eflags & Flags::CF, 0);
        // mov ax,0xFFFF ; btr ax,15 ; hlt → CF=1
        let (cpu, _) = run_real(&[0xB8, 0xFF, 0xFF, 0x0F, 0xBA, 0xF0, 15, HLT]);
        assert_eq!(ax(&cpu), 0x7FFF);
        assert_ne!(cpu.eflags & Flags::CF, 0);
        // mov eax,0x80000001 ; btc eax,31 ; hlt
        let (cpu, _) = run_real(&[0x66, 0xB8, 0x01, 0x00, 0x00, 0x80, 0x66, 0x0F, 0xBA, 0xF8, 31, HLT]);
        assert_eq!(cpu.gpr[0], 1);
        assert_ne!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_bts_memory_register_offset_reaches_beyond_operand() {
        // mov bx,35 ; bts word [0x200],bx ; hlt → word at 0x204, bit 3
        let (cpu, mem) = run_real(&[0xBB, 35, 0x00, 0x0F, 0xAB, 0x1E, 0x00, 0x02, HLT]);
        assert_eq!(mem.read_u8(0x204), 0x08);
        assert_eq!(mem.read_u8(0x200), 0);
        assert_eq!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_bts_memory_negative_register_offset_goes_below() {
        // mov bx,-1 ; bts word [0x202],bx ; hlt → word at 0x200, bit 15
        let (_, mem) = run_real(&[0xBB, 0xFF, 0xFF, 0x0F, 0xAB, 0x1E, 0x02, 0x02, HLT]);
        assert_eq!(mem.read_u8(0x201), 0x80);
        assert_eq!(mem.read_u8(0x202), 0);
        assert_eq!(mem.read_u8(0x203), 0);
    }

    #[test]
    fn test_bt_memory_dword_register_offset() {
        // mov byte [0x20C],0x04 ; mov ebx,98 ; bt dword [0x200],ebx ; hlt
        // → dword at 0x200 + 4·3 = 0x20C, bit 2
        let (cpu, _) = run_real(&[
            0xC6, 0x06, 0x0C, 0x02, 0x04, 0x66, 0xBB, 98, 0x00, 0x00, 0x00, 0x66, 0x0F, 0xA3, 0x1E, 0x00, 0x02, HLT,
        ]);
        assert_ne!(cpu.eflags & Flags::CF, 0);
    }

    #[test]
    fn test_bts_memory_imm_offset_stays_in_operand() {
        // bts word [0x200],17 ; hlt → bit 1 of the word at 0x200
        let (_, mem) = run_real(&[0x0F, 0xBA, 0x2E, 0x00, 0x02, 17, HLT]);
        assert_eq!(mem.read_u8(0x200), 0x02);
        assert_eq!(mem.read_u8(0x202), 0);
    }

    #[test]
    fn test_bsf_and_bsr_find_lowest_and_highest_bit() {
        // mov bx,0x0180 ; bsf ax,bx ; hlt
        let (cpu, _) = run_real(&[0xBB, 0x80, 0x01, 0x0F, 0xBC, 0xC3, HLT]);
        assert_eq!(ax(&cpu), 7);
        assert_eq!(cpu.eflags & Flags::ZF, 0);
        // mov bx,0x0180 ; bsr ax,bx ; hlt
        let (cpu, _) = run_real(&[0xBB, 0x80, 0x01, 0x0F, 0xBD, 0xC3, HLT]);
        assert_eq!(ax(&cpu), 8);
    }

    #[test]
    fn test_bsf_zero_source_sets_zf_and_keeps_destination() {
        // mov ax,0x1234 ; xor bx,bx ; or ax,ax (ZF=0) ; bsf ax,bx ; hlt
        let (cpu, _) = run_real(&[0xB8, 0x34, 0x12, 0x31, 0xDB, 0x09, 0xC0, 0x0F, 0xBC, 0xC3, HLT]);
        assert_eq!(ax(&cpu), 0x1234);
        assert_ne!(cpu.eflags & Flags::ZF, 0);
    }

    #[test]
    fn test_bswap_dword_reverses_bytes() {
        // mov eax,0x12345678 ; bswap eax ; hlt
        let (cpu, _) = run_real(&[0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0x66, 0x0F, 0xC8, HLT]);
        assert_eq!(cpu.gpr[0], 0x7856_3412);
    }

    #[test]
    fn test_bswap_word_clears_low_half() {
        // mov eax,0x12345678 ; bswap ax ; hlt
        let (cpu, _) = run_real(&[0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0x0F, 0xC8, HLT]);
        assert_eq!(cpu.gpr[0], 0x1234_0000);
    }

    #[test]
    fn test_rep_bsf_and_rep_bsr_are_bsf_and_bsr_on_a_p6() {
        // mov ax,0x0100 ; mov cx,0x1234 ; rep bsf bx,ax (tzcnt) ; rep bsr dx,ax (lzcnt) ;
        // xor si,si ; rep bsf cx,si (zero source: CX kept, ZF set) ; hlt
        let code = [
            0xB8, 0x00, 0x01, 0xB9, 0x34, 0x12, 0xF3, 0x0F, 0xBC, 0xD8, 0xF3, 0x0F, 0xBD, 0xD0, 0x31, 0xF6, 0xF3, 0x0F,
            0xBC, 0xCE, HLT,
        ];
        let (cpu, _) = run_real(&code);
        assert_eq!(cpu.gpr[3] & 0xFFFF, 8, "tzcnt bytes run as bsf");
        assert_eq!(cpu.gpr[2] & 0xFFFF, 8, "lzcnt bytes run as bsr (not 16 - 9 = 7)");
        assert_eq!(cpu.gpr[1] & 0xFFFF, 0x1234, "a zero source leaves the destination");
        assert_ne!(cpu.eflags & Flags::ZF, 0);
    }
}
