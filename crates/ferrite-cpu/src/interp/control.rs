//! Control transfers: JMP/CALL/RET near and far, Jcc, LOOP/JCXZ, INT/INTO/INT3/INT1/IRET,
//! ENTER/LEAVE and BOUND.
//!
//! Every procedure works out its target and reads everything it needs before it commits
//! anything, so a fault leaves the CPU as it was before the instruction. Relative branches
//! are taken relative to the EIP the CPU actually runs at, never to the address the block
//! was decoded at: a decoded block is cached by physical address and may run under a
//! different CS:IP.

use super::Exec;
use crate::fault::{Fault, Vector};
use crate::flags::{sign_extend, size_mask, Flags};
use crate::interp::operand::addr16;
use crate::interp::IntKind;
use crate::memory::Access;
use crate::state::{Gpr, SegReg};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

/// ENTER uses the nesting-level operand modulo 32.
const ENTER_LEVEL_MASK: u32 = 0x1F;

/// EFLAGS bits IRETD loads in real mode (`0x257FD5` in the SDM): the arithmetic flags,
/// TF, IF, DF, IOPL, NT, RF, AC and ID. VM, VIF and VIP keep their values.
const IRETD_REAL_MASK: u32 =
    Flags::ARITH | Flags::TF | Flags::IF | Flags::DF | Flags::IOPL | Flags::NT | Flags::RF | Flags::AC | Flags::ID;

/// The EFLAGS half a 16-bit IRET loads.
const IRET16_MASK: u32 = 0xFFFF;

/// The offset mask of an operand (or address) size in bytes: 0xFFFF for 2, all ones for 4.
#[inline]
fn width_mask(size: u8) -> u32 {
    size_mask(size)
}

