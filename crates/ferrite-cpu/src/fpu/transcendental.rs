//! FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM/FPREM1 and the transcendental instructions
//! FSIN/FCOS/FSINCOS/FPTAN/FPATAN/F2XM1/FYL2X/FYL2XP1.
//!
//! Transcendentals are evaluated with [`Big`] (128-bit significands, series expansions
//! run to 2^-132 of the sum) and rounded once to 64 bits per RC (precision control does
//! not apply to them, as on the hardware). FSIN/FCOS/FSINCOS/FPTAN reduce their argument
//! the way Intel's x87 does: modulo π/2 with π taken as the 66-bit value
//! `0x3.243F6A8885A308D3` (exact integer arithmetic), then evaluate the true function of
//! the reduced argument. Arguments of magnitude ≥ 2^63 set C2 and are left alone.

use super::big::Big;
use super::float::{self, wide_from, Class, Env, Prec, INDEFINITE, ONE};
use super::load_store::big_const::{LN2, PI};
use super::load_store::int_to_f80;
use super::{exc, underflow, F80, TAG_EMPTY};
use crate::fault::Fault;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic};
use rustc_apfloat::{Float, Round};

/// Intel's 66-bit π: π × 2^64 truncated (π66/2 = PI66 × 2^-65).
const PI66: u128 = 0x3_243F_6A88_85A3_08D3;
/// √2 as a normalized 128-bit significand (exponent 0).
const SQRT2_SIG: u128 = 0xB504_F333_F9DE_6484_597D_89B3_754A_BE9F;
/// Biased exponent of 2^63: trig arguments at or above it are out of range.
const TRIG_LIMIT_EXP: u16 = 16383 + 63;
/// FSCALE factors are clamped to this magnitude (beyond it every result over/underflows).
const SCALE_CLAMP: i128 = 40000;
/// Extended exponent bias.
const BIAS: i32 = 16383;

/// Rounds a [`Big`] result to 64 bits per RC.
fn round_big(env: &mut Env, b: Big) -> F80 {
    let (w, inexact) = b.to_wide();
    env.round(w, inexact, Prec::P64)
}

/// 1 as a `Big`.
fn one() -> Big {
    Big::from_i128(1)
}

/// `first × Σ_k c_k` with `c_{k+1} = c_k × mul × num(k) / den(k)`, `c_0 = 1`.
fn series(mul: Big, num: impl Fn(u32) -> i128, den: impl Fn(u32) -> i128) -> Big {
    Big::series(one(), |k, t| t.mul(mul).mul(Big::from_i128(num(k))).div(Big::from_i128(den(k))))
}

/// sin and cos of a reduced argument |r| ≤ π/4.
fn sin_cos_reduced(r: Big) -> (Big, Big) {
    if r.is_zero() {
        return (r, one());
    }
    let mr2 = r.mul(r).neg();
    let k2 = |k: u32| 2 * k as i128;
    let s = r.mul(series(mr2, |_| 1, |k| (k2(k) + 2) * (k2(k) + 3)));
    let c = series(mr2, |_| 1, |k| (k2(k) + 1) * (k2(k) + 2));
    (s, c)
}

/// Reduces |x| (finite, < 2^63) modulo π66/2: the signed remainder and the quadrant.
fn reduce(x: F80) -> (Big, u32) {
    let e = x.exp() as i32 - BIAS;
    if e < -1 {
        return (Big::from_f80(x).abs(), 0);
    }
    // |x| = sig × 2^(e−63) = N × 2^−65 with N = sig × 2^(e+2) < 2^128.
    let n = (x.sig as u128) << ((e + 2) as u32);
    let mut q = n / PI66;
    let rem = n % PI66;
    let (neg, mag) = if 2 * rem > PI66 {
        q += 1;
        (true, PI66 - rem)
    } else {
        (false, rem)
    };
    (Big::norm(neg, mag, 127 - 65, false), (q & 3) as u32)
}

/// sin, cos of a finite in-range x.
fn sin_cos(x: F80) -> (Big, Big) {
    let (r, q) = reduce(x);
    let (s, c) = sin_cos_reduced(r);
    let (s, c) = match q {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    };
    (if x.neg() { s.neg() } else { s }, c)
}

