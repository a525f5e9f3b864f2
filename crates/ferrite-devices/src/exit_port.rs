//! QEMU's `isa-debug-exit` device: a guest writes a value `V` to the port and the emulator
//! ends the run; the host process exits with status `(V << 1) | 1`, so a guest can never
//! produce status 0 and a test harness can tell "the guest said so" from a clean halt.
//!
//! The device only latches the request; the machine's run loop notices it (between
//! instructions) and turns it into an exit status with [`exit_status`].

use crate::{mask_to_size, PortDevice};
use std::ops::RangeInclusive;

/// The conventional exit port.
pub const EXIT_PORT: u16 = 0xF4;
/// The host keeps only the low 8 bits of a process exit status.
pub const EXIT_STATUS_MASK: u32 = 0xFF;

/// The process exit status for a guest write of `value`: `((value << 1) | 1)`, truncated
/// to the 8 bits a host process status holds.
pub fn exit_status(value: u32) -> i32 {
    ((value.wrapping_shl(1) | 1) & EXIT_STATUS_MASK) as i32
}

/// The exit device. A write of 1, 2 or 4 bytes latches the written value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitPort {
    port: u16,
    request: Option<u32>,
}

impl Default for ExitPort {
    fn default() -> Self {
        Self::new()
    }
}

impl ExitPort {
    /// The device on [`EXIT_PORT`].
    pub fn new() -> Self {
        Self::with_port(EXIT_PORT)
    }

    /// The device on another port.
    pub fn with_port(port: u16) -> Self {
        ExitPort { port, request: None }
    }

    /// The value of the first exit request not yet taken.
    pub fn requested(&self) -> Option<u32> {
        self.request
    }

    /// Takes the pending exit request, clearing it.
    pub fn take(&mut self) -> Option<u32> {
        self.request.take()
    }
}

impl PortDevice for ExitPort {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![self.port..=self.port]
    }

    /// The port is write-only; reads float to all-ones.
    fn read(&mut self, _port: u16, size: u8) -> u32 {
        crate::all_ones(size)
    }

    fn write(&mut self, _port: u16, size: u8, value: u32) {
        // The first request wins if the guest writes twice before the machine looks.
        if self.request.is_none() {
            self.request = Some(mask_to_size(value, size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_exit_status_is_value_shifted_or_one() {
        assert_eq!(exit_status(0), 1);
        assert_eq!(exit_status(1), 3);
        assert_eq!(exit_status(0x10), 0x21);
        assert_eq!(exit_status(0x7F), 0xFF);
        // Wider values keep only the low 8 bits of the status, as the host does.
        assert_eq!(exit_status(0x80), 1);
        assert_eq!(exit_status(0xFFFF_FFFF), 0xFF);
    }

    #[test]
    fn test_exit_port_latches_written_value_by_size() {
        let mut dev = ExitPort::new();
        assert_eq!(dev.requested(), None);
        dev.write(EXIT_PORT, 2, 0xABCD_1234);
        assert_eq!(dev.requested(), Some(0x1234));
        assert_eq!(dev.take(), Some(0x1234));
        assert_eq!(dev.take(), None);
        dev.write(EXIT_PORT, 1, 0x1FF);
        assert_eq!(dev.take(), Some(0xFF));
        dev.write(EXIT_PORT, 4, 0xDEAD_BEEF);
        assert_eq!(dev.take(), Some(0xDEAD_BEEF));
    }

    #[test]
    fn test_exit_port_first_request_wins() {
        let mut dev = ExitPort::new();
        dev.write(EXIT_PORT, 1, 5);
        dev.write(EXIT_PORT, 1, 6);
        assert_eq!(dev.take(), Some(5));
    }

    #[test]
    fn test_exit_port_reads_all_ones() {
        let mut dev = ExitPort::new();
        assert_eq!(dev.read(EXIT_PORT, 1), 0xFF);
        assert_eq!(dev.ports(), vec![EXIT_PORT..=EXIT_PORT]);
    }
}
