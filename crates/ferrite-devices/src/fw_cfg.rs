//! QEMU's firmware configuration device (fw_cfg), the channel through which SeaBIOS and
//! other firmware learn how the machine is configured: RAM size, CPU count, the e820
//! memory map, the boot order. Written from QEMU's published specification
//! (`docs/specs/fw_cfg.rst`).
//!
//! On a PC it sits on I/O ports:
//!
//! | port | width | register |
//! |---|---|---|
//! | 0x510 | 16 (LE) | selector: writing a key selects an item and rewinds its data offset |
//! | 0x511 | 8 | data: each read returns the next byte of the item (0 past its end) |
//! | 0x514 | 32+32 (BE) | DMA address, high half at 0x514 and low half at 0x518; writing the low half starts the transfer; reads give the signature "QEMU CFG" |
//!
//! Items: [`FW_CFG_SIGNATURE`] ("QEMU"), [`FW_CFG_ID`] (bit 0: the traditional
//! interface, bit 1: DMA), [`FW_CFG_RAM_SIZE`] (u64 LE), [`FW_CFG_NB_CPUS`] and
//! [`FW_CFG_MAX_CPUS`] (u16 LE) and named files listed in the file directory
//! ([`FW_CFG_FILE_DIR`]: a big-endian u32 count, then per file a big-endian u32 size, u16
//! key, u16 reserved and a 56-byte NUL-padded name). ferrite's machine adds `etc/e820`
//! (see [`e820_bytes`]) and `bootorder`. ACPI tables (`etc/acpi/*`, `etc/table-loader`)
//! and SMBIOS are not provided yet, so firmware builds its own or goes without.
//!
//! The data register ignores writes, as QEMU's has since 2.4. A DMA transfer needs guest
//! memory, which the device does not own: a write of the low address half only latches the
//! request ([`FwCfg::dma_pending`]) and the machine then calls [`FwCfg::run_dma`] with its
//! memory before the guest runs on. Firmware polls the control word until it clears, so
//! that is invisible to it.

use crate::PortDevice;
use std::ops::RangeInclusive;

/// The selector port.
pub const FW_CFG_PORT_SEL: u16 = 0x510;
/// The data port.
pub const FW_CFG_PORT_DATA: u16 = 0x511;
/// The DMA address port (high half; the low half is at +4).
pub const FW_CFG_PORT_DMA: u16 = 0x514;
const DMA_LOW_OFFSET: u16 = 4;
const DMA_PORTS: u16 = 8;

/// Key: the signature "QEMU".
pub const FW_CFG_SIGNATURE: u16 = 0x00;
/// Key: the interface ID (feature bits).
pub const FW_CFG_ID: u16 = 0x01;
/// Key: RAM size in bytes.
pub const FW_CFG_RAM_SIZE: u16 = 0x03;
/// Key: number of CPUs at boot.
pub const FW_CFG_NB_CPUS: u16 = 0x05;
/// Key: maximum number of CPUs.
pub const FW_CFG_MAX_CPUS: u16 = 0x0F;
/// Key: the file directory.
pub const FW_CFG_FILE_DIR: u16 = 0x19;
/// The first key given to named files.
pub const FW_CFG_FILE_FIRST: u16 = 0x20;
/// Selector bits that are not part of the key (write channel, architecture-local).
pub const FW_CFG_WRITE_CHANNEL: u16 = 0x4000;
/// Selector bit: architecture-specific item.
pub const FW_CFG_ARCH_LOCAL: u16 = 0x8000;
/// The longest file name, including its terminating NUL.
pub const FW_CFG_MAX_FILE_PATH: usize = 56;

/// ID bit: the traditional selector/data interface.
pub const FW_CFG_VERSION: u32 = 0x01;
/// ID bit: the DMA interface.
pub const FW_CFG_VERSION_DMA: u32 = 0x02;
/// What reads of the DMA address port return (big-endian "QEMU CFG").
pub const FW_CFG_DMA_SIGNATURE: u64 = 0x5145_4D55_2043_4647;

/// DMA control: the transfer failed.
pub const DMA_CTL_ERROR: u32 = 0x01;
/// DMA control: read the item into guest memory.
pub const DMA_CTL_READ: u32 = 0x02;
/// DMA control: advance the data offset without transferring.
pub const DMA_CTL_SKIP: u32 = 0x04;
/// DMA control: select the key in the upper 16 bits first.
pub const DMA_CTL_SELECT: u32 = 0x08;
/// DMA control: write guest memory into the item (not supported: items are read-only).
pub const DMA_CTL_WRITE: u32 = 0x10;
/// Size of the DMA access structure: control, length (u32 BE each), address (u64 BE).
pub const DMA_ACCESS_SIZE: usize = 16;

