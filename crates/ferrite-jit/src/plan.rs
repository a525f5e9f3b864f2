//! Deciding what each guest instruction of a block becomes: a native copy (with host
//! registers and, for a memory operand, `[R8]` after a probe), a LEA computed in place,
//! a stack push or pop through the probe, a block-ending branch — or nothing we
//! translate, which ends the block so the interpreter runs it.
//!
//! The per-block flag-liveness pass lives here too: it decides where glue code must
//! save host flags, and refuses instructions whose host flags would differ from the
//! interpreter's choice for flags the SDM leaves undefined, unless those are dead.

use crate::emit::{host_gpr, Access};
use crate::flagfix::FlagFix;
use ferrite_cpu::classify;
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic, OpKind, Register, RflagsBits};

/// What one guest instruction becomes.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// No host code (NOP).
    Nothing,
    /// CLD / STD / CLI: clear (`set` false) or set one EFLAGS bit that does not live in
    /// host EFLAGS, in `cpu.eflags` directly.
    SetFlag { bit: u32, set: bool },
    /// The host form of the instruction; with a memory operand, the probe runs first and
    /// the operand is `[R8]`. `fix`: the flags the host may leave differently from the
    /// interpreter are live after it, and this fix-up rebuilds them ([`crate::flagfix`]).
    Native { host: Instruction, mem: Option<Access>, fix: Option<FlagFix> },
    /// LEA: the effective address goes to host register `dest` (`size` 2 or 4 bytes).
    Lea { dest: u8, size: u32 },
    /// PUSH of a register (host number) or an immediate.
    Push { src: PushSrc, size: u32 },
    /// POP into a register (host number).
    Pop { dest: u8, size: u32 },
    /// LEAVE: SP from BP (stack-sized), then BP popped (`size` operand bytes).
    Leave { size: u32 },
    /// LODS, STOS or SCAS without a REP prefix: one element through the probe, the index
    /// register (ESI/SI for LODS, EDI/DI otherwise) stepped by ±`acc.size` after DF.
    StringOne { op: StringOp, acc: Access, addr32: bool },
    /// Jcc rel: ends the block.
    Jcc { cond: ConditionCode, target: u32 },
    /// JMP rel: ends the block.
    Jmp { target: u32 },
    /// CALL rel: pushes the return address and ends the block.
    Call { target: u32, size: u32 },
    /// RET / RET imm16 (near): ends the block.
    Ret { size: u32, release: u32 },
    /// JMP / CALL near through a register or memory (`size`: operand size, 2 or 4; a
    /// CALL pushes that many bytes): ends the block through the jump cache.
    Indirect { src: IndirectSrc, size: u32, call: bool },
    /// LOOP rel with ECX as the counter (32-bit address size): ends the block.
    Loop { target: u32 },
    /// Anything else: the interpreter runs it from inside the block
    /// (`helpers::step_one`); the block goes on when it fell through without changing
    /// anything the block depends on. `ends`: it is a control transfer, the block ends
    /// after it.
    Step { ends: bool },
    /// An instruction that runs on into the next page (whose bytes and mapping the block
    /// is not keyed by): the interpreter runs it from inside the block, wherever it goes
    /// (`helpers::step_one` with [`crate::helpers::STEP_ANY_EIP`]), and the block ends
    /// through the jump cache at the EIP it left.
    Straddle,
    /// REP MOVS / REP STOS with 32-bit addressing: one execution through
    /// `helpers::rep_string` (descriptor `desc`), or the interpreter; ends the block.
    RepString { desc: u32 },
}

/// A single string instruction translated natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringOp {
    /// AL/AX/EAX = [seg:(E)SI].
    Lods,
    /// [ES:(E)DI] = AL/AX/EAX.
    Stos,
    /// Compare AL/AX/EAX with [ES:(E)DI] (the flags of CMP).
    Scas,
}

/// Where an indirect branch finds its target.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IndirectSrc {
    /// A host register number.
    Reg(u8),
    /// A memory operand (probed like any other).
    Mem(Access),
}

