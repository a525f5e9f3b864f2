//! One ATA channel (primary or secondary): the shared task-file registers, up to two
//! drives (master and slave), PIO data transfers, the ATA command set of a hard disk, the
//! device-control register (SRST, nIEN) and the channel's interrupt line.
//!
//! Register offsets (command block, from 0x1F0/0x170): 0 data, 1 error/features, 2
//! sector count, 3 LBA low, 4 LBA mid, 5 LBA high, 6 device, 7 status/command; the
//! control block (0x3F6/0x376) reads the alternate status and writes device control.
//!
//! Commands complete at once: PIO data is ready (DRQ) when the command register write
//! returns; DMA commands wait for the bus master ([`AtaChannel::dma_job`]), which the
//! controller runs with the machine's memory. Packet commands of the CD-ROM live in
//! [`crate::atapi`]. Unknown commands, bad addresses and commands to the wrong kind of
//! drive end with ABRT or IDNF in the error register, as a drive does.

use crate::ata_identify::{Drive, MAX_MULTIPLE};
use crate::block::SECTOR_SIZE;
use crate::IrqLine;

/// Status: busy.
pub const ST_BSY: u8 = 0x80;
/// Status: drive ready.
pub const ST_DRDY: u8 = 0x40;
/// Status: drive fault.
pub const ST_DF: u8 = 0x20;
/// Status: seek complete / service.
pub const ST_DSC: u8 = 0x10;
/// Status: data request.
pub const ST_DRQ: u8 = 0x08;
/// Status: error.
pub const ST_ERR: u8 = 0x01;
/// Error: command aborted.
pub const ERR_ABRT: u8 = 0x04;
/// Error: address not found.
pub const ERR_IDNF: u8 = 0x10;
/// Error: uncorrectable data (a host I/O error).
pub const ERR_UNC: u8 = 0x40;
/// Device control: interrupts disabled.
pub const CTL_NIEN: u8 = 0x02;
/// Device control: software reset.
pub const CTL_SRST: u8 = 0x04;
/// Device control: read the high-order bytes of the LBA48 registers.
pub const CTL_HOB: u8 = 0x80;
/// Device register: LBA addressing.
pub const DEV_LBA: u8 = 0x40;
/// Device register: the slave is selected.
pub const DEV_SLAVE: u8 = 0x10;
/// Device register bits that always read as one (obsolete).
const DEV_OBSOLETE: u8 = 0xA0;
/// Signature of an ATAPI device in LBA mid/high after reset.
pub const ATAPI_SIGNATURE: (u8, u8) = (0x14, 0xEB);

/// Register offsets in the command block.
pub const REG_DATA: u8 = 0;
/// Error (read) / features (write).
pub const REG_ERROR: u8 = 1;
/// Sector count (ATAPI: interrupt reason).
pub const REG_NSECTOR: u8 = 2;
/// LBA low.
pub const REG_LBA_LOW: u8 = 3;
/// LBA mid (ATAPI: byte count low).
pub const REG_LBA_MID: u8 = 4;
/// LBA high (ATAPI: byte count high).
pub const REG_LBA_HIGH: u8 = 5;
/// Device/head.
pub const REG_DEVICE: u8 = 6;
/// Status (read) / command (write).
pub const REG_STATUS: u8 = 7;

/// ATA command opcodes.
pub use crate::ata_cmd as cmd;

/// The task-file registers, shared by both drives of a channel. Each write of an
/// address/count register pushes the previous value into its `hob` copy (LBA48).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFile {
    /// Features.
    pub feature: u8,
    /// Sector count.
    pub nsector: u8,
    /// LBA low.
    pub lba_low: u8,
    /// LBA mid.
    pub lba_mid: u8,
    /// LBA high.
    pub lba_high: u8,
    /// Previous features.
    pub hob_feature: u8,
    /// Previous sector count.
    pub hob_nsector: u8,
    /// Previous LBA low.
    pub hob_lba_low: u8,
    /// Previous LBA mid.
    pub hob_lba_mid: u8,
    /// Previous LBA high.
    pub hob_lba_high: u8,
    /// Device/head.
    pub device: u8,
}

