//! The chipset's power management: a PIIX4-style ACPI power-management block (PM1a event
//! and control registers, the ACPI PM timer) and the reset control register at 0xCF9.
//!
//! The PM block sits at a fixed I/O base ([`PM_BASE`], 0x600, where SeaBIOS programs the
//! PIIX4 PM function on QEMU's `pc` machine):
//!
//! | port | width | register |
//! |---|---|---|
//! | base + 0 | 16 | PM1a_STS: status, write 1 to clear (TMR_STS, PWRBTN_STS, WAK_STS …) |
//! | base + 2 | 16 | PM1a_EN: which status bits raise the SCI |
//! | base + 4 | 16 | PM1a_CNT: SCI_EN, SLP_TYP (bits 10-12), SLP_EN (bit 13) |
//! | base + 8 | 32 | PM_TMR: the 24-bit ACPI PM timer, 3.579545 MHz, read-only |
//!
//! Writing PM1a_CNT with SLP_EN set and SLP_TYP = [`SLP_TYP_SOFT_OFF`] (0, PIIX4's soft-off
//! encoding and the value QEMU's tables give `\_S5`) latches a power-off request that the
//! machine turns into its `poweroff` stop. Other sleep types (suspend) are not supported
//! and are ignored: the guest simply goes on.
//!
//! The timer reads a time source in nanoseconds the board hands in, so the same device
//! runs on host time or on a virtual clock; once the machine drives it with
//! [`AcpiPm::set_now`] (its virtual clock, e.g. the instruction count with
//! `--deterministic`) that time wins, and a read of the timer asks the machine to
//! resync ([`AcpiPm::timer_read`]) so the next read sees time move on. TMR_STS is set
//! each time bit 23 of the timer
//! changes (checked when the status is read and on [`AcpiPm::poll`]); the SCI (IRQ 9 on a
//! PC) is raised while any status bit is set whose enable bit is set.
//!
//! The machine's ACPI tables (FADT) point the guest at the block; the ports are fixed
//! and documented so test programs can also use them directly.

use crate::{IrqLine, PortDevice};
use std::ops::RangeInclusive;

/// The PM block's I/O base.
pub const PM_BASE: u16 = 0x600;
/// Ports the PM block decodes (`PM_BASE..PM_BASE + PM_LEN`).
pub const PM_LEN: u16 = 0x10;
/// Offset of PM1a_STS.
pub const PM1_STS: u16 = 0x0;
/// Offset of PM1a_EN.
pub const PM1_EN: u16 = 0x2;
/// Offset of PM1a_CNT.
pub const PM1_CNT: u16 = 0x4;
/// Offset of PM_TMR.
pub const PM_TMR: u16 = 0x8;

/// PM1_STS/EN: timer carry (bit 23 of the timer changed).
pub const TMR_STS: u16 = 1 << 0;
/// PM1_STS: bus master activity.
pub const BM_STS: u16 = 1 << 4;
/// PM1_STS/EN: global (BIOS release) status.
pub const GBL_STS: u16 = 1 << 5;
/// PM1_STS/EN: power button pressed.
pub const PWRBTN_STS: u16 = 1 << 8;
/// PM1_STS/EN: RTC alarm.
pub const RTC_STS: u16 = 1 << 10;
/// PM1_STS: the system woke up.
pub const WAK_STS: u16 = 1 << 15;
const STS_MASK: u16 = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | RTC_STS | WAK_STS;
const EN_MASK: u16 = TMR_STS | GBL_STS | PWRBTN_STS | RTC_STS;

/// PM1_CNT: SCI enable (interrupts go to the SCI rather than SMI).
pub const SCI_EN: u16 = 1 << 0;
/// PM1_CNT: shift of the 3-bit sleep type.
pub const SLP_TYP_SHIFT: u16 = 10;
/// PM1_CNT: sleep-type mask (after shifting).
pub const SLP_TYP_MASK: u16 = 0x7;
/// PM1_CNT: sleep enable; writing it with a sleep type enters that state.
pub const SLP_EN: u16 = 1 << 13;
/// The sleep type for soft-off (S5).
pub const SLP_TYP_SOFT_OFF: u16 = 0;

/// The ACPI PM timer's frequency in Hz.
pub const PM_TIMER_HZ: u64 = 3_579_545;
/// The timer counts in 24 bits.
pub const PM_TIMER_MASK: u32 = 0x00FF_FFFF;
const PM_TIMER_CARRY_SHIFT: u32 = 23;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The reset control register's port.
pub const RESET_CONTROL_PORT: u16 = 0xCF9;
/// Reset control: system reset (hard reset when RST_CPU goes high).
pub const RCR_SYS_RST: u8 = 1 << 1;
/// Reset control: reset the CPU when this bit is written as 1.
pub const RCR_RST_CPU: u8 = 1 << 2;
/// Reset control: full reset (power cycle).
pub const RCR_FULL_RST: u8 = 1 << 3;