/// The value a PUSH stores.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PushSrc {
    /// A host register number.
    Reg(u8),
    /// An immediate, already truncated to the operand size.
    Imm(u32),
    /// A memory operand: read through its probe into `JitCtx::push_value` first.
    Mem(Access),
    /// `JitCtx::push_value` (the second half of a PUSH from memory).
    Stashed,
}

impl Kind {
    /// Whether the instruction ends the block.
    pub(crate) fn ends_block(&self) -> bool {
        matches!(
            self,
            Kind::Jcc { .. }
                | Kind::Jmp { .. }
                | Kind::Call { .. }
                | Kind::Ret { .. }
                | Kind::Indirect { .. }
                | Kind::Loop { .. }
                | Kind::RepString { .. }
                | Kind::Step { ends: true }
                | Kind::Straddle
        )
    }
}

/// What the translator needs to know about the mode a block runs in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanMode {
    /// CS limit, for branch targets.
    pub(crate) cs_limit: u32,
    /// 32-bit stack (SS.B).
    pub(crate) ss32: bool,
    /// CLI needs no privilege check: real mode, or CPL 0 (IOPL is never below 0).
    pub(crate) cli_free: bool,
}

/// The six arithmetic flags as EFLAGS bits.
pub(crate) const ALL_FLAGS: u32 = ferrite_cpu::Flags::ARITH;

/// iced's RFLAGS bit set → EFLAGS bits (arithmetic flags only).
fn eflags_of(bits: u32) -> u32 {
    use ferrite_cpu::Flags as F;
    let pairs = [
        (RflagsBits::OF, F::OF),
        (RflagsBits::SF, F::SF),
        (RflagsBits::ZF, F::ZF),
        (RflagsBits::AF, F::AF),
        (RflagsBits::CF, F::CF),
        (RflagsBits::PF, F::PF),
    ];
    pairs.iter().filter(|(i, _)| bits & i != 0).map(|(_, f)| f).fold(0, |a, f| a | f)
}

/// Flags an instruction reads and writes, as EFLAGS bits.
pub(crate) fn flags_rw(ins: &Instruction, kind: &Kind) -> (u32, u32) {
    match kind {
        Kind::Native { .. } => {
            if (is_shift(ins) || is_rotate(ins)) && shift_count(ins) == 0 {
                return (0, 0);
            }
            (eflags_of(ins.rflags_read()), eflags_of(ins.rflags_modified()))
        }
        Kind::Jcc { .. } => (eflags_of(ins.rflags_read()), 0),
        Kind::StringOne { op: StringOp::Scas, .. } => (0, ALL_FLAGS),
        // The interpreter sees (and may change) all of EFLAGS.
        Kind::Step { .. } | Kind::Straddle => (ALL_FLAGS, 0),
        _ => (0, 0),
    }
}

/// Flags the host may set differently from the interpreter for this instruction (the
/// SDM leaves them undefined; the interpreter follows P6/80286 measurements). They must
/// be dead after it for the native form to be exact.
pub(crate) fn host_divergent_flags(ins: &Instruction) -> u32 {
    use ferrite_cpu::Flags as F;
    if is_shift(ins) {
        let count = shift_count(ins);
        return if count > 1 { F::AF | F::OF } else { F::AF };
    }
    if is_rotate(ins) {
        return if shift_count(ins) > 1 { F::OF } else { 0 };
    }
    if matches!(ins.mnemonic(), Mnemonic::Imul | Mnemonic::Mul) {
        return F::SF | F::ZF | F::AF | F::PF;
    }
    0
}

fn is_shift(ins: &Instruction) -> bool {
    matches!(ins.mnemonic(), Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar)
}

fn is_rotate(ins: &Instruction) -> bool {
    matches!(ins.mnemonic(), Mnemonic::Rol | Mnemonic::Ror)
}

/// The masked count of a shift by immediate or by 1.
fn shift_count(ins: &Instruction) -> u32 {
    if ins.op_count() > 1 && ins.op1_kind() == OpKind::Immediate8 {
        ins.immediate8() as u32 & 0x1F
    } else {
        1
    }
}

