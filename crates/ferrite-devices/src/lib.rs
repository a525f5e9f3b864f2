//! `ferrite-devices` holds ferrite's PC devices. Each device is a plain struct with its own
//! state and a `read`/`write` surface; none of them knows about the CPU, the board or each
//! other. The machine crate builds its port bus from the ports each device declares through
//! [`PortDevice`], and later devices raise interrupts through an [`IrqLine`] they are handed,
//! never by calling into the CPU.
//!
//! Built in from day one:
//! - [`debugcon::Debugcon`] — the Bochs/QEMU debug console (port 0xE9) writing to any sink;
//! - [`exit_port::ExitPort`] — QEMU's `isa-debug-exit` (port 0xF4), which ends the run;
//! - [`post_code::PostCode`] — a POST-code latch (port 0x80 by default) keeping the last byte;
//! - [`uart16550::Uart16550`] — the 16550A serial port (COM1 0x3F8/IRQ 4, COM2 0x2F8/IRQ 3);
//! - [`acpi_pm::AcpiPm`] and [`acpi_pm::ResetControl`] — ACPI power management (PM1a
//!   registers, soft-off, the PM timer at 0x608) and the reset control register (0xCF9);
//! - [`fw_cfg::FwCfg`] — QEMU's firmware configuration interface (0x510/0x511, DMA at 0x514).
//!
//! The PC chipset core (each passive: timers implement [`Timed`] and are ticked by the
//! machine's virtual clock):
//! - [`pic::DualPic`] — the cascaded 8259A pair (0x20/0x21, 0xA0/0xA1, ELCR 0x4D0/0x4D1);
//! - [`pit::Pit`] — the 8254 timer (0x40–0x43) and system control port B (0x61);
//! - [`rtc::Rtc`] — the MC146818 RTC and CMOS RAM (0x70/0x71, IRQ 8);
//! - [`i8042::I8042`] — the keyboard controller with a PS/2 keyboard and mouse (0x60/0x64,
//!   IRQ 1/12; A20 and CPU reset through its output port);
//! - [`port92::Port92`] — fast A20 and reset (0x92);
//! - [`lapic::LocalApic`] — the CPU's local APIC (MMIO at 0xFEE00000, timer on the
//!   virtual clock) and [`ioapic::IoApic`] — the 82093AA I/O APIC (MMIO at 0xFEC00000).
//!
//! Display: [`vga::Vga`] — VGA (0x3B0–0x3DF, the 0xA0000 window) with the Bochs VBE
//! interface (0x1CE/0x1CF) and linear framebuffer, rendering to an RGB [`vga::Frame`].
//!
//! PCI and storage:
//! - [`pci::PciBus`] — bus 0 with configuration mechanism #1 (0xCF8/0xCFC), and its
//!   functions: [`pci::i440fx::I440fx`] (host bridge, PAM), [`pci::piix3::Piix3`] (ISA
//!   bridge, PIRQ routing), [`pci::piix_ide::PiixIde`] (IDE with bus-master DMA);
//! - [`ata::AtaChannel`] — an ATA channel with hard disks ([`ata_identify`]) and the ATAPI
//!   CD-ROM ([`atapi`]); [`block::DiskImage`] — raw image files and snapshot overlays;
//! - [`dma8237::Dma8237`] — the two cascaded 8237A ISA DMA controllers and their page
//!   registers; [`fdc::Fdc`] — the 82077AA floppy controller (0x3F0, IRQ 6, DMA 2).
#![deny(missing_docs)]

use std::ops::RangeInclusive;

pub mod acpi_pm;
pub mod ata;
pub mod ata_cmd;
pub mod ata_identify;
pub mod atapi;
pub mod block;
pub mod debugcon;
pub mod dma8237;
pub mod exit_port;
pub mod fdc;
pub mod fpu_error;
pub mod fw_cfg;
pub mod i8042;
pub mod ioapic;
pub mod lapic;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod port92;
pub mod post_code;
pub mod rtc;
pub mod uart16550;
pub mod vga;

#[cfg(test)]
mod test_ram;

/// A device that answers on I/O ports.
///
/// `size` is the access width in bytes (1, 2 or 4); `port` is the first port of the access
/// and is always inside one of the ranges [`PortDevice::ports`] returned. Values are
/// little-endian and only the low `size` bytes count.
pub trait PortDevice {
    /// The ports this device answers, declared once when it is put on a bus.
    fn ports(&self) -> Vec<RangeInclusive<u16>>;
    /// An `IN` of `size` bytes from `port`.
    fn read(&mut self, port: u16, size: u8) -> u32;
    /// An `OUT` of `size` bytes of `value` to `port`.
    fn write(&mut self, port: u16, size: u8, value: u32);
}

/// An interrupt request line a device drives; the board routes it (to the PIC, later the
/// I/O APIC). Devices hold one and call [`IrqLine::set`]; they never see the CPU.
pub trait IrqLine {
    /// Drives the line high (`true`, asserted) or low.
    fn set(&self, level: bool);
}

/// A device that acts at points in virtual time (timers, the RTC). Devices stay passive:
/// the machine asks each for its next deadline, and calls [`Timed::tick`] when that time
/// has come — and before every port access, so reads see the current time. Times are
/// nanoseconds of the machine's virtual clock since power-on; they never go backwards.
pub trait Timed {
    /// Brings the device up to `now_ns`: raises the interrupts whose time has come.
    fn tick(&mut self, now_ns: u64);
    /// The earliest time at which the device will next raise an interrupt, if any.
    fn next_deadline(&self) -> Option<u64>;
}

/// An [`IrqLine`] that goes nowhere, for devices used without interrupt routing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIrq;

impl IrqLine for NoIrq {
    fn set(&self, _level: bool) {}
}

/// The value a read of `size` bytes returns when nothing drives the bus: all ones.
pub fn all_ones(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Masks `value` to its low `size` bytes.
pub fn mask_to_size(value: u32, size: u8) -> u32 {
    value & all_ones(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_all_ones_by_size() {
        assert_eq!(all_ones(1), 0xFF);
        assert_eq!(all_ones(2), 0xFFFF);
        assert_eq!(all_ones(4), 0xFFFF_FFFF);
    }

    #[test]
    fn test_mask_to_size() {
        assert_eq!(mask_to_size(0x1234_5678, 1), 0x78);
        assert_eq!(mask_to_size(0x1234_5678, 2), 0x5678);
        assert_eq!(mask_to_size(0x1234_5678, 4), 0x1234_5678);
    }

    #[test]
    fn test_no_irq_accepts_levels() {
        NoIrq.set(true);
        NoIrq.set(false);
    }
}
