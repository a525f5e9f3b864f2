//! Tests of the 8042 controller, keyboard and mouse, through ports 0x60/0x64.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// An interrupt line that remembers its level and counts its rising edges.
#[derive(Clone, Default)]
struct Line(Arc<AtomicBool>, Arc<AtomicU32>);

impl IrqLine for Line {
    fn set(&self, level: bool) {
        if level && !self.0.swap(level, Ordering::Relaxed) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
        self.0.store(level, Ordering::Relaxed);
    }
}

impl Line {
    fn high(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn rises(&self) -> u32 {
        self.1.load(Ordering::Relaxed)
    }
}

#[test]
fn test_kbc_every_byte_of_a_reply_is_a_new_interrupt_edge() {
    // GET ID: ACK, 0xAB, 0x83 (0x41 through translation), read one per interrupt as
    // Linux's i8042 driver does; edge-triggered controllers need each as a rising edge.
    let (mut k, irq1, _) = kbc();
    data(&mut k, 0xF2);
    assert!(irq1.high());
    assert_eq!(irq1.rises(), 1);
    let mut got = vec![];
    for n in 2..=4 {
        got.push(k.read(KBC_DATA, 1) as u8);
        if n < 4 {
            assert!(irq1.high(), "the next byte raises the line again");
            assert_eq!(irq1.rises(), n, "as a new edge");
        }
    }
    assert_eq!(got, vec![ACK, 0xAB, 0x41]);
    assert!(!irq1.high(), "nothing left to read");
}

fn kbc() -> (I8042<Line>, Line, Line) {
    let (a, b) = (Line::default(), Line::default());
    (I8042::new(a.clone(), b.clone()), a, b)
}

fn cmd(k: &mut I8042<Line>, c: u8) {
    k.write(KBC_CMD, 1, c as u32);
}

fn data(k: &mut I8042<Line>, v: u8) {
    k.write(KBC_DATA, 1, v as u32);
}

/// Reads every byte waiting in the output buffer.
fn drain(k: &mut I8042<Line>) -> Vec<u8> {
    let mut out = vec![];
    while k.read(KBC_CMD, 1) as u8 & STATUS_OBF != 0 {
        out.push(k.read(KBC_DATA, 1) as u8);
    }
    out
}

#[test]
fn test_kbc_self_test_and_interface_tests() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0xAA);
    assert_eq!(drain(&mut k), vec![SELF_TEST_OK]);
    assert_ne!(k.read(KBC_CMD, 1) as u8 & STATUS_SYS, 0);
    cmd(&mut k, 0xAB);
    cmd(&mut k, 0xA9);
    assert_eq!(drain(&mut k), vec![0, 0]);
}

#[test]
fn test_kbc_command_byte_read_write() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0x20);
    assert_eq!(drain(&mut k), vec![CB_DEFAULT]);
    cmd(&mut k, 0x60);
    data(&mut k, 0x65);
    cmd(&mut k, 0x20);
    assert_eq!(drain(&mut k), vec![0x65]);
    assert_ne!(k.read(KBC_CMD, 1) as u8 & STATUS_SYS, 0, "SYS follows the command byte");
    assert_ne!(k.read(KBC_CMD, 1) as u8 & STATUS_CMD, 0, "the last write was a command");
}

#[test]
fn test_kbc_a20_through_output_port() {
    let (mut k, _, _) = kbc();
    assert!(k.a20());
    cmd(&mut k, 0xD1);
    data(&mut k, 0xDD);
    assert!(!k.a20());
    cmd(&mut k, 0xD0);
    assert_eq!(drain(&mut k)[0] & (OUT_A20 | OUT_RESET), OUT_RESET);
    cmd(&mut k, 0xD1);
    data(&mut k, 0xDF);
    assert!(k.a20());
    assert!(!k.take_reset());
    cmd(&mut k, 0xDD);
    assert!(!k.a20());
    cmd(&mut k, 0xDF);
    assert!(k.a20());
}

#[test]
fn test_kbc_reset_by_pulse_and_output_port() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0xFE);
    assert!(k.take_reset());
    assert!(!k.take_reset());
    cmd(&mut k, 0xFF);
    assert!(!k.take_reset(), "0xFF pulses nothing");
    cmd(&mut k, 0xD1);
    data(&mut k, 0x02);
    assert!(k.take_reset());
}

#[test]
fn test_keyboard_reset_acks_and_passes_bat() {
    let (mut k, irq1, _) = kbc();
    data(&mut k, 0xFF);
    assert!(irq1.high());
    assert_eq!(drain(&mut k), vec![ACK, BAT_OK]);
    assert!(!irq1.high());
}

#[test]
fn test_keyboard_identify_is_translated() {
    let (mut k, _, _) = kbc();
    data(&mut k, 0xF2);
    assert_eq!(drain(&mut k), vec![ACK, 0xAB, 0x41]);
    cmd(&mut k, 0x60);
    data(&mut k, CB_KBD_INT);
    data(&mut k, 0xF2);
    assert_eq!(drain(&mut k), vec![ACK, 0xAB, 0x83], "untranslated");
}