/// The e820 type of usable RAM.
pub const E820_RAM: u32 = 1;
/// The e820 type of reserved memory.
pub const E820_RESERVED: u32 = 2;

/// One `etc/e820` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub address: u64,
    /// Length in bytes.
    pub length: u64,
    /// [`E820_RAM`], [`E820_RESERVED`], …
    pub kind: u32,
}

/// The `etc/e820` file: per entry a u64 address, u64 length and u32 type, little-endian.
pub fn e820_bytes(entries: &[E820Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 20);
    for e in entries {
        out.extend_from_slice(&e.address.to_le_bytes());
        out.extend_from_slice(&e.length.to_le_bytes());
        out.extend_from_slice(&e.kind.to_le_bytes());
    }
    out
}

/// Guest physical memory as the DMA interface sees it.
pub trait DmaMemory {
    /// Reads `buf.len()` bytes at `addr`; false if the range is not memory.
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> bool;
    /// Writes `data` at `addr`; false if the range is not RAM.
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> bool;
}

/// Why an item could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FwCfgError {
    /// A file name longer than 55 bytes.
    NameTooLong(String),
    /// Two files with one name.
    DuplicateName(String),
    /// No keys left for files.
    TooManyFiles,
}

impl std::fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FwCfgError::NameTooLong(n) => write!(f, "fw_cfg file name {n:?} is longer than 55 bytes"),
            FwCfgError::DuplicateName(n) => write!(f, "fw_cfg file {n:?} added twice"),
            FwCfgError::TooManyFiles => f.write_str("fw_cfg has no keys left for files"),
        }
    }
}

impl std::error::Error for FwCfgError {}

/// The fw_cfg device.
#[derive(Debug, Clone)]
pub struct FwCfg {
    /// Items by key (numbered items and files).
    items: Vec<(u16, Vec<u8>)>,
    /// Files in directory order: name and key.
    files: Vec<(String, u16)>,
    selector: u16,
    offset: usize,
    dma_high: u32,
    dma_pending: Option<u64>,
}

impl Default for FwCfg {
    fn default() -> Self {
        Self::new()
    }
}

impl FwCfg {
    /// A device with the signature, the ID and an empty file directory.
    pub fn new() -> Self {
        let mut dev =
            FwCfg { items: Vec::new(), files: Vec::new(), selector: 0, offset: 0, dma_high: 0, dma_pending: None };
        dev.set_item(FW_CFG_SIGNATURE, b"QEMU".to_vec());
        dev.set_item(FW_CFG_ID, (FW_CFG_VERSION | FW_CFG_VERSION_DMA).to_le_bytes().to_vec());
        dev.rebuild_dir();
        dev
    }

    /// Sets a numbered item (replacing any earlier value).
    pub fn set_item(&mut self, key: u16, data: Vec<u8>) {
        match self.items.iter_mut().find(|(k, _)| *k == key) {
            Some(item) => item.1 = data,
            None => self.items.push((key, data)),
        }
    }

    /// Adds the numbered items a PC firmware reads: RAM size, boot and maximum CPU count.
    pub fn set_machine(&mut self, ram_bytes: u64, cpus: u16) {
        self.set_item(FW_CFG_RAM_SIZE, ram_bytes.to_le_bytes().to_vec());
        self.set_item(FW_CFG_NB_CPUS, cpus.to_le_bytes().to_vec());
        self.set_item(FW_CFG_MAX_CPUS, cpus.to_le_bytes().to_vec());
    }

    /// Adds a named file and returns its key.
    pub fn add_file(&mut self, name: &str, data: Vec<u8>) -> Result<u16, FwCfgError> {
        if name.len() >= FW_CFG_MAX_FILE_PATH {
            return Err(FwCfgError::NameTooLong(name.to_string()));
        }
        if self.files.iter().any(|(n, _)| n == name) {
            return Err(FwCfgError::DuplicateName(name.to_string()));
        }
        let key = FW_CFG_FILE_FIRST
            .checked_add(self.files.len() as u16)
            .filter(|k| k & (FW_CFG_WRITE_CHANNEL | FW_CFG_ARCH_LOCAL) == 0)
            .ok_or(FwCfgError::TooManyFiles)?;
        self.set_item(key, data);
        self.files.push((name.to_string(), key));
        self.rebuild_dir();
        Ok(key)
    }

