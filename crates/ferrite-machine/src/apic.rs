//! The APICs on the board and how interrupts reach the CPU through them.
//!
//! - **Where they are.** The local APIC's register page at [`LAPIC_BASE`] and the I/O
//!   APIC's window at [`IOAPIC_BASE`] are MMIO holes ([`MMIO_LAPIC`], [`MMIO_IOAPIC`]).
//!   IA32_APIC_BASE's global enable bit reaches the local APIC through
//!   [`ferrite_cpu::IoBus::apic_base_written`]; the page stays at 0xFEE00000 (a WRMSR that
//!   moves the base is kept in the MSR, but the registers do not move).
//! - **Inputs.** The I/O APIC lives in the chipset and sees the same ISA line levels and
//!   edges as the 8259 pair ([`crate::chipset::Chipset::sync_irqs`]): ISA IRQ 0 (the PIT)
//!   on pin 2, IRQ n on pin n otherwise (the MADT's usual interrupt source override);
//!   pin 0 and pins 16–23 are not connected.
//! - **Delivery.** At every interrupt window the board hands the I/O APIC's pending
//!   messages to the local APIC (fixed/lowest-priority to a matching destination, NMI),
//!   then the CPU's INTR is: the local APIC's highest deliverable vector if any, else the
//!   8259's INT when the local APIC lets it through (disabled globally or by software, or
//!   LINT0 unmasked in ExtINT mode — the virtual-wire mode). The INTA cycle asks the same
//!   source: the local APIC moves the vector to its ISR, or the 8259 pair answers.
//! - **NMI.** NMIs the local APIC accepted (an NMI self IPI, LINT1 in NMI mode, an I/O
//!   APIC entry in NMI mode) are the CPU's NMI input ([`Board::nmi_pending`]).
//! - **EOI.** After every write to the local APIC, the vectors of level-triggered
//!   interrupts it ended are broadcast to the I/O APIC, clearing their remote IRR.
//! - **Time.** The local APIC timer is ticked with the chipset ([`Board::set_now`]) and its
//!   deadline joins theirs ([`Board::next_deadline`]), so a slice ends at the expiry in
//!   deterministic mode and a HLT with only the APIC timer armed wakes up.

use crate::board::Board;
use crate::MachineError;
use ferrite_devices::ioapic::{IoApicMessage, IOAPIC_BASE};
use ferrite_devices::lapic::{lvt, LAPIC_BASE, LAPIC_SIZE};
use ferrite_devices::Timed;
use ferrite_mem::PhysMem;

/// MMIO hole id of the local APIC's register page.
pub(crate) const MMIO_LAPIC: ferrite_mem::MmioId = 3;
/// MMIO hole id of the I/O APIC's register window.
pub(crate) const MMIO_IOAPIC: ferrite_mem::MmioId = 4;
/// The I/O APIC hole: one page, of which the chip decodes the first 32 bytes.
const IOAPIC_HOLE: u32 = 0x1000;

/// The I/O APIC pin an ISA IRQ drives: IRQ 0 on pin 2, the others on their own number.
pub(crate) fn ioapic_pin(irq: u8) -> u8 {
    if irq == 0 {
        2
    } else {
        irq
    }
}

/// Maps the two register windows.
pub(crate) fn install(mem: &mut PhysMem) -> Result<(), MachineError> {
    mem.add_mmio(LAPIC_BASE, LAPIC_SIZE, MMIO_LAPIC)?;
    mem.add_mmio(IOAPIC_BASE, IOAPIC_HOLE, MMIO_IOAPIC)?;
    Ok(())
}

impl Board {
    /// An MMIO read in an APIC window; `None` for any other address.
    pub(crate) fn apic_mmio_read(&mut self, addr: u32, size: u8) -> Option<u32> {
        if addr.wrapping_sub(LAPIC_BASE) < LAPIC_SIZE {
            Some(self.lapic.read(addr - LAPIC_BASE, size))
        } else if addr.wrapping_sub(IOAPIC_BASE) < IOAPIC_HOLE {
            Some(self.chipset.ioapic.read(addr - IOAPIC_BASE, size))
        } else {
            None
        }
    }