/// Plans one decoded guest instruction; `None` means "not translated".
pub(crate) fn plan(ins: &Instruction, mode: PlanMode) -> Option<Kind> {
    use Mnemonic as M;
    if let Some(k) = plan_rep_string(ins) {
        return Some(k);
    }
    if ins.has_lock_prefix() || ins.has_rep_prefix() || ins.has_repne_prefix() {
        return None;
    }
    match ins.mnemonic() {
        // PAUSE is a NOP with a hint; the fences order nothing in a one-CPU emulator (the
        // interpreter executes them as no-ops too).
        M::Nop | M::Pause | M::Lfence | M::Mfence | M::Sfence => Some(Kind::Nothing),
        M::Lodsb | M::Lodsw | M::Lodsd => plan_string_one(ins, StringOp::Lods),
        M::Stosb | M::Stosw | M::Stosd => plan_string_one(ins, StringOp::Stos),
        M::Scasb | M::Scasw | M::Scasd => plan_string_one(ins, StringOp::Scas),
        M::Leave => match ins.code() {
            Code::Leavew => Some(Kind::Leave { size: 2 }),
            Code::Leaved => Some(Kind::Leave { size: 4 }),
            _ => None,
        },
        M::Cld => Some(Kind::SetFlag { bit: ferrite_cpu::Flags::DF, set: false }),
        M::Std => Some(Kind::SetFlag { bit: ferrite_cpu::Flags::DF, set: true }),
        M::Cli if mode.cli_free => Some(Kind::SetFlag { bit: ferrite_cpu::Flags::IF, set: false }),
        m if classify::is_jcc(m) => {
            let target = near_target(ins, mode)?;
            Some(Kind::Jcc { cond: ins.condition_code(), target })
        }
        M::Jmp | M::Call if matches!(ins.op0_kind(), OpKind::Register | OpKind::Memory) => plan_indirect(ins),
        M::Jmp => Some(Kind::Jmp { target: near_target(ins, mode)? }),
        M::Loop if matches!(ins.code(), Code::Loop_rel8_32_ECX | Code::Loop_rel8_16_ECX) => {
            Some(Kind::Loop { target: near_target(ins, mode)? })
        }
        M::Call => {
            let size = match ins.code() {
                Code::Call_rel16 => 2,
                Code::Call_rel32_32 => 4,
                _ => return None,
            };
            Some(Kind::Call { target: near_target(ins, mode)?, size })
        }
        M::Ret => {
            let (size, release) = match ins.code() {
                Code::Retnw => (2, 0),
                Code::Retnd => (4, 0),
                Code::Retnw_imm16 => (2, ins.immediate16() as u32),
                Code::Retnd_imm16 => (4, ins.immediate16() as u32),
                _ => return None,
            };
            Some(Kind::Ret { size, release })
        }
        M::Lea => {
            let r = ins.op0_register();
            if !(r.is_gpr16() || r.is_gpr32()) {
                return None;
            }
            Some(Kind::Lea { dest: host_gpr(r.number() as u8), size: r.size() as u32 })
        }
        M::Push => plan_push(ins),
        M::Pop => {
            if ins.op0_kind() != OpKind::Register {
                return None;
            }
            let r = ins.op0_register();
            if !(r.is_gpr16() || r.is_gpr32()) {
                return None;
            }
            Some(Kind::Pop { dest: host_gpr(r.number() as u8), size: r.size() as u32 })
        }
        M::Mov
        | M::Add
        | M::Adc
        | M::Sub
        | M::Sbb
        | M::And
        | M::Or
        | M::Xor
        | M::Cmp
        | M::Test
        | M::Inc
        | M::Dec
        | M::Neg
        | M::Not
        | M::Movzx
        | M::Movsx
        | M::Xchg
        | M::Shl
        | M::Sal
        | M::Shr
        | M::Sar
        | M::Rol
        | M::Ror
        | M::Imul
        | M::Mul
        | M::Clc
        | M::Stc
        | M::Cmc
        | M::Cbw
        | M::Cwde
        | M::Cwd
        | M::Cdq
        | M::Bswap => plan_native(ins),
        m if classify::is_setcc(m) || classify::is_cmovcc(m) => plan_native(ins),
        _ => None,
    }
}

