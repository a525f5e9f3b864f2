//! The gdb stub (`--gdb PORT`): the GDB remote serial protocol over TCP on 127.0.0.1, with
//! the i386 target description (general, segment, x87 and SSE registers), through the
//! `gdbstub` crate. It offers register and memory reads and writes, software and hardware
//! breakpoints, read/write/access watchpoints, single-step, continue and Ctrl-C.
//!
//! Addresses gdb uses are linear (`break *0x100020` stops where CS.base + EIP is
//! 0x100020), translated through the guest's page tables for memory accesses. Writing a
//! segment register through gdb is refused in protected mode (it would need a descriptor
//! load); in real mode the base follows the selector.

use crate::session::{Point, Session, Stop};
use crate::trace::Tracer;
use crate::vmem;
use ferrite_cpu::{Flags, Gpr, SegReg, Watchpoint, F80};
use ferrite_machine::{Machine, StopReason};
use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::{run_blocking, DisconnectReason, GdbStub, SingleThreadStopReason};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep, SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86CoreRegs;
use gdbstub_arch::x86::X86_SSE;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

/// How often a running guest looks for a gdb connection when started without `--paused`.
const ACCEPT_POLL: Duration = Duration::from_millis(0);
/// The segment registers in gdb's order (CS, SS, DS, ES, FS, GS).
const GDB_SEGS: [SegReg; 6] = [SegReg::Cs, SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs];

/// What gdb asked the target to do on the next resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Continue,
    Step,
}

/// The machine as gdb's target.
pub struct GdbTarget<'m> {
    session: Session<'m>,
    mode: Mode,
    last_stop: Option<StopReason>,
}

impl GdbTarget<'_> {
    fn gdb_segs(&self, regs: &mut X86CoreRegs) {
        let cpu = self.session.machine().cpu();
        let s = |r: SegReg| cpu.seg[r as usize].selector as u32;
        regs.segments.cs = s(SegReg::Cs);
        regs.segments.ss = s(SegReg::Ss);
        regs.segments.ds = s(SegReg::Ds);
        regs.segments.es = s(SegReg::Es);
        regs.segments.fs = s(SegReg::Fs);
        regs.segments.gs = s(SegReg::Gs);
    }
}

/// gdb's 10-byte form of an x87 register.
fn f80_bytes(r: F80) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&r.sig.to_le_bytes());
    b[8..].copy_from_slice(&r.se.to_le_bytes());
    b
}

