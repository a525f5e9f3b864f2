//! The drives behind an ATA channel and their IDENTIFY data: a hard disk (IDENTIFY
//! DEVICE, with its CHS geometry and LBA28/LBA48 capacities) or an ATAPI CD-ROM
//! (IDENTIFY PACKET DEVICE). Word numbers follow the ATA/ATAPI-6 specification.

use crate::block::{DiskImage, CD_SECTOR_SIZE, SECTOR_SIZE};

/// The largest sector count LBA28 can address.
pub const LBA28_MAX: u64 = 0x0FFF_FFFF;
/// The largest sector count LBA48 can address.
pub const LBA48_MAX: u64 = (1 << 48) - 1;
/// Default heads of the translated geometry.
const DEFAULT_HEADS: u32 = 16;
/// Default sectors per track.
const DEFAULT_SPT: u32 = 63;
/// The most cylinders IDENTIFY can report.
const MAX_CYLINDERS: u64 = 16383;
/// Sectors per DRQ block the disk allows for READ/WRITE MULTIPLE.
pub const MAX_MULTIPLE: u16 = 16;

/// Which kind of drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveKind {
    /// An ATA hard disk.
    Disk,
    /// An ATAPI CD-ROM.
    Cdrom,
}

/// A cylinder/head/sector geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chs {
    /// Cylinders.
    pub cylinders: u32,
    /// Heads.
    pub heads: u32,
    /// Sectors per track.
    pub sectors: u32,
}

impl Chs {
    /// The default translated geometry for `total` sectors: 16 heads, 63 sectors per
    /// track, as many cylinders as fit (at least 1, at most 16383).
    pub fn for_sectors(total: u64) -> Chs {
        let cyl = (total / (DEFAULT_HEADS * DEFAULT_SPT) as u64).clamp(1, MAX_CYLINDERS);
        Chs { cylinders: cyl as u32, heads: DEFAULT_HEADS, sectors: DEFAULT_SPT }
    }

    /// Sectors the geometry covers.
    pub fn capacity(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64
    }
}

/// SCSI sense data kept by an ATAPI drive for REQUEST SENSE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
}

/// A drive: its image and the per-drive state of the ATA protocol.
#[derive(Debug)]
pub struct Drive {
    /// Disk or CD-ROM.
    pub kind: DriveKind,
    /// The image.
    pub image: DiskImage,
    /// Capacity in the drive's own sectors (512 bytes for a disk, 2048 for a CD).
    pub sectors: u64,
    /// The default geometry (disks).
    pub geometry: Chs,
    /// The current geometry, as INITIALIZE DEVICE PARAMETERS set it.
    pub current: Chs,
    /// Sectors per block for READ/WRITE MULTIPLE (0: disabled).
    pub multiple: u16,
    /// The status register.
    pub status: u8,
    /// The error register.
    pub error: u8,
    /// The transfer mode SET FEATURES selected (0: default PIO).
    pub xfer_mode: u8,
    /// ATAPI sense data.
    pub sense: Sense,
}

impl Drive {
    /// A hard disk on `image` (whose size is a multiple of 512 bytes).
    pub fn disk(image: DiskImage) -> Drive {
        let sectors = (image.len() / SECTOR_SIZE).min(LBA48_MAX);
        let geometry = Chs::for_sectors(sectors);
        Drive::new(DriveKind::Disk, image, sectors, geometry)
    }

    /// A CD-ROM with `image` inserted.
    pub fn cdrom(image: DiskImage) -> Drive {
        let sectors = image.len() / CD_SECTOR_SIZE;
        Drive::new(DriveKind::Cdrom, image, sectors, Chs { cylinders: 0, heads: 0, sectors: 0 })
    }

    fn new(kind: DriveKind, image: DiskImage, sectors: u64, geometry: Chs) -> Drive {
        Drive {
            kind,
            image,
            sectors,
            geometry,
            current: geometry,
            multiple: 0,
            status: 0,
            error: 0,
            xfer_mode: 0,
            sense: Sense::default(),
        }
    }

    /// Whether this is the ATAPI drive.
    pub fn is_atapi(&self) -> bool {
        self.kind == DriveKind::Cdrom
    }

