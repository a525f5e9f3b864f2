//! Pre-decoded fast forms of the most frequent instructions ("uops").
//!
//! When a block is decoded, each instruction is also lowered, once, into a [`Uop`]: a
//! small record holding its operands as general-purpose register numbers, an immediate
//! (already extended and masked as `read_op` would) and a memory reference (displacement,
//! base and index register numbers, scale, segment, address width), plus a pointer to a
//! handler specialised for exactly that form — operation, operand size and operand kinds
//! are compile-time constants of the handler (`uop_exec.rs`). Running a uop is one
//! indirect call with no look at iced's `Instruction`, no dispatch on the mnemonic and no
//! operand-kind decoding; the generic procedures pay those on every execution.
//! Instructions without a fast form lower to [`Kind::Generic`] (no handler) and run
//! through the generic dispatch as before.
//!
//! Every fast form computes exactly what its generic procedure computes, with the same
//! helpers (`add_flags`, `sub_flags`, `shift_rotate`, `linear`, `translate`, `push`,
//! `pop`, the CS limit check) and in the same order of reads, checks and writes, so a
//! fault leaves the same state. The run loop only takes the fast path while nothing is
//! watching individual instructions or accesses (no TF, no debug registers armed, no
//! host breakpoints or watchpoints, no alignment checking, no interrupt shadow, RF
//! clear); see
//! [`Exec::fast_ok`]. `uop_tests.rs` runs random programs with the fast forms on and off
//! and compares the whole machine state.

use super::operand::operand_size;
use super::uop_exec::handler;
use super::Exec;
use crate::fault::Fault;
use crate::flags::{size_mask, Flags};
use crate::interp::operand::{addr16, seg_of};
use crate::memory::Access;
use crate::state::SegReg;
use ferrite_mem::{PAGE_FAST_READ, PAGE_FAST_WRITE, PAGE_SHIFT, PAGE_SIZE};
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic, OpKind, Register};

/// No register in a memory reference's base or index slot.
pub(super) const NO_REG: u8 = 0xFF;

/// Operand kinds, as const parameters of the handlers.
pub(super) const REG: u8 = 0;
pub(super) const MEM: u8 = 1;
pub(super) const IMM: u8 = 2;
/// No operand in that slot.
pub(super) const NONE: u8 = 3;

/// A memory operand: `seg:((disp + base + (index << shift)) & mask)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemRef {
    pub(super) disp: u32,
    pub(super) base: u8,
    pub(super) index: u8,
    pub(super) shift: u8,
    pub(super) seg: SegReg,
    /// 0xFFFF for 16-bit addressing (also applied to the registers), else all ones.
    pub(super) mask: u32,
}

impl MemRef {
    const UNUSED: MemRef = MemRef { disp: 0, base: NO_REG, index: NO_REG, shift: 0, seg: SegReg::Ds, mask: 0 };
}

/// The two-operand arithmetic and logic operations (the handlers' `OP` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AluOp {
    Add = 0,
    Or = 1,
    Adc = 2,
    Sbb = 3,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
    Test = 8,
}

/// What a uop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No fast form: run the instruction through the generic dispatch.
    Generic,
    /// MOV dst, src.
    Mov,
    /// MOVZX dst, src (`src_size` bytes).
    Movzx { src_size: u8 },
    /// MOVSX dst, src (`src_size` bytes).
    Movsx { src_size: u8 },
    /// LEA dst, [mem] (the effective address, written with the operand size).
    Lea,
    /// ADD…CMP and TEST.
    Alu(AluOp),
    /// INC dst.
    Inc,
    /// DEC dst.
    Dec,
    /// ROL/ROR/RCL/RCR/SHL/SAL/SHR/SAR dst, count (an immediate or CL).
    Shift(Mnemonic),
    /// Jcc: the immediate is the delta from the next instruction; the size is the IP width.
    Jcc(ConditionCode),
    /// JMP rel (as Jcc, always taken).
    Jmp,
    /// CALL rel: pushes the return address with the operand size.
    Call,
    /// RET near without a release count.
    Ret,
    /// PUSH src.
    Push,
    /// POP into a register.
    Pop,
    /// IMUL dst, src (two operands) or IMUL dst, src, imm (three).
    Imul { three: bool },
    /// XCHG of two registers.
    Xchg,
    /// LOOP/LOOPE/LOOPNE/JCXZ (`op` 0..3), counting in ECX (`ecx`) or CX.
    Loop { op: u8, ecx: bool },
    /// NOP, including the multi-byte `0F 1F /0` forms (their memory operand is never
    /// accessed).
    Nop,
    /// SETcc r/m8: 1 or 0 from the condition.
    Setcc(ConditionCode),
    /// CMOVcc r16/r32, r/m: the source is read (and may fault) whatever the condition;
    /// the destination is written only when it holds.
    Cmovcc(ConditionCode),
    /// NOT dst (no flags).
    Not,
    /// NEG dst: the flags of `0 - dst`.
    Neg,
}

