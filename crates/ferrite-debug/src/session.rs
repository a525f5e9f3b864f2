//! The execution driver shared by the REPL, the gdb stub and `ferrite run --trace`: it owns
//! the numbered breakpoints and watchpoints, runs the machine in slices (or one instruction
//! at a time while stepping or tracing) through [`Machine::run_for`], and turns what the
//! CPU came back for into a [`Stop`].
//!
//! Breakpoints and watchpoints are the CPU's host hooks (`Cpu::hooks`), which both engines
//! honour: the interpreter checks them today, and the translator will end its blocks on
//! them and call back into the same hooks, so nothing here depends on the engine.

use crate::trace::Tracer;
use ferrite_cpu::{WatchHit, Watchpoint};
use ferrite_machine::{Machine, StopReason, SLICE_INSNS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A breakpoint or watchpoint the user set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Stop before the instruction at this linear address.
    Linear(u32),
    /// Stop before the instruction at this physical address.
    Phys(u32),
    /// Stop after an instruction that accessed the range.
    Watch(Watchpoint),
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::Linear(a) => write!(f, "breakpoint at {a:08X}"),
            Point::Phys(a) => write!(f, "breakpoint at p:{a:08X}"),
            Point::Watch(w) => {
                let kind = match (w.read, w.write) {
                    (true, true) => "rw",
                    (true, false) => "r",
                    _ => "w",
                };
                write!(f, "watchpoint ({kind}) on {:08X}, {} byte(s)", w.addr, w.len)
            }
        }
    }
}

/// Why execution came back to the debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The requested number of instructions ran.
    Stepped,
    /// A breakpoint: the instruction at CS:EIP has not run.
    Breakpoint,
    /// A watchpoint: the instruction that made the access has run.
    Watch(WatchHit),
    /// The target of `until`/`next` is the next instruction.
    Reached,
    /// Ctrl-C (the machine's interrupt flag).
    Interrupted,
    /// The caller's poll function asked to stop (the gdb client sent data).
    Polled,
    /// The machine stopped by itself: exit port, halt, triple fault, instruction budget.
    Machine(StopReason),
}

/// A machine under a debugger.
pub struct Session<'m> {
    machine: &'m mut Machine,
    interrupt: Arc<AtomicBool>,
    tracer: Option<Tracer>,
    points: Vec<(u32, Point)>,
    next_id: u32,
}

impl<'m> Session<'m> {
    /// Takes over `machine`; with a tracer, executed instructions are logged to it.
    pub fn new(machine: &'m mut Machine, tracer: Option<Tracer>) -> Self {
        let interrupt = machine.interrupt_handle();
        let s = Session { machine, interrupt, tracer, points: Vec::new(), next_id: 1 };
        if let Some(from) = s.tracer.as_ref().and_then(Tracer::pending_start) {
            s.machine.cpu_mut().hooks.add_breakpoint(from);
        }
        s
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        self.machine
    }

    /// The machine, mutable.
    pub fn machine_mut(&mut self) -> &mut Machine {
        self.machine
    }

    /// Adds a breakpoint or watchpoint; returns its number.
    pub fn add_point(&mut self, p: Point) -> u32 {
        let hooks = &mut self.machine.cpu_mut().hooks;
        match p {
            Point::Linear(a) => hooks.add_breakpoint(a),
            Point::Phys(a) => hooks.add_phys_breakpoint(a),
            Point::Watch(w) => hooks.add_watchpoint(w),
        }
        let id = self.next_id;
        self.next_id += 1;
        self.points.push((id, p));
        id
    }

    /// Removes the point numbered `id`; false when there is none.
    pub fn remove_point(&mut self, id: u32) -> bool {
        let Some(i) = self.points.iter().position(|(n, _)| *n == id) else { return false };
        let (_, p) = self.points.remove(i);
        self.unhook(p);
        true
    }

