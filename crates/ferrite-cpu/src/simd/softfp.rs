//! IEEE single and double precision the SSE way, on raw bit patterns.
//!
//! Arithmetic is done by `rustc_apfloat` with the MXCSR rounding mode, so results and the
//! inexact/overflow/underflow conditions are exact; this module adds what x86 defines on
//! top of IEEE 754: NaN propagation (the first source operand's NaN wins, quieted), the
//! QNaN indefinite for invalid operations, denormal-operand reporting, DAZ and FZ, MIN/MAX
//! and compare semantics, integer conversions whose out-of-range result is the integer
//! indefinite, and x86's tininess rule for underflow (after rounding to full precision
//! with an unbounded exponent).

use super::mxcsr::{DAZ, DE, FZ, IE, MASK_SHIFT, OE, PE, RC_SHIFT, UE, ZE};
use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};
use std::cmp::Ordering;

/// The 32-bit integer indefinite (and the value of an invalid conversion).
pub(crate) const INT_INDEFINITE: u32 = 0x8000_0000;

/// A binary floating-point format as SSE sees it.
pub(crate) trait Fmt: Float + Copy {
    /// Total width in bits.
    const WIDTH: u32;
    /// Fraction (trailing significand) width in bits.
    const FRAC_BITS: u32;
    /// Exponent bias.
    const BIAS: i32;
}

impl Fmt for Single {
    const WIDTH: u32 = 32;
    const FRAC_BITS: u32 = 23;
    const BIAS: i32 = 127;
}

impl Fmt for Double {
    const WIDTH: u32 = 64;
    const FRAC_BITS: u32 = 52;
    const BIAS: i32 = 1023;
}

/// The sign bit.
fn sign<F: Fmt>() -> u64 {
    1 << (F::WIDTH - 1)
}

/// The all-ones exponent field value.
fn exp_max<F: Fmt>() -> u64 {
    (1 << (F::WIDTH - 1 - F::FRAC_BITS)) - 1
}

/// The biased exponent field.
fn exp_of<F: Fmt>(b: u64) -> u64 {
    (b >> F::FRAC_BITS) & exp_max::<F>()
}

/// The fraction field.
fn frac_of<F: Fmt>(b: u64) -> u64 {
    b & ((1 << F::FRAC_BITS) - 1)
}

/// The quiet bit (top fraction bit).
fn quiet_bit<F: Fmt>() -> u64 {
    1 << (F::FRAC_BITS - 1)
}

/// Whether `b` is a NaN.
pub(crate) fn is_nan<F: Fmt>(b: u64) -> bool {
    exp_of::<F>(b) == exp_max::<F>() && frac_of::<F>(b) != 0
}

/// Whether `b` is a signaling NaN.
pub(crate) fn is_snan<F: Fmt>(b: u64) -> bool {
    is_nan::<F>(b) && b & quiet_bit::<F>() == 0
}

/// Whether `b` is a denormal (nonzero with a zero exponent).
pub(crate) fn is_denormal<F: Fmt>(b: u64) -> bool {
    exp_of::<F>(b) == 0 && frac_of::<F>(b) != 0
}

/// `b` with the quiet bit set.
fn quiet<F: Fmt>(b: u64) -> u64 {
    b | quiet_bit::<F>()
}

/// The QNaN floating-point indefinite: negative, quiet, zero payload.
pub(crate) fn indefinite<F: Fmt>() -> u64 {
    sign::<F>() | (exp_max::<F>() << F::FRAC_BITS) | quiet_bit::<F>()
}

/// Zero with the sign of `b`.
fn signed_zero<F: Fmt>(b: u64) -> u64 {
    b & sign::<F>()
}

fn to_f<F: Fmt>(b: u64) -> F {
    F::from_bits(b as u128)
}

fn from_f<F: Fmt>(f: F) -> u64 {
    f.to_bits() as u64
}

/// The binary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
}

/// The floating-point environment of one instruction (from MXCSR) and the exception
/// flags it has raised so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// Rounding mode.
    pub(crate) round: Round,
    daz: bool,
    ftz: bool,
    ue_masked: bool,
    /// Exception flags raised (MXCSR bit positions).
    pub(crate) flags: u32,
}

