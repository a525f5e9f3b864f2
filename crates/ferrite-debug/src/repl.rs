//! `ferrite debug`: the step-debugger command line. It starts before the first
//! instruction, reads commands (with line editing and history on a terminal, plain lines
//! from a pipe), and after every stop prints why it stopped, the next instruction and the
//! registers that changed since the previous stop. Ctrl-C while the guest runs breaks in;
//! at the prompt it only clears the line. The commands are in [`crate::commands::HELP`].

use crate::commands::{self, AddrSpec, Command, Info, RegSet, WatchKind, HELP};
use crate::info;
use crate::regs::{format_fpu, format_registers, format_sse, RegSnapshot};
use crate::session::{never, Point, Session, Stop};
use crate::trace::Tracer;
use crate::vmem::{self, Place};
use crate::{disassemble_at_pc, disassemble_lines};
use ferrite_cpu::Watchpoint;
use ferrite_machine::{Machine, StopReason};
use iced_x86::Mnemonic;
use std::io::{BufRead, IsTerminal, Write};

/// The prompt shown on a terminal.
pub const PROMPT: &str = "(ferrite) ";

/// The debugger state around a [`Session`].
pub struct Repl<'m> {
    session: Session<'m>,
    last: RegSnapshot,
    machine_stop: Option<StopReason>,
    repeat: Option<Command>,
}

/// What a command asks of the input loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Go,
    /// Leave the debugger.
    Quit,
}

impl<'m> Repl<'m> {
    /// A debugger on `machine`, logging executed instructions to `tracer` if given.
    pub fn new(machine: &'m mut Machine, tracer: Option<Tracer>) -> Self {
        let last = RegSnapshot::take(machine.cpu());
        Repl { session: Session::new(machine, tracer), last, machine_stop: None, repeat: None }
    }

    /// The banner printed before the first command.
    pub fn banner(&self) -> String {
        let m = self.session.machine();
        format!(
            "ferrite debug: stopped before the first instruction ('help' lists the commands)\nnext: {}\n",
            disassemble_at_pc(m.cpu(), m.mem())
        )
    }

    /// The last reason the machine itself stopped (exit port, halt, ...), if it did.
    pub fn machine_stop(&self) -> Option<StopReason> {
        self.machine_stop
    }

    /// Parses and runs one line; returns the text to print and what to do next. An empty
    /// line repeats the last `step`/`next` when `repeat_empty` is set.
    pub fn line(&mut self, line: &str, repeat_empty: bool) -> (String, Flow) {
        let cmd = match commands::parse(line) {
            Ok(Command::Nothing) if repeat_empty => match self.repeat {
                Some(c) => c,
                None => return (String::new(), Flow::Go),
            },
            Ok(c) => c,
            Err(e) => return (format!("error: {e}\n"), Flow::Go),
        };
        self.repeat = matches!(cmd, Command::Step(_) | Command::Next).then_some(cmd);
        // A Ctrl-C pressed at the prompt (when input is a pipe) must not stop the next run.
        self.session.machine().interrupt_handle().store(false, std::sync::atomic::Ordering::Relaxed);
        match self.execute(cmd) {
            Ok(text) => (text, if cmd == Command::Quit { Flow::Quit } else { Flow::Go }),
            Err(e) => (format!("error: {e}\n"), Flow::Go),
        }
    }

    fn resolve(&self, spec: AddrSpec) -> Result<Place, String> {
        let m = self.session.machine();
        vmem::resolve(m.cpu(), m.mem(), spec)
    }

    fn linear(&self, spec: AddrSpec) -> Result<u32, String> {
        match self.resolve(spec)? {
            Place::Linear(a) => Ok(a),
            Place::Phys(_) => Err("this command takes a linear or SEL:OFF address, not a physical one".into()),
        }
    }

