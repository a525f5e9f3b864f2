//! The small surface the binary translator (`ferrite-jit`) needs beyond the public state:
//! keeping the interpreter's decoded-block cache in step with code-page writes the
//! translator drains, and knowing when host debugging forces every instruction through
//! the interpreter.

use crate::flags::Flags;
use crate::state::Cpu;

impl Cpu {
    /// Drops the interpreter's decoded blocks from RAM page `page` (a page number). An
    /// engine that drains [`ferrite_mem::PhysMem::take_written_code_pages`] itself calls
    /// this for every page it takes, so the interpreter never runs stale decodes.
    pub fn invalidate_decoded_page(&mut self, page: u32) {
        self.cache.invalidate_page(page);
    }

    /// Whether any per-instruction observer is armed: host breakpoints or watchpoints,
    /// debug-register breakpoints (DR7), single-step (TF) or a pending resume (RF). While
    /// it is, a translator must let the interpreter execute every instruction.
    pub fn debug_armed(&self) -> bool {
        self.hooks.any_break
            || self.hooks.any_watch
            || self.hooks.resume
            || self.dbg.exec_mask != 0
            || self.dbg.data_armed()
            || self.eflags & (Flags::TF | Flags::RF) != 0
    }
}
