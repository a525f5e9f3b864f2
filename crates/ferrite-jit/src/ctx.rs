//! The per-run context generated code reads besides the [`Cpu`]: where guest RAM is, the
//! page-access table, the A20 mask, per-segment bases and fast-path limits, the budget,
//! and where a block left. It is `#[repr(C)]`; generated code addresses it through R13.

use ferrite_cpu::{Cpu, Flags, IoBus, RunExit, SegReg};
use ferrite_mem::PhysMem;
use std::mem::offset_of;

/// Why generated code returned to the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum ExitReason {
    /// A control transfer or the end of a block: `cpu.eip` is the next instruction.
    Branch = 0,
    /// The instruction at `cpu.eip` must run in the interpreter (not translated, or its
    /// memory access took the slow path). Nothing of it has happened yet.
    Interpret = 1,
    /// The block at `cpu.eip` did not start: the budget is smaller than its length.
    Budget = 2,
}

/// One block exit that may later be patched into a direct jump (chaining).
pub(crate) const NO_SITE: u32 = u32::MAX;

/// Entries in the jump cache for indirect branches (a power of two).
pub(crate) const JUMP_CACHE_ENTRIES: usize = 1024;
/// A jump-cache entry's `mode_id` when it holds nothing.
pub(crate) const JUMP_INVALID: u32 = u32::MAX;

/// One jump-cache entry: where generated code for guest `eip` starts, valid while the
/// branch runs under mode `mode_id` (CS base, CS limit, mode bits — see
/// `Jit::mode_id`) and, with paging, while the target's linear page still maps to
/// `phys_page`. The dispatcher fills entries after indirect branches and clears them all
/// whenever any translation is dropped, so `host` always points at a live block.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct JumpEntry {
    pub(crate) eip: u32,
    pub(crate) mode_id: u32,
    pub(crate) phys_page: u32,
    pub(crate) _pad: u32,
    pub(crate) host: u64,
}

impl JumpEntry {
    pub(crate) const EMPTY: JumpEntry = JumpEntry { eip: 0, mode_id: JUMP_INVALID, phys_page: 0, _pad: 0, host: 0 };
}

/// Context for one call into generated code.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct JitCtx {
    /// Instructions blocks may still start; a block subtracts its length on entry and
    /// leaves with [`ExitReason::Budget`] (giving it back) when that goes negative; an
    /// early exit gives back what it skipped. What the budget lost is what retired.
    /// Always below 2^55 (see `emit::charge_budget`).
    pub(crate) budget: i64,
    /// Host address of guest physical address 0 (the RAM mapping).
    pub(crate) ram_base: *mut u8,
    /// [`PhysMem::page_access_table`], one byte per physical page.
    pub(crate) page_access: *const u8,
    /// Physical address mask (bit 20 clear while the A20 gate is closed).
    pub(crate) a20_mask: u32,
    /// An [`ExitReason`].
    pub(crate) exit_reason: u32,
    /// Code-buffer offset of the patchable `jmp rel32` of the exit taken, or [`NO_SITE`].
    pub(crate) exit_site: u32,
    /// Guest arithmetic flags parked around a probe (`emit::save_flags`: the `lahf`
    /// byte in bits 8..16, OF in bit 0).
    pub(crate) flags_save: u32,
    /// The value a PUSH from memory read, while the push's own probe runs.
    pub(crate) push_value: u32,
    /// Segment bases (ES, CS, SS, DS, FS, GS).
    pub(crate) seg_base: [u32; 6],
    /// Per segment, one past the largest offset a read may touch on the fast path
    /// (`limit + 1`), or 0 when every read must take the slow path (expand-down, not
    /// readable, not present).
    pub(crate) read_bound: [u64; 6],
    /// As `read_bound`, for writes (and read-modify-writes).
    pub(crate) write_bound: [u64; 6],
    /// The jump cache for indirect branches, indexed by `eip % JUMP_CACHE_ENTRIES`.
    pub(crate) jump_cache: [JumpEntry; JUMP_CACHE_ENTRIES],
    /// Indexed by the second byte of EFLAGS: -1 when DF (its bit 2) is set, else +1. A
    /// single string instruction steps its index register with it without touching the
    /// host flags.
    pub(crate) df_step: [i8; 256],
    /// The budget value at the last point `cpu.insns` was brought up to date (the
    /// dispatcher's entry, or an interpreter step called from generated code); what it
    /// lost since then retired.
    pub(crate) charged: i64,
    /// Memory and I/O bus of the current run, for `helpers::step_one` (null outside a
    /// run).
    pub(crate) mem: *mut PhysMem,
    pub(crate) io: Option<std::ptr::NonNull<dyn IoBus>>,
    /// A run exit other than `Budget` that an interpreter step inside generated code
    /// produced (HLT, a stop request, shutdown): the dispatcher returns it.
    pub(crate) step_exit: Option<RunExit>,
    /// Instructions generated code handed to the interpreter without leaving.
    pub(crate) steps: u64,
    /// Soft-TLB fills generated code asked the MMU for (probe misses).
    pub(crate) fills: u64,
    /// Per instruction address (CS base + EIP): mnemonic, in-block helper calls and
    /// dispatcher steps; only while profiling (`Jit::set_step_profile`).
    pub(crate) profile: Option<Box<StepProfile>>,
}