    /// Runs one command.
    pub fn execute(&mut self, cmd: Command) -> Result<String, String> {
        let m = self.session.machine();
        let (cpu, mem) = (m.cpu(), m.mem());
        Ok(match cmd {
            Command::Nothing => String::new(),
            Command::Help => format!("{HELP}\n"),
            Command::Quit => String::new(),
            Command::Step(n) => {
                let stop = self.session.step(n, &mut never());
                self.report(stop)
            }
            Command::Next => {
                let bytes = crate::disasm::fetch(cpu, mem, Place::Linear(cpu.pc_linear()))?;
                let ins = crate::decode(&bytes, cpu.eip, cpu.code32());
                let over = matches!(ins.mnemonic(), Mnemonic::Call | Mnemonic::Int | Mnemonic::Into)
                    || ins.has_rep_prefix()
                    || ins.has_repne_prefix();
                let stop = if over && !ins.is_invalid() {
                    let after = cpu.pc_linear().wrapping_add(ins.len() as u32);
                    self.session.run_to(after, &mut never())
                } else {
                    self.session.step(1, &mut never())
                };
                self.report(stop)
            }
            Command::Continue => {
                let stop = self.session.cont(&mut never());
                self.report(stop)
            }
            Command::Until(spec) => {
                let target = self.linear(spec)?;
                let stop = self.session.run_to(target, &mut never());
                self.report(stop)
            }
            Command::Break(spec) => {
                let p = match self.resolve(spec)? {
                    Place::Linear(a) => Point::Linear(a),
                    Place::Phys(a) => Point::Phys(a),
                };
                let id = self.session.add_point(p);
                format!("{id}: {p}\n")
            }
            Command::Watch { addr, kind, len } => {
                let addr = self.linear(addr)?;
                let (read, write) = match kind {
                    WatchKind::Read => (true, false),
                    WatchKind::Write => (false, true),
                    WatchKind::ReadWrite => (true, true),
                };
                let p = Point::Watch(Watchpoint { addr, len, read, write });
                let id = self.session.add_point(p);
                format!("{id}: {p}\n")
            }
            Command::Delete(None) => {
                let n = self.session.points().len();
                self.session.clear_points();
                format!("deleted {n} breakpoint(s)/watchpoint(s)\n")
            }
            Command::Delete(Some(id)) => {
                if !self.session.remove_point(id) {
                    return Err(format!("no breakpoint or watchpoint {id}"));
                }
                format!("deleted {id}\n")
            }
            Command::Info(Info::Break) => info::format_points(self.session.points()),
            Command::Info(Info::Tlb) => info::format_tlb(cpu),
            Command::Info(Info::PageWalk(spec)) => {
                let a = self.linear(spec)?;
                let m = self.session.machine();
                info::format_pagewalk(m.cpu(), m.mem(), a)
            }
            Command::Info(Info::Idt) => info::format_idt(cpu, mem),
            Command::Info(Info::Gdt) => info::format_gdt(cpu, mem),
            Command::Info(Info::Devices) => info::format_devices(&self.session.machine_mut().devices()),
            Command::Regs(set) => {
                let mut out = String::new();
                if matches!(set, RegSet::Core | RegSet::All) {
                    out.push_str(&format_registers(cpu));
                }
                if matches!(set, RegSet::Fpu | RegSet::All) {
                    out.push_str(&format_fpu(cpu));
                }
                if matches!(set, RegSet::Sse | RegSet::All) {
                    out.push_str(&format_sse(cpu));
                }
                out
            }
            Command::Examine { addr, count } => {
                let place = self.resolve(addr)?;
                let m = self.session.machine();
                let mut buf = vec![0u8; count as usize];
                vmem::read(m.cpu(), m.mem(), place, &mut buf)?;
                vmem::hex_dump(place, &buf)
            }
            Command::Disasm { addr, count } => {
                let place = match addr {
                    Some(a) => self.resolve(a)?,
                    None => Place::Linear(cpu.pc_linear()),
                };
                let m = self.session.machine();
                let mut out = disassemble_lines(m.cpu(), m.mem(), place, m.cpu().code32(), count).join("\n");
                out.push('\n');
                out
            }
        })
    }

    /// Why execution stopped, the next instruction and the registers that changed.
    fn report(&mut self, stop: Stop) -> String {
        let m = self.session.machine();
        let cpu = m.cpu();
        let mut out = String::new();
        match stop {
            Stop::Stepped | Stop::Reached | Stop::Polled => {}
            Stop::Breakpoint => {
                let lin = cpu.pc_linear();
                let phys = cpu.translate_debug(m.mem(), lin).phys;
                let id = self
                    .session
                    .points()
                    .iter()
                    .find(|(_, p)| *p == Point::Linear(lin) || Some(*p) == phys.map(Point::Phys));
                match id {
                    Some((id, p)) => out.push_str(&format!("stopped at {p} ({id})\n")),
                    None => out.push_str(&format!("stopped at a breakpoint at {lin:08X}\n")),
                }
            }
            Stop::Watch(hit) => out.push_str(&format!(
                "stopped after a {} of {:08X} (watchpoint on {:08X}, {} byte(s))\n",
                if hit.write { "write" } else { "read" },
                hit.addr,
                hit.watch.addr,
                hit.watch.len
            )),
            Stop::Interrupted => out.push_str("interrupted (Ctrl-C)\n"),
            Stop::Machine(r) => {
                self.machine_stop = Some(r);
                let detail = match r {
                    StopReason::ExitPort(v) => format!(" (value {v:#x}, exit status {})", r.exit_status()),
                    _ => String::new(),
                };
                out.push_str(&format!("the machine stopped: {}{detail}\n", r.name()));
            }
        }
        out.push_str(&format!("next: {}\n", disassemble_at_pc(cpu, m.mem())));
        let now = RegSnapshot::take(cpu);
        let changes = now.changes_since(&self.last);
        if !changes.is_empty() {
            out.push_str(&format!("changed: {changes}\n"));
        }
        self.last = now;
        out
    }
}