/// ln(m) for m in [√2/2, √2] via 2·atanh((m−1)/(m+1)); exact 0 for m = 1.
fn ln_near_one(m: Big) -> Big {
    let t = m.sub(one()).div(m.add(one()));
    ln_atanh(t)
}

/// 2·atanh(t) = 2t × Σ t^(2k)/(2k+1).
fn ln_atanh(t: Big) -> Big {
    if t.is_zero() {
        return Big::ZERO;
    }
    let t2 = t.mul(t);
    t.scale(1).mul(series(t2, |k| 2 * k as i128 + 1, |k| 2 * k as i128 + 3))
}

/// ln 2.
fn ln2() -> Big {
    Big::constant(LN2.0, LN2.1)
}

/// π.
fn pi() -> Big {
    Big::constant(PI.0, PI.1)
}

/// log2 of a positive finite value.
fn log2_big(x: Big) -> Big {
    let mut e = x.exp;
    let mut m = Big { exp: 0, neg: false, ..x };
    if m.sig > SQRT2_SIG {
        m = m.scale(-1);
        e += 1;
    }
    let l = ln_near_one(m);
    let frac = if l.is_zero() { Big::ZERO } else { l.div(ln2()) };
    Big::from_i128(e as i128).add(frac)
}

/// atan(t) for t ≥ 0.
fn atan_big(t: Big) -> Big {
    if t.is_zero() {
        return t;
    }
    if t.exp > 0 || (t.exp == 0 && t.sig > 1 << 127) {
        // t > 1: π/2 − atan(1/t).
        return pi().scale(-1).sub(atan_big(one().div(t)));
    }
    // Two argument halvings: atan(t) = 2·atan(t / (1 + √(1 + t²))).
    let mut u = t;
    for _ in 0..2 {
        u = u.div(one().add(one().add(u.mul(u)).sqrt()));
    }
    let mu2 = u.mul(u).neg();
    u.mul(series(mu2, |k| 2 * k as i128 + 1, |k| 2 * k as i128 + 3)).scale(2)
}

/// e^z − 1 for moderate |z|.
fn expm1_big(z: Big) -> Big {
    if z.is_zero() {
        return z;
    }
    z.mul(series(z, |_| 1, |k| k as i128 + 2))
}

/// 2^x − 1 (F2XM1; defined for |x| ≤ 1, computed for any finite x).
fn f2xm1(x: Big) -> Big {
    let n = x.trunc_i64().unwrap_or(0).clamp(-20000, 20000);
    let f = x.sub(Big::from_i128(n as i128));
    let e = expm1_big(f.mul(ln2()));
    if n == 0 {
        e
    } else {
        e.add(one()).scale(n as i32).sub(one())
    }
}

/// Exponent of a finite non-zero value after normalization, and its normalized
/// significand.
fn normalize(x: F80) -> (i32, u64) {
    let lz = x.sig.leading_zeros();
    (x.exp().max(1) as i32 - BIAS - lz as i32, x.sig << lz)
}

