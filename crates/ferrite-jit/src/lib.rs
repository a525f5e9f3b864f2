//! `ferrite-jit` is ferrite's binary translator: it turns hot guest basic blocks (16-bit
//! real-mode and 32-bit protected-mode code, paged or not) into x86-64 host code with
//! `dynasmrt`, re-encoding guest instructions with iced's encoder so they run natively
//! on host registers that hold the guest's, with host EFLAGS carrying the guest's
//! arithmetic flags. Every memory operand goes through an inline probe of the shared
//! soft TLB and a per-page access table; anything unusual (a TLB miss, ROM, MMIO, a page
//! crossing, a write to a code page, a segment the fast path cannot check) and every
//! instruction the translator does not handle leaves generated code at an instruction
//! boundary and is executed by the interpreter (`Cpu::step`), which keeps exceptions
//! precise and semantics in one place. Blocks are cached by physical address and mode,
//! chained by patching their exit jumps, and dropped when their page is written.
//!
//! This crate is the only place in ferrite that emits host code. It needs an x86-64
//! host; [`Jit::new`] fails elsewhere and callers fall back to the interpreter.
//! `docs/translator.md` describes the design and what is translated.
#![deny(missing_docs)]

mod buffer;
mod cache;
mod ctx;
mod dispatch;
mod dump;
mod emit;
mod flagfix;
mod helpers;
mod plan;
mod translate;

use buffer::CodeBuffer;
use cache::Cache;
use ctx::JitCtx;
use ferrite_cpu::{Cpu, IoBus, RunExit};
use ferrite_mem::PhysMem;
use std::io::Write;

/// Default code-buffer size; when it fills up the whole cache is flushed.
pub const DEFAULT_CODE_BYTES: usize = 32 << 20;
/// Default number of times a block start is reached (and interpreted) before it is
/// translated.
pub const DEFAULT_HOT_THRESHOLD: u32 = 2;
/// Times a page's translations may be dropped for self-modifying code before the page is
/// left to the interpreter (until the next flush).
pub const SMC_PAGE_LIMIT: u32 = 4;
/// Guest instructions within which translation drops of one page count together towards
/// [`SMC_PAGE_LIMIT`]; a page left to the interpreter that has not been rewritten for
/// this long is translated again.
pub const SMC_WINDOW: u64 = 2_000_000;

/// Translator counters (`ferrite run --stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitStats {
    /// Blocks translated.
    pub blocks_translated: u64,
    /// Guest instructions in translated blocks.
    pub guest_insns_translated: u64,
    /// Block exits patched into direct jumps to their successor.
    pub blocks_chained: u64,
    /// Translated blocks dropped because their code page was written.
    pub blocks_invalidated: u64,
    /// Instructions handed to the interpreter (untranslated, slow-path memory accesses,
    /// cold code, budget tails), from inside blocks and from the dispatcher.
    pub interp_steps: u64,
    /// The part of `interp_steps` that generated code called without leaving the block
    /// (`helpers::step_one`: sensitive and untranslated instructions, slow paths).
    pub helper_calls: u64,
    /// Entries into generated code from the dispatcher.
    pub block_runs: u64,
    /// Host code bytes emitted.
    pub host_bytes: u64,
    /// Whole-cache flushes (code buffer full).
    pub flushes: u64,
    /// Soft-TLB misses of translated accesses filled by the MMU from the probe's miss
    /// path (the probe then retried, no interpreter step).
    pub tlb_fills: u64,
}

impl std::fmt::Display for JitStats {
    /// One line: `jit blocks-translated=N (G guest insns) chained=N invalidated=N ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "jit blocks-translated={} ({} guest insns) chained={} invalidated={} helper-calls={} (in-block interpreter \
             steps) dispatcher-steps={} block-runs={} host-bytes={} flushes={} tlb-fills={}",
            self.blocks_translated,
            self.guest_insns_translated,
            self.blocks_chained,
            self.blocks_invalidated,
            self.helper_calls,
            self.interp_steps - self.helper_calls,
            self.block_runs,
            self.host_bytes,
            self.flushes,
            self.tlb_fills
        )
    }
}