/// A transfer the bus master must carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmaJob {
    /// Disk sectors to memory.
    AtaRead {
        /// First sector.
        lba: u64,
        /// Sectors.
        count: u32,
    },
    /// Memory to disk sectors.
    AtaWrite {
        /// First sector.
        lba: u64,
        /// Sectors.
        count: u32,
    },
    /// CD sectors (2048 bytes) to memory.
    AtapiRead {
        /// First sector.
        lba: u64,
        /// Sectors.
        count: u32,
    },
    /// A prepared packet-command response to memory.
    AtapiData(Vec<u8>),
}

/// What a PIO data phase is for, and what comes after the bytes in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Xfer {
    /// No data phase.
    Idle,
    /// Disk sectors to the host; `next` and `left` describe the sectors not yet buffered.
    PioIn { next: u64, left: u32, block: u32 },
    /// Host to disk sectors; the buffer is for sectors starting at `lba`, `left` counts
    /// them all (this block included).
    PioOut { lba: u64, left: u32, block: u32 },
    /// IDENTIFY or other fixed data to the host.
    DataIn,
    /// The 12-byte ATAPI command packet from the host; the response goes by DMA when
    /// `dma`, else in PIO chunks of at most `limit` bytes.
    Packet { dma: bool, limit: u16 },
    /// An ATAPI response to the host: `next`/`left` are CD sectors not yet buffered,
    /// `limit` the byte count per DRQ.
    AtapiIn { next: u64, left: u32, limit: u16 },
}

/// One ATA channel.
#[derive(Debug)]
pub struct AtaChannel<I: IrqLine> {
    pub(crate) drives: [Option<Drive>; 2],
    pub(crate) sel: usize,
    pub(crate) tf: TaskFile,
    control: u8,
    irq: I,
    intrq: bool,
    pub(crate) xfer: Xfer,
    pub(crate) buf: Vec<u8>,
    pub(crate) pos: usize,
    /// End of the current DRQ chunk in `buf`.
    pub(crate) chunk_end: usize,
    pub(crate) dma: Option<DmaJob>,
}

impl<I: IrqLine> AtaChannel<I> {
    /// A channel with these drives (master, slave) raising `irq`.
    pub fn new(master: Option<Drive>, slave: Option<Drive>, irq: I) -> Self {
        let mut ch = AtaChannel {
            drives: [master, slave],
            sel: 0,
            tf: TaskFile::default(),
            control: 0,
            irq,
            intrq: false,
            xfer: Xfer::Idle,
            buf: Vec::new(),
            pos: 0,
            chunk_end: 0,
            dma: None,
        };
        ch.reset();
        ch
    }

    /// Whether any drive is attached.
    pub fn has_drives(&self) -> bool {
        self.drives.iter().any(Option::is_some)
    }

    /// The drive at `index` (0 master, 1 slave).
    pub fn drive(&self, index: usize) -> Option<&Drive> {
        self.drives.get(index)?.as_ref()
    }

    /// The drive at `index`, mutable.
    pub fn drive_mut(&mut self, index: usize) -> Option<&mut Drive> {
        self.drives.get_mut(index)?.as_mut()
    }

    /// A hardware or software reset: signatures in the task file, transfers dropped.
    pub fn reset(&mut self) {
        self.xfer = Xfer::Idle;
        self.buf.clear();
        self.pos = 0;
        self.chunk_end = 0;
        self.dma = None;
        self.sel = 0;
        self.tf = TaskFile { nsector: 1, lba_low: 1, ..TaskFile::default() };
        for d in self.drives.iter_mut().flatten() {
            d.error = 1; // diagnostics passed
            d.status = if d.is_atapi() { 0 } else { ST_DRDY | ST_DSC };
            d.multiple = 0;
            d.current = d.geometry;
            d.sense = Default::default();
        }
        if self.drives[0].as_ref().is_some_and(Drive::is_atapi) {
            (self.tf.lba_mid, self.tf.lba_high) = ATAPI_SIGNATURE;
        }
        self.set_intrq(false);
    }

