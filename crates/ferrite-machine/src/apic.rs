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
        self.chipset.sync_irqs(self.irqs.levels());
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
            self.chipset.intr_ack(self.irqs.levels())
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
