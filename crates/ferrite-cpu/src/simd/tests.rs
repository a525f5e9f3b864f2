//! MMX/SSE/SSE2 soft-float tests: exact bit patterns, rounding under each MXCSR rounding
//! mode, exception flags, DAZ/FZ, conversions, and a comparison with the host's IEEE
//! arithmetic (correctly rounded to nearest) over many operand patterns.

use super::mxcsr::{DAZ, DE, FZ, IE, MASK_SHIFT, MXCSR_RESET, OE, PE, RC_SHIFT, UE, ZE};
use super::softfp::{BinOp, Ctx};
use rustc_apfloat::ieee::{Double, Single};

/// MXCSR with every exception masked and rounding control `rc`.
pub(super) fn mx(rc: u32) -> u32 {
    MXCSR_RESET | rc << RC_SHIFT
}

#[test]
fn test_simd_division_rounding_modes_and_flags() {
    let one = 1.0f32.to_bits() as u64;
    let three = 3.0f32.to_bits() as u64;
    for (rc, want) in [(0, 0x3EAA_AAAB), (1, 0x3EAA_AAAA), (2, 0x3EAA_AAAB), (3, 0x3EAA_AAAA)] {
        let mut c = Ctx::new(mx(rc));
        assert_eq!(c.binop::<Single>(BinOp::Div, one, three), want, "rc {rc}");
        assert_eq!(c.flags, PE);
    }
    // -1/3 rounded down grows in magnitude.
    let mut c = Ctx::new(mx(1));
    assert_eq!(c.binop::<Single>(BinOp::Div, one | 1 << 31, three), 0xBEAA_AAAB);
    // Exact result: no flags.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Double>(BinOp::Mul, 1.5f64.to_bits(), 2.0f64.to_bits()), 3.0f64.to_bits());
    assert_eq!(c.flags, 0);
}

#[test]
fn test_simd_special_results() {
    let f = |v: f32| v.to_bits() as u64;
    let mut c = Ctx::new(MXCSR_RESET);
    // 0/0 and inf-inf give the QNaN indefinite.
    assert_eq!(c.binop::<Single>(BinOp::Div, f(0.0), f(0.0)), 0xFFC0_0000);
    assert_eq!(c.binop::<Single>(BinOp::Sub, f(f32::INFINITY), f(f32::INFINITY)), 0xFFC0_0000);
    assert_eq!(c.flags, IE);
    // x/0: ZE and a signed infinity.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Div, f(-2.0), f(0.0)), f(f32::NEG_INFINITY));
    assert_eq!(c.flags, ZE);
    // The first NaN operand wins, quieted; an SNaN raises IE.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Add, 0x7F80_0001, 0x7FC0_0002), 0x7FC0_0001);
    assert_eq!(c.flags, IE);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Mul, f(1.0), 0xFFC0_1234), 0xFFC0_1234);
    assert_eq!(c.flags, 0);
    // MIN/MAX: any NaN or equal values return the second operand; NaN is invalid.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Min, 0x7FC0_0000, f(1.0)), f(1.0));
    assert_eq!(c.binop::<Single>(BinOp::Max, f(1.0), 0x7FC0_0000), 0x7FC0_0000);
    assert_eq!(c.flags, IE);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Min, f(0.0), f(-0.0)), f(-0.0));
    assert_eq!(c.binop::<Single>(BinOp::Max, f(-0.0), f(0.0)), f(0.0));
    assert_eq!(c.binop::<Single>(BinOp::Max, f(3.0), f(2.0)), f(3.0));
    assert_eq!(c.flags, 0);
    // Overflow (masked): infinity with OE and PE; toward zero gives the largest finite.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Mul, f(f32::MAX), f(2.0)), f(f32::INFINITY));
    assert_eq!(c.flags, OE | PE);
    let mut c = Ctx::new(mx(3));
    assert_eq!(c.binop::<Single>(BinOp::Mul, f(f32::MAX), f(2.0)), f(f32::MAX));
    // sqrt(-1) is invalid, sqrt(-0) is -0.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.sqrt::<Double>((-1.0f64).to_bits()), 0xFFF8_0000_0000_0000);
    assert_eq!(c.sqrt::<Double>((-0.0f64).to_bits()), (-0.0f64).to_bits());
    assert_eq!(c.flags, IE);
    assert_eq!(Ctx::new(MXCSR_RESET).sqrt::<Single>(f(2.0)), 0x3FB5_04F3);
}