impl Exec<'_> {
    /// Executes a control-transfer instruction.
    pub(super) fn exec_control(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        match ins.mnemonic() {
            M::Jmp => self.exec_jmp(ins),
            M::Call => self.exec_call(ins),
            M::Ret => self.exec_ret_near(ins),
            M::Retf => self.exec_ret_far(ins),
            M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => self.exec_loop(ins),
            M::Int | M::Int1 | M::Int3 | M::Into => self.exec_int(ins),
            M::Iret | M::Iretd => self.exec_iret(ins),
            M::Enter => self.exec_enter(ins),
            M::Leave => self.exec_leave(ins),
            M::Bound => self.exec_bound(ins),
            _ if ins.is_jcc_short_or_near() => {
                if self.cond(ins.condition_code()) {
                    let target = self.relative_target(ins);
                    self.jump_near(target)?;
                }
                Ok(())
            }
            _ => Err(Fault::UD),
        }
    }

    /// Operand size in bytes of a relative branch (2 for a 16-bit IP, 4 for EIP).
    fn branch_size(ins: &Instruction) -> u8 {
        if ins.op0_kind() == OpKind::NearBranch16 {
            2
        } else {
            4
        }
    }

    /// The target of a relative branch, taken from the EIP the CPU runs at (already
    /// advanced past the instruction) and truncated to the operand size.
    fn relative_target(&self, ins: &Instruction) -> u32 {
        let delta = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
        self.cpu.eip.wrapping_add(delta) & width_mask(Self::branch_size(ins))
    }

    /// #GP(0) unless `target` lies within the CS limit.
    fn check_code_limit(&self, target: u32) -> Result<(), Fault> {
        if target > self.cpu.seg[SegReg::Cs as usize].limit {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// A near transfer to `target` (already truncated to the operand size).
    fn jump_near(&mut self, target: u32) -> Result<(), Fault> {
        self.check_code_limit(target)?;
        self.cpu.eip = target;
        Ok(())
    }

    /// Whether far transfers take the protected-mode path (CR0.PE set, not virtual-8086):
    /// descriptor checks, gates, task switches and privilege changes live in `far.rs`.
    fn protected_far(&self) -> bool {
        self.cpu.protected_mode() && self.cpu.eflags & Flags::VM == 0
    }

    /// A far transfer to `selector:offset`: loads CS, then checks `offset` against the
    /// new code segment's limit. On a fault CS is left as it was.
    fn jump_far(&mut self, selector: u16, offset: u32) -> Result<(), Fault> {
        let old_cs = self.cpu.seg[SegReg::Cs as usize];
        self.load_segment(SegReg::Cs, selector)?;
        if let Err(f) = self.check_code_limit(offset) {
            self.cpu.seg[SegReg::Cs as usize] = old_cs;
            return Err(f);
        }
        self.cpu.eip = offset;
        self.end_block = true;
        Ok(())
    }

    /// Reads a far pointer `m16:16` / `m16:32` from the memory operand: the offset
    /// (`off_size` bytes) followed by the selector.
    fn read_far_pointer(&mut self, ins: &Instruction, off_size: u8) -> Result<(u16, u32), Fault> {
        if ins.op0_kind() != OpKind::Memory {
            return Err(Fault::UD);
        }
        let seg = self.mem_seg(ins);
        let ea = self.ea(ins);
        let offset = self.read_mem(seg, ea, off_size)?;
        let addr_mask = if addr16(ins) { width_mask(2) } else { width_mask(4) };
        let sel_at = ea.wrapping_add(off_size as u32) & addr_mask;
        let selector = self.read_mem(seg, sel_at, 2)? as u16;
        Ok((selector, offset))
    }

    /// Where a JMP or CALL goes: a near offset or a far pointer.
    fn transfer_target(&mut self, ins: &Instruction) -> Result<Target, Fault> {
        Ok(match ins.code() {
            Code::Jmp_ptr1616 | Code::Call_ptr1616 => {
                Target::Far { selector: ins.far_branch_selector(), offset: ins.far_branch16() as u32, size: 2 }
            }
            Code::Jmp_ptr1632 | Code::Call_ptr1632 => {
                Target::Far { selector: ins.far_branch_selector(), offset: ins.far_branch32(), size: 4 }
            }
            Code::Jmp_m1616 | Code::Call_m1616 => {
                let (selector, offset) = self.read_far_pointer(ins, 2)?;
                Target::Far { selector, offset, size: 2 }
            }
            Code::Jmp_m1632 | Code::Call_m1632 => {
                let (selector, offset) = self.read_far_pointer(ins, 4)?;
                Target::Far { selector, offset, size: 4 }
            }
            Code::Jmp_rm16 | Code::Call_rm16 => Target::Near { offset: self.read_op(ins, 0)? & width_mask(2), size: 2 },
            Code::Jmp_rm32 | Code::Call_rm32 => Target::Near { offset: self.read_op(ins, 0)?, size: 4 },
            _ => match ins.op0_kind() {
                OpKind::NearBranch16 | OpKind::NearBranch32 => {
                    Target::Near { offset: self.relative_target(ins), size: Self::branch_size(ins) }
                }
                _ => return Err(Fault::UD),
            },
        })
    }

    /// JMP near (relative or indirect) and far (direct or through memory).
    fn exec_jmp(&mut self, ins: &Instruction) -> Result<(), Fault> {
        match self.transfer_target(ins)? {
            Target::Near { offset, .. } => self.jump_near(offset),
            Target::Far { selector, offset, size } if self.protected_far() => {
                self.end_block = true;
                self.pm_far_jmp(selector, offset, size)
            }
            Target::Far { selector, offset, .. } => self.jump_far(selector, offset),
        }
    }

    /// CALL near and far: pushes the return address (and CS for far calls) with the
    /// operand size, then transfers. A fault at any point leaves SP and memory above it
    /// unchanged.
    fn exec_call(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let ret_eip = self.cpu.eip;
        match self.transfer_target(ins)? {
            Target::Near { offset, size } => {
                self.check_code_limit(offset)?;
                self.push(size, ret_eip)?;
                self.cpu.eip = offset;
                Ok(())
            }
            Target::Far { selector, offset, size } if self.protected_far() => {
                self.end_block = true;
                self.pm_far_call(selector, offset, size)
            }
            Target::Far { selector, offset, size } => {
                let saved_sp = self.cpu.gpr[Gpr::Esp as usize];
                let cs = self.cpu.seg[SegReg::Cs as usize].selector as u32;
                let done = self
                    .push(size, cs)
                    .and_then(|_| self.push(size, ret_eip))
                    .and_then(|_| self.jump_far(selector, offset));
                if done.is_err() {
                    self.cpu.gpr[Gpr::Esp as usize] = saved_sp;
                }
                done
            }
        }
    }

    /// RET near, optionally releasing `imm16` bytes of parameters.
    fn exec_ret_near(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = match ins.code() {
            Code::Retnw | Code::Retnw_imm16 => 2,
            Code::Retnd | Code::Retnd_imm16 => 4,
            _ => return Err(Fault::UD),
        };
        let release = release_bytes(ins);
        let target = self.peek(0, size)?;
        self.check_code_limit(target)?;
        let sp = self.sp();
        self.set_sp(sp.wrapping_add(size as u32).wrapping_add(release));
        self.cpu.eip = target;
        Ok(())
    }

    /// RETF, optionally releasing `imm16` bytes of parameters. In protected mode the
    /// return (possibly to an outer privilege level) is `far.rs`'s.
    fn exec_ret_far(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size = match ins.code() {
            Code::Retfw | Code::Retfw_imm16 => 2,
            Code::Retfd | Code::Retfd_imm16 => 4,
            _ => return Err(Fault::UD),
        };
        let release = release_bytes(ins);
        if self.protected_far() {
            self.end_block = true;
            return self.pm_far_ret(size, release);
        }
        let offset = self.peek(0, size)?;
        let selector = self.peek(size as u32, size)? as u16;
        self.jump_far(selector, offset)?;
        let sp = self.sp();
        self.set_sp(sp.wrapping_add(2 * size as u32).wrapping_add(release));
        Ok(())
    }

    /// LOOP/LOOPE/LOOPNE (decrement the count, branch while non-zero and the ZF
    /// condition holds) and JCXZ/JECXZ. The count register is CX or ECX by address size.
    fn exec_loop(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let ecx = loop_counts_ecx(ins.code()) == Some(true);
        let count_mask = if ecx { width_mask(4) } else { width_mask(2) };
        let count = self.cpu.gpr[Gpr::Ecx as usize] & count_mask;
        let zf = self.cpu.eflags & Flags::ZF != 0;
        let next = count.wrapping_sub(1) & count_mask;
        let (taken, new_count) = match ins.mnemonic() {
            M::Jcxz | M::Jecxz => (count == 0, count),
            M::Loop => (next != 0, next),
            M::Loope => (next != 0 && zf, next),
            M::Loopne => (next != 0 && !zf, next),
            _ => return Err(Fault::UD),
        };
        let target = self.relative_target(ins);
        if taken {
            self.check_code_limit(target)?;
        }
        let c = &mut self.cpu.gpr[Gpr::Ecx as usize];
        *c = (*c & !count_mask) | new_count;
        if taken {
            self.cpu.eip = target;
        }
        Ok(())
    }

    /// INT n, INT3 and INTO (software interrupts returning to the next instruction) and
    /// INT1/ICEBP (a debug trap).
    fn exec_int(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let (vector, kind) = match ins.code() {
            Code::Int_imm8 => {
                // Virtual-8086 code needs IOPL 3 for INT n (INT3/INTO are exempt).
                if self.v86_needs_iopl3() {
                    return Err(Fault::GP0);
                }
                (ins.immediate8(), IntKind::Software)
            }
            Code::Int3 => (Vector::Breakpoint as u8, IntKind::Software),
            Code::Into => {
                if self.cpu.eflags & Flags::OF == 0 {
                    return Ok(());
                }
                (Vector::Overflow as u8, IntKind::Software)
            }
            Code::Int1 => (Vector::Debug as u8, IntKind::Trap),
            _ => return Err(Fault::UD),
        };
        self.deliver(vector, kind, None)
    }

    /// IRET/IRETD: in real mode and virtual-8086 mode (IOPL 3, else #GP(0)) pops (E)IP, CS
    /// and (E)FLAGS; protected-mode returns (nested task, outer level, to VM86) are
    /// `far.rs`'s.
    fn exec_iret(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let (size, mask) = match ins.code() {
            Code::Iretw => (2u8, IRET16_MASK),
            Code::Iretd => (4u8, IRETD_REAL_MASK),
            _ => return Err(Fault::UD),
        };
        if self.protected_far() {
            self.end_block = true;
            self.pm_iret(size)?;
            self.cpu.nmi_blocked = false;
            return Ok(());
        }
        if self.v86_needs_iopl3() {
            return Err(Fault::GP0);
        }
        let offset = self.peek(0, size)?;
        let selector = self.peek(size as u32, size)? as u16;
        let flags = self.peek(2 * size as u32, size)?;
        self.jump_far(selector, offset)?;
        let sp = self.sp();
        self.set_sp(sp.wrapping_add(3 * size as u32));
        self.write_eflags(flags, mask);
        if mask & Flags::RF != 0 {
            // write_eflags leaves RF alone (POPF cannot set it); IRETD loads it.
            self.cpu.eflags = (self.cpu.eflags & !Flags::RF) | (flags & Flags::RF);
        }
        // Any IRET ends NMI blocking.
        self.cpu.nmi_blocked = false;
        // IF or TF may have changed: let the run loop look at interrupts.
        self.end_block = true;
        Ok(())
    }

    /// ENTER imm16, imm8: pushes BP, copies `level − 1` frame pointers from the enclosing
    /// frame, pushes the new frame pointer, points BP at the frame and allocates `imm16`
    /// bytes. Pushes are operand-sized; SP and the BP walk follow the stack size. Nothing
    /// but memory below SP changes unless the whole instruction succeeds.
    fn exec_enter(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size: u8 = match ins.code() {
            Code::Enterw_imm16_imm8 => 2,
            Code::Enterd_imm16_imm8 => 4,
            _ => return Err(Fault::UD),
        };
        let alloc = ins.immediate16() as u32;
        let level = ins.immediate8_2nd() as u32 & ENTER_LEVEL_MASK;
        let smask = self.stack_mask();
        let step = size as u32;
        let mut sp = self.sp();
        // A write at the final stack pointer is checked (segment and page) before
        // anything is pushed, so a fault leaves no trace.
        let pushes = if level == 0 { 1 } else { level + 1 };
        let final_sp = sp.wrapping_sub(step * pushes).wrapping_sub(alloc) & smask;
        let final_lin = self.linear(SegReg::Ss, final_sp, 1, Access::Write)?;
        self.translate(final_lin, Access::Write)?;
        sp = sp.wrapping_sub(step) & smask;
        self.write_mem(SegReg::Ss, sp, size, self.cpu.gpr[Gpr::Ebp as usize])?;
        // FrameTemp is the whole (E)SP after the push: a 16-bit stack keeps ESP's upper half.
        let frame = (self.cpu.gpr[Gpr::Esp as usize] & !smask) | sp;
        if level > 0 {
            let mut bp = self.cpu.gpr[Gpr::Ebp as usize] & smask;
            for _ in 1..level {
                bp = bp.wrapping_sub(step) & smask;
                let v = self.read_mem(SegReg::Ss, bp, size)?;
                sp = sp.wrapping_sub(step) & smask;
                self.write_mem(SegReg::Ss, sp, size, v)?;
            }
            sp = sp.wrapping_sub(step) & smask;
            self.write_mem(SegReg::Ss, sp, size, frame)?;
        }
        let new_sp = sp.wrapping_sub(alloc) & smask;
        if alloc != 0 {
            // The new top of stack must lie within SS.
            self.linear(SegReg::Ss, new_sp, 1, Access::Write)?;
        }
        self.set_bp(size, frame);
        self.set_sp(new_sp);
        Ok(())
    }

    /// LEAVE: SP ← BP (stack-sized), then pops BP (operand-sized).
    fn exec_leave(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let size: u8 = match ins.code() {
            Code::Leavew => 2,
            Code::Leaved => 4,
            _ => return Err(Fault::UD),
        };
        let top = self.cpu.gpr[Gpr::Ebp as usize] & self.stack_mask();
        let v = self.read_mem(SegReg::Ss, top, size)?;
        self.set_sp(top.wrapping_add(size as u32));
        self.set_bp(size, v);
        Ok(())
    }

    /// Writes BP (keeping the upper half of EBP) or EBP.
    fn set_bp(&mut self, size: u8, v: u32) {
        let mask = width_mask(size);
        let bp = &mut self.cpu.gpr[Gpr::Ebp as usize];
        *bp = (*bp & !mask) | (v & mask);
    }

    /// BOUND r, m: #BR unless lower ≤ r ≤ upper (signed), the bounds being two
    /// operand-sized values in memory. A register second operand is #UD.
    fn exec_bound(&mut self, ins: &Instruction) -> Result<(), Fault> {
        if ins.op1_kind() != OpKind::Memory {
            return Err(Fault::UD);
        }
        let size = self.op_size(ins, 0);
        let index = sign_extend(self.get_reg(ins.op0_register()), size) as i32;
        let seg = self.mem_seg(ins);
        let ea = self.ea(ins);
        let addr_mask = if addr16(ins) { width_mask(2) } else { width_mask(4) };
        let lower = sign_extend(self.read_mem(seg, ea, size)?, size) as i32;
        let upper_at = ea.wrapping_add(size as u32) & addr_mask;
        let upper = sign_extend(self.read_mem(seg, upper_at, size)?, size) as i32;
        if index < lower || index > upper {
            return Err(Fault::new(Vector::Bound));
        }
        Ok(())
    }
}

/// Where a JMP or CALL transfers to.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// An offset in the current code segment; `size` is the operand size (2 or 4).
    Near { offset: u32, size: u8 },
    /// A new code segment and offset; `size` is the operand size (2 or 4).
    Far { selector: u16, offset: u32, size: u8 },
}

