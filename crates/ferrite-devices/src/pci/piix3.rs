//! The Intel 82371SB (PIIX3) PCI-to-ISA bridge at 00:01.0 (8086:7000), function 0 of the
//! multi-function PIIX3 (the IDE controller is function 1).
//!
//! It holds the PCI interrupt routing: PIRQA#..PIRQD# route control (0x60..0x63), each
//! either disabled (bit 7) or steered to an ISA IRQ (bits 3..0: 3-7, 9-12, 14 or 15). A PCI
//! device's INTx pin reaches PIRQ `(pin + device - 1) mod 4` (the board's swizzle, as on
//! QEMU's `pc`), see [`pirq_for`]. The bridge only reports the routing
//! ([`Piix3::route`]); the board drives the ISA line, and the level/edge choice stays in
//! the 8259A's ELCR (0x4D0/0x4D1), which firmware programs for the IRQs it routes PCI
//! interrupts to. The other ISA bridge registers (I/O recovery, X-bus chip select, top of
//! memory, motherboard IRQs, APIC base, SMI) are storage with their power-on values.

use super::config::{ConfigSpace, HEADER_MULTI_FUNCTION, PCI_HEADER_TYPE};
use super::i440fx::VENDOR_INTEL;
use super::PciFunction;
use std::any::Any;

/// The PIIX3 ISA bridge device ID.
pub const DEVICE_PIIX3_ISA: u16 = 0x7000;
/// Class: bridge, ISA bridge.
const CLASS_ISA_BRIDGE: [u8; 3] = [0x06, 0x01, 0x00];
/// PIRQA# route control; PIRQB#..PIRQD# follow.
pub const PIIX3_PIRQRC: u8 = 0x60;
/// Number of PIRQ lines.
pub const PIRQ_COUNT: usize = 4;
/// PIRQ route bit: routing disabled.
pub const PIRQ_DISABLE: u8 = 0x80;
/// PIRQ route bits: the ISA IRQ.
const PIRQ_IRQ_MASK: u8 = 0x0F;
/// ISA IRQs a PIRQ may be routed to (bit n = IRQ n): 3-7, 9-12, 14, 15.
const PIRQ_VALID_IRQS: u16 = 0b1101_1110_1111_1000;
/// Writable registers with their power-on values: IORT, XBCS, TOM, MSTAT, MBIRQ0/1,
/// MBDMA0/1, APICBASE, DLC, SMI control/enable, SEE, FTMR, SMIREQ, CTLTMR, CTHTMR.
const STORAGE_REGS: [(u8, u8); 20] = [
    (0x4C, 0x4D),
    (0x4E, 0x03),
    (0x4F, 0x00),
    (0x69, 0x02),
    (0x6A, 0x00),
    (0x6B, 0x00),
    (0x70, 0x80),
    (0x71, 0x80),
    (0x76, 0x0C),
    (0x77, 0x0C),
    (0x80, 0x00),
    (0x82, 0x00),
    (0xA0, 0x08),
    (0xA2, 0x00),
    (0xA3, 0x00),
    (0xA4, 0x00),
    (0xA5, 0x00),
    (0xA6, 0x00),
    (0xA7, 0x00),
    (0xA8, 0x0F),
];

/// The ISA bridge.
#[derive(Debug, Clone)]
pub struct Piix3 {
    config: ConfigSpace,
}

impl Default for Piix3 {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3 {
    /// The bridge at power-on: all PIRQs disabled.
    pub fn new() -> Piix3 {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_PIIX3_ISA, 0, CLASS_ISA_BRIDGE);
        config.set_default(PCI_HEADER_TYPE, HEADER_MULTI_FUNCTION);
        // The ISA bridge is always a master and decodes I/O and memory.
        config.set_default_u16(super::config::PCI_COMMAND, 0x0007);
        // Medium DEVSEL timing.
        config.set_default_u16(super::config::PCI_STATUS, 0x0200);
        for i in 0..PIRQ_COUNT as u8 {
            config.set_writable(PIIX3_PIRQRC + i, &[PIRQ_DISABLE | PIRQ_IRQ_MASK]);
            config.set_default(PIIX3_PIRQRC + i, PIRQ_DISABLE);
        }
        for (reg, value) in STORAGE_REGS {
            config.set_writable(reg, &[0xFF]);
            config.set_default(reg, value);
        }
        Piix3 { config }
    }

    /// The ISA IRQ PIRQ `pirq` (0 = A .. 3 = D) is routed to, if routing is enabled and
    /// the IRQ is one the PIIX3 can steer to.
    pub fn pirq_irq(&self, pirq: usize) -> Option<u8> {
        if pirq >= PIRQ_COUNT {
            return None;
        }
        let v = self.config.byte(PIIX3_PIRQRC + pirq as u8);
        let irq = v & PIRQ_IRQ_MASK;
        (v & PIRQ_DISABLE == 0 && PIRQ_VALID_IRQS & (1 << irq) != 0).then_some(irq)
    }

    /// The ISA IRQ an INTx pin (1 = INTA# .. 4 = INTD#) of device `dev` reaches.
    pub fn route(&self, dev: u8, pin: u8) -> Option<u8> {
        self.pirq_irq(pirq_for(dev, pin)?)
    }
}

/// The PIRQ (0..4) that INTx pin `pin` (1..=4) of device `dev` is wired to.
pub fn pirq_for(dev: u8, pin: u8) -> Option<usize> {
    if !(1..=4).contains(&pin) {
        return None;
    }
    Some((pin as usize - 1 + dev as usize + PIRQ_COUNT - 1) % PIRQ_COUNT)
}

impl PciFunction for Piix3 {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_piix3_identity() {
        let mut p = Piix3::new();
        assert_eq!(p.config_read(0, 4), 0x7000_8086);
        assert_eq!(p.config_read(0x08, 4) >> 16, 0x0601);
        assert_eq!(p.config_read(0x0E, 1), 0x80, "multi-function");
        assert_eq!(p.config_read(PIIX3_PIRQRC, 4), 0x8080_8080);
    }

    #[test]
    fn test_piix3_pirq_routing() {
        let mut p = Piix3::new();
        assert_eq!(p.pirq_irq(0), None);
        p.config_write(PIIX3_PIRQRC, 4, 0x0B0A_0B0A);
        assert_eq!(p.pirq_irq(0), Some(10));
        assert_eq!(p.pirq_irq(1), Some(11));
        p.config_write(PIIX3_PIRQRC + 2, 1, 0x7F);
        assert_eq!(p.config_read(PIIX3_PIRQRC + 2, 1), 0x0F, "bits 6..4 are reserved");
        p.config_write(PIIX3_PIRQRC + 2, 1, 0x08);
        assert_eq!(p.pirq_irq(2), None, "IRQ 8 cannot be a PIRQ target");
        assert_eq!(p.pirq_irq(9), None);
        // Device 3 INTA# -> PIRQC; device 1 INTA# -> PIRQA; device 2 INTB# -> PIRQC.
        assert_eq!(pirq_for(3, 1), Some(2));
        assert_eq!(pirq_for(1, 1), Some(0));
        assert_eq!(pirq_for(2, 2), Some(2));
        assert_eq!(pirq_for(2, 0), None);
        assert_eq!(p.route(1, 2), Some(11));
    }
}
