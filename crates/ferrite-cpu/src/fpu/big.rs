//! A small 128-bit-significand binary float used inside the transcendental
//! instructions, where results are computed with about 120 correct bits before the one
//! final rounding to the extended format.
//!
//! Operations truncate; the `inexact` flag remembers that low bits were lost so the final
//! rounding can tell exact results (e.g. `log2(8)`) from inexact ones.

use super::float::{wide_from, Wide};
use super::F80;

/// `sig × 2^(exp − 127)`; `sig` is normalized (bit 127 set) unless the value is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Big {
    /// Sign.
    pub neg: bool,
    /// Significand, bit 127 set for non-zero values.
    pub sig: u128,
    /// Exponent of bit 127.
    pub exp: i32,
    /// Low bits were discarded somewhere along the way.
    pub inexact: bool,
}

/// Bits dropped below the wide format's 111-bit significand.
const WIDE_DROP: u32 = 128 - 111;

impl Big {
    /// Zero.
    pub(crate) const ZERO: Big = Big { neg: false, sig: 0, exp: 0, inexact: false };

    /// A constant given by its normalized 128-bit significand and exponent (rounded down,
    /// so marked inexact).
    pub(crate) const fn constant(sig: u128, exp: i32) -> Big {
        Big { neg: false, sig, exp, inexact: true }
    }

    /// Builds and normalizes `sig × 2^(exp − 127)`.
    pub(crate) fn norm(neg: bool, sig: u128, exp: i32, inexact: bool) -> Big {
        if sig == 0 {
            return Big { neg, sig: 0, exp: 0, inexact };
        }
        let lz = sig.leading_zeros();
        Big { neg, sig: sig << lz, exp: exp - lz as i32, inexact }
    }

    /// An integer.
    pub(crate) fn from_i128(v: i128) -> Big {
        Big::norm(v < 0, v.unsigned_abs(), 127, false)
    }

    /// A finite extended value (zero, denormal or normal), exactly.
    pub(crate) fn from_f80(f: F80) -> Big {
        let e = f.exp().max(1) as i32 - 16383;
        Big::norm(f.neg(), (f.sig as u128) << 64, e, false)
    }

