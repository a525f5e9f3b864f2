//! Procedures generated code calls (sysv64) with the guest registers spilled to
//! `cpu.gpr`: one instruction in the interpreter (`step_one`), and the fast path of
//! `REP MOVS` / `REP STOS`.
//!
//! `rep_string` does one execution of the instruction the way the interpreter does it
//! (`ferrite_cpu` `interp::string`: at most `REP_ITERATION_CAP` elements, then the
//! instruction runs again), but only when every element of that execution takes the same
//! fast path as the inline probe — segment limits from the context, the soft TLB, the
//! page-access table — and otherwise does nothing at all and returns 0, so the
//! interpreter executes the instruction with full semantics (faults, MMIO, ROM,
//! code-page writes, page crossings into slow pages). Either way the instruction counts
//! once, as in the interpreter.

use crate::ctx::JitCtx;
use ferrite_cpu::soft_tlb::TLB_ENTRIES;
use ferrite_cpu::{Cpu, Gpr};
use ferrite_mem::{PAGE_FAST_READ, PAGE_FAST_WRITE, PAGE_SIZE};

/// Elements one execution of a repeated string instruction handles at most; the same
/// number as the interpreter's slice (`interp::string::REP_ITERATION_CAP`).
pub(crate) const REP_SLICE: u32 = 4096;

/// `desc` bits: operation (0 = MOVS, 1 = STOS).
pub(crate) const DESC_STOS: u32 = 1 << 8;
/// `desc` bits 0..8: element size (1, 2, 4); bits 16..24: MOVS source segment.
pub(crate) const DESC_SEG_SHIFT: u32 = 16;

/// CR0.PG.
const CR0_PG: u32 = 1 << 31;
/// ES.
const ES: usize = 0;

/// Host address ranges of one side of a string operation, page chunk by page chunk.
struct Chunks {
    /// (host address, bytes) per chunk; at most 5 pages for a 16 KiB slice.
    parts: [(usize, usize); 6],
    len: usize,
}

/// Resolves `bytes` bytes at segment `seg` offset `offset` to host ranges, or `None` when
/// any part of it would need the interpreter.
fn resolve(cpu: &Cpu, ctx: &JitCtx, seg: usize, offset: u32, bytes: u32, write: bool) -> Option<Chunks> {
    let bound = if write { ctx.write_bound[seg] } else { ctx.read_bound[seg] };
    if offset as u64 + bytes as u64 > bound {
        return None;
    }
    let paging = cpu.cr0 & CR0_PG != 0;
    let user = cpu.cpl() == 3;
    let fast = if write { PAGE_FAST_WRITE } else { PAGE_FAST_READ };
    let mut out = Chunks { parts: [(0, 0); 6], len: 0 };
    let mut linear = ctx.seg_base[seg].wrapping_add(offset);
    let mut left = bytes;
    while left > 0 {
        let in_page = (PAGE_SIZE - (linear & (PAGE_SIZE - 1))).min(left);
        let page = linear & !(PAGE_SIZE - 1);
        let phys = if paging {
            let e = &cpu.tlb.entries[user as usize][(linear >> 12) as usize % TLB_ENTRIES];
            let tag = if write { e.write_tag } else { e.read_tag };
            if tag != page {
                return None;
            }
            linear.wrapping_add(e.addend)
        } else {
            linear
        } & ctx.a20_mask;
        // SAFETY: the table has 2^20 entries (one per 4 KiB page of the 32-bit physical
        // space) and `phys >> 12` is below 2^20; `ctx.page_access` was loaded from
        // `PhysMem::page_access_table` for this run and the table is not resized while
        // generated code runs.
        let access = unsafe { *ctx.page_access.add((phys >> 12) as usize) };
        if access & fast == 0 || out.len == out.parts.len() {
            return None;
        }
        // The fast bit says the whole page is plain RAM inside the mapping, and the chunk
        // stays within the page, so this range lies inside guest RAM.
        out.parts[out.len] = (ctx.ram_base as usize + phys as usize, in_page as usize);
        out.len += 1;
        linear = linear.wrapping_add(in_page);
        left -= in_page;
    }
    Some(out)
}

