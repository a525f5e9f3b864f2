//! Multiplication and division: MUL/IMUL (all three forms) and DIV/IDIV with #DE.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_muldiv(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
