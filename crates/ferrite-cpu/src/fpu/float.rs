//! The 80-bit extended format and its rounding, on top of `rustc_apfloat`.
//!
//! Every arithmetic result is first computed in a *wide* apfloat format (111-bit
//! significand, 17-bit exponent) with round-toward-zero; when that step was inexact the
//! lowest wide bit is forced to 1 ("round to odd"). Because the wide format has more than
//! `p + 2` bits for every x87 precision `p` (24, 53, 64), rounding that odd value once more
//! to the precision and rounding mode the control word selects gives the correctly rounded
//! result, with the x87's own exponent range (precision control narrows the significand
//! only). The wide exponent range also holds the exact results of every x87 operation, so
//! the bias-adjusted results of unmasked overflow/underflow are computed from them.

use super::{exc, F80};
use rustc_apfloat::ieee::{IeeeFloat, Semantics, X87DoubleExtended};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

/// The 80-bit extended type of `rustc_apfloat`.
pub(crate) type Ext = X87DoubleExtended;

/// Wide intermediate semantics: 128 bits, 17-bit exponent, 111-bit significand.
pub(crate) struct WideS;
impl Semantics for WideS {
    const BITS: usize = 128;
    const EXP_BITS: usize = 17;
}
/// The wide intermediate format.
pub(crate) type Wide = IeeeFloat<WideS>;

/// Extended exponent range with a 24-bit significand (precision control = single).
pub(crate) struct P24S;
impl Semantics for P24S {
    const BITS: usize = 39;
    const EXP_BITS: usize = 15;
}
/// Extended exponent range with a 53-bit significand (precision control = double).
pub(crate) struct P53S;
impl Semantics for P53S {
    const BITS: usize = 68;
    const EXP_BITS: usize = 15;
}

/// Exponent bias adjustment for unmasked overflow/underflow results.
const BIAS_ADJUST: i32 = 24576;
/// Smallest normal extended exponent (unbiased).
const MIN_NORMAL_EXP: i32 = -16382;

/// Significand precision a result is rounded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prec {
    /// 24 bits (PC = 00).
    P24,
    /// 53 bits (PC = 10).
    P53,
    /// 64 bits (PC = 11, and the reserved 01).
    P64,
}

/// What an operand encoding is, as the x87 classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// ±0.
    Zero,
    /// Denormal or pseudo-denormal (exponent 0, significand ≠ 0).
    Denormal,
    /// Normal finite number.
    Normal,
    /// ±∞.
    Inf,
    /// Quiet NaN.
    QNaN,
    /// Signaling NaN.
    SNaN,
    /// Unnormal, pseudo-NaN or pseudo-infinity: invalid on a 387 and later.
    Unsupported,
}

/// Explicit integer bit of the significand.
pub(crate) const INT_BIT: u64 = 1 << 63;
/// Quiet bit of a NaN significand.
pub(crate) const QUIET_BIT: u64 = 1 << 62;

