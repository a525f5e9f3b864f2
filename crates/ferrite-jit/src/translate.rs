//! Translating one guest basic block: decode from guest memory, plan each instruction,
//! run the flag-liveness pass, and emit host code (main path first, then the out-of-line
//! budget exit, slow paths and exit stubs).

// `dynasm!` converts dynamic register numbers with `.into()`, which clippy flags.
#![allow(clippy::useless_conversion)]

use crate::ctx::{off, ExitReason};
use crate::emit::{self, Access, Asm, FlagsAt, ProbeMode};
use crate::flagfix;
use crate::plan::{self, IndirectSrc, Kind, PlanMode, PushSrc, StringOp};
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};
use ferrite_mem::{PhysMem, Target, PAGE_SIZE};
use iced_x86::{ConditionCode, Decoder, DecoderError, DecoderOptions, Instruction};

/// Most guest instructions in one translated block.
pub(crate) const MAX_BLOCK_INSNS: usize = 32;
/// Longest x86 instruction.
const MAX_INSN_LEN: usize = 15;
/// Segment register number of SS.
const SS: usize = 2;

/// Everything the translator needs about where and how the block runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockSpec {
    /// Guest EIP of the first instruction.
    pub(crate) eip: u32,
    /// Physical address of the first byte (A20 not yet applied).
    pub(crate) phys: u32,
    /// 32-bit code segment.
    pub(crate) code32: bool,
    /// Mode facts for branch targets and the stack.
    pub(crate) plan: PlanMode,
    /// Mode facts for probes.
    pub(crate) probe: ProbeMode,
    /// CS base (for jump-cache lookups under paging).
    pub(crate) cs_base: u32,
    /// The block's mode id (CS base, CS limit, mode bits), for jump-cache lookups.
    pub(crate) mode_id: u32,
}

/// A patchable block exit: a `jmp rel32` at `site` that initially goes to `stub`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExitSite {
    /// Code-buffer offset of the `jmp rel32`.
    pub(crate) site: usize,
    /// Code-buffer offset of the stub that returns to the dispatcher.
    pub(crate) stub: usize,
}

/// A translated block, assembled for a given code-buffer offset.
#[derive(Debug)]
pub(crate) struct Translated {
    /// The host code.
    pub(crate) code: Vec<u8>,
    /// Guest instructions in the block (for `--jit-dump`).
    pub(crate) guest: Vec<Instruction>,
    /// Patchable exits.
    pub(crate) exits: Vec<ExitSite>,
}