#[test]
fn test_simd_underflow_daz_ftz() {
    let tiny = f32::MIN_POSITIVE as f64;
    let f = |v: f64| (v as f32).to_bits() as u64;
    // MIN_POSITIVE / 3: a denormal, inexact → UE and PE.
    let mut c = Ctx::new(MXCSR_RESET);
    let r = c.binop::<Single>(BinOp::Div, f(tiny), f(3.0));
    assert_eq!(r, (f32::MIN_POSITIVE / 3.0).to_bits() as u64);
    assert_eq!(c.flags, UE | PE);
    // FZ flushes it to +0 with UE and PE.
    let mut c = Ctx::new(MXCSR_RESET | FZ);
    assert_eq!(c.binop::<Single>(BinOp::Div, f(tiny), f(3.0)), 0);
    assert_eq!(c.flags, UE | PE);
    // A denormal operand raises DE; with DAZ it reads as zero and raises nothing.
    let den = 1u64; // smallest single denormal
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Add, den, f(0.0)), den);
    assert_eq!(c.flags, DE);
    let mut c = Ctx::new(MXCSR_RESET | DAZ);
    assert_eq!(c.binop::<Single>(BinOp::Add, den | 1 << 31, f(0.0)), 0);
    assert_eq!(c.flags, 0);
    // 2^-126 × (1 − 2^-24) is tiny with an unbounded exponent although it rounds to the
    // smallest normal: UE (masked, it is also inexact), and FZ flushes it.
    let (min, below_one) = (0x0080_0000u64, 0x3F7F_FFFFu64);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.binop::<Single>(BinOp::Mul, min, below_one), min);
    assert_eq!(c.flags, UE | PE);
    let mut c = Ctx::new(MXCSR_RESET | FZ);
    assert_eq!(c.binop::<Single>(BinOp::Mul, below_one, min), 0);
    assert_eq!(c.flags, UE | PE);
    // 2^-126 − 2^-152 rounds to the smallest normal even with an unbounded exponent
    // (a quarter of an ulp below it): not tiny, only inexact.
    let mut c = Ctx::new(MXCSR_RESET);
    let d = (f32::MIN_POSITIVE as f64 - 2f64.powi(-152)).to_bits();
    assert_eq!(c.convert::<Double, Single>(d), min);
    assert_eq!(c.flags, PE);
    // The same for a narrowing conversion of 2^-126 − 2^-150 (a tie that rounds to even).
    let d = (f32::MIN_POSITIVE as f64 - 2f64.powi(-150)).to_bits();
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.convert::<Double, Single>(d), min);
    assert_eq!(c.flags, UE | PE);
    // Unmasked UE reports an exact tiny result too.
    let mut c = Ctx::new(MXCSR_RESET & !(UE << MASK_SHIFT));
    c.binop::<Single>(BinOp::Mul, den, f(1.0));
    assert_eq!(c.flags & UE, UE);
}