    /// The interrupt line's level now.
    fn update_irq(&self) {
        self.irq.set(self.intrq && self.control & CTL_NIEN == 0);
    }

    pub(crate) fn set_intrq(&mut self, level: bool) {
        self.intrq = level;
        self.update_irq();
    }

    /// The pending DMA job, if the selected drive waits for the bus master.
    pub fn dma_job(&self) -> Option<&DmaJob> {
        self.dma.as_ref()
    }

    /// Reads the status without side effects (alternate status).
    pub fn alt_status(&self) -> u8 {
        match self.drives[self.sel].as_ref() {
            Some(d) => d.status,
            None => 0,
        }
    }

    /// Writes the device-control register: nIEN, and SRST (reset on its falling edge;
    /// busy while it is set).
    pub fn write_control(&mut self, value: u8) {
        let was_reset = self.control & CTL_SRST != 0;
        self.control = value;
        if value & CTL_SRST != 0 {
            for d in self.drives.iter_mut().flatten() {
                d.status = ST_BSY;
            }
        } else if was_reset {
            self.reset();
        }
        self.update_irq();
    }

    /// A read of command-block register `reg` (0..=7) of `size` bytes (the data register
    /// takes 2 or 4; others 1).
    pub fn read(&mut self, reg: u8, size: u8) -> u32 {
        if !self.has_drives() {
            return 0;
        }
        let hob = self.control & CTL_HOB != 0;
        let tf = self.tf;
        match reg {
            REG_DATA => self.read_data(size),
            REG_ERROR => self.drives[self.sel].as_ref().map_or(0, |d| d.error) as u32,
            REG_NSECTOR => (if hob { tf.hob_nsector } else { tf.nsector }) as u32,
            REG_LBA_LOW => (if hob { tf.hob_lba_low } else { tf.lba_low }) as u32,
            REG_LBA_MID => (if hob { tf.hob_lba_mid } else { tf.lba_mid }) as u32,
            REG_LBA_HIGH => (if hob { tf.hob_lba_high } else { tf.lba_high }) as u32,
            REG_DEVICE => (tf.device | DEV_OBSOLETE) as u32,
            _ => {
                let s = self.alt_status();
                if self.drives[self.sel].is_some() {
                    self.set_intrq(false);
                }
                s as u32
            }
        }
    }

    /// A write of command-block register `reg`.
    pub fn write(&mut self, reg: u8, size: u8, value: u32) {
        let v = value as u8;
        let tf = &mut self.tf;
        match reg {
            REG_DATA => return self.write_data(size, value),
            REG_ERROR => (tf.hob_feature, tf.feature) = (tf.feature, v),
            REG_NSECTOR => (tf.hob_nsector, tf.nsector) = (tf.nsector, v),
            REG_LBA_LOW => (tf.hob_lba_low, tf.lba_low) = (tf.lba_low, v),
            REG_LBA_MID => (tf.hob_lba_mid, tf.lba_mid) = (tf.lba_mid, v),
            REG_LBA_HIGH => (tf.hob_lba_high, tf.lba_high) = (tf.lba_high, v),
            REG_DEVICE => {
                tf.device = v & !DEV_OBSOLETE;
                self.sel = usize::from(v & DEV_SLAVE != 0);
            }
            _ => self.command(v),
        }
        self.control &= !CTL_HOB;
    }

    fn read_data(&mut self, size: u8) -> u32 {
        let in_phase = matches!(self.xfer, Xfer::PioIn { .. } | Xfer::DataIn | Xfer::AtapiIn { .. });
        if !in_phase || self.pos >= self.chunk_end {
            return 0;
        }
        let n = if size == 4 { 4 } else { 2 };
        let mut v = 0u32;
        for i in 0..n {
            if self.pos < self.chunk_end {
                v |= (self.buf[self.pos] as u32) << (8 * i);
                self.pos += 1;
            }
        }
        if self.pos >= self.chunk_end {
            self.chunk_done();
        }
        v
    }

