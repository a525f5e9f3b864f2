//! How a run ended: the [`StopReason`], its process exit status, and the one-line
//! [`RunSummary`] the CLI prints.
//!
//! The summary line reads `stopped: REASON at CS:EIP insns=N post=0xNN`. CS is four hex
//! digits; EIP is four hex digits while CS is a 16-bit code segment and eight otherwise;
//! all hex is upper case. `insns` counts retired instructions since power-on (across
//! resets); `post` is the last byte written to the POST-code port (0x00 if none).

use std::fmt;

/// Exit status when the CPU halted with nothing left to wake it.
pub const STATUS_HALTED: i32 = 0;
/// Exit status when the guest powered the machine off (ACPI, later).
pub const STATUS_POWEROFF: i32 = 0;
/// Exit status after a triple fault with `--no-reboot`.
pub const STATUS_TRIPLE_FAULT: i32 = 4;
/// Exit status when the `--max-insns` budget ran out (as `timeout(1)` does).
pub const STATUS_MAX_INSNS: i32 = 124;
/// Exit status when the guest asked for a reset (reset control register, 8042, port
/// 0x92) and rebooting was disabled: a clean "the guest rebooted", as QEMU's
/// `-no-reboot` exits 0.
pub const STATUS_REBOOT: i32 = 0;
/// Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
pub const STATUS_INTERRUPTED: i32 = 130;
/// Exit status of `debug-stop` (a debugger breakpoint or watchpoint ended `run`).
pub const STATUS_DEBUG_STOP: i32 = 6;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The guest wrote this value to the exit port.
    ExitPort(u32),
    /// HLT with nothing that can wake the CPU: interrupts disabled, or no interrupt source
    /// on the board.
    Halted,
    /// The CPU shut down (an exception while delivering a double fault) and rebooting
    /// was disabled.
    TripleFault,
    /// The instruction budget ran out.
    MaxInsns,
    /// The guest powered the machine off (reserved for the ACPI device).
    PowerOff,
    /// The guest asked for a reset (0xCF9, the 8042's pulse, port 0x92) and rebooting
    /// was disabled.
    Reboot,
    /// The host asked the run to stop (Ctrl-C).
    Interrupted,
    /// A debugger breakpoint or watchpoint stopped the run (used by `ferrite debug` and
    /// the gdb stub, which resume it).
    Debug,
}

impl StopReason {
    /// The name used in the summary line.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::ExitPort(_) => "exit-port",
            StopReason::Halted => "halted",
            StopReason::TripleFault => "triple-fault",
            StopReason::MaxInsns => "max-insns",
            StopReason::PowerOff => "poweroff",
            StopReason::Reboot => "reboot",
            StopReason::Interrupted => "interrupted",
            StopReason::Debug => "debug-stop",
        }
    }

    /// The process exit status for this reason. Exit-port statuses are odd
    /// (`(V << 1) | 1`, low 8 bits); every other reason maps to an even status, so the two
    /// never collide.
    pub fn exit_status(&self) -> i32 {
        match self {
            StopReason::ExitPort(v) => ferrite_devices::exit_port::exit_status(*v),
            StopReason::Halted => STATUS_HALTED,
            StopReason::TripleFault => STATUS_TRIPLE_FAULT,
            StopReason::MaxInsns => STATUS_MAX_INSNS,
            StopReason::PowerOff => STATUS_POWEROFF,
            StopReason::Reboot => STATUS_REBOOT,
            StopReason::Interrupted => STATUS_INTERRUPTED,
            StopReason::Debug => STATUS_DEBUG_STOP,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The end state of a run, for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Why the run stopped.
    pub reason: StopReason,
    /// CS selector at the stop.
    pub cs: u16,
    /// EIP at the stop.
    pub eip: u32,
    /// Whether CS was a 32-bit code segment (EIP is then shown with 8 digits).
    pub code32: bool,
    /// Instructions retired since power-on.
    pub insns: u64,
    /// Last POST code.
    pub post: u8,
}

impl RunSummary {
    /// The process exit status for this run.
    pub fn exit_status(&self) -> i32 {
        self.reason.exit_status()
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped: {} at {:04X}:", self.reason, self.cs)?;
        if self.code32 {
            write!(f, "{:08X}", self.eip)?;
        } else {
            write!(f, "{:04X}", self.eip)?;
        }
        write!(f, " insns={} post=0x{:02X}", self.insns, self.post)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(reason: StopReason, code32: bool) -> RunSummary {
        RunSummary { reason, cs: 0xF000, eip: 0xFFF8, code32, insns: 42, post: 0x5A }
    }

    #[test]
    fn test_summary_line_16bit() {
        let s = summary(StopReason::ExitPort(1), false);
        assert_eq!(s.to_string(), "stopped: exit-port at F000:FFF8 insns=42 post=0x5A");
    }

    #[test]
    fn test_summary_line_32bit() {
        let s = RunSummary { eip: 0x0010_0000, cs: 0x8, ..summary(StopReason::Halted, true) };
        assert_eq!(s.to_string(), "stopped: halted at 0008:00100000 insns=42 post=0x5A");
    }

    #[test]
    fn test_reason_names() {
        let names: Vec<_> = [
            StopReason::ExitPort(0),
            StopReason::Halted,
            StopReason::TripleFault,
            StopReason::MaxInsns,
            StopReason::PowerOff,
            StopReason::Interrupted,
        ]
        .iter()
        .map(|r| r.name())
        .collect();
        assert_eq!(names, ["exit-port", "halted", "triple-fault", "max-insns", "poweroff", "interrupted"]);
    }

    #[test]
    fn test_exit_statuses_keep_exit_port_odd_and_others_even() {
        assert_eq!(StopReason::ExitPort(0x10).exit_status(), 0x21);
        for r in [
            StopReason::Halted,
            StopReason::TripleFault,
            StopReason::MaxInsns,
            StopReason::PowerOff,
            StopReason::Interrupted,
        ] {
            assert_eq!(r.exit_status() % 2, 0, "{r}");
        }
        assert_eq!(StopReason::Halted.exit_status(), 0);
        assert_eq!(StopReason::Interrupted.exit_status(), 130);
    }
}
