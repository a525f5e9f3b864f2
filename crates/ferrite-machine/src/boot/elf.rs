//! Just enough ELF to load a 32-bit x86 kernel: the file header and the `PT_LOAD` program
//! headers of a little-endian `ELFCLASS32`, `EM_386`, `ET_EXEC` image.
//!
//! Every field is read with bounds-checked helpers, so a truncated or hostile file gives
//! an [`ElfError`], never a panic.

use std::fmt;

/// The four bytes every ELF file starts with.
pub const ELF_MAGIC: [u8; 4] = [0x7F, b'E', b'L', b'F'];
/// `e_ident[EI_CLASS]`: 32-bit objects.
pub const ELFCLASS32: u8 = 1;
/// `e_ident[EI_CLASS]`: 64-bit objects.
pub const ELFCLASS64: u8 = 2;
/// `e_ident[EI_DATA]`: little-endian.
pub const ELFDATA2LSB: u8 = 1;
/// `e_type`: an executable.
pub const ET_EXEC: u16 = 2;
/// `e_machine`: Intel 80386.
pub const EM_386: u16 = 3;
/// `p_type`: a loadable segment.
pub const PT_LOAD: u32 = 1;

/// Offset of `e_ident[EI_CLASS]`.
const EI_CLASS: usize = 4;
/// Offset of `e_ident[EI_DATA]`.
const EI_DATA: usize = 5;
/// Offsets of the ELF32 file-header fields used here.
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const E_ENTRY: usize = 24;
const E_PHOFF: usize = 28;
const E_PHENTSIZE: usize = 42;
const E_PHNUM: usize = 44;
/// Size of the ELF32 file header.
pub const EHDR32_SIZE: usize = 52;
/// Size of one ELF32 program header.
pub const PHDR32_SIZE: usize = 32;
/// Offsets of the ELF32 program-header fields used here.
const P_TYPE: usize = 0;
const P_OFFSET: usize = 4;
const P_VADDR: usize = 8;
const P_PADDR: usize = 12;
const P_FILESZ: usize = 16;
const P_MEMSZ: usize = 20;

/// Why a file is not a loadable 32-bit x86 ELF executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    NotElf,
    /// An `ELFCLASS64` file (a 64-bit kernel).
    Class64,
    /// An `e_ident[EI_CLASS]` that is neither 32 nor 64 bits.
    BadClass(u8),
    /// A big-endian or unknown data encoding.
    NotLittleEndian(u8),
    /// `e_machine` is not `EM_386`.
    NotI386(u16),
    /// `e_type` is not `ET_EXEC` (a relocatable object, shared object, core file...).
    NotExecutable(u16),
    /// A header or segment reaches past the end of the file.
    Truncated(String),
    /// `e_phentsize` is smaller than an ELF32 program header.
    BadPhentsize(u16),
    /// A `PT_LOAD` segment whose memory size is smaller than its file size.
    MemszBelowFilesz {
        /// Index of the program header.
        index: usize,
    },
    /// No `PT_LOAD` segment with a non-zero memory size.
    NoLoadSegments,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file"),
            ElfError::Class64 => write!(
                f,
                "it is a 64-bit ELF file; multiboot v1 loads only 32-bit ELF kernels \
                 (convert it with objcopy -O elf32-i386 or use the a.out kludge)"
            ),
            ElfError::BadClass(c) => write!(f, "ELF class {c} is neither 32- nor 64-bit"),
            ElfError::NotLittleEndian(d) => write!(f, "ELF data encoding {d} is not little-endian"),
            ElfError::NotI386(m) => write!(f, "ELF machine {m} is not i386 (EM_386 = 3)"),
            ElfError::NotExecutable(t) => write!(f, "ELF type {t} is not an executable (ET_EXEC = 2)"),
            ElfError::Truncated(what) => write!(f, "the ELF file is truncated: {what}"),
            ElfError::BadPhentsize(n) => {
                write!(f, "ELF program header size {n} is smaller than {PHDR32_SIZE} bytes")
            }
            ElfError::MemszBelowFilesz { index } => {
                write!(f, "ELF program header {index}: memory size is smaller than file size")
            }
            ElfError::NoLoadSegments => write!(f, "the ELF file has no loadable (PT_LOAD) segments"),
        }
    }
}

impl std::error::Error for ElfError {}

/// One `PT_LOAD` segment: `filesz` bytes from the file at `offset` go to physical address
/// `paddr`, and the rest up to `memsz` is zeroed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Index of its program header.
    pub index: usize,
    /// File offset of its bytes.
    pub offset: u32,
    /// Virtual address (used only to translate the entry point).
    pub vaddr: u32,
    /// Physical load address.
    pub paddr: u32,
    /// Bytes taken from the file.
    pub filesz: u32,
    /// Bytes in memory (`>= filesz`; the tail is zeroed).
    pub memsz: u32,
}

