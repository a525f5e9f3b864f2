//! One PCI function's 256-byte configuration space: the bytes, which bits software may
//! write, which status bits clear when written with 1, and the base address registers.
//!
//! A BAR is an ordinary register whose writable mask is `!(size - 1)` over its address
//! bits, so the sizing protocol (write all ones, read back) falls out: the read gives the
//! size mask with the read-only type bits.

/// Vendor ID (16 bits).
pub const PCI_VENDOR_ID: u8 = 0x00;
/// Device ID (16 bits).
pub const PCI_DEVICE_ID: u8 = 0x02;
/// Command register (16 bits).
pub const PCI_COMMAND: u8 = 0x04;
/// Status register (16 bits).
pub const PCI_STATUS: u8 = 0x06;
/// Revision ID.
pub const PCI_REVISION: u8 = 0x08;
/// Programming interface (class code, low byte).
pub const PCI_PROG_IF: u8 = 0x09;
/// Sub-class.
pub const PCI_SUBCLASS: u8 = 0x0A;
/// Base class.
pub const PCI_CLASS: u8 = 0x0B;
/// Cache line size.
pub const PCI_CACHE_LINE: u8 = 0x0C;
/// Latency timer.
pub const PCI_LATENCY: u8 = 0x0D;
/// Header type (bit 7: multi-function device).
pub const PCI_HEADER_TYPE: u8 = 0x0E;
/// The first BAR (BAR n is at 0x10 + 4n).
pub const PCI_BAR0: u8 = 0x10;
/// Subsystem vendor ID.
pub const PCI_SUBSYSTEM_VENDOR: u8 = 0x2C;
/// Interrupt line (written by firmware, read by drivers).
pub const PCI_INTERRUPT_LINE: u8 = 0x3C;
/// Interrupt pin (1 = INTA# .. 4 = INTD#, 0 none).
pub const PCI_INTERRUPT_PIN: u8 = 0x3D;

/// Command bit: respond to I/O space accesses.
pub const CMD_IO: u16 = 1 << 0;
/// Command bit: respond to memory space accesses.
pub const CMD_MEMORY: u16 = 1 << 1;
/// Command bit: may act as a bus master (DMA).
pub const CMD_BUS_MASTER: u16 = 1 << 2;
/// Command bits software may change: I/O, memory, master, parity, SERR#, INTx disable.
const CMD_WRITABLE: u16 = 0x0547;
/// Status bits that are cleared by writing 1 (parity/abort/SERR errors).
const STATUS_W1C: u16 = 0xF900;
/// Header type bit: the device has more than one function.
pub const HEADER_MULTI_FUNCTION: u8 = 0x80;
/// BAR bit 0: an I/O BAR.
pub const BAR_IO: u32 = 1;
/// Number of BARs in a type-0 header.
pub const BAR_COUNT: usize = 6;
/// Size of a configuration space.
pub const CONFIG_SIZE: usize = 256;

/// What a BAR decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// Not implemented: reads 0, ignores writes.
    None,
    /// An I/O range of this many bytes (a power of two, at least 4).
    Io(u32),
    /// A 32-bit memory range of this many bytes (a power of two, at least 16).
    Memory(u32),
}

/// A function's configuration space.
#[derive(Clone)]
pub struct ConfigSpace {
    bytes: [u8; CONFIG_SIZE],
    writable: [u8; CONFIG_SIZE],
    w1c: [u8; CONFIG_SIZE],
    defaults: [u8; CONFIG_SIZE],
    bars: [BarKind; BAR_COUNT],
}

impl std::fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSpace")
            .field("vendor", &format_args!("{:#06x}", self.read(PCI_VENDOR_ID, 2)))
            .field("device", &format_args!("{:#06x}", self.read(PCI_DEVICE_ID, 2)))
            .finish_non_exhaustive()
    }
}