impl F80 {
    /// Builds a value from sign, biased exponent and significand.
    pub(crate) const fn new(neg: bool, exp: u16, sig: u64) -> F80 {
        F80 { sig, se: ((neg as u16) << 15) | (exp & 0x7FFF) }
    }
    /// The sign bit.
    pub(crate) fn neg(self) -> bool {
        self.se & 0x8000 != 0
    }
    /// The biased exponent.
    pub(crate) fn exp(self) -> u16 {
        self.se & 0x7FFF
    }
    /// The 80-bit encoding as an integer.
    pub(crate) fn bits(self) -> u128 {
        ((self.se as u128) << 64) | self.sig as u128
    }
    /// Decodes an 80-bit integer encoding.
    pub(crate) fn from_bits(b: u128) -> F80 {
        F80 { sig: b as u64, se: (b >> 64) as u16 }
    }
    /// The same value with the sign flipped.
    pub(crate) fn negate(self) -> F80 {
        F80 { sig: self.sig, se: self.se ^ 0x8000 }
    }
    /// The same value with the sign set to `neg`.
    pub(crate) fn with_sign(self, neg: bool) -> F80 {
        F80 { sig: self.sig, se: (self.se & 0x7FFF) | ((neg as u16) << 15) }
    }
    /// Classifies the encoding.
    pub(crate) fn class(self) -> Class {
        let exp = self.exp();
        let int = self.sig & INT_BIT != 0;
        match exp {
            0 if self.sig == 0 => Class::Zero,
            0 => Class::Denormal,
            0x7FFF if !int => Class::Unsupported,
            0x7FFF if self.sig << 1 == 0 => Class::Inf,
            0x7FFF if self.sig & QUIET_BIT != 0 => Class::QNaN,
            0x7FFF => Class::SNaN,
            _ if !int => Class::Unsupported,
            _ => Class::Normal,
        }
    }
    /// The value as an apfloat extended number (pseudo-denormals keep their value).
    pub(crate) fn to_ext(self) -> Ext {
        Ext::from_bits(self.bits())
    }
    /// The value in the wide format (exact).
    pub(crate) fn to_wide(self) -> Wide {
        let r: StatusAnd<Wide> = self.to_ext().convert(&mut false);
        r.value
    }
    /// An apfloat extended number as an encoding.
    pub(crate) fn from_ext(e: Ext) -> F80 {
        F80::from_bits(e.to_bits())
    }
    /// A wide value that is exactly representable in extended format.
    pub(crate) fn from_wide_exact(w: Wide) -> F80 {
        let r: StatusAnd<Ext> = w.convert(&mut false);
        F80::from_ext(r.value)
    }
    /// Positive or negative infinity.
    pub(crate) const fn inf(neg: bool) -> F80 {
        F80::new(neg, 0x7FFF, INT_BIT)
    }
    /// Positive or negative zero.
    pub(crate) const fn zero(neg: bool) -> F80 {
        F80::new(neg, 0, 0)
    }
    /// The NaN with its quiet bit set.
    pub(crate) fn quieted(self) -> F80 {
        F80 { sig: self.sig | QUIET_BIT, se: self.se }
    }
    /// The tag this value gets in the tag word: 0 valid, 1 zero, 2 special.
    pub(crate) fn tag(self) -> u16 {
        match self.class() {
            Class::Zero => 1,
            Class::Normal => 0,
            _ => 2,
        }
    }
}

/// The QNaN floating-point indefinite.
pub(crate) const INDEFINITE: F80 = F80::new(true, 0x7FFF, 0xC000_0000_0000_0000);
/// +1.0.
pub(crate) const ONE: F80 = F80::new(false, 0x3FFF, INT_BIT);

/// Arithmetic environment for one instruction: the control word in force, the exception
/// flags raised so far and the C1 (rounded-up) indication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env {
    /// Control word.
    pub cw: u16,
    /// Exception flag bits raised (status-word positions IE..PE and SF).
    pub exc: u16,
    /// C1: the last rounding went up in magnitude (or stack overflow).
    pub c1: bool,
}

impl Env {
    /// A fresh environment for control word `cw`.
    pub(crate) fn new(cw: u16) -> Env {
        Env { cw, exc: 0, c1: false }
    }
    /// Whether exception `bit` is masked.
    pub(crate) fn masked(&self, bit: u16) -> bool {
        self.cw & bit != 0
    }
    /// Raises `bit`; returns true when it is unmasked (the instruction must then leave
    /// its destination alone).
    pub(crate) fn raise(&mut self, bit: u16) -> bool {
        self.exc |= bit;
        !self.masked(bit)
    }
    /// Raises an invalid operation: the masked response is the indefinite.
    pub(crate) fn invalid(&mut self) -> Option<F80> {
        if self.raise(exc::IE) {
            None
        } else {
            Some(INDEFINITE)
        }
    }
    /// The precision control field.
    pub(crate) fn prec(&self) -> Prec {
        match (self.cw >> 8) & 3 {
            0 => Prec::P24,
            2 => Prec::P53,
            _ => Prec::P64,
        }
    }
    /// The rounding control field as an apfloat rounding mode.
    pub(crate) fn round_mode(&self) -> Round {
        match (self.cw >> 10) & 3 {
            0 => Round::NearestTiesToEven,
            1 => Round::TowardNegative,
            2 => Round::TowardPositive,
            _ => Round::TowardZero,
        }
    }

    /// NaN and unsupported-operand handling for a two-operand arithmetic instruction.
    /// Returns `Some(result)` when the operands decide the result (`None` inside meaning
    /// an unmasked invalid operation), or `None` when neither operand is a NaN.
    pub(crate) fn nan2(&mut self, a: F80, b: F80) -> Option<Option<F80>> {
        let (ca, cb) = (a.class(), b.class());
        if ca == Class::Unsupported || cb == Class::Unsupported {
            return Some(self.invalid());
        }
        let an = matches!(ca, Class::QNaN | Class::SNaN);
        let bn = matches!(cb, Class::QNaN | Class::SNaN);
        if !an && !bn {
            return None;
        }
        if (ca == Class::SNaN || cb == Class::SNaN) && self.raise(exc::IE) {
            return Some(None);
        }
        let pick = match (an, bn) {
            (true, true) => {
                // The NaN with the larger significand; on a tie the first operand.
                let (qa, qb) = (a.sig | QUIET_BIT, b.sig | QUIET_BIT);
                if qb > qa {
                    b
                } else {
                    a
                }
            }
            (true, false) => a,
            _ => b,
        };
        Some(Some(pick.quieted()))
    }