/// The step profile: linear address → (mnemonic, helper calls, dispatcher steps).
pub(crate) type StepProfile = hashbrown::HashMap<(u32, u64), (String, u64, u64)>;

impl JitCtx {
    /// Counts one interpreter step of the instruction at CS:EIP (`helper`: from inside a
    /// block). Keyed by its linear address *and* its first bytes, since processes reuse
    /// linear addresses for other code; decoded the first time a key is seen.
    pub(crate) fn note_step(&mut self, cpu: &Cpu, mem: &PhysMem, helper: bool) {
        let Some(p) = self.profile.as_mut() else { return };
        let linear = cpu.pc_linear();
        let bytes = code_bytes(cpu, mem, linear);
        let head = bytes.map_or(0, |b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
        let e = p.entry((linear, head)).or_insert_with(|| (form_of(cpu, bytes), 0, 0));
        if helper {
            e.1 += 1;
        } else {
            e.2 += 1;
        }
    }
}

/// The 15 bytes at `linear` (through the soft TLB with paging), or `None` when the page
/// is not in the TLB.
fn code_bytes(cpu: &Cpu, mem: &PhysMem, linear: u32) -> Option<[u8; 15]> {
    let phys = if cpu.cr0 & (1 << 31) != 0 {
        let e = cpu.tlb.entry(linear, cpu.cpl() == 3);
        if e.exec_tag != linear & !0xFFF {
            return None;
        }
        linear.wrapping_add(e.addend)
    } else {
        linear
    };
    let mut bytes = [0u8; 15];
    mem.read_bytes(phys, &mut bytes);
    Some(bytes)
}

/// The form of the instruction in `bytes`: iced's code name (mnemonic and operand
/// forms) with any REP prefix, or "?" when its bytes were not reachable.
fn form_of(cpu: &Cpu, bytes: Option<[u8; 15]>) -> String {
    let Some(bytes) = bytes else { return "?".to_string() };
    let bits = if cpu.code32() { 32 } else { 16 };
    let ins = iced_x86::Decoder::with_ip(bits, &bytes, 0, iced_x86::DecoderOptions::NONE).decode();
    let rep = if ins.has_rep_prefix() {
        "rep "
    } else if ins.has_repne_prefix() {
        "repne "
    } else {
        ""
    };
    format!("{rep}{:?}", ins.code())
}

impl JitCtx {
    /// A context with nothing mapped; [`JitCtx::load`] fills it before each run.
    pub(crate) fn new() -> Self {
        JitCtx {
            budget: 0,
            ram_base: std::ptr::null_mut(),
            page_access: std::ptr::null(),
            a20_mask: 0,
            exit_reason: 0,
            exit_site: NO_SITE,
            flags_save: 0,
            push_value: 0,
            seg_base: [0; 6],
            read_bound: [0; 6],
            write_bound: [0; 6],
            jump_cache: [JumpEntry::EMPTY; JUMP_CACHE_ENTRIES],
            df_step: std::array::from_fn(|b| if b & 4 != 0 { -1 } else { 1 }),
            charged: 0,
            mem: std::ptr::null_mut(),
            io: None,
            step_exit: None,
            steps: 0,
            fills: 0,
            profile: None,
        }
    }