/// A handler: one fast form's semantics (EIP already points past the instruction). It
/// returns its `Result` packed into a [`Outcome`], which comes back in a register rather
/// than through memory.
pub(crate) type Handler = fn(&mut Exec<'_>, &Uop) -> Outcome;

/// A handler's result: 0 for success, else a packed [`Fault`] (see [`pack`]).
pub(crate) type Outcome = u64;

/// Packs a result: bit 0 = faulted, bits 8..16 = vector, bit 1 = has an error code,
/// bits 32..64 = the error code.
#[inline(always)]
pub(super) fn pack(r: Result<(), Fault>) -> Outcome {
    match r {
        Ok(()) => 0,
        Err(f) => {
            let code = match f.error_code {
                Some(c) => 2 | (c as u64) << 32,
                None => 0,
            };
            1 | (f.vector as u64) << 8 | code
        }
    }
}

/// The result a handler packed with [`pack`].
#[inline(always)]
pub(crate) fn unpack(o: Outcome) -> Result<(), Fault> {
    if o == 0 {
        return Ok(());
    }
    let error_code = if o & 2 != 0 { Some((o >> 32) as u32) } else { None };
    Err(Fault { vector: (o >> 8) as u8, error_code })
}

/// A pre-decoded instruction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Uop {
    /// The fast form's handler; `None` for [`Kind::Generic`].
    pub(crate) run: Option<Handler>,
    pub(crate) kind: Kind,
    /// Operand size in bytes (1, 2, 4).
    pub(super) size: u8,
    /// Instruction length in bytes.
    pub(crate) len: u8,
    /// Register number of the destination (or of a register source for one-operand forms).
    pub(super) dreg: u8,
    /// Register number of a register source.
    pub(super) sreg: u8,
    /// The immediate (or branch delta, or shift count).
    pub(super) imm: u32,
    /// The memory operand, if any.
    pub(super) mem: MemRef,
}

impl Uop {
    /// A uop that runs its instruction through the generic dispatch.
    pub(crate) const GENERIC: Uop =
        Uop { run: None, kind: Kind::Generic, size: 0, len: 0, dreg: 0, sreg: 0, imm: 0, mem: MemRef::UNUSED };
}

/// Lowers a memory operand; `None` when it uses something the fast form does not model.
fn mem_ref(ins: &Instruction) -> Option<MemRef> {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let reg_no = |r: Register| -> Option<u8> {
        if r == Register::None {
            Some(NO_REG)
        } else if r.is_gpr() && matches!(r.size(), 2 | 4) {
            Some(r.number() as u8)
        } else {
            None
        }
    };
    let mask = if addr16(ins) { 0xFFFF } else { 0xFFFF_FFFF };
    // A 16-bit register in a 32-bit address (or the reverse) cannot be encoded; refuse it
    // rather than assume.
    for r in [base, index] {
        if r != Register::None && (r.size() == 2) != (mask == 0xFFFF) {
            return None;
        }
    }
    Some(MemRef {
        disp: ins.memory_displacement32(),
        base: reg_no(base)?,
        index: reg_no(index)?,
        shift: ins.memory_index_scale().trailing_zeros() as u8,
        seg: seg_of(ins.memory_segment()),
        mask,
    })
}