/// Whether the host is x86-64 with LAHF/SAHF in 64-bit mode (CPUID 8000_0001h ECX bit
/// 0, missing only on the first 64-bit Pentium 4s): generated code parks the guest's
/// flags with them.
fn host_has_lahf() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID exists on every x86-64 processor; leaf 0x8000_0000 reports the
        // highest extended leaf, and 0x8000_0001 is only read when it exists.
        #[allow(unused_unsafe)]
        unsafe {
            __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & 1 != 0
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Why the translator could not be created.
#[derive(Debug)]
pub enum JitError {
    /// The host is not x86-64.
    UnsupportedHost,
    /// The executable code buffer could not be mapped.
    CodeBuffer(std::io::Error),
}

impl std::fmt::Display for JitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JitError::UnsupportedHost => write!(f, "the jit engine needs an x86-64 host"),
            JitError::CodeBuffer(e) => write!(f, "cannot map the jit code buffer: {e}"),
        }
    }
}

impl std::error::Error for JitError {}

/// The translator: code buffer, translation cache and the dispatcher's state.
pub struct Jit {
    buf: CodeBuffer,
    /// Bytes of fixed stubs at the start of the buffer.
    stubs_len: usize,
    entry_stub: usize,
    exit_stub: usize,
    /// Code-buffer offsets of the shared helper stubs blocks call.
    helper_stubs: emit::HelperStubs,
    cache: Cache,
    /// Small numbers for the (CS base, CS limit, mode bits) triples blocks run under;
    /// jump-cache entries are tagged with them.
    mode_ids: hashbrown::HashMap<(u32, u32, u32), u32>,
    /// Per physical page, how many times its translations were dropped because it was
    /// written (within [`SMC_WINDOW`] of each other) and the instruction count of the
    /// last drop; past [`SMC_PAGE_LIMIT`] the page's code is left to the interpreter
    /// (translating code that keeps being rewritten costs more than it saves).
    smc_pages: hashbrown::HashMap<u32, (u32, u64)>,
    ctx: Box<JitCtx>,
    stats: JitStats,
    hot_threshold: u32,
    /// The budget of [`Jit::run`] is a slice length, not an exact stop: see
    /// [`Jit::set_budget_overrun`].
    overrun: bool,
    chaining: bool,
    /// Set if the code buffer could not be written: everything runs in the interpreter.
    broken: bool,
    dump: Option<Box<dyn Write + Send>>,
}

impl Drop for Jit {
    /// Prints the step profile, if one was asked for through the environment.
    fn drop(&mut self) {
        if self.ctx.profile.is_none() || std::env::var_os("FERRITE_JIT_STEP_PROFILE").is_none() {
            return;
        }
        eprintln!("jit step profile (mnemonic, in-block helper calls, dispatcher steps):");
        for (name, helper, dispatcher) in self.step_profile().iter().take(40) {
            eprintln!("  {name:<16} {helper:>12} {dispatcher:>12}");
        }
    }
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit")
            .field("stats", &self.stats)
            .field("blocks", &self.cache.len())
            .field("dual_view", &self.buf.dual_view())
            .finish_non_exhaustive()
    }
}

impl Jit {
    /// A translator with a [`DEFAULT_CODE_BYTES`] code buffer.
    pub fn new() -> Result<Jit, JitError> {
        Self::with_capacity(DEFAULT_CODE_BYTES)
    }

