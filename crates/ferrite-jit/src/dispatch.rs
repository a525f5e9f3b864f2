//! The dispatcher: the run loop that finds (or translates) the block at CS:EIP, enters
//! generated code, chains the exit it came back through, and hands every instruction it
//! does not translate to the interpreter, one at a time.

use crate::cache::{Block, Key, MODE_A20, MODE_CODE32, MODE_CPL_SHIFT, MODE_FLAT, MODE_PAGING, MODE_PE, MODE_SS32};
use crate::ctx::{can_translate, ExitReason, JitCtx, NO_SITE};
use crate::emit::ProbeMode;
use crate::plan::PlanMode;
use crate::translate::{self, BlockSpec, ExitSite};
use crate::Jit;
use ferrite_cpu::{Cpu, Flags, IoBus, RunExit, SegReg};
use ferrite_mem::{PhysMem, Target, PAGE_FAST_READ, PAGE_SHIFT, PAGE_SIZE};

/// CR0.PG.
const CR0_PG: u32 = 1 << 31;

/// Most instructions the interpreter runs in one go for code on a page left to it for
/// self-modifying code.
const SMC_STRETCH: u64 = 256;

/// What the dispatcher found at CS:EIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// A cached block (which may still be "not translatable").
    Block(usize),
    /// Nothing to run natively now: the interpreter runs one instruction.
    Interpret,
    /// Code on a page left to the interpreter for self-modifying code.
    SmcPage,
}

/// The entry trampoline's signature.
// SAFETY: a pointer type only; calling it is unsafe and justified at the one call site.
type EntryFn = unsafe extern "sysv64" fn(*mut Cpu, *mut JitCtx, *const u8);

