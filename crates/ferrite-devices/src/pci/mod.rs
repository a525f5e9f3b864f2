//! PCI bus 0 and its configuration mechanism #1, as on QEMU's `pc` machine.
//!
//! Software selects a register with a 32-bit write to CONFIG_ADDRESS (0xCF8: bit 31
//! enable, bus in bits 23..16, device 15..11, function 10..8, register 7..2) and reads or
//! writes it through CONFIG_DATA (0xCFC..0xCFF, any width; the low two address bits pick
//! the byte). Only 32-bit accesses hit 0xCF8: byte accesses to 0xCF8..0xCFB belong to the
//! ISA bus, where the board keeps the reset control register at 0xCF9. Absent functions,
//! other buses and a clear enable bit read all ones.
//!
//! Functions implement [`PciFunction`] and are plugged in with
//! [`PciBus::add_function`]; the bus also forwards I/O cycles nobody else claimed to
//! them ([`PciBus::io_read`]), which is how BAR-decoded and legacy ranges reach a device
//! without a fixed place on the port bus. Requests that need the machine (a PAM change,
//! a bus-master transfer) are flagged by [`PciFunction::needs_service`].
//!
//! The functions of the i440FX/PIIX3 chipset: [`i440fx::I440fx`] (00:00.0),
//! [`piix3::Piix3`] (00:01.0) and [`piix_ide::PiixIde`] (00:01.1).

pub mod config;
pub mod i440fx;
pub mod piix3;
pub mod piix_ide;

use crate::{all_ones, PortDevice};
use std::any::Any;
use std::fmt;
use std::ops::RangeInclusive;

pub use config::{BarKind, ConfigSpace};

/// CONFIG_ADDRESS.
pub const PCI_CONFIG_ADDRESS: u16 = 0xCF8;
/// CONFIG_DATA (through 0xCFF).
pub const PCI_CONFIG_DATA: u16 = 0xCFC;
/// CONFIG_ADDRESS bit 31: the next data access is a configuration cycle.
const CONFIG_ENABLE: u32 = 1 << 31;
/// Devices on a bus.
pub const PCI_DEVICES: u8 = 32;
/// Functions per device.
pub const PCI_FUNCTIONS: u8 = 8;
/// CONFIG_ADDRESS bits that are stored (enable, bus, device, function, dword register).
const CONFIG_ADDRESS_MASK: u32 = 0x80FF_FFFC;

/// One PCI function: a configuration space plus whatever the device does.
pub trait PciFunction: Any {
    /// The configuration space.
    fn config(&self) -> &ConfigSpace;
    /// The configuration space, mutable.
    fn config_mut(&mut self) -> &mut ConfigSpace;
    /// A configuration read of `size` bytes at `offset`.
    fn config_read(&mut self, offset: u8, size: u8) -> u32 {
        self.config().read(offset, size)
    }
    /// A configuration write; the default writes through the masks.
    fn config_write(&mut self, offset: u8, size: u8, value: u32) {
        self.config_mut().write(offset, size, value)
    }
    /// An I/O read the function may decode (legacy ports, I/O BARs); `None` if not its.
    fn io_read(&mut self, _port: u16, _size: u8) -> Option<u32> {
        None
    }
    /// An I/O write; false if the port is not the function's.
    fn io_write(&mut self, _port: u16, _size: u8, _value: u32) -> bool {
        false
    }
    /// Whether the function has a request only the machine can carry out (see the
    /// function's docs); checked after each access.
    fn needs_service(&self) -> bool {
        false
    }
    /// A hardware reset: registers back to their power-on values.
    fn reset(&mut self) {
        self.config_mut().reset();
    }
    /// For [`PciBus::function_mut`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// For [`PciBus::function`].
    fn as_any(&self) -> &dyn Any;
}

/// Why a function could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PciError {
    /// Device or function number out of range.
    BadAddress {
        /// Device number.
        dev: u8,
        /// Function number.
        func: u8,
    },
    /// The slot already holds a function.
    Occupied {
        /// Device number.
        dev: u8,
        /// Function number.
        func: u8,
    },
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PciError::BadAddress { dev, func } => write!(f, "PCI address 00:{dev:02x}.{func} is out of range"),
            PciError::Occupied { dev, func } => write!(f, "PCI address 00:{dev:02x}.{func} is already taken"),
        }
    }
}

impl std::error::Error for PciError {}

/// PCI bus 0 with the configuration mechanism #1 ports.
pub struct PciBus {
    address: u32,
    slots: Vec<Option<Box<dyn PciFunction>>>,
    service: bool,
}

