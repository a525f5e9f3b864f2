//! The 8254 programmable interval timer (ports 0x40–0x43) and system control port B
//! (0x61), which carries counter 2's gate and output and the DRAM-refresh toggle.
//!
//! Three counters run from the 1.193182 MHz PC clock. Counter 0's output drives IRQ 0;
//! counter 1 once paced DRAM refresh (its toggle shows in port 0x61 bit 4); counter 2
//! drives the speaker, gated by port 0x61 bit 0. Modelled from the 8254 data sheet: modes
//! 0–5 (6 and 7 alias 2 and 3), LSB/MSB/LSB-then-MSB access, binary or BCD counting, the
//! counter-latch command, the read-back command with status bytes, null count, gate
//! behaviour per mode, and mode 2/3 reloads that take effect at the end of the period.
//!
//! Counters are computed from the time their count was loaded rather than stepped, so the
//! device is passive: the machine calls [`Timed::tick`] with the virtual time before each
//! access and at [`Timed::next_deadline`], and the PIT raises IRQ 0 on each rising edge of
//! counter 0's output in between.

use crate::{IrqLine, PortDevice, Timed};
use std::ops::RangeInclusive;

/// Counter 0 data port; counters 1 and 2 follow.
pub const PIT_COUNTER0: u16 = 0x40;
/// Counter 2 data port.
pub const PIT_COUNTER2: u16 = 0x42;
/// Control word port.
pub const PIT_CONTROL: u16 = 0x43;
/// System control port B.
pub const PORT_B: u16 = 0x61;
/// The counters' input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;
const NS_PER_SEC: u128 = 1_000_000_000;

/// Port B bit 0: counter 2 gate (read/write).
pub const PORT_B_GATE2: u8 = 0x01;
/// Port B bit 1: speaker data enable (read/write).
pub const PORT_B_SPEAKER: u8 = 0x02;
/// Port B bits 0–3 are read/write.
const PORT_B_WRITABLE: u8 = 0x0F;
/// Port B bit 4: toggles with every DRAM refresh request (read-only).
pub const PORT_B_REFRESH: u8 = 0x10;
/// Port B bit 5: counter 2 output (read-only).
pub const PORT_B_OUT2: u8 = 0x20;
/// How often the refresh bit toggles (one refresh request every 15.085 µs).
pub const REFRESH_PERIOD_NS: u64 = 15_085;

/// Control word: counter select field.
const CW_SELECT_SHIFT: u8 = 6;
/// Control word select value for the read-back command.
const CW_SELECT_READBACK: u8 = 3;
/// Control word: read/write access field.
const CW_ACCESS_SHIFT: u8 = 4;
/// Access value of the counter-latch command.
const ACCESS_LATCH: u8 = 0;
const ACCESS_LSB: u8 = 1;
const ACCESS_MSB: u8 = 2;
/// Control word: BCD counting.
const CW_BCD: u8 = 0x01;
/// Read-back: do not latch the count (active low).
const RB_NO_COUNT: u8 = 0x20;
/// Read-back: do not latch status (active low).
const RB_NO_STATUS: u8 = 0x10;
/// Status byte: the output pin.
const STATUS_OUT: u8 = 0x80;
/// Status byte: null count (a count written but not yet loaded into the counter).
const STATUS_NULL: u8 = 0x40;

/// A count value in counter units: 0 means the largest count (2^16, or 10^4 in BCD).
fn effective_count(raw: u16, bcd: bool) -> u64 {
    if bcd {
        let n = from_bcd(raw);
        if n == 0 {
            10_000
        } else {
            n
        }
    } else if raw == 0 {
        0x1_0000
    } else {
        raw as u64
    }
}

fn from_bcd(v: u16) -> u64 {
    (0..4).rev().fold(0, |acc, i| acc * 10 + ((v >> (i * 4)) & 0xF).min(9) as u64)
}

fn to_bcd(n: u64) -> u16 {
    (0..4).fold(0u16, |acc, i| acc | ((((n / 10u64.pow(i)) % 10) as u16) << (i * 4)))
}

/// Whole PIT ticks elapsed by `ns`.
pub fn ns_to_ticks(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / NS_PER_SEC) as u64
}

/// The first time (ns) at which `ticks` PIT ticks have elapsed.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    (ticks as u128 * NS_PER_SEC).div_ceil(PIT_HZ as u128).min(u64::MAX as u128) as u64
}

