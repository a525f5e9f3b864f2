//! Data movement and flag instructions: MOV and its extending forms, LEA, XCHG, the
//! stack (PUSH/POP/PUSHA/POPA/PUSHF/POPF), conversions, SETcc/CMOVcc and flag control.
//! Everything the other groups do not claim is dispatched here, and on to the system
//! group.

use super::Exec;
use crate::fault::Fault;
use crate::flags::{sign_extend, Flags};
use crate::state::SegReg;
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic, OpKind, Register};

impl Exec<'_> {
    /// Evaluates a condition code against EFLAGS.
    #[inline]
    pub(crate) fn cond(&self, cc: ConditionCode) -> bool {
        let f = self.cpu.eflags;
        let cf = f & Flags::CF != 0;
        let zf = f & Flags::ZF != 0;
        let sf = f & Flags::SF != 0;
        let of = f & Flags::OF != 0;
        let pf = f & Flags::PF != 0;
        match cc {
            ConditionCode::o => of,
            ConditionCode::no => !of,
            ConditionCode::b => cf,
            ConditionCode::ae => !cf,
            ConditionCode::e => zf,
            ConditionCode::ne => !zf,
            ConditionCode::be => cf || zf,
            ConditionCode::a => !cf && !zf,
            ConditionCode::s => sf,
            ConditionCode::ns => !sf,
            ConditionCode::p => pf,
            ConditionCode::np => !pf,
            ConditionCode::l => sf != of,
            ConditionCode::ge => sf == of,
            ConditionCode::le => zf || sf != of,
            ConditionCode::g => !zf && sf == of,
            ConditionCode::None => true,
        }
    }

    /// Writes EFLAGS from POPF/IRET-style sources: `value` replaces the bits in `mask`
    /// that the current mode lets software change.
    pub(crate) fn write_eflags(&mut self, value: u32, mask: u32) {
        let mut writable = mask & Flags::WRITABLE & !(Flags::VM | Flags::RF | Flags::VIF | Flags::VIP);
        if self.cpu.protected_mode() {
            let cpl = self.cpu.cpl() as u32;
            let iopl = (self.cpu.eflags & Flags::IOPL) >> 12;
            if cpl > 0 {
                writable &= !Flags::IOPL;
            }
            if cpl > iopl {
                writable &= !Flags::IF;
            }
        }
        self.cpu.eflags = (self.cpu.eflags & !writable) | (value & writable) | Flags::FIXED1;
    }

    pub(super) fn exec_data(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        match ins.mnemonic() {
            M::Mov => self.exec_mov(ins),
            M::Movzx | M::Movsx => {
                let src_size = self.op_size(ins, 1);
                let v = self.read_op(ins, 1)?;
                let v = if ins.mnemonic() == M::Movsx { sign_extend(v, src_size) } else { v };
                self.write_op(ins, 0, v)
            }
            M::Lea => {
                if ins.op1_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let a = self.ea(ins);
                self.write_op(ins, 0, a)
            }
            M::Xchg => {
                let a = self.read_op(ins, 0)?;
                let b = self.read_op(ins, 1)?;
                self.write_op(ins, 0, b)?;
                self.write_op(ins, 1, a)
            }
            M::Nop | M::Pause => Ok(()),
            M::Wait => self.exec_fwait(),
            M::Push => {
                let size = (-ins.stack_pointer_increment()) as u8;
                let v = self.read_op(ins, 0)?;
                self.push(size, v)
            }
            M::Pop => self.exec_pop(ins),
            M::Pusha | M::Pushad => {
                let size = if ins.mnemonic() == M::Pusha { 2 } else { 4 };
                let sp = self.sp();
                let saved = self.cpu.gpr[4];
                for r in 0..8 {
                    let v = if r == 4 { saved } else { self.cpu.gpr[r] };
                    let off = sp.wrapping_sub(size as u32 * (r as u32 + 1)) & self.stack_mask();
                    self.write_mem(SegReg::Ss, off, size, v)?;
                }
                self.set_sp(sp.wrapping_sub(size as u32 * 8));
                Ok(())
            }
            M::Popa | M::Popad => {
                let size = if ins.mnemonic() == M::Popa { 2 } else { 4 };
                let mut vals = [0u32; 8];
                for (i, v) in vals.iter_mut().enumerate() {
                    *v = self.peek(size as u32 * (7 - i as u32), size)?;
                }
                let sp = self.sp();
                for (r, v) in vals.iter().enumerate() {
                    if r != 4 {
                        let reg = if size == 2 { Register::AX } else { Register::EAX };
                        self.set_reg(reg_n(reg, r), *v);
                    }
                }
                self.set_sp(sp.wrapping_add(size as u32 * 8));
                Ok(())
            }
            M::Pushf | M::Pushfd => {
                if self.v86_needs_iopl3() {
                    return Err(Fault::GP0);
                }
                let f = self.cpu.eflags & !(Flags::VM | Flags::RF);
                if ins.mnemonic() == M::Pushf {
                    self.push(2, f & 0xFFFF)
                } else {
                    self.push(4, f)
                }
            }
            M::Popf | M::Popfd => {
                if self.v86_needs_iopl3() {
                    return Err(Fault::GP0);
                }
                let (size, mask) = if ins.mnemonic() == M::Popf { (2, 0xFFFF) } else { (4, !0) };
                let v = self.pop(size)?;
                self.write_eflags(v, mask);
                self.end_block = true;
                Ok(())
            }
            M::Lahf => {
                let f = self.cpu.eflags & 0xFF;
                self.set_reg(Register::AH, f | Flags::FIXED1);
                Ok(())
            }
            M::Sahf => {
                let ah = self.get_reg(Register::AH);
                let m = Flags::SF | Flags::ZF | Flags::AF | Flags::PF | Flags::CF;
                self.set_flags(m, ah);
                Ok(())
            }
            M::Cbw => {
                let v = sign_extend(self.get_reg(Register::AL), 1);
                self.set_reg(Register::AX, v);
                Ok(())
            }
            M::Cwde => {
                self.cpu.gpr[0] = sign_extend(self.cpu.gpr[0], 2);
                Ok(())
            }
            M::Cwd => {
                let hi = if self.cpu.gpr[0] & 0x8000 != 0 { 0xFFFF } else { 0 };
                self.set_reg(Register::DX, hi);
                Ok(())
            }
            M::Cdq => {
                self.cpu.gpr[2] = if self.cpu.gpr[0] & 0x8000_0000 != 0 { !0 } else { 0 };
                Ok(())
            }
            M::Clc => self.flag_op(Flags::CF, false),
            M::Stc => self.flag_op(Flags::CF, true),
            M::Cmc => {
                self.cpu.eflags ^= Flags::CF;
                Ok(())
            }
            M::Cld => self.flag_op(Flags::DF, false),
            M::Std => self.flag_op(Flags::DF, true),
            M::Cli => {
                self.check_iopl()?;
                self.flag_op(Flags::IF, false)
            }
            M::Sti => {
                self.check_iopl()?;
                if self.cpu.eflags & Flags::IF == 0 {
                    self.cpu.int_shadow = true;
                }
                self.end_block = true;
                self.flag_op(Flags::IF, true)
            }
            M::Xlatb => {
                let v = self.read_op(ins, 0)?;
                self.set_reg(Register::AL, v);
                Ok(())
            }
            M::Salc => {
                let v = if self.cf() != 0 { 0xFF } else { 0 };
                self.set_reg(Register::AL, v);
                Ok(())
            }
            M::Lds | M::Les | M::Lss | M::Lfs | M::Lgs => {
                if ins.op1_kind() != OpKind::Memory {
                    return Err(Fault::UD);
                }
                let size = self.op_size(ins, 0);
                let seg = self.mem_seg(ins);
                let off = self.ea(ins);
                let offset = self.read_mem(seg, off, size)?;
                let mask = if super::operand::addr16(ins) { 0xFFFF } else { !0 };
                let sel = self.read_mem(seg, off.wrapping_add(size as u32) & mask, 2)? as u16;
                let target = match ins.mnemonic() {
                    M::Lds => SegReg::Ds,
                    M::Les => SegReg::Es,
                    M::Lss => SegReg::Ss,
                    M::Lfs => SegReg::Fs,
                    _ => SegReg::Gs,
                };
                self.load_segment(target, sel)?;
                if target == SegReg::Ss {
                    self.cpu.int_shadow = true;
                }
                self.write_op(ins, 0, offset)
            }
            m if crate::classify::is_setcc(m) => {
                let v = self.cond(ins.condition_code()) as u32;
                self.write_op(ins, 0, v)
            }
            m if crate::classify::is_cmovcc(m) => {
                let v = self.read_op(ins, 1)?;
                if self.cond(ins.condition_code()) {
                    self.write_op(ins, 0, v)?;
                }
                Ok(())
            }
            _ => self.exec_system(ins),
        }
    }

    fn flag_op(&mut self, bit: u32, set: bool) -> Result<(), Fault> {
        if set {
            self.cpu.eflags |= bit;
        } else {
            self.cpu.eflags &= !bit;
        }
        Ok(())
    }

    fn exec_mov(&mut self, ins: &Instruction) -> Result<(), Fault> {
        match ins.code() {
            Code::Mov_Sreg_rm16 | Code::Mov_Sreg_r32m16 => {
                let r = ins.op0_register();
                if r == Register::CS {
                    return Err(Fault::UD);
                }
                let sel = self.read_op(ins, 1)? as u16;
                let s = super::operand::seg_of(r);
                self.load_segment(s, sel)?;
                if s == SegReg::Ss {
                    self.cpu.int_shadow = true;
                }
                self.end_block = true;
                Ok(())
            }
            Code::Mov_rm16_Sreg | Code::Mov_r32m16_Sreg => {
                let r = ins.op1_register();
                if !r.is_segment_register() {
                    return Err(Fault::UD);
                }
                let v = self.get_reg(r);
                self.write_op(ins, 0, v)
            }
            Code::Mov_r32_cr | Code::Mov_cr_r32 | Code::Mov_r32_dr | Code::Mov_dr_r32 => self.exec_mov_crdr(ins),
            Code::Mov_r32_tr | Code::Mov_tr_r32 => Err(Fault::UD),
            _ => {
                let v = self.read_op(ins, 1)?;
                self.write_op(ins, 0, v)
            }
        }
    }

    fn exec_pop(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = ins.stack_pointer_increment() as u8;
        if ins.op0_kind() == OpKind::Register && ins.op0_register().is_segment_register() {
            let r = ins.op0_register();
            if r == Register::CS {
                return Err(Fault::UD);
            }
            // The increment uses the stack size in force before the load (POP SS may
            // change it).
            let mask = self.stack_mask();
            let new_esp = (self.cpu.gpr[4] & !mask) | (self.sp().wrapping_add(size as u32) & mask);
            let sel = self.peek(0, size)? as u16;
            let s = super::operand::seg_of(r);
            self.load_segment(s, sel)?;
            self.cpu.gpr[4] = new_esp;
            if s == SegReg::Ss {
                self.cpu.int_shadow = true;
            }
            self.end_block = true;
            return Ok(());
        }
        let sp = self.sp();
        let v = self.pop(size)?;
        if let Err(f) = self.write_op(ins, 0, v) {
            self.set_sp(sp);
            return Err(f);
        }
        Ok(())
    }
}

/// The register numbered `n` in the same size class as `base` (AX → AX, CX, …).
fn reg_n(base: Register, n: usize) -> Register {
    let regs16 = [
        Register::AX,
        Register::CX,
        Register::DX,
        Register::BX,
        Register::SP,
        Register::BP,
        Register::SI,
        Register::DI,
    ];
    let regs32 = [
        Register::EAX,
        Register::ECX,
        Register::EDX,
        Register::EBX,
        Register::ESP,
        Register::EBP,
        Register::ESI,
        Register::EDI,
    ];
    if base.size() == 2 {
        regs16[n]
    } else {
        regs32[n]
    }
}