    /// An MMIO write in an APIC window; false for any other address.
    pub(crate) fn apic_mmio_write(&mut self, addr: u32, size: u8, value: u32) -> bool {
        if addr.wrapping_sub(LAPIC_BASE) < LAPIC_SIZE {
            self.lapic.write(addr - LAPIC_BASE, size, value);
            while let Some(vector) = self.lapic.take_eoi() {
                self.chipset.ioapic.eoi(vector);
            }
            true
        } else if addr.wrapping_sub(IOAPIC_BASE) < IOAPIC_HOLE {
            self.chipset.ioapic.write(addr - IOAPIC_BASE, size, value);
            true
        } else {
            false
        }
    }

    /// Hands the I/O APIC's pending messages to the local APIC.
    fn deliver_ioapic(&mut self) {
        let lapic = &mut self.lapic;
        self.chipset.ioapic.deliver_pending(|m: IoApicMessage| {
            let to_us = match m.mode {
                lvt::MODE_FIXED | lvt::MODE_LOWEST | lvt::MODE_NMI => lapic.matches_destination(m.dest, m.logical),
                _ => false,
            };
            to_us && lapic.accept(m.mode, m.vector, m.level)
        });
    }

    /// The CPU's INTR pin: the local APIC's deliverable vector, or the 8259's INT where
    /// the local APIC lets it through.
    pub(crate) fn interrupt_pending(&mut self) -> bool {
        self.chipset.sync_irqs(&self.irqs);
        if self.chipset.ioapic.has_message() {
            self.deliver_ioapic();
        }
        self.lapic.pending_vector().is_some() || self.lapic.passes_extint() && self.chipset.pic.intr()
    }

    /// The INTA cycle: the vector of the interrupt [`Board::interrupt_pending`] reported.
    pub(crate) fn interrupt_ack(&mut self) -> u8 {
        if self.interrupt_pending() && self.lapic.pending_vector().is_some() {
            self.lapic.ack()
        } else {
            self.chipset.intr_ack(&self.irqs)
        }
    }

    /// The CPU's NMI input: an NMI the local APIC accepted (self IPI, LINT1, I/O APIC).
    pub(crate) fn nmi_pending(&mut self) -> bool {
        self.lapic.nmi_pending()
    }

    /// The CPU took the NMI.
    pub(crate) fn nmi_ack(&mut self) {
        self.lapic.take_nmi();
    }

    /// Brings the timed devices (chipset and local APIC timer) up to `now_ns`.
    pub(crate) fn set_now(&mut self, now_ns: u64) {
        self.chipset.set_now(now_ns);
        self.lapic.tick(now_ns);
    }

    /// The earliest time a timed device will raise an interrupt that can reach the CPU.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        match (self.chipset.next_deadline(), self.lapic.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// WRMSR IA32_APIC_BASE: the global enable bit.
    pub(crate) fn apic_base_written(&mut self, value: u64) {
        self.lapic.set_global_enable(value & ferrite_cpu::APIC_BASE_ENABLE != 0);
    }

    /// The machine reset: both APICs back to their power-on state (globally enabled, as
    /// IA32_APIC_BASE after reset).
    pub(crate) fn reset_apics(&mut self) {
        self.lapic.set_global_enable(true);
        self.lapic.reset();
        self.chipset.ioapic.reset();
    }
}

#[cfg(test)]
mod tests {
    use crate::board::Board;
    use crate::irq::IRQ_COM1;
    use ferrite_cpu::IoBus;
    use ferrite_devices::debugcon::Debugcon;
    use ferrite_devices::exit_port::ExitPort;
    use ferrite_devices::ioapic::{redir, IOAPIC_BASE, IOWIN};
    use ferrite_devices::lapic::{lvt, reg, LAPIC_BASE};
    use ferrite_devices::post_code::PostCode;
    use ferrite_devices::IrqLine;