    /// Segment bases and fast-path bounds as `load` computes them for `cpu`.
    pub(crate) fn segment_fields(cpu: &Cpu) -> ([u32; 6], [u64; 6], [u64; 6]) {
        let pm = cpu.protected_mode();
        let mut out = ([0; 6], [0; 6], [0; 6]);
        for s in SegReg::ALL {
            let seg = &cpu.seg[s as usize];
            out.0[s as usize] = seg.base;
            let bound = seg.limit as u64 + 1;
            let (read, write) = if pm { segment_access(seg.attrs) } else { (true, true) };
            out.1[s as usize] = if read { bound } else { 0 };
            out.2[s as usize] = if write { bound } else { 0 };
        }
        out
    }

    /// Forgets every jump-cache entry (some translation is going away).
    pub(crate) fn clear_jump_cache(&mut self) {
        self.jump_cache.fill(JumpEntry::EMPTY);
    }

    /// Fills the memory fields from `mem` and the segment fields from `cpu`. Segments only
    /// change through instructions the interpreter executes, after which generated code is
    /// entered afresh through the dispatcher, which calls this again.
    pub(crate) fn load(&mut self, cpu: &Cpu, mem: &mut PhysMem) {
        self.page_access = mem.page_access_table().as_ptr();
        self.a20_mask = mem.a20_mask();
        self.ram_base = mem.ram_mut().as_mut_ptr();
        (self.seg_base, self.read_bound, self.write_bound) = Self::segment_fields(cpu);
    }
}

/// Access-byte bits of a descriptor.
const ACC_PRESENT: u16 = 0x80;
const ACC_SEGMENT: u16 = 0x10;
const ACC_CODE: u16 = 0x08;
const ACC_EXPAND_DOWN: u16 = 0x04;
const ACC_READ_WRITE: u16 = 0x02;

/// Which accesses a protected-mode segment with `attrs` allows on the fast path: present,
/// expand-up, and readable (data, or readable code) / writable (writable data). Anything
/// else goes to the interpreter, which raises the fault or handles expand-down limits.
pub(crate) fn segment_access(attrs: u16) -> (bool, bool) {
    if attrs & ACC_PRESENT == 0 || attrs & ACC_SEGMENT == 0 {
        return (false, false);
    }
    let code = attrs & ACC_CODE != 0;
    if !code && attrs & ACC_EXPAND_DOWN != 0 {
        return (false, false);
    }
    let rw = attrs & ACC_READ_WRITE != 0;
    (!code || rw, !code && rw)
}

/// Whether `cpu` is in a state generated code may run in at all.
pub(crate) fn can_translate(cpu: &Cpu) -> bool {
    cpu.eflags & Flags::VM == 0 && !cpu.int_shadow && !cpu.halted && !cpu.debug_armed() && !alignment_checks(cpu)
}

/// CR0.AM.
const CR0_AM: u32 = 1 << 18;

/// #AC checking is live (CR0.AM, EFLAGS.AC, CPL 3): leave every access to the interpreter.
fn alignment_checks(cpu: &Cpu) -> bool {
    cpu.eflags & Flags::AC != 0 && cpu.cr0 & CR0_AM != 0 && cpu.cpl() == 3
}

/// Field offsets used by generated code, as `i32` displacements.
pub(crate) mod off {
    use super::*;
    use ferrite_cpu::soft_tlb::{SoftTlb, TlbEntry};