    /// NaN and unsupported handling for a one-operand instruction (see [`Env::nan2`]).
    pub(crate) fn nan1(&mut self, a: F80) -> Option<Option<F80>> {
        match a.class() {
            Class::Unsupported => Some(self.invalid()),
            Class::SNaN if self.raise(exc::IE) => Some(None),
            Class::SNaN | Class::QNaN => Some(Some(a.quieted())),
            _ => None,
        }
    }

    /// Raises DE when any operand is denormal; returns true when that is unmasked.
    pub(crate) fn denormal_check(&mut self, ops: &[F80]) -> bool {
        if ops.iter().any(|o| o.class() == Class::Denormal) {
            return self.raise(exc::DE);
        }
        false
    }

    /// Rounds a wide value to the precision `prec` under the control word's rounding
    /// mode. `inexact` says the true value lies strictly beyond `w` (away from zero,
    /// i.e. `w` was truncated). Sets PE/UE/OE and C1 as the x87 does.
    pub(crate) fn round(&mut self, w: Wide, inexact: bool, prec: Prec) -> F80 {
        if !w.is_finite_non_zero() {
            return F80::from_wide_exact(w);
        }
        let w = if inexact { Wide::from_bits(w.to_bits() | 1) } else { w };
        let rm = self.round_mode();
        let tiny = w.abs() < Wide::from_u128(1).value.scalbn(MIN_NORMAL_EXP);
        let (r, st) = convert_to(w, prec, rm);
        if st.intersects(Status::OVERFLOW) {
            if self.raise(exc::OE) {
                return self.round_adjusted(w, -BIAS_ADJUST, prec);
            }
            self.exc |= exc::PE;
            self.c1 = r.class() == Class::Inf || up(r, w);
            return r;
        }
        if tiny {
            if !self.masked(exc::UE) {
                self.exc |= exc::UE;
                return self.round_adjusted(w, BIAS_ADJUST, prec);
            }
            if st.intersects(Status::INEXACT) {
                self.exc |= exc::UE;
            }
        }
        if st.intersects(Status::INEXACT) {
            self.exc |= exc::PE;
            self.c1 = up(r, w);
        }
        r
    }

    /// Rounds `w × 2^adjust` (the bias-adjusted result of an unmasked OE/UE).
    fn round_adjusted(&mut self, w: Wide, adjust: i32, prec: Prec) -> F80 {
        let s = w.scalbn(adjust);
        let (r, st) = convert_to(s, prec, self.round_mode());
        if st.intersects(Status::INEXACT) {
            self.exc |= exc::PE;
            self.c1 = up(r, s);
        }
        r
    }
}

/// Whether `r` has a larger magnitude than `w`.
fn up(r: F80, w: Wide) -> bool {
    r.to_wide().abs() > w.abs()
}

/// Rounds a wide value to extended range with `prec` significand bits.
fn convert_to(w: Wide, prec: Prec, rm: Round) -> (F80, Status) {
    fn via<T>(w: Wide, rm: Round) -> (F80, Status)
    where
        Wide: FloatConvert<T>,
        T: Float + FloatConvert<Ext>,
    {
        let r: StatusAnd<T> = w.convert_r(rm, &mut false);
        let e: StatusAnd<Ext> = r.value.convert(&mut false);
        (F80::from_ext(e.value), r.status)
    }
    match prec {
        Prec::P24 => via::<IeeeFloat<P24S>>(w, rm),
        Prec::P53 => via::<IeeeFloat<P53S>>(w, rm),
        Prec::P64 => {
            let r: StatusAnd<Ext> = w.convert_r(rm, &mut false);
            (F80::from_ext(r.value), r.status)
        }
    }
}

/// A wide value from an integer significand and a power of two (exact when the
/// significand has at most 111 significant bits).
pub(crate) fn wide_from(neg: bool, sig: u128, exp2: i32) -> Wide {
    let v = Wide::from_u128_r(sig, Round::TowardZero).value.scalbn(exp2);
    if neg {
        -v
    } else {
        v
    }
}

/// The four basic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// a + b.
    Add,
    /// a − b.
    Sub,
    /// a × b.
    Mul,
    /// a ÷ b.
    Div,
}