    fn write_data(&mut self, size: u8, value: u32) {
        if !matches!(self.xfer, Xfer::PioOut { .. } | Xfer::Packet { .. }) || self.pos >= self.chunk_end {
            return;
        }
        let n = if size == 4 { 4 } else { 2 };
        for i in 0..n {
            if self.pos < self.chunk_end {
                self.buf[self.pos] = (value >> (8 * i)) as u8;
                self.pos += 1;
            }
        }
        if self.pos >= self.chunk_end {
            self.chunk_done();
        }
    }

    /// The data phase moved the whole of the current chunk.
    fn chunk_done(&mut self) {
        match self.xfer {
            Xfer::PioIn { next, left, block } => {
                if left == 0 {
                    self.finish_ok();
                } else {
                    self.start_pio_in(next, left, block);
                }
            }
            Xfer::PioOut { lba, left, block } => self.pio_out_block(lba, left, block),
            Xfer::DataIn => self.finish_ok(),
            Xfer::Packet { dma, limit } => crate::atapi::packet_received(self, dma, limit),
            Xfer::AtapiIn { .. } => crate::atapi::chunk_done(self),
            Xfer::Idle => {}
        }
    }

    /// The selected drive, if present.
    pub(crate) fn cur(&mut self) -> Option<&mut Drive> {
        self.drives[self.sel].as_mut()
    }

    /// Ends the command successfully: ready, no DRQ, interrupt.
    pub(crate) fn finish_ok(&mut self) {
        self.xfer = Xfer::Idle;
        self.pos = 0;
        self.chunk_end = 0;
        if let Some(d) = self.cur() {
            d.status = ST_DRDY | ST_DSC;
        }
        self.set_intrq(true);
    }

    /// Ends the command with `error` in the error register and an interrupt.
    pub(crate) fn finish_error(&mut self, error: u8) {
        self.xfer = Xfer::Idle;
        self.pos = 0;
        self.chunk_end = 0;
        self.dma = None;
        if let Some(d) = self.cur() {
            d.error = error;
            d.status = ST_DRDY | ST_DSC | ST_ERR;
        }
        self.set_intrq(true);
    }

    /// Starts a data-in phase of `data` (IDENTIFY and the like).
    pub(crate) fn start_data_in(&mut self, data: Vec<u8>) {
        self.buf = data;
        self.pos = 0;
        self.chunk_end = self.buf.len();
        self.xfer = Xfer::DataIn;
        if let Some(d) = self.cur() {
            d.status = ST_DRDY | ST_DSC | ST_DRQ;
        }
        self.set_intrq(true);
    }

    fn command(&mut self, op: u8) {
        let Some(d) = self.drives[self.sel].as_mut() else { return };
        if d.status & ST_BSY != 0 {
            return;
        }
        self.set_intrq(false);
        if let Some(d) = self.cur() {
            d.error = 0;
        }
        self.dma = None;
        if self.drives[self.sel].as_ref().is_some_and(Drive::is_atapi) {
            return crate::atapi::command(self, op);
        }
        self.disk_command(op);
    }

