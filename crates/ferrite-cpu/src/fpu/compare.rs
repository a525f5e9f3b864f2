//! Comparisons and classification: FCOM/FCOMP/FCOMPP, FUCOM*, FICOM*, FTST, FCOMI*,
//! FUCOMI*, FXAM, and the conditional moves FCMOVcc.

use super::float::{Class, Env};
use super::{exc, st_index, F80};
use crate::fault::Fault;
use crate::flags::Flags;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic, OpKind};
use std::cmp::Ordering;

/// A comparison's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    /// a < b.
    Less,
    /// a = b.
    Equal,
    /// a > b.
    Greater,
    /// At least one NaN (or unsupported encoding).
    Unordered,
}

/// Compares `a` with `b`. `quiet` (FUCOM*) raises IE only for SNaNs and unsupported
/// encodings; otherwise any NaN is invalid. `None`: unmasked exception.
pub(crate) fn compare(env: &mut Env, a: F80, b: F80, quiet: bool) -> Option<Cmp> {
    let (ca, cb) = (a.class(), b.class());
    let nan = |c: Class| matches!(c, Class::QNaN | Class::SNaN | Class::Unsupported);
    if nan(ca) || nan(cb) {
        let signal = |c: Class| matches!(c, Class::SNaN | Class::Unsupported);
        if (!quiet || signal(ca) || signal(cb)) && env.raise(exc::IE) {
            return None;
        }
        return Some(Cmp::Unordered);
    }
    if env.denormal_check(&[a, b]) {
        return None;
    }
    Some(match a.to_ext().partial_cmp(&b.to_ext()) {
        Some(Ordering::Less) => Cmp::Less,
        Some(Ordering::Equal) => Cmp::Equal,
        Some(Ordering::Greater) => Cmp::Greater,
        None => Cmp::Unordered,
    })
}

/// FXAM's (C3, C2, C0) class code.
pub(crate) fn fxam_class(v: F80, empty: bool) -> (bool, bool, bool) {
    if empty {
        return (true, false, true);
    }
    match v.class() {
        Class::Unsupported => (false, false, false),
        Class::QNaN | Class::SNaN => (false, false, true),
        Class::Normal => (false, true, false),
        Class::Inf => (false, true, true),
        Class::Zero => (true, false, false),
        Class::Denormal => (true, true, false),
    }
}

impl Exec<'_> {
    /// Executes a comparison, FXAM or FCMOVcc.
    pub(super) fn fpu_compare(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let mut env = Env::new(self.cpu.fpu.cw);
        match m {
            M::Fxam => {
                let empty = self.cpu.fpu.is_empty(0);
                let v = self.cpu.fpu.st(0);
                let (c3, c2, c0) = fxam_class(v, empty);
                self.cpu.fpu.set_cc(c0, v.neg(), c2, c3);
                return Ok(());
            }
            M::Fcmovb | M::Fcmove | M::Fcmovbe | M::Fcmovu | M::Fcmovnb | M::Fcmovne | M::Fcmovnbe | M::Fcmovnu => {
                let f = self.cpu.eflags;
                let (cf, zf, pf) = (f & Flags::CF != 0, f & Flags::ZF != 0, f & Flags::PF != 0);
                let cond = match m {
                    M::Fcmovb => cf,
                    M::Fcmove => zf,
                    M::Fcmovbe => cf || zf,
                    M::Fcmovu => pf,
                    M::Fcmovnb => !cf,
                    M::Fcmovne => !zf,
                    M::Fcmovnbe => !cf && !zf,
                    _ => !pf,
                };
                let src = st_index(ins.op1_register());
                let a = self.fpu_st(&mut env, 0);
                let b = self.fpu_st(&mut env, src);
                match (a, b) {
                    (Some(_), Some(v)) => {
                        if cond {
                            self.cpu.fpu.set_st(0, v);
                        }
                    }
                    _ => {
                        if let Some(r) = super::underflow(&mut env) {
                            self.cpu.fpu.set_st(0, r);
                        }
                    }
                }
                self.cpu.fpu.commit(&env);
                return Ok(());
            }
            _ => {}
        }
        let quiet = matches!(m, M::Fucom | M::Fucomp | M::Fucompp | M::Fucomi | M::Fucomip);
        let eflags_form = matches!(m, M::Fcomi | M::Fcomip | M::Fucomi | M::Fucomip);
        let pops = match m {
            M::Fcompp | M::Fucompp => 2,
            M::Fcomp | M::Fucomp | M::Ficomp | M::Fcomip | M::Fucomip => 1,
            _ => 0,
        };
        let a = self.fpu_st(&mut env, 0);
        let b = if m == M::Ftst {
            Some(F80::zero(false))
        } else if ins.op_count() >= 1 && ins.op0_kind() == OpKind::Memory {
            self.fpu_mem_operand(ins, &mut env)?
        } else {
            let i = if ins.op_count() >= 2 { st_index(ins.op1_register()) } else { 1 };
            self.fpu_st(&mut env, i)
        };
        let outcome = if env.exc & exc::SF != 0 {
            // Stack underflow: unordered when masked.
            env.c1 = false;
            if env.raise(exc::IE) {
                None
            } else {
                Some(Cmp::Unordered)
            }
        } else {
            match (a, b) {
                (Some(a), Some(b)) => compare(&mut env, a, b, quiet),
                _ => None,
            }
        };
        if let Some(c) = outcome {
            let (lt, eq, un) = (c == Cmp::Less, c == Cmp::Equal, c == Cmp::Unordered);
            if eflags_form {
                let mut f = self.cpu.eflags & !(Flags::ARITH);
                if lt || un {
                    f |= Flags::CF;
                }
                if eq || un {
                    f |= Flags::ZF;
                }
                if un {
                    f |= Flags::PF;
                }
                self.cpu.eflags = f;
                self.cpu.fpu.sw &= !super::sw::C1;
            } else {
                self.cpu.fpu.set_cc(lt || un, false, un, eq || un);
            }
            for _ in 0..pops {
                self.cpu.fpu.pop();
            }
        }
        self.cpu.fpu.commit(&env);
        Ok(())
    }
}
