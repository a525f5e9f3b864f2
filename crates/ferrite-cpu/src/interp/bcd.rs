//! Decimal arithmetic adjustments: DAA/DAS/AAA/AAS/AAM/AAD.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_bcd(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
