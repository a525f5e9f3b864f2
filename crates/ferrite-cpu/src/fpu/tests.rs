//! FPU tests: exact bit patterns of arithmetic results under each precision and rounding
//! control, conversions, exception responses, and end-to-end programs.
//!
//! Expected transcendental results were derived with 400-bit arithmetic (mpmath) and
//! rounded to nearest at 64 bits; the tests require them bit for bit (0 ulp), except where
//! noted. For FSIN/FCOS/FPTAN the expected values model Intel's reduction with the 66-bit
//! π (`0x3.243F6A8885A308D3`); FSIN(double π) gives the hardware-documented
//! 1.2246467991473531772e-16.

use super::float::{arith, sqrt, Env, Op, INDEFINITE, ONE};
use super::load_store::{f64_to_f80, f80_to_bcd, f80_to_int, int_to_f80, load_constant};
use super::{exc, sw, F80};
use crate::tests::run_real_with;
use crate::Cpu;
use iced_x86::code_asm::*;

/// CW: all masked, 64-bit precision, nearest.
const CW64: u16 = 0x037F;
/// CW: all masked, 53-bit precision.
const CW53: u16 = 0x027F;
/// CW: all masked, 24-bit precision.
const CW24: u16 = 0x007F;
/// Rounding-control field values (already shifted).
const RC_DOWN: u16 = 0x0400;
const RC_UP: u16 = 0x0800;
const RC_ZERO: u16 = 0x0C00;

fn f(v: f64) -> F80 {
    f64_to_f80(v.to_bits()).0
}

fn x(se: u16, sig: u64) -> F80 {
    F80 { sig, se }
}

#[test]
fn test_one_third_in_each_precision() {
    let three = f(3.0);
    for (cw, sig, up) in [
        (CW64, 0xAAAA_AAAA_AAAA_AAAB, true),
        (CW53, 0xAAAA_AAAA_AAAA_A800, false),
        (CW24, 0xAAAA_AB00_0000_0000, true),
        (CW64 | RC_ZERO, 0xAAAA_AAAA_AAAA_AAAA, false),
        (CW64 | RC_UP, 0xAAAA_AAAA_AAAA_AAAB, true),
        (CW53 | RC_UP, 0xAAAA_AAAA_AAAA_B000, true),
    ] {
        let mut e = Env::new(cw);
        let r = arith(&mut e, Op::Div, ONE, three).unwrap();
        assert_eq!(r, x(0x3FFD, sig), "cw {cw:#x}");
        assert_eq!(e.exc, exc::PE);
        assert_eq!(e.c1, up, "cw {cw:#x}");
    }
    // -1/3 rounded down is larger in magnitude.
    let mut e = Env::new(CW64 | RC_DOWN);
    let r = arith(&mut e, Op::Div, ONE.negate(), three).unwrap();
    assert_eq!(r, x(0xBFFD, 0xAAAA_AAAA_AAAA_AAAB));
}

#[test]
fn test_sqrt2_and_exact_results() {
    let mut e = Env::new(CW64);
    assert_eq!(sqrt(&mut e, f(2.0)).unwrap(), x(0x3FFF, 0xB504_F333_F9DE_6484));
    assert_eq!((e.exc, e.c1), (exc::PE, false));
    let mut e = Env::new(CW64 | RC_UP);
    assert_eq!(sqrt(&mut e, f(2.0)).unwrap(), x(0x3FFF, 0xB504_F333_F9DE_6485));
    let mut e = Env::new(CW53);
    assert_eq!(sqrt(&mut e, f(2.0)).unwrap(), f(std::f64::consts::SQRT_2));
    let mut e = Env::new(CW64);
    assert_eq!(sqrt(&mut e, f(144.0)).unwrap(), f(12.0));
    assert_eq!(arith(&mut e, Op::Add, f(1.5), f(2.25)).unwrap(), f(3.75));
    assert_eq!(arith(&mut e, Op::Mul, f(-1.5), f(2.0)).unwrap(), f(-3.0));
    assert_eq!(e.exc, 0);
    // sqrt(-1) is invalid.
    assert_eq!(sqrt(&mut e, f(-1.0)), Some(INDEFINITE));
    assert_eq!(e.exc, exc::IE);
}

#[test]
fn test_fldpi_each_rounding_mode() {
    use super::load_store::big_const::PI;
    for (rc, sig) in [
        (0, 0xC90F_DAA2_2168_C235),
        (RC_DOWN, 0xC90F_DAA2_2168_C234),
        (RC_UP, 0xC90F_DAA2_2168_C235),
        (RC_ZERO, 0xC90F_DAA2_2168_C234),
    ] {
        assert_eq!(load_constant(&Env::new(CW64 | rc), PI), x(0x4000, sig));
    }
}

