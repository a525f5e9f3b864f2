//! Deferred status flags for the interpreter's fast forms.
//!
//! Most status flags an instruction computes are overwritten before anything reads them
//! (`xor; shr; xor; inc; dec; jnz` reads ZF once). A fast ADD…CMP, TEST, ADC/SBB or
//! INC/DEC therefore records what it did — operation, size, operands, result and the
//! carry that goes with it — in [`LazyFlags`] instead of computing CF/PF/AF/ZF/SF/OF.
//! A Jcc or LOOPE/LOOPNE derives just the flags its condition needs from that record;
//! anything else that reads or partly writes the status flags first *flushes* the record
//! into `cpu.eflags` with the very helpers the generic procedures use (`add_flags`,
//! `sub_flags`, `logic_flags`), so the flags come out bit for bit as eager computation
//! leaves them.
//!
//! The record lives in [`Exec`] (one run slice), never in [`crate::Cpu`]: the run loop
//! flushes it before a generic instruction, before any exception or interrupt delivery
//! and before `Cpu::run` returns, so the rest of the CPU, the translator, the debugger
//! and every test see `cpu.eflags` complete.

use super::Exec;
use crate::flags::{add_flags, logic_flags, sign_bit, size_mask, sub_flags, szp, Flags};

/// Which computation the status flags are waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum LazyOp {
    /// Nothing pending: `cpu.eflags` holds the status flags.
    None,
    /// `a + b + carry` (ADD, ADC; INC records `Inc`).
    Add,
    /// `a - b - carry` (SUB, SBB, CMP).
    Sub,
    /// A logical result `r` (AND, OR, XOR, TEST): CF = OF = AF = 0.
    Logic,
    /// `a + 1` with CF kept: `carry` holds the CF from before.
    Inc,
    /// `a - 1` with CF kept: `carry` holds the CF from before.
    Dec,
}

/// The pending computation (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LazyFlags {
    pub(crate) op: LazyOp,
    /// Operand size in bytes.
    pub(crate) size: u8,
    pub(crate) a: u32,
    /// The second operand (1 for INC/DEC).
    pub(crate) b: u32,
    /// The result, masked to `size`.
    pub(crate) r: u32,
    /// Carry/borrow in for `Add`/`Sub`; the kept CF (0 or 1) for `Inc`/`Dec`.
    pub(crate) carry: u32,
}

impl LazyFlags {
    /// Nothing pending.
    pub(crate) const NONE: LazyFlags = LazyFlags { op: LazyOp::None, size: 4, a: 0, b: 0, r: 0, carry: 0 };

    /// The six status flags of the pending computation (`op` must not be `None`).
    #[inline]
    fn compute(&self) -> u32 {
        let LazyFlags { op, size, a, b, r, carry } = *self;
        match op {
            LazyOp::Add => add_flags(a, b, carry, size).1,
            LazyOp::Sub => sub_flags(a, b, carry, size).1,
            LazyOp::Logic => logic_flags(r, size),
            LazyOp::Inc => (add_flags(a, 1, 0, size).1 & !Flags::CF) | carry,
            LazyOp::Dec => (sub_flags(a, 1, 0, size).1 & !Flags::CF) | carry,
            LazyOp::None => 0,
        }
    }

    /// CF, given the flags register `eflags` for when nothing is pending.
    #[inline(always)]
    pub(crate) fn cf(&self, eflags: u32) -> bool {
        let m = size_mask(self.size) as u64;
        match self.op {
            LazyOp::None => eflags & Flags::CF != 0,
            LazyOp::Add => (self.a as u64 & m) + (self.b as u64 & m) + self.carry as u64 > m,
            LazyOp::Sub => (self.b as u64 & m) + self.carry as u64 > self.a as u64 & m,
            LazyOp::Logic => false,
            LazyOp::Inc | LazyOp::Dec => self.carry != 0,
        }
    }

    /// ZF.
    #[inline(always)]
    pub(crate) fn zf(&self, eflags: u32) -> bool {
        match self.op {
            LazyOp::None => eflags & Flags::ZF != 0,
            _ => self.r == 0,
        }
    }

    /// SF.
    #[inline(always)]
    pub(crate) fn sf(&self, eflags: u32) -> bool {
        match self.op {
            LazyOp::None => eflags & Flags::SF != 0,
            _ => self.r & sign_bit(self.size) != 0,
        }
    }

    /// OF (the `add_flags`/`sub_flags` formulas).
    #[inline(always)]
    pub(crate) fn of(&self, eflags: u32) -> bool {
        let (a, b, r) = (self.a, self.b, self.r);
        let sign = sign_bit(self.size);
        match self.op {
            LazyOp::None => eflags & Flags::OF != 0,
            LazyOp::Add | LazyOp::Inc => (!(a ^ b) & (a ^ r)) & sign != 0,
            LazyOp::Sub | LazyOp::Dec => ((a ^ b) & (a ^ r)) & sign != 0,
            LazyOp::Logic => false,
        }
    }