#[test]
fn test_simd_conversions() {
    let mut c = Ctx::new(MXCSR_RESET);
    let f = |v: f32| v.to_bits() as u64;
    assert_eq!(c.int_of::<Single>(f(2.5), false), 2);
    assert_eq!(c.int_of::<Single>(f(3.5), false), 4);
    assert_eq!(c.int_of::<Single>(f(-2.7), true), (-2i32) as u32);
    assert_eq!(c.flags, PE);
    let mut c = Ctx::new(mx(1));
    assert_eq!(c.int_of::<Single>(f(-2.5), false), (-3i32) as u32);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.int_of::<Single>(f(3e9), true), 0x8000_0000);
    assert_eq!(c.int_of::<Double>(f64::NAN.to_bits(), false), 0x8000_0000);
    assert_eq!(c.flags, IE);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.int_of::<Double>((-2147483648.0f64).to_bits(), false), 0x8000_0000);
    assert_eq!(c.int_of::<Double>(2147483647.0f64.to_bits(), false), 0x7FFF_FFFF);
    assert_eq!(c.flags, 0);
    // 16777217 is not a single: rounds to even, PE.
    assert_eq!(c.float_of_int::<Single>(16_777_217), f(16_777_216.0));
    assert_eq!(c.flags, PE);
    let mut c = Ctx::new(mx(2));
    assert_eq!(c.float_of_int::<Single>(16_777_217), f(16_777_218.0));
    // Narrowing and widening, NaN payloads kept and quieted.
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.convert::<Double, Single>(0.1f64.to_bits()), f(0.1));
    assert_eq!(c.flags, PE);
    let mut c = Ctx::new(MXCSR_RESET);
    assert_eq!(c.convert::<Single, Double>(0x7F80_0001), 0x7FF8_0000_2000_0000);
    assert_eq!(c.flags, IE);
    assert_eq!(c.convert::<Double, Single>(0xFFF8_0000_2000_0000), 0xFFC0_0001);
    // Approximations: within 1.5 × 2^-12 of the true value.
    let r = f32::from_bits(Ctx::rcp(3.0f32.to_bits()));
    assert!((r - 1.0 / 3.0).abs() < 1.0 / 3.0 * 1.5 / 4096.0);
    let r = f32::from_bits(Ctx::rsqrt(4.0f32.to_bits()));
    assert_eq!(r, 0.5);
    assert_eq!(Ctx::rcp(0), 0x7F80_0000);
    assert_eq!(Ctx::rsqrt(f(-1.0) as u32), 0xFFC0_0000);
}

/// A small deterministic generator of interesting bit patterns.
fn patterns(seed: &mut u64, bits: u32) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let v = *seed;
    match v % 4 {
        // Exponent near the denormal range.
        0 => v & ((1 << (bits - 4)) - 1),
        _ => v & if bits == 32 { 0xFFFF_FFFF } else { u64::MAX },
    }
}

#[test]
fn test_simd_matches_host_ieee_round_to_nearest() {
    let mut seed = 0x1234_5678_9ABC_DEF1u64;
    for _ in 0..20_000 {
        let (a, b) = (patterns(&mut seed, 32) as u32, patterns(&mut seed, 32) as u32);
        let (fa, fb) = (f32::from_bits(a), f32::from_bits(b));
        if fa.is_nan() || fb.is_nan() {
            continue;
        }
        let mut c = Ctx::new(MXCSR_RESET);
        for (op, host) in [(BinOp::Add, fa + fb), (BinOp::Sub, fa - fb), (BinOp::Mul, fa * fb), (BinOp::Div, fa / fb)] {
            let r = c.binop::<Single>(op, a as u64, b as u64) as u32;
            if host.is_nan() {
                assert_eq!(r, 0xFFC0_0000);
            } else {
                assert_eq!(r, host.to_bits(), "{op:?} {a:#x} {b:#x}");
            }
        }
        if !fa.is_sign_negative() || fa == 0.0 {
            assert_eq!(c.sqrt::<Single>(a as u64) as u32, fa.sqrt().to_bits(), "sqrt {a:#x}");
        }
        let (da, db) = (patterns(&mut seed, 64), patterns(&mut seed, 64));
        let (ha, hb) = (f64::from_bits(da), f64::from_bits(db));
        if ha.is_nan() || hb.is_nan() {
            continue;
        }
        let r = c.binop::<Double>(BinOp::Mul, da, db);
        if !(ha * hb).is_nan() {
            assert_eq!(r, (ha * hb).to_bits(), "mul {da:#x} {db:#x}");
        }
        if !ha.is_sign_negative() {
            assert_eq!(c.sqrt::<Double>(da), ha.sqrt().to_bits(), "sqrt {da:#x}");
        }
        let mut k = Ctx::new(MXCSR_RESET);
        assert_eq!(k.convert::<Double, Single>(da) as u32, (ha as f32).to_bits(), "cvt {da:#x}");
    }
}