/// The PM timer's value at `nanos` nanoseconds since power-on.
pub fn pm_timer_ticks(nanos: u64) -> u64 {
    (nanos as u128 * PM_TIMER_HZ as u128 / NANOS_PER_SEC) as u64
}

/// The PM registers as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcpiPmState {
    /// PM1a_STS.
    pub sts: u16,
    /// PM1a_EN.
    pub en: u16,
    /// PM1a_CNT (SLP_EN always reads 0).
    pub cnt: u16,
    /// Bit 23 epochs of the timer seen so far (for TMR_STS).
    pub timer_epoch: u64,
    /// A power-off request not yet taken by the machine.
    pub poweroff: bool,
}

/// The ACPI power-management block.
pub struct AcpiPm<I: IrqLine> {
    base: u16,
    state: AcpiPmState,
    clock: Box<dyn Fn() -> u64 + Send>,
    sci: I,
    sci_level: bool,
    /// The machine's time, once it drives the timer ([`AcpiPm::set_now`]).
    now: Option<u64>,
    /// The timer was read since the last [`AcpiPm::set_now`].
    timer_read: bool,
}

impl<I: IrqLine> std::fmt::Debug for AcpiPm<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcpiPm").field("base", &self.base).field("state", &self.state).finish_non_exhaustive()
    }
}

impl<I: IrqLine> AcpiPm<I> {
    /// A PM block at [`PM_BASE`] whose timer reads `clock` (nanoseconds since power-on) and
    /// whose SCI is `sci`.
    pub fn new(clock: Box<dyn Fn() -> u64 + Send>, sci: I) -> Self {
        AcpiPm {
            base: PM_BASE,
            state: AcpiPmState::default(),
            clock,
            sci,
            sci_level: false,
            now: None,
            timer_read: false,
        }
    }

    /// The registers.
    pub fn state(&self) -> &AcpiPmState {
        &self.state
    }

    /// Whether the guest asked to power off.
    pub fn poweroff_requested(&self) -> bool {
        self.state.poweroff
    }

    /// Takes the pending power-off request.
    pub fn take_poweroff(&mut self) -> bool {
        std::mem::take(&mut self.state.poweroff)
    }

    /// The host pressed the power button: PWRBTN_STS, and the SCI if the guest enabled it.
    pub fn press_power_button(&mut self) {
        self.state.sts |= PWRBTN_STS;
        self.update_sci();
    }

    /// The timer's 24-bit value now.
    pub fn timer(&self) -> u32 {
        pm_timer_ticks(self.nanos()) as u32 & PM_TIMER_MASK
    }

    fn nanos(&self) -> u64 {
        self.now.unwrap_or_else(|| (self.clock)())
    }

    /// From now on the timer runs on the machine's clock: `now_ns` nanoseconds since
    /// power-on (never going back). Also clears [`AcpiPm::timer_read`].
    pub fn set_now(&mut self, now_ns: u64) {
        self.now = Some(self.now.map_or(now_ns, |n| n.max(now_ns)));
        self.timer_read = false;
    }

    /// Whether the guest read the timer since the last [`AcpiPm::set_now`]: the machine
    /// should bring the time up to date before the guest reads it again.
    pub fn timer_read(&self) -> bool {
        self.timer_read
    }

    /// Sets TMR_STS if timer bit 23 changed since the last look, and updates the SCI.
    /// The machine calls it between run slices.
    pub fn poll(&mut self) {
        let epoch = pm_timer_ticks(self.nanos()) >> PM_TIMER_CARRY_SHIFT;
        if epoch != self.state.timer_epoch {
            self.state.timer_epoch = epoch;
            self.state.sts |= TMR_STS;
        }
        self.update_sci();
    }

    fn update_sci(&mut self) {
        let level = self.state.sts & self.state.en != 0;
        if level != self.sci_level {
            self.sci_level = level;
            self.sci.set(level);
        }
    }

    /// Reads the 16- or 32-bit register at `offset`.
    fn read_reg(&mut self, offset: u16) -> u32 {
        match offset {
            PM1_STS => {
                self.poll();
                self.state.sts as u32
            }
            PM1_EN => self.state.en as u32,
            PM1_CNT => self.state.cnt as u32,
            PM_TMR => {
                self.timer_read = true;
                self.timer()
            }
            _ => 0,
        }
    }

