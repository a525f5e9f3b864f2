//! The board's interrupt request lines: the ISA IRQ numbers in one place, and the record
//! of which lines devices are driving high.
//!
//! Devices raise interrupts through [`ferrite_devices::IrqLine`]; the board hands each one
//! a [`BoardIrq`] for its IRQ number, which records the level in the shared [`IrqLines`].
//! The interrupt controller (the 8259A pair) routes from that record to the CPU's INTR.

use ferrite_devices::IrqLine;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

/// IRQ 0: the PIT's channel 0.
pub const IRQ_PIT: u8 = 0;
/// IRQ 1: the keyboard controller's keyboard port.
pub const IRQ_KEYBOARD: u8 = 1;
/// IRQ 3: COM2 (and COM4).
pub const IRQ_COM2: u8 = 3;
/// IRQ 4: COM1 (and COM3).
pub const IRQ_COM1: u8 = 4;
/// IRQ 8: the RTC.
pub const IRQ_RTC: u8 = 8;
/// IRQ 9: the ACPI system control interrupt (SCI), as on PIIX4 boards.
pub const IRQ_ACPI_SCI: u8 = 9;
/// IRQ 12: the keyboard controller's mouse port.
pub const IRQ_MOUSE: u8 = 12;
/// IRQ 13: the x87 error (FERR#) through the coprocessor-error latch.
pub const IRQ_FPU: u8 = 13;
/// IRQ 14: the primary IDE channel.
pub const IRQ_IDE_PRIMARY: u8 = 14;
/// IRQ 15: the secondary IDE channel.
pub const IRQ_IDE_SECONDARY: u8 = 15;
/// ISA IRQ lines (two cascaded 8259As).
pub const ISA_IRQ_COUNT: u8 = 16;

/// The levels of the 16 ISA IRQ lines (bit n = IRQ n high), shared by the devices that
/// drive them and the controller that reads them.
#[derive(Debug, Clone, Default)]
pub struct IrqLines(Arc<AtomicU16>);

impl IrqLines {
    /// All lines low.
    pub fn new() -> Self {
        Self::default()
    }

    /// The line for IRQ `irq` (0..16), to hand to a device.
    pub fn line(&self, irq: u8) -> BoardIrq {
        BoardIrq { lines: self.clone(), irq: irq % ISA_IRQ_COUNT }
    }

    /// The levels of all lines, bit n = IRQ n.
    pub fn levels(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether IRQ `irq` is high.
    pub fn is_high(&self, irq: u8) -> bool {
        self.levels() & (1 << (irq % ISA_IRQ_COUNT)) != 0
    }

    fn set(&self, irq: u8, level: bool) {
        let bit = 1u16 << irq;
        if level {
            self.0.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!bit, Ordering::Relaxed);
        }
    }
}

/// One device's IRQ line on the board.
#[derive(Debug, Clone)]
pub struct BoardIrq {
    lines: IrqLines,
    irq: u8,
}

impl BoardIrq {
    /// The IRQ number this line drives.
    pub fn irq(&self) -> u8 {
        self.irq
    }
}

impl IrqLine for BoardIrq {
    fn set(&self, level: bool) {
        self.lines.set(self.irq, level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_board_irq_records_levels() {
        let lines = IrqLines::new();
        let com1 = lines.line(IRQ_COM1);
        let sci = lines.line(IRQ_ACPI_SCI);
        com1.set(true);
        sci.set(true);
        assert_eq!(lines.levels(), 1 << 4 | 1 << 9);
        com1.set(false);
        assert!(!lines.is_high(IRQ_COM1));
        assert!(lines.is_high(IRQ_ACPI_SCI));
        assert_eq!(sci.irq(), 9);
    }
}