/// The bytes of parameters RET imm16 / RETF imm16 releases (0 without an immediate).
fn release_bytes(ins: &Instruction) -> u32 {
    if ins.op_count() > 0 && ins.op0_kind() == OpKind::Immediate16 {
        ins.immediate16() as u32
    } else {
        0
    }
}

/// Which count register a LOOP/LOOPE/LOOPNE/JCXZ/JECXZ form uses (the address size):
/// `Some(true)` ECX, `Some(false)` CX, `None` for a 64-bit RCX form (or no such
/// instruction). Shared by the generic path and the fast-form lowering.
pub(super) fn loop_counts_ecx(code: Code) -> Option<bool> {
    match code {
        Code::Loop_rel8_16_ECX
        | Code::Loop_rel8_32_ECX
        | Code::Loope_rel8_16_ECX
        | Code::Loope_rel8_32_ECX
        | Code::Loopne_rel8_16_ECX
        | Code::Loopne_rel8_32_ECX
        | Code::Jecxz_rel8_16
        | Code::Jecxz_rel8_32 => Some(true),
        Code::Loop_rel8_16_CX
        | Code::Loop_rel8_32_CX
        | Code::Loope_rel8_16_CX
        | Code::Loope_rel8_32_CX
        | Code::Loopne_rel8_16_CX
        | Code::Loopne_rel8_32_CX
        | Code::Jcxz_rel8_16
        | Code::Jcxz_rel8_32 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
