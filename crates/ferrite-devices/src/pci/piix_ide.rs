//! The PIIX3 IDE controller at 00:01.1 (8086:7010): two ATA channels at the legacy
//! addresses (primary 0x1F0-0x1F7 + 0x3F6 on IRQ 14, secondary 0x170-0x177 + 0x376 on
//! IRQ 15, decoded always, as on QEMU's `pc`) and the bus-master DMA engine behind BAR4
//! (16 I/O ports: per channel at +0/+8 the command, status and PRD table address).
//!
//! A DMA command leaves its channel waiting ([`crate::ata::AtaChannel::dma_job`]). Once
//! the guest sets the bus master's start bit the controller asks for service
//! ([`PciFunction::needs_service`]) and the machine calls [`PiixIde::run_dma`] with its
//! memory: the engine walks the physical region descriptor table (8 bytes per entry: a
//! 32-bit address, a 16-bit byte count where 0 means 64 KiB, bit 15 of the last word ends
//! the table), moves the data, completes the drive's command and sets the interrupt bit
//! (plus the error bit when memory could not be reached).

use super::config::{BarKind, ConfigSpace, CMD_BUS_MASTER};
use super::i440fx::VENDOR_INTEL;
use super::PciFunction;
use crate::ata::{AtaChannel, DmaJob, ERR_ABRT, ERR_UNC};
use crate::ata_identify::Drive;
use crate::block::{CD_SECTOR_SIZE, SECTOR_SIZE};
use crate::fw_cfg::DmaMemory;
use crate::IrqLine;
use std::any::Any;

/// The PIIX3 IDE device ID.
pub const DEVICE_PIIX3_IDE: u16 = 0x7010;
/// Class: mass storage, IDE, bus-master capable with both channels in legacy mode.
const CLASS_IDE: [u8; 3] = [0x01, 0x01, 0x80];
/// The bus-master BAR.
pub const BM_BAR: usize = 4;
/// Bus-master registers per channel.
const BM_CHANNEL_STRIDE: u16 = 8;
/// Command block base of each channel.
pub const CMD_BASE: [u16; 2] = [0x1F0, 0x170];
/// Control block (alternate status / device control) of each channel.
pub const CTL_PORT: [u16; 2] = [0x3F6, 0x376];
/// ISA IRQ of each channel.
pub const IDE_IRQ: [u8; 2] = [14, 15];
/// IDETIM registers (primary 0x40, secondary 0x42) and SIDETIM 0x44: storage.
const IDETIM: u8 = 0x40;
/// Bus-master command: start.
pub const BM_CMD_START: u8 = 0x01;
/// Bus-master command: direction, 1 = the device writes memory (a read command).
pub const BM_CMD_WRITE_MEM: u8 = 0x08;
/// Bus-master status: active.
pub const BM_ST_ACTIVE: u8 = 0x01;
/// Bus-master status: error (write 1 to clear).
pub const BM_ST_ERROR: u8 = 0x02;
/// Bus-master status: interrupt (write 1 to clear).
pub const BM_ST_INTERRUPT: u8 = 0x04;
/// Bus-master status: drive 0/1 DMA capable (software-set).
const BM_ST_CAPABLE: u8 = 0x60;
/// PRD entry flag: end of table.
const PRD_EOT: u16 = 0x8000;
/// The most PRD entries walked in one transfer (a 64 KiB-aligned table holds 8192).
const PRD_MAX_ENTRIES: u32 = 8192;

/// One channel's bus-master registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusMaster {
    /// Command register.
    pub command: u8,
    /// Status register.
    pub status: u8,
    /// PRD table address.
    pub prd: u32,
}

/// Why a transfer through the PRD table stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmaFault {
    /// The table ended before the data did.
    TableEnd,
    /// A table entry or buffer is not in guest memory.
    Memory,
}

/// Walks a PRD table in guest memory.
struct PrdCursor<'a> {
    mem: &'a mut dyn DmaMemory,
    next_entry: u32,
    entries: u32,
    addr: u32,
    left: u32,
    last: bool,
}

impl PrdCursor<'_> {
    /// Makes sure the current region has bytes left, loading the next entry if needed.
    fn region(&mut self) -> Result<(), DmaFault> {
        while self.left == 0 {
            if self.last || self.entries >= PRD_MAX_ENTRIES {
                return Err(DmaFault::TableEnd);
            }
            let mut e = [0u8; 8];
            if !self.mem.dma_read(self.next_entry as u64, &mut e) {
                return Err(DmaFault::Memory);
            }
            self.next_entry = self.next_entry.wrapping_add(8);
            self.entries += 1;
            self.addr = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) & !1;
            let count = u16::from_le_bytes([e[4], e[5]]) & !1;
            self.left = if count == 0 { 0x1_0000 } else { count as u32 };
            self.last = u16::from_le_bytes([e[6], e[7]]) & PRD_EOT != 0;
        }
        Ok(())
    }

    fn to_guest(&mut self, mut data: &[u8]) -> Result<(), DmaFault> {
        while !data.is_empty() {
            self.region()?;
            let n = (self.left as usize).min(data.len());
            if !self.mem.dma_write(self.addr as u64, &data[..n]) {
                return Err(DmaFault::Memory);
            }
            (self.addr, self.left, data) = (self.addr.wrapping_add(n as u32), self.left - n as u32, &data[n..]);
        }
        Ok(())
    }

    fn from_guest(&mut self, mut buf: &mut [u8]) -> Result<(), DmaFault> {
        while !buf.is_empty() {
            self.region()?;
            let n = (self.left as usize).min(buf.len());
            let (now, rest) = buf.split_at_mut(n);
            if !self.mem.dma_read(self.addr as u64, now) {
                return Err(DmaFault::Memory);
            }
            (self.addr, self.left, buf) = (self.addr.wrapping_add(n as u32), self.left - n as u32, rest);
        }
        Ok(())
    }

    /// Whether the table still has room after the transfer.
    fn has_more(&self) -> bool {
        self.left > 0 || !self.last
    }
}