/// One counter's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterState {
    /// Mode 0–5.
    pub mode: u8,
    /// Access mode (1 LSB, 2 MSB, 3 LSB then MSB).
    pub access: u8,
    /// BCD counting.
    pub bcd: bool,
    /// The count register as last written.
    pub count: u16,
    /// Tick at which the current count started (None: not counting).
    pub start: Option<u64>,
    /// The count the counter runs from since `start`.
    pub running: u16,
    /// `start` was the end of a period (mode 2/3 reload), i.e. a rising edge.
    pub start_is_edge: bool,
    /// A mode 2/3 count written while running, loaded at this tick.
    pub pending: Option<(u16, u64)>,
    /// The gate input.
    pub gate: bool,
    /// Tick at which the gate fell, while it is low (counting suspended).
    pub paused_at: Option<u64>,
    /// Modes 1 and 5 have been triggered since the count was written.
    pub triggered: bool,
    /// The LSB of an LSB-then-MSB write, waiting for its MSB.
    pub write_lsb: Option<u8>,
    /// The next read of an LSB-then-MSB count returns the MSB.
    pub read_msb: bool,
    /// A latched count and whether its LSB has been read.
    pub latch: Option<(u16, bool)>,
    /// A latched status byte.
    pub status: Option<u8>,
    /// Null count: written but not yet loaded.
    pub null: bool,
    /// Tick of the last rising edge of the output reported on the IRQ line.
    pub last_edge: Option<u64>,
}

impl CounterState {
    fn units(&self, raw: u16) -> u64 {
        effective_count(raw, self.bcd)
    }

    /// The (start, count, start-is-edge) in force at tick `t`.
    fn phase(&self, t: u64) -> Option<(u64, u64, bool)> {
        let start = self.start?;
        match self.pending {
            Some((raw, at)) if t >= at => Some((at, self.units(raw), true)),
            _ => Some((start, self.units(self.running), self.start_is_edge)),
        }
    }

    /// Ticks counted since the phase start, frozen while the gate is low.
    fn elapsed(&self, t: u64, start: u64) -> u64 {
        let t = match self.paused_at {
            Some(p) if matches!(self.mode, 0 | 2 | 3 | 4) => p.min(t),
            _ => t,
        };
        t.saturating_sub(start)
    }

    /// The output pin at tick `t`.
    pub fn out(&self, t: u64) -> bool {
        let Some((start, n, _)) = self.phase(t) else {
            return self.mode != 0;
        };
        let d = self.elapsed(t, start);
        match self.mode {
            0 => d >= n,
            1 => !self.triggered || d >= n,
            2 => self.paused_at.is_some() || d % n != n - 1,
            3 => self.paused_at.is_some() || d % n < n.div_ceil(2),
            4 => d != n,
            _ => !self.triggered || d != n,
        }
    }

    /// The counting element at tick `t`, in counter units (wrapped like the hardware).
    fn value(&self, t: u64) -> u64 {
        let Some((start, n, _)) = self.phase(t) else {
            return self.units(self.count);
        };
        let d = self.elapsed(t, start);
        let modulus = if self.bcd { 10_000 } else { 0x1_0000 };
        match self.mode {
            2 => n - d % n,
            3 => {
                let half = n.div_ceil(2);
                let phase = d % n;
                let into = if phase < half { phase } else { phase - half };
                (n - 2 * into) & !1
            }
            1 | 5 if !self.triggered => n,
            _ => (n + modulus - d % modulus) % modulus,
        }
    }

    /// The count as the guest reads it.
    fn read_value(&self, t: u64) -> u16 {
        let v = self.value(t);
        if self.bcd {
            to_bcd(v % 10_000)
        } else {
            v as u16
        }
    }

    /// The tick of the last rising edge of the output at or before `t`.
    fn last_rise(&self, t: u64) -> Option<u64> {
        let (start, n, start_edge) = self.phase(t)?;
        let d = self.elapsed(t, start);
        match self.mode {
            2 | 3 if d >= n || start_edge => Some(start + d / n * n),
            0 | 1 if d >= n && (self.mode == 0 || self.triggered) => Some(start + n),
            4 | 5 if d > n && (self.mode == 4 || self.triggered) => Some(start + n + 1),
            _ => None,
        }
    }

    /// The tick of the next rising edge after `t`, if the output will rise again.
    fn next_rise(&self, t: u64) -> Option<u64> {
        if self.paused_at.is_some() {
            return None;
        }
        if let Some((_, at)) = self.pending {
            if at > t {
                return Some(at);
            }
        }
        let (start, n, _) = self.phase(t)?;
        let d = t.saturating_sub(start);
        match self.mode {
            2 | 3 => Some(start + (d / n + 1) * n),
            0 | 1 if d < n && (self.mode == 0 || self.triggered) => Some(start + n),
            4 | 5 if d <= n && (self.mode == 4 || self.triggered) => Some(start + n + 1),
            _ => None,
        }
    }

