//! Tests of the 8259A pair, programmed through its ports as a BIOS would.

use super::*;

/// ICW1–4 on both chips as the PC BIOS does: vectors 0x08 and 0x70, cascade on IR2,
/// 8086 mode; `icw4` is the ICW4 value.
fn pic_with_icw4(icw4: u8) -> DualPic {
    let mut p = DualPic::new();
    p.write(MASTER_CMD, 1, 0x11);
    p.write(MASTER_DATA, 1, 0x08);
    p.write(MASTER_DATA, 1, 0x04);
    p.write(MASTER_DATA, 1, icw4 as u32);
    p.write(SLAVE_CMD, 1, 0x11);
    p.write(SLAVE_DATA, 1, 0x70);
    p.write(SLAVE_DATA, 1, 0x02);
    p.write(SLAVE_DATA, 1, icw4 as u32);
    p
}

fn pic() -> DualPic {
    pic_with_icw4(0x01)
}

fn pulse(p: &mut DualPic, irq: u8) {
    p.set_irq(irq, true);
    p.set_irq(irq, false);
}

#[test]
fn test_pic_initialisation_sets_vector_bases_and_unmasks() {
    let mut p = pic();
    assert_eq!(p.master.init, InitStep::Ready);
    assert_eq!(p.read(MASTER_DATA, 1), 0);
    pulse(&mut p, 0);
    assert!(p.intr());
    assert_eq!(p.ack(), 0x08);
    pulse(&mut p, 9);
    // IRQ 0 is still in service, but IRQ 9 (via IR2) outranks nothing higher: blocked.
    assert!(!p.intr());
    p.write(MASTER_CMD, 1, 0x20);
    assert!(p.intr());
    assert_eq!(p.ack(), 0x71);
}

#[test]
fn test_pic_mask_blocks_request_until_unmasked() {
    let mut p = pic();
    p.write(MASTER_DATA, 1, 0x01);
    pulse(&mut p, 0);
    assert!(!p.intr());
    assert_eq!(p.read(MASTER_CMD, 1) & 1, 1, "IRR holds the masked request");
    p.write(MASTER_DATA, 1, 0x00);
    assert_eq!(p.ack(), 0x08);
}

#[test]
fn test_pic_specific_eoi_clears_isr_bit() {
    let mut p = pic();
    pulse(&mut p, 3);
    pulse(&mut p, 1);
    assert_eq!(p.ack(), 0x09);
    p.write(MASTER_CMD, 1, 0x0B); // OCW3: read ISR
    assert_eq!(p.read(MASTER_CMD, 1), 0x02);
    p.write(MASTER_CMD, 1, 0x61); // specific EOI, level 1
    assert_eq!(p.read(MASTER_CMD, 1), 0x00);
    assert_eq!(p.ack(), 0x0B);
}

#[test]
fn test_pic_nonspecific_eoi_clears_highest_in_service() {
    let mut p = pic();
    pulse(&mut p, 5);
    assert_eq!(p.ack(), 0x0D);
    pulse(&mut p, 1);
    assert_eq!(p.ack(), 0x09, "a higher priority nests");
    p.write(MASTER_CMD, 1, 0x0B);
    assert_eq!(p.read(MASTER_CMD, 1), 0x22);
    p.write(MASTER_CMD, 1, 0x20);
    assert_eq!(p.read(MASTER_CMD, 1), 0x20, "IRQ1 done, IRQ5 still in service");
}

#[test]
fn test_pic_edge_needs_new_rising_edge() {
    let mut p = pic();
    p.set_irq(4, true);
    assert_eq!(p.ack(), 0x0C);
    p.write(MASTER_CMD, 1, 0x20);
    assert!(!p.intr(), "a line held high is one edge");
    p.set_irq(4, false);
    p.set_irq(4, true);
    assert!(p.intr());
}

#[test]
fn test_pic_level_triggered_via_elcr_follows_line() {
    let mut p = pic();
    p.write(ELCR_SLAVE, 1, 0xFF);
    assert_eq!(p.read(ELCR_SLAVE, 1), ELCR_SLAVE_WRITABLE as u32);
    p.set_irq(11, true);
    assert_eq!(p.ack(), 0x73);
    p.write(SLAVE_CMD, 1, 0x20);
    p.write(MASTER_CMD, 1, 0x20);
    assert!(p.intr(), "a level input still high requests again");
    p.set_irq(11, false);
    assert!(!p.intr());
}

#[test]
fn test_pic_elcr_master_keeps_timer_edge() {
    let mut p = pic();
    p.write(ELCR_MASTER, 1, 0xFF);
    assert_eq!(p.read(ELCR_MASTER, 1), 0xF8);
}

#[test]
fn test_pic_auto_eoi_leaves_isr_clear() {
    let mut p = pic_with_icw4(0x03);
    pulse(&mut p, 6);
    assert_eq!(p.ack(), 0x0E);
    p.write(MASTER_CMD, 1, 0x0B);
    assert_eq!(p.read(MASTER_CMD, 1), 0);
    pulse(&mut p, 7);
    assert!(p.intr(), "nothing in service blocks the lower level");
}

