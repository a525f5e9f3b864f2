//! The handlers of the interpreter's fast forms (see `uop.rs`): one function per
//! operation, specialised by const parameters for the operand size and the kinds of the
//! destination and source (register, memory, immediate), so that each runs without
//! branching on what the instruction looks like. [`handler`] picks the instance for a
//! lowered instruction.
//!
//! Each handler mirrors its generic procedure step for step (which operand is read
//! first, when flags are written, which checks come before any write), so a fault
//! leaves the CPU exactly as the generic path leaves it.

use super::lazy_flags::LazyOp;
use super::shift::shift_rotate;
use super::uop::{pack, AluOp, Handler, Kind, Uop, IMM, MEM, NONE, REG};
use super::Exec;
use crate::fault::Fault;
use crate::flags::{sign_extend, size_mask, szp, Flags};
use crate::state::SegReg;
use iced_x86::ConditionCode;

/// Reads the destination operand (register `dreg` or the memory operand) for an RMW.
#[inline(always)]
fn read_dst<const SZ: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<u32, Fault> {
    if D == REG {
        Ok(ex.gpr_get(u.dreg, SZ))
    } else {
        let off = ex.uop_ea(&u.mem);
        ex.uop_read(u.mem.seg, off, SZ)
    }
}

/// Reads the source operand (register `sreg`, the memory operand or the immediate).
#[inline(always)]
fn read_src<const SZ: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<u32, Fault> {
    if S == REG {
        Ok(ex.gpr_get(u.sreg, SZ))
    } else if S == MEM {
        let off = ex.uop_ea(&u.mem);
        ex.uop_read(u.mem.seg, off, SZ)
    } else {
        Ok(u.imm)
    }
}

/// Writes the destination operand.
#[inline(always)]
fn write_dst<const SZ: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop, v: u32) -> Result<(), Fault> {
    if D == REG {
        ex.gpr_set(u.dreg, SZ, v);
        Ok(())
    } else {
        let off = ex.uop_ea(&u.mem);
        ex.uop_write(u.mem.seg, off, SZ, v)
    }
}

/// Replaces the flags in `mask` with those of `f`.
#[inline(always)]
fn set_flags(ex: &mut Exec<'_>, mask: u32, f: u32) {
    ex.cpu.eflags = (ex.cpu.eflags & !mask) | (f & mask);
}

/// MOV (`exec_mov`: read the source, write the destination).
fn mov<const SZ: u8, const D: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = read_src::<SZ, S>(ex, u)?;
    write_dst::<SZ, D>(ex, u, v)
}

/// ADD…CMP, TEST (`exec_alu`: read both, compute, flags, then write back). The status
/// flags are deferred (`lazy_flags.rs`); a write that faults then finds them recorded,
/// as the generic procedure leaves them set.
fn alu<const OP: u8, const SZ: u8, const D: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let m = size_mask(SZ);
    let a = read_dst::<SZ, D>(ex, u)?;
    let b = read_src::<SZ, S>(ex, u)? & m;
    let carry = if OP == AluOp::Adc as u8 || OP == AluOp::Sbb as u8 { ex.cur_cf() } else { 0 };
    let (op, r) = if OP == AluOp::Add as u8 || OP == AluOp::Adc as u8 {
        (LazyOp::Add, a.wrapping_add(b).wrapping_add(carry))
    } else if OP == AluOp::Sub as u8 || OP == AluOp::Cmp as u8 || OP == AluOp::Sbb as u8 {
        (LazyOp::Sub, a.wrapping_sub(b).wrapping_sub(carry))
    } else if OP == AluOp::Or as u8 {
        (LazyOp::Logic, a | b)
    } else if OP == AluOp::And as u8 || OP == AluOp::Test as u8 {
        (LazyOp::Logic, a & b)
    } else {
        (LazyOp::Logic, a ^ b)
    };
    let r = r & m;
    ex.defer_flags(op, SZ, a, b, r, carry);
    if OP != AluOp::Cmp as u8 && OP != AluOp::Test as u8 {
        write_dst::<SZ, D>(ex, u, r)?;
    }
    Ok(())
}