impl fmt::Debug for PciBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present: Vec<String> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| format!("00:{:02x}.{}", i / 8, i % 8))
            .collect();
        f.debug_struct("PciBus").field("address", &self.address).field("functions", &present).finish()
    }
}

impl Default for PciBus {
    fn default() -> Self {
        Self::new()
    }
}

impl PciBus {
    /// An empty bus.
    pub fn new() -> PciBus {
        let slots = (0..PCI_DEVICES as usize * PCI_FUNCTIONS as usize).map(|_| None).collect();
        PciBus { address: 0, slots, service: false }
    }

    /// Plugs `function` in at 00:`dev`.`func`.
    pub fn add_function(&mut self, dev: u8, func: u8, function: Box<dyn PciFunction>) -> Result<(), PciError> {
        if dev >= PCI_DEVICES || func >= PCI_FUNCTIONS {
            return Err(PciError::BadAddress { dev, func });
        }
        let slot = &mut self.slots[slot_index(dev, func)];
        if slot.is_some() {
            return Err(PciError::Occupied { dev, func });
        }
        *slot = Some(function);
        Ok(())
    }

    /// The function at 00:`dev`.`func` as its concrete type.
    pub fn function<T: PciFunction>(&self, dev: u8, func: u8) -> Option<&T> {
        let f = self.slots.get(slot_index(dev, func))?.as_ref()?;
        f.as_any().downcast_ref::<T>()
    }

    /// The function at 00:`dev`.`func` as its concrete type, mutable.
    pub fn function_mut<T: PciFunction>(&mut self, dev: u8, func: u8) -> Option<&mut T> {
        let f = self.slots.get_mut(slot_index(dev, func))?.as_mut()?;
        f.as_any_mut().downcast_mut::<T>()
    }

    /// Forwards an I/O read nobody else claimed to the functions; `None` if none decodes it.
    pub fn io_read(&mut self, port: u16, size: u8) -> Option<u32> {
        let mut found = None;
        for f in self.slots.iter_mut().flatten() {
            if let Some(v) = f.io_read(port, size) {
                found = Some(v);
                self.service |= f.needs_service();
                break;
            }
        }
        found
    }

    /// Forwards an I/O write nobody else claimed; false if no function decodes it.
    pub fn io_write(&mut self, port: u16, size: u8, value: u32) -> bool {
        for f in self.slots.iter_mut().flatten() {
            if f.io_write(port, size, value) {
                self.service |= f.needs_service();
                return true;
            }
        }
        false
    }

    /// Whether a function asked for the machine since the last [`PciBus::take_service`].
    pub fn service_requested(&self) -> bool {
        self.service
    }

    /// Clears and returns the service request flag.
    pub fn take_service(&mut self) -> bool {
        std::mem::take(&mut self.service)
    }

    /// Resets every function and CONFIG_ADDRESS.
    pub fn reset(&mut self) {
        self.address = 0;
        for f in self.slots.iter_mut().flatten() {
            f.reset();
        }
        self.service = true;
    }

    /// The function CONFIG_ADDRESS selects, with the register offset, if enabled on bus 0.
    fn selected(&mut self) -> Option<(&mut Box<dyn PciFunction>, u8)> {
        let a = self.address;
        if a & CONFIG_ENABLE == 0 || (a >> 16) & 0xFF != 0 {
            return None;
        }
        let index = ((a >> 8) & 0xFF) as usize;
        self.slots[index].as_mut().map(|f| (f, a as u8))
    }
}

fn slot_index(dev: u8, func: u8) -> usize {
    (dev as usize % PCI_DEVICES as usize) * PCI_FUNCTIONS as usize + (func as usize % PCI_FUNCTIONS as usize)
}

impl PortDevice for PciBus {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![PCI_CONFIG_ADDRESS..=PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA..=PCI_CONFIG_DATA + 3]
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        if port == PCI_CONFIG_ADDRESS {
            return if size == 4 { self.address } else { all_ones(size) };
        }
        let byte = (port - PCI_CONFIG_DATA) as u8;
        match self.selected() {
            Some((f, reg)) => f.config_read(reg | byte, size.min(4 - byte)),
            None => all_ones(size),
        }
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        if port == PCI_CONFIG_ADDRESS {
            if size == 4 {
                self.address = value & CONFIG_ADDRESS_MASK;
            }
            return;
        }
        let byte = (port - PCI_CONFIG_DATA) as u8;
        if let Some((f, reg)) = self.selected() {
            f.config_write(reg | byte, size.min(4 - byte), value);
            let service = f.needs_service();
            self.service |= service;
        }
    }
}

#[cfg(test)]
mod tests;
