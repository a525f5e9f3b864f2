//! The small surface the binary translator (`ferrite-jit`) needs beyond the public state:
//! keeping the interpreter's decoded-block cache in step with code-page writes the
//! translator drains, knowing when host debugging forces every instruction through
//! the interpreter, and filling the soft TLB from a probe's miss path (or for the code at
//! CS:EIP).

use crate::bus::IoBus;
use crate::flags::Flags;
use crate::interp::Exec;
use crate::memory::Access;
use crate::state::Cpu;
use ferrite_mem::PhysMem;

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

    /// The shadow MMU's fill for one data access at `linear` by the current privilege
    /// class (a hypervisor-induced fault): walks the guest's page tables, sets the
    /// accessed (and, for `write`, dirty) bits and installs the soft-TLB entry, exactly as
    /// the interpreter does on a miss. Returns false, having changed nothing, when the
    /// access would fault; the caller then lets the interpreter execute the instruction,
    /// which raises the #PF. Paging must be on.
    pub fn fill_tlb(&mut self, mem: &mut PhysMem, io: &mut dyn IoBus, linear: u32, write: bool) -> bool {
        if self.cr0 & crate::paging::CR0_PG == 0 {
            return false;
        }
        let access = if write { Access::Write } else { Access::Read };
        self.fill_tlb_as(mem, io, linear, access)
    }

    /// The same fill for an instruction fetch at `linear`: a translator that finds no
    /// execute entry for the code at CS:EIP fills it this way and looks again, instead of
    /// having the interpreter fetch one instruction to do it. False, having changed
    /// nothing, when the fetch would fault (the interpreter then raises the #PF).
    pub fn fill_tlb_fetch(&mut self, mem: &mut PhysMem, io: &mut dyn IoBus, linear: u32) -> bool {
        if self.cr0 & crate::paging::CR0_PG == 0 {
            return false;
        }
        self.fill_tlb_as(mem, io, linear, Access::Execute)
    }

    fn fill_tlb_as(&mut self, mem: &mut PhysMem, io: &mut dyn IoBus, linear: u32, access: Access) -> bool {
        let user = self.cpl() == 3;
        let mut ex = Exec::new(self, mem, io);
        ex.walk_and_fill(linear, access, user).is_ok()
    }
}
