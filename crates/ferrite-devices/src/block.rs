//! Disk images behind the storage devices: a raw image file (or, for tests, bytes in
//! memory) read and written at byte offsets.
//!
//! A hard-disk image is opened read-write and must be a non-empty multiple of 512 bytes;
//! a CD-ROM image is opened read-only and must hold at least one 2048-byte sector. Writes
//! reach the file when the guest makes them ([`DiskImage::flush`] syncs it at the end of
//! a run). With a snapshot overlay ([`DiskImage::open`] with `snapshot`), the file is
//! opened read-only and every write goes to an in-memory overlay of 512-byte blocks, so
//! the image is never changed. Nothing here truncates or extends an image: a transfer
//! beyond its end is refused.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A hard-disk sector.
pub const SECTOR_SIZE: u64 = 512;
/// A CD-ROM sector.
pub const CD_SECTOR_SIZE: u64 = 2048;
/// The overlay's block size (one hard-disk sector).
const OVERLAY_BLOCK: u64 = SECTOR_SIZE;

/// What kind of drive an image is for; it decides the checks and the open mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A hard disk: read-write, a non-empty multiple of 512 bytes.
    HardDisk,
    /// A CD-ROM (ISO 9660 image): read-only, at least one 2048-byte sector.
    Cdrom,
}

/// Why an image cannot be used. The message names the file.
#[derive(Debug)]
pub enum BlockError {
    /// The file could not be opened or its size read.
    Open {
        /// The path as given.
        path: String,
        /// What the host said.
        error: io::Error,
    },
    /// The file is empty.
    Empty {
        /// The path as given.
        path: String,
    },
    /// The size is not a whole number of sectors (or less than one CD sector).
    BadSize {
        /// The path as given.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The sector size it must be a multiple of.
        sector: u64,
    },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::Open { path, error } => write!(f, "cannot open disk image {path}: {error}"),
            BlockError::Empty { path } => write!(f, "disk image {path} is empty"),
            BlockError::BadSize { path, size, sector } if *sector == CD_SECTOR_SIZE => {
                write!(f, "CD-ROM image {path} is {size} bytes, smaller than one {sector}-byte sector")
            }
            BlockError::BadSize { path, size, sector } => write!(
                f,
                "disk image {path} is {size} bytes, not a multiple of {sector}-byte sectors (refusing to pad or truncate it)"
            ),
        }
    }
}

impl std::error::Error for BlockError {}

enum Backing {
    File(File),
    Memory(Vec<u8>),
}

/// A disk image: reads and writes at byte offsets, bounds-checked against its size.
pub struct DiskImage {
    backing: Backing,
    len: u64,
    read_only: bool,
    /// Written blocks when the image must stay untouched (`--snapshot`).
    overlay: Option<HashMap<u64, Box<[u8]>>>,
}

impl fmt::Debug for DiskImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskImage")
            .field("len", &self.len)
            .field("read_only", &self.read_only)
            .field("snapshot", &self.overlay.is_some())
            .finish()
    }
}

impl DiskImage {
    /// Opens `path` for a drive of `kind`: read-write for a hard disk without `snapshot`,
    /// read-only otherwise. Refuses missing, unreadable, empty and odd-sized files.
    pub fn open(path: &Path, kind: MediaKind, snapshot: bool) -> Result<DiskImage, BlockError> {
        let name = path.display().to_string();
        let open_err = |error| BlockError::Open { path: name.clone(), error };
        let writable = kind == MediaKind::HardDisk && !snapshot;
        let file = OpenOptions::new().read(true).write(writable).open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(open_err(io::Error::new(io::ErrorKind::InvalidInput, "it is a directory")));
        }
        let len = meta.len();
        check_size(&name, len, kind)?;
        let overlay = (kind == MediaKind::HardDisk && snapshot).then(HashMap::new);
        Ok(DiskImage { backing: Backing::File(file), len, read_only: kind == MediaKind::Cdrom, overlay })
    }

    /// An image held in memory (tests, and images built on the fly); `read_only` refuses
    /// writes as a CD does.
    pub fn from_bytes(bytes: Vec<u8>, read_only: bool) -> DiskImage {
        let len = bytes.len() as u64;
        DiskImage { backing: Backing::Memory(bytes), len, read_only, overlay: None }
    }

    /// Sends every later write to an in-memory overlay, leaving the backing untouched.
    pub fn with_overlay(mut self) -> DiskImage {
        self.overlay.get_or_insert_with(HashMap::new);
        self
    }

    /// The image size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image has no bytes (never true for an opened file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Reads `buf.len()` bytes at `offset`. Fails (and reads nothing) past the end.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        self.read_backing(offset, buf)?;
        if let Some(overlay) = &self.overlay {
            if !overlay.is_empty() {
                apply_overlay(overlay, offset, buf);
            }
        }
        Ok(())
    }

    /// Writes `data` at `offset`: to the file, or to the overlay in snapshot mode. Fails
    /// past the end and on a read-only image.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check_range(offset, data.len())?;
        if self.read_only {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the image is read-only"));
        }
        if self.overlay.is_some() {
            return self.write_overlay(offset, data);
        }
        match &mut self.backing {
            Backing::File(f) => {
                f.seek(SeekFrom::Start(offset))?;
                f.write_all(data)
            }
            Backing::Memory(m) => {
                m[offset as usize..offset as usize + data.len()].copy_from_slice(data);
                Ok(())
            }
        }
    }

    /// Makes written data durable (a no-op for read-only and snapshot images).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.backing {
            Backing::File(f) if !self.read_only && self.overlay.is_none() => f.sync_data(),
            _ => Ok(()),
        }
    }

    fn check_range(&self, offset: u64, len: usize) -> io::Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "access beyond the end of the image")),
        }
    }

    fn read_backing(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match &mut self.backing {
            Backing::File(f) => {
                f.seek(SeekFrom::Start(offset))?;
                f.read_exact(buf)
            }
            Backing::Memory(m) => {
                buf.copy_from_slice(&m[offset as usize..offset as usize + buf.len()]);
                Ok(())
            }
        }
    }

    fn write_overlay(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let block = pos / OVERLAY_BLOCK;
            let within = (pos % OVERLAY_BLOCK) as usize;
            let n = (OVERLAY_BLOCK as usize - within).min(data.len() - done);
            let start = block * OVERLAY_BLOCK;
            let have = self.overlay.as_ref().is_some_and(|o| o.contains_key(&block));
            if !have {
                let size = (self.len - start).min(OVERLAY_BLOCK) as usize;
                let mut fresh = vec![0u8; size];
                self.read_backing(start, &mut fresh)?;
                if let Some(o) = self.overlay.as_mut() {
                    o.insert(block, fresh.into_boxed_slice());
                }
            }
            if let Some(b) = self.overlay.as_mut().and_then(|o| o.get_mut(&block)) {
                b[within..within + n].copy_from_slice(&data[done..done + n]);
            }
            done += n;
        }
        Ok(())
    }
}

