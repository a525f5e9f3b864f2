//! The board's interrupt request lines: the ISA IRQ numbers in one place, and the record
//! of which lines devices are driving high.
//!
//! Devices raise interrupts through [`ferrite_devices::IrqLine`]; the board hands each one
//! a [`BoardIrq`] for its IRQ number, which records the level in the shared [`IrqLines`].
//! The interrupt controller (the 8259A pair) routes from that record to the CPU's INTR.

use ferrite_devices::IrqLine;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// IRQ 0: the PIT's channel 0.
pub const IRQ_PIT: u8 = 0;
/// IRQ 1: the keyboard controller's keyboard port.
pub const IRQ_KEYBOARD: u8 = 1;
/// IRQ 3: COM2 (and COM4).
pub const IRQ_COM2: u8 = 3;
/// IRQ 4: COM1 (and COM3).
pub const IRQ_COM1: u8 = 4;
/// IRQ 6: the floppy disk controller.
pub const IRQ_FLOPPY: u8 = 6;
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
/// drive them and the controller that reads them, plus the rising edges since the
/// controller last looked: a line that goes low and high again between two looks (the
/// floppy controller's interrupt, acknowledged and raised again by the next command while
/// the CPU runs with interrupts off) must still reach the 8259's edge detection.
#[derive(Debug, Clone, Default)]
pub struct IrqLines(Arc<AtomicU32>);

/// Bits 16–31 of the shared word latch rising edges of IRQ 0–15.
const RISE_SHIFT: u32 = 16;

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
        self.0.load(Ordering::Relaxed) as u16
    }

    /// The levels and the rising edges since the last look (bit n = IRQ n), read in one
    /// step and clearing the edges.
    pub fn take(&self) -> (u16, u16) {
        // The CPU asks at every block boundary; a locked read-modify-write only when
        // there is an edge to clear (one that lands after the load is seen next time).
        let word = self.0.load(Ordering::Relaxed);
        if word >> RISE_SHIFT == 0 {
            return (word as u16, 0);
        }
        let word = self.0.fetch_and(0xFFFF, Ordering::Relaxed);
        (word as u16, (word >> RISE_SHIFT) as u16)
    }

    /// Whether IRQ `irq` is high.
    pub fn is_high(&self, irq: u8) -> bool {
        self.levels() & (1 << (irq % ISA_IRQ_COUNT)) != 0
    }

    fn set(&self, irq: u8, level: bool) {
        let bit = 1u32 << irq;
        if level {
            let old = self.0.fetch_or(bit, Ordering::Relaxed);
            if old & bit == 0 {
                self.0.fetch_or(bit << RISE_SHIFT, Ordering::Relaxed);
            }
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

    #[test]
    fn test_board_irq_latches_rising_edges() {
        let lines = IrqLines::new();
        let fdc = lines.line(IRQ_FLOPPY);
        fdc.set(true);
        assert_eq!(lines.take().1, 1 << 6);
        fdc.set(false);
        fdc.set(true);
        assert_eq!(lines.levels(), 1 << 6);
        assert_eq!(lines.take().1, 1 << 6, "low and high again between two looks is an edge");
        assert_eq!(lines.take().1, 0);
        fdc.set(true);
        assert_eq!(lines.take().1, 0, "staying high is no edge");
    }
}
