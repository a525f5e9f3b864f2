//! Shifts and rotates: ROL/ROR/RCL/RCR/SHL/SAL/SHR/SAR and SHLD/SHRD.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_shift(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
