//! Integer arithmetic and logic: ADD…CMP, TEST, INC/DEC, NEG/NOT, XADD, CMPXCHG(8B).

use super::Exec;
use crate::fault::Fault;
use crate::flags::{add_flags, logic_flags, size_mask, sub_flags, Flags};
use iced_x86::{Instruction, Mnemonic, OpKind};

impl Exec<'_> {
    /// Replaces the arithmetic flags selected by `mask` with `f`.
    #[inline]
    pub(crate) fn set_flags(&mut self, mask: u32, f: u32) {
        self.cpu.eflags = (self.cpu.eflags & !mask) | (f & mask);
    }

    #[inline]
    pub(crate) fn cf(&self) -> u32 {
        self.cpu.eflags & Flags::CF
    }

    pub(super) fn exec_alu(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let size = self.op_size(ins, 0);
        match ins.mnemonic() {
            M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test => {
                let a = self.read_op(ins, 0)?;
                let b = self.read_op(ins, 1)? & size_mask(size);
                let (r, f) = match ins.mnemonic() {
                    M::Add => add_flags(a, b, 0, size),
                    M::Adc => add_flags(a, b, self.cf(), size),
                    M::Sub | M::Cmp => sub_flags(a, b, 0, size),
                    M::Sbb => sub_flags(a, b, self.cf(), size),
                    M::Or => {
                        let r = (a | b) & size_mask(size);
                        (r, logic_flags(r, size))
                    }
                    M::And | M::Test => {
                        let r = a & b;
                        (r, logic_flags(r, size))
                    }
                    _ => {
                        let r = (a ^ b) & size_mask(size);
                        (r, logic_flags(r, size))
                    }
                };
                self.set_flags(Flags::ARITH, f);
                if !matches!(ins.mnemonic(), M::Cmp | M::Test) {
                    self.write_op(ins, 0, r)?;
                }
                Ok(())
            }
            M::Inc | M::Dec => {
                let a = self.read_op(ins, 0)?;
                let (r, f) = if ins.mnemonic() == M::Inc { add_flags(a, 1, 0, size) } else { sub_flags(a, 1, 0, size) };
                self.write_op(ins, 0, r)?;
                self.set_flags(Flags::ARITH & !Flags::CF, f);
                Ok(())
            }
            M::Neg => {
                let a = self.read_op(ins, 0)?;
                let (r, f) = sub_flags(0, a, 0, size);
                self.write_op(ins, 0, r)?;
                self.set_flags(Flags::ARITH, f);
                Ok(())
            }
            M::Not => {
                let a = self.read_op(ins, 0)?;
                self.write_op(ins, 0, !a)
            }
            M::Xadd => {
                let a = self.read_op(ins, 0)?;
                let b = self.read_op(ins, 1)?;
                let (r, f) = add_flags(a, b, 0, size);
                self.write_op(ins, 0, r)?;
                self.write_op(ins, 1, a)?;
                self.set_flags(Flags::ARITH, f);
                Ok(())
            }
            M::Cmpxchg => {
                let acc_reg = match size {
                    1 => iced_x86::Register::AL,
                    2 => iced_x86::Register::AX,
                    _ => iced_x86::Register::EAX,
                };
                let dest = self.read_op(ins, 0)?;
                let acc = self.get_reg(acc_reg);
                let (_, f) = sub_flags(acc, dest, 0, size);
                self.set_flags(Flags::ARITH, f);
                if f & Flags::ZF != 0 {
                    let src = self.read_op(ins, 1)?;
                    self.write_op(ins, 0, src)
                } else {
                    // The destination is written back with its own value (a locked RMW).
                    self.write_op(ins, 0, dest)?;
                    self.set_reg(acc_reg, dest);
                    Ok(())
                }
            }
            M::Cmpxchg8b => {
                if ins.op0_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                let lo = self.read_mem(seg, off, 4)?;
                let hi = self.read_mem(seg, off.wrapping_add(4), 4)?;
                if lo == self.cpu.gpr[0] && hi == self.cpu.gpr[2] {
                    self.write_mem(seg, off, 4, self.cpu.gpr[3])?;
                    self.write_mem(seg, off.wrapping_add(4), 4, self.cpu.gpr[1])?;
                    self.cpu.eflags |= Flags::ZF;
                } else {
                    self.write_mem(seg, off, 4, lo)?;
                    self.write_mem(seg, off.wrapping_add(4), 4, hi)?;
                    self.cpu.gpr[0] = lo;
                    self.cpu.gpr[2] = hi;
                    self.cpu.eflags &= !Flags::ZF;
                }
                Ok(())
            }
            _ => Err(Fault::UD),
        }
    }
}