impl Exec<'_> {
    /// Executes FSQRT … FYL2XP1.
    pub(super) fn fpu_transcendental(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let mut env = Env::new(self.cpu.fpu.cw);
        let two = matches!(m, M::Fscale | M::Fprem | M::Fprem1 | M::Fpatan | M::Fyl2x | M::Fyl2xp1);
        let a = self.fpu_st(&mut env, 0);
        let b = if two { self.fpu_st(&mut env, 1) } else { Some(F80::default()) };
        let (Some(a), Some(b)) = (a, b) else {
            // Stack underflow: masked, the destination gets the indefinite.
            if let Some(ind) = underflow(&mut env) {
                match m {
                    M::Fpatan | M::Fyl2x | M::Fyl2xp1 => {
                        self.cpu.fpu.set_st(1, ind);
                        self.cpu.fpu.pop();
                    }
                    M::Fptan | M::Fsincos | M::Fxtract => {
                        self.cpu.fpu.set_st(0, ind);
                        self.fpu_push(&mut env, ind);
                    }
                    _ => self.cpu.fpu.set_st(0, ind),
                }
            }
            self.cpu.fpu.commit(&env);
            return Ok(());
        };
        let f = &mut self.cpu.fpu;
        match m {
            M::Fsqrt | M::Frndint | M::F2xm1 | M::Fsin | M::Fcos | M::Fscale => {
                let r = match m {
                    M::Fsqrt => float::sqrt(&mut env, a),
                    M::Frndint => float::round_int(&mut env, a),
                    M::F2xm1 => f2xm1_op(&mut env, a),
                    M::Fscale => fscale(&mut env, a, b),
                    _ => {
                        let out = trig(&mut env, a);
                        f.sw &= !super::sw::C2;
                        match out {
                            Trig::OutOfRange => {
                                f.sw |= super::sw::C2;
                                None
                            }
                            Trig::Special(r) => r,
                            Trig::Value(s, c) => {
                                Some(if m == M::Fsin { round_big(&mut env, s) } else { round_big(&mut env, c) })
                            }
                        }
                    }
                };
                if let Some(r) = r {
                    f.set_st(0, r);
                }
            }
            M::Fpatan | M::Fyl2x | M::Fyl2xp1 => {
                let r = match m {
                    M::Fpatan => fpatan(&mut env, b, a),
                    M::Fyl2x => fyl2x(&mut env, b, a, false),
                    _ => fyl2x(&mut env, b, a, true),
                };
                if let Some(r) = r {
                    f.set_st(1, r);
                    f.pop();
                }
            }
            M::Fprem | M::Fprem1 => {
                if let Some((r, q, partial)) = fprem(&mut env, a, b, m == M::Fprem1) {
                    f.set_st(0, r);
                    f.sw &= !super::sw::C2;
                    if partial {
                        f.sw |= super::sw::C2;
                    } else if let Some(q) = q {
                        f.set_cc(q & 4 != 0, q & 1 != 0, false, q & 2 != 0);
                        env.c1 = q & 1 != 0;
                    }
                }
            }
            _ => {
                // FPTAN, FSINCOS, FXTRACT: ST(0) is replaced and a second result pushed.
                if f.tag(f.phys(7)) != TAG_EMPTY {
                    env.exc |= exc::SF;
                    env.c1 = true;
                    if !env.raise(exc::IE) {
                        f.set_st(0, INDEFINITE);
                        f.push_raw(INDEFINITE);
                    }
                    f.commit(&env);
                    return Ok(());
                }
                let pair = match m {
                    M::Fxtract => fxtract(&mut env, a),
                    _ => {
                        f.sw &= !super::sw::C2;
                        match trig(&mut env, a) {
                            Trig::OutOfRange => {
                                f.sw |= super::sw::C2;
                                None
                            }
                            Trig::Special(r) => r.map(|v| (v, v)),
                            Trig::Value(s, c) => {
                                if m == M::Fptan {
                                    let t = s.div(c);
                                    Some((round_big(&mut env, t), ONE))
                                } else {
                                    let rs = round_big(&mut env, s);
                                    let rc = round_big(&mut env, c);
                                    Some((rs, rc))
                                }
                            }
                        }
                    }
                };
                if let Some((first, second)) = pair {
                    f.set_st(0, first);
                    f.push_raw(second);
                }
            }
        }
        self.cpu.fpu.commit(&env);
        Ok(())
    }
}

/// Outcome of a trig instruction's operand checks.
enum Trig {
    /// |x| ≥ 2^63: C2 = 1, operand unchanged.
    OutOfRange,
    /// Decided by the operand (NaN, ±0, invalid): the ST(0) result.
    Special(Option<F80>),
    /// sin and cos of the operand.
    Value(Big, Big),
}