/// Runs the debugger on standard input and output until `quit` or end of input; returns
/// the last reason the machine itself stopped, if it did.
pub fn run(machine: &mut Machine, tracer: Option<Tracer>) -> Option<StopReason> {
    let mut repl = Repl::new(machine, tracer);
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "{}", repl.banner());
    let _ = stdout.flush();
    if std::io::stdin().is_terminal() {
        if let Ok(mut editor) = rustyline::DefaultEditor::new() {
            loop {
                match editor.readline(PROMPT) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        let (text, flow) = repl.line(&line, true);
                        print!("{text}");
                        let _ = std::io::stdout().flush();
                        if flow == Flow::Quit {
                            break;
                        }
                    }
                    Err(rustyline::error::ReadlineError::Interrupted) => println!("(Ctrl-C: type 'quit' to leave)"),
                    Err(_) => break,
                }
            }
            return repl.machine_stop();
        }
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (text, flow) = repl.line(&line, false);
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
        if flow == Flow::Quit {
            break;
        }
    }
    repl.machine_stop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_machine::MachineConfig;

    /// mov al, 'K'; out 0xE9, al; call +0 (to FFF9) ... at the reset vector:
    /// FFF0 mov ax, 1; FFF3 call FFF8; FFF6 hlt; FFF7 nop; FFF8 inc ax; FFF9 ret
    fn machine() -> Machine {
        let mut image = vec![0xF4; 64 * 1024];
        image[0xFFF0..0xFFFA].copy_from_slice(&[0xB8, 0x01, 0x00, 0xE8, 0x02, 0x00, 0xF4, 0x90, 0x40, 0xC3]);
        let mut config = MachineConfig::new(image);
        config.max_insns = Some(1000);
        Machine::new(config).unwrap()
    }

    fn run_lines(repl: &mut Repl, lines: &[&str]) -> String {
        lines.iter().map(|l| repl.line(l, false).0).collect()
    }

    #[test]
    fn test_step_reports_next_instruction_and_changes() {
        let mut m = machine();
        let mut repl = Repl::new(&mut m, None);
        assert!(repl.banner().contains("next: F000:FFF0  B8 01 00"), "{}", repl.banner());
        let out = repl.line("step", false).0;
        assert!(out.contains("next: F000:FFF3  E8 02 00"), "{out}");
        assert!(out.contains("changed: EAX=00000000->00000001"), "{out}");
    }

    #[test]
    fn test_next_runs_calls_to_their_return() {
        let mut m = machine();
        let mut repl = Repl::new(&mut m, None);
        let out = run_lines(&mut repl, &["s", "next"]);
        assert!(out.contains("next: F000:FFF6  F4"), "{out}");
        assert!(out.contains("EAX=00000001->00000002"), "{out}");
    }

    #[test]
    fn test_break_continue_regs_and_errors() {
        let mut m = machine();
        let mut repl = Repl::new(&mut m, None);
        let out = run_lines(&mut repl, &["break f000:fff8", "info break", "c", "regs"]);
        assert!(out.contains("1: breakpoint at FFFFFFF8"), "{out}");
        assert!(out.contains("stopped at breakpoint at FFFFFFF8 (1)"), "{out}");
        assert!(out.contains("EIP=0000FFF8"), "{out}");
        let out = run_lines(&mut repl, &["bogus", "x ffffffff 0", "d 7", "watch p:10", "c"]);
        assert!(out.contains("error: unknown command 'bogus'"), "{out}");
        assert!(out.contains("error: no breakpoint or watchpoint 7"), "{out}");
        assert!(out.contains("error: this command takes a linear"), "{out}");
        assert!(out.contains("the machine stopped: halted"), "{out}");
        assert_eq!(repl.machine_stop(), Some(StopReason::Halted));
        assert_eq!(repl.line("quit", false).1, Flow::Quit);
    }

    #[test]
    fn test_inspection_commands() {
        let mut m = machine();
        let mut repl = Repl::new(&mut m, None);
        let out = run_lines(&mut repl, &["x p:ffff0 4", "disasm f000:fff0 2", "info devices", "info idt", "regs all"]);
        assert!(out.contains("p:000FFFF0  B8 01 00 E8"), "{out}");
        assert!(out.contains("FFFFFFF0  B8 01 00") && out.contains("mov ax,1"), "{out}");
        assert!(out.contains("debug console") && out.contains("0x00e9"), "{out}");
        assert!(out.contains("IDT base=00000000 limit=03FF"), "{out}");
        assert!(out.contains("FCW=0040") && out.contains("MXCSR=00001F80"), "{out}");
        let out = run_lines(
            &mut repl,
            &["watch 500 rw 2", "info break", "until f000:fff6", "info tlb", "info pagewalk 1000"],
        );
        assert!(out.contains("watchpoint (rw) on 00000500, 2 byte(s)"), "{out}");
        assert!(out.contains("next: F000:FFF6"), "{out}");
        assert!(out.contains("paging is off"), "{out}");
    }
}
