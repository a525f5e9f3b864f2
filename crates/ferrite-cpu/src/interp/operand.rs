//! Operand access for decoded instructions: registers, immediates, memory operands
//! (effective address, segment, size) and the stack.

use super::Exec;
use crate::fault::Fault;
use crate::flags::size_mask;
use crate::state::SegReg;
use iced_x86::{Instruction, OpKind, Register};

/// Maps iced's segment register to ferrite's.
#[inline]
pub(crate) fn seg_of(r: Register) -> SegReg {
    match r {
        Register::ES => SegReg::Es,
        Register::CS => SegReg::Cs,
        Register::SS => SegReg::Ss,
        Register::FS => SegReg::Fs,
        Register::GS => SegReg::Gs,
        _ => SegReg::Ds,
    }
}

/// Whether a memory operand uses 16-bit addressing.
#[inline]
pub(crate) fn addr16(ins: &Instruction) -> bool {
    let base = ins.memory_base();
    let index = ins.memory_index();
    if base != Register::None {
        return base.size() == 2;
    }
    if index != Register::None {
        return index.size() == 2;
    }
    ins.memory_displ_size() == 2
}

/// Size in bytes of operand `i` (register, memory or immediate as iced decoded it); the
/// generic path ([`Exec::op_size`]) and the fast-form lowering both ask here.
#[inline]
pub(super) fn operand_size(ins: &Instruction, i: u32) -> u8 {
    match ins.op_kind(i) {
        OpKind::Register => ins.op_register(i).size() as u8,
        OpKind::Memory => ins.memory_size().size() as u8,
        OpKind::Immediate8 => 1,
        OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
        _ => 4,
    }
}

impl Exec<'_> {
    /// Reads a general-purpose, segment or control register as iced names it.
    #[inline]
    pub(crate) fn get_reg(&self, r: Register) -> u32 {
        if r.is_gpr() {
            self.gpr_get(r.number() as u8, r.size() as u8)
        } else if r.is_segment_register() {
            self.cpu.seg[seg_of(r) as usize].selector as u32
        } else {
            0
        }
    }

    /// Writes a general-purpose register; narrower writes keep the other bits.
    #[inline]
    pub(crate) fn set_reg(&mut self, r: Register, v: u32) {
        self.gpr_set(r.number() as u8, r.size() as u8, v);
    }

    /// The effective address (offset within the segment) of the memory operand.
    #[inline]
    pub(crate) fn ea(&self, ins: &Instruction) -> u32 {
        let mut a = ins.memory_displacement32();
        let base = ins.memory_base();
        if base != Register::None {
            a = a.wrapping_add(self.get_reg(base));
        }
        let index = ins.memory_index();
        if index != Register::None {
            a = a.wrapping_add(self.get_reg(index).wrapping_mul(ins.memory_index_scale()));
        }
        if addr16(ins) {
            a & 0xFFFF
        } else {
            a
        }
    }

    /// The segment the memory operand uses (override or default).
    #[inline]
    pub(crate) fn mem_seg(&self, ins: &Instruction) -> SegReg {
        seg_of(ins.memory_segment())
    }

    /// Size in bytes of operand `i` (register or memory).
    #[inline]
    pub(crate) fn op_size(&self, ins: &Instruction, i: u32) -> u8 {
        operand_size(ins, i)
    }

    /// Reads operand `i`, zero-extended (immediates are extended to the instruction's
    /// operand size as iced decoded them, then masked).
    #[inline]
    pub(crate) fn read_op(&mut self, ins: &Instruction, i: u32) -> Result<u32, Fault> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(self.get_reg(ins.op_register(i))),
            OpKind::Memory => {
                let size = ins.memory_size().size() as u8;
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                self.read_mem(seg, off, size)
            }
            OpKind::Immediate8 => Ok(ins.immediate8() as u32),
            OpKind::Immediate8_2nd => Ok(ins.immediate8_2nd() as u32),
            OpKind::Immediate16 => Ok(ins.immediate16() as u32),
            OpKind::Immediate32 => Ok(ins.immediate32()),
            OpKind::Immediate8to16 => Ok(ins.immediate8to16() as u16 as u32),
            OpKind::Immediate8to32 => Ok(ins.immediate8to32() as u32),
            _ => Err(Fault::UD),
        }
    }

    /// Writes operand `i` (register or memory) with the low bytes of `v`.
    #[inline]
    pub(crate) fn write_op(&mut self, ins: &Instruction, i: u32, v: u32) -> Result<(), Fault> {
        match ins.op_kind(i) {
            OpKind::Register => {
                self.set_reg(ins.op_register(i), v);
                Ok(())
            }
            OpKind::Memory => {
                let size = ins.memory_size().size() as u8;
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                self.write_mem(seg, off, size, v)
            }
            _ => Err(Fault::UD),
        }
    }

    /// The stack's address mask: 0xFFFF for a 16-bit stack segment, else all ones.
    #[inline]
    pub(crate) fn stack_mask(&self) -> u32 {
        if self.cpu.seg[SegReg::Ss as usize].is_32() {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    /// The current stack pointer, masked to the stack's address size.
    #[inline]
    pub(crate) fn sp(&self) -> u32 {
        self.cpu.gpr[4] & self.stack_mask()
    }

    /// Sets the stack pointer, keeping the upper half when the stack is 16-bit.
    #[inline]
    pub(crate) fn set_sp(&mut self, v: u32) {
        let m = self.stack_mask();
        self.cpu.gpr[4] = (self.cpu.gpr[4] & !m) | (v & m);
    }

    /// Pushes `size` bytes. Nothing changes if the write faults.
    pub(crate) fn push(&mut self, size: u8, v: u32) -> Result<(), Fault> {
        let sp = self.sp().wrapping_sub(size as u32) & self.stack_mask();
        self.write_mem(SegReg::Ss, sp, size, v & size_mask(size))?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pops `size` bytes. Nothing changes if the read faults.
    pub(crate) fn pop(&mut self, size: u8) -> Result<u32, Fault> {
        let sp = self.sp();
        let v = self.read_mem(SegReg::Ss, sp, size)?;
        self.set_sp(sp.wrapping_add(size as u32));
        Ok(v)
    }

    /// Reads `size` bytes at stack offset `SP + delta` without moving SP.
    pub(crate) fn peek(&mut self, delta: u32, size: u8) -> Result<u32, Fault> {
        let off = self.sp().wrapping_add(delta) & self.stack_mask();
        self.read_mem(SegReg::Ss, off, size)
    }
}