#[test]
fn test_pic_spurious_irq7_when_request_vanishes() {
    let mut p = pic();
    p.write(ELCR_MASTER, 1, 0x08);
    p.set_irq(3, true);
    assert!(p.intr());
    p.set_irq(3, false);
    assert_eq!(p.ack(), 0x0F);
    p.write(MASTER_CMD, 1, 0x0B);
    assert_eq!(p.read(MASTER_CMD, 1), 0, "a spurious IR7 sets no ISR bit");
}

#[test]
fn test_pic_poll_reads_and_acknowledges() {
    let mut p = pic();
    p.write(MASTER_CMD, 1, 0x0C);
    assert_eq!(p.read(MASTER_CMD, 1), 0x00);
    pulse(&mut p, 5);
    p.write(MASTER_CMD, 1, 0x0C);
    assert_eq!(p.read(MASTER_CMD, 1), 0x85);
    p.write(MASTER_CMD, 1, 0x0B);
    assert_eq!(p.read(MASTER_CMD, 1), 0x20);
}

#[test]
fn test_pic_rotate_on_nonspecific_eoi_makes_served_level_lowest() {
    let mut p = pic();
    pulse(&mut p, 2 + 1);
    assert_eq!(p.ack(), 0x0B);
    p.write(MASTER_CMD, 1, 0xA0); // rotate on non-specific EOI: IR3 now lowest
    pulse(&mut p, 3);
    pulse(&mut p, 5);
    assert_eq!(p.ack(), 0x0D, "IR5 now outranks IR3");
}

#[test]
fn test_pic_set_priority_command() {
    let mut p = pic();
    p.write(MASTER_CMD, 1, 0xC4); // IR4 lowest, IR5 highest
    pulse(&mut p, 0);
    pulse(&mut p, 6);
    assert_eq!(p.ack(), 0x0E);
}

#[test]
fn test_pic_special_mask_mode_lets_lower_levels_in() {
    let mut p = pic();
    pulse(&mut p, 1);
    assert_eq!(p.ack(), 0x09);
    pulse(&mut p, 4);
    assert!(!p.intr(), "IR1 in service blocks IR4");
    p.write(MASTER_DATA, 1, 0x02); // mask IR1
    p.write(MASTER_CMD, 1, 0x68); // OCW3: set special mask mode
    assert!(p.intr());
    assert_eq!(p.ack(), 0x0C);
    p.write(MASTER_CMD, 1, 0x48); // reset special mask mode
    assert!(!p.master.special_mask);
}

#[test]
fn test_pic_cascade_routes_slave_vector_and_needs_both_eois() {
    let mut p = pic();
    pulse(&mut p, 12);
    assert!(p.intr());
    assert_eq!(p.ack(), 0x74);
    p.write(SLAVE_CMD, 1, 0x0B);
    p.write(MASTER_CMD, 1, 0x0B);
    assert_eq!(p.read(SLAVE_CMD, 1), 0x10);
    assert_eq!(p.read(MASTER_CMD, 1), 0x04);
    pulse(&mut p, 8);
    assert!(!p.intr(), "IRQ 8 outranks 12 on the slave, but IR2 is in service on the master");
    p.write(SLAVE_CMD, 1, 0x20);
    p.write(MASTER_CMD, 1, 0x20);
    assert!(p.intr());
    assert_eq!(p.ack(), 0x70);
}

#[test]
fn test_pic_special_fully_nested_lets_slave_nest() {
    let mut p = pic_with_icw4(0x11);
    pulse(&mut p, 12);
    assert_eq!(p.ack(), 0x74);
    pulse(&mut p, 8);
    assert!(p.intr(), "SFNM: a higher slave level nests through the in-service IR2");
    assert_eq!(p.ack(), 0x70);
}

#[test]
fn test_pic_icw1_resets_masks_and_isr() {
    let mut p = pic();
    p.write(MASTER_DATA, 1, 0xFF);
    pulse(&mut p, 0);
    p.write(MASTER_DATA, 1, 0x00);
    assert_eq!(p.ack(), 0x08);
    p.write(MASTER_CMD, 1, 0x11);
    assert_eq!(p.master.isr, 0);
    assert_eq!(p.master.imr, 0);
    assert_eq!(p.master.init, InitStep::Icw2);
}

#[test]
fn test_pic_single_mode_without_icw4_skips_icw3() {
    let mut p = DualPic::new();
    p.write(MASTER_CMD, 1, 0x12); // single, no ICW4
    p.write(MASTER_DATA, 1, 0x20);
    assert_eq!(p.master.init, InitStep::Ready);
    p.write(MASTER_DATA, 1, 0xFE);
    assert_eq!(p.read(MASTER_DATA, 1), 0xFE);
}

#[test]
fn test_pic_guest_garbage_never_panics() {
    let mut p = DualPic::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = [MASTER_CMD, MASTER_DATA, SLAVE_CMD, SLAVE_DATA, ELCR_MASTER, ELCR_SLAVE][(x % 6) as usize];
        if x & 0x100 != 0 {
            p.write(port, 1, x >> 24);
        } else {
            p.read(port, 1);
        }
        p.set_irq((x >> 9) as u8 & 15, x & 0x200 != 0);
        if p.intr() {
            p.ack();
        }
    }
}