impl ConfigSpace {
    /// A type-0 header with these IDs and class code (`class` is base class, sub-class,
    /// programming interface), the standard writable registers (command, cache line,
    /// latency timer, interrupt line) and no BARs.
    pub fn new(vendor: u16, device: u16, revision: u8, class: [u8; 3]) -> ConfigSpace {
        let mut c = ConfigSpace {
            bytes: [0; CONFIG_SIZE],
            writable: [0; CONFIG_SIZE],
            w1c: [0; CONFIG_SIZE],
            defaults: [0; CONFIG_SIZE],
            bars: [BarKind::None; BAR_COUNT],
        };
        c.set_u16(PCI_VENDOR_ID, vendor);
        c.set_u16(PCI_DEVICE_ID, device);
        c.bytes[PCI_REVISION as usize] = revision;
        c.bytes[PCI_CLASS as usize] = class[0];
        c.bytes[PCI_SUBCLASS as usize] = class[1];
        c.bytes[PCI_PROG_IF as usize] = class[2];
        c.set_writable(PCI_COMMAND, &CMD_WRITABLE.to_le_bytes());
        c.w1c[PCI_STATUS as usize..PCI_STATUS as usize + 2].copy_from_slice(&STATUS_W1C.to_le_bytes());
        c.set_writable(PCI_CACHE_LINE, &[0xFF, 0xFF]);
        c.set_writable(PCI_INTERRUPT_LINE, &[0xFF]);
        c.defaults = c.bytes;
        c
    }

    /// Sets a byte's power-on value (kept by [`ConfigSpace::reset`]).
    pub fn set_default(&mut self, offset: u8, value: u8) {
        self.bytes[offset as usize] = value;
        self.defaults[offset as usize] = value;
    }

    /// Sets the power-on value of a 16-bit register.
    pub fn set_default_u16(&mut self, offset: u8, value: u16) {
        for (i, b) in value.to_le_bytes().iter().enumerate() {
            self.set_default(offset.wrapping_add(i as u8), *b);
        }
    }

    /// Makes bits writable by software: `mask[i]` for the byte at `offset + i`.
    pub fn set_writable(&mut self, offset: u8, mask: &[u8]) {
        for (i, m) in mask.iter().enumerate() {
            if let Some(w) = self.writable.get_mut(offset as usize + i) {
                *w = *m;
            }
        }
    }

    /// Declares BAR `index` (0..6). Its address bits become writable down to its size.
    pub fn set_bar(&mut self, index: usize, kind: BarKind) {
        let Some(slot) = self.bars.get_mut(index) else { return };
        *slot = kind;
        let (mask, type_bits) = match kind {
            BarKind::None => (0, 0),
            // All 32 address bits size the BAR, as firmware expects (SeaBIOS computes the
            // size from the whole register); only the low 16 decode.
            BarKind::Io(size) => (!(size.max(4).next_power_of_two() - 1), BAR_IO),
            BarKind::Memory(size) => (!(size.max(16).next_power_of_two() - 1), 0),
        };
        let off = PCI_BAR0 as usize + 4 * index;
        self.writable[off..off + 4].copy_from_slice(&mask.to_le_bytes());
        self.bytes[off..off + 4].copy_from_slice(&type_bits.to_le_bytes());
        self.defaults[off..off + 4].copy_from_slice(&type_bits.to_le_bytes());
    }

    /// Reads `size` bytes (1, 2 or 4) at `offset`; bytes past the end read as 0xFF.
    pub fn read(&self, offset: u8, size: u8) -> u32 {
        (0..size.min(4) as usize).fold(0u32, |v, i| {
            let b = self.bytes.get(offset as usize + i).copied().unwrap_or(0xFF);
            v | (b as u32) << (8 * i)
        })
    }

    /// Writes `size` bytes at `offset` through the masks: only writable bits change, and
    /// write-1-to-clear bits clear where `value` has a 1.
    pub fn write(&mut self, offset: u8, size: u8, value: u32) {
        for i in 0..size.min(4) as usize {
            let Some(at) = (offset as usize).checked_add(i).filter(|&a| a < CONFIG_SIZE) else { return };
            let v = (value >> (8 * i)) as u8;
            let w = self.writable[at];
            self.bytes[at] = (self.bytes[at] & !w) | (v & w);
            self.bytes[at] &= !(v & self.w1c[at]);
        }
    }