    /// The 512-byte IDENTIFY DEVICE data of a disk.
    pub fn identify_device(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        let g = self.geometry;
        let c = self.current;
        w[0] = 0x0040; // fixed disk
        w[1] = g.cylinders as u16;
        w[3] = g.heads as u16;
        w[6] = g.sectors as u16;
        put_string(&mut w[10..20], "FERRITE-HD0001");
        put_string(&mut w[23..27], "1.0");
        put_string(&mut w[27..47], "FERRITE HARDDISK");
        w[47] = 0x8000 | MAX_MULTIPLE;
        w[49] = (1 << 9) | (1 << 8); // LBA, DMA
        w[50] = 0x4000;
        w[53] = 0x0007; // words 54-58, 64-70 and 88 are valid
        w[54] = c.cylinders as u16;
        w[55] = c.heads as u16;
        w[56] = c.sectors as u16;
        let cur_cap = c.capacity().min(u32::MAX as u64) as u32;
        w[57] = cur_cap as u16;
        w[58] = (cur_cap >> 16) as u16;
        if self.multiple != 0 {
            w[59] = 0x0100 | self.multiple;
        }
        let lba28 = self.sectors.min(LBA28_MAX) as u32;
        w[60] = lba28 as u16;
        w[61] = (lba28 >> 16) as u16;
        self.transfer_modes(&mut w);
        w[80] = 0x007E; // ATA-1 .. ATA-6
        w[82] = 1 << 5; // write cache
        w[83] = 0x4000 | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE (EXT), LBA48
        w[84] = 0x4000;
        w[85] = 1 << 5;
        w[86] = (1 << 13) | (1 << 12) | (1 << 10);
        w[87] = 0x4000;
        for (i, word) in w[100..104].iter_mut().enumerate() {
            *word = (self.sectors >> (16 * i)) as u16;
        }
        words_to_bytes(&w)
    }

    /// The 512-byte IDENTIFY PACKET DEVICE data of the CD-ROM.
    pub fn identify_packet(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        // ATAPI, CD-ROM (type 5), removable, DRQ within 50 us, 12-byte packets.
        w[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5);
        put_string(&mut w[10..20], "FERRITE-CD0001");
        put_string(&mut w[23..27], "1.0");
        put_string(&mut w[27..47], "FERRITE CD-ROM");
        w[49] = (1 << 9) | (1 << 8); // LBA, DMA
        w[53] = 0x0006; // words 64-70 and 88 are valid
        self.transfer_modes(&mut w);
        w[71] = 30;
        w[72] = 30;
        w[80] = 0x001E; // ATA/ATAPI-1..4
        w[82] = 1 << 4; // PACKET feature set
        w[83] = 0x4000;
        w[84] = 0x4000;
        w[85] = 1 << 4;
        w[87] = 0x4000;
        words_to_bytes(&w)
    }

    /// Words 62-70 and 88: multiword DMA 0-2, PIO 3-4, UDMA 0-5 and the selected mode.
    fn transfer_modes(&self, w: &mut [u16; 256]) {
        let mode = self.xfer_mode;
        w[63] = 0x0007;
        if mode >> 3 == 4 {
            w[63] |= 1 << (8 + (mode & 7));
        }
        w[64] = 0x0003;
        w[65] = 120;
        w[66] = 120;
        w[67] = 120;
        w[68] = 120;
        w[88] = 0x003F;
        if mode >> 3 == 8 {
            w[88] |= 1 << (8 + (mode & 7));
        }
    }
}

/// Writes an ATA string: space-padded, two characters per word, first character in the
/// high byte.
fn put_string(words: &mut [u16], s: &str) {
    let mut bytes = s.bytes().chain(std::iter::repeat(b' '));
    for w in words.iter_mut() {
        let hi = bytes.next().unwrap_or(b' ');
        let lo = bytes.next().unwrap_or(b' ');
        *w = u16::from_be_bytes([hi, lo]);
    }
}

fn words_to_bytes(w: &[u16; 256]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(id: &[u8], n: usize) -> u16 {
        u16::from_le_bytes([id[2 * n], id[2 * n + 1]])
    }

    #[test]
    fn test_identify_geometry_and_capacity() {
        let d = Drive::disk(DiskImage::from_bytes(vec![0; 20 * 1024 * 1024], false));
        let id = d.identify_device();
        assert_eq!(id.len(), 512);
        let sectors = 20 * 2048;
        assert_eq!((word(&id, 1), word(&id, 3), word(&id, 6)), (40, 16, 63));
        assert_eq!(word(&id, 60) as u32 | (word(&id, 61) as u32) << 16, sectors);
        assert_eq!(word(&id, 100) as u32 | (word(&id, 101) as u32) << 16, sectors);
        assert_eq!(word(&id, 49) & 0x0200, 0x0200, "LBA supported");
        assert_eq!(word(&id, 83) & 0xC400, 0x4400, "LBA48 supported, word valid");
        assert_eq!(&id[54..62], b"EFRRTI E", "model string is byte-swapped per word");
    }

    #[test]
    fn test_identify_large_disk_caps_lba28_and_chs() {
        let g = Chs::for_sectors(300_000_000);
        assert_eq!(g, Chs { cylinders: 16383, heads: 16, sectors: 63 });
        assert_eq!(Chs::for_sectors(10).cylinders, 1);
    }

    #[test]
    fn test_identify_packet_device() {
        let d = Drive::cdrom(DiskImage::from_bytes(vec![0; 8192], true));
        assert_eq!(d.sectors, 4);
        let id = d.identify_packet();
        assert_eq!(word(&id, 0) >> 14, 2, "ATAPI");
        assert_eq!((word(&id, 0) >> 8) & 0x1F, 5, "CD-ROM");
    }
}
