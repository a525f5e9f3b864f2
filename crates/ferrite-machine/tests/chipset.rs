//! The chipset on the board, end to end: tiny real-mode programs (their nasm source is in
//! the comments) program the PIC and PIT and sleep in HLT until IRQ 0, toggle A20 through
//! the 8042 and port 0x92, and reset through the 8042.

use ferrite_devices::debugcon::SharedBuffer;
use ferrite_machine::{Machine, MachineConfig, StopReason};

/// A 64 KiB BIOS image with `code` at F000:0000 and `jmp F000:0000` at the reset vector.
fn rom(code: &[u8]) -> Vec<u8> {
    let mut image = vec![0xF4; 0x10000];
    image[..code.len()].copy_from_slice(code);
    image[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    image
}

fn machine(code: &[u8], deterministic: bool) -> (Machine, SharedBuffer) {
    let out = SharedBuffer::new();
    let mut config = MachineConfig::new(rom(code));
    config.debugcon = Some(Box::new(out.clone()));
    config.max_insns = Some(1_000_000);
    config.deterministic = deterministic;
    (Machine::new(config).expect("machine builds"), out)
}

/// Sets the IVT entry for vector 8, initialises the PICs (vectors 8 and 0x70, only IRQ 0
/// unmasked), programs PIT counter 0 for mode 2 with 1193 (1 kHz), then `sti` and loops
/// on `hlt; out 0xE9, '.'` until the handler (`inc word [0x500]; EOI; iret`) has run ten
/// times, and exits with the count.
const TIMER: [u8; 91] = [
    0xFA, 0x31, 0xC0, 0x8E, 0xD0, 0xBC, 0x00, 0x70, 0x8E, 0xD8, 0xC7, 0x06, 0x20, 0x00, 0x50, 0x00, 0xC7, 0x06, 0x22,
    0x00, 0x00, 0xF0, 0xC7, 0x06, 0x00, 0x05, 0x00, 0x00, 0xB0, 0x11, 0xE6, 0x20, 0xB0, 0x08, 0xE6, 0x21, 0xB0, 0x04,
    0xE6, 0x21, 0xB0, 0x01, 0xE6, 0x21, 0xB0, 0xFE, 0xE6, 0x21, 0xB0, 0x34, 0xE6, 0x43, 0xB8, 0xA9, 0x04, 0xE6, 0x40,
    0x88, 0xE0, 0xE6, 0x40, 0xFB, 0xF4, 0xB0, 0x2E, 0xE6, 0xE9, 0x83, 0x3E, 0x00, 0x05, 0x0A, 0x72, 0xF4, 0xFA, 0xA0,
    0x00, 0x05, 0xE6, 0xF4, 0x50, 0xFF, 0x06, 0x00, 0x05, 0xB0, 0x20, 0xE6, 0x20, 0x58, 0xCF,
];

/// Writes 'a' at 0 and 'b' at 1 MiB (FFFF:0010) with A20 open; closes A20 through the
/// 8042 output port (0xD1, 0xDD) and writes 'c' at FFFF:0010, which wraps to 0; opens it
/// with port 0x92 bit 1 and reads 1 MiB; clears port 0x92 and opens it through the 8042;
/// prints each byte it reads: "a", "c", "b", "b".
const A20: [u8; 76] = [
    0x31, 0xC0, 0x8E, 0xD8, 0xB8, 0xFF, 0xFF, 0x8E, 0xC0, 0xC6, 0x06, 0x00, 0x00, 0x61, 0x26, 0xC6, 0x06, 0x10, 0x00,
    0x62, 0xA0, 0x00, 0x00, 0xE6, 0xE9, 0xB0, 0xD1, 0xE6, 0x64, 0xB0, 0xDD, 0xE6, 0x60, 0x26, 0xC6, 0x06, 0x10, 0x00,
    0x63, 0xA0, 0x00, 0x00, 0xE6, 0xE9, 0xB0, 0x02, 0xE6, 0x92, 0x26, 0xA0, 0x10, 0x00, 0xE6, 0xE9, 0xB0, 0x00, 0xE6,
    0x92, 0xB0, 0xD1, 0xE6, 0x64, 0xB0, 0xDF, 0xE6, 0x60, 0x26, 0xA0, 0x10, 0x00, 0xE6, 0xE9, 0xB0, 0x00, 0xE6, 0xF4,
];

/// `inc byte [0x500]`; below 3 it resets the machine with the 8042 pulse command 0xFE,
/// else it exits with the count (RAM survives a reset).
const RESET: [u8; 25] = [
    0x31, 0xC0, 0x8E, 0xD8, 0xFE, 0x06, 0x00, 0x05, 0x80, 0x3E, 0x00, 0x05, 0x03, 0x73, 0x05, 0xB0, 0xFE, 0xE6, 0x64,
    0xF4, 0xA0, 0x00, 0x05, 0xE6, 0xF4,
];

#[test]
fn test_pit_irq0_wakes_hlt_ten_times() {
    let (mut m, out) = machine(&TIMER, true);
    let s = m.run();
    assert_eq!(s.reason, StopReason::ExitPort(10));
    assert_eq!(out.text(), "..........");
    assert!(s.insns < 1000, "HLT idles instead of spinning: {} instructions", s.insns);
}

#[test]
fn test_pit_irq0_in_real_time_mode() {
    let start = std::time::Instant::now();
    let (mut m, out) = machine(&TIMER, false);
    assert_eq!(m.run().reason, StopReason::ExitPort(10));
    assert_eq!(out.text(), "..........");
    assert!(start.elapsed() >= std::time::Duration::from_millis(9), "ten 1 ms ticks take host time");
}

#[test]
fn test_deterministic_runs_are_identical() {
    let run = || {
        let (mut m, out) = machine(&TIMER, true);
        let s = m.run();
        (s.to_string(), s.insns, out.text(), m.cpu().tsc)
    };
    let first = run();
    assert_eq!(first, run());
    assert_eq!(first.0, "stopped: exit-port at F000:0050 insns=".to_string() + &first.1.to_string() + " post=0x00");
}

#[test]
fn test_a20_toggles_through_8042_and_port92() {
    let (mut m, out) = machine(&A20, true);
    assert_eq!(m.run().reason, StopReason::ExitPort(0));
    assert_eq!(out.text(), "acbb");
    assert!(m.mem().a20());
}

#[test]
fn test_8042_pulse_resets_the_machine() {
    let (mut m, _) = machine(&RESET, true);
    assert_eq!(m.run().reason, StopReason::ExitPort(3));
    assert_eq!(m.resets(), 2);
}
