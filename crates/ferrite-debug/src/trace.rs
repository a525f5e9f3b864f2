//! The instruction trace (`--trace FILE`): one line per executed instruction with CS:EIP,
//! its bytes, its disassembly and the registers *before* it ran, plus a line for every
//! exception raised and every interrupt delivered. `--trace-from ADDR` starts the log when
//! the instruction at linear ADDR is first reached, and `--trace-count N` ends it after N
//! instructions, so a long boot can be traced around the interesting part.
//!
//! ```text
//! 0008:00100020  BC 80 12 10 00        mov esp,101280h                  EAX=2BADB002 EBX=00009000 ... EFL=00000002
//! 0008:00100030  0F 0B                 ud2                              EAX=...
//!   exception #UD (vector 6) at 0008:00100030 -> 0008:00100400
//! ```
//!
//! The tracer single-steps the machine: an exception shows as `cpu.last_fault` after the
//! step; an external interrupt delivered before the instruction shows as CS:EIP landing
//! somewhere a non-branching instruction cannot go.

use crate::disasm::{decode, fetch, format_pc, MAX_INSN_LEN};
use crate::vmem::Place;
use ferrite_cpu::{Cpu, Gpr, SegReg};
use ferrite_machine::{Machine, StopReason};
use iced_x86::{FlowControl, Formatter, IntelFormatter};
use std::io::Write;

/// The architectural exception names by vector.
const EXCEPTION_NAMES: [&str; 20] = [
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF(old)", "#TS", "#NP", "#SS", "#GP", "#PF",
    "#15", "#MF", "#AC", "#MC", "#XM",
];

/// The name of exception `vector`.
pub fn exception_name(vector: u8) -> String {
    EXCEPTION_NAMES.get(vector as usize).map(|s| s.to_string()).unwrap_or_else(|| format!("#{vector}"))
}

/// Writes the instruction trace.
pub struct Tracer {
    out: Box<dyn Write + Send>,
    from: Option<u32>,
    remaining: Option<u64>,
    started: bool,
    failed: bool,
    formatter: IntelFormatter,
}

impl Tracer {
    /// A tracer writing to `out`, starting at once or when linear `from` is reached, and
    /// stopping after `count` instructions.
    pub fn new(out: Box<dyn Write + Send>, from: Option<u32>, count: Option<u64>) -> Self {
        Tracer { out, from, remaining: count, started: from.is_none(), failed: false, formatter: IntelFormatter::new() }
    }

    /// The linear address tracing waits for, while it waits.
    pub fn pending_start(&self) -> Option<u32> {
        if self.started {
            None
        } else {
            self.from
        }
    }

    /// Starts logging (the `--trace-from` address was reached).
    pub fn start(&mut self) {
        self.started = true;
        let _ = writeln!(self.out, "-- trace starts at linear {:08X}", self.from.unwrap_or(0));
    }

    /// Whether instructions are being logged now.
    pub fn active(&self) -> bool {
        self.started && !self.failed && self.remaining != Some(0)
    }

    /// Flushes the log; a write error is reported once on stderr and ends the trace.
    pub fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &std::io::Error) {
        if !self.failed {
            eprintln!("ferrite: warning: the trace stopped: cannot write it: {e}");
        }
        self.failed = true;
    }

    /// Executes one instruction with `machine.run_for(1)` and logs it.
    pub fn step(&mut self, machine: &mut Machine) -> Option<StopReason> {
        let cpu = machine.cpu();
        let pc = format_pc(cpu);
        let (cs_before, eip_before) = (cpu.seg[SegReg::Cs as usize].selector, cpu.eip);
        let code32 = cpu.code32();
        let bytes = fetch(cpu, machine.mem(), Place::Linear(cpu.pc_linear())).unwrap_or_default();
        let ins = decode(&bytes, cpu.eip, code32);
        let regs = short_regs(cpu);
        let insns_before = cpu.insns;
        machine.cpu_mut().last_fault = None;
        let outcome = machine.run_for(1);
        let cpu = machine.cpu();
        if outcome == Some(StopReason::Debug) && cpu.hooks.hit.is_none() {
            return outcome; // a breakpoint: nothing ran
        }
        let mut text = String::new();
        let len = if ins.is_invalid() {
            text.push_str("(bad)");
            1
        } else {
            self.formatter.format(&ins, &mut text);
            ins.len()
        };
        let hex: Vec<String> = bytes.iter().take(len.min(MAX_INSN_LEN)).map(|b| format!("{b:02X}")).collect();
        let mut line = format!("{pc}  {:<20} {text:<32} {regs}\n", hex.join(" "));
        let (cs_after, eip_after) = (cpu.seg[SegReg::Cs as usize].selector, cpu.eip);
        if let Some(f) = cpu.last_fault {
            let code = f.fault.error_code.map(|c| format!(" error code {c:04X}")).unwrap_or_default();
            line.push_str(&format!(
                "  exception {} (vector {}){code} at {:04X}:{:08X} -> {}\n",
                exception_name(f.fault.vector),
                f.fault.vector,
                f.cs,
                f.eip,
                format_pc(cpu)
            ));
        } else if cpu.insns != insns_before && ins.flow_control() == FlowControl::Next && !cpu.halted {
            let fallthrough = eip_before.wrapping_add(len as u32) & if code32 { u32::MAX } else { 0xFFFF };
            // A REP string instruction runs in chunks: one that stopped part-way stays put.
            let rep_again = (cs_after, eip_after) == (cs_before, eip_before)
                && (ins.has_rep_prefix() || ins.has_repne_prefix())
                && ins.is_string_instruction();
            if (cs_after, eip_after) != (cs_before, fallthrough) && !rep_again {
                line.push_str(&format!(
                    "  interrupt delivered; the handler's first instruction ran: now {}\n",
                    format_pc(cpu)
                ));
            }
        }
        if let Err(e) = self.out.write_all(line.as_bytes()) {
            self.fail(&e);
        }
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(1);
            if *r == 0 {
                let _ = writeln!(self.out, "-- trace count reached");
            }
        }
        outcome
    }
}