/// LODS/STOS/SCAS without REP (the caller checked the prefixes).
fn plan_string_one(ins: &Instruction, op: StringOp) -> Option<Kind> {
    let (mem_op, write) = if op == StringOp::Lods {
        (1, false)
    } else {
        (if op == StringOp::Stos { 0 } else { 1 }, op == StringOp::Stos)
    };
    let addr32 = match ins.op_kind(mem_op) {
        OpKind::MemorySegESI | OpKind::MemoryESEDI => true,
        OpKind::MemorySegSI | OpKind::MemoryESDI => false,
        _ => return None,
    };
    let size = ins.memory_size().size() as u32;
    if !matches!(size, 1 | 2 | 4) {
        return None;
    }
    let seg = if op == StringOp::Lods { ins.memory_segment().number() } else { 0 };
    Some(Kind::StringOne { op, acc: Access { seg, size, write }, addr32 })
}

/// JMP/CALL near through r/m16 or r/m32.
fn plan_indirect(ins: &Instruction) -> Option<Kind> {
    let (size, call) = match ins.code() {
        Code::Jmp_rm16 => (2, false),
        Code::Jmp_rm32 => (4, false),
        Code::Call_rm16 => (2, true),
        Code::Call_rm32 => (4, true),
        _ => return None,
    };
    let src = if ins.op0_kind() == OpKind::Register {
        IndirectSrc::Reg(host_gpr(ins.op0_register().number() as u8))
    } else {
        IndirectSrc::Mem(Access { seg: ins.memory_segment().number(), size, write: false })
    };
    Some(Kind::Indirect { src, size, call })
}

/// REP MOVS / REP STOS with 32-bit addressing.
fn plan_rep_string(ins: &Instruction) -> Option<Kind> {
    use crate::helpers::{DESC_SEG_SHIFT, DESC_STOS};
    use Mnemonic as M;
    if !ins.has_rep_prefix() || ins.has_lock_prefix() || ins.op0_kind() != OpKind::MemoryESEDI {
        return None;
    }
    let (stos, size) = match ins.mnemonic() {
        M::Movsb => (false, 1),
        M::Movsw => (false, 2),
        M::Movsd => (false, 4),
        M::Stosb => (true, 1),
        M::Stosw => (true, 2),
        M::Stosd => (true, 4),
        _ => return None,
    };
    let seg = if stos { 0 } else { ins.memory_segment().number() as u32 };
    Some(Kind::RepString { desc: size | if stos { DESC_STOS } else { 0 } | seg << DESC_SEG_SHIFT })
}

/// A near branch target, if it is within the CS limit (else the interpreter raises #GP).
fn near_target(ins: &Instruction, mode: PlanMode) -> Option<u32> {
    if !matches!(ins.op0_kind(), OpKind::NearBranch16 | OpKind::NearBranch32) {
        return None;
    }
    let target = ins.near_branch_target() as u32;
    (target <= mode.cs_limit).then_some(target)
}

fn plan_push(ins: &Instruction) -> Option<Kind> {
    match ins.op0_kind() {
        OpKind::Register => {
            let r = ins.op0_register();
            if !(r.is_gpr16() || r.is_gpr32()) {
                return None;
            }
            Some(Kind::Push { src: PushSrc::Reg(host_gpr(r.number() as u8)), size: r.size() as u32 })
        }
        OpKind::Immediate8to16 | OpKind::Immediate16 => {
            Some(Kind::Push { src: PushSrc::Imm(ins.immediate(0) as u16 as u32), size: 2 })
        }
        OpKind::Immediate8to32 | OpKind::Immediate32 => {
            Some(Kind::Push { src: PushSrc::Imm(ins.immediate(0) as u32), size: 4 })
        }
        OpKind::Memory => {
            let size = match ins.code() {
                Code::Push_rm16 => 2,
                Code::Push_rm32 => 4,
                _ => return None,
            };
            let acc = Access { seg: ins.memory_segment().number(), size, write: false };
            Some(Kind::Push { src: PushSrc::Mem(acc), size })
        }
        _ => None,
    }
}