    /// Removes the first point equal to `p`; false when there is none.
    pub fn remove_matching(&mut self, p: Point) -> bool {
        match self.points.iter().find(|(_, q)| *q == p) {
            Some(&(id, _)) => self.remove_point(id),
            None => false,
        }
    }

    /// Removes every point.
    pub fn clear_points(&mut self) {
        for (_, p) in std::mem::take(&mut self.points) {
            self.unhook(p);
        }
    }

    /// The points, numbered, in the order they were set.
    pub fn points(&self) -> &[(u32, Point)] {
        &self.points
    }

    /// Takes a point out of the CPU's hooks unless another user point or an internal one
    /// still needs the same hook.
    fn unhook(&mut self, p: Point) {
        if self.points.iter().any(|(_, q)| *q == p) {
            return;
        }
        let trace_bp = self.tracer.as_ref().and_then(Tracer::pending_start);
        let hooks = &mut self.machine.cpu_mut().hooks;
        match p {
            Point::Linear(a) if trace_bp != Some(a) => {
                hooks.remove_breakpoint(a);
            }
            Point::Linear(_) => {}
            Point::Phys(a) => {
                hooks.remove_phys_breakpoint(a);
            }
            Point::Watch(w) => {
                hooks.remove_watchpoint(w);
            }
        }
    }

    fn has_user_linear(&self, a: u32) -> bool {
        self.points.iter().any(|(_, q)| *q == Point::Linear(a))
    }

    /// Whether a user breakpoint (linear or physical) sits at the current CS:EIP.
    fn user_break_at_pc(&self) -> bool {
        let cpu = self.machine.cpu();
        let lin = cpu.pc_linear();
        let phys = cpu.translate_debug(self.machine.mem(), lin).phys;
        self.points.iter().any(|(_, q)| *q == Point::Linear(lin) || Some(*q) == phys.map(Point::Phys))
    }

    /// Executes `n` instructions (fewer if something stops first).
    pub fn step(&mut self, n: u64, poll: &mut dyn FnMut() -> bool) -> Stop {
        self.advance(Some(n.max(1)), None, poll)
    }

    /// Runs until a breakpoint, a watchpoint, Ctrl-C, `poll` or a machine stop.
    pub fn cont(&mut self, poll: &mut dyn FnMut() -> bool) -> Stop {
        self.advance(None, None, poll)
    }

    /// Runs until the instruction at linear `target` is next (or something else stops).
    pub fn run_to(&mut self, target: u32, poll: &mut dyn FnMut() -> bool) -> Stop {
        self.advance(None, Some(target), poll)
    }

    fn advance(&mut self, steps: Option<u64>, target: Option<u32>, poll: &mut dyn FnMut() -> bool) -> Stop {
        let trace_bp = self.tracer.as_ref().and_then(Tracer::pending_start);
        let arm_target = target.filter(|&a| !self.has_user_linear(a) && trace_bp != Some(a));
        if let Some(a) = arm_target {
            self.machine.cpu_mut().hooks.add_breakpoint(a);
        }
        // The instruction at CS:EIP runs even when it sits on a breakpoint: that is how a
        // debugger steps or continues from a breakpoint stop.
        self.machine.cpu_mut().hooks.resume = true;
        let mut left = steps;
        let stop = loop {
            if self.interrupt.swap(false, Ordering::Relaxed) {
                break Stop::Interrupted;
            }
            if poll() {
                break Stop::Polled;
            }
            let outcome = match self.tracer.as_mut().filter(|t| t.active()) {
                Some(t) => t.step(self.machine),
                None => self.machine.run_for(if left.is_some() { 1 } else { SLICE_INSNS }),
            };
            self.machine.cpu_mut().hooks.resume = false;
            match outcome {
                None => {
                    if let Some(l) = left.as_mut() {
                        *l -= 1;
                        if *l == 0 {
                            break Stop::Stepped;
                        }
                    }
                }
                Some(StopReason::Debug) => {
                    if let Some(hit) = self.machine.cpu_mut().hooks.hit.take() {
                        break Stop::Watch(hit);
                    }
                    let pc = self.machine.cpu().pc_linear();
                    if trace_bp == Some(pc) && self.tracer.as_ref().is_some_and(|t| t.pending_start().is_some()) {
                        if let Some(t) = self.tracer.as_mut() {
                            t.start();
                        }
                        if !self.has_user_linear(pc) {
                            self.machine.cpu_mut().hooks.remove_breakpoint(pc);
                        }
                        if !self.user_break_at_pc() && target != Some(pc) {
                            continue;
                        }
                    }
                    if target == Some(pc) {
                        break Stop::Reached;
                    }
                    break Stop::Breakpoint;
                }
                Some(reason) => break Stop::Machine(reason),
            }
        };
        if let Some(a) = arm_target {
            if !self.has_user_linear(a) {
                self.machine.cpu_mut().hooks.remove_breakpoint(a);
            }
        }
        if let Some(t) = self.tracer.as_mut() {
            t.flush();
        }
        stop
    }
}

