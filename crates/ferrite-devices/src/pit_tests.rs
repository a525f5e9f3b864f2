//! Tests of the 8254 and port B, driven through ports at chosen virtual times.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A line that counts its rising edges.
#[derive(Clone, Default)]
struct EdgeCounter {
    level: Arc<AtomicBool>,
    rises: Arc<AtomicU32>,
}

impl IrqLine for EdgeCounter {
    fn set(&self, level: bool) {
        if level && !self.level.swap(true, Ordering::Relaxed) {
            self.rises.fetch_add(1, Ordering::Relaxed);
        }
        if !level {
            self.level.store(false, Ordering::Relaxed);
        }
    }
}

impl EdgeCounter {
    fn rises(&self) -> u32 {
        self.rises.load(Ordering::Relaxed)
    }
}

fn pit() -> (Pit<EdgeCounter>, EdgeCounter) {
    let line = EdgeCounter::default();
    let p = Pit::new(line.clone());
    line.rises.store(0, Ordering::Relaxed);
    (p, line)
}

/// Time in ns of PIT tick `t`.
fn at(t: u64) -> u64 {
    ticks_to_ns(t)
}

fn program(p: &mut Pit<EdgeCounter>, counter: u8, mode: u8, count: u16) {
    p.write(PIT_CONTROL, 1, (counter << 6 | 0x30 | mode << 1) as u32);
    p.write(PIT_COUNTER0 + counter as u16, 1, count as u32 & 0xFF);
    p.write(PIT_COUNTER0 + counter as u16, 1, count as u32 >> 8);
}

fn read_count(p: &mut Pit<EdgeCounter>, counter: u8) -> u16 {
    p.write(PIT_CONTROL, 1, (counter << 6) as u32);
    let lo = p.read(PIT_COUNTER0 + counter as u16, 1);
    let hi = p.read(PIT_COUNTER0 + counter as u16, 1);
    (lo | hi << 8) as u16
}

#[test]
fn test_pit_tick_conversions_round_trip() {
    assert_eq!(ns_to_ticks(1_000_000_000), PIT_HZ);
    assert_eq!(ns_to_ticks(ticks_to_ns(12345)), 12345);
    assert_eq!(ns_to_ticks(ticks_to_ns(12345) - 1), 12344);
}

#[test]
fn test_pit_mode2_reload() {
    let (mut p, line) = pit();
    program(&mut p, 0, 2, 100);
    assert_eq!(p.next_deadline(), Some(at(100)));
    p.tick(at(50));
    assert_eq!(read_count(&mut p, 0), 50);
    p.tick(at(100));
    assert_eq!(line.rises(), 1);
    assert_eq!(read_count(&mut p, 0), 100, "reloaded at the end of the period");
    assert_eq!(p.next_deadline(), Some(at(200)));
    p.tick(at(1050));
    assert_eq!(line.rises(), 2, "missed periods coalesce into one edge");
    assert_eq!(read_count(&mut p, 0), 50);
}

#[test]
fn test_pit_mode2_new_count_waits_for_period_end() {
    let (mut p, line) = pit();
    program(&mut p, 0, 2, 100);
    p.tick(at(30));
    p.write(PIT_COUNTER0, 1, 10);
    p.write(PIT_COUNTER0, 1, 0);
    assert_eq!(read_count(&mut p, 0), 70, "the old count runs on");
    assert_eq!(p.next_deadline(), Some(at(100)));
    p.tick(at(100));
    assert_eq!(line.rises(), 1);
    assert_eq!(p.next_deadline(), Some(at(110)));
    p.tick(at(115));
    assert_eq!(line.rises(), 2);
    assert_eq!(read_count(&mut p, 0), 5);
}

#[test]
fn test_pit_mode0_interrupt_on_terminal_count_fires_once() {
    let (mut p, line) = pit();
    program(&mut p, 0, 0, 1000);
    assert!(!p.state().counters[0].out(ns_to_ticks(at(10))));
    p.tick(at(999));
    assert_eq!(line.rises(), 0);
    p.tick(at(1000));
    assert_eq!(line.rises(), 1);
    assert_eq!(p.next_deadline(), None);
    p.tick(at(70_000));
    assert_eq!(line.rises(), 1);
    // The counter wraps and keeps counting down.
    assert_eq!(read_count(&mut p, 0), (1000u32 + 0x10000 - 70_000 % 0x10000) as u16);
}

#[test]
fn test_pit_mode3_square_wave_output() {
    let (mut p, line) = pit();
    program(&mut p, 0, 3, 10);
    let c = &p.state().counters[0];
    assert!(c.out(ns_to_ticks(at(4))));
    assert!(!c.out(ns_to_ticks(at(5))));
    assert!(c.out(ns_to_ticks(at(10))));
    p.tick(at(10));
    assert_eq!(line.rises(), 1);
}