#[test]
fn test_keyboard_leds_typematic_echo_and_unknown() {
    let (mut k, _, _) = kbc();
    data(&mut k, 0xED);
    data(&mut k, 0x07);
    data(&mut k, 0xF3);
    data(&mut k, 0x20);
    data(&mut k, 0xEE);
    data(&mut k, 0x01);
    assert_eq!(drain(&mut k), vec![ACK, ACK, ACK, ACK, 0xEE, RESEND]);
    assert_eq!(k.state().kbd.leds, 7);
    assert_eq!(k.state().kbd.typematic, 0x20);
}

#[test]
fn test_keyboard_scan_codes_translated_to_set1() {
    let (mut k, irq1, _) = kbc();
    k.key_input(&[0x1C, 0xF0, 0x1C]); // 'A' make and break in set 2
    assert!(irq1.high());
    assert_eq!(drain(&mut k), vec![0x1E, 0x9E]);
}

#[test]
fn test_keyboard_disable_scanning_drops_keys() {
    let (mut k, _, _) = kbc();
    data(&mut k, 0xF5);
    drain(&mut k);
    k.key_input(&[0x1C]);
    assert_eq!(drain(&mut k), vec![]);
    data(&mut k, 0xF4);
    drain(&mut k);
    k.key_input(&[0x1C]);
    assert_eq!(drain(&mut k), vec![0x1E]);
}

#[test]
fn test_kbc_disabled_keyboard_port_holds_data() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0xAD);
    k.key_input(&[0x1C]);
    assert_eq!(drain(&mut k), vec![]);
    cmd(&mut k, 0xAE);
    assert_eq!(drain(&mut k), vec![0x1E]);
}

#[test]
fn test_kbc_irq1_only_when_enabled_in_command_byte() {
    let (mut k, irq1, _) = kbc();
    cmd(&mut k, 0x60);
    data(&mut k, CB_XLAT);
    k.key_input(&[0x1C]);
    assert!(!irq1.high());
    assert_eq!(drain(&mut k), vec![0x1E]);
}

#[test]
fn test_mouse_reset_and_identify_through_d4() {
    let (mut k, _, irq12) = kbc();
    cmd(&mut k, 0xA8);
    cmd(&mut k, 0xD4);
    data(&mut k, 0xFF);
    assert!(irq12.high());
    assert_ne!(k.read(KBC_CMD, 1) as u8 & STATUS_AUX, 0);
    assert_eq!(drain(&mut k), vec![ACK, BAT_OK, 0x00]);
    assert!(!irq12.high());
}

#[test]
fn test_mouse_intellimouse_knock_changes_id() {
    let (mut k, _, _) = kbc();
    for rate in [200, 100, 80] {
        cmd(&mut k, 0xD4);
        data(&mut k, 0xF3);
        cmd(&mut k, 0xD4);
        data(&mut k, rate);
    }
    cmd(&mut k, 0xD4);
    data(&mut k, 0xF2);
    assert_eq!(drain(&mut k), vec![ACK, ACK, ACK, ACK, ACK, ACK, ACK, 3]);
    assert_eq!(k.state().mouse.rate, 80);
}

#[test]
fn test_mouse_stream_mode_packets() {
    let (mut k, _, irq12) = kbc();
    k.mouse_input(5, 5, 0, 0);
    assert_eq!(drain(&mut k), vec![], "reporting off after power-on");
    cmd(&mut k, 0xD4);
    data(&mut k, 0xF4);
    assert_eq!(drain(&mut k), vec![ACK]);
    k.mouse_input(-3, 10, 0, 1);
    assert!(irq12.high());
    assert_eq!(drain(&mut k), vec![0x08 | 0x10 | 1, 0xFD, 10]);
}

#[test]
fn test_mouse_status_request() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0xD4);
    data(&mut k, 0xE9);
    assert_eq!(drain(&mut k), vec![ACK, 0x00, 2, 100]);
}

#[test]
fn test_kbc_write_output_buffers_d2_d3() {
    let (mut k, irq1, irq12) = kbc();
    cmd(&mut k, 0xD2);
    data(&mut k, 0x42);
    assert!(irq1.high());
    assert_eq!(drain(&mut k), vec![0x42]);
    cmd(&mut k, 0xD3);
    data(&mut k, 0x43);
    assert!(irq12.high());
    assert_eq!(drain(&mut k), vec![0x43]);
}

#[test]
fn test_kbc_empty_read_returns_last_byte() {
    let (mut k, _, _) = kbc();
    cmd(&mut k, 0xAA);
    assert_eq!(k.read(KBC_DATA, 1), 0x55);
    assert_eq!(k.read(KBC_DATA, 1), 0x55);
}

#[test]
fn test_kbc_guest_garbage_never_panics() {
    let (mut k, _, _) = kbc();
    let mut x: u32 = 0x1357_9BDF;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = if x & 1 != 0 { KBC_CMD } else { KBC_DATA };
        if x & 2 != 0 {
            k.write(port, 1, x >> 24);
        } else {
            k.read(port, 1);
        }
        if x & 0x300 == 0 {
            k.key_input(&[(x >> 16) as u8]);
            k.mouse_input((x >> 12) as i8 as i32, (x >> 4) as i8 as i32, 0, 3);
        }
        k.take_reset();
    }
}