/// One lowered operand: its kind and where its value lives.
struct Operand {
    kind: u8,
    reg: u8,
    imm: u32,
}

/// Lowers operand `i` as `read_op`/`write_op` would see it; a memory operand is stored
/// in `mem` (an instruction has at most one).
fn operand(ins: &Instruction, i: u32, size: u8, mem: &mut MemRef) -> Option<Operand> {
    let imm = |v: u32| Some(Operand { kind: IMM, reg: 0, imm: v & size_mask(size) });
    match ins.op_kind(i) {
        OpKind::Register => {
            let r = ins.op_register(i);
            if !r.is_gpr() || r.size() > 4 {
                return None;
            }
            Some(Operand { kind: REG, reg: r.number() as u8, imm: 0 })
        }
        OpKind::Memory => {
            *mem = mem_ref(ins)?;
            Some(Operand { kind: MEM, reg: 0, imm: 0 })
        }
        OpKind::Immediate8 => imm(ins.immediate8() as u32),
        OpKind::Immediate16 => imm(ins.immediate16() as u32),
        OpKind::Immediate32 => imm(ins.immediate32()),
        OpKind::Immediate8to16 => imm(ins.immediate8to16() as u16 as u32),
        OpKind::Immediate8to32 => imm(ins.immediate8to32() as u32),
        _ => None,
    }
}

/// Lowers one decoded instruction; [`Uop::GENERIC`] when it has no fast form.
pub(crate) fn lower(ins: &Instruction) -> Uop {
    let Some((mut u, dst_kind, src_kind)) = lower_operands(ins) else { return Uop::GENERIC };
    match handler(&u, dst_kind, src_kind) {
        Some(h) => {
            u.run = Some(h);
            u
        }
        None => Uop::GENERIC,
    }
}