    /// Sets a 16-bit field directly (device-side state such as status bits).
    pub fn set_u16(&mut self, offset: u8, value: u16) {
        let at = offset as usize;
        if at + 2 <= CONFIG_SIZE {
            self.bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
        }
    }

    /// A byte as it is now.
    pub fn byte(&self, offset: u8) -> u8 {
        self.bytes[offset as usize]
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.read(PCI_COMMAND, 2) as u16
    }

    /// The base of I/O BAR `index` when the function decodes I/O and the BAR is set to a
    /// non-zero address; `None` otherwise.
    pub fn io_bar(&self, index: usize) -> Option<(u16, u32)> {
        let BarKind::Io(size) = *self.bars.get(index)? else { return None };
        if self.command() & CMD_IO == 0 {
            return None;
        }
        let base = self.read(PCI_BAR0 + 4 * index as u8, 4) & !(BAR_IO | 2) & 0xFFFF;
        (base != 0).then_some((base as u16, size.max(4).next_power_of_two()))
    }

    /// Back to the power-on values (BARs unassigned, command 0).
    pub fn reset(&mut self) {
        self.bytes = self.defaults;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_config_ids_are_read_only() {
        let mut c = ConfigSpace::new(0x8086, 0x1237, 2, [6, 0, 0]);
        c.write(PCI_VENDOR_ID, 4, 0);
        assert_eq!(c.read(PCI_VENDOR_ID, 4), 0x1237_8086);
        assert_eq!(c.read(PCI_REVISION, 4), 0x0600_0002);
        c.write(PCI_COMMAND, 2, 0xFFFF);
        assert_eq!(c.command(), 0x0547, "only the defined command bits stick");
    }

    #[test]
    fn test_config_bar_sizing() {
        let mut c = ConfigSpace::new(0x8086, 0x7010, 0, [1, 1, 0x80]);
        c.set_bar(4, BarKind::Io(16));
        c.set_bar(0, BarKind::Memory(0x100_0000));
        let bar4 = PCI_BAR0 + 16;
        assert_eq!(c.read(bar4, 4), 1, "an I/O BAR reads its type bit");
        c.write(bar4, 4, 0xFFFF_FFFF);
        assert_eq!(c.read(bar4, 4), 0xFFFF_FFF1, "16 bytes of I/O; the upper bits size too, as firmware computes");
        c.write(PCI_BAR0, 4, 0xFFFF_FFFF);
        assert_eq!(c.read(PCI_BAR0, 4), 0xFF00_0000, "16 MiB of memory");
        c.write(PCI_BAR0 + 4, 4, 0xFFFF_FFFF);
        assert_eq!(c.read(PCI_BAR0 + 4, 4), 0, "an absent BAR stays 0");
        c.write(bar4, 4, 0xC001);
        assert_eq!(c.io_bar(4), None, "I/O decode is off");
        c.write(PCI_COMMAND, 2, CMD_IO as u32);
        assert_eq!(c.io_bar(4), Some((0xC000, 16)));
        c.reset();
        assert_eq!((c.read(bar4, 4), c.command()), (1, 0));
    }

    #[test]
    fn test_config_status_write_one_to_clear() {
        let mut c = ConfigSpace::new(1, 2, 0, [0, 0, 0]);
        c.set_u16(PCI_STATUS, 0x2280);
        c.write(PCI_STATUS, 2, 0x2000);
        assert_eq!(c.read(PCI_STATUS, 2), 0x0280, "the abort bit clears, the rest is read-only");
        assert_eq!(c.read(0xFF, 4), 0xFFFF_FF00, "past the end floats high");
        c.write(0xFE, 4, 0);
    }
}
