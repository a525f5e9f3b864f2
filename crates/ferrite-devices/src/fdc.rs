//! The floppy disk controller: an Intel 82077AA-compatible FDC at 0x3F0–0x3F5 and 0x3F7,
//! on IRQ 6 and ISA DMA channel 2, with up to two 3.5"/5.25" drives whose disks are raw
//! image files.
//!
//! Registers: SRA/SRB (0x3F0/0x3F1, read), DOR (0x3F2: drive select, reset, DMA and IRQ
//! gate, motors), TDR (0x3F3), MSR (0x3F4 read: RQM, DIO, NON-DMA, CB) / DSR (0x3F4
//! write: software reset, data rate), the FIFO (0x3F5), DIR (0x3F7 read: bit 7 is the
//! selected drive's disk-change line) / CCR (0x3F7 write: data rate). A command goes
//! through the usual phases: its bytes are written to the FIFO (command phase), the
//! controller works (execution phase; transfers run through the DMA channel the board
//! hands to [`Fdc::run_dma`]), then the guest reads the result bytes (result phase).
//!
//! Commands: SPECIFY, SENSE DRIVE STATUS, SENSE INTERRUPT STATUS, RECALIBRATE, SEEK
//! (absolute and relative), READ DATA, WRITE DATA (both with multi-track), READ ID,
//! FORMAT TRACK, VERSION, CONFIGURE, DUMPREG, PERPENDICULAR MODE and LOCK. Anything else
//! (READ TRACK, the deleted-data and SCAN commands, VERIFY) answers "invalid command"
//! (one result byte, 0x80). READ DATA and WRITE DATA run through DMA channel 2, or, with
//! SPECIFY's ND bit, through the FIFO (non-DMA mode: MSR shows NON-DMA while the data
//! moves, the interrupt asks for it, and the result phase interrupts again; a write takes
//! the bytes of every sector up to EOT). Leaving reset (DOR bit 2 going
//! high, or DSR bit 7) raises IRQ 6 and queues the four SENSE INTERRUPT results of drive
//! polling (ST0 = 0xC0 | drive).
//!
//! The geometry of a disk comes from its image size: 720 KiB (80/2/9, 250 kbit/s),
//! 1.2 MiB (80/2/15, 500 kbit/s), 1.44 MiB (80/2/18, 500 kbit/s) and 2.88 MiB (80/2/36,
//! 1 Mbit/s); READ ID and the transfers fail (missing address mark) unless the data
//! rate selected in DSR/CCR is the medium's, which is how a BIOS senses the medium.
//! Addressing trusts the cylinder in the command (an implied seek). Writes go through
//! [`DiskImage`], so they reach the file, or the overlay with `--snapshot`.

use crate::block::DiskImage;
use crate::dma8237::{DmaChannel, DmaProgress};
use crate::{IrqLine, PortDevice};
use std::collections::VecDeque;
use std::fmt;
use std::ops::RangeInclusive;

/// The controller's base port.
pub const FDC_BASE: u16 = 0x3F0;
/// The DMA channel the controller uses.
pub const FDC_DMA_CHANNEL: usize = 2;
/// The sector size of every supported format.
const SECTOR: usize = 512;
/// Drives the controller can hold (A: and B:).
pub const FDC_DRIVES: usize = 2;

/// DOR bits.
const DOR_RESET_N: u8 = 0x04;
const DOR_DMA_GATE: u8 = 0x08;
/// MSR bits.
const MSR_RQM: u8 = 0x80;
const MSR_DIO: u8 = 0x40;
const MSR_NON_DMA: u8 = 0x20;
const MSR_CB: u8 = 0x10;
/// ST0 bits.
const ST0_ABNORMAL: u8 = 0x40;
const ST0_INVALID: u8 = 0x80;
const ST0_SEEK_END: u8 = 0x20;
const ST0_EQUIP_CHECK: u8 = 0x10;
const ST0_NOT_READY: u8 = 0x08;
/// ST1 bits.
const ST1_MISSING_AM: u8 = 0x01;
const ST1_NOT_WRITABLE: u8 = 0x02;
const ST1_NO_DATA: u8 = 0x04;
const ST1_OVERRUN: u8 = 0x10;
const ST1_DATA_ERROR: u8 = 0x20;
/// ST2 bits.
const ST2_MISSING_DAM: u8 = 0x01;
const ST2_DATA_ERROR: u8 = 0x20;
/// ST3 bits.
const ST3_WRITE_PROTECT: u8 = 0x40;
const ST3_READY: u8 = 0x20;
const ST3_TRACK0: u8 = 0x10;

