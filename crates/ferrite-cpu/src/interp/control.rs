//! Control transfers: JMP/CALL/RET near and far, Jcc, LOOP/JCXZ, INT/INTO/INT3/IRET,
//! ENTER/LEAVE and BOUND.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_control(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