impl Target for GdbTarget<'_> {
    type Arch = X86_SSE;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for GdbTarget<'_> {
    fn read_registers(&mut self, regs: &mut X86CoreRegs) -> TargetResult<(), Self> {
        self.gdb_segs(regs);
        let cpu = self.session.machine().cpu();
        let g = |r: Gpr| cpu.gpr[r as usize];
        (regs.eax, regs.ecx, regs.edx, regs.ebx) = (g(Gpr::Eax), g(Gpr::Ecx), g(Gpr::Edx), g(Gpr::Ebx));
        (regs.esp, regs.ebp, regs.esi, regs.edi) = (g(Gpr::Esp), g(Gpr::Ebp), g(Gpr::Esi), g(Gpr::Edi));
        regs.eip = cpu.eip;
        regs.eflags = cpu.eflags;
        let f = &cpu.fpu;
        let top = (f.sw >> 11) & 7;
        for (i, st) in regs.st.iter_mut().enumerate() {
            *st = f80_bytes(f.regs[((top as usize) + i) & 7]);
        }
        regs.fpu.fctrl = f.cw as u32;
        regs.fpu.fstat = f.sw as u32;
        regs.fpu.ftag = f.tw as u32;
        regs.fpu.fiseg = f.fcs as u32;
        regs.fpu.fioff = f.fip;
        regs.fpu.foseg = f.fds as u32;
        regs.fpu.fooff = f.fdp;
        regs.fpu.fop = f.fop as u32;
        regs.xmm = cpu.sse.xmm;
        regs.mxcsr = cpu.sse.mxcsr;
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86CoreRegs) -> TargetResult<(), Self> {
        let cpu = self.session.machine_mut().cpu_mut();
        let wanted = [
            regs.segments.cs,
            regs.segments.ss,
            regs.segments.ds,
            regs.segments.es,
            regs.segments.fs,
            regs.segments.gs,
        ];
        let real = !cpu.protected_mode() || cpu.eflags & Flags::VM != 0;
        for (&s, &sel) in GDB_SEGS.iter().zip(&wanted) {
            if cpu.seg[s as usize].selector as u32 != sel {
                if !real {
                    return Err(TargetError::NonFatal);
                }
                cpu.load_seg_real(s, sel as u16);
            }
        }
        let gprs = [regs.eax, regs.ecx, regs.edx, regs.ebx, regs.esp, regs.ebp, regs.esi, regs.edi];
        cpu.gpr = gprs;
        cpu.eip = regs.eip;
        cpu.eflags = regs.eflags | Flags::FIXED1;
        let top = (regs.fpu.fstat >> 11) & 7;
        for (i, st) in regs.st.iter().enumerate() {
            let mut sig = [0u8; 8];
            sig.copy_from_slice(&st[..8]);
            cpu.fpu.regs[(top as usize + i) & 7] =
                F80 { sig: u64::from_le_bytes(sig), se: u16::from_le_bytes([st[8], st[9]]) };
        }
        cpu.fpu.cw = regs.fpu.fctrl as u16;
        cpu.fpu.sw = regs.fpu.fstat as u16;
        cpu.fpu.tw = regs.fpu.ftag as u16;
        cpu.sse.xmm = regs.xmm;
        cpu.sse.mxcsr = regs.mxcsr;
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8]) -> TargetResult<usize, Self> {
        let m = self.session.machine();
        let mut done = 0usize;
        while done < data.len() {
            let addr = start.wrapping_add(done as u32);
            let Ok(phys) = vmem::linear_to_phys(m.cpu(), m.mem(), addr) else { break };
            let n = ((0x1000 - (addr & 0xFFF)) as usize).min(data.len() - done);
            m.mem().read_bytes(phys, &mut data[done..done + n]);
            done += n;
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u32, data: &[u8]) -> TargetResult<(), Self> {
        let (cpu, mem) = self.session.machine_mut().cpu_and_mem_mut();
        vmem::write_linear(cpu, mem, start, data).map_err(|_| TargetError::NonFatal)
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for GdbTarget<'_> {
    fn resume(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("ferrite cannot resume with a signal");
        }
        self.mode = Mode::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for GdbTarget<'_> {
    fn step(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("ferrite cannot step with a signal");
        }
        self.mode = Mode::Step;
        Ok(())
    }
}

impl Breakpoints for GdbTarget<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for GdbTarget<'_> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.session.add_point(Point::Linear(addr));
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.session.remove_matching(Point::Linear(addr)))
    }
}

impl HwBreakpoint for GdbTarget<'_> {
    fn add_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.session.add_point(Point::Linear(addr));
        Ok(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.session.remove_matching(Point::Linear(addr)))
    }
}

/// The hook watchpoint for a gdb watchpoint.
fn watch_point(addr: u32, len: u32, kind: WatchKind) -> Point {
    let (read, write) = match kind {
        WatchKind::Write => (false, true),
        WatchKind::Read => (true, false),
        WatchKind::ReadWrite => (true, true),
    };
    Point::Watch(Watchpoint { addr, len: len.max(1), read, write })
}

impl HwWatchpoint for GdbTarget<'_> {
    fn add_hw_watchpoint(&mut self, addr: u32, len: u32, kind: WatchKind) -> TargetResult<bool, Self> {
        self.session.add_point(watch_point(addr, len, kind));
        Ok(true)
    }

    fn remove_hw_watchpoint(&mut self, addr: u32, len: u32, kind: WatchKind) -> TargetResult<bool, Self> {
        Ok(self.session.remove_matching(watch_point(addr, len, kind)))
    }
}

/// The blocking event loop: runs the guest until it stops or gdb sends something.
struct EventLoop<'m>(PhantomData<&'m ()>);