/// Copies the overlay's blocks over `buf`, which holds the backing bytes at `offset`.
fn apply_overlay(overlay: &HashMap<u64, Box<[u8]>>, offset: u64, buf: &mut [u8]) {
    let end = offset + buf.len() as u64;
    let mut block = offset / OVERLAY_BLOCK;
    while block * OVERLAY_BLOCK < end {
        if let Some(data) = overlay.get(&block) {
            let start = block * OVERLAY_BLOCK;
            let lo = start.max(offset);
            let hi = (start + data.len() as u64).min(end);
            if lo < hi {
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&data[(lo - start) as usize..(hi - start) as usize]);
            }
        }
        block += 1;
    }
}

fn check_size(path: &str, len: u64, kind: MediaKind) -> Result<(), BlockError> {
    if len == 0 {
        return Err(BlockError::Empty { path: path.to_string() });
    }
    let bad = |sector| BlockError::BadSize { path: path.to_string(), size: len, sector };
    match kind {
        MediaKind::HardDisk if len % SECTOR_SIZE != 0 => Err(bad(SECTOR_SIZE)),
        MediaKind::Cdrom if len < CD_SECTOR_SIZE => Err(bad(CD_SECTOR_SIZE)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("ferrite-block-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn test_block_reads_and_writes_reach_the_file() {
        let path = temp_file("rw.img", &[7u8; 1024]);
        let mut d = DiskImage::open(&path, MediaKind::HardDisk, false).unwrap();
        assert_eq!(d.len(), 1024);
        d.write_at(510, &[0x55, 0xAA]).unwrap();
        d.flush().unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[510..512], &[0x55, 0xAA]);
        let mut buf = [0u8; 4];
        d.read_at(509, &mut buf).unwrap();
        assert_eq!(buf, [7, 0x55, 0xAA, 7]);
        assert!(d.read_at(1022, &mut buf).is_err(), "past the end");
        assert!(d.write_at(u64::MAX, &[1]).is_err());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn test_block_snapshot_keeps_the_file() {
        let path = temp_file("snap.img", &[1u8; 1536]);
        let mut d = DiskImage::open(&path, MediaKind::HardDisk, true).unwrap();
        d.write_at(500, &[9u8; 30]).unwrap();
        let mut buf = [0u8; 40];
        d.read_at(495, &mut buf).unwrap();
        assert_eq!(&buf[..5], &[1; 5]);
        assert_eq!(&buf[5..35], &[9; 30]);
        assert_eq!(&buf[35..], &[1; 5]);
        d.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), vec![1u8; 1536], "the image is untouched");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn test_block_refuses_bad_images() {
        let missing = std::env::temp_dir().join("ferrite-block-no-such-file.img");
        let e = DiskImage::open(&missing, MediaKind::HardDisk, false).unwrap_err();
        assert!(e.to_string().starts_with("cannot open disk image"), "{e}");
        let empty = temp_file("empty.img", &[]);
        let e = DiskImage::open(&empty, MediaKind::HardDisk, false).unwrap_err();
        assert!(e.to_string().ends_with("is empty"), "{e}");
        let odd = temp_file("odd.img", &[0u8; 1000]);
        let e = DiskImage::open(&odd, MediaKind::HardDisk, false).unwrap_err();
        assert!(e.to_string().contains("not a multiple of 512-byte sectors"), "{e}");
        assert_eq!(std::fs::metadata(&odd).unwrap().len(), 1000, "never truncated");
        let e = DiskImage::open(&odd, MediaKind::Cdrom, false).unwrap_err();
        assert!(e.to_string().contains("smaller than one 2048-byte sector"), "{e}");
        for p in [empty, odd] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn test_block_cdrom_is_read_only() {
        let mut d = DiskImage::from_bytes(vec![0; 4096], true);
        assert!(d.write_at(0, &[1]).is_err());
        let mut m = DiskImage::from_bytes(vec![0; 1024], false).with_overlay();
        m.write_at(1023, &[5]).unwrap();
        let mut b = [0u8; 2];
        m.read_at(1022, &mut b).unwrap();
        assert_eq!(b, [0, 5]);
    }
}