/// The IDE controller.
#[derive(Debug)]
pub struct PiixIde<I: IrqLine> {
    config: ConfigSpace,
    /// The two channels.
    pub channels: [AtaChannel<I>; 2],
    /// The bus-master registers of each channel.
    pub bm: [BusMaster; 2],
}

impl<I: IrqLine + 'static> PiixIde<I> {
    /// A controller with `drives` (primary master, primary slave, secondary master,
    /// secondary slave), raising `irqs` (IRQ 14 and 15 on a PC).
    pub fn new(drives: [Option<Drive>; 4], irqs: [I; 2]) -> Self {
        let mut config = ConfigSpace::new(VENDOR_INTEL, DEVICE_PIIX3_IDE, 0, CLASS_IDE);
        config.set_bar(BM_BAR, BarKind::Io(16));
        config.set_writable(IDETIM, &[0xFF; 5]);
        config.set_default_u16(super::config::PCI_STATUS, 0x0280); // fast back-to-back, medium DEVSEL
        let [d0, d1, d2, d3] = drives;
        let [i0, i1] = irqs;
        PiixIde {
            config,
            channels: [AtaChannel::new(d0, d1, i0), AtaChannel::new(d2, d3, i1)],
            bm: [BusMaster::default(); 2],
        }
    }

    /// Whether a channel waits for a DMA transfer the bus master has been started for.
    pub fn dma_ready(&self) -> bool {
        (0..2).any(|c| self.dma_ready_on(c))
    }

    fn dma_ready_on(&self, c: usize) -> bool {
        self.bm[c].command & BM_CMD_START != 0
            && self.channels[c].dma_job().is_some()
            && self.config.command() & CMD_BUS_MASTER != 0
    }

    /// Carries out every started DMA transfer against `mem`.
    pub fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        for c in 0..2 {
            if self.dma_ready_on(c) {
                self.run_channel_dma(c, mem);
            }
        }
    }

    fn run_channel_dma(&mut self, c: usize, mem: &mut dyn DmaMemory) {
        let ch = &mut self.channels[c];
        let Some(job) = ch.dma.take() else { return };
        let to_memory = self.bm[c].command & BM_CMD_WRITE_MEM != 0;
        let mut prd = PrdCursor { mem, next_entry: self.bm[c].prd, entries: 0, addr: 0, left: 0, last: false };
        let result = match job {
            DmaJob::AtaRead { lba, count } if to_memory => sectors_to_guest(ch, &mut prd, lba, count, SECTOR_SIZE),
            DmaJob::AtapiRead { lba, count } if to_memory => sectors_to_guest(ch, &mut prd, lba, count, CD_SECTOR_SIZE),
            DmaJob::AtapiData(data) if to_memory => prd.to_guest(&data).map_err(Some),
            DmaJob::AtaWrite { lba, count } if !to_memory => sectors_from_guest(ch, &mut prd, lba, count),
            // The direction bit disagrees with the command.
            _ => Err(Some(DmaFault::TableEnd)),
        };
        let atapi = ch.cur().is_some_and(|d| d.is_atapi());
        let bm = &mut self.bm[c];
        bm.status &= !BM_ST_ACTIVE;
        match result {
            Ok(()) => {
                if prd.has_more() {
                    bm.status |= BM_ST_ACTIVE;
                }
                if atapi {
                    crate::atapi::complete(ch);
                } else {
                    ch.finish_ok();
                }
            }
            Err(fault) => {
                if fault == Some(DmaFault::Memory) {
                    bm.status |= BM_ST_ERROR;
                }
                let error = if fault.is_none() { ERR_UNC } else { ERR_ABRT };
                if atapi {
                    let sense = crate::ata_identify::Sense { key: 0x0B, asc: 0, ascq: 0 }; // aborted command
                    crate::atapi::check_condition(ch, sense);
                } else {
                    ch.finish_error(error);
                }
            }
        }
        bm.status |= BM_ST_INTERRUPT;
    }

    fn bm_read(&mut self, port: u16, size: u8) -> u32 {
        let Some((base, _)) = self.config.io_bar(BM_BAR) else { return 0xFFFF_FFFF };
        let off = port.wrapping_sub(base);
        let (c, reg) = ((off / BM_CHANNEL_STRIDE) as usize & 1, off % BM_CHANNEL_STRIDE);
        let bm = &self.bm[c];
        let bytes = [bm.command, 0, bm.status, 0];
        let prd = bm.prd.to_le_bytes();
        (0..size as u16).fold(0u32, |v, i| {
            let r = reg + i;
            let b = match r {
                0..=3 => bytes[r as usize],
                4..=7 => prd[r as usize - 4],
                _ => 0xFF,
            };
            v | (b as u32) << (8 * i)
        })
    }

    fn bm_write(&mut self, port: u16, size: u8, value: u32) {
        let Some((base, _)) = self.config.io_bar(BM_BAR) else { return };
        let off = port.wrapping_sub(base);
        let (c, reg) = ((off / BM_CHANNEL_STRIDE) as usize & 1, off % BM_CHANNEL_STRIDE);
        for i in 0..size as u16 {
            let b = (value >> (8 * i)) as u8;
            let bm = &mut self.bm[c];
            match reg + i {
                0 => {
                    let start = b & BM_CMD_START != 0 && bm.command & BM_CMD_START == 0;
                    bm.command = b & (BM_CMD_START | BM_CMD_WRITE_MEM);
                    if start {
                        bm.status |= BM_ST_ACTIVE;
                    } else if b & BM_CMD_START == 0 {
                        bm.status &= !BM_ST_ACTIVE;
                    }
                }
                2 => {
                    bm.status = (bm.status & !BM_ST_CAPABLE) | (b & BM_ST_CAPABLE);
                    bm.status &= !(b & (BM_ST_ERROR | BM_ST_INTERRUPT));
                }
                r @ 4..=7 => {
                    let shift = 8 * (r - 4) as u32;
                    bm.prd = (bm.prd & !(0xFF << shift)) | (b as u32) << shift;
                    bm.prd &= !3;
                }
                _ => {}
            }
        }
    }

    /// Which channel and register a legacy port is, if any.
    fn legacy(port: u16) -> Option<(usize, Option<u8>)> {
        (0..2).find_map(|c| {
            if (CMD_BASE[c]..CMD_BASE[c] + 8).contains(&port) {
                Some((c, Some((port - CMD_BASE[c]) as u8)))
            } else {
                (port == CTL_PORT[c]).then_some((c, None))
            }
        })
    }

    fn in_bm_bar(&self, port: u16) -> bool {
        self.config.io_bar(BM_BAR).is_some_and(|(base, size)| port >= base && ((port - base) as u32) < size)
    }
}