/// INC/DEC (`exec_alu`: write the result, then the flags but CF; deferred).
fn inc_dec<const INC: bool, const SZ: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let a = read_dst::<SZ, D>(ex, u)?;
    let r = if INC { a.wrapping_add(1) } else { a.wrapping_sub(1) } & size_mask(SZ);
    write_dst::<SZ, D>(ex, u, r)?;
    let cf = ex.cur_cf();
    ex.defer_flags(if INC { LazyOp::Inc } else { LazyOp::Dec }, SZ, a, 1, r, cf);
    Ok(())
}

/// MOVZX/MOVSX into a register of `SZ` bytes from `SRC` bytes.
fn movx<const SIGNED: bool, const SRC: u8, const SZ: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = read_src::<SRC, S>(ex, u)?;
    let v = if SIGNED { sign_extend(v, SRC) } else { v };
    ex.gpr_set(u.dreg, SZ, v);
    Ok(())
}

/// LEA: the effective address, written with the operand size.
fn lea<const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let a = ex.uop_ea(&u.mem);
    ex.gpr_set(u.dreg, SZ, a);
    Ok(())
}

/// Shifts and rotates by an immediate or CL (`exec_shift`: the destination is read even
/// when the masked count is zero, which then changes nothing).
fn shift<const SZ: u8, const D: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let Kind::Shift(op) = u.kind else { return Err(Fault::UD) };
    let dest = read_dst::<SZ, D>(ex, u)?;
    let count = if S == IMM { u.imm } else { ex.cpu.gpr[1] & 0xFF } & 0x1F;
    if count == 0 {
        return Ok(());
    }
    // A partial flag update (and RCL/RCR's carry in) needs the complete flags.
    ex.flush_flags();
    let out = shift_rotate(op, dest, count, SZ, ex.cpu.eflags & Flags::CF != 0);
    write_dst::<SZ, D>(ex, u, out.value)?;
    set_flags(ex, out.mask, out.flags);
    Ok(())
}

/// A relative branch's target from the EIP the CPU runs at (`relative_target`).
#[inline(always)]
fn branch_target<const SZ: u8>(ex: &Exec<'_>, u: &Uop) -> u32 {
    ex.cpu.eip.wrapping_add(u.imm) & size_mask(SZ)
}

/// A near jump after the CS limit check (`jump_near`).
#[inline(always)]
fn jump(ex: &mut Exec<'_>, target: u32) -> Result<(), Fault> {
    if target > ex.cpu.seg[SegReg::Cs as usize].limit {
        return Err(Fault::GP0);
    }
    ex.cpu.eip = target;
    Ok(())
}

/// Whether condition `CC` (the Jcc encoding's low nibble) holds, from the deferred
/// status flags (or EFLAGS when none are pending); only the flags the condition names are
/// derived.
#[inline(always)]
fn condition<const CC: u8>(ex: &Exec<'_>) -> bool {
    let (l, e) = (&ex.lazy, ex.cpu.eflags);
    let holds = match CC >> 1 {
        0 => l.of(e),
        1 => l.cf(e),
        2 => l.zf(e),
        3 => l.cf(e) || l.zf(e),
        4 => l.sf(e),
        5 => l.pf(e),
        6 => l.sf(e) != l.of(e),
        _ => l.zf(e) || l.sf(e) != l.of(e),
    };
    holds != (CC & 1 != 0)
}

/// Jcc rel.
fn jcc<const CC: u8, const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    if condition::<CC>(ex) {
        let target = branch_target::<SZ>(ex, u);
        jump(ex, target)?;
    }
    Ok(())
}

/// JMP rel.
fn jmp<const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let target = branch_target::<SZ>(ex, u);
    jump(ex, target)
}

