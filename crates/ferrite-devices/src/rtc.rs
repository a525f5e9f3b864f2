//! The MC146818 real-time clock and its CMOS RAM: port 0x70 selects a register (bit 7 is
//! the NMI mask), port 0x71 reads or writes it.
//!
//! Modelled from the MC146818A data sheet: the time and date registers in BCD or binary,
//! 12- or 24-hour, the alarm (with "don't care" values 0xC0–0xFF), registers A (UIP, the
//! divider and the periodic rate), B (SET, the interrupt enables, DM, 24/12), C (the
//! interrupt flags, cleared by reading) and D (valid RAM and time), and the periodic,
//! alarm and update-ended interrupts on IRQ 8. Bytes 0x0E–0x7F are battery-backed RAM; the
//! machine fills the memory-size fields SeaBIOS reads (see [`cmos_memory_fields`]).
//!
//! The time is computed from the virtual clock and a start time given by the machine (the
//! host's wall clock, or a fixed epoch in deterministic mode), so the RTC is passive: the
//! machine ticks it at [`Timed::next_deadline`] and before each access.

use crate::{IrqLine, PortDevice, Timed};
use std::ops::RangeInclusive;

/// Index port (write; bit 7 masks NMI).
pub const RTC_INDEX: u16 = 0x70;
/// Data port.
pub const RTC_DATA: u16 = 0x71;
/// Bytes of CMOS (clock registers included).
pub const CMOS_SIZE: usize = 128;
/// Index port bit 7: NMI disabled.
pub const NMI_DISABLE: u8 = 0x80;

/// Register indices.
pub const REG_SECONDS: u8 = 0x00;
/// Seconds alarm.
pub const REG_SECONDS_ALARM: u8 = 0x01;
/// Minutes.
pub const REG_MINUTES: u8 = 0x02;
/// Minutes alarm.
pub const REG_MINUTES_ALARM: u8 = 0x03;
/// Hours.
pub const REG_HOURS: u8 = 0x04;
/// Hours alarm.
pub const REG_HOURS_ALARM: u8 = 0x05;
/// Day of the week, 1 = Sunday.
pub const REG_WEEKDAY: u8 = 0x06;
/// Day of the month.
pub const REG_DAY: u8 = 0x07;
/// Month.
pub const REG_MONTH: u8 = 0x08;
/// Year of the century.
pub const REG_YEAR: u8 = 0x09;
/// Register A.
pub const REG_A: u8 = 0x0A;
/// Register B.
pub const REG_B: u8 = 0x0B;
/// Register C.
pub const REG_C: u8 = 0x0C;
/// Register D.
pub const REG_D: u8 = 0x0D;
/// The IBM century byte.
pub const REG_CENTURY: u8 = 0x32;

/// A: update in progress.
pub const A_UIP: u8 = 0x80;
/// A: the divider field.
const A_DIVIDER_MASK: u8 = 0x70;
/// A: divider value for a running 32.768 kHz time base.
const A_DIVIDER_32K: u8 = 0x20;
/// A: the rate-select field.
const A_RATE_MASK: u8 = 0x0F;
/// B: updates halted while the guest sets the time.
pub const B_SET: u8 = 0x80;
/// B: periodic interrupt enable.
pub const B_PIE: u8 = 0x40;
/// B: alarm interrupt enable.
pub const B_AIE: u8 = 0x20;
/// B: update-ended interrupt enable.
pub const B_UIE: u8 = 0x10;
/// B: binary (not BCD) data mode.
pub const B_DM_BINARY: u8 = 0x04;
/// B: 24-hour mode.
pub const B_24H: u8 = 0x02;
/// C: an enabled interrupt is pending (the IRQ 8 level).
pub const C_IRQF: u8 = 0x80;
/// C: periodic flag.
pub const C_PF: u8 = 0x40;
/// C: alarm flag.
pub const C_AF: u8 = 0x20;
/// C: update-ended flag.
pub const C_UF: u8 = 0x10;
/// D: valid RAM and time (the battery is good).
pub const D_VRT: u8 = 0x80;
/// Hours: the PM bit in 12-hour mode.
const HOUR_PM: u8 = 0x80;
/// Alarm values with both top bits set match anything.
const ALARM_DONT_CARE: u8 = 0xC0;
/// Register A at power-on as firmware sets it: 32.768 kHz, 1024 Hz periodic rate.
pub const A_DEFAULT: u8 = 0x26;
/// UIP is set this long before each update.
pub const UIP_LEAD_NS: u64 = 244_000;
const NS_PER_SEC: u64 = 1_000_000_000;
/// 2024-01-01T00:00:00Z, the deterministic-mode start time.
pub const FIXED_EPOCH: i64 = 1_704_067_200;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (month <= 2) as i64, month, day)
}