    /// Whether the value is zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.sig == 0
    }

    /// The negated value.
    pub(crate) fn neg(self) -> Big {
        Big { neg: !self.neg, ..self }
    }

    /// The absolute value.
    pub(crate) fn abs(self) -> Big {
        Big { neg: false, ..self }
    }

    /// Multiplies by 2^n.
    pub(crate) fn scale(self, n: i32) -> Big {
        if self.is_zero() {
            return self;
        }
        Big { exp: self.exp.saturating_add(n), ..self }
    }

    /// The product (truncated to 128 bits).
    pub(crate) fn mul(self, o: Big) -> Big {
        let inexact = self.inexact || o.inexact;
        if self.is_zero() || o.is_zero() {
            return Big { neg: self.neg != o.neg, sig: 0, exp: 0, inexact };
        }
        let (hi, lo) = mul_u128(self.sig, o.sig);
        // The product of two [2^127, 2^128) numbers is in [2^254, 2^256).
        let (sig, exp, lost) = if hi >> 127 != 0 {
            (hi, self.exp + o.exp + 1, lo != 0)
        } else {
            ((hi << 1) | (lo >> 127), self.exp + o.exp, lo << 1 != 0)
        };
        Big { neg: self.neg != o.neg, sig, exp, inexact: inexact || lost }
    }

    /// The sum (truncated to 128 bits).
    pub(crate) fn add(self, o: Big) -> Big {
        if o.is_zero() {
            return Big { inexact: self.inexact || o.inexact, ..self };
        }
        if self.is_zero() {
            return Big { inexact: self.inexact || o.inexact, ..o };
        }
        let (a, b) = if self.exp >= o.exp { (self, o) } else { (o, self) };
        let inexact = a.inexact || b.inexact;
        let d = (a.exp - b.exp) as u32;
        // Two guard bits of headroom; what b loses below them is sticky.
        let sh = d + 2;
        let (bs, lost) = if sh >= 128 { (0u128, true) } else { (b.sig >> sh, b.sig & ((1u128 << sh) - 1) != 0) };
        let asig = a.sig >> 2;
        if a.neg == b.neg {
            let s = asig + bs;
            Big::norm(a.neg, s, a.exp + 2, inexact || lost || a.sig & 3 != 0)
        } else if asig >= bs {
            Big::norm(a.neg, asig - bs, a.exp + 2, inexact || lost || a.sig & 3 != 0)
        } else {
            Big::norm(b.neg, bs - asig, a.exp + 2, inexact || lost || a.sig & 3 != 0)
        }
    }

    /// The difference.
    pub(crate) fn sub(self, o: Big) -> Big {
        self.add(o.neg())
    }

    /// The quotient (128 bits, truncated). Division by zero gives zero.
    pub(crate) fn div(self, o: Big) -> Big {
        let neg = self.neg != o.neg;
        if self.is_zero() || o.is_zero() {
            return Big { neg, sig: 0, exp: 0, inexact: self.inexact || o.inexact };
        }
        let d = o.sig;
        let mut exp = self.exp - o.exp;
        let (mut r, mut carry) = (self.sig, false);
        if r < d {
            exp -= 1;
            carry = r >> 127 != 0;
            r <<= 1;
        }
        let mut q = 0u128;
        for i in 0..128 {
            if carry || r >= d {
                r = r.wrapping_sub(d);
                q |= 1 << (127 - i);
            }
            carry = r >> 127 != 0;
            r <<= 1;
        }
        Big { neg, sig: q, exp, inexact: self.inexact || o.inexact || r != 0 || carry }
    }

    /// Square root by Newton's iteration (non-negative input).
    pub(crate) fn sqrt(self) -> Big {
        if self.is_zero() {
            return self;
        }
        // Initial guess from the top 53 bits.
        let top = (self.sig >> 75) as f64 / (1u64 << 52) as f64;
        let (m, e) = if self.exp & 1 == 0 { (top, self.exp) } else { (top * 2.0, self.exp - 1) };
        let g = m.sqrt();
        let gs = (g * (1u64 << 52) as f64) as u128;
        let mut x = Big::norm(false, gs << 75, e / 2, true);
        // The guess is within 2^-50; three steps give well over 128 bits.
        for _ in 0..4 {
            x = x.add(self.abs().div(x)).scale(-1);
        }
        Big { inexact: true, ..x }
    }

    /// Converts to the wide format, truncating; returns the value and whether it is
    /// inexact (for [`super::float::Env::round`]).
    pub(crate) fn to_wide(self) -> (Wide, bool) {
        if self.is_zero() {
            let z = wide_from(false, 0, 0);
            return (if self.neg { -z } else { z }, self.inexact);
        }
        let lost = self.sig & ((1 << WIDE_DROP) - 1) != 0;
        let w = wide_from(self.neg, self.sig >> WIDE_DROP, self.exp - 127 + WIDE_DROP as i32);
        (w, self.inexact || lost)
    }

    /// The integer part (truncated toward zero) if it fits an `i64`, else `None`.
    pub(crate) fn trunc_i64(self) -> Option<i64> {
        if self.is_zero() || self.exp < 0 {
            return Some(0);
        }
        if self.exp > 62 {
            return None;
        }
        let v = (self.sig >> (127 - self.exp)) as i64;
        Some(if self.neg { -v } else { v })
    }

    /// Evaluates `Σ term_k` where `term_0 = first` and `term_{k+1} = term_k × step(k)`,
    /// until terms drop below 2^-130 of the sum.
    pub(crate) fn series(first: Big, mut step: impl FnMut(u32, Big) -> Big) -> Big {
        let mut sum = first;
        let mut term = first;
        for k in 0..SERIES_MAX_TERMS {
            term = step(k, term);
            if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
                break;
            }
            sum = sum.add(term);
        }
        Big { inexact: true, ..sum }
    }
}

/// Bound on series terms evaluated.
const SERIES_MAX_TERMS: u32 = 400;
/// A term this many binades below the sum ends the series.
const SERIES_CUTOFF: i32 = 132;

/// Full 128×128 → 256-bit product as (high, low).
fn mul_u128(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    let lo = (p00 & u64::MAX as u128) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}