/// The 82077AA's answer to VERSION (an enhanced controller).
const VERSION_82077: u8 = 0x90;

/// A medium format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloppyGeometry {
    /// Cylinders.
    pub cylinders: u8,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
    /// The data rate code (DSR/CCR bits 0–1) the medium is read at.
    pub rate: u8,
    /// The CMOS drive type (register 0x10) of a drive for this medium.
    pub cmos_type: u8,
}

/// The formats ferrite recognises by image size.
pub const FORMATS: [FloppyGeometry; 4] = [
    FloppyGeometry { cylinders: 80, heads: 2, sectors: 9, rate: 2, cmos_type: 3 },
    FloppyGeometry { cylinders: 80, heads: 2, sectors: 15, rate: 0, cmos_type: 2 },
    FloppyGeometry { cylinders: 80, heads: 2, sectors: 18, rate: 0, cmos_type: 4 },
    FloppyGeometry { cylinders: 80, heads: 2, sectors: 36, rate: 3, cmos_type: 5 },
];

impl FloppyGeometry {
    /// The format of an image of `bytes`, if it is one ferrite knows.
    pub fn from_size(bytes: u64) -> Option<FloppyGeometry> {
        FORMATS.into_iter().find(|g| g.bytes() == bytes)
    }

    /// The medium's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64 * SECTOR as u64
    }
}

/// Why an image cannot be a floppy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloppySizeError {
    /// The image's size.
    pub size: u64,
}

impl fmt::Display for FloppySizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "is {} bytes; a floppy image must be 737280 (720 KiB), 1228800 (1.2 MiB), 1474560 (1.44 MiB) or 2949120 (2.88 MiB) bytes",
            self.size
        )
    }
}

impl std::error::Error for FloppySizeError {}

/// A drive and its disk.
struct FloppyDrive {
    disk: Option<(DiskImage, FloppyGeometry)>,
    /// The cylinder the head is on (PCN).
    track: u8,
    /// The disk-change line (DIR bit 7): set at power-on with a disk, cleared by a step.
    changed: bool,
    /// The sector READ ID reports next (the disk turns under the head).
    next_id: u8,
}

/// A transfer waiting for the DMA channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Read(Transfer),
    Write(Transfer),
    Format { drive: usize, head: u8, sectors: u8, fill: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transfer {
    drive: usize,
    head: u8,
    c: u8,
    h: u8,
    r: u8,
    n: u8,
    eot: u8,
    multi_track: bool,
}

/// A non-DMA transfer in its execution phase: the data moves through the FIFO.
#[derive(Debug)]
struct Pio {
    /// A read: the sectors for the guest to take; a write: the bytes received so far.
    data: Vec<u8>,
    /// The next byte a read hands out.
    pos: usize,
    /// A write: the transfer to carry out once `expected` bytes have arrived.
    write: Option<(Transfer, usize)>,
    /// A read: its result bytes, given once the data has been taken.
    result: Vec<u8>,
}

/// The FIFO side of a non-DMA transfer, standing in for the DMA channel: a read collects
/// the sectors, a write hands out what the guest wrote (terminal count at its end).
struct PioBuffer<'a>(&'a mut Vec<u8>, usize);

impl DmaChannel for PioBuffer<'_> {
    fn write_memory(&mut self, data: &[u8]) -> DmaProgress {
        self.0.extend_from_slice(data);
        DmaProgress { bytes: data.len(), terminal_count: false }
    }

    fn read_memory(&mut self, buf: &mut [u8]) -> DmaProgress {
        let n = buf.len().min(self.0.len() - self.1);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        DmaProgress { bytes: n, terminal_count: self.1 == self.0.len() }
    }
}