    fn disk_command(&mut self, op: u8) {
        use cmd::*;
        match op {
            IDENTIFY => {
                let data = self.cur().map(|d| d.identify_device()).unwrap_or_default();
                self.start_data_in(data);
            }
            READ_SECTORS | READ_SECTORS_NORETRY | READ_SECTORS_EXT => self.pio_read(op == READ_SECTORS_EXT, false),
            READ_MULTIPLE | READ_MULTIPLE_EXT => self.pio_read(op == READ_MULTIPLE_EXT, true),
            WRITE_SECTORS | WRITE_SECTORS_NORETRY | WRITE_SECTORS_EXT => self.pio_write(op == WRITE_SECTORS_EXT, false),
            WRITE_MULTIPLE | WRITE_MULTIPLE_EXT => self.pio_write(op == WRITE_MULTIPLE_EXT, true),
            READ_DMA | READ_DMA_NORETRY | READ_DMA_EXT => self.dma_command(op == READ_DMA_EXT, false),
            WRITE_DMA | WRITE_DMA_NORETRY | WRITE_DMA_EXT => self.dma_command(op == WRITE_DMA_EXT, true),
            READ_VERIFY | READ_VERIFY_NORETRY | READ_VERIFY_EXT => match self.address(op == READ_VERIFY_EXT) {
                Some(_) => self.finish_ok(),
                None => self.finish_error(ERR_IDNF),
            },
            SET_MULTIPLE => {
                let n = self.tf.nsector as u16;
                match self.cur() {
                    Some(d) if n <= MAX_MULTIPLE && n.is_power_of_two() || n == 0 => {
                        d.multiple = n;
                        self.finish_ok();
                    }
                    _ => self.finish_error(ERR_ABRT),
                }
            }
            INITIALIZE_PARAMS => {
                let (heads, spt) = ((self.tf.device & 0x0F) as u32 + 1, self.tf.nsector as u32);
                if let Some(d) = self.cur() {
                    if spt != 0 {
                        let cyl = (d.sectors / (heads * spt) as u64).clamp(1, 65535) as u32;
                        d.current = crate::ata_identify::Chs { cylinders: cyl, heads, sectors: spt };
                    }
                }
                self.finish_ok();
            }
            SET_FEATURES => self.set_features(),
            FLUSH_CACHE | FLUSH_CACHE_EXT => match self.cur().map(|d| d.image.flush()) {
                Some(Err(_)) => self.finish_error(ERR_ABRT),
                _ => self.finish_ok(),
            },
            EXECUTE_DIAGNOSTIC => {
                self.reset();
                self.set_intrq(true);
            }
            CHECK_POWER_MODE => {
                self.tf.nsector = 0xFF; // active or idle
                self.finish_ok();
            }
            SEEK | 0x10..=0x1F | 0xE0..=0xE3 | 0x94..=0x97 => self.finish_ok(),
            _ => self.finish_error(ERR_ABRT),
        }
    }

    fn set_features(&mut self) {
        let (feature, mode) = (self.tf.feature, self.tf.nsector);
        const SET_XFER_MODE: u8 = 0x03;
        match feature {
            SET_XFER_MODE => {
                // PIO default/flow-control modes, multiword DMA 0-2, UDMA 0-5.
                let ok = matches!(mode >> 3, 0 | 1)
                    || (mode >> 3 == 4 && mode & 7 <= 2)
                    || (mode >> 3 == 8 && mode & 7 <= 5);
                match self.cur() {
                    Some(d) if ok => {
                        d.xfer_mode = mode;
                        self.finish_ok();
                    }
                    _ => self.finish_error(ERR_ABRT),
                }
            }
            // Write cache, read look-ahead, reverting to defaults: accepted, no effect.
            0x02 | 0x82 | 0xAA | 0x55 | 0x66 | 0xCC => self.finish_ok(),
            _ => self.finish_error(ERR_ABRT),
        }
    }

    /// The starting LBA and sector count of a read/write command, checked against the
    /// drive; `None` for an address beyond the disk (IDNF).
    pub(crate) fn address(&mut self, ext: bool) -> Option<(u64, u32)> {
        let tf = self.tf;
        let (lba, count) = if ext {
            let lba = [tf.lba_low, tf.lba_mid, tf.lba_high, tf.hob_lba_low, tf.hob_lba_mid, tf.hob_lba_high]
                .iter()
                .enumerate()
                .fold(0u64, |a, (i, b)| a | (*b as u64) << (8 * i));
            let count = u16::from_le_bytes([tf.nsector, tf.hob_nsector]);
            (lba, if count == 0 { 65536 } else { count as u32 })
        } else {
            let count = if tf.nsector == 0 { 256 } else { tf.nsector as u32 };
            let lba = if tf.device & DEV_LBA != 0 {
                ((tf.device & 0x0F) as u64) << 24
                    | (tf.lba_high as u64) << 16
                    | (tf.lba_mid as u64) << 8
                    | tf.lba_low as u64
            } else {
                let d = self.drives[self.sel].as_ref()?;
                let (cyl, head, sec) = (u16::from_le_bytes([tf.lba_mid, tf.lba_high]), tf.device & 0x0F, tf.lba_low);
                let g = d.current;
                if sec == 0 || sec as u32 > g.sectors || head as u32 >= g.heads {
                    return None;
                }
                (cyl as u64 * g.heads as u64 + head as u64) * g.sectors as u64 + sec as u64 - 1
            };
            (lba, count)
        };
        let total = self.drives[self.sel].as_ref()?.sectors;
        (lba.checked_add(count as u64)? <= total).then_some((lba, count))
    }