    /// A translator with a code buffer of `bytes` (at least 64 KiB).
    pub fn with_capacity(bytes: usize) -> Result<Jit, JitError> {
        if !host_has_lahf() {
            return Err(JitError::UnsupportedHost);
        }
        let mut buf = CodeBuffer::new(bytes.max(64 << 10)).map_err(JitError::CodeBuffer)?;
        let mut ops = emit::Asm::new(buf.base());
        let (entry_stub, exit_stub) = emit::stubs(&mut ops);
        let helper_stubs = emit::helper_stubs(&mut ops);
        let code = ops.finalize().map_err(|e| JitError::CodeBuffer(std::io::Error::other(format!("{e:?}"))))?;
        buf.append(&code).map_err(JitError::CodeBuffer)?;
        Ok(Jit {
            stubs_len: buf.len(),
            buf,
            entry_stub,
            exit_stub,
            helper_stubs,
            cache: Cache::default(),
            mode_ids: hashbrown::HashMap::new(),
            smc_pages: hashbrown::HashMap::new(),
            ctx: Box::new(JitCtx::new()),
            stats: JitStats::default(),
            hot_threshold: DEFAULT_HOT_THRESHOLD,
            overrun: false,
            chaining: true,
            broken: false,
            dump: None,
        })
        .map(|mut jit| {
            if std::env::var_os("FERRITE_JIT_STEP_PROFILE").is_some_and(|v| v == "1") {
                jit.set_step_profile(true);
            }
            jit
        })
    }

    /// Runs up to `budget` instructions, with the same meaning of budget and the same
    /// exits as [`Cpu::run`]: translated blocks where possible, the interpreter for the
    /// rest.
    pub fn run(&mut self, cpu: &mut Cpu, mem: &mut PhysMem, io: &mut dyn IoBus, budget: u64) -> RunExit {
        self.dispatch(cpu, mem, io, budget)
    }

    /// Counters so far.
    pub fn stats(&self) -> JitStats {
        self.stats
    }

    /// Sets how many times a block start is reached before it is translated (1: at once).
    pub fn set_hot_threshold(&mut self, n: u32) {
        self.hot_threshold = n.max(1);
    }

    /// Lets [`Jit::run`] overshoot its budget by less than one block: a block that starts
    /// with budget left runs to its end instead of the interpreter counting out the last
    /// instructions one by one. For a machine on host time, whose slices only pace the
    /// device checks; never where the count must be exact (deterministic time, an
    /// instruction limit, a debugger's single step). Off by default.
    pub fn set_budget_overrun(&mut self, on: bool) {
        self.overrun = on;
    }

    /// Enables or disables chaining of block exits.
    pub fn set_chaining(&mut self, on: bool) {
        self.chaining = on;
    }

    /// Writes the guest and host disassembly of every block translated from now on.
    pub fn set_dump(&mut self, out: Option<Box<dyn Write + Send>>) {
        self.dump = out;
    }

    /// Starts (or stops) counting interpreter steps per guest mnemonic, to find what is
    /// worth translating natively (`FERRITE_JIT_STEP_PROFILE=1` turns it on at creation
    /// and prints the table to stderr when the translator is dropped).
    pub fn set_step_profile(&mut self, on: bool) {
        self.ctx.profile = on.then(Default::default);
    }

    /// Interpreter steps so far per mnemonic: (mnemonic, in-block helper calls,
    /// dispatcher steps), most frequent first. Empty unless [`Jit::set_step_profile`].
    pub fn step_profile(&self) -> Vec<(String, u64, u64)> {
        let Some(p) = self.ctx.profile.as_ref() else { return Vec::new() };
        let mut by_name: hashbrown::HashMap<String, (u64, u64)> = hashbrown::HashMap::new();
        for (name, helper, dispatcher) in p.values() {
            let e = by_name.entry(name.clone()).or_default();
            e.0 += helper;
            e.1 += dispatcher;
        }
        let mut v: Vec<(String, u64, u64)> = by_name.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1 + e.2));
        v
    }

    /// Drops every translation (after a machine reset or a bulk load into RAM).
    pub fn flush(&mut self) {
        self.cache.clear();
        self.smc_pages.clear();
        self.ctx.clear_jump_cache();
        self.buf.truncate(self.stubs_len);
        self.stats.flushes += 1;
    }
}