impl Ctx {
    /// The environment MXCSR describes.
    pub(crate) fn new(mxcsr: u32) -> Ctx {
        let round = match (mxcsr >> RC_SHIFT) & 3 {
            0 => Round::NearestTiesToEven,
            1 => Round::TowardNegative,
            2 => Round::TowardPositive,
            _ => Round::TowardZero,
        };
        Ctx { round, daz: mxcsr & DAZ != 0, ftz: mxcsr & FZ != 0, ue_masked: mxcsr & (UE << MASK_SHIFT) != 0, flags: 0 }
    }

    /// A source operand as arithmetic sees it: denormals become zero under DAZ, otherwise
    /// they raise DE.
    fn input<F: Fmt>(&mut self, b: u64) -> u64 {
        if is_denormal::<F>(b) {
            if self.daz {
                return signed_zero::<F>(b);
            }
            self.flags |= DE;
        }
        b
    }

    /// A source operand with DAZ applied but no DE (conversions to integer).
    fn input_quiet<F: Fmt>(&self, b: u64) -> u64 {
        if self.daz && is_denormal::<F>(b) {
            signed_zero::<F>(b)
        } else {
            b
        }
    }

    /// Records the status of a rounded result and applies the invalid response and FZ.
    fn output<F: Fmt>(&mut self, r: StatusAnd<F>) -> u64 {
        let s = r.status;
        if s.contains(Status::INVALID_OP) {
            self.flags |= IE;
            return indefinite::<F>();
        }
        if s.contains(Status::DIV_BY_ZERO) {
            self.flags |= ZE;
        }
        if s.contains(Status::OVERFLOW) {
            self.flags |= OE;
        }
        if s.contains(Status::INEXACT) {
            self.flags |= PE;
        }
        let v = from_f(r.value);
        let tiny = s.contains(Status::UNDERFLOW) || is_denormal::<F>(v);
        if tiny && self.ue_masked && self.ftz {
            self.flags |= UE | PE;
            return signed_zero::<F>(v);
        }
        // Masked, underflow means tiny and inexact; unmasked, tiny is enough.
        if s.contains(Status::UNDERFLOW) || (tiny && !self.ue_masked) {
            self.flags |= UE;
        }
        v
    }

    /// NaN operands of an arithmetic operation: IE for an SNaN; the result is the first
    /// NaN operand, quieted. `None` when neither is a NaN.
    fn nan2<F: Fmt>(&mut self, a: u64, b: u64) -> Option<u64> {
        let (na, nb) = (is_nan::<F>(a), is_nan::<F>(b));
        if !na && !nb {
            return None;
        }
        if is_snan::<F>(a) || is_snan::<F>(b) {
            self.flags |= IE;
        }
        Some(quiet::<F>(if na { a } else { b }))
    }

    /// `a op b` for ADD/SUB/MUL/DIV/MIN/MAX.
    pub(crate) fn binop<F: Fmt>(&mut self, op: BinOp, a: u64, b: u64) -> u64 {
        if matches!(op, BinOp::Min | BinOp::Max) {
            // Any NaN is invalid and the second operand is returned, as it is for equal
            // values (±0 included).
            if is_nan::<F>(a) || is_nan::<F>(b) {
                self.flags |= IE;
                return b;
            }
            let (a, b) = (self.input::<F>(a), self.input::<F>(b));
            let ord = to_f::<F>(a).partial_cmp(&to_f::<F>(b));
            let pick_a = match op {
                BinOp::Min => ord == Some(Ordering::Less),
                _ => ord == Some(Ordering::Greater),
            };
            return if pick_a { a } else { b };
        }
        if let Some(n) = self.nan2::<F>(a, b) {
            return n;
        }
        let (a, b) = (self.input::<F>(a), self.input::<F>(b));
        let (fa, fb) = (to_f::<F>(a), to_f::<F>(b));
        let mut r = match op {
            BinOp::Add => fa.add_r(fb, self.round),
            BinOp::Sub => fa.sub_r(fb, self.round),
            BinOp::Mul => fa.mul_r(fb, self.round),
            _ => fa.div_r(fb, self.round),
        };
        // A tiny sum or difference is always exact, so only products and quotients can
        // round up to the smallest normal while being tiny.
        if matches!(op, BinOp::Mul | BinOp::Div) && rounded_up_to_min_normal(&r) {
            let round = self.round;
            let scaled = match op {
                BinOp::Mul if fa.abs() <= fb.abs() => fa.scalbn_r(TINY_SCALE, round).mul_r(fb, round),
                BinOp::Mul => fa.mul_r(fb.scalbn_r(TINY_SCALE, round), round),
                _ => fa.scalbn_r(TINY_SCALE, round).div_r(fb, round),
            };
            mark_tiny(&mut r, scaled.value);
        }
        self.output(r)
    }

