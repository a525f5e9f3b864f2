//! Tests of the I/O APIC through its register window and pins.

use super::*;

fn program(io: &mut IoApic, pin: u8, low: u32, high: u32) {
    io.write(IOREGSEL, 4, 0x10 + 2 * pin as u32);
    io.write(IOWIN, 4, low);
    io.write(IOREGSEL, 4, 0x11 + 2 * pin as u32);
    io.write(IOWIN, 4, high);
}

fn read_reg(io: &mut IoApic, index: u32) -> u32 {
    io.write(IOREGSEL, 4, index);
    io.read(IOWIN, 4)
}

#[test]
fn test_ioapic_identity_registers() {
    let mut io = IoApic::new();
    assert_eq!(read_reg(&mut io, 1), 0x0017_0011, "version 0x11, 24 entries");
    assert_eq!(read_reg(&mut io, 1) >> 16 & 0xFF, 23);
    io.write(IOREGSEL, 4, 0);
    io.write(IOWIN, 4, 0x0500_0000);
    assert_eq!(read_reg(&mut io, 0), 0x0500_0000);
    assert_eq!(read_reg(&mut io, 2), 0x0500_0000, "arbitration ID follows the ID");
    io.write(IOREGSEL, 4, 1);
    io.write(IOWIN, 4, 0);
    assert_eq!(read_reg(&mut io, 1), IOAPIC_VERSION, "version is read only");
    assert_eq!(io.read(IOREGSEL, 4), 1);
    for pin in 0..24 {
        assert_eq!(read_reg(&mut io, 0x10 + 2 * pin), redir::MASKED as u32, "pin {pin} masked at reset");
    }
}

#[test]
fn test_ioapic_redirection_entry_round_trip() {
    let mut io = IoApic::new();
    program(&mut io, 5, 0xFFFF_FFFF, 0xFFFF_FFFF);
    // Delivery status and remote IRR are read only; reserved bits read 0.
    assert_eq!(read_reg(&mut io, 0x1A), (redir::WRITABLE_LOW) as u32);
    assert_eq!(read_reg(&mut io, 0x1B), 0xFF00_0000);
}

#[test]
fn test_ioapic_edge_pin_sends_once_per_rise_and_loses_masked_edges() {
    let mut io = IoApic::new();
    program(&mut io, 2, 0x30, 0);
    io.set_pin(2, true);
    let m = io.take_message().unwrap();
    assert_eq!(m, IoApicMessage { pin: 2, vector: 0x30, mode: 0, dest: 0, logical: false, level: false });
    io.delivered(2, true);
    assert!(!io.has_message());
    io.set_pin(2, true);
    assert!(!io.has_message(), "no edge while high");
    io.set_pin(2, false);
    io.set_pin(2, true);
    assert!(io.has_message());
    io.delivered(2, false);
    assert!(!io.has_message(), "an edge nobody accepted is gone");
    program(&mut io, 2, redir::MASKED as u32 | 0x30, 0);
    io.set_pin(2, false);
    io.set_pin(2, true);
    program(&mut io, 2, 0x30, 0);
    assert!(!io.has_message(), "an edge while masked is lost");
}

#[test]
fn test_ioapic_level_pin_remote_irr_and_eoi() {
    let mut io = IoApic::new();
    program(&mut io, 9, (redir::LEVEL | redir::LOGICAL) as u32 | 0x41, 0x0100_0000);
    io.set_pin(9, true);
    let m = io.take_message().unwrap();
    assert!(m.level && m.logical);
    assert_eq!((m.vector, m.dest), (0x41, 1));
    assert_ne!(read_reg(&mut io, 0x22) & redir::SEND_PENDING as u32, 0, "delivery status while pending");
    io.delivered(9, true);
    assert_ne!(read_reg(&mut io, 0x22) & redir::REMOTE_IRR as u32, 0);
    assert!(!io.has_message(), "remote IRR holds it back");
    io.eoi(0x42);
    assert!(!io.has_message(), "another vector's EOI");
    io.eoi(0x41);
    assert_eq!(read_reg(&mut io, 0x22) & redir::REMOTE_IRR as u32, 0);
    assert!(io.has_message(), "still asserted: sent again");
    io.delivered(9, true);
    io.set_pin(9, false);
    io.eoi(0x41);
    assert!(!io.has_message(), "deasserted before the EOI");
}

#[test]
fn test_ioapic_active_low_and_mask_of_level_pin() {
    let mut io = IoApic::new();
    program(&mut io, 11, (redir::LEVEL | redir::ACTIVE_LOW | redir::MASKED) as u32 | 0x50, 0);
    assert!(!io.has_message());
    program(&mut io, 11, (redir::LEVEL | redir::ACTIVE_LOW) as u32 | 0x50, 0);
    assert!(io.has_message(), "active low: a low line is asserted");
    io.set_pin(11, true);
    assert!(!io.has_message(), "high line: deasserted");
    io.set_pin(11, false);
    program(&mut io, 11, (redir::LEVEL | redir::ACTIVE_LOW | redir::MASKED) as u32 | 0x50, 0);
    assert!(!io.has_message(), "masked");
    program(&mut io, 11, (redir::LEVEL | redir::ACTIVE_LOW) as u32 | 0x50, 0);
    assert!(io.has_message(), "a level interrupt survives the mask");
}

#[test]
fn test_ioapic_messages_lowest_pin_first_and_modes() {
    let mut io = IoApic::new();
    program(&mut io, 4, 0x0400, 0); // NMI
    program(&mut io, 1, 0x0731, 0); // ExtINT
    io.set_pin(4, true);
    io.set_pin(1, true);
    let m = io.take_message().unwrap();
    assert_eq!((m.pin, m.mode), (1, 7));
    io.delivered(1, true);
    assert_eq!(io.take_message().unwrap().mode, 4);
    io.set_pin(30, true); // no such pin: ignored
}

#[test]
fn test_ioapic_deliver_pending_offers_each_once() {
    let mut io = IoApic::new();
    program(&mut io, 3, 0x33, 0);
    program(&mut io, 7, redir::LEVEL as u32 | 0x37, 0);
    io.set_pin(3, true);
    io.set_pin(7, true);
    let mut seen = Vec::new();
    io.deliver_pending(|m| {
        seen.push(m.pin);
        false
    });
    assert_eq!(seen, [3, 7]);
    assert_eq!(io.take_message().map(|m| m.pin), Some(7), "the refused level message waits");
    io.deliver_pending(|_| true);
    assert!(!io.has_message());
}