    fn board() -> Board {
        let mut b = Board::new(Debugcon::new(None), ExitPort::new(), PostCode::new(0x80), false).unwrap();
        b.mmio_write(LAPIC_BASE + reg::SVR, 4, 0x1FF);
        b
    }

    fn redirect(b: &mut Board, pin: u32, low: u32) {
        b.mmio_write(IOAPIC_BASE, 4, 0x10 + 2 * pin);
        b.mmio_write(IOAPIC_BASE + IOWIN, 4, low);
    }

    #[test]
    fn test_apic_level_irq_through_ioapic_to_cpu_and_eoi_back() {
        let mut b = board();
        b.io_write(0x21, 1, 0xFF); // the 8259s masked, as a guest using the I/O APIC does
        b.io_write(0xA1, 1, 0xFF);
        redirect(&mut b, IRQ_COM1 as u32, redir::LEVEL as u32 | 0x44);
        let com1 = b.irqs.line(IRQ_COM1);
        com1.set(true);
        assert!(b.intr_pending(), "COM1's line reaches the CPU through pin 4");
        assert_eq!(b.intr_ack(), 0x44);
        assert!(!b.intr_pending(), "in service, remote IRR set");
        b.mmio_write(IOAPIC_BASE, 4, 0x10 + 2 * IRQ_COM1 as u32);
        assert_ne!(b.mmio_read(IOAPIC_BASE + IOWIN, 4) & redir::REMOTE_IRR as u32, 0);
        com1.set(false);
        b.mmio_write(LAPIC_BASE + reg::EOI, 4, 0);
        assert_eq!(b.mmio_read(IOAPIC_BASE + IOWIN, 4) & redir::REMOTE_IRR as u32, 0, "EOI broadcast");
        assert!(!b.intr_pending());
    }

    #[test]
    fn test_apic_8259_only_through_lint0_extint() {
        let mut b = board();
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x21, 0xEF)] {
            b.io_write(port, 1, v);
        }
        b.irqs.line(IRQ_COM1).set(true);
        assert!(b.intr_pending(), "LINT0 in ExtINT mode passes the 8259's INT");
        b.mmio_write(LAPIC_BASE + reg::LVT_LINT0, 4, lvt::MASKED | 0x700);
        assert!(!b.intr_pending(), "masked LINT0 holds it");
        b.apic_base_written(0xFEE0_0000); // global disable: the 8259 straight to the CPU
        assert!(b.intr_pending());
        assert_eq!(b.intr_ack(), 0x08 + IRQ_COM1);
    }

    #[test]
    fn test_apic_timer_deadline_joins_the_board_and_nmi_self_ipi() {
        let mut b = board();
        assert_eq!(b.next_deadline(), None);
        b.mmio_write(LAPIC_BASE + reg::LVT_TIMER, 4, 0x50);
        b.mmio_write(LAPIC_BASE + reg::TIMER_DIVIDE, 4, 0xB);
        b.mmio_write(LAPIC_BASE + reg::TIMER_INITIAL, 4, 100);
        assert!(b.stop_requested(), "the count starts at an up-to-date time");
        b.set_now(5_000);
        assert_eq!(b.next_deadline(), Some(5_000 + 100 * ferrite_devices::lapic::BUS_NS_PER_TICK));
        b.set_now(10_000);
        assert!(b.intr_pending());
        assert_eq!(b.intr_ack(), 0x50);
        b.mmio_write(LAPIC_BASE + reg::ICR_LO, 4, 1 << 18 | lvt::MODE_NMI << 8);
        assert!(b.nmi_pending());
        b.nmi_ack();
        assert!(!b.nmi_pending());
    }
}