    /// Writes the bytes of register `offset` selected by `byte_mask` (bit i = byte i).
    fn write_reg(&mut self, offset: u16, value: u32, byte_mask: u32) {
        let mask = (0..4).filter(|i| byte_mask & (1 << i) != 0).fold(0u32, |m, i| m | 0xFF << (8 * i));
        let value = value & mask;
        match offset {
            PM1_STS => self.state.sts &= !(value as u16 & STS_MASK),
            PM1_EN => self.state.en = (self.state.en & !mask as u16) | (value as u16 & EN_MASK),
            PM1_CNT => {
                let cnt = (self.state.cnt & !mask as u16) | value as u16;
                let slp_typ = (cnt >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
                if cnt & SLP_EN != 0 && slp_typ == SLP_TYP_SOFT_OFF {
                    self.state.poweroff = true;
                }
                self.state.cnt = cnt & !SLP_EN;
            }
            _ => {}
        }
        self.update_sci();
    }

    /// The register containing `offset` and its start.
    fn register_at(offset: u16) -> Option<(u16, u16)> {
        match offset {
            0..=1 => Some((PM1_STS, 2)),
            2..=3 => Some((PM1_EN, 2)),
            4..=5 => Some((PM1_CNT, 2)),
            8..=11 => Some((PM_TMR, 4)),
            _ => None,
        }
    }
}

impl<I: IrqLine> PortDevice for AcpiPm<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![self.base..=self.base + (PM_LEN - 1)]
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        let mut value = 0u32;
        let mut i = 0u16;
        while i < size as u16 {
            let offset = port.wrapping_sub(self.base).wrapping_add(i);
            match Self::register_at(offset) {
                Some((reg, len)) => {
                    let within = offset - reg;
                    let take = (len - within).min(size as u16 - i);
                    let bytes = self.read_reg(reg) >> (8 * within);
                    value |= (bytes & (u32::MAX >> (32 - 8 * take as u32))) << (8 * i);
                    i += take;
                }
                None => {
                    value |= 0xFF << (8 * i);
                    i += 1;
                }
            }
        }
        value
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        let mut i = 0u16;
        while i < size as u16 {
            let offset = port.wrapping_sub(self.base).wrapping_add(i);
            match Self::register_at(offset) {
                Some((reg, len)) => {
                    let within = offset - reg;
                    let take = (len - within).min(size as u16 - i);
                    let bytes = (value >> (8 * i)) << (8 * within);
                    let mask = ((1u32 << take) - 1) << within;
                    self.write_reg(reg, bytes, mask);
                    i += take;
                }
                None => i += 1,
            }
        }
    }
}

/// The reset control register (0xCF9 on PIIX/ICH chipsets): writing a value with
/// [`RCR_RST_CPU`] set asks for a machine reset (the usual sequence writes 0x02, then 0x06).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetControl {
    value: u8,
    reset: bool,
}

impl ResetControl {
    /// The register, cleared.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the guest asked for a reset.
    pub fn reset_requested(&self) -> bool {
        self.reset
    }

    /// Takes the pending reset request.
    pub fn take_reset(&mut self) -> bool {
        std::mem::take(&mut self.reset)
    }
}