    fn rebuild_dir(&mut self) {
        let mut dir = (self.files.len() as u32).to_be_bytes().to_vec();
        for (name, key) in &self.files {
            let size = self.item(*key).map_or(0, |d| d.len()) as u32;
            dir.extend_from_slice(&size.to_be_bytes());
            dir.extend_from_slice(&key.to_be_bytes());
            dir.extend_from_slice(&0u16.to_be_bytes());
            let mut field = [0u8; FW_CFG_MAX_FILE_PATH];
            field[..name.len()].copy_from_slice(name.as_bytes());
            dir.extend_from_slice(&field);
        }
        self.set_item(FW_CFG_FILE_DIR, dir);
    }

    /// The data of the item with `key`, if there is one.
    pub fn item(&self, key: u16) -> Option<&[u8]> {
        self.items.iter().find(|(k, _)| *k == key).map(|(_, d)| d.as_slice())
    }

    fn selected(&self) -> &[u8] {
        self.item(self.selector & !FW_CFG_WRITE_CHANNEL).unwrap_or(&[])
    }

    fn select(&mut self, key: u16) {
        self.selector = key;
        self.offset = 0;
    }

    /// The next byte of the selected item, 0 past its end.
    pub fn read_data_byte(&mut self) -> u8 {
        let byte = self.selected().get(self.offset).copied().unwrap_or(0);
        self.offset = self.offset.saturating_add(1);
        byte
    }

    /// The guest physical address of a DMA access structure waiting to be processed.
    pub fn dma_pending(&self) -> Option<u64> {
        self.dma_pending
    }

    /// Carries out the pending DMA request against `mem`: reads the access structure,
    /// selects/reads/skips as its control word says, then writes the control word back
    /// as 0 (done) or [`DMA_CTL_ERROR`].
    pub fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        let Some(addr) = self.dma_pending.take() else { return };
        let mut access = [0u8; DMA_ACCESS_SIZE];
        if !mem.dma_read(addr, &mut access) {
            return;
        }
        let control = u32::from_be_bytes([access[0], access[1], access[2], access[3]]);
        let length = u32::from_be_bytes([access[4], access[5], access[6], access[7]]) as usize;
        let mut target = [0u8; 8];
        target.copy_from_slice(&access[8..16]);
        let target = u64::from_be_bytes(target);
        if control & DMA_CTL_SELECT != 0 {
            self.select((control >> 16) as u16);
        }
        let ok = if control & DMA_CTL_READ != 0 {
            let data = self.selected();
            let start = self.offset.min(data.len());
            let end = self.offset.saturating_add(length).min(data.len());
            // Past the item's end the transfer fills with zeros.
            let mut chunk = data[start..end].to_vec();
            chunk.resize(length, 0);
            self.offset = self.offset.saturating_add(length);
            mem.dma_write(target, &chunk)
        } else if control & DMA_CTL_SKIP != 0 {
            self.offset = self.offset.saturating_add(length);
            true
        } else {
            // Writes into items are not supported; a bare select is fine.
            control & DMA_CTL_WRITE == 0
        };
        let status = if ok { 0u32 } else { DMA_CTL_ERROR };
        mem.dma_write(addr, &status.to_be_bytes());
    }

    fn dma_signature_byte(offset: u16) -> u8 {
        FW_CFG_DMA_SIGNATURE.to_be_bytes()[offset as usize % 8]
    }
}

impl PortDevice for FwCfg {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![FW_CFG_PORT_SEL..=FW_CFG_PORT_DATA, FW_CFG_PORT_DMA..=FW_CFG_PORT_DMA + (DMA_PORTS - 1)]
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        let mut value = 0u32;
        for i in 0..size.min(4) as u16 {
            let p = port.wrapping_add(i);
            let byte = match port {
                // A wide read of the data port takes that many consecutive item bytes.
                FW_CFG_PORT_DATA => self.read_data_byte(),
                _ => match p {
                    p if (FW_CFG_PORT_DMA..FW_CFG_PORT_DMA + DMA_PORTS).contains(&p) => {
                        Self::dma_signature_byte(p - FW_CFG_PORT_DMA)
                    }
                    // The selector is write-only.
                    _ => 0,
                },
            };
            value |= (byte as u32) << (8 * i);
        }
        value
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        match port {
            FW_CFG_PORT_SEL if size >= 2 => self.select(value as u16),
            FW_CFG_PORT_SEL => self.select((self.selector & 0xFF00) | value as u16 & 0xFF),
            FW_CFG_PORT_DMA if size == 4 => self.dma_high = (value).swap_bytes(),
            p if p == FW_CFG_PORT_DMA + DMA_LOW_OFFSET && size == 4 => {
                let low = value.swap_bytes();
                self.dma_pending = Some((self.dma_high as u64) << 32 | low as u64);
                self.dma_high = 0;
            }
            // Data-port writes are ignored; partial DMA address writes are not supported.
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "fw_cfg_tests.rs"]
mod tests;