    /// Correctly rounded square root.
    pub(crate) fn sqrt<F: Fmt>(&mut self, a: u64) -> u64 {
        if is_nan::<F>(a) {
            if is_snan::<F>(a) {
                self.flags |= IE;
            }
            return quiet::<F>(a);
        }
        let a = self.input::<F>(a);
        let f = to_f::<F>(a);
        if f.is_zero() {
            return a;
        }
        if f.is_negative() {
            self.flags |= IE;
            return indefinite::<F>();
        }
        if f.is_infinite() {
            return a;
        }
        let r = sqrt_positive::<F>(a, self.round);
        self.output(r)
    }

    /// Ordered comparison of `a` and `b` (`None`: unordered). IE for an SNaN, or for any
    /// NaN when `signaling`; DE for denormal operands.
    pub(crate) fn compare<F: Fmt>(&mut self, a: u64, b: u64, signaling: bool) -> Option<Ordering> {
        if is_nan::<F>(a) || is_nan::<F>(b) {
            if signaling || is_snan::<F>(a) || is_snan::<F>(b) {
                self.flags |= IE;
            }
            return None;
        }
        let (a, b) = (self.input::<F>(a), self.input::<F>(b));
        to_f::<F>(a).partial_cmp(&to_f::<F>(b))
    }

    /// Converts to a 32-bit integer, rounding per MXCSR or truncating. NaN and out-of-range
    /// values are invalid and give the integer indefinite.
    pub(crate) fn int_of<F: Fmt>(&mut self, a: u64, truncate: bool) -> u32 {
        if is_nan::<F>(a) {
            self.flags |= IE;
            return INT_INDEFINITE;
        }
        let a = self.input_quiet::<F>(a);
        let round = if truncate { Round::TowardZero } else { self.round };
        let r = to_f::<F>(a).to_i128_r(32, round, &mut true);
        if r.status.contains(Status::INVALID_OP) {
            self.flags |= IE;
            return INT_INDEFINITE;
        }
        if r.status.contains(Status::INEXACT) {
            self.flags |= PE;
        }
        r.value as i32 as u32
    }

    /// Converts a signed 32-bit integer, rounding per MXCSR.
    pub(crate) fn float_of_int<F: Fmt>(&mut self, v: u32) -> u64 {
        let r = F::from_i128_r(v as i32 as i128, self.round);
        if r.status.contains(Status::INEXACT) {
            self.flags |= PE;
        }
        from_f(r.value)
    }

    /// Converts between the formats (single ↔ double). NaNs keep their payload's top bits
    /// and are quieted (IE for an SNaN).
    pub(crate) fn convert<F: Fmt + FloatConvert<T>, T: Fmt>(&mut self, a: u64) -> u64 {
        if is_nan::<F>(a) {
            if is_snan::<F>(a) {
                self.flags |= IE;
            }
            let s = if a & sign::<F>() != 0 { sign::<T>() } else { 0 };
            let payload = frac_of::<F>(a);
            let payload = if T::FRAC_BITS >= F::FRAC_BITS {
                payload << (T::FRAC_BITS - F::FRAC_BITS)
            } else {
                payload >> (F::FRAC_BITS - T::FRAC_BITS)
            };
            return s | (exp_max::<T>() << T::FRAC_BITS) | payload | quiet_bit::<T>();
        }
        let a = self.input::<F>(a);
        let fa = to_f::<F>(a);
        let mut r: StatusAnd<T> = fa.convert_r(self.round, &mut false);
        if rounded_up_to_min_normal(&r) {
            let scaled: StatusAnd<T> = fa.scalbn_r(TINY_SCALE, self.round).convert_r(self.round, &mut false);
            mark_tiny(&mut r, scaled.value);
        }
        self.output(r)
    }