/// Decodes and plans the block; returns `None` when not even its first instruction can be
/// translated (the dispatcher then lets the interpreter run it).
pub(crate) fn decode_block(mem: &PhysMem, spec: &BlockSpec) -> Option<Vec<(Instruction, Kind)>> {
    let bitness = if spec.code32 { 32 } else { 16 };
    if !matches!(mem.resolve(spec.phys), Target::Ram(_) | Target::Rom(_)) {
        return None;
    }
    let mut out: Vec<(Instruction, Kind)> = Vec::new();
    let mut eip = spec.eip;
    let mut phys = spec.phys;
    while out.len() < MAX_BLOCK_INSNS {
        let page_left = (PAGE_SIZE - (phys & (PAGE_SIZE - 1))) as usize;
        let mut bytes = [0u8; MAX_INSN_LEN];
        let n = page_left.min(MAX_INSN_LEN);
        mem.read_bytes(phys, &mut bytes[..n]);
        let mut dec = Decoder::with_ip(bitness, &bytes[..n], eip as u64, DecoderOptions::NO_INVALID_CHECK);
        let ins = dec.decode();
        let len = ins.len() as u32;
        if ins.is_invalid() && dec.last_error() == DecoderError::NoMoreBytes && n == page_left && n < MAX_INSN_LEN {
            // The instruction runs on into the next page, whose physical address (and
            // bytes) this block is not keyed by: the interpreter runs it from inside the
            // block, fetching both parts itself, and the block ends after it through the
            // jump cache (its length is not known here).
            let mut straddle = Instruction::default();
            straddle.set_len(0);
            straddle.set_ip(eip as u64);
            out.push((straddle, Kind::Straddle));
            break;
        }
        if ins.is_invalid() || len == 0 || len as usize > n {
            break;
        }
        let last = eip as u64 + len as u64 - 1;
        let limit = if spec.code32 { spec.plan.cs_limit as u64 } else { (spec.plan.cs_limit as u64).min(0xFFFF) };
        if last > limit {
            break;
        }
        // Whatever the translator does not handle natively, the interpreter runs from
        // inside the block.
        let kind = plan::plan(&ins, spec.plan)
            .unwrap_or(Kind::Step { ends: ins.flow_control() != iced_x86::FlowControl::Next });
        let ends = kind.ends_block();
        out.push((ins, kind));
        if ends {
            break;
        }
        eip = eip.wrapping_add(len);
        phys = phys.wrapping_add(len);
        if phys & (PAGE_SIZE - 1) == 0 {
            break;
        }
    }
    // Instructions whose host flags may differ from the interpreter's for flags the SDM
    // leaves undefined are kept native as they are where those flags are dead. Where they
    // are live, a flag fix-up follows the native instruction; without one the instruction
    // becomes an interpreter step inside the block, and liveness is checked again (a step
    // reads every flag, so earlier ones may now be live).
    loop {
        let live = plan::liveness(&out);
        let bad = out.iter().enumerate().position(|(i, (ins, kind))| {
            matches!(kind, Kind::Native { fix: None, .. }) && plan::host_divergent_flags(ins) & live[i + 1] != 0
        });
        let Some(i) = bad else { break };
        let planned = flagfix::plan(&out[i].0);
        match (&mut out[i].1, planned) {
            (Kind::Native { fix, .. }, Some(f)) => *fix = Some(f),
            (kind, _) => *kind = Kind::Step { ends: false },
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Emits host code for a planned block that will live at code-buffer offset `at` (host
/// address `base + at`); `exit_stub` is the common exit's host address.
pub(crate) fn emit_block(
    insns: &[(Instruction, Kind)],
    spec: &BlockSpec,
    base: usize,
    at: usize,
    exit_stub: usize,
    helpers: emit::HelperStubs,
) -> Result<Translated, String> {
    let mut e = Emitter {
        ops: Asm::new(base + at),
        spec: *spec,
        at,
        exit_stub,
        helpers,
        slow: Vec::new(),
        misses: Vec::new(),
        sites: Vec::new(),
        leaves: Vec::new(),
    };
    let live = plan::liveness(insns);
    let n = insns.len() as u32;
    let budget_exit = e.ops.new_dynamic_label();
    emit::charge_budget(&mut e.ops, n, budget_exit);
    let mut ended = false;
    let mut next_eip = spec.eip;
    for (i, (ins, kind)) in insns.iter().enumerate() {
        let i = i as u32;
        let eip = ins.ip() as u32;
        next_eip = mask_ip(ins.next_ip() as u32, spec.code32);
        let flags = if live[i as usize] != 0 { FlagsAt::Saved } else { FlagsAt::Host };
        let first_slow = e.slow.len();
        match kind {
            Kind::Nothing => {}
            Kind::SetFlag { bit, set } => {
                // The AND/OR would clobber the guest's arithmetic flags in host EFLAGS;
                // save them around it only where they are live.
                let live_flags = live[i as usize] != 0;
                if live_flags {
                    emit::save_flags(&mut e.ops);
                }
                if *set {
                    dynasm!(e.ops ; .arch x64 ; or DWORD [r15 + off::EFLAGS], *bit as i32);
                } else {
                    dynasm!(e.ops ; .arch x64 ; and DWORD [r15 + off::EFLAGS], !*bit as i32);
                }
                if live_flags {
                    emit::restore_flags(&mut e.ops);
                }
            }
            Kind::Native { host, mem, fix } => {
                if let Some(acc) = mem {
                    let retry = e.here();
                    emit::effective_address(&mut e.ops, ins).map_err(|x| x.to_string())?;
                    e.probe(*acc, flags, i, eip, retry);
                }
                emit::encode(&mut e.ops, host).map_err(|x| x.to_string())?;
                // Only after the native form: a slow path resumes past it with the
                // interpreter's flags already in place.
                if let Some(fix) = fix {
                    flagfix::emit(&mut e.ops, *fix);
                }
            }
            Kind::Lea { dest, size } => {
                emit::effective_address(&mut e.ops, ins).map_err(|x| x.to_string())?;
                if *size == 4 {
                    dynasm!(e.ops ; .arch x64 ; mov Rd(*dest), r8d);
                } else {
                    dynasm!(e.ops ; .arch x64 ; mov Rw(*dest), r8w);
                }
            }
            Kind::Push { src: PushSrc::Mem(acc), size } => {
                // Read the operand (its address uses ESP before the push), then push it.
                let retry = e.here();
                emit::effective_address(&mut e.ops, ins).map_err(|x| x.to_string())?;
                e.probe(*acc, flags, i, eip, retry);
                e.load_top(*size);
                dynasm!(e.ops ; .arch x64 ; mov DWORD [r13 + off::PUSH_VALUE], r9d);
                e.push(PushSrc::Stashed, *size, flags, i, eip);
            }
            Kind::Push { src, size } => e.push(*src, *size, flags, i, eip),
            Kind::Pop { dest, size } => e.pop(*dest, *size, flags, i, eip),
            Kind::Leave { size } => e.leave(*size, flags, i, eip),
            Kind::StringOne { op, acc, addr32 } => e.string_one(*op, *acc, *addr32, flags, i, eip),
            Kind::Jcc { cond, target } => {
                let taken = e.ops.new_dynamic_label();
                e.jcc(*cond, taken);
                e.site_exit(next_eip);
                dynasm!(e.ops ; .arch x64 ; =>taken);
                e.site_exit(*target);
                ended = true;
            }
            Kind::Jmp { target } => {
                e.site_exit(*target);
                ended = true;
            }
            Kind::Call { target, size } => {
                e.push(PushSrc::Imm(next_eip), *size, flags, i, eip);
                e.site_exit(*target);
                ended = true;
            }
            Kind::Loop { target } => {
                // ECX -= 1 without touching flags; JRCXZ sees all of RCX, whose upper half
                // is zero (the 32-bit LEA clears it).
                let done = e.ops.new_dynamic_label();
                dynasm!(e.ops
                    ; .arch x64
                    ; lea ecx, [rcx - 1]
                    ; jrcxz =>done
                );
                e.site_exit(*target);
                dynasm!(e.ops ; .arch x64 ; =>done);
                e.site_exit(next_eip);
                ended = true;
            }
            Kind::Straddle => {
                e.straddle(n - i, eip);
                ended = true;
            }
            Kind::Step { ends } => {
                e.step(n - i, eip, next_eip);
                if *ends {
                    e.site_exit(next_eip);
                    ended = true;
                }
            }
            Kind::RepString { desc } => {
                e.rep_string(*desc, i, eip, next_eip);
                ended = true;
            }
            Kind::Ret { size, release } => {
                e.ret(*size, *release, i, eip);
                ended = true;
            }
            Kind::Indirect { src, size, call } => {
                e.indirect(ins, *src, *size, call.then_some(next_eip), i, eip)?;
                ended = true;
            }
        }
        // A slow path of a plain instruction (not a block end) runs it in the
        // interpreter from inside the block and comes back right after it.
        if matches!(
            kind,
            Kind::Native { .. } | Kind::Push { .. } | Kind::Pop { .. } | Kind::Leave { .. } | Kind::StringOne { .. }
        ) && e.slow.len() > first_slow
        {
            let resume = e.ops.new_dynamic_label();
            dynasm!(e.ops ; .arch x64 ; =>resume);
            for s in &mut e.slow[first_slow..] {
                s.resume = Some((resume, next_eip));
            }
        }
    }
    if !ended {
        // The block stopped before an instruction it does not translate, at a page end or
        // at the length cap: leave with the next EIP (chainable).
        e.site_exit(next_eip);
    }
    // Out of line: the budget exit (nothing ran; the flags are the predecessor's), slow
    // paths, exit stubs (which write the flags back for the dispatcher).
    dynasm!(e.ops ; .arch x64 ; =>budget_exit);
    emit::capture_flags(&mut e.ops);
    emit::unretire(&mut e.ops, n);
    emit::exit_to(&mut e.ops, spec.eip, ExitReason::Budget, exit_stub);
    for m in std::mem::take(&mut e.misses) {
        e.miss_path(m);
    }
    for s in std::mem::take(&mut e.slow) {
        dynasm!(e.ops ; .arch x64 ; =>s.label);
        match s.resume {
            None => emit::slow_path(&mut e.ops, s.flags, n - s.retired, s.eip, exit_stub),
            Some((resume, next)) => {
                if s.flags == FlagsAt::Saved {
                    emit::restore_flags(&mut e.ops);
                }
                e.step(n - s.retired, s.eip, next);
                dynasm!(e.ops ; .arch x64 ; jmp =>resume);
            }
        }
    }
    for leave in std::mem::take(&mut e.leaves) {
        dynasm!(e.ops
            ; .arch x64
            ; =>leave
            ; mov DWORD [r13 + off::EXIT_REASON], ExitReason::Branch as i32
            ; mov DWORD [r13 + off::EXIT_SITE], crate::ctx::NO_SITE as i32
            ; jmp extern exit_stub
        );
    }
    let mut exits = Vec::new();
    let page = |eip: u32| spec.cs_base.wrapping_add(eip) >> 12;
    for (site, label, eip) in std::mem::take(&mut e.sites) {
        let stub = at + e.ops.offset().0;
        dynasm!(e.ops ; .arch x64 ; =>label);
        emit::capture_flags(&mut e.ops);
        if spec.probe.paging && page(eip) != page(spec.eip) {
            // A direct branch to another linear page is never chained (the page may be
            // remapped); the jump cache, which checks the mapping, finds the target
            // without a trip through the dispatcher.
            dynasm!(e.ops
                ; .arch x64
                ; mov DWORD [r15 + off::EIP], eip as i32
                ; mov r9d, eip as i32
            );
            e.jump_cache_lookup();
            continue;
        }
        dynasm!(e.ops
            ; .arch x64
            ; mov DWORD [r15 + off::EIP], eip as i32
            ; mov DWORD [r13 + off::EXIT_SITE], site as i32
            ; mov DWORD [r13 + off::EXIT_REASON], ExitReason::Branch as i32
            ; jmp extern exit_stub
        );
        exits.push(crate::translate::ExitSite { site, stub });
    }
    let code = e.ops.finalize().map_err(|x| format!("{x:?}"))?;
    Ok(Translated { code, guest: insns.iter().map(|(i, _)| *i).collect(), exits })
}

/// EIP arithmetic wraps at 64 KiB in 16-bit code.
fn mask_ip(ip: u32, code32: bool) -> u32 {
    if code32 {
        ip
    } else {
        ip & 0xFFFF
    }
}

/// A slow path to emit out of line.
struct Slow {
    label: DynamicLabel,
    flags: FlagsAt,
    retired: u32,
    eip: u32,
    /// Where the block resumes after the interpreter ran the instruction from inside the
    /// block, and that instruction's next EIP; `None`: leave for the dispatcher instead.
    resume: Option<(DynamicLabel, u32)>,
}

/// A soft-TLB miss path to emit out of line: the MMU fill, then the probe again from
/// `retry`, or the access's slow path `slow` when the fill cannot make it hit.
struct Miss {
    label: DynamicLabel,
    retry: DynamicLabel,
    slow: DynamicLabel,
    /// The probe saved the host flags ([`emit::save_flags`]).
    saved: bool,
    /// `helpers::tlb_fill`'s descriptor: size, and whether the access writes.
    desc: u32,
}

/// Emission state for one block.
struct Emitter {
    ops: Asm,
    spec: BlockSpec,
    at: usize,
    exit_stub: usize,
    /// Host addresses of the shared helper stubs.
    helpers: emit::HelperStubs,
    slow: Vec<Slow>,
    misses: Vec<Miss>,
    /// Patchable exits: offset of the `jmp rel32`, its stub's label, the guest EIP.
    sites: Vec<(usize, DynamicLabel, u32)>,
    /// Exits after an interpreter step that must return to the dispatcher (`cpu.eip`
    /// and the flags are already in the vCPU).
    leaves: Vec<DynamicLabel>,
}

impl Emitter {
    /// A label bound at the current position.
    fn here(&mut self) -> DynamicLabel {
        let l = self.ops.new_dynamic_label();
        dynasm!(self.ops ; .arch x64 ; =>l);
        l
    }

    /// Probes the access whose offset is in R8D; its slow path re-runs instruction `i` at
    /// `eip` in the interpreter. A soft-TLB miss first calls the MMU fill and, when that
    /// makes the access hit, starts again at `retry` (where the offset is computed, with
    /// the flags as they were there).
    fn probe(&mut self, acc: Access, flags: FlagsAt, i: u32, eip: u32, retry: DynamicLabel) {
        let label = self.ops.new_dynamic_label();
        let miss = self.ops.new_dynamic_label();
        let saved = flags == FlagsAt::Saved;
        emit::probe(&mut self.ops, acc, self.spec.probe, saved, label, miss);
        self.slow.push(Slow { label, flags, retired: i, eip, resume: None });
        if self.spec.probe.paging {
            let desc = acc.size | if acc.write { crate::helpers::FILL_WRITE } else { 0 };
            self.misses.push(Miss { label: miss, retry, slow: label, saved, desc });
        }
    }

    /// A miss path: R8D is the linear address; guest registers are in host registers,
    /// the flags where `saved` says. Calls `helpers::tlb_fill` (host stack 16-byte
    /// aligned) and retries the probe, or falls into the access's slow path with the
    /// flags as the probe left them.
    fn miss_path(&mut self, m: Miss) {
        dynasm!(self.ops
            ; .arch x64
            ; =>m.label
            ; mov r9d, m.desc as i32
            ; call extern self.helpers.fill
            ; test r8d, r8d
            ; jz =>m.slow
        );
        if m.saved {
            emit::restore_flags(&mut self.ops);
        }
        dynasm!(self.ops ; .arch x64 ; jmp =>m.retry);
    }

    /// PUSH: store at SS:(SP - size), then move SP (so a fault leaves SP alone).
    fn push(&mut self, src: PushSrc, size: u32, flags: FlagsAt, i: u32, eip: u32) {
        let size_i = size as i32;
        let retry = self.here();
        dynasm!(self.ops ; .arch x64 ; lea r8d, [r12 - size_i]);
        if !self.spec.plan.ss32 {
            dynasm!(self.ops ; .arch x64 ; movzx r8d, r8w);
        }
        self.probe(Access { seg: SS, size, write: true }, flags, i, eip, retry);
        match (src, size) {
            (PushSrc::Reg(r), 4) => dynasm!(self.ops ; .arch x64 ; mov DWORD [r8], Rd(r)),
            (PushSrc::Reg(r), _) => dynasm!(self.ops ; .arch x64 ; mov WORD [r8], Rw(r)),
            (PushSrc::Imm(v), 4) => dynasm!(self.ops ; .arch x64 ; mov DWORD [r8], v as i32),
            (PushSrc::Imm(v), _) => dynasm!(self.ops ; .arch x64 ; mov WORD [r8], v as i16),
            (PushSrc::Stashed, 4) => dynasm!(self.ops
                ; .arch x64
                ; mov r9d, DWORD [r13 + off::PUSH_VALUE]
                ; mov DWORD [r8], r9d
            ),
            (PushSrc::Stashed, _) => dynasm!(self.ops
                ; .arch x64
                ; mov r9d, DWORD [r13 + off::PUSH_VALUE]
                ; mov WORD [r8], r9w
            ),
            (PushSrc::Mem(_), _) => unreachable!("a PUSH from memory is split by its caller"),
        }
        self.add_sp(-size_i);
    }

    /// POP: load from SS:SP, move SP, then write the destination (POP ESP keeps the value).
    fn pop(&mut self, dest: u8, size: u32, flags: FlagsAt, i: u32, eip: u32) {
        let retry = self.here();
        self.stack_top();
        self.probe(Access { seg: SS, size, write: false }, flags, i, eip, retry);
        self.load_top(size);
        self.add_sp(size as i32);
        if size == 4 {
            dynasm!(self.ops ; .arch x64 ; mov Rd(dest), r9d);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov Rw(dest), r9w);
        }
    }

    /// LEAVE: load from SS:BP (BP masked to the stack size), then SP = BP + size (only
    /// SP's low half on a 16-bit stack) and BP (or EBP) = the value; a fault leaves both
    /// untouched.
    fn leave(&mut self, size: u32, flags: FlagsAt, i: u32, eip: u32) {
        let retry = self.here();
        if self.spec.plan.ss32 {
            dynasm!(self.ops ; .arch x64 ; mov r8d, ebp);
        } else {
            dynasm!(self.ops ; .arch x64 ; movzx r8d, bp);
        }
        self.probe(Access { seg: SS, size, write: false }, flags, i, eip, retry);
        self.load_top(size);
        let size_i = size as i32;
        if self.spec.plan.ss32 {
            dynasm!(self.ops ; .arch x64 ; lea r12d, [rbp + size_i]);
        } else {
            dynasm!(self.ops
                ; .arch x64
                ; lea r10d, [rbp + size_i]
                ; mov r12w, r10w
            );
        }
        if size == 4 {
            dynasm!(self.ops ; .arch x64 ; mov ebp, r9d);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov bp, r9w);
        }
    }

    /// LODS/STOS/SCAS: the element through the probe at seg:(E)SI or ES:(E)DI, then the
    /// index register moved by ±size after DF (`JitCtx::df_step`, no host flags touched;
    /// SCAS's compare sets them as the guest's CMP would).
    fn string_one(&mut self, op: StringOp, acc: Access, addr32: bool, flags: FlagsAt, i: u32, eip: u32) {
        // Host register numbers: ESI 6, EDI 7.
        let index: u8 = if op == StringOp::Lods { 6 } else { 7 };
        let retry = self.here();
        if addr32 {
            dynasm!(self.ops ; .arch x64 ; mov r8d, Rd(index));
        } else {
            dynasm!(self.ops ; .arch x64 ; movzx r8d, Rw(index));
        }
        self.probe(acc, flags, i, eip, retry);
        match (op, acc.size) {
            (StringOp::Lods, 1) => dynasm!(self.ops ; .arch x64 ; mov al, BYTE [r8]),
            (StringOp::Lods, 2) => dynasm!(self.ops ; .arch x64 ; mov ax, WORD [r8]),
            (StringOp::Lods, _) => dynasm!(self.ops ; .arch x64 ; mov eax, DWORD [r8]),
            (StringOp::Stos, 1) => dynasm!(self.ops ; .arch x64 ; mov BYTE [r8], al),
            (StringOp::Stos, 2) => dynasm!(self.ops ; .arch x64 ; mov WORD [r8], ax),
            (StringOp::Stos, _) => dynasm!(self.ops ; .arch x64 ; mov DWORD [r8], eax),
            (StringOp::Scas, 1) => dynasm!(self.ops ; .arch x64 ; cmp al, BYTE [r8]),
            (StringOp::Scas, 2) => dynasm!(self.ops ; .arch x64 ; cmp ax, WORD [r8]),
            (StringOp::Scas, _) => dynasm!(self.ops ; .arch x64 ; cmp eax, DWORD [r8]),
        }
        dynasm!(self.ops
            ; .arch x64
            ; movzx r9d, BYTE [r15 + off::EFLAGS + 1]
            ; movsx r9d, BYTE [r13 + r9 + off::DF_STEP]
        );
        match (acc.size, addr32) {
            (1, true) => dynasm!(self.ops ; .arch x64 ; lea Rd(index), [Rq(index) + r9]),
            (2, true) => dynasm!(self.ops ; .arch x64 ; lea Rd(index), [Rq(index) + r9 * 2]),
            (_, true) => dynasm!(self.ops ; .arch x64 ; lea Rd(index), [Rq(index) + r9 * 4]),
            (1, false) => dynasm!(self.ops ; .arch x64 ; lea r10d, [Rq(index) + r9]),
            (2, false) => dynasm!(self.ops ; .arch x64 ; lea r10d, [Rq(index) + r9 * 2]),
            (_, false) => dynasm!(self.ops ; .arch x64 ; lea r10d, [Rq(index) + r9 * 4]),
        }
        if !addr32 {
            dynasm!(self.ops ; .arch x64 ; mov Rw(index), r10w);
        }
    }

    /// A branch target in R9D beyond the CS limit (#GP) leaves the whole instruction
    /// `i` at `eip` to the interpreter (flags already captured); nothing has changed yet.
    fn check_target_in_cs(&mut self, i: u32, eip: u32) {
        let label = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; cmp r9d, self.spec.plan.cs_limit as i32
            ; ja =>label
        );
        self.slow.push(Slow { label, flags: FlagsAt::Captured, retired: i, eip, resume: None });
    }

    /// RET: flags go back to the vCPU first, then the return address is read and checked
    /// against the CS limit before anything changes.
    fn ret(&mut self, size: u32, release: u32, i: u32, eip: u32) {
        emit::capture_flags(&mut self.ops);
        let retry = self.here();
        self.stack_top();
        self.probe(Access { seg: SS, size, write: false }, FlagsAt::Captured, i, eip, retry);
        self.load_top(size);
        self.check_target_in_cs(i, eip);
        self.add_sp((size + release) as i32);
        dynasm!(self.ops ; .arch x64 ; mov DWORD [r15 + off::EIP], r9d);
        self.jump_cache_lookup();
    }

    /// JMP/CALL through a register or memory: flags back to the vCPU, the target read
    /// (through the probe) and checked against the CS limit, for a CALL the return
    /// address `ret` pushed, all before anything of the guest changes (a slow path leaves
    /// the whole instruction to the interpreter); then the jump cache.
    fn indirect(
        &mut self,
        ins: &Instruction,
        src: IndirectSrc,
        size: u32,
        ret: Option<u32>,
        i: u32,
        eip: u32,
    ) -> Result<(), String> {
        emit::capture_flags(&mut self.ops);
        match src {
            IndirectSrc::Reg(r) => {
                if size == 4 {
                    dynasm!(self.ops ; .arch x64 ; mov r9d, Rd(r));
                } else {
                    dynasm!(self.ops ; .arch x64 ; movzx r9d, Rw(r));
                }
            }
            IndirectSrc::Mem(acc) => {
                let retry = self.here();
                emit::effective_address(&mut self.ops, ins).map_err(|x| x.to_string())?;
                self.probe(acc, FlagsAt::Captured, i, eip, retry);
                self.load_top(size);
            }
        }
        self.check_target_in_cs(i, eip);
        dynasm!(self.ops ; .arch x64 ; mov DWORD [r15 + off::EIP], r9d);
        if let Some(ret) = ret {
            // The push's probe clobbers R8-R10; the target waits in `cpu.eip`.
            self.push(PushSrc::Imm(ret), size, FlagsAt::Captured, i, eip);
            dynasm!(self.ops ; .arch x64 ; mov r9d, DWORD [r15 + off::EIP]);
        }
        self.jump_cache_lookup();
        Ok(())
    }

    /// An indirect branch whose target EIP is in R9D (already in `cpu.eip`, flags
    /// captured, instructions retired): jump straight to the target's translation when
    /// the jump cache has it for this mode (and, with paging, the target's linear page
    /// still maps to the same physical page), else return to the dispatcher.
    fn jump_cache_lookup(&mut self) {
        use crate::ctx::JUMP_CACHE_ENTRIES;
        const _: () = assert!(off::JUMP_ENTRY_SIZE == 24, "the lookup scales the slot by 3 * 8");
        let miss = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; mov r8d, r9d
            ; and r8d, (JUMP_CACHE_ENTRIES - 1) as i32
            ; lea r8, [r8 + r8 * 2]
            ; lea r8, [r13 + r8 * 8 + off::JUMP_CACHE]
            ; cmp DWORD [r8], r9d
            ; jne =>miss
            ; cmp DWORD [r8 + off::JUMP_MODE], self.spec.mode_id as i32
            ; jne =>miss
        );
        if self.spec.probe.paging {
            let class = off::tlb_class(self.spec.probe.user);
            dynasm!(self.ops
                ; .arch x64
                ; lea r10d, [r9 + self.spec.cs_base as i32]
                ; mov r9d, r10d
                ; shr r9d, 12
                ; and r9d, (ferrite_cpu::soft_tlb::TLB_ENTRIES - 1) as i32
                ; lea r9d, [r9 + r9 * 4]
                ; and r10d, !0xFFFu32 as i32
                ; cmp r10d, DWORD [r15 + r9 * 4 + class + off::TLB_EXEC_TAG]
                ; jne =>miss
                ; add r10d, DWORD [r15 + r9 * 4 + class + off::TLB_ADDEND]
                ; cmp r10d, DWORD [r8 + off::JUMP_PHYS]
                ; jne =>miss
            );
        }
        // Blocks expect the guest flags in host EFLAGS.
        emit::load_flags(&mut self.ops);
        dynasm!(self.ops
            ; .arch x64
            ; jmp QWORD [r8 + off::JUMP_HOST]
            ; =>miss
            ; mov DWORD [r13 + off::EXIT_REASON], ExitReason::Branch as i32
            ; mov DWORD [r13 + off::EXIT_SITE], crate::ctx::NO_SITE as i32
            ; jmp extern self.exit_stub
        );
    }

    /// The interpreter runs the instruction at `eip` (`helpers::step_one`), `left`
    /// instructions before the block's end; the block goes on if it fell through to
    /// `next_eip` with nothing the block depends on changed, else leaves for the
    /// dispatcher at whatever EIP the step left.
    fn step(&mut self, left: u32, eip: u32, next_eip: u32) {
        let leave = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; mov DWORD [r15 + off::EIP], eip as i32
            ; mov r10d, left as i32
            ; mov r11d, next_eip as i32
            ; call extern self.helpers.step
            ; test r8d, r8d
            ; jz =>leave
            ; call extern self.helpers.load_flags
        );
        self.leaves.push(leave);
    }

    /// The interpreter runs the page-crossing instruction at `eip`, `left` instructions
    /// before the block's end, wherever it leads; with nothing the block depends on
    /// changed, the block ends through the jump cache at the new EIP, else leaves for the
    /// dispatcher.
    fn straddle(&mut self, left: u32, eip: u32) {
        let leave = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; mov DWORD [r15 + off::EIP], eip as i32
            ; mov r10d, (left | crate::helpers::STEP_ANY_EIP) as i32
            ; mov r11d, 0 // not XOR: the stub captures the guest's flags first
            ; call extern self.helpers.step
            ; test r8d, r8d
            ; jz =>leave
            ; mov r9d, DWORD [r15 + off::EIP]
        );
        self.leaves.push(leave);
        self.jump_cache_lookup();
    }

    /// REP MOVS/STOS: one execution through `helpers::rep_string` with the guest
    /// registers spilled; when it cannot take the fast path (or DF is set) the
    /// interpreter runs the instruction. Afterwards the block goes on at the instruction
    /// itself while ECX is not zero (the next slice), else at the next one.
    fn rep_string(&mut self, desc: u32, i: u32, eip: u32, next_eip: u32) {
        emit::capture_flags(&mut self.ops);
        let slow = self.ops.new_dynamic_label();
        self.slow.push(Slow { label: slow, flags: FlagsAt::Captured, retired: i, eip, resume: None });
        dynasm!(self.ops
            ; .arch x64
            ; test DWORD [r15 + off::EFLAGS], ferrite_cpu::Flags::DF as i32
            ; jnz =>slow
        );
        emit::spill_gprs(&mut self.ops);
        let helper = crate::helpers::rep_string as *const () as usize as i64;
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, r15
            ; mov rsi, r13
            ; mov edx, desc as i32
            ; mov rax, QWORD helper
            ; call rax
            ; mov r11, QWORD [r13 + off::PAGE_ACCESS]
            ; mov r8d, eax
        );
        emit::reload_gprs(&mut self.ops);
        let again = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; test r8d, r8d
            ; jz =>slow
            ; test ecx, ecx
            ; jnz =>again
        );
        emit::load_flags(&mut self.ops);
        self.site_exit(next_eip);
        dynasm!(self.ops ; .arch x64 ; =>again);
        emit::load_flags(&mut self.ops);
        self.site_exit(eip);
    }

    /// R8D = the stack offset SP (or ESP).
    fn stack_top(&mut self) {
        if self.spec.plan.ss32 {
            dynasm!(self.ops ; .arch x64 ; mov r8d, r12d);
        } else {
            dynasm!(self.ops ; .arch x64 ; movzx r8d, r12w);
        }
    }

    /// R9D = the `size`-byte value at host address R8.
    fn load_top(&mut self, size: u32) {
        if size == 4 {
            dynasm!(self.ops ; .arch x64 ; mov r9d, DWORD [r8]);
        } else {
            dynasm!(self.ops ; .arch x64 ; movzx r9d, WORD [r8]);
        }
    }

    /// SP += delta with the stack's wrap-around, without touching host flags.
    fn add_sp(&mut self, delta: i32) {
        if self.spec.plan.ss32 {
            dynasm!(self.ops ; .arch x64 ; lea r12d, [r12 + delta]);
        } else {
            dynasm!(self.ops
                ; .arch x64
                ; lea r10d, [r12 + delta]
                ; mov r12w, r10w
            );
        }
    }

    /// A patchable `jmp rel32` towards guest `eip`, with the guest flags in host EFLAGS:
    /// a chained successor takes them from there; until chained, the jump goes to a stub
    /// that writes them and `cpu.eip` back for the dispatcher.
    fn site_exit(&mut self, eip: u32) {
        let label = self.ops.new_dynamic_label();
        let site = self.at + self.ops.offset().0;
        dynasm!(self.ops ; .arch x64 ; jmp =>label);
        self.sites.push((site, label, eip));
    }

    /// The host Jcc for a guest condition (host EFLAGS are the guest's).
    fn jcc(&mut self, cond: ConditionCode, l: DynamicLabel) {
        use ConditionCode as C;
        match cond {
            C::o => dynasm!(self.ops ; .arch x64 ; jo =>l),
            C::no => dynasm!(self.ops ; .arch x64 ; jno =>l),
            C::b => dynasm!(self.ops ; .arch x64 ; jb =>l),
            C::ae => dynasm!(self.ops ; .arch x64 ; jae =>l),
            C::e => dynasm!(self.ops ; .arch x64 ; je =>l),
            C::ne => dynasm!(self.ops ; .arch x64 ; jne =>l),
            C::be => dynasm!(self.ops ; .arch x64 ; jbe =>l),
            C::a => dynasm!(self.ops ; .arch x64 ; ja =>l),
            C::s => dynasm!(self.ops ; .arch x64 ; js =>l),
            C::ns => dynasm!(self.ops ; .arch x64 ; jns =>l),
            C::p => dynasm!(self.ops ; .arch x64 ; jp =>l),
            C::np => dynasm!(self.ops ; .arch x64 ; jnp =>l),
            C::l => dynasm!(self.ops ; .arch x64 ; jl =>l),
            C::ge => dynasm!(self.ops ; .arch x64 ; jge =>l),
            C::le => dynasm!(self.ops ; .arch x64 ; jle =>l),
            C::g => dynasm!(self.ops ; .arch x64 ; jg =>l),
            C::None => dynasm!(self.ops ; .arch x64 ; jmp =>l),
        }
    }
}
