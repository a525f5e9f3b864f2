//! A POST-code latch: firmware writes progress codes to port 0x80 while it boots, and a
//! diagnostic card shows the last one. ferrite keeps the last byte written so the run
//! summary can report where a guest got to.
//!
//! Reads return the last code (0 before any write), as many chipsets do for port 0x80.

use crate::PortDevice;
use std::ops::RangeInclusive;

/// The conventional POST-code port.
pub const POST_PORT: u16 = 0x80;

/// The POST-code latch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostCode {
    port: u16,
    last: u8,
    writes: u64,
}

impl Default for PostCode {
    fn default() -> Self {
        Self::new(POST_PORT)
    }
}

impl PostCode {
    /// A latch on `port`.
    pub fn new(port: u16) -> Self {
        PostCode { port, last: 0, writes: 0 }
    }

    /// The last byte written (0 before any write).
    pub fn last(&self) -> u8 {
        self.last
    }

    /// How many codes were written.
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

impl PortDevice for PostCode {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![self.port..=self.port]
    }

    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        self.last as u32
    }

    /// Any width: the low byte is the code.
    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        self.last = value as u8;
        self.writes += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_post_code_keeps_last_byte() {
        let mut post = PostCode::default();
        assert_eq!(post.last(), 0);
        post.write(POST_PORT, 1, 0x11);
        post.write(POST_PORT, 2, 0x3322);
        assert_eq!(post.last(), 0x22);
        assert_eq!(post.writes(), 2);
        assert_eq!(post.read(POST_PORT, 1), 0x22);
    }

    #[test]
    fn test_post_code_declares_chosen_port() {
        let post = PostCode::new(0x84);
        assert_eq!(post.ports(), vec![0x84..=0x84]);
    }
}