/// Classifies a trig operand and computes sin/cos when it is ordinary.
fn trig(env: &mut Env, a: F80) -> Trig {
    if let Some(r) = env.nan1(a) {
        return Trig::Special(r);
    }
    match a.class() {
        Class::Inf => return Trig::Special(env.invalid()),
        Class::Zero => {
            let (s, c) = sin_cos(a);
            return Trig::Value(s, c);
        }
        _ => {}
    }
    if a.exp() >= TRIG_LIMIT_EXP {
        return Trig::OutOfRange;
    }
    if env.denormal_check(&[a]) {
        return Trig::Special(None);
    }
    let (s, c) = sin_cos(a);
    Trig::Value(s, c)
}

/// F2XM1.
fn f2xm1_op(env: &mut Env, a: F80) -> Option<F80> {
    if let Some(r) = env.nan1(a) {
        return r;
    }
    match a.class() {
        Class::Zero => return Some(a),
        Class::Inf => return Some(if a.neg() { ONE.negate() } else { a }),
        _ => {}
    }
    if env.denormal_check(&[a]) {
        return None;
    }
    Some(round_big(env, f2xm1(Big::from_f80(a))))
}

/// FSCALE: a × 2^trunc(b).
fn fscale(env: &mut Env, a: F80, b: F80) -> Option<F80> {
    if let Some(r) = env.nan2(a, b) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    if cb == Class::Inf {
        return match (ca, b.neg()) {
            (Class::Zero, false) | (Class::Inf, true) => env.invalid(),
            (Class::Zero, true) | (Class::Inf, false) => Some(a),
            (_, false) => Some(F80::inf(a.neg())),
            (_, true) => Some(F80::zero(a.neg())),
        };
    }
    if env.denormal_check(&[a, b]) {
        return None;
    }
    if matches!(ca, Class::Zero | Class::Inf) {
        return Some(a);
    }
    let n = b.to_ext().round_to_integral(Round::TowardZero).value;
    let mut exact = true;
    let n = n.to_i128_r(64, Round::TowardZero, &mut exact).value.clamp(-SCALE_CLAMP, SCALE_CLAMP) as i32;
    let w = a.to_wide().scalbn(n);
    Some(env.round(w, false, Prec::P64))
}

/// FPATAN: atan2(y, x) → ST(1).
fn fpatan(env: &mut Env, y: F80, x: F80) -> Option<F80> {
    if let Some(r) = env.nan2(y, x) {
        return r;
    }
    if env.denormal_check(&[y, x]) {
        return None;
    }
    let (cy, cx) = (y.class(), x.class());
    let quarter = || pi().scale(-2);
    let angle = match (cy, cx) {
        (Class::Inf, Class::Inf) => {
            if x.neg() {
                pi().sub(quarter())
            } else {
                quarter()
            }
        }
        (Class::Inf, _) | (_, Class::Zero) if cy != Class::Zero => pi().scale(-1),
        (Class::Zero, _) | (_, Class::Inf) => {
            if x.neg() {
                pi()
            } else {
                return Some(F80::zero(y.neg()));
            }
        }
        _ => {
            let t = Big::from_f80(y).abs().div(Big::from_f80(x).abs());
            let base = atan_big(t);
            if x.neg() {
                pi().sub(base)
            } else {
                base
            }
        }
    };
    Some(round_big(env, if y.neg() { angle.neg() } else { angle }))
}

