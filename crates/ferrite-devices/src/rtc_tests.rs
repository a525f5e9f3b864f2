//! Tests of the MC146818 RTC and CMOS, through ports 0x70/0x71 at chosen virtual times.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
struct Line(Arc<AtomicBool>);

impl IrqLine for Line {
    fn set(&self, level: bool) {
        self.0.store(level, Ordering::Relaxed);
    }
}

impl Line {
    fn high(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// 2024-03-15 13:45:30 UTC, a Friday.
const T0: i64 = 1_710_510_330;

fn rtc() -> (Rtc<Line>, Line) {
    let line = Line::default();
    (Rtc::new(T0, line.clone()), line)
}

fn get(r: &mut Rtc<Line>, index: u8) -> u8 {
    r.write(RTC_INDEX, 1, index as u32);
    r.read(RTC_DATA, 1) as u8
}

fn set(r: &mut Rtc<Line>, index: u8, v: u8) {
    r.write(RTC_INDEX, 1, index as u32);
    r.write(RTC_DATA, 1, v as u32);
}

#[test]
fn test_rtc_civil_conversions() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(civil_from_days(19_797), (2024, 3, 15));
    assert_eq!(civil_from_days(days_from_civil(2100, 2, 28) + 1), (2100, 3, 1));
}

#[test]
fn test_rtc_reads_bcd_time_and_date() {
    let (mut r, _) = rtc();
    assert_eq!(get(&mut r, REG_SECONDS), 0x30);
    assert_eq!(get(&mut r, REG_MINUTES), 0x45);
    assert_eq!(get(&mut r, REG_HOURS), 0x13);
    assert_eq!(get(&mut r, REG_WEEKDAY), 6, "Friday, 1 = Sunday");
    assert_eq!(get(&mut r, REG_DAY), 0x15);
    assert_eq!(get(&mut r, REG_MONTH), 0x03);
    assert_eq!(get(&mut r, REG_YEAR), 0x24);
    assert_eq!(get(&mut r, REG_CENTURY), 0x20);
    assert_eq!(get(&mut r, REG_D), D_VRT);
}

#[test]
fn test_rtc_time_follows_virtual_clock() {
    let (mut r, _) = rtc();
    r.tick(31 * NS_PER_SEC);
    assert_eq!(get(&mut r, REG_SECONDS), 0x01);
    assert_eq!(get(&mut r, REG_MINUTES), 0x46);
}

#[test]
fn test_rtc_binary_and_12_hour_modes() {
    let (mut r, _) = rtc();
    set(&mut r, REG_B, B_DM_BINARY);
    assert_eq!(get(&mut r, REG_HOURS), 0x80 | 1, "1 PM in 12-hour binary");
    assert_eq!(get(&mut r, REG_MINUTES), 45);
    set(&mut r, REG_B, 0);
    assert_eq!(get(&mut r, REG_HOURS), 0x81);
}

#[test]
fn test_rtc_set_bit_freezes_and_guest_sets_time() {
    let (mut r, _) = rtc();
    set(&mut r, REG_B, B_SET | B_24H);
    set(&mut r, REG_HOURS, 0x08);
    set(&mut r, REG_YEAR, 0x99);
    set(&mut r, REG_CENTURY, 0x19);
    r.tick(5 * NS_PER_SEC);
    assert_eq!(get(&mut r, REG_SECONDS), 0x30, "frozen while SET");
    set(&mut r, REG_B, B_24H);
    r.tick(7 * NS_PER_SEC);
    assert_eq!(get(&mut r, REG_SECONDS), 0x32);
    assert_eq!(get(&mut r, REG_HOURS), 0x08);
    assert_eq!(get(&mut r, REG_YEAR), 0x99);
    assert_eq!(get(&mut r, REG_CENTURY), 0x19);
}

#[test]
fn test_rtc_periodic_interrupt_and_register_c_clears() {
    let (mut r, line) = rtc();
    set(&mut r, REG_B, B_24H | B_PIE);
    assert_eq!(r.next_deadline(), Some(976_563), "1024 Hz from rate 6");
    r.tick(976_563);
    assert!(line.high());
    assert_eq!(get(&mut r, REG_C), C_IRQF | C_PF);
    assert!(!line.high());
    assert_eq!(get(&mut r, REG_C), 0);
    assert_eq!(r.next_deadline(), Some(1_953_125));
}

#[test]
fn test_rtc_update_ended_interrupt_each_second() {
    let (mut r, line) = rtc();
    set(&mut r, REG_B, B_24H | B_UIE);
    assert_eq!(r.next_deadline(), Some(NS_PER_SEC));
    r.tick(NS_PER_SEC);
    assert!(line.high());
    assert_eq!(get(&mut r, REG_C) & (C_UF | C_IRQF), C_UF | C_IRQF);
}

#[test]
fn test_rtc_alarm_interrupt_with_dont_care() {
    let (mut r, line) = rtc();
    set(&mut r, REG_SECONDS_ALARM, 0x35);
    set(&mut r, REG_MINUTES_ALARM, 0xC0);
    set(&mut r, REG_HOURS_ALARM, 0xFF);
    set(&mut r, REG_B, B_24H | B_AIE);
    for s in 1..=4 {
        r.tick(s * NS_PER_SEC);
        assert!(!line.high(), "no alarm at :3{}", s);
    }
    r.tick(5 * NS_PER_SEC);
    assert!(line.high());
    assert_eq!(get(&mut r, REG_C) & !C_PF, C_IRQF | C_AF | C_UF);
}

#[test]
fn test_rtc_flags_set_without_enables_but_no_irq() {
    let (mut r, line) = rtc();
    r.tick(NS_PER_SEC);
    assert!(!line.high());
    assert_eq!(get(&mut r, REG_C), C_UF | C_PF);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn test_rtc_uip_before_update() {
    let (mut r, _) = rtc();
    r.tick(NS_PER_SEC - UIP_LEAD_NS);
    assert_ne!(get(&mut r, REG_A) & A_UIP, 0);
    r.tick(NS_PER_SEC);
    assert_eq!(get(&mut r, REG_A), A_DEFAULT);
}

#[test]
fn test_rtc_nmi_mask_bit_and_cmos_ram() {
    let (mut r, _) = rtc();
    r.write(RTC_INDEX, 1, 0x80 | 0x40);
    assert!(r.nmi_disabled());
    r.write(RTC_DATA, 1, 0x5A);
    r.write(RTC_INDEX, 1, 0x40);
    assert!(!r.nmi_disabled());
    assert_eq!(r.read(RTC_DATA, 1), 0x5A);
    assert_eq!(r.read(RTC_INDEX, 1), 0xFF);
}

#[test]
fn test_rtc_cmos_memory_fields_for_32_mib() {
    let fields = cmos_memory_fields(32 << 20, 0);
    let (mut r, _) = rtc();
    for (i, v) in fields {
        r.set_cmos(i, v);
    }
    let word = |r: &mut Rtc<Line>, i: u8| get(r, i) as u32 | (get(r, i + 1) as u32) << 8;
    assert_eq!(word(&mut r, 0x15), 640);
    assert_eq!(word(&mut r, 0x17), 31 * 1024);
    assert_eq!(word(&mut r, 0x30), 31 * 1024);
    assert_eq!(word(&mut r, 0x34), (16 << 20) / 65536);
    assert_eq!(get(&mut r, 0x5B), 0);
}

#[test]
fn test_rtc_cmos_extended_memory_caps_at_ffff() {
    let fields = cmos_memory_fields(3584 << 20, 8 << 30);
    let get = |i: u8| fields.iter().find(|f| f.0 == i).map(|f| f.1).unwrap();
    assert_eq!((get(0x17), get(0x18)), (0xFF, 0xFF));
    assert_eq!((get(0x34), get(0x35)), (0x00, 0xDF), "3568 MiB above 16 MiB in 64 KiB blocks");
    assert_eq!((get(0x5B), get(0x5C), get(0x5D)), (0, 0, 2), "8 GiB above 4 GiB in 64 KiB blocks");
}

#[test]
fn test_rtc_guest_garbage_never_panics() {
    let (mut r, _) = rtc();
    let mut x: u32 = 0x0BAD_F00D;
    for i in 0..50_000u64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r.tick(i * 1_000_003);
        r.write(RTC_INDEX, 1, x & 0xFF);
        if x & 0x100 != 0 {
            r.write(RTC_DATA, 1, x >> 24);
        } else {
            r.read(RTC_DATA, 1);
        }
        let _ = r.next_deadline();
    }
}
