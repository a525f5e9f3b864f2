//! MXCSR: LDMXCSR/STMXCSR, the exception flags and masks, DAZ/FZ and rounding control,
//! and how an SSE floating-point instruction reports its exceptions.

use super::CR4_OSXMMEXCPT;
use crate::fault::{Fault, Vector};
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic};

/// Invalid operation flag.
pub(crate) const IE: u32 = 1 << 0;
/// Denormal operand flag.
pub(crate) const DE: u32 = 1 << 1;
/// Divide-by-zero flag.
pub(crate) const ZE: u32 = 1 << 2;
/// Overflow flag.
pub(crate) const OE: u32 = 1 << 3;
/// Underflow flag.
pub(crate) const UE: u32 = 1 << 4;
/// Precision (inexact) flag.
pub(crate) const PE: u32 = 1 << 5;
/// The six exception flags.
pub(crate) const FLAGS: u32 = 0x3F;
/// Denormals are zeros: denormal source operands read as zero of the same sign.
pub(crate) const DAZ: u32 = 1 << 6;
/// Shift from a flag bit to its mask bit.
pub(crate) const MASK_SHIFT: u32 = 7;
/// Rounding-control field shift (2 bits: nearest, down, up, toward zero).
pub(crate) const RC_SHIFT: u32 = 13;
/// Flush to zero: masked underflows return zero.
pub(crate) const FZ: u32 = 1 << 15;
/// MXCSR at RESET: every exception masked, round to nearest.
pub(crate) const MXCSR_RESET: u32 = 0x1F80;
/// The writable MXCSR bits that FXSAVE reports as MXCSR_MASK (DAZ included).
pub(crate) const MXCSR_MASK: u32 = 0xFFFF;

impl Exec<'_> {
    /// LDMXCSR m32 / STMXCSR m32. Loading a reserved bit is #GP(0).
    pub(super) fn exec_mxcsr(&mut self, ins: &Instruction) -> Result<(), Fault> {
        if !super::is_mem(ins, 0) {
            return Err(Fault::UD);
        }
        let seg = self.mem_seg(ins);
        let off = self.ea(ins);
        if ins.mnemonic() == Mnemonic::Ldmxcsr {
            let v = self.read_mem(seg, off, 4)?;
            if v & !MXCSR_MASK != 0 {
                return Err(Fault::GP0);
            }
            self.cpu.sse.mxcsr = v;
            Ok(())
        } else {
            let v = self.cpu.sse.mxcsr;
            self.write_mem(seg, off, 4, v)
        }
    }

    /// Records the exception flags an SSE floating-point instruction detected. If any is
    /// unmasked the instruction must not write its destination: returns #XM when CR4.
    /// OSXMMEXCPT = 1, else #UD.
    pub(crate) fn simd_fp_commit(&mut self, flags: u32) -> Result<(), Fault> {
        let flags = flags & FLAGS;
        self.cpu.sse.mxcsr |= flags;
        let masks = (self.cpu.sse.mxcsr >> MASK_SHIFT) & FLAGS;
        if flags & !masks == 0 {
            return Ok(());
        }
        if self.cpu.cr4 & CR4_OSXMMEXCPT != 0 {
            Err(Fault::new(Vector::SimdError))
        } else {
            Err(Fault::UD)
        }
    }
}