/// CALL rel (`exec_call`: limit check, push, then transfer).
fn call<const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let ret_eip = ex.cpu.eip;
    let target = branch_target::<SZ>(ex, u);
    if target > ex.cpu.seg[SegReg::Cs as usize].limit {
        return Err(Fault::GP0);
    }
    ex.uop_push(SZ, ret_eip)?;
    ex.cpu.eip = target;
    Ok(())
}

/// RET near (`exec_ret_near` without a release count).
fn ret<const SZ: u8>(ex: &mut Exec<'_>, _u: &Uop) -> Result<(), Fault> {
    // peek(0): the return address at SS:SP, SP still unchanged.
    let sp = ex.sp();
    let target = ex.uop_read(SegReg::Ss, sp, SZ)?;
    if target > ex.cpu.seg[SegReg::Cs as usize].limit {
        return Err(Fault::GP0);
    }
    let sp = ex.sp();
    ex.set_sp(sp.wrapping_add(SZ as u32));
    ex.cpu.eip = target;
    Ok(())
}

/// PUSH register, memory or immediate.
fn push<const SZ: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = read_src::<SZ, S>(ex, u)?;
    ex.uop_push(SZ, v)
}

/// POP into a register.
fn pop<const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = ex.uop_pop(SZ)?;
    ex.gpr_set(u.dreg, SZ, v);
    Ok(())
}

/// Two- and three-operand IMUL (`imul_trunc`): the truncated signed product into a
/// register; CF = OF = the product did not fit, SF/ZF/PF from the stored part.
fn imul<const SZ: u8, const S: u8, const THREE: bool>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let (a, b) = if THREE {
        (read_src::<SZ, S>(ex, u)?, u.imm)
    } else {
        let a = ex.gpr_get(u.dreg, SZ);
        (a, read_src::<SZ, S>(ex, u)?)
    };
    let p = (sign_extend(a, SZ) as i32 as i64) * (sign_extend(b, SZ) as i32 as i64);
    let low = p as u32 & size_mask(SZ);
    let overflow = sign_extend(low, SZ) as i32 as i64 != p;
    ex.gpr_set(u.dreg, SZ, low);
    let f = szp(low, SZ) | if overflow { Flags::CF | Flags::OF } else { 0 };
    ex.discard_flags();
    set_flags(ex, Flags::ARITH, f);
    Ok(())
}

/// XCHG of two registers.
fn xchg<const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let a = ex.gpr_get(u.dreg, SZ);
    let b = ex.gpr_get(u.sreg, SZ);
    ex.gpr_set(u.dreg, SZ, b);
    ex.gpr_set(u.sreg, SZ, a);
    Ok(())
}

/// LOOP (`OP` 0), LOOPE (1), LOOPNE (2), JCXZ/JECXZ (3) counting in ECX or CX
/// (`exec_loop`: the limit check comes before the count is written).
fn loop_op<const OP: u8, const ECX: bool, const SZ: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let count_mask = if ECX { 0xFFFF_FFFF } else { 0xFFFF };
    let count = ex.cpu.gpr[1] & count_mask;
    let zf = ex.lazy.zf(ex.cpu.eflags);
    let next = count.wrapping_sub(1) & count_mask;
    let (taken, new_count) = match OP {
        0 => (next != 0, next),
        1 => (next != 0 && zf, next),
        2 => (next != 0 && !zf, next),
        _ => (count == 0, count),
    };
    let target = branch_target::<SZ>(ex, u);
    if taken && target > ex.cpu.seg[SegReg::Cs as usize].limit {
        return Err(Fault::GP0);
    }
    let c = &mut ex.cpu.gpr[1];
    *c = (*c & !count_mask) | new_count;
    if taken {
        ex.cpu.eip = target;
    }
    Ok(())
}

/// NOP (`exec_data`: nothing, whatever operand the multi-byte form names).
fn nop(_ex: &mut Exec<'_>, _u: &Uop) -> Result<(), Fault> {
    Ok(())
}