/// The CMOS bytes describing `ram_bytes` of RAM below 4 GiB and `high_bytes` above, as
/// SeaBIOS reads them: base memory in KiB (0x15–0x16), memory above 1 MiB in KiB capped
/// at 0xFFFF (0x17–0x18, copied at 0x30–0x31), memory above 16 MiB in 64 KiB blocks
/// (0x34–0x35) and memory above 4 GiB in 64 KiB blocks (0x5B–0x5D).
pub fn cmos_memory_fields(ram_bytes: u64, high_bytes: u64) -> Vec<(u8, u8)> {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    let base_kib = 640u64;
    let ext_kib = (ram_bytes.saturating_sub(MIB) / KIB).min(0xFFFF);
    let above16 = (ram_bytes.saturating_sub(16 * MIB) / (64 * KIB)).min(0xFFFF);
    let above4g = (high_bytes / (64 * KIB)).min(0xFF_FFFF);
    vec![
        (0x15, base_kib as u8),
        (0x16, (base_kib >> 8) as u8),
        (0x17, ext_kib as u8),
        (0x18, (ext_kib >> 8) as u8),
        (0x30, ext_kib as u8),
        (0x31, (ext_kib >> 8) as u8),
        (0x34, above16 as u8),
        (0x35, (above16 >> 8) as u8),
        (0x5B, above4g as u8),
        (0x5C, (above4g >> 8) as u8),
        (0x5D, (above4g >> 16) as u8),
    ]
}

/// The RTC's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcState {
    /// CMOS RAM; the clock registers 0x00–0x0D are computed and kept here only for the
    /// alarm bytes and A/B/C.
    pub cmos: [u8; CMOS_SIZE],
    /// The selected register.
    pub index: u8,
    /// NMI masked by the last index write.
    pub nmi_disabled: bool,
    /// Unix time at virtual time 0, adjusted when the guest sets the clock.
    pub base_secs: i64,
    /// While SET is on: the frozen time in Unix seconds.
    pub held: Option<i64>,
    /// The virtual time of the last tick (ns).
    pub now_ns: u64,
    /// The last periodic period index and update second already flagged.
    pub last_periodic: u64,
    /// The last whole second (of virtual time) whose update was flagged.
    pub last_update: u64,
}

/// The MC146818 RTC raising `irq` (IRQ 8).
pub struct Rtc<I: IrqLine> {
    state: RtcState,
    irq: I,
}

impl<I: IrqLine> std::fmt::Debug for Rtc<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtc").field("state", &self.state).finish_non_exhaustive()
    }
}

impl<I: IrqLine> Rtc<I> {
    /// An RTC whose clock reads `start_unix_secs` at virtual time 0.
    pub fn new(start_unix_secs: i64, irq: I) -> Self {
        let mut cmos = [0u8; CMOS_SIZE];
        cmos[REG_A as usize] = A_DEFAULT;
        cmos[REG_B as usize] = B_24H;
        cmos[REG_D as usize] = D_VRT;
        let state = RtcState {
            cmos,
            index: 0,
            nmi_disabled: false,
            base_secs: start_unix_secs,
            held: None,
            now_ns: 0,
            last_periodic: 0,
            last_update: 0,
        };
        irq.set(false);
        Rtc { state, irq }
    }

    /// The state, for snapshots and debuggers.
    pub fn state(&self) -> &RtcState {
        &self.state
    }

    /// Whether the guest has masked NMI through port 0x70.
    pub fn nmi_disabled(&self) -> bool {
        self.state.nmi_disabled
    }

    /// Writes a CMOS byte from the host (the machine filling memory sizes).
    pub fn set_cmos(&mut self, index: u8, value: u8) {
        if let Some(b) = self.state.cmos.get_mut(index as usize) {
            *b = value;
        }
    }

    /// Reads a CMOS byte as the guest would, without side effects on register C.
    pub fn cmos(&self, index: u8) -> u8 {
        self.peek(index & 0x7F)
    }

    fn reg(&self, r: u8) -> u8 {
        self.state.cmos[r as usize]
    }

    /// The current time in Unix seconds.
    pub fn unix_time(&self) -> i64 {
        self.state.held.unwrap_or(self.state.base_secs + (self.state.now_ns / NS_PER_SEC) as i64)
    }

