//! Cross-checks against the host processor (x86-64 test hosts only): Rust's `f32`/`f64`
//! arithmetic compiles to the host's SSE/SSE2 scalar instructions (ADDSS, SUBSD, SQRTSS,
//! CVTSD2SS, …) under the default MXCSR (nearest, all masked). The same operands go
//! through ferrite's model and must give the same bit patterns, NaN propagation included.
//! Only operations whose operand order the compiler cannot swap are checked with NaNs
//! (SUB, DIV, SQRT, conversions); ADD and MUL are checked on non-NaN operands.

use super::mxcsr::MXCSR_RESET;
use super::softfp::{BinOp, Ctx, Fmt};
use rustc_apfloat::ieee::{Double, Single};
use std::hint::black_box;

/// Operand patterns that exercise the special cases: a random mix of zeros, denormals,
/// infinities, quiet and signaling NaNs, huge and ordinary values.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn float<F: Fmt>(&mut self) -> u64 {
        let r = self.next();
        let w = F::WIDTH;
        let frac = F::FRAC_BITS;
        let sign = (r >> 63) << (w - 1);
        let exp_max = (1u64 << (w - 1 - frac)) - 1;
        let f = (r >> 8) & ((1 << frac) - 1);
        let e = match r % 16 {
            0 => 0,
            1 => exp_max,
            2 => 1,
            3 => exp_max - 1,
            _ => (exp_max / 2 - 8) + (r >> 40) % 16,
        };
        let f = if r % 32 == 17 { 0 } else { f };
        sign | e << frac | f
    }
}

#[test]
fn test_host_single_precision() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..50_000 {
        let (a, b) = (g.float::<Single>(), g.float::<Single>());
        let (x, y) = (black_box(f32::from_bits(a as u32)), black_box(f32::from_bits(b as u32)));
        let mut c = Ctx::new(MXCSR_RESET);
        let mut check = |op: BinOp, host: f32| {
            let m = c.binop::<Single>(op, a, b) as u32;
            assert_eq!(m, host.to_bits(), "{op:?} {a:#010x} {b:#010x}");
        };
        check(BinOp::Sub, x - y);
        check(BinOp::Div, x / y);
        if !x.is_nan() && !y.is_nan() {
            check(BinOp::Add, x + y);
            check(BinOp::Mul, x * y);
        }
        assert_eq!(c.sqrt::<Single>(a) as u32, black_box(x).sqrt().to_bits(), "sqrt {a:#010x}");
        assert_eq!(c.convert::<Single, Double>(a), (x as f64).to_bits(), "cvtss2sd {a:#010x}");
    }
}

#[test]
fn test_host_double_precision() {
    let mut g = Gen(0x0123_4567_89AB_CDEF);
    for _ in 0..50_000 {
        let (a, b) = (g.float::<Double>(), g.float::<Double>());
        let (x, y) = (black_box(f64::from_bits(a)), black_box(f64::from_bits(b)));
        let mut c = Ctx::new(MXCSR_RESET);
        let mut check = |op: BinOp, host: f64| {
            assert_eq!(c.binop::<Double>(op, a, b), host.to_bits(), "{op:?} {a:#018x} {b:#018x}");
        };
        check(BinOp::Sub, x - y);
        check(BinOp::Div, x / y);
        if !x.is_nan() && !y.is_nan() {
            check(BinOp::Add, x + y);
            check(BinOp::Mul, x * y);
        }
        assert_eq!(c.sqrt::<Double>(a), black_box(x).sqrt().to_bits(), "sqrt {a:#018x}");
        assert_eq!(c.convert::<Double, Single>(a) as u32, (x as f32).to_bits(), "cvtsd2ss {a:#018x}");
        let i = g.next() as u32;
        let host = black_box(i as i32) as f32;
        assert_eq!(c.float_of_int::<Single>(i) as u32, host.to_bits(), "cvtsi2ss {i:#x}");
    }
}
