//! Interrupt and exception delivery: the real-mode IVT here, the protected-mode IDT in
//! `idt.rs`.

use super::Exec;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::SegReg;

/// How an interrupt arose, which decides the return address pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntKind {
    /// A fault: returns to the faulting instruction (`cur_eip`).
    Exception,
    /// A trap after the instruction retired (single-step): returns to EIP.
    Trap,
    /// INT n / INT3 / INTO: returns to the next instruction (EIP).
    Software,
    /// A hardware interrupt between instructions: returns to EIP.
    External,
}

impl Exec<'_> {
    /// Delivers interrupt `vector`. On failure returns the fault that delivery raised,
    /// with the CPU state unchanged.
    pub(crate) fn deliver(&mut self, vector: u8, kind: IntKind, error_code: Option<u32>) -> Result<(), Fault> {
        self.end_block = true;
        self.cpu.halted = false;
        if self.cpu.protected_mode() {
            return self.deliver_protected(vector, kind, error_code);
        }
        self.deliver_real(vector, kind)
    }

    fn deliver_real(&mut self, vector: u8, kind: IntKind) -> Result<(), Fault> {
        let off = vector as u32 * 4;
        if off + 3 > self.cpu.idtr.limit {
            return Err(Fault::with_code(Vector::GeneralProtection, vector as u32 * 8 + 2));
        }
        let ivt = self.cpu.idtr.base.wrapping_add(off);
        let new_ip = self.sys_read(ivt, 2)?;
        let new_cs = self.sys_read(ivt.wrapping_add(2), 2)? as u16;
        let ret_ip = match kind {
            IntKind::Exception => self.cpu.cur_eip,
            _ => self.cpu.eip,
        };
        let saved_sp = self.cpu.gpr[4];
        let cs = self.cpu.seg[SegReg::Cs as usize].selector as u32;
        let pushed = self.push(2, self.cpu.eflags).and_then(|_| self.push(2, cs)).and_then(|_| self.push(2, ret_ip));
        if let Err(f) = pushed {
            self.cpu.gpr[4] = saved_sp;
            return Err(f);
        }
        self.cpu.eflags &= !(Flags::IF | Flags::TF | Flags::AC | Flags::RF);
        self.cpu.load_seg_real(SegReg::Cs, new_cs);
        self.cpu.eip = new_ip;
        Ok(())
    }
}