/// SETcc r/m8 (`exec_data`: the condition, then the byte written). No flag changes: a
/// faulting store leaves the pending flags as they were.
fn setcc<const CC: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = condition::<CC>(ex) as u32;
    write_dst::<1, D>(ex, u, v)
}

/// CMOVcc r, r/m (`exec_data`: the source is read, and may fault, whether or not the
/// condition holds; the destination is written only when it holds, so a false condition
/// leaves all of it unchanged).
fn cmov<const CC: u8, const SZ: u8, const S: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let v = read_src::<SZ, S>(ex, u)?;
    if condition::<CC>(ex) {
        ex.gpr_set(u.dreg, SZ, v);
    }
    Ok(())
}

/// NOT (`exec_alu`: read, write the complement; no flags). The value is handed to the
/// write unmasked, as `write_op` gets it (only its low `SZ` bytes are stored).
fn not<const SZ: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let a = read_dst::<SZ, D>(ex, u)?;
    write_dst::<SZ, D>(ex, u, !a)
}

/// NEG (`exec_alu`: `sub_flags(0, a)`, the result written, then the flags). The flags
/// are deferred as `0 - a` after the write, so a faulting store leaves the flags from
/// before, as the generic procedure does.
fn neg<const SZ: u8, const D: u8>(ex: &mut Exec<'_>, u: &Uop) -> Result<(), Fault> {
    let a = read_dst::<SZ, D>(ex, u)?;
    let r = 0u32.wrapping_sub(a) & size_mask(SZ);
    write_dst::<SZ, D>(ex, u, r)?;
    ex.defer_flags(LazyOp::Sub, SZ, 0, a, r, 0);
    Ok(())
}

