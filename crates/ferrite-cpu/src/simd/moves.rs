//! Data movement: MOVD/MOVQ, the whole-register moves (aligned, unaligned, non-temporal),
//! the scalar and half-register moves, MOVMSKPS/PD, MOVQ2DQ/MOVDQ2Q, MASKMOVQ/MASKMOVDQU,
//! and the cache-control instructions (PREFETCHh, the fences, CLFLUSH), which have no
//! architectural effect here beyond CLFLUSH's address check.

use super::is_mem;
use crate::fault::Fault;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic, OpKind};

/// The low 32 bits of a register.
pub(crate) const LO32: u128 = 0xFFFF_FFFF;
/// The low 64 bits of a register.
pub(crate) const LO64: u128 = u64::MAX as u128;

impl Exec<'_> {
    /// Executes a move or cache-control instruction; `Ok(false)` if `ins` is not one.
    pub(super) fn exec_move(&mut self, ins: &Instruction) -> Result<bool, Fault> {
        use Mnemonic as M;
        match ins.mnemonic() {
            M::Movd => {
                let v = self.simd_read(ins, 1)? & LO32;
                self.simd_write(ins, 0, v)?;
            }
            // Whole-operand copies: the destination's width decides what is kept (MOVQ to
            // an XMM register and MOVQ2DQ zero the upper half, MOVDQ2Q keeps the low half).
            M::Movq
            | M::Movq2dq
            | M::Movdq2q
            | M::Movaps
            | M::Movups
            | M::Movapd
            | M::Movupd
            | M::Movdqa
            | M::Movdqu
            | M::Movntps
            | M::Movntpd
            | M::Movntdq
            | M::Movntq
            | M::Movnti => {
                let mut v = self.simd_read(ins, 1)?;
                if ins.mnemonic() == M::Movq {
                    v &= LO64;
                }
                self.simd_write(ins, 0, v)?;
            }
            M::Movss | M::Movsd => {
                let lo = if ins.mnemonic() == M::Movss { LO32 } else { LO64 };
                let src = self.simd_read(ins, 1)? & lo;
                if is_mem(ins, 0) || is_mem(ins, 1) {
                    // Loads zero the rest of the register; stores write the low element.
                    self.simd_write(ins, 0, src)?;
                } else {
                    let dst = self.simd_read(ins, 0)?;
                    self.simd_write(ins, 0, (dst & !lo) | src)?;
                }
            }
            M::Movhps | M::Movhpd => {
                if is_mem(ins, 0) {
                    let v = self.simd_read(ins, 1)? >> 64;
                    self.simd_write(ins, 0, v)?;
                } else {
                    let dst = self.simd_read(ins, 0)?;
                    let m = self.simd_read(ins, 1)? & LO64;
                    self.simd_write(ins, 0, (dst & LO64) | (m << 64))?;
                }
            }
            M::Movlps | M::Movlpd => {
                if is_mem(ins, 0) {
                    let v = self.simd_read(ins, 1)? & LO64;
                    self.simd_write(ins, 0, v)?;
                } else {
                    let dst = self.simd_read(ins, 0)?;
                    let m = self.simd_read(ins, 1)? & LO64;
                    self.simd_write(ins, 0, (dst & !LO64) | m)?;
                }
            }
            M::Movhlps => {
                let dst = self.simd_read(ins, 0)?;
                let src = self.simd_read(ins, 1)?;
                self.simd_write(ins, 0, (dst & !LO64) | (src >> 64))?;
            }
            M::Movlhps => {
                let dst = self.simd_read(ins, 0)?;
                let src = self.simd_read(ins, 1)?;
                self.simd_write(ins, 0, (dst & LO64) | (src << 64))?;
            }
            M::Movmskps | M::Movmskpd => {
                let src = self.simd_read(ins, 1)?;
                let (lanes, bits) = if ins.mnemonic() == M::Movmskps { (4, 32) } else { (2, 64) };
                let mut mask = 0u128;
                for i in 0..lanes {
                    mask |= ((src >> (i * bits + bits - 1)) & 1) << i;
                }
                self.simd_write(ins, 0, mask)?;
            }
            M::Maskmovq | M::Maskmovdqu => self.maskmov(ins)?,
            M::Prefetchnta | M::Prefetcht0 | M::Prefetcht1 | M::Prefetcht2 => {}
            M::Sfence | M::Lfence | M::Mfence => {}
            M::Clflush => self.simd_probe(ins)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// MASKMOVQ/MASKMOVDQU: stores the bytes of the data register whose mask byte has its
    /// top bit set to DS:(E)DI (segment overridable). The whole range is checked first.
    fn maskmov(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let data = self.simd_read(ins, 1)?;
        let mask = self.simd_read(ins, 2)?;
        let n: u32 = if ins.op1_register().is_mm() { 8 } else { 16 };
        let seg = self.mem_seg(ins);
        let off = match ins.op0_kind() {
            OpKind::MemorySegDI => self.cpu.gpr[7] & 0xFFFF,
            _ => self.cpu.gpr[7],
        };
        let selected: Vec<u32> = (0..n).filter(|i| (mask >> (8 * i + 7)) & 1 != 0).collect();
        if selected.is_empty() {
            return Ok(());
        }
        self.fpu_probe_write(seg, off, n)?;
        for i in selected {
            self.write_mem(seg, off.wrapping_add(i), 1, (data >> (8 * i)) as u32 & 0xFF)?;
        }
        Ok(())
    }
}
