//! The Intel 82441FX (i440FX) PCI and memory controller, host bridge at 00:00.0
//! (8086:1237), as firmware for QEMU's `pc` machine expects it.
//!
//! What it does here: its identity, the DRAM/timing registers as plain storage, and the
//! Programmable Attribute Map (PAM0..PAM6 at 0x59..0x5F) that decides whether reads and
//! writes of 0xC0000..0xFFFFF go to RAM or to the ROM/PCI side. The device only keeps the
//! registers; after a change it asks for service ([`PciFunction::needs_service`]) and the
//! machine applies [`I440fx::pam_modes`] to memory. SMRAM (0x72) is stored and ignored.
//!
//! PAM layout (each nibble: bit 0 read enable, bit 1 write enable):
//! PAM0 high nibble is 0xF0000..0xFFFFF; PAMn (n = 1..6) low nibble is
//! 0xC0000 + (n-1)*0x8000 (16 KiB), high nibble the next 16 KiB.

use super::config::ConfigSpace;
use super::PciFunction;
use std::any::Any;

/// Intel's vendor ID.
pub const VENDOR_INTEL: u16 = 0x8086;
/// The 82441FX device ID.
pub const DEVICE_I440FX: u16 = 0x1237;
/// The revision QEMU reports.
const REVISION: u8 = 0x02;
/// Class: bridge, host bridge.
const CLASS_HOST_BRIDGE: [u8; 3] = [0x06, 0x00, 0x00];
/// PAM0; PAM1..PAM6 follow.
pub const I440FX_PAM0: u8 = 0x59;
/// Number of PAM registers.
pub const PAM_REGISTERS: usize = 7;
/// PAM nibble bit: reads go to RAM.
pub const PAM_READ: u8 = 1;
/// PAM nibble bit: writes go to RAM.
pub const PAM_WRITE: u8 = 2;
/// Segments the PAM registers control (as numbered by `ferrite_mem::pam_segment_range`:
/// 0 is 0xF0000, 1..=12 the 16 KiB pieces from 0xC0000).
pub const PAM_SEGMENT_COUNT: usize = 13;
/// The SMRAM control register (stored, no effect).
pub const I440FX_SMRAM: u8 = 0x72;
/// SMRAM's power-on value (C_BASE_SEG = 010b: the A/B segment).
const SMRAM_DEFAULT: u8 = 0x02;
/// Registers 0x50..0x5F (PMCCFG, DBC, DRT, DRAMC, DRAMT, PAM), software-writable.
const CHIPSET_REGS: std::ops::Range<u8> = 0x50..0x60;
/// DRAM row boundaries 0x60..0x67, FDHC 0x68, MTT/CLT 0x70/0x71.
const DRB_REGS: std::ops::Range<u8> = 0x60..0x69;

/// The host bridge.
#[derive(Debug, Clone)]
pub struct I440fx {
    config: ConfigSpace,
    pam_changed: bool,
}

impl Default for I440fx {
    fn default() -> Self {
        Self::new()
    }
}

impl I440fx {
    /// The bridge at power-on: every PAM segment decoding to ROM/PCI.
    pub fn new() -> I440fx {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_I440FX, REVISION, CLASS_HOST_BRIDGE);
        for r in CHIPSET_REGS.chain(DRB_REGS).chain([0x70, 0x71, I440FX_SMRAM]) {
            config.set_writable(r, &[0xFF]);
        }
        // PAM0's low nibble is reserved.
        config.set_writable(I440FX_PAM0, &[0x30]);
        for r in 1..PAM_REGISTERS as u8 {
            config.set_writable(I440FX_PAM0 + r, &[0x33]);
        }
        config.set_default(I440FX_SMRAM, SMRAM_DEFAULT);
        I440fx { config, pam_changed: true }
    }

    /// The PAM registers as the guest programmed them.
    pub fn pam_registers(&self) -> [u8; PAM_REGISTERS] {
        std::array::from_fn(|i| self.config.byte(I440FX_PAM0 + i as u8))
    }

    /// Each segment's `(read_ram, write_ram)`, indexed as `ferrite_mem::pam_segment_range`.
    pub fn pam_modes(&self) -> [(bool, bool); PAM_SEGMENT_COUNT] {
        let regs = self.pam_registers();
        let nibble = |n: u8| (n & PAM_READ != 0, n & PAM_WRITE != 0);
        std::array::from_fn(|seg| {
            if seg == 0 {
                nibble(regs[0] >> 4)
            } else {
                let reg = regs[1 + (seg - 1) / 2];
                nibble(if (seg - 1) % 2 == 0 { reg & 0x0F } else { reg >> 4 })
            }
        })
    }

    /// Clears and returns whether the PAM registers changed (or were reset) since the
    /// last call.
    pub fn take_pam_change(&mut self) -> bool {
        std::mem::take(&mut self.pam_changed)
    }
}

impl PciFunction for I440fx {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }

    fn config_write(&mut self, offset: u8, size: u8, value: u32) {
        let before = self.pam_registers();
        self.config.write(offset, size, value);
        self.pam_changed |= self.pam_registers() != before;
    }

    fn needs_service(&self) -> bool {
        self.pam_changed
    }

    fn reset(&mut self) {
        self.config.reset();
        self.pam_changed = true;
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
    fn test_i440fx_identity_and_pam_masks() {
        let mut h = I440fx::new();
        assert_eq!(h.config_read(0, 4), 0x1237_8086);
        assert_eq!(h.config_read(0x08, 4), 0x0600_0002);
        h.config_write(I440FX_PAM0, 1, 0xFF);
        assert_eq!(h.config_read(I440FX_PAM0, 1), 0x30, "PAM0 low nibble is reserved");
        h.config_write(I440FX_PAM0 + 1, 4, 0xFFFF_FFFF);
        assert_eq!(h.config_read(I440FX_PAM0 + 1, 4), 0x3333_3333);
        assert_eq!(h.config_read(I440FX_SMRAM, 1), 0x02);
    }

    #[test]
    fn test_i440fx_pam_modes_and_change_flag() {
        let mut h = I440fx::new();
        assert!(h.take_pam_change(), "power-on asks for the map to be applied");
        assert_eq!(h.pam_modes(), [(false, false); PAM_SEGMENT_COUNT]);
        h.config_write(0x50, 1, 0x12);
        assert!(!h.needs_service(), "other registers do not touch memory");
        h.config_write(I440FX_PAM0, 1, 0x30); // F0000: RAM read/write
        h.config_write(I440FX_PAM0 + 1, 1, 0x21); // C0000 read-only RAM, C4000 write-only
        assert!(h.needs_service());
        let m = h.pam_modes();
        assert_eq!(m[0], (true, true));
        assert_eq!(m[1], (true, false));
        assert_eq!(m[2], (false, true));
        assert_eq!(m[12], (false, false));
        h.config_write(I440FX_PAM0 + 6, 1, 0x10); // EC000 read
        assert_eq!(h.pam_modes()[12], (true, false));
        assert!(h.take_pam_change());
        PciFunction::reset(&mut h);
        assert_eq!(h.pam_modes(), [(false, false); PAM_SEGMENT_COUNT]);
        assert!(h.take_pam_change());
    }
}
