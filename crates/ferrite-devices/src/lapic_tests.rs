//! Tests of the local APIC, driven through its registers at chosen virtual times.

use super::*;

fn enabled() -> LocalApic {
    let mut a = LocalApic::new(0);
    a.write(reg::SVR, 4, SVR_ENABLE | 0xFF);
    a
}

#[test]
fn test_lapic_reset_state_and_identity() {
    let mut a = LocalApic::new(0);
    assert_eq!(a.read(reg::VERSION, 4), 0x0005_0014);
    assert_eq!(a.read(reg::ID, 4), 0);
    assert_eq!(a.read(reg::SVR, 4), 0xFF, "software disabled after reset");
    assert_eq!(a.read(reg::DFR, 4), 0xFFFF_FFFF);
    assert_eq!(a.read(reg::LVT_TIMER, 4), lvt::MASKED);
    assert_eq!(a.read(reg::LVT_LINT0, 4), 0x700, "LINT0 ExtINT on the BSP");
    assert!(!a.enabled());
    assert!(a.passes_extint(), "a disabled APIC lets the 8259 through");
    a.write(reg::ID, 4, 0x0300_0000);
    assert_eq!(a.read(reg::ID, 4), 0x0300_0000);
    assert_eq!(a.read(reg::VERSION + 2, 1), 5, "byte read of the max LVT field");
}

#[test]
fn test_lapic_disabled_accepts_nothing_fixed() {
    let mut a = LocalApic::new(0);
    assert!(!a.accept(lvt::MODE_FIXED, 0x40, false));
    assert_eq!(a.pending_vector(), None);
    a.write(reg::SVR, 4, SVR_ENABLE | 0xFF);
    assert!(a.accept(lvt::MODE_FIXED, 0x40, false));
    assert_eq!(a.pending_vector(), Some(0x40));
    a.set_global_enable(false);
    assert_eq!(a.pending_vector(), None, "global disable resets the APIC");
    assert_eq!(a.read(reg::IRR + 0x20, 4), 0);
}

#[test]
fn test_lapic_priority_by_tpr_and_isr() {
    let mut a = enabled();
    a.accept(lvt::MODE_FIXED, 0x51, false);
    a.accept(lvt::MODE_FIXED, 0x62, false);
    assert_eq!(a.read(reg::IRR + 0x20, 4), 1 << 0x11, "IRR dword 2 holds vector 0x51");
    assert_eq!(a.pending_vector(), Some(0x62));
    assert_eq!(a.ack(), 0x62);
    assert_eq!(a.read(reg::ISR + 0x30, 4), 1 << 2);
    assert_eq!(a.read(reg::PPR, 4), 0x60, "PPR from the in-service class");
    assert_eq!(a.pending_vector(), None, "0x51 is below the in-service class");
    a.write(reg::EOI, 4, 0);
    assert_eq!(a.read(reg::PPR, 4), 0);
    assert_eq!(a.pending_vector(), Some(0x51));
    a.write(reg::TPR, 4, 0x50);
    assert_eq!(a.read(reg::PPR, 4), 0x50);
    assert_eq!(a.pending_vector(), None, "same class as the TPR is held back");
    a.write(reg::TPR, 4, 0x4F);
    assert_eq!(a.pending_vector(), Some(0x51));
    assert_eq!(a.ack(), 0x51);
    a.write(reg::EOI, 4, 0);
    assert_eq!(a.ack(), 0xFF, "nothing pending: the spurious vector");
}

#[test]
fn test_lapic_nested_eoi_ends_highest_and_reports_level() {
    let mut a = enabled();
    a.accept(lvt::MODE_FIXED, 0x30, true);
    assert_eq!(a.ack(), 0x30);
    assert_eq!(a.read(reg::TMR + 0x10, 4), 1 << 0x10, "level-triggered: TMR set");
    a.accept(lvt::MODE_FIXED, 0x80, false);
    assert_eq!(a.ack(), 0x80);
    a.write(reg::EOI, 4, 0);
    assert_eq!(a.take_eoi(), None, "0x80 was edge-triggered");
    assert_eq!(a.read(reg::ISR + 0x10, 4), 1 << 0x10, "0x30 still in service");
    a.write(reg::EOI, 4, 0);
    assert_eq!(a.take_eoi(), Some(0x30));
    assert_eq!(a.take_eoi(), None);
}

#[test]
fn test_lapic_self_ipi_and_illegal_vector() {
    let mut a = enabled();
    a.write(reg::LVT_ERROR, 4, 0xFE);
    a.write(reg::ICR_LO, 4, 1 << 18 | 0x77); // self shorthand, fixed
    assert_eq!(a.pending_vector(), Some(0x77));
    assert_eq!(a.ack(), 0x77);
    a.write(reg::EOI, 4, 0);
    // A physical destination naming this APIC also arrives.
    a.write(reg::ICR_HI, 4, 0);
    a.write(reg::ICR_LO, 4, 0x78);
    assert_eq!(a.ack(), 0x78);
    a.write(reg::EOI, 4, 0);
    // Another APIC ID: nobody there.
    a.write(reg::ICR_HI, 4, 0x0100_0000);
    a.write(reg::ICR_LO, 4, 0x79);
    assert_eq!(a.pending_vector(), None);
    // INIT and start-up to an absent CPU are dropped.
    a.write(reg::ICR_LO, 4, 3 << 18 | 0x4500);
    a.write(reg::ICR_LO, 4, 3 << 18 | 0x0608);
    assert_eq!(a.pending_vector(), None);
    // Vector 3: a send error, reported through the error LVT.
    a.write(reg::ICR_LO, 4, 1 << 18 | 0x03);
    assert_eq!(a.read(reg::ESR, 4), 0, "ESR reads the latched value");
    a.write(reg::ESR, 4, 0);
    assert_eq!(a.read(reg::ESR, 4), ESR_SEND_ILLEGAL_VECTOR);
    assert_eq!(a.pending_vector(), Some(0xFE), "error LVT vector");
    // Self NMI.
    a.write(reg::ICR_LO, 4, 1 << 18 | 0x400);
    assert!(a.take_nmi());
    assert!(!a.take_nmi());
}