impl Jit {
    /// The run loop behind [`Jit::run`].
    pub(crate) fn dispatch(&mut self, cpu: &mut Cpu, mem: &mut PhysMem, io: &mut dyn IoBus, budget: u64) -> RunExit {
        let mut left = budget;
        let mut chain_from: Option<usize> = None;
        // The last block left through an indirect branch: remember its target in the
        // jump cache once it is found.
        let mut indirect = false;
        // The interpreter may drain written code pages itself while it runs a stretch of
        // self-modifying code (`interpret_stretch`); the log keeps them for us.
        mem.set_code_write_log(true);
        while left > 0 {
            self.drain_code_writes(cpu, mem);
            let interrupt = cpu.eflags & Flags::IF != 0 && io.intr_pending() || !cpu.nmi_blocked && io.nmi_pending();
            let found = if self.broken || interrupt || !can_translate(cpu) {
                Found::Interpret
            } else {
                self.find_block(cpu, mem, io)
            };
            let idx = match found {
                Found::Block(idx) => idx,
                Found::Interpret | Found::SmcPage => {
                    chain_from = None;
                    indirect = false;
                    let exit = if found == Found::SmcPage {
                        self.interpret_stretch(cpu, mem, io, &mut left)
                    } else {
                        self.interpret_one(cpu, mem, io, &mut left)
                    };
                    if let Some(exit) = exit {
                        return exit;
                    }
                    continue;
                }
            };
            let block = self.cache.block(idx);
            let Some(entry) = block.entry else {
                chain_from = None;
                if let Some(exit) = self.interpret_one(cpu, mem, io, &mut left) {
                    return exit;
                }
                continue;
            };
            let guest_len = block.guest_len as u64;
            if guest_len > left && !self.overrun {
                // The budget ends inside this block: the interpreter counts out the rest.
                chain_from = None;
                if let Some(exit) = self.interpret_one(cpu, mem, io, &mut left) {
                    return exit;
                }
                continue;
            }
            if let Some(site) = chain_from.take() {
                self.chain(site, idx, entry);
            }
            if std::mem::take(&mut indirect) && self.chaining {
                self.remember_jump(idx, entry);
            }
            self.ctx.load(cpu, mem);
            // Below 2^55: the blocks' flag-free budget check relies on it (emit::charge_budget).
            let charged = left.max(guest_len).min(1 << 54) as i64;
            self.ctx.budget = charged;
            self.ctx.charged = charged;
            self.ctx.exit_site = NO_SITE;
            self.ctx.mem = mem as *mut PhysMem;
            // SAFETY: only the lifetime is erased; `ctx.io` is cleared right after
            // generated code returns, before `io`'s borrow ends, and only
            // `helpers::step_one` (called from that code) uses it.
            self.ctx.io = Some(unsafe {
                std::mem::transmute::<std::ptr::NonNull<dyn IoBus + '_>, std::ptr::NonNull<dyn IoBus + 'static>>(
                    std::ptr::NonNull::from(&mut *io),
                )
            });
            let before = cpu.insns;
            let base = self.buf.base();
            // SAFETY: `base + self.entry_stub` is the trampoline assembled by
            // `emit::stubs` at the start of the code buffer, which follows the sysv64
            // ABI (saves and restores every callee-saved register, keeps the stack
            // aligned, leaves DF clear) and only returns through the common exit. The
            // block at `base + entry` was assembled for exactly that address and only
            // jumps to code in the same buffer. Generated code writes `*cpu` and
            // `self.ctx` through the pointers given while no Rust reference to them is
            // used, and touches guest RAM only inside the mapping (see `emit::probe`).
            unsafe {
                let f: EntryFn = std::mem::transmute::<usize, EntryFn>(base + self.entry_stub);
                f(cpu as *mut Cpu, &mut *self.ctx as *mut JitCtx, (base + entry) as *const u8);
            }
            self.stats.block_runs += 1;
            self.ctx.mem = std::ptr::null_mut();
            self.ctx.io = None;
            // Generated code charges the budget for what it runs and gives back what an
            // early exit skips; what it lost since the last sync point retired.
            let retired = (self.ctx.charged - self.ctx.budget) as u64;
            cpu.insns = cpu.insns.wrapping_add(retired);
            cpu.tsc = cpu.tsc.wrapping_add(retired);
            left = left.saturating_sub(cpu.insns.wrapping_sub(before));
            let steps = std::mem::take(&mut self.ctx.steps);
            self.stats.interp_steps += steps;
            self.stats.helper_calls += steps;
            self.stats.tlb_fills += std::mem::take(&mut self.ctx.fills);
            if let Some(exit) = self.ctx.step_exit.take() {
                return exit;
            }
            match self.ctx.exit_reason {
                r if r == ExitReason::Branch as u32 && self.chaining && self.ctx.exit_site != NO_SITE => {
                    chain_from = Some(self.ctx.exit_site as usize);
                }
                r if r == ExitReason::Branch as u32 => indirect = true,
                r if r == ExitReason::Interpret as u32 => {
                    if let Some(exit) = self.interpret_one(cpu, mem, io, &mut left) {
                        return exit;
                    }
                }
                _ => {}
            }
        }
        RunExit::Budget
    }

    /// Runs one instruction in the interpreter; `Some` when the run must stop.
    fn interpret_one(
        &mut self,
        cpu: &mut Cpu,
        mem: &mut PhysMem,
        io: &mut dyn IoBus,
        left: &mut u64,
    ) -> Option<RunExit> {
        self.stats.interp_steps += 1;
        if self.ctx.profile.is_some() {
            self.ctx.note_step(cpu, mem, false);
        }
        let exit = cpu.step(mem, io);
        *left -= 1;
        self.drain_code_writes(cpu, mem);
        (exit != RunExit::Budget).then_some(exit)
    }