    /// Sectors per DRQ block for a (multiple) command; `None` if multiple mode is off.
    fn block_size(&mut self, multiple: bool) -> Option<u32> {
        if !multiple {
            return Some(1);
        }
        self.cur().and_then(|d| (d.multiple != 0).then_some(d.multiple as u32))
    }

    fn pio_read(&mut self, ext: bool, multiple: bool) {
        let Some(block) = self.block_size(multiple) else { return self.finish_error(ERR_ABRT) };
        match self.address(ext) {
            Some((lba, count)) => self.start_pio_in(lba, count, block),
            None => self.finish_error(ERR_IDNF),
        }
    }

    /// Buffers the next block of a PIO read and raises DRQ and the interrupt.
    fn start_pio_in(&mut self, lba: u64, left: u32, block: u32) {
        let n = left.min(block);
        let mut data = vec![0u8; n as usize * SECTOR_SIZE as usize];
        let ok = self.cur().is_some_and(|d| d.image.read_at(lba * SECTOR_SIZE, &mut data).is_ok());
        if !ok {
            return self.finish_error(ERR_UNC);
        }
        self.buf = data;
        self.pos = 0;
        self.chunk_end = self.buf.len();
        self.xfer = Xfer::PioIn { next: lba + n as u64, left: left - n, block };
        if let Some(d) = self.cur() {
            d.status = ST_DRDY | ST_DSC | ST_DRQ;
        }
        self.set_intrq(true);
    }

    fn pio_write(&mut self, ext: bool, multiple: bool) {
        let Some(block) = self.block_size(multiple) else { return self.finish_error(ERR_ABRT) };
        match self.address(ext) {
            // The first block is requested without an interrupt.
            Some((lba, count)) => self.request_pio_out(lba, count, block),
            None => self.finish_error(ERR_IDNF),
        }
    }

    fn request_pio_out(&mut self, lba: u64, left: u32, block: u32) {
        let n = left.min(block);
        self.buf = vec![0u8; n as usize * SECTOR_SIZE as usize];
        self.pos = 0;
        self.chunk_end = self.buf.len();
        self.xfer = Xfer::PioOut { lba, left, block };
        if let Some(d) = self.cur() {
            d.status = ST_DRDY | ST_DSC | ST_DRQ;
        }
    }

    /// A block of a PIO write arrived: store it, then ask for the next or finish.
    fn pio_out_block(&mut self, lba: u64, left: u32, block: u32) {
        let n = left.min(block);
        let data = std::mem::take(&mut self.buf);
        let ok = self.cur().is_some_and(|d| d.image.write_at(lba * SECTOR_SIZE, &data).is_ok());
        if !ok {
            return self.finish_error(ERR_ABRT);
        }
        if left > n {
            self.request_pio_out(lba + n as u64, left - n, block);
            self.set_intrq(true);
        } else {
            self.finish_ok();
        }
    }

    fn dma_command(&mut self, ext: bool, write: bool) {
        match self.address(ext) {
            Some((lba, count)) => {
                self.dma = Some(if write { DmaJob::AtaWrite { lba, count } } else { DmaJob::AtaRead { lba, count } });
                if let Some(d) = self.cur() {
                    d.status = ST_DRDY | ST_DSC | ST_DRQ;
                }
            }
            None => self.finish_error(ERR_IDNF),
        }
    }
}

#[cfg(test)]
#[path = "ata_tests.rs"]
mod tests;
