//! The I/O port bus: a map from each of the 65 536 x86 ports to the device that declared
//! it. Devices are named by a small copyable handle `D` chosen by the board (an enum), so
//! the board keeps typed access to its devices and the bus stays a plain lookup table.
//! Declarations that overlap an earlier one are refused.

use std::ops::RangeInclusive;

/// Number of x86 I/O ports.
pub const PORT_COUNT: usize = 0x1_0000;

/// A declaration refused because a port was already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConflict<D> {
    /// The first port both devices want.
    pub port: u16,
    /// The device that declared it first.
    pub existing: D,
    /// The device whose declaration was refused.
    pub new: D,
}

/// Maps ports to device handles.
#[derive(Debug, Clone)]
pub struct PortBus<D> {
    slots: Vec<Option<D>>,
}

impl<D: Copy> Default for PortBus<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Copy> PortBus<D> {
    /// An empty bus: every port unclaimed.
    pub fn new() -> Self {
        PortBus { slots: vec![None; PORT_COUNT] }
    }

    /// Claims `ranges` for `device`. Nothing is claimed if any port is already taken.
    pub fn insert(&mut self, device: D, ranges: &[RangeInclusive<u16>]) -> Result<(), PortConflict<D>> {
        for range in ranges {
            for port in range.clone() {
                if let Some(existing) = self.slots[port as usize] {
                    return Err(PortConflict { port, existing, new: device });
                }
            }
        }
        for range in ranges {
            for port in range.clone() {
                self.slots[port as usize] = Some(device);
            }
        }
        Ok(())
    }

    /// The device answering `port`, if any.
    #[inline]
    pub fn lookup(&self, port: u16) -> Option<D> {
        self.slots[port as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_port_bus_routes_declared_ports() {
        let mut bus = PortBus::new();
        bus.insert('a', &[0x60..=0x60, 0x64..=0x64]).unwrap();
        bus.insert('b', &[0x3F8..=0x3FF]).unwrap();
        assert_eq!(bus.lookup(0x60), Some('a'));
        assert_eq!(bus.lookup(0x64), Some('a'));
        assert_eq!(bus.lookup(0x3FC), Some('b'));
        assert_eq!(bus.lookup(0x61), None);
        assert_eq!(bus.lookup(0xFFFF), None);
    }

    #[test]
    fn test_port_bus_refuses_overlap_atomically() {
        let mut bus = PortBus::new();
        bus.insert(1u8, &[0x80..=0x80]).unwrap();
        let err = bus.insert(2u8, &[0x70..=0x71, 0x7E..=0x81]).unwrap_err();
        assert_eq!(err, PortConflict { port: 0x80, existing: 1, new: 2 });
        // The refused declaration claimed nothing, not even its first range.
        assert_eq!(bus.lookup(0x70), None);
        assert_eq!(bus.lookup(0x80), Some(1));
    }

    #[test]
    fn test_port_bus_top_port() {
        let mut bus = PortBus::new();
        bus.insert(7u8, &[0xFFFE..=0xFFFF]).unwrap();
        assert_eq!(bus.lookup(0xFFFF), Some(7));
    }
}
