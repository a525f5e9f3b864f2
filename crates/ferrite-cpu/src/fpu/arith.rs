//! The basic arithmetic instructions: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in their memory,
//! register and popping forms, the integer-operand forms, FCHS and FABS.

use super::float::{arith, Env, Op};
use super::{st_index, underflow};
use crate::fault::Fault;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic, OpKind};

impl Exec<'_> {
    /// Executes an arithmetic instruction.
    pub(super) fn fpu_arith(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let mut env = Env::new(self.cpu.fpu.cw);
        if matches!(m, M::Fchs | M::Fabs) {
            match self.fpu_st(&mut env, 0) {
                Some(v) => {
                    let r = if m == M::Fchs { v.negate() } else { v.with_sign(false) };
                    self.cpu.fpu.set_st(0, r);
                }
                None => {
                    if let Some(r) = underflow(&mut env) {
                        self.cpu.fpu.set_st(0, r);
                    }
                }
            }
            self.cpu.fpu.commit(&env);
            return Ok(());
        }
        let (op, reverse) = match m {
            M::Fadd | M::Faddp | M::Fiadd => (Op::Add, false),
            M::Fsub | M::Fsubp | M::Fisub => (Op::Sub, false),
            M::Fsubr | M::Fsubrp | M::Fisubr => (Op::Sub, true),
            M::Fmul | M::Fmulp | M::Fimul => (Op::Mul, false),
            M::Fdiv | M::Fdivp | M::Fidiv => (Op::Div, false),
            _ => (Op::Div, true),
        };
        let pop = matches!(m, M::Faddp | M::Fsubp | M::Fsubrp | M::Fmulp | M::Fdivp | M::Fdivrp);
        // Destination register and the two operands (a = destination's value).
        let (dst, a, b) = if ins.op0_kind() == OpKind::Memory {
            let b = self.fpu_mem_operand(ins, &mut env)?;
            let a = self.fpu_st(&mut env, 0);
            (0, a, b)
        } else {
            let d = st_index(ins.op0_register());
            let s = st_index(ins.op1_register());
            let a = self.fpu_st(&mut env, d);
            let b = self.fpu_st(&mut env, s);
            (d, a, b)
        };
        let result = match (a, b) {
            _ if env.exc & super::exc::SF != 0 => underflow(&mut env),
            (Some(a), Some(b)) => {
                if reverse {
                    arith(&mut env, op, b, a)
                } else {
                    arith(&mut env, op, a, b)
                }
            }
            // The memory operand raised an unmasked exception.
            _ => None,
        };
        if let Some(r) = result {
            self.cpu.fpu.set_st(dst, r);
            if pop {
                self.cpu.fpu.pop();
            }
        } else if pop && env.exc & !env.cw & super::exc::ALL == 0 {
            self.cpu.fpu.pop();
        }
        self.cpu.fpu.commit(&env);
        Ok(())
    }
}