    /// Runs up to [`SMC_STRETCH`] instructions in the interpreter at once (its own run
    /// loop, whole decoded blocks): code on a page that keeps being rewritten, where one
    /// `Cpu::step` per instruction would decode a fresh block at every EIP after every
    /// write. The interpreter drains the written code pages itself; the code-write log
    /// hands them to `drain_code_writes` before any translation runs again.
    fn interpret_stretch(
        &mut self,
        cpu: &mut Cpu,
        mem: &mut PhysMem,
        io: &mut dyn IoBus,
        left: &mut u64,
    ) -> Option<RunExit> {
        let n = (*left).min(SMC_STRETCH);
        let before = cpu.insns;
        let exit = cpu.run(mem, io, n);
        self.stats.interp_steps += cpu.insns.wrapping_sub(before);
        self.drain_code_writes(cpu, mem);
        if exit != RunExit::Budget {
            return Some(exit);
        }
        // `Cpu::run` returns `Budget` only once it used all of `n`.
        *left -= n;
        None
    }

    /// Drops translations (and the interpreter's decoded blocks) of written code pages,
    /// whether the pages are still pending or the interpreter already took them.
    fn drain_code_writes(&mut self, cpu: &mut Cpu, mem: &mut PhysMem) {
        if !mem.code_written() && !mem.code_write_logged() {
            return;
        }
        let mut pages = mem.take_written_code_pages();
        pages.extend(mem.take_code_write_log());
        for page in pages {
            cpu.invalidate_decoded_page(page);
            let removed = self.cache.remove_page(page);
            if !removed.is_empty() {
                self.ctx.clear_jump_cache();
            }
            for b in removed {
                if b.entry.is_some() {
                    self.stats.blocks_invalidated += 1;
                    // Drops far apart (a physical page reused for other code, as when a
                    // process is loaded) start the count again; only rewriting within
                    // `SMC_WINDOW` instructions adds up to the limit.
                    let e = self.smc_pages.entry(page).or_insert((0, cpu.insns));
                    e.0 = if cpu.insns.wrapping_sub(e.1) > crate::SMC_WINDOW { 1 } else { e.0 + 1 };
                    e.1 = cpu.insns;
                }
                for site in b.incoming {
                    self.patch(site.site, site.stub);
                }
            }
        }
    }

    /// The block for CS:EIP, translating it once it is hot.
    fn find_block(&mut self, cpu: &mut Cpu, mem: &mut PhysMem, io: &mut dyn IoBus) -> Found {
        let key = match block_key(cpu, mem) {
            Some(key) => key,
            // No execute entry in the soft TLB for the code page: fill it as the
            // interpreter's fetch would, and look again (a fetch that faults is left to
            // the interpreter, which raises the #PF).
            None if cpu.eip <= cpu.seg[SegReg::Cs as usize].limit => {
                let linear = cpu.seg[SegReg::Cs as usize].base.wrapping_add(cpu.eip);
                if !cpu.fill_tlb_fetch(mem, io, linear) {
                    return Found::Interpret;
                }
                self.stats.tlb_fills += 1;
                match block_key(cpu, mem) {
                    Some(key) => key,
                    None => return Found::Interpret,
                }
            }
            None => return Found::Interpret,
        };
        if let Some(idx) = self.cache.get(&key) {
            return Found::Block(idx);
        }
        if !self.smc_pages.is_empty() {
            if let Some(&(n, last)) = self.smc_pages.get(&(key.phys >> PAGE_SHIFT)) {
                if n >= crate::SMC_PAGE_LIMIT {
                    if cpu.insns.wrapping_sub(last) <= crate::SMC_WINDOW {
                        return Found::SmcPage;
                    }
                    // Not rewritten for a while: translate it again (it may be left to the
                    // interpreter again after another `SMC_PAGE_LIMIT` quick drops).
                    self.smc_pages.remove(&(key.phys >> PAGE_SHIFT));
                }
            }
        }
        let heat = self.cache.heat.entry(key).or_insert(0);
        *heat += 1;
        if *heat < self.hot_threshold {
            return Found::Interpret;
        }
        Found::Block(self.translate(cpu, mem, key))
    }