#[test]
fn test_lapic_logical_destinations() {
    let mut a = enabled();
    a.write(reg::LDR, 4, 0x0100_0000);
    assert!(a.matches_destination(0x01, true));
    assert!(a.matches_destination(0xFF, true));
    assert!(!a.matches_destination(0x02, true));
    a.write(reg::DFR, 4, 0x0FFF_FFFF); // cluster model
    a.write(reg::LDR, 4, 0x2100_0000); // cluster 2, member bit 0
    assert!(a.matches_destination(0x21, true));
    assert!(a.matches_destination(0xF1, true));
    assert!(!a.matches_destination(0x11, true));
    assert!(a.matches_destination(0, false), "physical ID 0");
    assert!(a.matches_destination(0xFF, false), "physical broadcast");
}

#[test]
fn test_lapic_svr_disable_masks_lvt() {
    let mut a = enabled();
    a.write(reg::LVT_TIMER, 4, 0x40);
    assert_eq!(a.read(reg::LVT_TIMER, 4), 0x40);
    a.write(reg::SVR, 4, 0xFF);
    assert_eq!(a.read(reg::LVT_TIMER, 4) & lvt::MASKED, lvt::MASKED);
    a.write(reg::LVT_TIMER, 4, 0x40);
    assert_eq!(a.read(reg::LVT_TIMER, 4) & lvt::MASKED, lvt::MASKED, "stays masked while disabled");
}

#[test]
fn test_lapic_extint_passthrough_follows_lint0() {
    let mut a = enabled();
    assert!(a.passes_extint(), "LINT0 ExtINT unmasked");
    a.write(reg::LVT_LINT0, 4, lvt::MASKED | 0x700);
    assert!(!a.passes_extint());
    a.write(reg::LVT_LINT0, 4, 0x400); // NMI mode
    assert!(!a.passes_extint());
    a.write(reg::LVT_LINT1, 4, 0x400);
    a.lint1();
    assert!(a.take_nmi(), "LINT1 in NMI mode");
}

#[test]
fn test_lapic_timer_one_shot_with_divider() {
    let mut a = enabled();
    a.tick(1_000);
    a.write(reg::TIMER_DIVIDE, 4, 0x0); // divide by 2
    a.write(reg::LVT_TIMER, 4, 0x41);
    a.write(reg::TIMER_INITIAL, 4, 100);
    assert!(a.wants_resync());
    assert_eq!(a.next_deadline(), Some(1_000), "arming: wants a tick now");
    a.tick(2_000); // the count starts here
    assert!(!a.wants_resync());
    let period = 100 * 2 * BUS_NS_PER_TICK;
    assert_eq!(a.next_deadline(), Some(2_000 + period));
    a.tick(2_000 + period / 2);
    assert_eq!(a.read(reg::TIMER_CURRENT, 4), 50);
    assert_eq!(a.pending_vector(), None);
    a.tick(2_000 + period);
    assert_eq!(a.pending_vector(), Some(0x41));
    assert_eq!(a.read(reg::TIMER_CURRENT, 4), 0);
    assert_eq!(a.next_deadline(), None, "one-shot: done");
}

#[test]
fn test_lapic_timer_periodic_and_masked() {
    let mut a = enabled();
    a.write(reg::TIMER_DIVIDE, 4, 0xB); // divide by 1
    a.write(reg::LVT_TIMER, 4, lvt::PERIODIC | 0x42);
    a.write(reg::TIMER_INITIAL, 4, 1000);
    a.tick(0);
    let period = 1000 * BUS_NS_PER_TICK;
    for n in 1..=3u64 {
        assert_eq!(a.next_deadline(), Some(n * period));
        a.tick(n * period);
        assert_eq!(a.ack(), 0x42);
        a.write(reg::EOI, 4, 0);
    }
    a.tick(3 * period + period / 4);
    assert_eq!(a.read(reg::TIMER_CURRENT, 4), 750);
    // Ten periods missed are one interrupt, and the schedule stays on the period grid.
    a.tick(13 * period + 5);
    assert_eq!(a.ack(), 0x42);
    a.write(reg::EOI, 4, 0);
    assert_eq!(a.pending_vector(), None);
    assert_eq!(a.next_deadline(), Some(14 * period));
    a.write(reg::LVT_TIMER, 4, lvt::MASKED | lvt::PERIODIC | 0x42);
    assert_eq!(a.next_deadline(), None, "a masked timer wakes nobody");
    a.tick(20 * period);
    assert_eq!(a.pending_vector(), None);
    a.write(reg::TIMER_INITIAL, 4, 0);
    assert_eq!(a.read(reg::TIMER_CURRENT, 4), 0, "initial count 0 stops it");
}

#[test]
fn test_lapic_divide_configurations() {
    let mut a = enabled();
    for (code, div) in [(0x0, 2), (0x1, 4), (0x2, 8), (0x3, 16), (0x8, 32), (0x9, 64), (0xA, 128), (0xB, 1)] {
        a.write(reg::TIMER_DIVIDE, 4, code);
        assert_eq!(a.divisor(), div, "code {code:#x}");
    }
}