#[test]
fn test_zero_signs_and_specials() {
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Sub, f(1.0), f(1.0)).unwrap(), F80::zero(false));
    let mut e = Env::new(CW64 | RC_DOWN);
    assert_eq!(arith(&mut e, Op::Sub, f(1.0), f(1.0)).unwrap(), F80::zero(true));
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Sub, F80::inf(false), F80::inf(false)), Some(INDEFINITE));
    assert_eq!(arith(&mut e, Op::Div, f(1.0), f(0.0)), Some(F80::inf(false)));
    assert_eq!(e.exc, exc::IE | exc::ZE);
    // Unmasked ZE leaves the destination alone.
    let mut e = Env::new(CW64 & !exc::ZE);
    assert_eq!(arith(&mut e, Op::Div, f(1.0), f(0.0)), None);
    // NaN propagation: the larger significand wins; SNaN raises IE and is quieted.
    let snan = x(0x7FFF, 0x8000_0000_0000_0001);
    let qnan = x(0x7FFF, 0xC000_0000_0000_0002);
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Add, snan, qnan), Some(qnan));
    assert_eq!(arith(&mut e, Op::Add, snan, f(1.0)), Some(x(0x7FFF, 0xC000_0000_0000_0001)));
    assert_eq!(e.exc, exc::IE);
    // Unnormals are unsupported.
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Add, x(0x4000, 0x4000_0000_0000_0000), f(1.0)), Some(INDEFINITE));
}

#[test]
fn test_overflow_underflow() {
    let max = x(0x7FFE, u64::MAX);
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Mul, max, f(2.0)), Some(F80::inf(false)));
    assert_eq!(e.exc, exc::OE | exc::PE);
    let mut e = Env::new(CW64 | RC_ZERO);
    assert_eq!(arith(&mut e, Op::Mul, max, f(2.0)), Some(max));
    // Unmasked OE: the exact result scaled by 2^-24576.
    let mut e = Env::new(CW64 & !exc::OE);
    assert_eq!(arith(&mut e, Op::Mul, max, f(2.0)), Some(x(0x7FFF - 0x6000, u64::MAX)));
    assert_eq!(e.exc, exc::OE);
    // Smallest normal / 2: an exact denormal, so masked UE is not reported.
    let min = x(0x0001, 1 << 63);
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Div, min, f(2.0)), Some(x(0, 1 << 62)));
    assert_eq!(e.exc, 0);
    let mut e = Env::new(CW64);
    arith(&mut e, Op::Div, min, f(3.0));
    assert_eq!(e.exc, exc::UE | exc::PE);
    // Denormal operand.
    let mut e = Env::new(CW64);
    assert_eq!(arith(&mut e, Op::Mul, x(0, 1 << 62), f(4.0)), Some(x(0x0002, 1 << 63)));
    assert_eq!(e.exc, exc::DE);
}

#[test]
fn test_integer_and_bcd_stores() {
    let mut e = Env::new(CW64);
    assert_eq!(f80_to_int(&mut e, f(70000.0), 2), Some(-32768));
    assert_eq!(e.exc, exc::IE);
    let mut e = Env::new(CW64);
    assert_eq!(f80_to_int(&mut e, f(2.5), 4), Some(2));
    assert_eq!(f80_to_int(&mut e, f(3.5), 4), Some(4));
    assert_eq!(f80_to_int(&mut e, f(-2.5), 8), Some(-2));
    assert_eq!(e.exc, exc::PE);
    let mut e = Env::new(CW64 | RC_DOWN);
    assert_eq!(f80_to_int(&mut e, f(-2.5), 2), Some(-3));
    let mut e = Env::new(CW64);
    assert_eq!(f80_to_int(&mut e, F80::inf(false), 8), Some(i64::MIN));
    assert_eq!(f80_to_bcd(&mut e, f(1e18)), Some(0xFFFF_C000_0000_0000_0000));
    assert_eq!(f80_to_bcd(&mut e, f(-12345.0)), Some((0x80 << 72) | 0x12345));
    assert!(f80_to_bcd(&mut e, f(999_999_999_999_999_999.0 - 127.0)).is_some());
    assert_eq!(int_to_f80(i64::MIN), x(0xC03E, 1 << 63));
}

#[test]
fn test_fxam_classes() {
    use super::compare::fxam_class;
    assert_eq!(fxam_class(f(1.0), false), (false, true, false));
    assert_eq!(fxam_class(f(0.0), false), (true, false, false));
    assert_eq!(fxam_class(F80::inf(true), false), (false, true, true));
    assert_eq!(fxam_class(INDEFINITE, false), (false, false, true));
    assert_eq!(fxam_class(x(0, 1), false), (true, true, false));
    assert_eq!(fxam_class(x(0x4000, 1), false), (false, false, false));
    assert_eq!(fxam_class(f(1.0), true), (true, false, true));
}