impl<I: IrqLine + 'static> PciFunction for PiixIde<I> {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }

    fn io_read(&mut self, port: u16, size: u8) -> Option<u32> {
        if let Some((c, reg)) = Self::legacy(port) {
            return Some(match reg {
                Some(r) => self.channels[c].read(r, size),
                None => self.channels[c].alt_status() as u32,
            });
        }
        self.in_bm_bar(port).then(|| self.bm_read(port, size))
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) -> bool {
        if let Some((c, reg)) = Self::legacy(port) {
            match reg {
                Some(r) => self.channels[c].write(r, size, value),
                None => self.channels[c].write_control(value as u8),
            }
            return true;
        }
        let hit = self.in_bm_bar(port);
        if hit {
            self.bm_write(port, size, value);
        }
        hit
    }

    fn needs_service(&self) -> bool {
        self.dma_ready()
    }

    fn reset(&mut self) {
        self.config.reset();
        self.bm = [BusMaster::default(); 2];
        for ch in &mut self.channels {
            ch.reset();
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Reads `count` sectors of `size` bytes from the selected drive into the PRD regions.
/// `Err(None)` is a host read error.
fn sectors_to_guest<I: IrqLine>(
    ch: &mut AtaChannel<I>,
    prd: &mut PrdCursor<'_>,
    lba: u64,
    count: u32,
    size: u64,
) -> Result<(), Option<DmaFault>> {
    let mut buf = vec![0u8; size as usize];
    for i in 0..count as u64 {
        let d = ch.cur().ok_or(None)?;
        d.image.read_at((lba + i) * size, &mut buf).map_err(|_| None)?;
        prd.to_guest(&buf).map_err(Some)?;
    }
    Ok(())
}

/// Writes `count` disk sectors from the PRD regions.
fn sectors_from_guest<I: IrqLine>(
    ch: &mut AtaChannel<I>,
    prd: &mut PrdCursor<'_>,
    lba: u64,
    count: u32,
) -> Result<(), Option<DmaFault>> {
    let mut buf = vec![0u8; SECTOR_SIZE as usize];
    for i in 0..count as u64 {
        prd.from_guest(&mut buf).map_err(Some)?;
        let d = ch.cur().ok_or(None)?;
        d.image.write_at((lba + i) * SECTOR_SIZE, &buf).map_err(|_| None)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "piix_ide_tests.rs"]
mod tests;