    /// Translates the block at `key` and caches it (or caches that it cannot be).
    fn translate(&mut self, cpu: &Cpu, mem: &mut PhysMem, key: Key) -> usize {
        let spec = BlockSpec {
            eip: key.eip,
            phys: key.phys,
            code32: key.mode & MODE_CODE32 != 0,
            plan: PlanMode {
                cs_limit: key.cs_limit,
                ss32: key.mode & MODE_SS32 != 0,
                cli_free: key.mode & MODE_PE == 0 || key.mode >> MODE_CPL_SHIFT & 3 == 0,
            },
            probe: ProbeMode {
                paging: key.mode & MODE_PAGING != 0,
                user: cpu.cpl() == 3,
                flat: key.mode & MODE_FLAT != 0,
                a20_open: key.mode & MODE_A20 != 0,
            },
            cs_base: key.cs_base,
            mode_id: self.mode_id(&key),
        };
        let page = match mem.resolve(key.phys) {
            Target::Ram(off) => Some(off >> PAGE_SHIFT),
            _ => None,
        };
        let code_ok = match page {
            Some(p) => mem.page_access_table()[p as usize] & PAGE_FAST_READ != 0,
            None => {
                let end = (key.phys & !(PAGE_SIZE - 1)) | (PAGE_SIZE - 1);
                matches!((mem.resolve(key.phys), mem.resolve(end)), (Target::Rom(_), Target::Rom(_)))
            }
        };
        let planned = if code_ok { translate::decode_block(mem, &spec) } else { None };
        // ROM blocks are indexed by their physical page too: a chipset PAM change reports
        // that page as written when RAM starts shadowing it.
        let indexed = page.or(Some(key.phys >> PAGE_SHIFT));
        let mut block =
            Block { key, entry: None, guest_len: 0, page: indexed, exits: Vec::new(), incoming: Vec::new() };
        if let Some((insns, (at, t))) = planned.and_then(|insns| self.emit(&insns, &spec).map(|e| (insns, e))) {
            block.entry = Some(at);
            block.guest_len = insns.len() as u32;
            block.exits = t.exits;
            self.stats.blocks_translated += 1;
            self.stats.guest_insns_translated += insns.len() as u64;
            if let Some(out) = self.dump.as_mut() {
                crate::dump::write_block(out.as_mut(), &key, &t.guest, self.buf.base() + at, &t.code);
            }
        }
        if page.is_some() {
            mem.mark_code_page(key.phys);
        }
        self.cache.insert(block)
    }

    /// Assembles a block into the code buffer (flushing the whole cache when full).
    fn emit(
        &mut self,
        insns: &[(iced_x86::Instruction, crate::plan::Kind)],
        spec: &BlockSpec,
    ) -> Option<(usize, translate::Translated)> {
        for _attempt in 0..2 {
            let at = self.buf.len();
            let exit = self.buf.base() + self.exit_stub;
            // An instruction the planner accepted but that fails to assemble leaves the
            // block untranslated (the interpreter runs it); it is a translator bug, not a
            // guest error.
            let helpers = self.helper_stubs.at(self.buf.base());
            let t = translate::emit_block(insns, spec, self.buf.base(), at, exit, helpers).ok()?;
            if !self.buf.fits(t.code.len()) {
                self.flush();
                continue;
            }
            let Ok(at) = self.buf.append(&t.code) else {
                self.broken = true;
                return None;
            };
            self.stats.host_bytes += t.code.len() as u64;
            return Some((at, t));
        }
        None
    }

    /// Points exit `site` (of the block that just ran) at block `to`'s entry when both
    /// run under the same CS and mode, and, with paging, on the same linear page (so the
    /// successor's physical page is the one this mapping gives).
    fn chain(&mut self, site: usize, to: usize, entry: usize) {
        let Some((from, exit)) = self.cache.site(site) else { return };
        let (a, b) = (self.cache.block(from).key, self.cache.block(to).key);
        let same_mode = a.cs_base == b.cs_base && a.cs_limit == b.cs_limit && a.mode == b.mode;
        let linear_page = |k: &Key| k.cs_base.wrapping_add(k.eip) >> PAGE_SHIFT;
        let same_page = a.mode & MODE_PAGING == 0 || linear_page(&a) == linear_page(&b);
        if !(same_mode && same_page) {
            return;
        }
        self.patch(exit.site, entry);
        self.cache.link(ExitSite { site: exit.site, stub: exit.stub }, to);
        self.stats.blocks_chained += 1;
    }