    /// `Cpu::gpr[n]`.
    pub(crate) fn gpr(n: usize) -> i32 {
        (offset_of!(Cpu, gpr) + 4 * n) as i32
    }
    /// `Cpu::eip`.
    pub(crate) const EIP: i32 = offset_of!(Cpu, eip) as i32;
    /// `Cpu::eflags`.
    pub(crate) const EFLAGS: i32 = offset_of!(Cpu, eflags) as i32;
    /// `Cpu::tlb.entries[class][0]`.
    pub(crate) fn tlb_class(user: bool) -> i32 {
        let class = std::mem::size_of::<TlbEntry>() * ferrite_cpu::soft_tlb::TLB_ENTRIES * user as usize;
        (offset_of!(Cpu, tlb) + offset_of!(SoftTlb, entries) + class) as i32
    }
    /// Size of one soft-TLB entry.
    pub(crate) const TLB_ENTRY_SIZE: usize = std::mem::size_of::<TlbEntry>();
    /// `TlbEntry::read_tag`.
    pub(crate) const TLB_READ_TAG: i32 = offset_of!(TlbEntry, read_tag) as i32;
    /// `TlbEntry::write_tag`.
    pub(crate) const TLB_WRITE_TAG: i32 = offset_of!(TlbEntry, write_tag) as i32;
    /// `TlbEntry::exec_tag`.
    pub(crate) const TLB_EXEC_TAG: i32 = offset_of!(TlbEntry, exec_tag) as i32;
    /// `TlbEntry::addend`.
    pub(crate) const TLB_ADDEND: i32 = offset_of!(TlbEntry, addend) as i32;

    /// `JitCtx::budget`.
    pub(crate) const BUDGET: i32 = offset_of!(JitCtx, budget) as i32;
    /// `JitCtx::ram_base`.
    pub(crate) const RAM_BASE: i32 = offset_of!(JitCtx, ram_base) as i32;
    /// `JitCtx::page_access`.
    pub(crate) const PAGE_ACCESS: i32 = offset_of!(JitCtx, page_access) as i32;
    /// `JitCtx::a20_mask`.
    pub(crate) const A20_MASK: i32 = offset_of!(JitCtx, a20_mask) as i32;
    /// `JitCtx::exit_reason`.
    pub(crate) const EXIT_REASON: i32 = offset_of!(JitCtx, exit_reason) as i32;
    /// `JitCtx::df_step[0]`.
    pub(crate) const DF_STEP: i32 = offset_of!(JitCtx, df_step) as i32;
    /// `JitCtx::push_value`.
    pub(crate) const PUSH_VALUE: i32 = offset_of!(JitCtx, push_value) as i32;
    /// `JitCtx::flags_save`.
    pub(crate) const FLAGS_SAVE: i32 = offset_of!(JitCtx, flags_save) as i32;
    /// `JitCtx::exit_site`.
    pub(crate) const EXIT_SITE: i32 = offset_of!(JitCtx, exit_site) as i32;
    /// `JitCtx::jump_cache[0]`.
    pub(crate) const JUMP_CACHE: i32 = offset_of!(JitCtx, jump_cache) as i32;
    /// Size of one jump-cache entry.
    pub(crate) const JUMP_ENTRY_SIZE: usize = std::mem::size_of::<JumpEntry>();
    /// `JumpEntry::mode_id`.
    pub(crate) const JUMP_MODE: i32 = offset_of!(JumpEntry, mode_id) as i32;
    /// `JumpEntry::phys_page`.
    pub(crate) const JUMP_PHYS: i32 = offset_of!(JumpEntry, phys_page) as i32;
    /// `JumpEntry::host`.
    pub(crate) const JUMP_HOST: i32 = offset_of!(JumpEntry, host) as i32;
    /// `JitCtx::seg_base[s]`.
    pub(crate) fn seg_base(s: usize) -> i32 {
        (offset_of!(JitCtx, seg_base) + 4 * s) as i32
    }
    /// `JitCtx::read_bound[s]` or `write_bound[s]`.
    pub(crate) fn bound(s: usize, write: bool) -> i32 {
        let base = if write { offset_of!(JitCtx, write_bound) } else { offset_of!(JitCtx, read_bound) };
        (base + 8 * s) as i32
    }
}