/// A parsed 32-bit x86 executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf32 {
    /// `e_entry` (a virtual address).
    pub entry: u32,
    /// The loadable segments with a non-zero memory size, in program-header order.
    pub segments: Vec<LoadSegment>,
}

impl Elf32 {
    /// The physical address of the entry point: `e_entry` moved by the offset between
    /// the virtual and physical addresses of the segment that contains it (as GRUB does,
    /// so higher-half kernels with `p_vaddr != p_paddr` start in the right place);
    /// `e_entry` itself when no segment contains it virtually.
    pub fn physical_entry(&self) -> u32 {
        self.segments
            .iter()
            .find(|s| self.entry.wrapping_sub(s.vaddr) < s.memsz)
            .map(|s| s.paddr.wrapping_add(self.entry.wrapping_sub(s.vaddr)))
            .unwrap_or(self.entry)
    }
}

/// Whether `image` starts with the ELF magic.
pub fn is_elf(image: &[u8]) -> bool {
    image.get(..ELF_MAGIC.len()) == Some(&ELF_MAGIC[..])
}

fn u16_at(image: &[u8], off: usize) -> Option<u16> {
    let b = image.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(image: &[u8], off: usize) -> Option<u32> {
    let b = image.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses the file header and program headers of a 32-bit x86 executable and checks
/// that every loadable segment's file bytes lie inside `image`.
pub fn parse(image: &[u8]) -> Result<Elf32, ElfError> {
    if !is_elf(image) {
        return Err(ElfError::NotElf);
    }
    let truncated = |what: &str| ElfError::Truncated(what.to_string());
    match image.get(EI_CLASS).copied() {
        Some(ELFCLASS32) => {}
        Some(ELFCLASS64) => return Err(ElfError::Class64),
        Some(c) => return Err(ElfError::BadClass(c)),
        None => return Err(truncated("no ELF identification")),
    }
    match image.get(EI_DATA).copied() {
        Some(ELFDATA2LSB) => {}
        Some(d) => return Err(ElfError::NotLittleEndian(d)),
        None => return Err(truncated("no ELF identification")),
    }
    if image.len() < EHDR32_SIZE {
        return Err(truncated("the file header is incomplete"));
    }
    let field16 = |off| u16_at(image, off).ok_or_else(|| truncated("the file header is incomplete"));
    let field32 = |off| u32_at(image, off).ok_or_else(|| truncated("the file header is incomplete"));
    let e_type = field16(E_TYPE)?;
    let e_machine = field16(E_MACHINE)?;
    if e_machine != EM_386 {
        return Err(ElfError::NotI386(e_machine));
    }
    if e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(e_type));
    }
    let entry = field32(E_ENTRY)?;
    let phoff = field32(E_PHOFF)? as usize;
    let phentsize = field16(E_PHENTSIZE)?;
    let phnum = field16(E_PHNUM)? as usize;
    if (phentsize as usize) < PHDR32_SIZE {
        return Err(ElfError::BadPhentsize(phentsize));
    }
    let table_end = phnum.checked_mul(phentsize as usize).and_then(|n| n.checked_add(phoff));
    if !matches!(table_end, Some(end) if end <= image.len()) {
        return Err(truncated("the program header table reaches past the end of the file"));
    }
    let mut segments = Vec::new();
    for index in 0..phnum {
        let base = phoff + index * phentsize as usize;
        let ph = |field: usize| {
            u32_at(image, base + field).ok_or_else(|| truncated("the program header table is incomplete"))
        };
        if ph(P_TYPE)? != PT_LOAD {
            continue;
        }
        let seg = LoadSegment {
            index,
            offset: ph(P_OFFSET)?,
            vaddr: ph(P_VADDR)?,
            paddr: ph(P_PADDR)?,
            filesz: ph(P_FILESZ)?,
            memsz: ph(P_MEMSZ)?,
        };
        if seg.memsz < seg.filesz {
            return Err(ElfError::MemszBelowFilesz { index });
        }
        let file_end = (seg.offset as u64) + (seg.filesz as u64);
        if file_end > image.len() as u64 {
            return Err(ElfError::Truncated(format!(
                "segment {index} needs file bytes {:#x}..{file_end:#x} but the file is {:#x} bytes",
                seg.offset,
                image.len()
            )));
        }
        if seg.memsz != 0 {
            segments.push(seg);
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }
    Ok(Elf32 { entry, segments })
}

/// Builds ELF32 images for tests: one `PT_LOAD` segment per `(paddr, vaddr, bytes,
/// memsz)` and the given entry point.
#[cfg(test)]
pub(crate) fn build_test_elf(entry: u32, segments: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let phoff = EHDR32_SIZE;
    let data_start = phoff + segments.len() * PHDR32_SIZE;
    let mut image = vec![0u8; data_start];
    image[..4].copy_from_slice(&ELF_MAGIC);
    image[EI_CLASS] = ELFCLASS32;
    image[EI_DATA] = ELFDATA2LSB;
    image[6] = 1; // EI_VERSION
    image[E_TYPE..E_TYPE + 2].copy_from_slice(&ET_EXEC.to_le_bytes());
    image[E_MACHINE..E_MACHINE + 2].copy_from_slice(&EM_386.to_le_bytes());
    image[20..24].copy_from_slice(&1u32.to_le_bytes()); // e_version
    image[E_ENTRY..E_ENTRY + 4].copy_from_slice(&entry.to_le_bytes());
    image[E_PHOFF..E_PHOFF + 4].copy_from_slice(&(phoff as u32).to_le_bytes());
    image[40..42].copy_from_slice(&(EHDR32_SIZE as u16).to_le_bytes()); // e_ehsize
    image[E_PHENTSIZE..E_PHENTSIZE + 2].copy_from_slice(&(PHDR32_SIZE as u16).to_le_bytes());
    image[E_PHNUM..E_PHNUM + 2].copy_from_slice(&(segments.len() as u16).to_le_bytes());
    for (i, &(paddr, vaddr, bytes, memsz)) in segments.iter().enumerate() {
        let offset = image.len() as u32;
        image.extend_from_slice(bytes);
        let ph = phoff + i * PHDR32_SIZE;
        let fields = [PT_LOAD, offset, vaddr, paddr, bytes.len() as u32, memsz, 7, 4];
        for (j, v) in fields.iter().enumerate() {
            image[ph + 4 * j..ph + 4 * j + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_one_segment() {
        let image = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0x90, 0xF4], 0x100)]);
        let elf = parse(&image).unwrap();
        assert_eq!(elf.entry, 0x10_0000);
        assert_eq!(elf.segments.len(), 1);
        let s = elf.segments[0];
        assert_eq!((s.paddr, s.filesz, s.memsz), (0x10_0000, 2, 0x100));
        assert_eq!(&image[s.offset as usize..s.offset as usize + 2], &[0x90, 0xF4]);
        assert_eq!(elf.physical_entry(), 0x10_0000);
    }

    #[test]
    fn test_higher_half_entry_is_translated() {
        let image = build_test_elf(0xC010_0010, &[(0x10_0000, 0xC010_0000, &[0x90; 32], 32)]);
        assert_eq!(parse(&image).unwrap().physical_entry(), 0x10_0010);
    }

    #[test]
    fn test_rejects_bad_identification() {
        let good = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0xF4], 1)]);
        assert_eq!(parse(b"MZ\x90\x00"), Err(ElfError::NotElf));
        let mut e64 = good.clone();
        e64[EI_CLASS] = ELFCLASS64;
        assert_eq!(parse(&e64), Err(ElfError::Class64));
        let mut odd = good.clone();
        odd[EI_CLASS] = 9;
        assert_eq!(parse(&odd), Err(ElfError::BadClass(9)));
        let mut be = good.clone();
        be[EI_DATA] = 2;
        assert_eq!(parse(&be), Err(ElfError::NotLittleEndian(2)));
        let mut arm = good.clone();
        arm[E_MACHINE] = 40;
        assert_eq!(parse(&arm), Err(ElfError::NotI386(40)));
        let mut rel = good.clone();
        rel[E_TYPE] = 1;
        assert_eq!(parse(&rel), Err(ElfError::NotExecutable(1)));
        assert!(matches!(parse(&good[..4]), Err(ElfError::Truncated(_))));
    }

    #[test]
    fn test_every_truncation_is_an_error() {
        let good = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0x90; 16], 16)]);
        for len in 0..good.len() {
            assert!(parse(&good[..len]).is_err(), "truncated to {len} bytes");
        }
        assert!(parse(&good).is_ok());
    }

    #[test]
    fn test_rejects_bad_segments() {
        let mut image = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0x90; 16], 16)]);
        let memsz = EHDR32_SIZE + P_MEMSZ;
        image[memsz..memsz + 4].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(parse(&image), Err(ElfError::MemszBelowFilesz { index: 0 }));
        let mut image = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0x90; 16], 16)]);
        let off = EHDR32_SIZE + P_OFFSET;
        image[off..off + 4].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
        assert!(matches!(parse(&image), Err(ElfError::Truncated(_))));
        let mut image = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[], 0)]);
        assert_eq!(parse(&image), Err(ElfError::NoLoadSegments));
        image[E_PHENTSIZE] = 8;
        assert_eq!(parse(&image), Err(ElfError::BadPhentsize(8)));
        let mut image = build_test_elf(0x10_0000, &[(0x10_0000, 0x10_0000, &[0x90; 16], 16)]);
        image[E_PHNUM..E_PHNUM + 2].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(matches!(parse(&image), Err(ElfError::Truncated(_))));
    }
}