/// One execution of `REP MOVS`/`REP STOS` (32-bit addressing, DF clear — the caller
/// checks DF) on the fast path; returns 1 when done, 0 when nothing was done and the
/// interpreter must run it.
///
/// # Safety
/// `cpu` and `ctx` point to the live `Cpu` and `JitCtx` of the current run (generated
/// code passes R15 and R13), with no Rust reference to either in use.
// SAFETY: callers (generated code) uphold the `# Safety` contract above.
pub(crate) unsafe extern "sysv64" fn rep_string(cpu: *mut Cpu, ctx: *const JitCtx, desc: u32) -> u32 {
    // SAFETY: the caller's contract.
    let (cpu, ctx) = unsafe { (&mut *cpu, &*ctx) };
    let size = desc & 0xFF;
    let stos = desc & DESC_STOS != 0;
    let src_seg = ((desc >> DESC_SEG_SHIFT) & 0xFF) as usize;
    let count = cpu.gpr[Gpr::Ecx as usize];
    if count == 0 {
        return 1;
    }
    let n = count.min(REP_SLICE);
    let bytes = n * size;
    let esi = cpu.gpr[Gpr::Esi as usize];
    let edi = cpu.gpr[Gpr::Edi as usize];
    let Some(dst) = resolve(cpu, ctx, ES, edi, bytes, true) else { return 0 };
    if stos {
        let eax = cpu.gpr[Gpr::Eax as usize];
        let mut phase = 0u32;
        for &(host, len) in &dst.parts[..dst.len] {
            // SAFETY: `resolve` returned ranges inside guest RAM (see there).
            unsafe { fill(host as *mut u8, len, eax, size, phase) };
            phase = phase.wrapping_add(len as u32);
        }
        cpu.gpr[Gpr::Edi as usize] = edi.wrapping_add(bytes);
    } else {
        let Some(src) = resolve(cpu, ctx, src_seg, esi, bytes, false) else { return 0 };
        // Overlapping ranges would make earlier elements feed later ones; leave that rare
        // case to the interpreter.
        let disjoint = src.parts[..src.len]
            .iter()
            .all(|&(s, sl)| dst.parts[..dst.len].iter().all(|&(d, dl)| s + sl <= d || d + dl <= s));
        if !disjoint {
            return 0;
        }
        let (mut si, mut di) = (0usize, 0usize);
        let (mut s_off, mut d_off) = (0usize, 0usize);
        let mut left = bytes as usize;
        while left > 0 {
            let run = (src.parts[si].1 - s_off).min(dst.parts[di].1 - d_off);
            // SAFETY: both ranges come from `resolve` (inside guest RAM), `run` stays
            // within the current chunk on each side, and the chunks are disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    (src.parts[si].0 + s_off) as *const u8,
                    (dst.parts[di].0 + d_off) as *mut u8,
                    run,
                );
            }
            left -= run;
            s_off += run;
            d_off += run;
            if s_off == src.parts[si].1 {
                si += 1;
                s_off = 0;
            }
            if d_off == dst.parts[di].1 {
                di += 1;
                d_off = 0;
            }
        }
        cpu.gpr[Gpr::Esi as usize] = esi.wrapping_add(bytes);
        cpu.gpr[Gpr::Edi as usize] = edi.wrapping_add(bytes);
    }
    cpu.gpr[Gpr::Ecx as usize] = count - n;
    1
}

/// Stores the little-endian `size`-byte `value` repeatedly over `len` bytes at `host`,
/// where the first byte is byte `phase` of the pattern's stream.
///
/// # Safety
/// `[host, host + len)` must be writable memory.
// SAFETY: callers pass a range inside the RAM mapping, checked against the page table.
unsafe fn fill(host: *mut u8, len: usize, value: u32, size: u32, phase: u32) {
    let bytes = value.to_le_bytes();
    let size = size as usize;
    if size == 1 || bytes[..size].iter().all(|&b| b == bytes[0]) {
        // SAFETY: the caller's range.
        unsafe { std::ptr::write_bytes(host, bytes[0], len) };
        return;
    }
    for k in 0..len {
        // SAFETY: k < len, the caller's range.
        unsafe { *host.add(k) = bytes[(phase as usize + k) % size] };
    }
}

/// `tlb_fill`'s descriptor: bits 0..8 the access size, this bit set for a write.
pub(crate) const FILL_WRITE: u32 = 1 << 8;