/// The general registers and EFLAGS on one line.
fn short_regs(cpu: &Cpu) -> String {
    let g = |r: Gpr| cpu.gpr[r as usize];
    format!(
        "EAX={:08X} EBX={:08X} ECX={:08X} EDX={:08X} ESI={:08X} EDI={:08X} EBP={:08X} ESP={:08X} EFL={:08X}",
        g(Gpr::Eax),
        g(Gpr::Ebx),
        g(Gpr::Ecx),
        g(Gpr::Edx),
        g(Gpr::Esi),
        g(Gpr::Edi),
        g(Gpr::Ebp),
        g(Gpr::Esp),
        cpu.eflags
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{never, Session, Stop};
    use ferrite_devices_free_buffer::Shared;
    use ferrite_machine::MachineConfig;

    /// A `Write` whose bytes the test can read back.
    mod ferrite_devices_free_buffer {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        pub struct Shared(pub Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl Shared {
            pub fn text(&self) -> String {
                String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
            }
        }
    }

    /// inc ax; inc ax; ud2 (the IVT is zeros, so #UD goes to 0000:0000), at the reset vector.
    fn machine() -> Machine {
        let mut image = vec![0xF4; 64 * 1024];
        image[0xFFF0..0xFFF4].copy_from_slice(&[0x40, 0x40, 0x0F, 0x0B]);
        let mut config = MachineConfig::new(image);
        config.max_insns = Some(1000);
        Machine::new(config).unwrap()
    }

    #[test]
    fn test_trace_from_address_with_count_logs_exceptions() {
        let mut m = machine();
        let buf = Shared::default();
        let tracer = Tracer::new(Box::new(buf.clone()), Some(0xFFFF_FFF1), Some(2));
        let mut s = Session::new(&mut m, Some(tracer));
        let stop = s.cont(&mut never());
        assert!(matches!(stop, Stop::Machine(_)), "{stop:?}");
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-- trace starts at linear FFFFFFF1");
        assert!(lines[1].starts_with("F000:FFF1  40") && lines[1].contains("inc ax"), "{text}");
        assert!(lines[1].contains("EAX=00000001"), "registers before the instruction: {text}");
        assert!(lines[2].starts_with("F000:FFF2  0F 0B") && lines[2].contains("ud2"), "{text}");
        assert!(lines[3].contains("exception #UD (vector 6) at F000:0000FFF2 -> 0000:0000"), "{text}");
        assert_eq!(lines[4], "-- trace count reached");
        assert_eq!(lines.len(), 5, "{text}");
    }

    #[test]
    fn test_a_rep_string_instruction_run_in_chunks_is_not_an_interrupt() {
        // mov cx,0x3000 ; rep stosb ; hlt
        let mut image = vec![0xF4; 64 * 1024];
        image[0xFFF0..0xFFF5].copy_from_slice(&[0xB9, 0x00, 0x30, 0xF3, 0xAA]);
        let mut config = MachineConfig::new(image);
        config.max_insns = Some(1000);
        let mut m = Machine::new(config).unwrap();
        let buf = Shared::default();
        let mut s = Session::new(&mut m, Some(Tracer::new(Box::new(buf.clone()), None, None)));
        let _ = s.cont(&mut never());
        let text = buf.text();
        assert!(text.lines().filter(|l| l.contains("rep stosb")).count() > 1, "ran in chunks: {text}");
        assert!(!text.contains("interrupt delivered"), "{text}");
    }
}
