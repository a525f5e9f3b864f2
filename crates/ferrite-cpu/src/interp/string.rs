//! String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_string(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
