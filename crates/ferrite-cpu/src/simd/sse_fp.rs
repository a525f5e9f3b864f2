//! SSE/SSE2 floating-point instructions: arithmetic, MIN/MAX, SQRT, CMPcc, (U)COMIS*,
//! the RCP/RSQRT approximations and every conversion. Each lane is computed by
//! [`softfp`](super::softfp); the flags of all lanes are gathered and, when one of them
//! is unmasked, the destination is left alone and #XM (or #UD) is raised.

use super::softfp::{BinOp, Ctx, Fmt};
use crate::fault::Fault;
use crate::flags::Flags;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic};
use rustc_apfloat::ieee::{Double, Single};
use std::cmp::Ordering;

/// Element `i` of `bits` bits.
fn el(v: u128, bits: u32, i: u32) -> u64 {
    let m = if bits == 64 { u64::MAX } else { (1 << bits) - 1 };
    (v >> (bits * i)) as u64 & m
}

/// `v` with element `i` of `bits` bits replaced by `x`.
fn with_el(v: u128, bits: u32, i: u32, x: u64) -> u128 {
    let m = if bits == 64 { u64::MAX as u128 } else { (1u128 << bits) - 1 };
    let sh = bits * i;
    (v & !(m << sh)) | (((x as u128) & m) << sh)
}

/// Packed (`lanes` = all) or scalar (`lanes` = 1) application of `f` to the elements of
/// `a` and `b`; elements past `lanes` keep `a`'s.
fn map2<F: Fmt>(ctx: &mut Ctx, a: u128, b: u128, lanes: u32, f: impl Fn(&mut Ctx, u64, u64) -> u64) -> u128 {
    let mut r = a;
    for i in 0..lanes {
        r = with_el(r, F::WIDTH, i, f(ctx, el(a, F::WIDTH, i), el(b, F::WIDTH, i)));
    }
    r
}

/// The CMPPS/CMPSS/CMPPD/CMPSD predicates (imm8 bits 0–2): whether it holds for `ord`,
/// and whether a QNaN operand signals invalid.
fn predicate(imm: u8, ord: Option<Ordering>) -> bool {
    use Ordering::*;
    match imm & 7 {
        0 => ord == Some(Equal),
        1 => ord == Some(Less),
        2 => matches!(ord, Some(Less | Equal)),
        3 => ord.is_none(),
        4 => ord != Some(Equal),
        5 => ord != Some(Less),
        6 => !matches!(ord, Some(Less | Equal)),
        _ => ord.is_some(),
    }
}

/// Whether predicate `imm` is a signaling (LT/LE/NLT/NLE) comparison.
fn signaling(imm: u8) -> bool {
    matches!(imm & 7, 1 | 2 | 5 | 6)
}

/// Shape of an arithmetic or compare instruction: (single precision, scalar).
fn shape(m: Mnemonic) -> (bool, bool) {
    use Mnemonic as M;
    let single_scalar =
        matches!(m, M::Addss | M::Subss | M::Mulss | M::Divss | M::Minss | M::Maxss | M::Sqrtss | M::Cmpss);
    let double_scalar =
        matches!(m, M::Addsd | M::Subsd | M::Mulsd | M::Divsd | M::Minsd | M::Maxsd | M::Sqrtsd | M::Cmpsd);
    let single_packed =
        matches!(m, M::Addps | M::Subps | M::Mulps | M::Divps | M::Minps | M::Maxps | M::Sqrtps | M::Cmpps);
    (single_scalar || single_packed, single_scalar || double_scalar)
}

