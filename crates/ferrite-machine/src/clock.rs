//! The machine's virtual clock: nanoseconds since power-on, the time base every timed
//! device (PIT, RTC) is ticked with.
//!
//! - **Real time** (the default): the host's monotonic clock since the machine was built.
//!   A halted CPU waiting for a timer sleeps on the host until the deadline (in steps of
//!   at most [`MAX_IDLE_SLEEP`], so Ctrl-C stays responsive) instead of spinning.
//! - **Deterministic** (`--deterministic`): time is derived from the retired-instruction
//!   count, [`NS_PER_INSN`] nanoseconds per instruction (a 100 MIPS guest CPU), plus the
//!   time skipped while halted: a HLT waiting for a timer jumps the clock straight to the
//!   deadline. Nothing depends on the host, so two runs of the same image do the same.

use std::time::{Duration, Instant};

/// Virtual nanoseconds per retired instruction in deterministic mode.
pub const NS_PER_INSN: u64 = 10;
/// The longest single host sleep while idle in real-time mode.
pub const MAX_IDLE_SLEEP: Duration = Duration::from_millis(10);

/// Where time comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Host monotonic time since this instant.
    Host(Instant),
    /// Retired instructions, plus nanoseconds skipped while halted.
    Insns { skipped: u64 },
}

/// The virtual clock.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    source: Source,
    /// The last time handed out, so time never runs backwards.
    last: u64,
}

impl VirtualClock {
    /// A clock starting at 0 now: driven by instructions when `deterministic`, else by
    /// the host.
    pub fn new(deterministic: bool) -> Self {
        let source = if deterministic { Source::Insns { skipped: 0 } } else { Source::Host(Instant::now()) };
        VirtualClock { source, last: 0 }
    }

    /// Whether time comes from the instruction count.
    pub fn deterministic(&self) -> bool {
        matches!(self.source, Source::Insns { .. })
    }

    /// The time now, given the CPU's retired-instruction count.
    pub fn now(&mut self, insns: u64) -> u64 {
        let t = match self.source {
            Source::Host(start) => start.elapsed().as_nanos().min(u64::MAX as u128) as u64,
            Source::Insns { skipped } => insns.saturating_mul(NS_PER_INSN).saturating_add(skipped),
        };
        self.last = self.last.max(t);
        self.last
    }

    /// How many instructions run before `deadline` in deterministic mode (at least 1);
    /// `None` in real-time mode, where instructions do not measure time.
    pub fn insns_until(&self, deadline: u64, now: u64) -> Option<u64> {
        match self.source {
            Source::Insns { .. } => Some(deadline.saturating_sub(now).div_ceil(NS_PER_INSN).max(1)),
            Source::Host(_) => None,
        }
    }

    /// Waits, with the CPU halted, until `deadline`: jumps there in deterministic mode;
    /// sleeps on the host (at most [`MAX_IDLE_SLEEP`]) in real-time mode.
    pub fn idle_until(&mut self, deadline: u64, insns: u64) {
        let now = self.now(insns);
        if deadline <= now {
            return;
        }
        match &mut self.source {
            Source::Insns { skipped } => *skipped += deadline - now,
            Source::Host(_) => std::thread::sleep(Duration::from_nanos(deadline - now).min(MAX_IDLE_SLEEP)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_deterministic_counts_instructions_and_skips() {
        let mut c = VirtualClock::new(true);
        assert_eq!(c.now(0), 0);
        assert_eq!(c.now(1000), 1000 * NS_PER_INSN);
        let now = c.now(1000);
        assert_eq!(c.insns_until(1000 * NS_PER_INSN + 25, now), Some(3));
        c.idle_until(1_000_000, 1000);
        assert_eq!(c.now(1000), 1_000_000);
        assert_eq!(c.now(1001), 1_000_000 + NS_PER_INSN);
    }

    #[test]
    fn test_clock_real_time_is_monotonic_and_sleeps_briefly() {
        let mut c = VirtualClock::new(false);
        let a = c.now(0);
        c.idle_until(a + 1_000_000, 0);
        let b = c.now(0);
        assert!(b >= a + 1_000_000);
        assert_eq!(c.insns_until(b + 10, b), None);
        let start = Instant::now();
        c.idle_until(b + 10_000_000_000, 0);
        assert!(start.elapsed() < Duration::from_secs(1), "one idle step sleeps at most MAX_IDLE_SLEEP");
    }
}