/// FYL2X (`plus1` = false): y × log2(x); FYL2XP1: y × log2(x + 1).
fn fyl2x(env: &mut Env, y: F80, x: F80, plus1: bool) -> Option<F80> {
    if let Some(r) = env.nan2(y, x) {
        return r;
    }
    let (cy, cx) = (y.class(), x.class());
    if plus1 {
        // Domain: x > −1.
        if cx != Class::Zero && x.neg() && (cx == Class::Inf || Big::from_f80(x).abs().exp >= 0) {
            return env.invalid();
        }
        if cx == Class::Zero {
            if cy == Class::Inf {
                return env.invalid();
            }
            if env.denormal_check(&[y]) {
                return None;
            }
            return Some(F80::zero(y.neg() != x.neg()));
        }
    } else {
        if x.neg() && cx != Class::Zero {
            return env.invalid();
        }
        if cx == Class::Zero {
            return match cy {
                Class::Zero => env.invalid(),
                Class::Inf => Some(F80::inf(!y.neg())),
                _ => {
                    if env.denormal_check(&[y]) || env.raise(exc::ZE) {
                        return None;
                    }
                    Some(F80::inf(!y.neg()))
                }
            };
        }
    }
    if cx == Class::Inf {
        return if cy == Class::Zero { env.invalid() } else { Some(F80::inf(y.neg())) };
    }
    if env.denormal_check(&[y, x]) {
        return None;
    }
    let bx = Big::from_f80(x);
    let l = if plus1 {
        let t = bx.div(bx.add(Big::from_i128(2)));
        let ln = ln_atanh(t);
        ln.div(ln2())
    } else {
        log2_big(bx)
    };
    if cy == Class::Inf {
        return if l.is_zero() { env.invalid() } else { Some(F80::inf(y.neg() != l.neg)) };
    }
    if cy == Class::Zero {
        return Some(F80::zero(y.neg() != (l.neg && !l.is_zero())));
    }
    if l.is_zero() {
        return Some(F80::zero(y.neg()));
    }
    Some(round_big(env, Big::from_f80(y).mul(l)))
}

/// FXTRACT: (exponent → ST(1) position, significand → new ST(0)).
fn fxtract(env: &mut Env, a: F80) -> Option<(F80, F80)> {
    if let Some(r) = env.nan1(a) {
        return r.map(|v| (v, v));
    }
    match a.class() {
        Class::Zero => {
            if env.raise(exc::ZE) {
                return None;
            }
            Some((F80::inf(true), a))
        }
        Class::Inf => Some((F80::inf(false), a)),
        _ => {
            if env.denormal_check(&[a]) {
                return None;
            }
            let (e, sig) = normalize(a);
            Some((int_to_f80(e as i64), F80::new(a.neg(), BIAS as u16, sig)))
        }
    }
}

/// FPREM (`ieee` = false, truncating quotient) and FPREM1 (round-to-nearest quotient).
/// Returns the new ST(0), the low three quotient bits (complete reductions) and whether
/// the reduction was partial.
fn fprem(env: &mut Env, a: F80, b: F80, ieee: bool) -> Option<(F80, Option<u64>, bool)> {
    if let Some(r) = env.nan2(a, b) {
        return r.map(|v| (v, None, false));
    }
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Inf || cb == Class::Zero {
        return env.invalid().map(|v| (v, None, false));
    }
    if env.denormal_check(&[a, b]) {
        return None;
    }
    if ca == Class::Zero || cb == Class::Inf {
        return Some((a, Some(0), false));
    }
    let (ea, ma) = normalize(a);
    let (eb, mb) = normalize(b);
    let d = ea - eb;
    let (ma, mb) = (ma as u128, mb as u128);
    if d >= 64 {
        // Partial remainder: reduce by 2^(d−N), N = 63.
        const N: i32 = 63;
        let r = (ma << N) % mb;
        let w = wide_from(a.neg(), r, ea - N - 63);
        return Some((env.round(w, false, Prec::P64), None, true));
    }
    // value(a) = ma × 2^(ea−63); work in units of 2^(eb−63).
    let (mut q, mut r, unit_exp) = if d >= 0 {
        let num = ma << d;
        (num / mb, num % mb, eb - 63)
    } else {
        (0u128, ma, ea - 63)
    };
    let mut neg = a.neg();
    if ieee {
        // Round the quotient to nearest even.
        let (r2, m2) = if d >= 0 {
            (r * 2, mb)
        } else if d == -1 {
            (r, mb)
        } else {
            (0, 1)
        };
        if r2 > m2 || (r2 == m2 && q & 1 == 1) {
            if d >= 0 {
                r = mb - r;
            } else {
                // d = −1: a − b = (ma − 2·mb) × 2^(ea−63).
                r = 2 * mb - ma;
            }
            q += 1;
            neg = !neg;
        }
    }
    let w = wide_from(neg, r, unit_exp);
    let out = if r == 0 { F80::zero(a.neg()) } else { env.round(w, false, Prec::P64) };
    Some((out, Some(q as u64 & 7), false))
}