    /// The small number tagging jump-cache entries for blocks that run under `key`'s
    /// CS base, CS limit and mode bits.
    fn mode_id(&mut self, key: &Key) -> u32 {
        let next = self.mode_ids.len() as u32;
        *self.mode_ids.entry((key.cs_base, key.cs_limit, key.mode)).or_insert(next)
    }

    /// Enters block `idx` (at code-buffer offset `entry`) in the jump cache, reached by
    /// an indirect branch at its EIP.
    fn remember_jump(&mut self, idx: usize, entry: usize) {
        let key = self.cache.block(idx).key;
        let Some(&mode_id) = self.mode_ids.get(&(key.cs_base, key.cs_limit, key.mode)) else { return };
        let slot = key.eip as usize % crate::ctx::JUMP_CACHE_ENTRIES;
        self.ctx.jump_cache[slot] = crate::ctx::JumpEntry {
            eip: key.eip,
            mode_id,
            phys_page: key.phys & !(PAGE_SIZE - 1),
            _pad: 0,
            host: (self.buf.base() + entry) as u64,
        };
    }

    /// Rewrites the `jmp rel32` at `site` to go to code-buffer offset `target`.
    fn patch(&mut self, site: usize, target: usize) {
        let rel = (target as i64 - (site as i64 + JMP_REL32_LEN)) as i32;
        if self.buf.write(site + 1, &rel.to_le_bytes()).is_err() {
            self.broken = true;
        }
    }
}

/// Length of `jmp rel32` (E9 + 4 bytes).
const JMP_REL32_LEN: i64 = 5;

/// The key of the block at CS:EIP, or `None` when the code is not reachable without the
/// interpreter (EIP past the CS limit, or a soft-TLB miss on the fetch).
fn block_key(cpu: &Cpu, mem: &PhysMem) -> Option<Key> {
    let cs = &cpu.seg[SegReg::Cs as usize];
    if cpu.eip > cs.limit {
        return None;
    }
    let linear = cs.base.wrapping_add(cpu.eip);
    let paging = cpu.cr0 & CR0_PG != 0;
    let phys = if paging {
        let e = cpu.tlb.entry(linear, cpu.cpl() == 3);
        if e.exec_tag != linear & !(PAGE_SIZE - 1) {
            return None;
        }
        linear.wrapping_add(e.addend)
    } else {
        linear
    };
    let (cs_base, cs_limit, mode) = mode_sig(cpu, mem);
    Some(Key { phys, eip: cpu.eip, cs_base, cs_limit, mode })
}

/// CS base, CS limit and the mode bits of a block key for the current state.
pub(crate) fn mode_sig(cpu: &Cpu, mem: &PhysMem) -> (u32, u32, u32) {
    let cs = &cpu.seg[SegReg::Cs as usize];
    let paging = cpu.cr0 & CR0_PG != 0;
    let cpl = cpu.cpl();
    let mut mode = (cpl as u32) << MODE_CPL_SHIFT;
    if cpu.code32() {
        mode |= MODE_CODE32;
    }
    if cpu.seg[SegReg::Ss as usize].is_32() {
        mode |= MODE_SS32;
    }
    if paging {
        mode |= MODE_PAGING;
    }
    if mem.a20() {
        mode |= MODE_A20;
    }
    if cpu.protected_mode() {
        mode |= MODE_PE;
        let flat = [SegReg::Es, SegReg::Ss, SegReg::Ds].iter().all(|&s| {
            let seg = &cpu.seg[s as usize];
            seg.base == 0 && seg.limit == u32::MAX && crate::ctx::segment_access(seg.attrs) == (true, true)
        });
        if flat {
            mode |= MODE_FLAT;
        }
    }
    (cs.base, cs.limit, mode)
}