/// The uop (without its handler) and the kinds of its destination and source.
fn lower_operands(ins: &Instruction) -> Option<(Uop, u8, u8)> {
    use Mnemonic as M;
    if ins.has_lock_prefix() || ins.is_invalid() {
        return None;
    }
    let len = ins.len() as u8;
    let m = ins.mnemonic();
    let mut u = Uop { len, ..Uop::GENERIC };
    let two = |mut u: Uop, kind: Kind| -> Option<(Uop, u8, u8)> {
        if ins.op_count() != 2 {
            return None;
        }
        let size = operand_size(ins, 0);
        if !matches!(size, 1 | 2 | 4) {
            return None;
        }
        let dst = operand(ins, 0, size, &mut u.mem)?;
        let src = operand(ins, 1, size, &mut u.mem)?;
        if dst.kind == IMM || (dst.kind == MEM && src.kind == MEM) {
            return None;
        }
        u.kind = kind;
        u.size = size;
        u.dreg = dst.reg;
        u.sreg = src.reg;
        u.imm = src.imm;
        Some((u, dst.kind, src.kind))
    };
    let one = |mut u: Uop, kind: Kind| -> Option<(Uop, u8, u8)> {
        if ins.op_count() != 1 {
            return None;
        }
        let size = operand_size(ins, 0);
        let dst = operand(ins, 0, size, &mut u.mem)?;
        if !matches!(size, 1 | 2 | 4) || dst.kind == IMM {
            return None;
        }
        u.kind = kind;
        u.size = size;
        u.dreg = dst.reg;
        Some((u, dst.kind, NONE))
    };
    let branch = |mut u: Uop, kind: Kind| -> Option<(Uop, u8, u8)> {
        u.size = match ins.op0_kind() {
            OpKind::NearBranch16 => 2,
            OpKind::NearBranch32 => 4,
            _ => return None,
        };
        u.kind = kind;
        u.imm = ins.near_branch_target().wrapping_sub(ins.next_ip()) as u32;
        Some((u, NONE, IMM))
    };
    match m {
        M::Mov => two(u, Kind::Mov),
        M::Add => two(u, Kind::Alu(AluOp::Add)),
        M::Or => two(u, Kind::Alu(AluOp::Or)),
        M::Adc => two(u, Kind::Alu(AluOp::Adc)),
        M::Sbb => two(u, Kind::Alu(AluOp::Sbb)),
        M::And => two(u, Kind::Alu(AluOp::And)),
        M::Sub => two(u, Kind::Alu(AluOp::Sub)),
        M::Xor => two(u, Kind::Alu(AluOp::Xor)),
        M::Cmp => two(u, Kind::Alu(AluOp::Cmp)),
        M::Test => two(u, Kind::Alu(AluOp::Test)),
        M::Movzx | M::Movsx => {
            let src_size = operand_size(ins, 1);
            let kind = if m == M::Movzx { Kind::Movzx { src_size } } else { Kind::Movsx { src_size } };
            let (u, d, s) = two(u, kind)?;
            (s != IMM && d == REG && u.size != 1 && matches!(src_size, 1 | 2)).then_some((u, d, s))
        }
        M::Lea => {
            let (u, d, s) = two(u, Kind::Lea)?;
            (d == REG && s == MEM && u.size != 1).then_some((u, d, s))
        }
        M::Inc => one(u, Kind::Inc),
        M::Dec => one(u, Kind::Dec),
        M::Not => one(u, Kind::Not),
        M::Neg => one(u, Kind::Neg),
        _ if crate::classify::is_setcc(m) => {
            let (u, d, s) = one(u, Kind::Setcc(ins.condition_code()))?;
            (u.size == 1).then_some((u, d, s))
        }
        _ if crate::classify::is_cmovcc(m) => {
            let (u, d, s) = two(u, Kind::Cmovcc(ins.condition_code()))?;
            (d == REG && s != IMM && u.size != 1).then_some((u, d, s))
        }
        M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => {
            if ins.op_count() != 2 {
                return None;
            }
            let src = match ins.op1_kind() {
                OpKind::Immediate8 => {
                    u.imm = ins.immediate8() as u32;
                    IMM
                }
                OpKind::Register if ins.op1_register() == Register::CL => REG,
                _ => return None,
            };
            let size = operand_size(ins, 0);
            let dst = operand(ins, 0, size, &mut u.mem)?;
            if !matches!(size, 1 | 2 | 4) || dst.kind == IMM {
                return None;
            }
            u.kind = Kind::Shift(m);
            u.size = size;
            u.dreg = dst.reg;
            Some((u, dst.kind, src))
        }
        M::Jmp => branch(u, Kind::Jmp),
        M::Call => branch(u, Kind::Call),
        _ if crate::classify::is_jcc(m) && ins.is_jcc_short_or_near() => branch(u, Kind::Jcc(ins.condition_code())),
        M::Ret => {
            u.size = match ins.code() {
                Code::Retnw => 2,
                Code::Retnd => 4,
                _ => return None,
            };
            u.kind = Kind::Ret;
            Some((u, NONE, NONE))
        }
        M::Push => {
            let size = (-ins.stack_pointer_increment()) as u8;
            if ins.op_count() != 1 || !matches!(size, 2 | 4) {
                return None;
            }
            // Immediates as read_op gives them (unmasked); push masks to the stack size.
            let src = operand(ins, 0, 4, &mut u.mem)?;
            let src_size = if src.kind == IMM { size } else { operand_size(ins, 0) };
            if src_size != size {
                return None;
            }
            u.kind = Kind::Push;
            u.size = size;
            u.sreg = src.reg;
            u.imm = src.imm;
            Some((u, NONE, src.kind))
        }
        M::Imul if ins.op_count() == 2 || ins.op_count() == 3 => {
            let three = ins.op_count() == 3;
            let size = operand_size(ins, 0);
            let dst = operand(ins, 0, size, &mut u.mem)?;
            let src = operand(ins, 1, size, &mut u.mem)?;
            if !matches!(size, 2 | 4) || dst.kind != REG || src.kind == IMM {
                return None;
            }
            if three {
                let imm = operand(ins, 2, size, &mut u.mem)?;
                if imm.kind != IMM {
                    return None;
                }
                u.imm = imm.imm;
            }
            u.kind = Kind::Imul { three };
            u.size = size;
            u.dreg = dst.reg;
            u.sreg = src.reg;
            Some((u, REG, src.kind))
        }
        M::Xchg => {
            let (u, d, s) = two(u, Kind::Xchg)?;
            (d == REG && s == REG).then_some((u, d, s))
        }
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => {
            let op = match m {
                M::Loop => 0,
                M::Loope => 1,
                M::Loopne => 2,
                _ => 3,
            };
            let ecx = super::control::loop_counts_ecx(ins.code())?;
            branch(u, Kind::Loop { op, ecx })
        }
        M::Nop => {
            u.kind = Kind::Nop;
            Some((u, NONE, NONE))
        }
        M::Pop => {
            let size = ins.stack_pointer_increment() as u8;
            if ins.op_count() != 1
                || ins.op0_kind() != OpKind::Register
                || !matches!(size, 2 | 4)
                || ins.op0_register().size() as u8 != size
            {
                return None;
            }
            let dst = operand(ins, 0, size, &mut u.mem)?;
            u.kind = Kind::Pop;
            u.size = size;
            u.dreg = dst.reg;
            Some((u, REG, NONE))
        }
        _ => None,
    }
}