    /// The status byte at tick `t`.
    fn status_byte(&self, t: u64) -> u8 {
        let out = if self.out(t) { STATUS_OUT } else { 0 };
        let null = if self.null { STATUS_NULL } else { 0 };
        out | null | self.access << CW_ACCESS_SHIFT | self.mode << 1 | self.bcd as u8
    }

    /// A control word selecting this counter (not a latch command).
    fn set_mode(&mut self, cw: u8) {
        let mode = (cw >> 1) & 7;
        self.mode = if mode >= 6 { mode - 4 } else { mode };
        self.access = (cw >> CW_ACCESS_SHIFT) & 3;
        self.bcd = cw & CW_BCD != 0;
        self.start = None;
        self.pending = None;
        self.triggered = false;
        self.write_lsb = None;
        self.read_msb = false;
        self.latch = None;
        self.status = None;
        self.null = true;
    }

    /// A complete count was written at tick `t`.
    fn load(&mut self, raw: u16, t: u64) {
        self.count = raw;
        match (self.mode, self.start) {
            (2 | 3, Some(_)) if self.paused_at.is_none() => {
                // Loaded at the end of the current period.
                let at = self.next_rise(t).unwrap_or(t);
                self.commit_pending(t);
                self.pending = Some((raw, at));
            }
            _ => {
                self.running = raw;
                self.start = Some(t);
                self.start_is_edge = false;
                self.pending = None;
                self.null = false;
                if matches!(self.mode, 1 | 5) {
                    self.triggered = false;
                }
            }
        }
    }

    /// Folds a pending reload whose time has come into the running state.
    fn commit_pending(&mut self, t: u64) {
        if let Some((raw, at)) = self.pending {
            if t >= at {
                self.running = raw;
                self.start = Some(at);
                self.start_is_edge = true;
                self.pending = None;
                self.null = false;
            }
        }
    }

    /// The gate input changes at tick `t`.
    fn set_gate(&mut self, gate: bool, t: u64) {
        if gate == self.gate {
            return;
        }
        self.commit_pending(t);
        self.gate = gate;
        if !gate {
            self.paused_at = Some(t);
            return;
        }
        let paused = self.paused_at.take();
        match self.mode {
            0 | 4 => {
                if let (Some(p), Some(s)) = (paused, self.start) {
                    self.start = Some(s + t.saturating_sub(p.max(s)));
                }
            }
            _ if self.start.is_some() || self.null => {
                // Modes 1, 2, 3, 5: a rising gate (re)starts the count.
                self.running = self.count;
                self.start = Some(t);
                self.start_is_edge = false;
                self.null = false;
                self.triggered = true;
            }
            _ => {}
        }
    }

    fn write_data(&mut self, value: u8, t: u64) {
        let raw = match self.access {
            ACCESS_LSB => Some(value as u16),
            ACCESS_MSB => Some((value as u16) << 8),
            _ => match self.write_lsb.take() {
                Some(lsb) => Some(lsb as u16 | (value as u16) << 8),
                None => {
                    self.write_lsb = Some(value);
                    if self.mode == 0 {
                        // Writing the first byte stops a mode 0 count.
                        self.start = None;
                    }
                    None
                }
            },
        };
        if let Some(raw) = raw {
            self.load(raw, t);
        }
    }

    fn read_data(&mut self, t: u64) -> u8 {
        if let Some(status) = self.status.take() {
            return status;
        }
        let (value, from_latch) = match self.latch {
            Some((v, _)) => (v, true),
            None => (self.read_value(t), false),
        };
        let byte = match self.access {
            ACCESS_LSB => value as u8,
            ACCESS_MSB => (value >> 8) as u8,
            _ => {
                let msb = self.read_msb;
                self.read_msb = !msb;
                if msb {
                    (value >> 8) as u8
                } else {
                    if from_latch {
                        self.latch = Some((value, true));
                        return value as u8;
                    }
                    value as u8
                }
            }
        };
        if from_latch {
            self.latch = None;
        }
        byte
    }
}

/// The PIT's state: three counters and port B.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PitState {
    /// Counters 0, 1 and 2.
    pub counters: [CounterState; 3],
    /// Port B's read/write bits.
    pub port_b: u8,
    /// The time of the last tick (ns).
    pub now_ns: u64,
}