/// A poll function that never asks to stop.
pub fn never() -> impl FnMut() -> bool {
    || false
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_machine::MachineConfig;

    /// mov al, 'K'; out 0xE9, al; mov al, 5; out 0xF4, al — at the reset vector.
    fn machine() -> Machine {
        let mut image = vec![0xF4; 64 * 1024];
        image[0xFFF0..0xFFF8].copy_from_slice(&[0xB0, b'K', 0xE6, 0xE9, 0xB0, 0x05, 0xE6, 0xF4]);
        Machine::new(MachineConfig::new(image)).unwrap()
    }

    #[test]
    fn test_step_break_continue() {
        let mut m = machine();
        let mut s = Session::new(&mut m, None);
        assert_eq!(s.step(2, &mut never()), Stop::Stepped);
        assert_eq!(s.machine().cpu().eip, 0xFFF4);
        let id = s.add_point(Point::Linear(0xFFFF_FFF6));
        assert_eq!(s.cont(&mut never()), Stop::Breakpoint);
        assert_eq!(s.machine().cpu().eip, 0xFFF6);
        assert!(s.remove_point(id));
        assert!(!s.remove_point(id));
        assert_eq!(s.cont(&mut never()), Stop::Machine(StopReason::ExitPort(5)));
    }

    #[test]
    fn test_run_to_and_poll_and_interrupt() {
        let mut m = machine();
        let flag = m.interrupt_handle();
        let mut s = Session::new(&mut m, None);
        assert_eq!(s.run_to(0xFFFF_FFF4, &mut never()), Stop::Reached);
        assert_eq!(s.machine().cpu().eip, 0xFFF4);
        assert!(s.machine().cpu().hooks.breakpoints().next().is_none(), "temporary breakpoint removed");
        assert_eq!(s.cont(&mut || true), Stop::Polled);
        flag.store(true, Ordering::Relaxed);
        assert_eq!(s.cont(&mut never()), Stop::Interrupted);
        assert_eq!(s.machine().cpu().eip, 0xFFF4, "nothing ran");
    }

    #[test]
    fn test_watchpoint_stop_reports_the_access() {
        // mov byte [0x500], 1 (real mode, DS = 0); hlt
        let mut image = vec![0xF4; 64 * 1024];
        image[0xFFF0..0xFFF5].copy_from_slice(&[0xC6, 0x06, 0x00, 0x05, 0x01]);
        let mut m = Machine::new(MachineConfig::new(image)).unwrap();
        let mut s = Session::new(&mut m, None);
        s.add_point(Point::Watch(Watchpoint { addr: 0x500, len: 1, read: false, write: true }));
        match s.cont(&mut never()) {
            Stop::Watch(hit) => assert!(hit.write && hit.addr == 0x500),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.machine().cpu().eip, 0xFFF5, "stopped after the store");
        s.clear_points();
        assert!(s.points().is_empty());
        assert_eq!(s.cont(&mut never()), Stop::Machine(StopReason::Halted));
    }
}
