use super::*;
use crate::dma8237::DmaProgress;
use std::cell::Cell;
use std::rc::Rc;

/// An IRQ line whose level the test can see.
#[derive(Clone, Default)]
struct Line(Rc<Cell<bool>>);

impl IrqLine for Line {
    fn set(&self, level: bool) {
        self.0.set(level);
    }
}

/// A DMA channel over a plain buffer with a byte count, like an 8237 channel programmed
/// for `count` bytes at the buffer's start.
struct Channel {
    mem: Vec<u8>,
    pos: usize,
    count: usize,
}

impl Channel {
    fn new(count: usize) -> Self {
        Channel { mem: vec![0; count], pos: 0, count }
    }
}

impl DmaChannel for Channel {
    fn write_memory(&mut self, data: &[u8]) -> DmaProgress {
        let n = data.len().min(self.count - self.pos);
        self.mem[self.pos..self.pos + n].copy_from_slice(&data[..n]);
        self.pos += n;
        DmaProgress { bytes: n, terminal_count: self.pos == self.count }
    }

    fn read_memory(&mut self, buf: &mut [u8]) -> DmaProgress {
        let n = buf.len().min(self.count - self.pos);
        buf[..n].copy_from_slice(&self.mem[self.pos..self.pos + n]);
        self.pos += n;
        DmaProgress { bytes: n, terminal_count: self.pos == self.count }
    }
}

/// A 1.44 MiB image whose every sector starts with its LBA (little-endian u16) and is
/// filled with its low byte.
fn image_144() -> Vec<u8> {
    let mut img = vec![0u8; 1_474_560];
    for (lba, s) in img.chunks_mut(512).enumerate() {
        s.fill(lba as u8);
        s[..2].copy_from_slice(&(lba as u16).to_le_bytes());
    }
    img
}

fn fdc_with(img: Vec<u8>) -> (Fdc<Line>, Line) {
    let line = Line::default();
    let mut f = Fdc::new(line.clone());
    f.insert(0, DiskImage::from_bytes(img, false)).unwrap();
    (f, line)
}

fn cmd(f: &mut Fdc<Line>, bytes: &[u8]) {
    for &b in bytes {
        assert_eq!(f.read(0x3F4, 1) as u8 & (MSR_RQM | MSR_DIO), MSR_RQM, "ready for a command byte");
        f.write(0x3F5, 1, b as u32);
    }
}

fn results(f: &mut Fdc<Line>) -> Vec<u8> {
    let mut out = Vec::new();
    while f.read(0x3F4, 1) as u8 & (MSR_RQM | MSR_DIO) == MSR_RQM | MSR_DIO {
        out.push(f.read(0x3F5, 1) as u8);
    }
    out
}

#[test]
fn test_fdc_geometry_from_image_size() {
    assert_eq!(FloppyGeometry::from_size(1_474_560).map(|g| (g.sectors, g.cmos_type)), Some((18, 4)));
    assert_eq!(FloppyGeometry::from_size(2_949_120).map(|g| (g.sectors, g.rate)), Some((36, 3)));
    assert_eq!(FloppyGeometry::from_size(737_280).map(|g| g.sectors), Some(9));
    assert_eq!(FloppyGeometry::from_size(1_228_800).map(|g| g.sectors), Some(15));
    let mut f = Fdc::new(NoIrq);
    let e = f.insert(0, DiskImage::from_bytes(vec![0; 1_000_000], false)).unwrap_err();
    assert!(e.to_string().contains("is 1000000 bytes; a floppy image must be"), "{e}");
    f.insert(1, DiskImage::from_bytes(vec![0; 2_949_120], false)).unwrap();
    assert_eq!(f.cmos_drive_types(), 0x05, "drive B: a 2.88 MiB drive, no drive A");
}

use crate::NoIrq;