impl Exec<'_> {
    /// Whether the run loop may take the fast forms: nothing watches single instructions
    /// or single accesses, and no instruction-boundary state is pending.
    #[inline]
    pub(super) fn fast_ok(&self) -> bool {
        let c = &*self.cpu;
        c.eflags & (Flags::TF | Flags::AC | Flags::RF) == 0
            && !c.int_shadow
            && c.dbg.exec_mask == 0
            && !c.dbg.data_armed()
            && !c.hooks.any_break
            && !c.hooks.any_watch
    }

    /// A general-purpose register of `size` bytes, by iced's register number `n` (AH..BH
    /// are 4..7 with size 1). The one place register reads are decoded; `get_reg` uses it.
    #[inline(always)]
    pub(super) fn gpr_get(&self, n: u8, size: u8) -> u32 {
        let n = n as usize & 7;
        match size {
            1 if n >= 4 => (self.cpu.gpr[n - 4] >> 8) & 0xFF,
            1 => self.cpu.gpr[n] & 0xFF,
            2 => self.cpu.gpr[n] & 0xFFFF,
            _ => self.cpu.gpr[n],
        }
    }

    /// Writes a general-purpose register of `size` bytes; narrower writes keep the other
    /// bits. The one place register writes are decoded; `set_reg` uses it.
    #[inline(always)]
    pub(super) fn gpr_set(&mut self, n: u8, size: u8, v: u32) {
        let n = n as usize & 7;
        match size {
            1 if n >= 4 => {
                let g = &mut self.cpu.gpr[n - 4];
                *g = (*g & !0xFF00) | ((v & 0xFF) << 8);
            }
            1 => {
                let g = &mut self.cpu.gpr[n];
                *g = (*g & !0xFF) | (v & 0xFF);
            }
            2 => {
                let g = &mut self.cpu.gpr[n];
                *g = (*g & !0xFFFF) | (v & 0xFFFF);
            }
            _ => self.cpu.gpr[n] = v,
        }
    }

    /// The effective address of a memory reference (`ea`).
    #[inline(always)]
    pub(super) fn uop_ea(&self, m: &MemRef) -> u32 {
        let mut a = m.disp;
        if m.base != NO_REG {
            a = a.wrapping_add(self.cpu.gpr[m.base as usize & 7] & m.mask);
        }
        if m.index != NO_REG {
            a = a.wrapping_add((self.cpu.gpr[m.index as usize & 7] & m.mask) << m.shift);
        }
        a & m.mask
    }

    /// `linear` for a data access (a write when `WRITE`) with the common case tested
    /// first: a present, expand-up data segment (writable, for a write) and the access
    /// inside its limit need nothing but the limit compare, in real and protected mode
    /// alike, since `linear` then checks exactly that. Anything else (expand-down, code,
    /// not present, read-only for a write, beyond the limit) takes `linear`, which
    /// decides and raises the fault.
    #[inline(always)]
    pub(super) fn uop_linear<const WRITE: bool>(&self, seg: SegReg, off: u32, size: u8) -> Result<u32, Fault> {
        use crate::descriptor::access as a;
        const MASK: u8 = a::PRESENT | a::CODE_DATA | a::CODE | a::CONFORMING_OR_EXPAND_DOWN;
        let s = &self.cpu.seg[seg as usize];
        let (mask, want) = if WRITE {
            (MASK | a::READ_WRITE, a::PRESENT | a::CODE_DATA | a::READ_WRITE)
        } else {
            (MASK, a::PRESENT | a::CODE_DATA)
        };
        if s.attrs as u8 & mask == want && off as u64 + size as u64 - 1 <= s.limit as u64 {
            return Ok(s.base.wrapping_add(off));
        }
        self.linear(seg, off, size, if WRITE { Access::Write } else { Access::Read })
    }

    /// `read_mem` while `fast_ok` holds (no alignment check, no debug or watch notes to
    /// make): plain RAM in one page is read straight from the page-access table's RAM.
    #[inline(always)]
    pub(super) fn uop_read(&mut self, seg: SegReg, off: u32, size: u8) -> Result<u32, Fault> {
        let lin = self.uop_linear::<false>(seg, off, size)?;
        if (lin & (PAGE_SIZE - 1)) + size as u32 > PAGE_SIZE {
            return self.lin_read(lin, size, Access::Read);
        }
        let p = self.translate(lin, Access::Read)?;
        if self.mem.a20_mask() == !0 && self.mem.page_access_table()[(p >> PAGE_SHIFT) as usize] & PAGE_FAST_READ != 0 {
            let ram = self.mem.ram();
            let o = p as usize;
            return Ok(match size {
                1 => ram[o] as u32,
                2 => u16::from_le_bytes([ram[o], ram[o + 1]]) as u32,
                _ => u32::from_le_bytes([ram[o], ram[o + 1], ram[o + 2], ram[o + 3]]),
            });
        }
        Ok(self.phys_read(p, size))
    }

    /// `push` while `fast_ok` holds: the store goes through [`Exec::uop_write`].
    #[inline(always)]
    pub(super) fn uop_push(&mut self, size: u8, v: u32) -> Result<(), Fault> {
        let sp = self.sp().wrapping_sub(size as u32) & self.stack_mask();
        self.uop_write(SegReg::Ss, sp, size, v & size_mask(size))?;
        self.set_sp(sp);
        Ok(())
    }

    /// `pop` while `fast_ok` holds.
    #[inline(always)]
    pub(super) fn uop_pop(&mut self, size: u8) -> Result<u32, Fault> {
        let sp = self.sp();
        let v = self.uop_read(SegReg::Ss, sp, size)?;
        self.set_sp(sp.wrapping_add(size as u32));
        Ok(v)
    }

    /// `write_mem` while `fast_ok` holds: plain RAM that holds no decoded code is written
    /// straight (no code-page tracking is needed for it); any other goes through
    /// `phys_write`, which sets `end_block` when it reaches decoded code or MMIO.
    #[inline(always)]
    pub(super) fn uop_write(&mut self, seg: SegReg, off: u32, size: u8, v: u32) -> Result<(), Fault> {
        let lin = self.uop_linear::<true>(seg, off, size)?;
        if (lin & (PAGE_SIZE - 1)) + size as u32 > PAGE_SIZE {
            return self.lin_write(lin, size, v);
        }
        let p = self.translate(lin, Access::Write)?;
        if self.mem.a20_mask() == !0 && self.mem.page_access_table()[(p >> PAGE_SHIFT) as usize] & PAGE_FAST_WRITE != 0
        {
            let o = p as usize;
            let ram = self.mem.ram_mut();
            ram[o..o + size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]);
            return Ok(());
        }
        self.phys_write(p, size, v);
        Ok(())
    }
}