/// Assembles 16-bit code at 0x100 (ending in HLT), places `data` at 0x200 and runs it.
fn run(build: impl FnOnce(&mut CodeAssembler) -> Result<(), iced_x86::IcedError>, data: &[u8]) -> Cpu {
    let mut a = CodeAssembler::new(16).unwrap();
    build(&mut a).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x100).unwrap();
    let data = data.to_vec();
    let (cpu, _) = run_real_with(&code, |m| m.write_bytes(0x200, &data));
    cpu
}

fn doubles(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|d| d.to_le_bytes()).collect()
}

#[test]
fn test_e2e_sin_cos_tan() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fld1()?;
            a.fsin()?;
            a.fld1()?;
            a.fcos()?;
            a.fld(qword_ptr(0x200))?;
            a.fptan()
        },
        &doubles(&[0.5]),
    );
    let s = &cpu.fpu;
    assert_eq!(s.st(0), ONE);
    assert_eq!(s.st(1), x(0x3FFE, 0x8BDA_7ADF_9A3A_5219), "tan 0.5");
    assert_eq!(s.st(2), x(0x3FFE, 0x8A51_407D_A834_5C92), "cos 1");
    assert_eq!(s.st(3), x(0x3FFE, 0xD76A_A478_4867_7021), "sin 1");
    assert_eq!(s.sw & sw::C2, 0);
}

#[test]
fn test_e2e_trig_reduction_model() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fld(qword_ptr(0x200))?;
            a.fsin()?;
            a.fld(qword_ptr(0x208))?;
            a.fsin()?;
            a.fld(qword_ptr(0x210))?;
            a.fsin()
        },
        &doubles(&[std::f64::consts::PI, 1e10, 1e19]),
    );
    let s = &cpu.fpu;
    assert_eq!(s.st(2), x(0x3FCA, 0x8D30_0000_0000_0000), "sin(double pi)");
    assert_eq!(s.st(1), x(0xBFFD, 0xF99A_63C4_9C6F_2B1A), "sin(1e10), 66-bit pi");
    // Out of range: unchanged, C2 = 1.
    assert_eq!(s.st(0), f(1e19));
    assert_ne!(s.sw & sw::C2, 0);
}

#[test]
fn test_e2e_logs_atan_exp() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fld1()?;
            a.fld1()?;
            a.fpatan()?; // atan(1/1)
            a.fld1()?;
            a.fild(word_ptr(0x200))?;
            a.fyl2x()?; // log2 10
            a.fld(qword_ptr(0x208))?;
            a.f2xm1()?; // 2^0.5 - 1
            a.fld1()?;
            a.fld(qword_ptr(0x210))?;
            a.fyl2xp1()?; // log2 1.25
            a.fld1()?;
            a.fld(qword_ptr(0x218))?;
            a.fpatan()?; // atan2(1, -2)
            a.fld(qword_ptr(0x220))?;
            a.f2xm1() // 2^-0.75 - 1
        },
        &[&10u16.to_le_bytes()[..], &[0; 6], &doubles(&[0.5, 0.25, -2.0, -0.75])].concat(),
    );
    let s = &cpu.fpu;
    assert_eq!(s.st(5), x(0x3FFE, 0xC90F_DAA2_2168_C235), "pi/4");
    assert_eq!(s.st(4), x(0x4000, 0xD49A_784B_CD1B_8AFE), "log2 10");
    assert_eq!(s.st(3), x(0x3FFD, 0xD413_CCCF_E779_9211), "2^0.5-1");
    assert_eq!(s.st(2), x(0x3FFD, 0xA4D3_C25E_68DC_57F2), "log2 1.25");
    assert_eq!(s.st(1), x(0x4000, 0xAB63_739C_BFAD_72CC), "atan2(1,-2)");
    assert_eq!(s.st(0), x(0xBFFD, 0xCF90_1F5C_E48E_AD21), "2^-0.75-1");
}

#[test]
fn test_e2e_exact_log_and_store() {
    // FYL2X(8, 3) = 9 exactly (no PE); FISTP and FSTP m64 of the results.
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fild(word_ptr(0x200))?; // 3
            a.fild(word_ptr(0x202))?; // 8
            a.fyl2x()?;
            a.fist(word_ptr(0x210))?;
            a.mov(ax, word_ptr(0x210))?;
            a.fnstsw(word_ptr(0x212))?;
            a.mov(bx, word_ptr(0x212))
        },
        &[3u16.to_le_bytes(), 8u16.to_le_bytes()].concat(),
    );
    assert_eq!(cpu.fpu.st(0), f(9.0));
    assert_eq!(cpu.gpr[0] & 0xFFFF, 9);
    assert_eq!(cpu.gpr[3] & exc::ALL as u32, 0);
}