#[test]
fn test_fdc_reset_through_dor_gives_four_sense_interrupts() {
    let (mut f, irq) = fdc_with(image_144());
    assert_eq!(f.read(0x3F4, 1), 0x80, "idle: RQM");
    f.write(0x3F2, 1, 0x08);
    assert_eq!(f.read(0x3F4, 1), 0, "held in reset");
    assert!(!irq.0.get());
    f.write(0x3F2, 1, 0x0C);
    assert!(irq.0.get(), "leaving reset interrupts");
    for d in 0..4u8 {
        cmd(&mut f, &[0x08]);
        assert_eq!(results(&mut f), vec![0xC0 | d, 0]);
    }
    assert!(!irq.0.get(), "the four SENSE INTERRUPTs acknowledge it");
    cmd(&mut f, &[0x08]);
    assert_eq!(results(&mut f), vec![0x80], "nothing pending: invalid");
    // DSR bit 7 is a software reset too.
    f.write(0x3F4, 1, 0x80);
    assert!(irq.0.get());
    // With the DMA gate (DOR bit 3) off, the line stays low.
    f.write(0x3F2, 1, 0x04);
    assert!(!irq.0.get());
}

#[test]
fn test_fdc_seek_recalibrate_and_disk_change_line() {
    let (mut f, irq) = fdc_with(image_144());
    assert_eq!(f.read(0x3F7, 1) & 0x80, 0x80, "a new disk: change line active");
    cmd(&mut f, &[0x0F, 0x04, 40]);
    assert!(irq.0.get(), "seek end interrupts");
    cmd(&mut f, &[0x08]);
    assert_eq!(results(&mut f), vec![0x24, 40], "ST0 seek end, head 1; PCN 40");
    assert!(!irq.0.get());
    assert_eq!(f.read(0x3F7, 1) & 0x80, 0, "a step clears the change line");
    cmd(&mut f, &[0x04, 0x00]);
    assert_eq!(results(&mut f), vec![0x20], "ST3: ready, not on track 0");
    cmd(&mut f, &[0x07, 0x00]);
    cmd(&mut f, &[0x08]);
    assert_eq!(results(&mut f), vec![0x20, 0]);
    cmd(&mut f, &[0x04, 0x00]);
    assert_eq!(results(&mut f), vec![0x30], "ST3: ready, track 0");
    cmd(&mut f, &[0xCF, 0x00, 5]);
    cmd(&mut f, &[0x08]);
    assert_eq!(results(&mut f)[1], 5, "relative seek outward by 5");
    cmd(&mut f, &[0x07, 0x02]);
    cmd(&mut f, &[0x08]);
    assert_eq!(results(&mut f), vec![0x72, 0], "no drive C: abnormal, equipment check");
}

#[test]
fn test_fdc_read_data_by_dma_with_multi_track() {
    let (mut f, irq) = fdc_with(image_144());
    // Cylinder 1, head 0, sector 17, to EOT 18 with MT: 17, 18 of head 0 then 1.. of head 1.
    cmd(&mut f, &[0xE6, 0x00, 1, 0, 17, 2, 18, 0x1B, 0xFF]);
    assert!(f.dma_request());
    assert_eq!(f.read(0x3F4, 1) as u8 & MSR_RQM, 0, "execution phase");
    let mut ch = Channel::new(4 * 512);
    f.run_dma(&mut ch);
    assert!(irq.0.get());
    let lbas: Vec<u16> = ch.mem.chunks(512).map(|s| u16::from_le_bytes([s[0], s[1]])).collect();
    assert_eq!(lbas, vec![36 + 16, 36 + 17, 36 + 18, 36 + 19], "C1 H0 S17, S18, then C1 H1 S1, S2");
    assert_eq!(results(&mut f), vec![0x04, 0, 0, 1, 1, 3, 2], "stopped by TC; next ID is C1 H1 S3");
    assert!(!irq.0.get(), "reading the results acknowledges the interrupt");
}