/// `a op b` with x87 exception semantics and the control word's precision and rounding.
/// `None` means an unmasked exception that leaves the destination unchanged.
pub(crate) fn arith(env: &mut Env, op: Op, a: F80, b: F80) -> Option<F80> {
    if let Some(r) = env.nan2(a, b) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    let invalid = match op {
        Op::Add => ca == Class::Inf && cb == Class::Inf && a.neg() != b.neg(),
        Op::Sub => ca == Class::Inf && cb == Class::Inf && a.neg() == b.neg(),
        Op::Mul => (ca == Class::Inf && cb == Class::Zero) || (ca == Class::Zero && cb == Class::Inf),
        Op::Div => (ca == Class::Inf && cb == Class::Inf) || (ca == Class::Zero && cb == Class::Zero),
    };
    if invalid {
        return env.invalid();
    }
    if env.denormal_check(&[a, b]) {
        return None;
    }
    if op == Op::Div && cb == Class::Zero && ca != Class::Inf {
        if env.raise(exc::ZE) {
            return None;
        }
        return Some(F80::inf(a.neg() != b.neg()));
    }
    let (wa, wb) = (a.to_wide(), b.to_wide());
    let r = match op {
        Op::Add => wa.add_r(wb, Round::TowardZero),
        Op::Sub => wa.sub_r(wb, Round::TowardZero),
        Op::Mul => wa.mul_r(wb, Round::TowardZero),
        Op::Div => wa.div_r(wb, Round::TowardZero),
    };
    if r.value.is_zero() && matches!(op, Op::Add | Op::Sub) {
        // An exact zero sum: same-signed operands keep their sign; otherwise +0, or −0
        // when rounding toward −∞.
        let bneg = b.neg() != (op == Op::Sub);
        let neg = if a.neg() == bneg { a.neg() } else { env.round_mode() == Round::TowardNegative };
        return Some(F80::zero(neg));
    }
    let inexact = r.status.intersects(Status::INEXACT);
    let prec = env.prec();
    Some(env.round(r.value, inexact, prec))
}

/// Square root with x87 semantics (precision control applies).
pub(crate) fn sqrt(env: &mut Env, a: F80) -> Option<F80> {
    if let Some(r) = env.nan1(a) {
        return r;
    }
    match a.class() {
        Class::Zero => return Some(a),
        Class::Inf if !a.neg() => return Some(a),
        _ if a.neg() => return env.invalid(),
        _ => {}
    }
    if env.denormal_check(&[a]) {
        return None;
    }
    // a = m × 2^e with m a 64-bit integer; make e even.
    let mut m = a.sig as u128;
    let mut e = a.exp().max(1) as i32 - 16383 - 63;
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    let (root, inexact) = isqrt_padded(m);
    let w = wide_from(false, root, e / 2 - SQRT_PAD / 2);
    let prec = env.prec();
    Some(env.round(w, inexact, prec))
}

/// Zero bits appended below the radicand so the root has about 100 significant bits.
const SQRT_PAD: i32 = 134;
/// Root bits produced.
const SQRT_ITERS: u32 = 100;

/// The integer square root of `m × 2^SQRT_PAD` (m < 2^66), digit by digit, and whether a
/// remainder was left.
fn isqrt_padded(m: u128) -> (u128, bool) {
    // Bits of m are consumed in pairs from bit 65 down, then zeros.
    let (mut rem, mut root) = (0u128, 0u128);
    for i in 0..SQRT_ITERS {
        let shift = 64i32 - 2 * i as i32;
        let pair = if shift >= 0 { (m >> shift) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        let trial = (root << 2) | 1;
        if rem >= trial {
            rem -= trial;
            root = (root << 1) | 1;
        } else {
            root <<= 1;
        }
    }
    (root, rem != 0)
}

/// Rounds a value to an integer in the current rounding mode (FRNDINT semantics).
pub(crate) fn round_int(env: &mut Env, a: F80) -> Option<F80> {
    if let Some(r) = env.nan1(a) {
        return r;
    }
    if matches!(a.class(), Class::Zero | Class::Inf) {
        return Some(a);
    }
    if env.denormal_check(&[a]) {
        return None;
    }
    let r = a.to_ext().round_to_integral(env.round_mode());
    let out = F80::from_ext(r.value).with_sign(a.neg());
    if r.status.intersects(Status::INEXACT) {
        env.exc |= exc::PE;
        env.c1 = out.to_wide().abs() > a.to_wide().abs();
    }
    Some(out)
}