/// Instantiates `$f::<$($pre,)* SIZE $(, $post)*>` for the uop's size (1, 2 or 4).
macro_rules! by_size {
    ($size:expr, $sizes:tt, |$sz:ident| $e:expr) => {
        by_size!(@pick $size, $sizes, |$sz| $e)
    };
    (@pick $size:expr, [$($s:literal),*], |$sz:ident| $e:expr) => {
        match $size {
            $($s => {
                const $sz: u8 = $s;
                Some((|ex: &mut Exec<'_>, u: &Uop| pack($e(ex, u))) as Handler)
            })*
            _ => None,
        }
    };
}

/// The handler for `$f`, which has all its const parameters.
macro_rules! just {
    ($f:expr) => {
        Some((|ex: &mut Exec<'_>, u: &Uop| pack($f(ex, u))) as Handler)
    };
}

/// Instantiates `$e` with the const `$c` set to the condition number `$cc` (0..15, the
/// Jcc encoding's low nibble).
macro_rules! by_cc {
    ($cc:expr, |$c:ident| $e:expr) => {
        by_cc!(@pick $cc, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], |$c| $e)
    };
    (@pick $cc:expr, [$($n:literal),*], |$c:ident| $e:expr) => {
        match $cc {
            $($n => {
                const $c: u8 = $n;
                $e
            })*
            _ => None,
        }
    };
}

/// Instantiates `$e` with the const `$k` set to the kind `$kind` (`REG` or `MEM`) of a
/// register-or-memory operand.
macro_rules! by_rm {
    ($kind:expr, |$k:ident| $e:expr) => {
        match $kind {
            REG => {
                const $k: u8 = REG;
                $e
            }
            MEM => {
                const $k: u8 = MEM;
                $e
            }
            _ => None,
        }
    };
}

/// Instantiates for the (destination, source) kinds of a two-operand form.
macro_rules! by_kinds {
    ($d:expr, $s:expr, |$dk:ident, $sk:ident| $e:expr) => {
        match ($d, $s) {
            (REG, REG) => {
                const $dk: u8 = REG;
                const $sk: u8 = REG;
                $e
            }
            (REG, MEM) => {
                const $dk: u8 = REG;
                const $sk: u8 = MEM;
                $e
            }
            (REG, IMM) => {
                const $dk: u8 = REG;
                const $sk: u8 = IMM;
                $e
            }
            (MEM, REG) => {
                const $dk: u8 = MEM;
                const $sk: u8 = REG;
                $e
            }
            (MEM, IMM) => {
                const $dk: u8 = MEM;
                const $sk: u8 = IMM;
                $e
            }
            _ => None,
        }
    };
}

/// The ALU instance for a const operation `$op`.
macro_rules! alu_for {
    ($op:expr, $u:expr, $d:expr, $s:expr) => {
        by_kinds!($d, $s, |D, S| by_size!($u.size, [1, 2, 4], |SZ| alu::<{ $op as u8 }, SZ, D, S>))
    };
}

/// The Jcc instance for condition `$cc` (0..15, the encoding's low nibble).
macro_rules! jcc_for {
    ($cc:expr, $size:expr, [$($n:literal),*]) => {
        match $cc {
            $($n => by_size!($size, [2, 4], |SZ| jcc::<$n, SZ>),)*
            _ => None,
        }
    };
}

/// The condition code's number in the Jcc encoding (0x70 + n).
fn jcc_number(cc: ConditionCode) -> Option<u8> {
    use ConditionCode as C;
    Some(match cc {
        C::o => 0,
        C::no => 1,
        C::b => 2,
        C::ae => 3,
        C::e => 4,
        C::ne => 5,
        C::be => 6,
        C::a => 7,
        C::s => 8,
        C::ns => 9,
        C::p => 10,
        C::np => 11,
        C::l => 12,
        C::ge => 13,
        C::le => 14,
        C::g => 15,
        C::None => return None,
    })
}

/// The handler instance for a lowered uop whose destination and source have kinds `d`
/// and `s` (`REG`, `MEM`, `IMM`, `NONE`); `None` when no instance fits.
pub(super) fn handler(u: &Uop, d: u8, s: u8) -> Option<Handler> {
    match u.kind {
        Kind::Generic => None,
        Kind::Mov => by_kinds!(d, s, |D, S| by_size!(u.size, [1, 2, 4], |SZ| mov::<SZ, D, S>)),
        Kind::Alu(op) => match op {
            AluOp::Add => alu_for!(AluOp::Add, u, d, s),
            AluOp::Or => alu_for!(AluOp::Or, u, d, s),
            AluOp::Adc => alu_for!(AluOp::Adc, u, d, s),
            AluOp::Sbb => alu_for!(AluOp::Sbb, u, d, s),
            AluOp::And => alu_for!(AluOp::And, u, d, s),
            AluOp::Sub => alu_for!(AluOp::Sub, u, d, s),
            AluOp::Xor => alu_for!(AluOp::Xor, u, d, s),
            AluOp::Cmp => alu_for!(AluOp::Cmp, u, d, s),
            AluOp::Test => alu_for!(AluOp::Test, u, d, s),
        },
        Kind::Inc | Kind::Dec => {
            let inc = u.kind == Kind::Inc;
            match (inc, d) {
                (true, REG) => by_size!(u.size, [1, 2, 4], |SZ| inc_dec::<true, SZ, REG>),
                (true, MEM) => by_size!(u.size, [1, 2, 4], |SZ| inc_dec::<true, SZ, MEM>),
                (false, REG) => by_size!(u.size, [1, 2, 4], |SZ| inc_dec::<false, SZ, REG>),
                (false, MEM) => by_size!(u.size, [1, 2, 4], |SZ| inc_dec::<false, SZ, MEM>),
                _ => None,
            }
        }
        Kind::Movzx { src_size } | Kind::Movsx { src_size } => {
            let signed = matches!(u.kind, Kind::Movsx { .. });
            macro_rules! movx_for {
                ($signed:literal, $src:literal) => {
                    match s {
                        REG => by_size!(u.size, [2, 4], |SZ| movx::<$signed, $src, SZ, REG>),
                        MEM => by_size!(u.size, [2, 4], |SZ| movx::<$signed, $src, SZ, MEM>),
                        _ => None,
                    }
                };
            }
            match (signed, src_size) {
                (false, 1) => movx_for!(false, 1),
                (false, 2) => movx_for!(false, 2),
                (true, 1) => movx_for!(true, 1),
                (true, 2) => movx_for!(true, 2),
                _ => None,
            }
        }
        Kind::Lea => by_size!(u.size, [2, 4], |SZ| lea::<SZ>),
        Kind::Shift(_) => match (d, s) {
            (REG, IMM) => by_size!(u.size, [1, 2, 4], |SZ| shift::<SZ, REG, IMM>),
            (REG, REG) => by_size!(u.size, [1, 2, 4], |SZ| shift::<SZ, REG, REG>),
            (MEM, IMM) => by_size!(u.size, [1, 2, 4], |SZ| shift::<SZ, MEM, IMM>),
            (MEM, REG) => by_size!(u.size, [1, 2, 4], |SZ| shift::<SZ, MEM, REG>),
            _ => None,
        },
        Kind::Jcc(cc) => jcc_for!(jcc_number(cc)?, u.size, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        Kind::Jmp => by_size!(u.size, [2, 4], |SZ| jmp::<SZ>),
        Kind::Call => by_size!(u.size, [2, 4], |SZ| call::<SZ>),
        Kind::Ret => by_size!(u.size, [2, 4], |SZ| ret::<SZ>),
        Kind::Push => match s {
            REG => by_size!(u.size, [2, 4], |SZ| push::<SZ, REG>),
            MEM => by_size!(u.size, [2, 4], |SZ| push::<SZ, MEM>),
            IMM => by_size!(u.size, [2, 4], |SZ| push::<SZ, IMM>),
            _ => None,
        },
        Kind::Pop if d == REG && s == NONE => by_size!(u.size, [2, 4], |SZ| pop::<SZ>),
        Kind::Pop => None,
        Kind::Imul { three } => match (s, three) {
            (REG, false) => by_size!(u.size, [2, 4], |SZ| imul::<SZ, REG, false>),
            (MEM, false) => by_size!(u.size, [2, 4], |SZ| imul::<SZ, MEM, false>),
            (REG, true) => by_size!(u.size, [2, 4], |SZ| imul::<SZ, REG, true>),
            (MEM, true) => by_size!(u.size, [2, 4], |SZ| imul::<SZ, MEM, true>),
            _ => None,
        },
        Kind::Xchg => by_size!(u.size, [1, 2, 4], |SZ| xchg::<SZ>),
        Kind::Nop => just!(nop),
        Kind::Setcc(cc) if s == NONE && u.size == 1 => {
            by_cc!(jcc_number(cc)?, |CC| by_rm!(d, |D| just!(setcc::<CC, D>)))
        }
        Kind::Setcc(_) => None,
        Kind::Cmovcc(cc) if d == REG => {
            by_cc!(jcc_number(cc)?, |CC| by_rm!(s, |S| by_size!(u.size, [2, 4], |SZ| cmov::<CC, SZ, S>)))
        }
        Kind::Cmovcc(_) => None,
        Kind::Not => by_rm!(d, |D| by_size!(u.size, [1, 2, 4], |SZ| not::<SZ, D>)),
        Kind::Neg => by_rm!(d, |D| by_size!(u.size, [1, 2, 4], |SZ| neg::<SZ, D>)),
        Kind::Loop { op, ecx } => {
            macro_rules! loop_for {
                ($op:literal) => {
                    match ecx {
                        true => by_size!(u.size, [2, 4], |SZ| loop_op::<$op, true, SZ>),
                        false => by_size!(u.size, [2, 4], |SZ| loop_op::<$op, false, SZ>),
                    }
                };
            }
            match op {
                0 => loop_for!(0),
                1 => loop_for!(1),
                2 => loop_for!(2),
                3 => loop_for!(3),
                _ => None,
            }
        }
    }
}