    /// RCPSS/RCPPS: an approximate reciprocal (here correctly rounded, well within the
    /// architectural 1.5 × 2⁻¹² relative error). Denormal inputs read as zero and tiny
    /// results flush to zero; no flags.
    pub(crate) fn rcp(a: u32) -> u32 {
        Self::approx(a, false)
    }

    /// RSQRTSS/RSQRTPS: an approximate reciprocal square root (see [`Ctx::rcp`]).
    pub(crate) fn rsqrt(a: u32) -> u32 {
        Self::approx(a, true)
    }

    fn approx(a: u32, root: bool) -> u32 {
        let a = a as u64;
        if is_nan::<Single>(a) {
            return quiet::<Single>(a) as u32;
        }
        let s = a & sign::<Single>();
        let a = if is_denormal::<Single>(a) { s } else { a };
        let f = to_f::<Single>(a);
        if f.is_zero() {
            return (s | (exp_max::<Single>() << Single::FRAC_BITS)) as u32;
        }
        if root && f.is_negative() {
            return indefinite::<Single>() as u32;
        }
        if f.is_infinite() {
            return s as u32;
        }
        let nearest = Round::NearestTiesToEven;
        let d: Double = f.convert_r(nearest, &mut false).value;
        let d = if root { to_f::<Double>(from_f(sqrt_positive::<Double>(from_f(d), nearest).value)) } else { d };
        let r = Double::from_u128(1).value.div_r(d, nearest).value;
        let r: Single = r.convert_r(nearest, &mut false).value;
        let bits = from_f(r);
        if is_denormal::<Single>(bits) {
            s as u32
        } else {
            bits as u32
        }
    }
}

/// Power of two by which an operand is scaled to recompute a result near the smallest
/// normal with the exponent range out of the way (exact for the operands concerned).
const TINY_SCALE: i32 = 64;

/// Whether `r` is an inexact ±smallest normal that apfloat did not call an underflow:
/// the one case where its tininess test (is the bounded result denormal?) and x86's
/// (is the result rounded to full precision with an unbounded exponent below the smallest
/// normal?) can disagree.
fn rounded_up_to_min_normal<F: Fmt>(r: &StatusAnd<F>) -> bool {
    r.status.contains(Status::INEXACT)
        && !r.status.contains(Status::UNDERFLOW)
        && r.value.abs().bitwise_eq(F::smallest_normalized())
}

/// Given the result recomputed from an operand scaled by 2^TINY_SCALE (so it is rounded
/// to full precision), marks `r` as an underflow when that result is tiny.
fn mark_tiny<F: Fmt>(r: &mut StatusAnd<F>, scaled: F) {
    if scaled.abs() < F::smallest_normalized().scalbn(TINY_SCALE as _) {
        r.status |= Status::UNDERFLOW;
    }
}

/// The square root of a positive finite nonzero value, correctly rounded: the integer
/// square root of the significand scaled to about 127 bits gives 63 result bits plus a
/// sticky bit, which apfloat rounds once; the exponent adjustment is then exact.
fn sqrt_positive<F: Fmt>(a: u64, round: Round) -> StatusAnd<F> {
    let (exp, frac) = (exp_of::<F>(a) as i32, frac_of::<F>(a));
    let (m, e) = if exp == 0 {
        (frac, 1 - F::BIAS - F::FRAC_BITS as i32)
    } else {
        (frac | 1 << F::FRAC_BITS, exp - F::BIAS - F::FRAC_BITS as i32)
    };
    // value = m · 2^e; scale m by 2^k so the exponent is even.
    let bits = 64 - m.leading_zeros() as i32;
    let mut k = 126 - bits;
    if (e - k) & 1 != 0 {
        k -= 1;
    }
    let scaled = (m as u128) << k;
    let root = isqrt(scaled);
    let sticky = (root * root != scaled) as u128;
    let r = F::from_u128_r((root << 1) | sticky, round);
    // value = (2·root + sticky) · 2^((e − k)/2 − 1); the scaling is exact.
    let half = (e - k) / 2 - 1;
    StatusAnd { status: r.status, value: r.value.scalbn_r(half as _, round) }
}

/// ⌊√v⌋ for a 128-bit value, bit by bit.
fn isqrt(v: u128) -> u128 {
    let mut rem = v;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}