#[test]
fn test_e2e_stack_overflow_underflow() {
    let cpu = run(
        |a| {
            a.fninit()?;
            for _ in 0..9 {
                a.fld1()?;
            }
            Ok(())
        },
        &[],
    );
    assert_eq!(cpu.fpu.st(0), INDEFINITE);
    assert_eq!(cpu.fpu.sw & (exc::IE | exc::SF | sw::C1), exc::IE | exc::SF | sw::C1);
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fadd_2(st0, st1)
        },
        &[],
    );
    assert_eq!(cpu.fpu.sw & (exc::IE | exc::SF | sw::C1), exc::IE | exc::SF);
    assert_eq!(cpu.fpu.st(0), INDEFINITE);
}

#[test]
fn test_e2e_fcomi_and_fcmov() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fld1()?;
            a.fldz()?;
            a.fcomi(st0, st1)?; // 0 < 1: CF
            a.fcmovb(st0, st1)?; // taken: ST0 = 1
            a.fldpi()?;
            a.fcom_2(st0, st1)?; // pi > 1: C3=C2=C0=0
            a.fnstsw(ax)
        },
        &[],
    );
    assert_ne!(cpu.eflags & crate::Flags::CF, 0);
    assert_eq!(cpu.fpu.st(1), ONE);
    assert_eq!(cpu.gpr[0] as u16 & (sw::C0 | sw::C2 | sw::C3), 0);
}

#[test]
fn test_e2e_fsave_frstor_roundtrip() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fldpi()?;
            a.fld1()?;
            a.fnsave(ptr(0x300))?;
            a.fld1()?; // after FNSAVE's FNINIT the stack is empty again
            a.frstor(ptr(0x300))?;
            a.fnstenv(ptr(0x400))?;
            a.mov(ax, word_ptr(0x404))?; // tag word
            a.mov(bx, word_ptr(0x402))
        },
        &[],
    );
    assert_eq!(cpu.fpu.st(0), ONE);
    assert_eq!(cpu.fpu.st(1).sig, 0xC90F_DAA2_2168_C235);
    // TOP = 6, R6 = 1.0 (valid), R7 = pi (valid), others empty.
    assert_eq!(cpu.gpr[0] & 0xFFFF, 0x0FFF);
    assert_eq!((cpu.gpr[3] >> 11) & 7, 6);
}

#[test]
fn test_e2e_unmasked_exception_raises_mf() {
    // IVT[16] → 0000:0300 (HLT). CR0.NE = 1, unmask ZE, divide by zero, then FWAIT.
    let mut code = Vec::new();
    let mut a = CodeAssembler::new(16).unwrap();
    a.mov(eax, cr0).unwrap();
    a.or(eax, 0x20).unwrap();
    a.mov(cr0, eax).unwrap();
    a.fninit().unwrap();
    a.fldcw(word_ptr(0x200)).unwrap();
    a.fld1().unwrap();
    a.fldz().unwrap();
    a.fdivp(st1, st0).unwrap();
    a.mov(cx, 0x1234).unwrap();
    a.wait().unwrap();
    a.mov(cx, 0x5678).unwrap();
    a.hlt().unwrap();
    code.extend(a.assemble(0x100).unwrap());
    let (cpu, _) = run_real_with(&code, |m| {
        m.write_bytes(0x200, &(0x037Fu16 & !exc::ZE).to_le_bytes());
        m.write_bytes(16 * 4, &[0x00, 0x03, 0x00, 0x00]);
        m.write_bytes(0x300, &[0xF4]);
    });
    assert_eq!(cpu.gpr[1] & 0xFFFF, 0x1234);
    assert_eq!(cpu.eip, 0x301);
    assert!(cpu.ferr_pending());
    assert_eq!(cpu.fpu.sw & exc::ZE, exc::ZE);
    // The destination was left alone: 1.0 and 0.0 are still there.
    assert_eq!(cpu.fpu.st(0), F80::zero(false));
}

#[test]
fn test_e2e_fprem_and_fxtract() {
    let cpu = run(
        |a| {
            a.fninit()?;
            a.fld(qword_ptr(0x200))?; // divisor 3
            a.fld(qword_ptr(0x208))?; // 17.5
            a.fprem()?;
            a.fnstsw(ax)?;
            a.fld(qword_ptr(0x210))?;
            a.fxtract()
        },
        &doubles(&[3.0, 17.5, 40.0]),
    );
    // 17.5 = 5*3 + 2.5; quotient 5 = 0b101: C0=1, C3=0, C1=1.
    assert_eq!(cpu.fpu.st(2), f(2.5));
    let s = cpu.gpr[0] as u16;
    assert_eq!(s & (sw::C0 | sw::C1 | sw::C2 | sw::C3), sw::C0 | sw::C1);
    assert_eq!(cpu.fpu.st(0), f(1.25));
    assert_eq!(cpu.fpu.st(1), f(5.0));
}