/// The floppy disk controller raising `irq` (IRQ 6).
pub struct Fdc<I: IrqLine> {
    drives: [FloppyDrive; FDC_DRIVES],
    irq: I,
    dor: u8,
    tdr: u8,
    rate: u8,
    /// Command bytes received so far.
    command: Vec<u8>,
    result: VecDeque<u8>,
    job: Option<Job>,
    /// A non-DMA transfer (SPECIFY's ND bit) in its execution phase.
    pio: Option<Pio>,
    /// SENSE INTERRUPT answers waiting: (ST0, PCN).
    sense: VecDeque<(u8, u8)>,
    irq_pending: bool,
    specify: [u8; 2],
    config: u8,
    pretrk: u8,
    perpendicular: u8,
    lock: bool,
    last_eot: u8,
}

impl<I: IrqLine> fmt::Debug for Fdc<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdc")
            .field("dor", &self.dor)
            .field("command", &self.command)
            .field("result", &self.result)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl<I: IrqLine> Fdc<I> {
    /// A controller with empty drives, out of reset with DMA and IRQ enabled (DOR 0x0C).
    pub fn new(irq: I) -> Self {
        let drive = || FloppyDrive { disk: None, track: 0, changed: false, next_id: 1 };
        Fdc {
            drives: [drive(), drive()],
            irq,
            dor: DOR_RESET_N | DOR_DMA_GATE,
            tdr: 0,
            rate: 0,
            command: Vec::new(),
            result: VecDeque::new(),
            job: None,
            pio: None,
            sense: VecDeque::new(),
            irq_pending: false,
            specify: [0, 0],
            config: 0x20,
            pretrk: 0,
            perpendicular: 0,
            lock: false,
            last_eot: 0,
        }
    }

    /// Puts a disk in drive `drive` (0 = A:, 1 = B:); its size must be a known format.
    pub fn insert(&mut self, drive: usize, image: DiskImage) -> Result<FloppyGeometry, FloppySizeError> {
        let geometry = FloppyGeometry::from_size(image.len()).ok_or(FloppySizeError { size: image.len() })?;
        let d = &mut self.drives[drive % FDC_DRIVES];
        d.disk = Some((image, geometry));
        d.changed = true;
        Ok(geometry)
    }

    /// The format of the disk in `drive`, if any.
    pub fn geometry(&self, drive: usize) -> Option<FloppyGeometry> {
        self.drives.get(drive).and_then(|d| d.disk.as_ref().map(|(_, g)| *g))
    }

    /// The CMOS floppy byte (register 0x10): drive A's type in bits 4–7, B's in 0–3.
    pub fn cmos_drive_types(&self) -> u8 {
        let ty = |d: usize| self.geometry(d).map_or(0, |g| g.cmos_type);
        ty(0) << 4 | ty(1)
    }

    /// Makes written data durable (end of a run).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for d in &mut self.drives {
            if let Some((image, _)) = &mut d.disk {
                image.flush()?;
            }
        }
        Ok(())
    }

    /// A machine reset: the controller as at power-on; the disks stay in.
    pub fn reset(&mut self) {
        self.controller_reset();
        self.dor = DOR_RESET_N | DOR_DMA_GATE;
        self.rate = 0;
        self.sense.clear();
        self.set_irq(false);
    }

    /// Whether a transfer waits for DMA channel 2 (DREQ).
    pub fn dma_request(&self) -> bool {
        self.job.is_some()
    }

    /// Carries out the waiting transfer through `dma`, then enters the result phase and
    /// raises the interrupt. Nothing happens without a waiting transfer.
    pub fn run_dma(&mut self, dma: &mut dyn DmaChannel) {
        match self.job.take() {
            Some(Job::Read(t)) => self.transfer(t, false, dma),
            Some(Job::Write(t)) => self.transfer(t, true, dma),
            Some(Job::Format { drive, head, sectors, fill }) => self.format(drive, head, sectors, fill, dma),
            None => {}
        }
    }

    fn set_irq(&mut self, pending: bool) {
        self.irq_pending = pending;
        self.irq.set(pending && self.dor & DOR_DMA_GATE != 0);
    }

    /// Everything a reset clears (DOR bit 2 low, DSR bit 7): the command in progress and
    /// its results, the interrupt. The drive positions and disks stay.
    fn controller_reset(&mut self) {
        self.command.clear();
        self.result.clear();
        self.job = None;
        self.pio = None;
        self.sense.clear();
        if !self.lock {
            self.config = 0x20;
            self.pretrk = 0;
        }
        self.perpendicular &= 0x3C;
        self.set_irq(false);
    }

    /// Leaving reset: drive polling queues a "ready changed" status for each of the four
    /// drive numbers and interrupts.
    fn leave_reset(&mut self) {
        self.sense = (0..4u8).map(|d| (0xC0 | d, self.drives.get(d as usize).map_or(0, |x| x.track))).collect();
        self.set_irq(true);
    }

    fn msr(&self) -> u8 {
        if self.dor & DOR_RESET_N == 0 {
            0
        } else if let Some(pio) = &self.pio {
            let dio = if pio.write.is_none() { MSR_DIO } else { 0 };
            MSR_RQM | dio | MSR_NON_DMA | MSR_CB
        } else if !self.result.is_empty() {
            MSR_RQM | MSR_DIO | MSR_CB
        } else if self.job.is_some() {
            MSR_CB
        } else if !self.command.is_empty() {
            MSR_RQM | MSR_CB
        } else {
            MSR_RQM
        }
    }

    fn write_dor(&mut self, v: u8) {
        let was_running = self.dor & DOR_RESET_N != 0;
        self.dor = v;
        if v & DOR_RESET_N == 0 {
            self.controller_reset();
        } else if !was_running {
            self.leave_reset();
        } else {
            // The DMA gate also gates the interrupt line.
            self.set_irq(self.irq_pending);
        }
    }

    fn read_fifo(&mut self) -> u8 {
        if let Some(pio) = self.pio.as_mut().filter(|p| p.write.is_none()) {
            let b = pio.data[pio.pos];
            pio.pos += 1;
            if pio.pos == pio.data.len() {
                let result = std::mem::take(&mut pio.result);
                self.pio = None;
                self.result = result.into();
                // The result phase interrupts anew (an edge after the data's interrupt).
                self.set_irq(false);
                self.set_irq(true);
            }
            return b;
        }
        match self.result.pop_front() {
            Some(b) => {
                // Reading the result phase acknowledges the interrupt of a transfer.
                if self.irq_pending && self.sense.is_empty() {
                    self.set_irq(false);
                }
                b
            }
            None => 0xFF,
        }
    }

    fn write_fifo(&mut self, v: u8) {
        if self.dor & DOR_RESET_N == 0 || self.job.is_some() {
            return;
        }
        if let Some(pio) = self.pio.as_mut() {
            if let Some((t, expected)) = pio.write {
                pio.data.push(v);
                if pio.data.len() == expected {
                    let mut data = std::mem::take(&mut pio.data);
                    self.pio = None;
                    self.set_irq(false);
                    self.transfer(t, true, &mut PioBuffer(&mut data, 0));
                }
            }
            return;
        }
        if !self.result.is_empty() {
            // A new command while results are unread: the old results are dropped.
            self.result.clear();
        }
        self.command.push(v);
        let needed = command_length(self.command[0]);
        if self.command.len() >= needed {
            let cmd = std::mem::take(&mut self.command);
            self.execute(&cmd);
        }
    }

    fn results(&mut self, bytes: &[u8]) {
        self.result = bytes.iter().copied().collect();
    }

    fn execute(&mut self, cmd: &[u8]) {
        let op = cmd[0];
        match op & 0x1F {
            0x03 => self.specify = [cmd[1], cmd[2]],
            0x04 => {
                let (drive, head) = ((cmd[1] & 3) as usize, (cmd[1] >> 2) & 1);
                self.results(&[self.st3(drive, head)]);
            }
            0x05 | 0x06 => self.start_transfer(cmd),
            0x07 => self.seek(cmd[1], Some(0)),
            0x08 => self.sense_interrupt(),
            0x0A => self.read_id(cmd[1]),
            0x0D => self.start_format(cmd),
            0x0E => {
                let pcn = |d: usize| self.drives.get(d).map_or(0, |x| x.track);
                let perp = (self.lock as u8) << 7 | self.perpendicular & 0x7F;
                let dump = [
                    pcn(0),
                    pcn(1),
                    0,
                    0,
                    self.specify[0],
                    self.specify[1],
                    self.last_eot,
                    perp,
                    self.config,
                    self.pretrk,
                ];
                self.results(&dump);
            }
            0x0F => {
                let drive = cmd[1] & 3;
                let target = if op & 0x80 != 0 {
                    // Relative seek: DIR (bit 6) set steps in, towards higher cylinders.
                    let track = self.drives.get(drive as usize).map_or(0, |d| d.track);
                    Some(if op & 0x40 != 0 { track.saturating_add(cmd[2]) } else { track.saturating_sub(cmd[2]) })
                } else {
                    Some(cmd[2])
                };
                self.seek(cmd[1], target)
            }
            0x10 if op == 0x10 => self.results(&[VERSION_82077]),
            0x12 if op == 0x12 => {
                // Bit 7 (OW) makes D0–D3 writable; GAP and WGATE are always written.
                self.perpendicular =
                    if cmd[1] & 0x80 != 0 { cmd[1] & 0x3F } else { self.perpendicular & 0x3C | cmd[1] & 0x03 };
            }
            0x13 if op == 0x13 => {
                self.config = cmd[2];
                self.pretrk = cmd[3];
            }
            0x14 if op & 0x7F == 0x14 => {
                self.lock = op & 0x80 != 0;
                self.results(&[(self.lock as u8) << 4]);
            }
            _ => self.results(&[ST0_INVALID]),
        }
    }

    fn st3(&self, drive: usize, head: u8) -> u8 {
        let base = drive as u8 | head << 2;
        match self.drives.get(drive) {
            Some(d) if d.disk.is_some() => {
                let wp = d.disk.as_ref().is_some_and(|(img, _)| img.read_only());
                base | ST3_READY | if d.track == 0 { ST3_TRACK0 } else { 0 } | if wp { ST3_WRITE_PROTECT } else { 0 }
            }
            Some(d) if d.track == 0 => base | ST3_TRACK0,
            _ => base,
        }
    }

    /// SEEK and RECALIBRATE: the head moves at once; the interrupt follows with ST0.
    fn seek(&mut self, sel: u8, target: Option<u8>) {
        let drive = (sel & 3) as usize;
        let head = (sel >> 2) & 1;
        let st0 = match (self.drives.get_mut(drive), target) {
            (Some(d), Some(cyl)) => {
                d.track = cyl;
                // A step pulse with a disk in the drive clears its change line.
                if d.disk.is_some() {
                    d.changed = false;
                }
                ST0_SEEK_END | head << 2 | drive as u8
            }
            _ => ST0_ABNORMAL | ST0_SEEK_END | ST0_EQUIP_CHECK | head << 2 | drive as u8,
        };
        let pcn = self.drives.get(drive).map_or(0, |d| d.track);
        self.sense.push_back((st0, pcn));
        self.set_irq(true);
    }

    fn sense_interrupt(&mut self) {
        match self.sense.pop_front() {
            Some((st0, pcn)) => {
                self.results(&[st0, pcn]);
                if self.sense.is_empty() {
                    self.set_irq(false);
                }
            }
            None => self.results(&[ST0_INVALID]),
        }
    }

    /// The medium in `drive` when it can be read at the selected data rate, else the
    /// ST0/ST1/ST2 of the failure.
    fn medium(&self, drive: usize) -> Result<FloppyGeometry, (u8, u8, u8)> {
        match self.drives.get(drive).and_then(|d| d.disk.as_ref()) {
            None => Err((ST0_ABNORMAL | ST0_NOT_READY, 0, 0)),
            Some((_, g)) if g.rate != self.rate => Err((ST0_ABNORMAL, ST1_MISSING_AM, ST2_MISSING_DAM)),
            Some((_, g)) => Ok(*g),
        }
    }

    fn finish(&mut self, st: (u8, u8, u8), sel: u8, chrn: [u8; 4]) {
        let st0 = st.0 | sel & 7;
        self.results(&[st0, st.1, st.2, chrn[0], chrn[1], chrn[2], chrn[3]]);
        self.set_irq(true);
    }

    fn read_id(&mut self, sel: u8) {
        let (drive, head) = ((sel & 3) as usize, (sel >> 2) & 1);
        match self.medium(drive) {
            Ok(g) => {
                let d = &mut self.drives[drive];
                let r = d.next_id;
                d.next_id = if r >= g.sectors { 1 } else { r + 1 };
                let track = d.track;
                self.finish((0, 0, 0), sel, [track, head, r, 2]);
            }
            Err(st) => self.finish(st, sel, [0, head, 0, 2]),
        }
    }

    fn start_transfer(&mut self, cmd: &[u8]) {
        let sel = cmd[1];
        let (drive, head) = ((sel & 3) as usize, (sel >> 2) & 1);
        let t = Transfer {
            drive,
            head,
            c: cmd[2],
            h: cmd[3],
            r: cmd[4],
            n: cmd[5],
            eot: cmd[6],
            multi_track: cmd[0] & 0x80 != 0,
        };
        self.last_eot = t.eot;
        let write = cmd[0] & 0x1F == 0x05;
        match self.medium(drive) {
            Err(st) => self.finish(st, sel, [t.c, t.h, t.r, t.n]),
            Ok(_) if t.n != 2 => self.finish((ST0_ABNORMAL, ST1_NO_DATA, 0), sel, [t.c, t.h, t.r, t.n]),
            Ok(_) if write && self.drives[drive].disk.as_ref().is_some_and(|(i, _)| i.read_only()) => {
                self.finish((ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), sel, [t.c, t.h, t.r, t.n])
            }
            Ok(_) => {
                self.drives[drive].track = t.c;
                if self.specify[1] & 1 != 0 {
                    self.start_pio(t, write);
                } else {
                    self.job = Some(if write { Job::Write(t) } else { Job::Read(t) });
                }
            }
        }
    }

    /// A transfer in non-DMA mode: a read gathers its sectors now and hands them out
    /// through the FIFO; a write waits for the bytes of every sector up to EOT. Either way
    /// the interrupt asks the guest to move the data.
    fn start_pio(&mut self, t: Transfer, write: bool) {
        if write {
            let first = t.eot.saturating_sub(t.r) as usize + 1;
            let second = if t.multi_track && t.head == 0 { t.eot as usize } else { 0 };
            let expected = (first + second) * SECTOR;
            self.pio = Some(Pio {
                data: Vec::with_capacity(expected),
                pos: 0,
                write: Some((t, expected)),
                result: Vec::new(),
            });
            self.set_irq(true);
            return;
        }
        let mut data = Vec::new();
        self.transfer(t, false, &mut PioBuffer(&mut data, 0));
        if !data.is_empty() {
            let result = std::mem::take(&mut self.result).into();
            self.pio = Some(Pio { data, pos: 0, write: None, result });
        }
    }

    fn transfer(&mut self, mut t: Transfer, write: bool, dma: &mut dyn DmaChannel) {
        let sel = t.drive as u8 | t.head << 2;
        let mut st = (0u8, 0u8, 0u8);
        let mut buf = [0u8; SECTOR];
        loop {
            let Some((image, g)) = self.drives[t.drive].disk.as_mut() else {
                st = (ST0_ABNORMAL | ST0_NOT_READY, 0, 0);
                break;
            };
            if t.r == 0 || t.r > g.sectors || t.c >= g.cylinders || t.head >= g.heads {
                st = (ST0_ABNORMAL, ST1_NO_DATA, 0);
                break;
            }
            let lba = (t.c as u64 * g.heads as u64 + t.head as u64) * g.sectors as u64 + (t.r as u64 - 1);
            let offset = lba * SECTOR as u64;
            let progress = if write {
                let p = dma.read_memory(&mut buf);
                // A transfer cut short by terminal count fills the sector with zeros.
                buf[p.bytes..].fill(0);
                if image.write_at(offset, &buf).is_err() {
                    st = (ST0_ABNORMAL, ST1_DATA_ERROR, ST2_DATA_ERROR);
                    break;
                }
                p
            } else {
                if image.read_at(offset, &mut buf).is_err() {
                    st = (ST0_ABNORMAL, ST1_DATA_ERROR, ST2_DATA_ERROR);
                    break;
                }
                dma.write_memory(&buf)
            };
            if progress.bytes < SECTOR && !progress.terminal_count {
                // The channel stopped answering (masked): the data is late.
                st = (ST0_ABNORMAL, ST1_OVERRUN, 0);
                break;
            }
            // On to the next sector: the end of the track goes to the other side (MT,
            // from head 0) or ends the command with the next cylinder's ID.
            let mut end = false;
            if t.r >= t.eot {
                t.r = 1;
                if t.multi_track && t.head == 0 {
                    t.head = 1;
                    t.h ^= 1;
                } else {
                    if t.multi_track {
                        t.head = 0;
                        t.h ^= 1;
                    }
                    t.c = t.c.wrapping_add(1);
                    end = true;
                }
            } else {
                t.r += 1;
            }
            if progress.terminal_count || end {
                break;
            }
        }
        let sel = sel & 3 | t.head << 2;
        self.finish(st, sel, [t.c, t.h, t.r, t.n]);
    }

    fn start_format(&mut self, cmd: &[u8]) {
        let sel = cmd[1];
        let (drive, head) = ((sel & 3) as usize, (sel >> 2) & 1);
        let track = self.drives[drive.min(FDC_DRIVES - 1)].track;
        match self.medium(drive) {
            Err(st) => self.finish(st, sel, [track, head, 1, cmd[2]]),
            Ok(_) if self.drives[drive].disk.as_ref().is_some_and(|(i, _)| i.read_only()) => {
                self.finish((ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), sel, [track, head, 1, cmd[2]])
            }
            Ok(_) if cmd[2] != 2 => self.finish((ST0_ABNORMAL, ST1_NO_DATA, 0), sel, [track, head, 1, cmd[2]]),
            Ok(_) => self.job = Some(Job::Format { drive, head, sectors: cmd[3], fill: cmd[5] }),
        }
    }

    /// FORMAT TRACK: the DMA channel supplies C, H, R, N for each sector; every sector of
    /// the track the head is on is filled with the fill byte.
    fn format(&mut self, drive: usize, head: u8, sectors: u8, fill: u8, dma: &mut dyn DmaChannel) {
        let sel = drive as u8 | head << 2;
        let track = self.drives[drive].track;
        let mut last = [track, head, 1, 2];
        let mut st = (0u8, 0u8, 0u8);
        for _ in 0..sectors {
            let mut id = [0u8; 4];
            let p = dma.read_memory(&mut id);
            if p.bytes < 4 {
                st = (ST0_ABNORMAL, ST1_OVERRUN, 0);
                break;
            }
            let Some((image, g)) = self.drives[drive].disk.as_mut() else { break };
            let r = id[2];
            if r == 0 || r > g.sectors || track >= g.cylinders || head >= g.heads {
                st = (ST0_ABNORMAL, ST1_NO_DATA, 0);
                break;
            }
            let lba = (track as u64 * g.heads as u64 + head as u64) * g.sectors as u64 + (r as u64 - 1);
            if image.write_at(lba * SECTOR as u64, &[fill; SECTOR]).is_err() {
                st = (ST0_ABNORMAL, ST1_DATA_ERROR, ST2_DATA_ERROR);
                break;
            }
            last = id;
            if p.terminal_count {
                break;
            }
        }
        self.finish(st, sel, last);
    }
}