/// The 8254 and port 0x61; counter 0 raises `irq` (IRQ 0).
pub struct Pit<I: IrqLine> {
    state: PitState,
    irq: I,
}

impl<I: IrqLine> std::fmt::Debug for Pit<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pit").field("state", &self.state).finish_non_exhaustive()
    }
}

impl<I: IrqLine> Pit<I> {
    /// A PIT at power-on: no counter programmed, gates 0 and 1 tied high, gate 2 low.
    pub fn new(irq: I) -> Self {
        let mut state = PitState::default();
        state.counters[0].gate = true;
        state.counters[1].gate = true;
        state.counters[2].paused_at = Some(0);
        // OUT is high after every control word but mode 0's; start with the line high so
        // programming a rate generator is not itself an edge.
        irq.set(true);
        Pit { state, irq }
    }

    /// The state, for snapshots and debuggers.
    pub fn state(&self) -> &PitState {
        &self.state
    }

    /// Restores a snapshot.
    pub fn set_state(&mut self, state: PitState) {
        self.state = state;
    }

    fn ticks(&self) -> u64 {
        ns_to_ticks(self.state.now_ns)
    }

    /// Counter 2's output (the speaker signal before the port B enable).
    pub fn out2(&self) -> bool {
        self.state.counters[2].out(self.ticks())
    }

    /// Whether the speaker is sounding: counter 2's output, enabled by port B bit 1.
    pub fn speaker(&self) -> bool {
        self.state.port_b & PORT_B_SPEAKER != 0 && self.out2()
    }

    fn control(&mut self, cw: u8) {
        let t = self.ticks();
        let select = cw >> CW_SELECT_SHIFT;
        if select == CW_SELECT_READBACK {
            for (i, c) in self.state.counters.iter_mut().enumerate() {
                if cw & (2 << i) == 0 {
                    continue;
                }
                if cw & RB_NO_COUNT == 0 && c.latch.is_none() {
                    c.latch = Some((c.read_value(t), false));
                }
                if cw & RB_NO_STATUS == 0 && c.status.is_none() {
                    c.status = Some(c.status_byte(t));
                }
            }
            return;
        }
        let c = &mut self.state.counters[select as usize];
        if (cw >> CW_ACCESS_SHIFT) & 3 == ACCESS_LATCH {
            if c.latch.is_none() {
                c.latch = Some((c.read_value(t), false));
            }
        } else {
            c.set_mode(cw);
            if select == 0 {
                self.irq.set(c.out(t));
            }
        }
    }

    fn read_port_b(&self) -> u8 {
        let refresh = if (self.state.now_ns / REFRESH_PERIOD_NS) & 1 != 0 { PORT_B_REFRESH } else { 0 };
        let out2 = if self.out2() { PORT_B_OUT2 } else { 0 };
        self.state.port_b | refresh | out2
    }
}

impl<I: IrqLine> Timed for Pit<I> {
    fn tick(&mut self, now_ns: u64) {
        self.state.now_ns = self.state.now_ns.max(now_ns);
        let t = self.ticks();
        let c = &mut self.state.counters[0];
        if let Some(rise) = c.last_rise(t) {
            if c.last_edge != Some(rise) {
                c.last_edge = Some(rise);
                self.irq.set(false);
                self.irq.set(true);
            }
        }
        c.commit_pending(t);
        self.irq.set(c.out(t));
    }

    fn next_deadline(&self) -> Option<u64> {
        self.state.counters[0].next_rise(self.ticks()).map(ticks_to_ns)
    }
}

impl<I: IrqLine> PortDevice for Pit<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![PIT_COUNTER0..=PIT_CONTROL, PORT_B..=PORT_B]
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        let t = self.ticks();
        match port {
            PIT_COUNTER0..=PIT_COUNTER2 => self.state.counters[(port - PIT_COUNTER0) as usize].read_data(t) as u32,
            PORT_B => self.read_port_b() as u32,
            _ => 0xFF, // the control word register is write-only
        }
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let t = self.ticks();
        let v = value as u8;
        match port {
            PIT_COUNTER0..=PIT_COUNTER2 => {
                let i = (port - PIT_COUNTER0) as usize;
                self.state.counters[i].write_data(v, t);
                if i == 0 {
                    let out = self.state.counters[0].out(t);
                    self.irq.set(out);
                }
            }
            PIT_CONTROL => self.control(v),
            PORT_B => {
                self.state.port_b = v & PORT_B_WRITABLE;
                self.state.counters[2].set_gate(v & PORT_B_GATE2 != 0, t);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "pit_tests.rs"]
mod tests;