    fn encode(&self, v: u8) -> u8 {
        if self.reg(REG_B) & B_DM_BINARY != 0 {
            v
        } else {
            ((v / 10) << 4) | (v % 10)
        }
    }

    fn decode(&self, v: u8) -> u8 {
        if self.reg(REG_B) & B_DM_BINARY != 0 {
            v
        } else {
            (v >> 4).wrapping_mul(10).wrapping_add(v & 0xF)
        }
    }

    fn encode_hour(&self, h: u8) -> u8 {
        if self.reg(REG_B) & B_24H != 0 {
            return self.encode(h);
        }
        let pm = if h >= 12 { HOUR_PM } else { 0 };
        let h12 = match h % 12 {
            0 => 12,
            x => x,
        };
        self.encode(h12) | pm
    }

    fn decode_hour(&self, v: u8) -> u8 {
        if self.reg(REG_B) & B_24H != 0 {
            return self.decode(v) % 24;
        }
        let h12 = self.decode(v & !HOUR_PM) % 12;
        if v & HOUR_PM != 0 {
            h12 + 12
        } else {
            h12
        }
    }

    /// (year, month, day, hour, minute, second, weekday 1 = Sunday) now.
    fn fields(&self) -> (i64, u32, u32, u8, u8, u8, u8) {
        let t = self.unix_time();
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let weekday = ((days + 4).rem_euclid(7) + 1) as u8;
        (y, m, d, (secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8, weekday)
    }

    fn peek(&self, r: u8) -> u8 {
        let (y, mo, d, h, mi, s, wd) = self.fields();
        match r {
            REG_SECONDS => self.encode(s),
            REG_MINUTES => self.encode(mi),
            REG_HOURS => self.encode_hour(h),
            REG_WEEKDAY => self.encode(wd),
            REG_DAY => self.encode(d as u8),
            REG_MONTH => self.encode(mo as u8),
            REG_YEAR => self.encode(y.rem_euclid(100) as u8),
            REG_CENTURY => self.encode(y.div_euclid(100).clamp(0, 99) as u8),
            REG_A => {
                let uip = self.reg(REG_B) & B_SET == 0
                    && self.running()
                    && self.state.now_ns % NS_PER_SEC >= NS_PER_SEC - UIP_LEAD_NS;
                self.reg(REG_A) & !A_UIP | if uip { A_UIP } else { 0 }
            }
            REG_D => D_VRT,
            _ => self.reg(r),
        }
    }

    /// The guest sets one time field: rebuild the Unix time from all fields.
    fn set_time_field(&mut self, r: u8, v: u8) {
        let (mut y, mut mo, mut d, mut h, mut mi, mut s, _) = self.fields();
        match r {
            REG_SECONDS => s = self.decode(v) % 60,
            REG_MINUTES => mi = self.decode(v) % 60,
            REG_HOURS => h = self.decode_hour(v),
            REG_DAY => d = (self.decode(v) as u32).clamp(1, 31),
            REG_MONTH => mo = (self.decode(v) as u32).clamp(1, 12),
            REG_YEAR => y = y.div_euclid(100) * 100 + (self.decode(v) % 100) as i64,
            REG_CENTURY => y = (self.decode(v) % 100) as i64 * 100 + y.rem_euclid(100),
            _ => return, // the weekday is derived from the date
        }
        let t = days_from_civil(y, mo, d) * 86_400 + h as i64 * 3600 + mi as i64 * 60 + s as i64;
        match self.state.held {
            Some(_) => self.state.held = Some(t),
            None => self.state.base_secs = t - (self.state.now_ns / NS_PER_SEC) as i64,
        }
    }

    /// The oscillator runs (divider set to the 32.768 kHz time base).
    fn running(&self) -> bool {
        self.reg(REG_A) & A_DIVIDER_MASK == A_DIVIDER_32K
    }

    /// The periodic interrupt period as (2^shift / 65536) s, if enabled by the rate.
    fn periodic_shift(&self) -> Option<u32> {
        match self.reg(REG_A) & A_RATE_MASK {
            0 => None,
            1 => Some(8),
            2 => Some(9),
            r => Some(r as u32),
        }
    }

    /// The index of the periodic period containing `ns`.
    fn period_index(ns: u64, shift: u32) -> u64 {
        (ns as u128 * 65_536 / ((NS_PER_SEC as u128) << shift)) as u64
    }

    fn period_start(index: u64, shift: u32) -> u64 {
        ((index as u128 * ((NS_PER_SEC as u128) << shift)).div_ceil(65_536)).min(u64::MAX as u128) as u64
    }

    fn alarm_matches(&self) -> bool {
        let (_, _, _, h, mi, s, _) = self.fields();
        let check = |alarm: u8, now: u8| alarm & ALARM_DONT_CARE == ALARM_DONT_CARE || alarm == now;
        check(self.reg(REG_SECONDS_ALARM), self.encode(s))
            && check(self.reg(REG_MINUTES_ALARM), self.encode(mi))
            && check(self.reg(REG_HOURS_ALARM), self.encode_hour(h))
    }

    fn update_irq(&mut self) {
        let c = self.reg(REG_C) & (C_PF | C_AF | C_UF);
        let b = self.reg(REG_B);
        let enabled =
            (c & C_PF != 0 && b & B_PIE != 0) || (c & C_AF != 0 && b & B_AIE != 0) || (c & C_UF != 0 && b & B_UIE != 0);
        self.state.cmos[REG_C as usize] = c | if enabled { C_IRQF } else { 0 };
        self.irq.set(enabled);
    }

    fn read_data(&mut self) -> u8 {
        let r = self.state.index;
        let v = self.peek(r);
        if r == REG_C {
            self.state.cmos[REG_C as usize] = 0;
            self.irq.set(false);
        }
        v
    }

    fn write_data(&mut self, v: u8) {
        let r = self.state.index;
        match r {
            REG_SECONDS | REG_MINUTES | REG_HOURS | REG_WEEKDAY | REG_DAY | REG_MONTH | REG_YEAR | REG_CENTURY => {
                self.set_time_field(r, v)
            }
            REG_A => {
                self.state.cmos[REG_A as usize] = v & !A_UIP;
                if let Some(shift) = self.periodic_shift() {
                    self.state.last_periodic = Self::period_index(self.state.now_ns, shift);
                }
            }
            REG_B => {
                let was_set = self.reg(REG_B) & B_SET != 0;
                // SET clears the update-ended enable, as on the part.
                let v = if v & B_SET != 0 { v & !B_UIE } else { v };
                if v & B_SET != 0 && !was_set {
                    self.state.held = Some(self.unix_time());
                }
                if v & B_SET == 0 && was_set {
                    if let Some(t) = self.state.held.take() {
                        self.state.base_secs = t - (self.state.now_ns / NS_PER_SEC) as i64;
                    }
                }
                self.state.cmos[REG_B as usize] = v;
                self.update_irq();
            }
            REG_C | REG_D => {} // read-only
            _ => self.state.cmos[r as usize] = v,
        }
    }
}

impl<I: IrqLine> Timed for Rtc<I> {
    fn tick(&mut self, now_ns: u64) {
        let now = self.state.now_ns.max(now_ns);
        self.state.now_ns = now;
        if !self.running() {
            return;
        }
        if let Some(shift) = self.periodic_shift() {
            let idx = Self::period_index(now, shift);
            if idx > self.state.last_periodic {
                self.state.last_periodic = idx;
                self.state.cmos[REG_C as usize] |= C_PF;
            }
        }
        let second = now / NS_PER_SEC;
        if second > self.state.last_update {
            self.state.last_update = second;
            if self.reg(REG_B) & B_SET == 0 {
                self.state.cmos[REG_C as usize] |= C_UF;
                if self.alarm_matches() {
                    self.state.cmos[REG_C as usize] |= C_AF;
                }
            }
        }
        self.update_irq();
    }

    fn next_deadline(&self) -> Option<u64> {
        if !self.running() {
            return None;
        }
        let b = self.reg(REG_B);
        let mut next = None;
        if b & B_PIE != 0 {
            if let Some(shift) = self.periodic_shift() {
                next = Some(Self::period_start(self.state.last_periodic + 1, shift));
            }
        }
        if b & (B_UIE | B_AIE) != 0 {
            let update = (self.state.last_update + 1).saturating_mul(NS_PER_SEC);
            next = Some(next.map_or(update, |n: u64| n.min(update)));
        }
        next
    }
}

impl<I: IrqLine> PortDevice for Rtc<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![RTC_INDEX..=RTC_DATA]
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        match port {
            RTC_DATA => self.read_data() as u32,
            _ => 0xFF, // the index register is write-only
        }
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let v = value as u8;
        match port {
            RTC_INDEX => {
                self.state.index = v & 0x7F;
                self.state.nmi_disabled = v & NMI_DISABLE != 0;
            }
            _ => self.write_data(v),
        }
    }
}

#[cfg(test)]
#[path = "rtc_tests.rs"]
mod tests;