#[test]
fn test_fdc_read_to_end_of_track_and_errors() {
    let (mut f, _) = fdc_with(image_144());
    // No MT: 2 sectors to EOT 18 on head 1 of cylinder 79, DMA count larger.
    cmd(&mut f, &[0x46, 0x04, 79, 1, 17, 2, 18, 0x1B, 0xFF]);
    let mut ch = Channel::new(8 * 512);
    f.run_dma(&mut ch);
    assert_eq!(ch.pos, 1024);
    assert_eq!(u16::from_le_bytes([ch.mem[512], ch.mem[513]]), 2879, "the image's last sector");
    assert_eq!(results(&mut f), vec![0x04, 0, 0, 80, 1, 1, 2], "end of track: next cylinder, sector 1");
    // Sector 19 does not exist on a 1.44 MiB disk.
    cmd(&mut f, &[0x46, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF]);
    f.run_dma(&mut Channel::new(512));
    assert_eq!(results(&mut f)[..3], [0x40, ST1_NO_DATA, 0]);
    // The wrong data rate: the medium cannot be read (how a BIOS senses it).
    f.write(0x3F7, 1, 3);
    cmd(&mut f, &[0x4A, 0x00]);
    assert_eq!(results(&mut f)[..3], [0x40, ST1_MISSING_AM, ST2_MISSING_DAM]);
    f.write(0x3F7, 1, 0);
    cmd(&mut f, &[0x4A, 0x04]);
    let id = results(&mut f);
    assert_eq!(
        (id[0], id[3], id[4], id[6]),
        (0x04, 0, 1, 2),
        "READ ID: ST0, C (where the last command left the head), H, N"
    );
    // An empty drive is not ready.
    cmd(&mut f, &[0x46, 0x01, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(!f.dma_request());
    assert_eq!(results(&mut f)[0], 0x40 | 0x08 | 0x01);
}

#[test]
fn test_fdc_write_and_format_reach_the_image() {
    let (mut f, _) = fdc_with(vec![0; 1_474_560]);
    let mut ch = Channel::new(600);
    ch.mem[..512].fill(0xAB);
    ch.mem[512..].fill(0xCD);
    // Writes sectors 2 and 3 of C0 H0; TC after 600 bytes cuts sector 3 short (zero-filled).
    cmd(&mut f, &[0xC5, 0x00, 0, 0, 2, 2, 18, 0x1B, 0xFF]);
    f.run_dma(&mut ch);
    assert_eq!(results(&mut f), vec![0x00, 0, 0, 0, 0, 4, 2]);
    let mut back = Channel::new(3 * 512);
    cmd(&mut f, &[0x46, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    f.run_dma(&mut back);
    results(&mut f);
    assert!(back.mem[..512].iter().all(|&b| b == 0));
    assert!(back.mem[512..1024].iter().all(|&b| b == 0xAB));
    assert!(back.mem[1024..1112].iter().all(|&b| b == 0xCD));
    assert!(back.mem[1112..].iter().all(|&b| b == 0), "the rest of the cut sector is zeros");
    // FORMAT TRACK of C2 H1 with two sectors' IDs, fill byte 0xF6.
    cmd(&mut f, &[0x0F, 0x04, 2]);
    cmd(&mut f, &[0x08]);
    results(&mut f);
    cmd(&mut f, &[0x4D, 0x04, 2, 2, 0x54, 0xF6]);
    let mut ids = Channel::new(8);
    ids.mem.copy_from_slice(&[2, 1, 1, 2, 2, 1, 2, 2]);
    f.run_dma(&mut ids);
    assert_eq!(results(&mut f), vec![0x04, 0, 0, 2, 1, 2, 2]);
    let mut back = Channel::new(1024);
    cmd(&mut f, &[0x46, 0x04, 2, 1, 1, 2, 18, 0x1B, 0xFF]);
    f.run_dma(&mut back);
    assert!(back.mem.iter().all(|&b| b == 0xF6));
}

#[test]
fn test_fdc_write_protected_disk() {
    let line = Line::default();
    let mut f = Fdc::new(line);
    f.insert(0, DiskImage::from_bytes(vec![0; 1_474_560], true)).unwrap();
    cmd(&mut f, &[0x04, 0x00]);
    assert_eq!(results(&mut f)[0] & ST3_WRITE_PROTECT, ST3_WRITE_PROTECT);
    cmd(&mut f, &[0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(!f.dma_request());
    assert_eq!(results(&mut f)[..2], [0x40, ST1_NOT_WRITABLE]);
}

#[test]
fn test_fdc_version_configure_dumpreg_perpendicular_lock() {
    let (mut f, _) = fdc_with(image_144());
    cmd(&mut f, &[0x10]);
    assert_eq!(results(&mut f), vec![0x90]);
    cmd(&mut f, &[0x03, 0xAF, 0x02]);
    cmd(&mut f, &[0x13, 0x00, 0x57, 0x03]);
    cmd(&mut f, &[0x12, 0x83]);
    cmd(&mut f, &[0x94]);
    assert_eq!(results(&mut f), vec![0x10], "LOCK on");
    cmd(&mut f, &[0x0F, 0x00, 7]);
    cmd(&mut f, &[0x08]);
    results(&mut f);
    cmd(&mut f, &[0x0E]);
    assert_eq!(results(&mut f), vec![7, 0, 0, 0, 0xAF, 0x02, 0, 0x83, 0x57, 0x03]);
    // A reset keeps the locked CONFIGURE values.
    f.write(0x3F2, 1, 0x08);
    f.write(0x3F2, 1, 0x0C);
    for _ in 0..4 {
        cmd(&mut f, &[0x08]);
        results(&mut f);
    }
    cmd(&mut f, &[0x0E]);
    let dump = results(&mut f);
    assert_eq!((dump[8], dump[9]), (0x57, 0x03));
    cmd(&mut f, &[0x02]);
    assert_eq!(results(&mut f), vec![0x80], "READ TRACK is not implemented: invalid");
}

#[test]
fn test_fdc_non_dma_read_and_write_through_the_fifo() {
    let (mut f, irq) = fdc_with(image_144());
    cmd(&mut f, &[0x03, 0xAF, 0x03]); // SPECIFY with ND: non-DMA mode
                                      // Read C2 H0 S17..18 (EOT 18) through the FIFO.
    cmd(&mut f, &[0x46, 0x00, 2, 0, 17, 2, 18, 0x1B, 0xFF]);
    assert!(!f.dma_request(), "no DMA in non-DMA mode");
    assert!(irq.0.get(), "the interrupt asks for the data");
    assert_eq!(f.read(0x3F4, 1), 0xF0, "MSR: RQM, DIO, NON-DMA, CB");
    let data: Vec<u8> = (0..1024).map(|_| f.read(0x3F5, 1) as u8).collect();
    assert_eq!(u16::from_le_bytes([data[0], data[1]]), 72 + 16);
    assert_eq!(u16::from_le_bytes([data[512], data[513]]), 72 + 17);
    assert_eq!(f.read(0x3F4, 1) as u8 & (MSR_RQM | MSR_DIO | MSR_NON_DMA), MSR_RQM | MSR_DIO, "result phase");
    assert!(irq.0.get());
    assert_eq!(results(&mut f), vec![0x00, 0, 0, 3, 0, 1, 2]);
    // Write C3 H1 S18 (EOT 18): one sector of bytes through the FIFO.
    cmd(&mut f, &[0x45, 0x04, 3, 1, 18, 2, 18, 0x1B, 0xFF]);
    assert_eq!(f.read(0x3F4, 1), 0xB0, "MSR: RQM, NON-DMA, CB; the guest writes");
    for i in 0..512u32 {
        f.write(0x3F5, 1, i & 0xFF);
    }
    assert_eq!(results(&mut f), vec![0x04, 0, 0, 4, 1, 1, 2]);
    cmd(&mut f, &[0x03, 0xAF, 0x02]); // back to DMA
    let mut back = Channel::new(512);
    cmd(&mut f, &[0x46, 0x04, 3, 1, 18, 2, 18, 0x1B, 0xFF]);
    f.run_dma(&mut back);
    assert!(back.mem.iter().enumerate().all(|(i, &b)| b == i as u8), "the FIFO's bytes reached the disk");
}