/// High-byte registers cannot be encoded together with any REX prefix, which `[R8]` and
/// R12 need.
fn is_high_byte(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

/// The host form of a register-only or one-memory-operand instruction.
fn plan_native(ins: &Instruction) -> Option<Kind> {
    let mut host = *ins;
    let mut mem = None;
    let mut high_byte = false;
    for i in 0..ins.op_count() {
        match ins.op_kind(i) {
            OpKind::Register => {
                let r = ins.op_register(i);
                if !(r.is_gpr8() || r.is_gpr16() || r.is_gpr32()) {
                    return None;
                }
                high_byte |= is_high_byte(r);
                if (r.is_gpr16() || r.is_gpr32()) && r.number() == 4 {
                    host.set_op_register(i, if r.is_gpr16() { Register::R12W } else { Register::R12D });
                }
            }
            OpKind::Memory => mem = Some(i),
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32 => {}
            _ => return None,
        }
    }
    // Short forms that do not exist in 64-bit mode.
    let code = match ins.code() {
        Code::Inc_r16 => Code::Inc_rm16,
        Code::Inc_r32 => Code::Inc_rm32,
        Code::Dec_r16 => Code::Dec_rm16,
        Code::Dec_r32 => Code::Dec_rm32,
        c => c,
    };
    host.set_code(code);
    let shift_like = is_shift(ins) || is_rotate(ins);
    if shift_like && shift_count(ins) == 0 {
        return None; // a zero count still reads a memory operand; rare, leave it
    }
    if shift_like && shift_count(ins) >= ins.op0_register().size().max(ins.memory_size().size()) as u32 * 8 {
        return None; // CF is undefined on the host for counts past the width
    }
    if ins.mnemonic() == Mnemonic::Xchg && mem.is_some() {
        return None;
    }
    let Some(m) = mem else {
        crate::emit::encode_bytes(&host).ok()?;
        return Some(Kind::Native { host, mem: None, fix: None });
    };
    if high_byte {
        return None;
    }
    let size = ins.memory_size().size() as u32;
    if !matches!(size, 1 | 2 | 4) {
        return None;
    }
    let seg = ins.memory_segment();
    let seg = seg.number();
    let write = m == 0 && !matches!(ins.mnemonic(), Mnemonic::Cmp | Mnemonic::Test | Mnemonic::Mul | Mnemonic::Imul);
    host = rewrite_memory(&host)?;
    crate::emit::encode_bytes(&host).ok()?;
    Some(Kind::Native { host, mem: Some(Access { seg, size, write }), fix: None })
}

/// The instruction with its memory operand replaced by `[R8]` (moffs forms become ModRM
/// forms, which can take a base register).
fn rewrite_memory(ins: &Instruction) -> Option<Instruction> {
    let r8 = iced_x86::MemoryOperand::with_base(Register::R8);
    let moffs = match ins.code() {
        Code::Mov_AL_moffs8 => Some((Code::Mov_r8_rm8, true)),
        Code::Mov_AX_moffs16 => Some((Code::Mov_r16_rm16, true)),
        Code::Mov_EAX_moffs32 => Some((Code::Mov_r32_rm32, true)),
        Code::Mov_moffs8_AL => Some((Code::Mov_rm8_r8, false)),
        Code::Mov_moffs16_AX => Some((Code::Mov_rm16_r16, false)),
        Code::Mov_moffs32_EAX => Some((Code::Mov_rm32_r32, false)),
        _ => None,
    };
    if let Some((code, load)) = moffs {
        let reg = if load { ins.op0_register() } else { ins.op1_register() };
        return if load { Instruction::with2(code, reg, r8).ok() } else { Instruction::with2(code, r8, reg).ok() };
    }
    let mut host = *ins;
    host.set_memory_base(Register::R8);
    host.set_memory_index(Register::None);
    host.set_memory_index_scale(1);
    host.set_memory_displacement64(0);
    host.set_memory_displ_size(0);
    host.set_segment_prefix(Register::None);
    Some(host)
}

/// Flag liveness: `live[i]` is the set of arithmetic flags live just before instruction
/// `i` (read later, or live out of the block, before being rewritten). Everything is
/// live out of a block: its successor is unknown here.
pub(crate) fn liveness(insns: &[(Instruction, Kind)]) -> Vec<u32> {
    let mut live = vec![0; insns.len() + 1];
    live[insns.len()] = ALL_FLAGS;
    for i in (0..insns.len()).rev() {
        let (read, written) = flags_rw(&insns[i].0, &insns[i].1);
        live[i] = (live[i + 1] & !written) | read;
    }
    live
}