#[test]
fn test_pit_lobyte_only_and_hibyte_only_access() {
    let (mut p, _) = pit();
    p.write(PIT_CONTROL, 1, 0x54); // counter 1, LSB only, mode 2
    p.write(0x41, 1, 18);
    assert_eq!(p.state().counters[1].count, 18);
    p.write(PIT_CONTROL, 1, 0x64); // counter 1, MSB only, mode 2
    p.write(0x41, 1, 0x12);
    assert_eq!(p.state().counters[1].count, 0x1200);
}

#[test]
fn test_pit_latch_holds_value_until_read() {
    let (mut p, _) = pit();
    program(&mut p, 0, 2, 1000);
    p.tick(at(100));
    p.write(PIT_CONTROL, 1, 0x00);
    p.tick(at(300));
    assert_eq!(p.read(PIT_COUNTER0, 1), (900 & 0xFF) as u32);
    p.tick(at(400));
    assert_eq!(p.read(PIT_COUNTER0, 1), 900 >> 8);
    // Unlatched reads follow the counter.
    let lo = p.read(PIT_COUNTER0, 1);
    let hi = p.read(PIT_COUNTER0, 1);
    assert_eq!(lo | hi << 8, 600);
}

#[test]
fn test_pit_readback_latches_status_then_count() {
    let (mut p, _) = pit();
    p.write(PIT_CONTROL, 1, 0xB6); // counter 2, LSB/MSB, mode 3, binary
    assert_eq!(p.read(PIT_CONTROL, 1), 0xFF);
    p.write(PIT_CONTROL, 1, 0xC8); // read-back count and status of counter 2
    assert_eq!(p.read(PIT_COUNTER2, 1), 0x80 | 0x40 | 0x36, "out high, null count, access 3, mode 3");
    p.write(PIT_COUNTER2, 1, 0x34);
    p.write(PIT_COUNTER2, 1, 0x12);
    p.write(PIT_CONTROL, 1, 0xE8); // read-back status only
    assert_eq!(p.read(PIT_COUNTER2, 1) & 0x40, 0, "count loaded");
}

#[test]
fn test_pit_bcd_counting() {
    let (mut p, _) = pit();
    p.write(PIT_CONTROL, 1, 0x35); // counter 0, LSB/MSB, mode 2, BCD
    p.write(PIT_COUNTER0, 1, 0x00);
    p.write(PIT_COUNTER0, 1, 0x10); // 1000 decimal
    p.tick(at(1));
    assert_eq!(read_count(&mut p, 0), 0x0999);
    assert_eq!(p.next_deadline(), Some(at(1000)));
}

#[test]
fn test_pit_port61_gate_starts_counter2_and_shows_output() {
    let (mut p, _) = pit();
    p.write(PIT_CONTROL, 1, 0xB0); // counter 2, LSB/MSB, mode 0
    p.write(PIT_COUNTER2, 1, 100);
    p.write(PIT_COUNTER2, 1, 0);
    p.tick(at(500));
    assert_eq!(p.read(PORT_B, 1) as u8 & PORT_B_OUT2, 0, "gate low: not counting");
    p.write(PORT_B, 1, 0x01);
    p.tick(at(599));
    assert_eq!(p.read(PORT_B, 1) as u8 & PORT_B_OUT2, 0);
    p.tick(at(600));
    assert_eq!(p.read(PORT_B, 1) as u8 & (PORT_B_OUT2 | PORT_B_GATE2), PORT_B_OUT2 | PORT_B_GATE2);
}

#[test]
fn test_pit_port61_refresh_bit_toggles() {
    let (mut p, _) = pit();
    let a = p.read(PORT_B, 1) as u8 & PORT_B_REFRESH;
    p.tick(REFRESH_PERIOD_NS);
    let b = p.read(PORT_B, 1) as u8 & PORT_B_REFRESH;
    assert_ne!(a, b);
    p.write(PORT_B, 1, 0xFF);
    assert_eq!(p.read(PORT_B, 1) as u8 & 0x0F, 0x0F);
}

#[test]
fn test_pit_mode1_one_shot_triggered_by_gate() {
    let (mut p, _) = pit();
    p.write(PIT_CONTROL, 1, 0xB2); // counter 2, mode 1
    p.write(PIT_COUNTER2, 1, 50);
    p.write(PIT_COUNTER2, 1, 0);
    p.tick(at(100));
    assert!(p.out2(), "waits for a trigger with the output high");
    p.write(PORT_B, 1, 1);
    p.tick(at(120));
    assert!(!p.out2());
    p.tick(at(150));
    assert!(p.out2());
}

#[test]
fn test_pit_unprogrammed_counter_has_no_deadline() {
    let (p, _) = pit();
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn test_pit_guest_garbage_never_panics() {
    let (mut p, _) = pit();
    let mut x: u32 = 0xDEAD_BEEF;
    let mut now = 0;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = [0x40, 0x41, 0x42, 0x43, 0x61][(x % 5) as usize];
        now += (x >> 20) as u64;
        p.tick(now);
        if x & 0x100 != 0 {
            p.write(port, 1, x >> 24);
        } else {
            p.read(port, 1);
        }
        let _ = p.next_deadline();
    }
}