/// How many bytes a command has, from its first byte. Commands ferrite answers as
/// invalid take one byte.
fn command_length(op: u8) -> usize {
    match op & 0x1F {
        0x05 | 0x06 => 9,
        0x0D => 6,
        0x13 if op == 0x13 => 4,
        0x03 | 0x0F => 3,
        0x04 | 0x07 | 0x0A => 2,
        0x12 if op == 0x12 => 2,
        _ => 1,
    }
}

impl<I: IrqLine> PortDevice for Fdc<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![FDC_BASE..=FDC_BASE + 5, FDC_BASE + 7..=FDC_BASE + 7]
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        let sel = (self.dor & 3) as usize;
        (match port - FDC_BASE {
            // SRA (PS/2 mode): bit 7 is the interrupt pending.
            0 => (self.irq_pending as u8) << 7,
            // SRB: the drive-select and motor bits as the DOR has them.
            1 => 0xC0 | (self.dor >> 4) & 0x03 | if sel == 0 { 0x20 } else { 0 },
            2 => self.dor,
            3 => self.tdr,
            4 => self.msr(),
            5 => self.read_fifo(),
            7 => (self.drives.get(sel).is_some_and(|d| d.changed) as u8) << 7,
            _ => 0xFF,
        }) as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let v = value as u8;
        match port - FDC_BASE {
            2 => self.write_dor(v),
            3 => self.tdr = v & 3,
            4 => {
                self.rate = v & 3;
                if v & 0x80 != 0 {
                    self.controller_reset();
                    self.leave_reset();
                }
            }
            5 => self.write_fifo(v),
            7 => self.rate = v & 3,
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "fdc_tests.rs"]
mod tests;
