//! Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, BSWAP.

use super::Exec;
use crate::fault::Fault;
use iced_x86::Instruction;

impl Exec<'_> {
    pub(super) fn exec_bits(&mut self, _ins: &Instruction) -> Result<(), Fault> {
        Err(Fault::UD)
    }
}
