//! System control port A (0x92), the PS/2 "fast A20 and reset" port: bit 1 opens the A20
//! gate without a trip through the keyboard controller, and a 0 → 1 transition of bit 0
//! asks for a CPU reset. Both are flags the machine polls; the port never touches the
//! CPU or memory.

use crate::PortDevice;
use std::ops::RangeInclusive;

/// The port.
pub const PORT92: u16 = 0x92;
/// Bit 0: fast reset (a rising edge resets the CPU).
pub const PORT92_RESET: u8 = 0x01;
/// Bit 1: A20 gate.
pub const PORT92_A20: u8 = 0x02;

/// Port 0x92.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port92 {
    /// The value last written.
    pub value: u8,
    /// A reset was requested and not yet taken.
    pub reset_request: bool,
}

impl Port92 {
    /// The port at power-on: A20 not forced, no reset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether bit 1 opens the A20 gate.
    pub fn a20(&self) -> bool {
        self.value & PORT92_A20 != 0
    }

    /// Takes a pending reset request.
    pub fn take_reset(&mut self) -> bool {
        std::mem::take(&mut self.reset_request)
    }

    /// The machine reset: both bits back to 0.
    pub fn reset(&mut self) {
        self.value = 0;
    }
}

impl PortDevice for Port92 {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![PORT92..=PORT92]
    }

    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        self.value as u32
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        let v = value as u8;
        if v & PORT92_RESET != 0 && self.value & PORT92_RESET == 0 {
            self.reset_request = true;
        }
        self.value = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_port92_a20_bit() {
        let mut p = Port92::new();
        assert!(!p.a20());
        p.write(PORT92, 1, 0x02);
        assert!(p.a20());
        assert_eq!(p.read(PORT92, 1), 0x02);
        p.write(PORT92, 1, 0x00);
        assert!(!p.a20());
    }

    #[test]
    fn test_port92_reset_on_rising_bit0() {
        let mut p = Port92::new();
        p.write(PORT92, 1, 0x03);
        assert!(p.take_reset());
        assert!(!p.take_reset());
        p.write(PORT92, 1, 0x03);
        assert!(!p.take_reset(), "bit 0 must return to 0 before it resets again");
        p.write(PORT92, 1, 0x02);
        p.write(PORT92, 1, 0x01);
        assert!(p.take_reset());
        p.reset();
        assert_eq!(p.read(PORT92, 1), 0);
    }
}