impl<'m> run_blocking::BlockingEventLoop for EventLoop<'m> {
    type Target = GdbTarget<'m>;
    type Connection = TcpStream;
    type StopReason = SingleThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut GdbTarget<'m>,
        conn: &mut TcpStream,
    ) -> Result<
        run_blocking::Event<SingleThreadStopReason<u32>>,
        run_blocking::WaitForStopReasonError<&'static str, std::io::Error>,
    > {
        let mut poll = || conn.peek().map(|b| b.is_some()).unwrap_or(true);
        let stop = match target.mode {
            Mode::Step => target.session.step(1, &mut poll),
            Mode::Continue => target.session.cont(&mut poll),
        };
        let reason = match stop {
            Stop::Polled => {
                let byte = conn.read().map_err(run_blocking::WaitForStopReasonError::Connection)?;
                return Ok(run_blocking::Event::IncomingData(byte));
            }
            Stop::Stepped | Stop::Reached => SingleThreadStopReason::DoneStep,
            Stop::Breakpoint => SingleThreadStopReason::SwBreak(()),
            Stop::Watch(hit) => {
                let kind = match (hit.watch.read, hit.watch.write) {
                    (true, true) => WatchKind::ReadWrite,
                    (true, false) => WatchKind::Read,
                    _ => WatchKind::Write,
                };
                SingleThreadStopReason::Watch { tid: (), kind, addr: hit.addr.max(hit.watch.addr) }
            }
            Stop::Interrupted => SingleThreadStopReason::Signal(Signal::SIGINT),
            Stop::Machine(r) => {
                target.last_stop = Some(r);
                match r {
                    StopReason::ExitPort(_) => SingleThreadStopReason::Exited(r.exit_status() as u8),
                    StopReason::Halted | StopReason::PowerOff | StopReason::Reboot => SingleThreadStopReason::Exited(0),
                    StopReason::TripleFault => SingleThreadStopReason::Signal(Signal::SIGSEGV),
                    StopReason::MaxInsns => SingleThreadStopReason::Signal(Signal::SIGXCPU),
                    StopReason::Interrupted | StopReason::Debug => SingleThreadStopReason::Signal(Signal::SIGINT),
                }
            }
        };
        Ok(run_blocking::Event::TargetStopped(reason))
    }

    fn on_interrupt(_target: &mut GdbTarget<'m>) -> Result<Option<SingleThreadStopReason<u32>>, &'static str> {
        Ok(Some(SingleThreadStopReason::Signal(Signal::SIGINT)))
    }
}

/// How a gdb session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GdbEnd {
    /// The machine stopped by itself (before gdb connected, after it detached, or with an
    /// exit gdb was told about).
    Machine(StopReason),
    /// gdb killed the target.
    Killed,
}

/// Serves gdb on 127.0.0.1:`port`. With `paused` the guest waits for gdb before its first
/// instruction; otherwise it runs and gdb may attach at any time. After gdb detaches the
/// guest runs on to its own stop.
pub fn serve(machine: &mut Machine, tracer: Option<Tracer>, port: u16, paused: bool) -> Result<GdbEnd, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("cannot listen for gdb on 127.0.0.1:{port}: {e}"))?;
    eprintln!("ferrite: waiting for gdb on 127.0.0.1:{port} (target remote :{port})");
    let mut session = Session::new(machine, tracer);
    let stream = if paused {
        listener.accept().map_err(|e| format!("gdb connection failed: {e}"))?.0
    } else {
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut pending = None;
        let mut poll = || match listener.accept() {
            Ok((s, _)) => {
                pending = Some(s);
                true
            }
            Err(_) => false,
        };
        loop {
            match session.cont(&mut poll) {
                Stop::Polled => break,
                Stop::Machine(r) => return Ok(GdbEnd::Machine(r)),
                Stop::Interrupted => return Ok(GdbEnd::Machine(StopReason::Interrupted)),
                _ => std::thread::sleep(ACCEPT_POLL),
            }
        }
        pending.ok_or("gdb connection vanished")?
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    eprintln!("ferrite: gdb connected");
    let mut target = GdbTarget { session, mode: Mode::Continue, last_stop: None };
    let end = GdbStub::new(stream).run_blocking::<EventLoop>(&mut target);
    match end {
        Ok(DisconnectReason::Kill) => Ok(GdbEnd::Killed),
        Ok(DisconnectReason::Disconnect) => {
            target.session.clear_points();
            loop {
                match target.session.cont(&mut crate::session::never()) {
                    Stop::Machine(r) => return Ok(GdbEnd::Machine(r)),
                    Stop::Interrupted => return Ok(GdbEnd::Machine(StopReason::Interrupted)),
                    _ => {}
                }
            }
        }
        Ok(DisconnectReason::TargetExited(_)) | Ok(DisconnectReason::TargetTerminated(_)) => {
            Ok(target.last_stop.map(GdbEnd::Machine).unwrap_or(GdbEnd::Killed))
        }
        Err(e) => Err(format!("gdb session failed: {e}")),
    }
}
