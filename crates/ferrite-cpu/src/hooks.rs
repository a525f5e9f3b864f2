//! Host-side debugging hooks: breakpoints and watchpoints set by ferrite's debugger or gdb
//! stub, invisible to the guest (unlike DR0–DR7). The run loop stops *before* an
//! instruction at a breakpoint and *after* an instruction that touched a watched range,
//! returning [`crate::RunExit::Breakpoint`] / [`crate::RunExit::Watchpoint`].

use hashbrown::HashSet;

/// A watched range of linear addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchpoint {
    /// First linear address.
    pub addr: u32,
    /// Length in bytes (at least 1).
    pub len: u32,
    /// Stop on reads.
    pub read: bool,
    /// Stop on writes.
    pub write: bool,
}

/// What stopped the run at a watchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchHit {
    /// The watchpoint that matched.
    pub watch: Watchpoint,
    /// Linear address of the access.
    pub addr: u32,
    /// Whether the access was a write.
    pub write: bool,
}

/// Breakpoints and watchpoints.
#[derive(Debug, Default, Clone)]
pub struct DebugHooks {
    linear: HashSet<u32>,
    physical: HashSet<u32>,
    watches: Vec<Watchpoint>,
    /// Let the next instruction run even if it sits on a breakpoint (set it to continue or
    /// step from a breakpoint stop).
    pub resume: bool,
    /// The watchpoint hit of the last instruction, if any.
    pub hit: Option<WatchHit>,
    pub(crate) any_break: bool,
    pub(crate) any_watch: bool,
}

impl DebugHooks {
    /// Stops before executing an instruction at linear address `addr`.
    pub fn add_breakpoint(&mut self, addr: u32) {
        self.linear.insert(addr);
        self.refresh();
    }

    /// Stops before executing an instruction at physical address `addr`.
    pub fn add_phys_breakpoint(&mut self, addr: u32) {
        self.physical.insert(addr);
        self.refresh();
    }

    /// Removes a linear breakpoint; returns whether it existed.
    pub fn remove_breakpoint(&mut self, addr: u32) -> bool {
        let r = self.linear.remove(&addr);
        self.refresh();
        r
    }

    /// Removes a physical breakpoint; returns whether it existed.
    pub fn remove_phys_breakpoint(&mut self, addr: u32) -> bool {
        let r = self.physical.remove(&addr);
        self.refresh();
        r
    }

    /// Adds a watchpoint.
    pub fn add_watchpoint(&mut self, w: Watchpoint) {
        self.watches.push(Watchpoint { len: w.len.max(1), ..w });
        self.refresh();
    }

    /// Removes every watchpoint equal to `w`; returns whether one existed.
    pub fn remove_watchpoint(&mut self, w: Watchpoint) -> bool {
        let before = self.watches.len();
        self.watches.retain(|x| *x != Watchpoint { len: w.len.max(1), ..w });
        self.refresh();
        self.watches.len() != before
    }

    /// Removes every breakpoint and watchpoint.
    pub fn clear(&mut self) {
        self.linear.clear();
        self.physical.clear();
        self.watches.clear();
        self.refresh();
    }

    /// The linear breakpoints.
    pub fn breakpoints(&self) -> impl Iterator<Item = u32> + '_ {
        self.linear.iter().copied()
    }

    /// The physical breakpoints.
    pub fn phys_breakpoints(&self) -> impl Iterator<Item = u32> + '_ {
        self.physical.iter().copied()
    }

    /// The watchpoints.
    pub fn watchpoints(&self) -> &[Watchpoint] {
        &self.watches
    }

    fn refresh(&mut self) {
        self.any_break = !self.linear.is_empty() || !self.physical.is_empty();
        self.any_watch = !self.watches.is_empty();
    }

    /// Whether an instruction at (`linear`, `physical`) is a breakpoint.
    pub(crate) fn is_break(&self, linear: u32, physical: Option<u32>) -> bool {
        self.linear.contains(&linear) || physical.is_some_and(|p| self.physical.contains(&p))
    }

    /// Records the first watchpoint an access matches.
    pub(crate) fn note_access(&mut self, addr: u32, size: u8, write: bool) {
        if self.hit.is_some() {
            return;
        }
        let end = addr as u64 + size as u64;
        for w in &self.watches {
            let kind = if write { w.write } else { w.read };
            if kind && (addr as u64) < w.addr as u64 + w.len as u64 && (w.addr as u64) < end {
                self.hit = Some(WatchHit { watch: *w, addr, write });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cpu, NullBus, RunExit, SegReg};

    fn cpu_at(code: &[u8]) -> (Cpu, ferrite_mem::PhysMem) {
        let mut mem = ferrite_mem::PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(0x100, code);
        let mut cpu = Cpu::new();
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.eip = 0x100;
        cpu.gpr[4] = 0x8000;
        (cpu, mem)
    }

    // inc ax; inc ax; mov [0x200], ax; inc ax; hlt
    const CODE: [u8; 8] = [0x40, 0x40, 0xA3, 0x00, 0x02, 0x40, 0xF4, 0xF4];

    #[test]
    fn test_breakpoint_stops_before_the_instruction_and_resumes() {
        let (mut cpu, mut mem) = cpu_at(&CODE);
        cpu.hooks.add_breakpoint(0x101);
        assert_eq!(cpu.run(&mut mem, &mut NullBus, 100), RunExit::Breakpoint);
        assert_eq!((cpu.eip, cpu.gpr[0]), (0x101, 1));
        cpu.hooks.resume = true;
        assert_eq!(cpu.run(&mut mem, &mut NullBus, 100), RunExit::Halted);
        assert_eq!(cpu.gpr[0], 3);
    }

    #[test]
    fn test_physical_breakpoint() {
        let (mut cpu, mut mem) = cpu_at(&CODE);
        cpu.hooks.add_phys_breakpoint(0x105);
        assert_eq!(cpu.run(&mut mem, &mut NullBus, 100), RunExit::Breakpoint);
        assert_eq!(cpu.eip, 0x105);
    }

    #[test]
    fn test_write_watchpoint_stops_after_the_access() {
        let (mut cpu, mut mem) = cpu_at(&CODE);
        cpu.hooks.add_watchpoint(Watchpoint { addr: 0x201, len: 1, read: false, write: true });
        assert_eq!(cpu.run(&mut mem, &mut NullBus, 100), RunExit::Watchpoint);
        assert_eq!(cpu.eip, 0x105, "stopped after the store");
        let hit = cpu.hooks.hit.take().unwrap();
        assert!(hit.write);
        assert_eq!(hit.addr, 0x200);
        assert_eq!(mem.read_u8(0x200), 2);
    }
}