impl Exec<'_> {
    /// Executes an SSE/SSE2 floating-point instruction; `Ok(false)` if `ins` is not one.
    pub(super) fn exec_sse_fp(&mut self, ins: &Instruction) -> Result<bool, Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let op = match m {
            M::Addps | M::Addss | M::Addpd | M::Addsd => Some(BinOp::Add),
            M::Subps | M::Subss | M::Subpd | M::Subsd => Some(BinOp::Sub),
            M::Mulps | M::Mulss | M::Mulpd | M::Mulsd => Some(BinOp::Mul),
            M::Divps | M::Divss | M::Divpd | M::Divsd => Some(BinOp::Div),
            M::Minps | M::Minss | M::Minpd | M::Minsd => Some(BinOp::Min),
            M::Maxps | M::Maxss | M::Maxpd | M::Maxsd => Some(BinOp::Max),
            _ => None,
        };
        let mut ctx = Ctx::new(self.cpu.sse.mxcsr);
        let r = match m {
            _ if op.is_some() || matches!(m, M::Sqrtps | M::Sqrtss | M::Sqrtpd | M::Sqrtsd) => {
                let (single, scalar) = shape(m);
                let a = self.simd_read(ins, 0)?;
                let b = self.simd_read(ins, 1)?;
                match (op, single) {
                    (Some(op), true) => map2::<Single>(&mut ctx, a, b, if scalar { 1 } else { 4 }, |c, x, y| {
                        c.binop::<Single>(op, x, y)
                    }),
                    (Some(op), false) => map2::<Double>(&mut ctx, a, b, if scalar { 1 } else { 2 }, |c, x, y| {
                        c.binop::<Double>(op, x, y)
                    }),
                    (None, true) => {
                        map2::<Single>(&mut ctx, a, b, if scalar { 1 } else { 4 }, |c, _, y| c.sqrt::<Single>(y))
                    }
                    (None, false) => {
                        map2::<Double>(&mut ctx, a, b, if scalar { 1 } else { 2 }, |c, _, y| c.sqrt::<Double>(y))
                    }
                }
            }
            M::Cmpps | M::Cmpss | M::Cmppd | M::Cmpsd => {
                let (single, scalar) = shape(m);
                let imm = ins.immediate8();
                let a = self.simd_read(ins, 0)?;
                let b = self.simd_read(ins, 1)?;
                let cmp = |c: &mut Ctx, x: u64, y: u64, single: bool| {
                    let ord = if single {
                        c.compare::<Single>(x, y, signaling(imm))
                    } else {
                        c.compare::<Double>(x, y, signaling(imm))
                    };
                    if predicate(imm, ord) {
                        u64::MAX
                    } else {
                        0
                    }
                };
                if single {
                    map2::<Single>(&mut ctx, a, b, if scalar { 1 } else { 4 }, |c, x, y| cmp(c, x, y, true))
                } else {
                    map2::<Double>(&mut ctx, a, b, if scalar { 1 } else { 2 }, |c, x, y| cmp(c, x, y, false))
                }
            }
            M::Comiss | M::Ucomiss | M::Comisd | M::Ucomisd => {
                let a = self.simd_read(ins, 0)?;
                let b = self.simd_read(ins, 1)?;
                let sig = matches!(m, M::Comiss | M::Comisd);
                let ord = if matches!(m, M::Comiss | M::Ucomiss) {
                    ctx.compare::<Single>(el(a, 32, 0), el(b, 32, 0), sig)
                } else {
                    ctx.compare::<Double>(el(a, 64, 0), el(b, 64, 0), sig)
                };
                self.simd_fp_commit(ctx.flags)?;
                let f = match ord {
                    None => Flags::ZF | Flags::PF | Flags::CF,
                    Some(Ordering::Greater) => 0,
                    Some(Ordering::Less) => Flags::CF,
                    Some(Ordering::Equal) => Flags::ZF,
                };
                self.cpu.eflags = (self.cpu.eflags & !Flags::ARITH) | f;
                return Ok(true);
            }
            M::Rcpps | M::Rcpss | M::Rsqrtps | M::Rsqrtss => {
                let a = self.simd_read(ins, 0)?;
                let b = self.simd_read(ins, 1)?;
                let lanes = if matches!(m, M::Rcpss | M::Rsqrtss) { 1 } else { 4 };
                let root = matches!(m, M::Rsqrtps | M::Rsqrtss);
                let f =
                    |_: &mut Ctx, _: u64, y: u64| (if root { Ctx::rsqrt(y as u32) } else { Ctx::rcp(y as u32) }) as u64;
                // No flags: the approximations raise no exceptions.
                let r = map2::<Single>(&mut ctx, a, b, lanes, f);
                self.simd_write(ins, 0, r)?;
                return Ok(true);
            }
            _ => match self.convert(ins, &mut ctx)? {
                Some(r) => r,
                None => return Ok(false),
            },
        };
        self.simd_fp_commit(ctx.flags)?;
        self.simd_write(ins, 0, r)?;
        Ok(true)
    }

    /// The CVT* conversions: the value to write to operand 0, or `None` for another
    /// instruction. Flags are gathered in `ctx`.
    fn convert(&mut self, ins: &Instruction, ctx: &mut Ctx) -> Result<Option<u128>, Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let truncate =
            matches!(m, M::Cvttps2pi | M::Cvttss2si | M::Cvttpd2pi | M::Cvttsd2si | M::Cvttps2dq | M::Cvttpd2dq);
        let known = matches!(
            m,
            M::Cvtpi2ps
                | M::Cvtps2pi
                | M::Cvttps2pi
                | M::Cvtsi2ss
                | M::Cvtss2si
                | M::Cvttss2si
                | M::Cvtpi2pd
                | M::Cvtpd2pi
                | M::Cvttpd2pi
                | M::Cvtsi2sd
                | M::Cvtsd2si
                | M::Cvttsd2si
                | M::Cvtps2pd
                | M::Cvtpd2ps
                | M::Cvtss2sd
                | M::Cvtsd2ss
                | M::Cvtdq2ps
                | M::Cvtps2dq
                | M::Cvttps2dq
                | M::Cvtdq2pd
                | M::Cvtpd2dq
                | M::Cvttpd2dq
        );
        if !known {
            return Ok(None);
        }
        let dst = self.simd_read(ins, 0)?;
        let src = self.simd_read(ins, 1)?;
        let lo64 = super::moves::LO64;
        let mut r = 0u128;
        let r = match m {
            // Integers to floats.
            M::Cvtpi2ps | M::Cvtdq2ps => {
                let n = if m == M::Cvtpi2ps { 2 } else { 4 };
                r = if m == M::Cvtpi2ps { dst } else { 0 };
                for i in 0..n {
                    r = with_el(r, 32, i, ctx.float_of_int::<Single>(el(src, 32, i) as u32));
                }
                r
            }
            M::Cvtsi2ss => with_el(dst, 32, 0, ctx.float_of_int::<Single>(src as u32)),
            M::Cvtpi2pd | M::Cvtdq2pd => {
                for i in 0..2 {
                    r = with_el(r, 64, i, ctx.float_of_int::<Double>(el(src, 32, i) as u32));
                }
                r
            }
            M::Cvtsi2sd => with_el(dst, 64, 0, ctx.float_of_int::<Double>(src as u32)),
            // Floats to integers.
            M::Cvtps2pi | M::Cvttps2pi | M::Cvtps2dq | M::Cvttps2dq => {
                let n = if matches!(m, M::Cvtps2pi | M::Cvttps2pi) { 2 } else { 4 };
                for i in 0..n {
                    r = with_el(r, 32, i, ctx.int_of::<Single>(el(src, 32, i), truncate) as u64);
                }
                r
            }
            M::Cvtss2si | M::Cvttss2si => ctx.int_of::<Single>(el(src, 32, 0), truncate) as u128,
            M::Cvtpd2pi | M::Cvttpd2pi | M::Cvtpd2dq | M::Cvttpd2dq => {
                for i in 0..2 {
                    r = with_el(r, 32, i, ctx.int_of::<Double>(el(src, 64, i), truncate) as u64);
                }
                r
            }
            M::Cvtsd2si | M::Cvttsd2si => ctx.int_of::<Double>(el(src, 64, 0), truncate) as u128,
            // Between formats.
            M::Cvtps2pd => {
                for i in 0..2 {
                    r = with_el(r, 64, i, ctx.convert::<Single, Double>(el(src, 32, i)));
                }
                r
            }
            M::Cvtpd2ps => {
                for i in 0..2 {
                    r = with_el(r, 32, i, ctx.convert::<Double, Single>(el(src, 64, i)));
                }
                r
            }
            M::Cvtss2sd => (dst & !lo64) | ctx.convert::<Single, Double>(el(src, 32, 0)) as u128,
            _ => with_el(dst, 32, 0, ctx.convert::<Double, Single>(el(src, 64, 0))),
        };
        Ok(Some(r))
    }
}