impl PortDevice for ResetControl {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![RESET_CONTROL_PORT..=RESET_CONTROL_PORT]
    }

    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        self.value as u32
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        let value = value as u8;
        if value & RCR_RST_CPU != 0 {
            self.reset = true;
        }
        // RST_CPU is self-clearing; SYS_RST and FULL_RST read back.
        self.value = value & (RCR_SYS_RST | RCR_FULL_RST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Line(Arc<AtomicBool>);
    impl IrqLine for Line {
        fn set(&self, level: bool) {
            self.0.store(level, Ordering::Relaxed);
        }
    }

    fn pm() -> (AcpiPm<Line>, Arc<AtomicU64>, Line) {
        let now = Arc::new(AtomicU64::new(0));
        let clock = now.clone();
        let line = Line::default();
        (AcpiPm::new(Box::new(move || clock.load(Ordering::Relaxed)), line.clone()), now, line)
    }

    #[test]
    fn test_pm_declares_its_block() {
        let (p, _, _) = pm();
        assert_eq!(p.ports(), vec![0x600..=0x60F]);
    }

    #[test]
    fn test_pm_timer_counts_at_3_579545_mhz_in_24_bits() {
        let (mut p, now, _) = pm();
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), 0);
        now.store(1_000_000_000, Ordering::Relaxed);
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), 3_579_545);
        now.store(10_000_000_000, Ordering::Relaxed);
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), (35_795_450 & PM_TIMER_MASK));
        p.write(PM_BASE + PM_TMR, 4, 0);
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), (35_795_450 & PM_TIMER_MASK), "read-only");
        assert_eq!(p.read(PM_BASE + PM_TMR, 2), 35_795_450 & 0xFFFF);
    }

    #[test]
    fn test_pm_timer_follows_the_machine_clock_once_driven() {
        let (mut p, now, _) = pm();
        now.store(5_000_000_000, Ordering::Relaxed);
        p.set_now(1_000_000_000);
        assert!(!p.timer_read());
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), 3_579_545, "the machine's time, not the fallback clock");
        assert!(p.timer_read(), "a timer read asks for a resync");
        p.set_now(500);
        assert!(!p.timer_read());
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), 3_579_545, "time never runs backwards");
        p.set_now(2_000_000_000);
        assert_eq!(p.read(PM_BASE + PM_TMR, 4), 7_159_090);
    }

    #[test]
    fn test_pm_soft_off_requests_poweroff() {
        let (mut p, _, _) = pm();
        p.write(PM_BASE + PM1_CNT, 2, (SLP_TYP_SOFT_OFF << SLP_TYP_SHIFT) as u32);
        assert!(!p.poweroff_requested(), "SLP_EN not set");
        p.write(PM_BASE + PM1_CNT, 2, (SLP_EN | SCI_EN) as u32);
        assert!(p.poweroff_requested());
        assert_eq!(p.read(PM_BASE + PM1_CNT, 2), SCI_EN as u32, "SLP_EN reads 0");
        assert!(p.take_poweroff());
        assert!(!p.take_poweroff());
    }

    #[test]
    fn test_pm_byte_write_of_slp_en_uses_the_latched_type() {
        let (mut p, _, _) = pm();
        p.write(PM_BASE + PM1_CNT + 1, 1, (SLP_EN >> 8) as u32);
        assert!(p.poweroff_requested());
    }

    #[test]
    fn test_pm_suspend_types_are_ignored() {
        let (mut p, _, _) = pm();
        p.write(PM_BASE + PM1_CNT, 2, (SLP_EN | 1 << SLP_TYP_SHIFT) as u32);
        assert!(!p.poweroff_requested());
    }

    #[test]
    fn test_pm_timer_carry_sets_tmr_sts_and_raises_sci() {
        let (mut p, now, line) = pm();
        p.write(PM_BASE + PM1_EN, 2, TMR_STS as u32);
        p.poll();
        assert_eq!(p.read(PM_BASE + PM1_STS, 2) as u16 & TMR_STS, 0);
        // 2^23 ticks at 3.579545 MHz is about 2.34 s.
        now.store(2_400_000_000, Ordering::Relaxed);
        p.poll();
        assert!(line.0.load(Ordering::Relaxed));
        assert_ne!(p.read(PM_BASE + PM1_STS, 2) as u16 & TMR_STS, 0);
        p.write(PM_BASE + PM1_STS, 2, TMR_STS as u32);
        assert_eq!(p.read(PM_BASE + PM1_STS, 2) as u16 & TMR_STS, 0, "write 1 to clear");
        assert!(!line.0.load(Ordering::Relaxed));
    }

    #[test]
    fn test_pm_power_button_needs_its_enable_for_the_sci() {
        let (mut p, _, line) = pm();
        p.press_power_button();
        assert!(!line.0.load(Ordering::Relaxed));
        p.write(PM_BASE + PM1_EN, 2, PWRBTN_STS as u32);
        assert!(line.0.load(Ordering::Relaxed));
        assert_eq!(p.read(PM_BASE + PM1_EN, 2), PWRBTN_STS as u32);
        p.write(PM_BASE + PM1_STS + 1, 1, (PWRBTN_STS >> 8) as u32);
        assert!(!line.0.load(Ordering::Relaxed));
    }

    #[test]
    fn test_pm_unused_offsets_float() {
        let (mut p, _, _) = pm();
        assert_eq!(p.read(PM_BASE + 6, 2), 0xFFFF);
        p.write(PM_BASE + 0xC, 4, 0xFFFF_FFFF);
        assert_eq!(p.read(PM_BASE + PM1_STS, 4) & 0xFFFF, 0, "STS/EN untouched");
    }

    #[test]
    fn test_reset_control_resets_on_rst_cpu() {
        let mut r = ResetControl::new();
        assert_eq!(r.ports(), vec![0xCF9..=0xCF9]);
        r.write(RESET_CONTROL_PORT, 1, RCR_SYS_RST as u32);
        assert!(!r.reset_requested());
        assert_eq!(r.read(RESET_CONTROL_PORT, 1), RCR_SYS_RST as u32);
        r.write(RESET_CONTROL_PORT, 1, 0x06);
        assert!(r.take_reset());
        assert!(!r.take_reset());
        assert_eq!(r.read(RESET_CONTROL_PORT, 1), RCR_SYS_RST as u32, "RST_CPU self-clears");
    }
}
