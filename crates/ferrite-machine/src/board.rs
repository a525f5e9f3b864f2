//! The board's devices and how the CPU reaches them: the port bus built from each device's
//! declared ports, and the [`IoBus`] implementation the CPU calls for `IN`/`OUT`.
//!
//! Ports nobody declared read all-ones and ignore writes, as on an ISA bus with nothing
//! driving it. In trace mode the first access to each such port is logged on stderr.

use crate::port_bus::{PortBus, PORT_COUNT};
use crate::MachineError;
use ferrite_cpu::IoBus;
use ferrite_devices::debugcon::Debugcon;
use ferrite_devices::exit_port::ExitPort;
use ferrite_devices::post_code::PostCode;
use ferrite_devices::{all_ones, mask_to_size, PortDevice};

/// Names the devices on the port bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceId {
    /// The debug console.
    Debugcon,
    /// The `isa-debug-exit` port.
    ExitPort,
    /// The POST-code latch.
    PostCode,
}

impl DeviceId {
    /// A human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            DeviceId::Debugcon => "debug console",
            DeviceId::ExitPort => "exit port",
            DeviceId::PostCode => "POST-code latch",
        }
    }
}

/// A device and the ports it answers (for a debugger's `info devices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Which device.
    pub id: DeviceId,
    /// The port ranges it declared.
    pub ports: Vec<std::ops::RangeInclusive<u16>>,
}

/// Every device on the board, in port-map order.
const ALL_DEVICES: [DeviceId; 3] = [DeviceId::Debugcon, DeviceId::ExitPort, DeviceId::PostCode];

/// Bits in the "already logged" set of unclaimed ports.
const LOGGED_WORDS: usize = PORT_COUNT / 64;

/// The devices and the port bus that routes to them.
pub(crate) struct Board {
    bus: PortBus<DeviceId>,
    pub(crate) debugcon: Debugcon,
    pub(crate) exit: ExitPort,
    pub(crate) post: PostCode,
    trace: bool,
    logged: Vec<u64>,
}

impl Board {
    /// Builds the board and its port map; refuses devices whose ports overlap.
    pub(crate) fn new(debugcon: Debugcon, exit: ExitPort, post: PostCode, trace: bool) -> Result<Self, MachineError> {
        let mut board = Board { bus: PortBus::new(), debugcon, exit, post, trace, logged: vec![0; LOGGED_WORDS] };
        for id in ALL_DEVICES {
            let ports = board.device(id).ports();
            board.bus.insert(id, &ports).map_err(|c| MachineError::PortConflict {
                port: c.port,
                existing: c.existing.name(),
                new: c.new.name(),
            })?;
        }
        Ok(board)
    }

    fn device(&mut self, id: DeviceId) -> &mut dyn PortDevice {
        match id {
            DeviceId::Debugcon => &mut self.debugcon,
            DeviceId::ExitPort => &mut self.exit,
            DeviceId::PostCode => &mut self.post,
        }
    }

    /// The devices and their ports.
    pub(crate) fn devices(&mut self) -> Vec<DeviceInfo> {
        ALL_DEVICES.iter().map(|&id| DeviceInfo { id, ports: self.device(id).ports() }).collect()
    }

    /// Whether any device could raise an interrupt to wake a halted CPU. None can yet:
    /// the PIC and timer arrive with the chipset work.
    pub(crate) fn has_interrupt_sources(&self) -> bool {
        false
    }

    /// Notes an access to an unclaimed port (once per port, in trace mode).
    fn unclaimed(&mut self, port: u16, what: &str, size: u8) {
        if !self.trace {
            return;
        }
        let (word, bit) = (port as usize / 64, port as usize % 64);
        if self.logged[word] & (1 << bit) == 0 {
            self.logged[word] |= 1 << bit;
            eprintln!(
                "ferrite: trace: unclaimed I/O port {port:#06x} ({what}, {size} byte(s)); later accesses not logged"
            );
        }
    }
}

impl IoBus for Board {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        match self.bus.lookup(port) {
            Some(id) => mask_to_size(self.device(id).read(port, size), size),
            None => {
                self.unclaimed(port, "read", size);
                all_ones(size)
            }
        }
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        match self.bus.lookup(port) {
            Some(id) => self.device(id).write(port, size, mask_to_size(value, size)),
            None => self.unclaimed(port, "write", size),
        }
    }

    fn stop_requested(&self) -> bool {
        self.exit.requested().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_devices::debugcon::SharedBuffer;

    fn board(post_port: u16) -> Result<(Board, SharedBuffer), MachineError> {
        let out = SharedBuffer::new();
        let con = Debugcon::new(Some(Box::new(out.clone())));
        Board::new(con, ExitPort::new(), PostCode::new(post_port), true).map(|b| (b, out))
    }

    #[test]
    fn test_board_routes_builtin_ports() {
        let (mut b, out) = board(0x80).unwrap();
        b.io_write(0xE9, 1, b'A' as u32);
        b.io_write(0x80, 1, 0x5A);
        assert_eq!(out.text(), "A");
        assert_eq!(b.post.last(), 0x5A);
        assert_eq!(b.io_read(0xE9, 1), 0xE9);
        assert!(!b.stop_requested());
        b.io_write(0xF4, 1, 3);
        assert!(b.stop_requested());
        assert_eq!(b.exit.take(), Some(3));
    }

    #[test]
    fn test_board_unclaimed_ports_float_high() {
        let (mut b, _) = board(0x80).unwrap();
        assert_eq!(b.io_read(0x61, 1), 0xFF);
        assert_eq!(b.io_read(0x61, 2), 0xFFFF);
        assert_eq!(b.io_read(0xCF8, 4), 0xFFFF_FFFF);
        b.io_write(0x61, 1, 0);
        assert_eq!(b.io_read(0x61, 1), 0xFF);
    }

    #[test]
    fn test_board_refuses_post_port_on_debugcon() {
        let err = board(0xE9).err().unwrap();
        assert_eq!(err.to_string(), "I/O port 0x00e9 is claimed by both the debug console and the POST-code latch");
    }

    #[test]
    fn test_board_reads_are_masked_to_size() {
        let (mut b, _) = board(0x84).unwrap();
        b.io_write(0x84, 1, 0x1234);
        assert_eq!(b.io_read(0x84, 1), 0x34);
    }
}