    /// PF.
    #[inline(always)]
    pub(crate) fn pf(&self, eflags: u32) -> bool {
        match self.op {
            LazyOp::None => eflags & Flags::PF != 0,
            _ => szp(self.r, self.size) & Flags::PF != 0,
        }
    }
}

impl Exec<'_> {
    /// Brings `cpu.eflags` up to date with the pending status flags, if any.
    #[inline(always)]
    pub(crate) fn flush_flags(&mut self) {
        if self.lazy.op != LazyOp::None {
            self.flush_flags_slow();
        }
    }

    #[inline(never)]
    fn flush_flags_slow(&mut self) {
        let f = self.lazy.compute();
        self.cpu.eflags = (self.cpu.eflags & !Flags::ARITH) | f;
        self.lazy.op = LazyOp::None;
    }

    /// The current CF (0 or 1), pending or not.
    #[inline(always)]
    pub(crate) fn cur_cf(&self) -> u32 {
        self.lazy.cf(self.cpu.eflags) as u32
    }

    /// Records `a op b (+/- carry) = r` as the pending status flags.
    #[inline(always)]
    pub(crate) fn defer_flags(&mut self, op: LazyOp, size: u8, a: u32, b: u32, r: u32, carry: u32) {
        self.lazy = LazyFlags { op, size, a, b, r, carry };
    }

    /// Drops the pending flags because the caller overwrites all six.
    #[inline(always)]
    pub(crate) fn discard_flags(&mut self) {
        self.lazy.op = LazyOp::None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each flag `l` derives on its own equals that bit of `f`; EFLAGS holds the opposite
    /// bits, so junk there must not leak into a pending computation.
    fn assert_derived_flags_are(l: &LazyFlags, f: u32) {
        let e = !f;
        assert_eq!(l.cf(e), f & Flags::CF != 0, "{l:?}");
        assert_eq!(l.zf(e), f & Flags::ZF != 0, "{l:?}");
        assert_eq!(l.sf(e), f & Flags::SF != 0, "{l:?}");
        assert_eq!(l.of(e), f & Flags::OF != 0, "{l:?}");
        assert_eq!(l.pf(e), f & Flags::PF != 0, "{l:?}");
    }

    /// Every derived flag equals the one the eager computation gives.
    #[test]
    fn test_derived_flags_match_the_eager_computation() {
        let samples =
            [0u32, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678];
        for size in [1u8, 2, 4] {
            let m = size_mask(size);
            for &a in &samples {
                for &b in &samples {
                    for carry in [0u32, 1] {
                        let (a, b) = (a & m, b & m);
                        let cases = [
                            LazyFlags { op: LazyOp::Add, size, a, b, r: add_flags(a, b, carry, size).0, carry },
                            LazyFlags { op: LazyOp::Sub, size, a, b, r: sub_flags(a, b, carry, size).0, carry },
                            LazyFlags { op: LazyOp::Logic, size, a, b, r: a & b, carry: 0 },
                            LazyFlags { op: LazyOp::Inc, size, a, b: 1, r: a.wrapping_add(1) & m, carry },
                            LazyFlags { op: LazyOp::Dec, size, a, b: 1, r: a.wrapping_sub(1) & m, carry },
                        ];
                        for l in cases {
                            assert_derived_flags_are(&l, l.compute());
                        }
                    }
                }
            }
        }
    }

    /// NEG's fast form records `0 - x` as a `Sub`: its flags, flushed or derived, are
    /// the generic NEG's (`sub_flags(0, x)`), with CF = (x != 0).
    #[test]
    fn test_neg_recorded_as_sub_matches_the_generic_flags() {
        let mut xs: Vec<u32> = (0..=0x1FF).collect();
        xs.extend([0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF]);
        for size in [1u8, 2, 4] {
            let m = size_mask(size);
            for &x in &xs {
                let x = x & m;
                let (r, f) = sub_flags(0, x, 0, size);
                assert_eq!(r, 0u32.wrapping_sub(x) & m);
                assert_eq!(f & Flags::CF != 0, x != 0, "size {size} x {x:#x}");
                let l = LazyFlags { op: LazyOp::Sub, size, a: 0, b: x, r, carry: 0 };
                assert_eq!(l.compute(), f, "{l:?}");
                assert_derived_flags_are(&l, f);
            }
        }
    }

    #[test]
    fn test_nothing_pending_reads_eflags() {
        let l = LazyFlags::NONE;
        let e = Flags::CF | Flags::OF;
        assert!(l.cf(e) && l.of(e) && !l.zf(e) && !l.sf(e) && !l.pf(e));
    }
}