/// A probe's soft-TLB miss (a hypervisor-induced fault): the shadow MMU walks the guest's
/// page tables and fills the entry for the `desc`-sized access at `linear`
/// ([`Cpu::fill_tlb`], the interpreter's own miss code). Returns 1 when the probe may be
/// retried: the access stays within one page, the walk allowed it, and it wrote no page
/// holding translated code (A/D bits). Otherwise returns 0, having changed nothing when
/// the access would fault, and the instruction goes to the interpreter, which raises the
/// #PF or splits the page-crossing access.
///
/// # Safety
/// As [`step_one`].
// SAFETY: callers (generated code) uphold the `# Safety` contract above.
pub(crate) unsafe extern "sysv64" fn tlb_fill(cpu: *mut Cpu, ctx: *mut JitCtx, linear: u32, desc: u32) -> u32 {
    // SAFETY: the caller's contract (see `step_one`).
    let (cpu, ctx) = unsafe { (&mut *cpu, &mut *ctx) };
    let (Some(mut io), false) = (ctx.io, ctx.mem.is_null()) else { return 0 };
    // SAFETY: as in `step_one`.
    let (mem, io) = unsafe { (&mut *ctx.mem, io.as_mut()) };
    let size = (desc & 0xFF).max(1);
    if (linear ^ linear.wrapping_add(size - 1)) & !(PAGE_SIZE - 1) != 0 {
        return 0;
    }
    ctx.fills += 1;
    let ok = cpu.fill_tlb(mem, io, linear, desc & FILL_WRITE != 0);
    (ok && !mem.code_written()) as u32
}

/// Set in [`step_one`]'s `left`: the step may end at any EIP (a page-crossing
/// instruction whose length the block does not know); the block then ends through the
/// jump cache.
pub(crate) const STEP_ANY_EIP: u32 = 1 << 31;

/// Runs the instruction at `cpu.eip` in the interpreter (`Cpu::step`: the interpreter's
/// own procedures, with full semantics and precise faults) from inside generated code,
/// with the guest registers and flags already written back. `left` is how many
/// instructions of the block, this one included, are charged but not yet run. Returns 1
/// when the block may go on with its next instruction: the step ended at `next_eip` (any
/// EIP with [`STEP_ANY_EIP`] in `left`) and
/// changed nothing the block was translated under or that needs the dispatcher (mode,
/// CS, segments, control registers, A20, a written code page, an interrupt to take, an
/// interrupt shadow, a halt, debug state). Otherwise returns 0, with the rest of the
/// block's charge given back and any run exit left in `ctx.step_exit`.
///
/// # Safety
/// `cpu` and `ctx` point to the live `Cpu` and `JitCtx` of the current run, whose `mem`
/// and `io` the dispatcher set for this run, with no Rust reference to any of them in
/// use.
// SAFETY: callers (generated code) uphold the `# Safety` contract above.
pub(crate) unsafe extern "sysv64" fn step_one(cpu: *mut Cpu, ctx: *mut JitCtx, left: u32, next_eip: u32) -> u32 {
    let any_eip = left & STEP_ANY_EIP != 0;
    let left = left & !STEP_ANY_EIP;
    // SAFETY: the caller's contract; `mem` and `io` were set by the dispatcher from the
    // `&mut` it holds for the whole run and are not otherwise used while generated code
    // runs.
    let (cpu, ctx) = unsafe { (&mut *cpu, &mut *ctx) };
    let (Some(mut io), false) = (ctx.io, ctx.mem.is_null()) else { return 0 };
    // SAFETY: as above.
    let (mem, io) = unsafe { (&mut *ctx.mem, io.as_mut()) };
    // Bring the counters up to date: what ran since the last sync, without this
    // instruction and the rest of the block. The step counts this one itself.
    let done = ctx.charged - ctx.budget - left as i64;
    cpu.insns = cpu.insns.wrapping_add(done as u64);
    cpu.tsc = cpu.tsc.wrapping_add(done as u64);
    ctx.charged = ctx.budget + left as i64 - 1;
    ctx.steps += 1;
    if ctx.profile.is_some() {
        ctx.note_step(cpu, mem, true);
    }
    let before = crate::dispatch::mode_sig(cpu, mem);
    let crs = (cpu.cr0, cpu.cr3, cpu.cr4);
    let exit = cpu.step(mem, io);
    let same = exit == ferrite_cpu::RunExit::Budget
        && (any_eip || cpu.eip == next_eip)
        && !mem.code_written()
        && crate::ctx::can_translate(cpu)
        && !(cpu.eflags & ferrite_cpu::Flags::IF != 0 && io.intr_pending())
        && (cpu.nmi_blocked || !io.nmi_pending())
        && (cpu.cr0, cpu.cr3, cpu.cr4) == crs
        && mem.a20_mask() == ctx.a20_mask
        && crate::dispatch::mode_sig(cpu, mem) == before
        && JitCtx::segment_fields(cpu) == (ctx.seg_base, ctx.read_bound, ctx.write_bound);
    if same {
        return 1;
    }
    // Leave: the rest of the block did not run.
    ctx.budget += left as i64 - 1;
    if exit != ferrite_cpu::RunExit::Budget {
        ctx.step_exit = Some(exit);
    }
    0
}
