//! Multiboot v1 (specification 0.6.96): boot a bare-metal kernel without a BIOS.
//!
//! [`prepare`] finds the multiboot header in the first [`HEADER_SEARCH_LEN`] bytes of the
//! file, works out what goes where — the kernel's segments (from the a.out-kludge
//! addresses when header flag bit 16 is set, else from the ELF32 program headers at their
//! physical addresses), an optional module (`--initrd`), and ferrite's own boot area with
//! the GDT and the multiboot information structure — and checks every byte of it lands in
//! usable RAM. [`LoadPlan::apply`] then writes it all into guest memory and puts the CPU
//! in the state the specification promises. The machine keeps the plan and applies it
//! again after every reset, as QEMU re-runs its multiboot loader on reset.
//!
//! # Guest memory layout
//!
//! | physical range | contents |
//! |---|---|
//! | `0x00000..0x08000` | free; ESP starts at [`BOOT_STACK_TOP`] (0x8000), so a kernel can push before setting up its own stack |
//! | `0x08000..0x08018` | the GDT: null, flat 32-bit code (selector [`CODE_SELECTOR`]), flat 32-bit data ([`DATA_SELECTOR`]); GDTR points here |
//! | `0x09000..0x09080` | the multiboot information structure (EBX) |
//! | `0x09100..`        | the memory map (info flag bit 6) |
//! | `0x09200..0x09210` | the module list (bit 3): zero or one entry |
//! | `0x09300..`        | the boot loader name, `"ferrite"` (bit 9) |
//! | `0x0A000..0x0C000` | the kernel command line (bit 2), at most [`MAX_STRING`] bytes with its NUL |
//! | `0x0C000..0x0E000` | the module's string |
//! | `0x10000..0x9FC00` | free for the kernel (low memory) |
//! | `0x9FC00..0x100000` | reserved: EBDA, video memory, BIOS (the BIOS image stays mapped) |
//! | `0x100000..`       | free for the kernel (upper memory); the module goes on the first page boundary after the kernel |
//!
//! The kernel and the module must fit in the two free ranges; anything else (below
//! 0x10000, in the reserved hole, beyond RAM) is refused with a message naming the
//! range, so a kernel can never overwrite its own boot information.
//!
//! # Machine state at the entry point
//!
//! EAX = [`BOOTLOADER_MAGIC`], EBX = [`INFO_ADDR`], ESP = [`BOOT_STACK_TOP`], EIP = the
//! entry; CS = 0x08 (base 0, limit 4 GiB, 32-bit, execute/read), DS = ES = FS = GS = SS
//! = 0x10 (base 0, limit 4 GiB, 32-bit, read/write); CR0 = PE | ET (paging off);
//! EFLAGS = 0x2 (IF = 0, VM = 0); A20 open; IDTR = base 0, limit 0 (the kernel must load
//! its own IDT before enabling interrupts).

use super::elf::{self, ElfError};
use super::{copy_to_ram, enter_flat_protected_mode, FlatEntry};
use ferrite_cpu::{Cpu, Gpr};
use ferrite_mem::PhysMem;
use std::fmt;

/// The magic number that starts a multiboot header.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// The value EAX holds when the kernel is entered.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// The header must lie entirely within this many bytes from the start of the file.
pub const HEADER_SEARCH_LEN: usize = 8192;
/// The header is aligned to this many bytes.
pub const HEADER_ALIGN: usize = 4;
/// Size of the header fields up to the checksum.
const HEADER_BASE_LEN: usize = 12;
/// Size of the header including the a.out-kludge address fields.
const HEADER_AOUT_LEN: usize = 32;

/// Header flag: align modules on 4 KiB boundaries (ferrite always does).
pub const HF_PAGE_ALIGN: u32 = 1 << 0;
/// Header flag: the kernel needs `mem_lower`/`mem_upper` and the memory map (always given).
pub const HF_MEMORY_INFO: u32 = 1 << 1;
/// Header flag: the kernel would like a video mode. ferrite has no display yet, so the
/// request is ignored and the info structure carries no video fields, as the
/// specification allows for a preference.
pub const HF_VIDEO_MODE: u32 = 1 << 2;
/// Header flag: the a.out-kludge address fields are valid; load from them, not from ELF.
pub const HF_AOUT_KLUDGE: u32 = 1 << 16;
/// Header flags 0..=15 are requirements: a loader that does not know one must refuse.
const HF_REQUIRED_MASK: u32 = 0xFFFF;
/// The requirement bits ferrite knows.
const HF_KNOWN: u32 = HF_PAGE_ALIGN | HF_MEMORY_INFO | HF_VIDEO_MODE;

/// Info flag: `mem_lower` and `mem_upper` are valid.
pub const INFO_MEMORY: u32 = 1 << 0;
/// Info flag: `cmdline` is valid.
pub const INFO_CMDLINE: u32 = 1 << 2;
/// Info flag: `mods_count` and `mods_addr` are valid.
pub const INFO_MODS: u32 = 1 << 3;
/// Info flag: `mmap_length` and `mmap_addr` are valid.
pub const INFO_MEM_MAP: u32 = 1 << 6;
/// Info flag: `boot_loader_name` is valid.
pub const INFO_LOADER_NAME: u32 = 1 << 9;

/// Offsets of the info-structure fields ferrite fills.
pub const INFO_FLAGS: usize = 0;
/// Offset of `mem_lower` (KiB of memory from 0).
pub const INFO_MEM_LOWER: usize = 4;
/// Offset of `mem_upper` (KiB of memory from 1 MiB).
pub const INFO_MEM_UPPER: usize = 8;
/// Offset of `cmdline` (physical address of a NUL-terminated string).
pub const INFO_CMDLINE_ADDR: usize = 16;
/// Offset of `mods_count`.
pub const INFO_MODS_COUNT: usize = 20;
/// Offset of `mods_addr`.
pub const INFO_MODS_ADDR: usize = 24;
/// Offset of `mmap_length` (bytes).
pub const INFO_MMAP_LENGTH: usize = 44;
/// Offset of `mmap_addr`.
pub const INFO_MMAP_ADDR: usize = 48;
/// Offset of `boot_loader_name`.
pub const INFO_LOADER_NAME_ADDR: usize = 64;
/// Bytes reserved for the info structure (the specification's 116 rounded up; all
/// fields ferrite does not fill are zero).
pub const INFO_SIZE: usize = 128;

/// Memory-map entry type: RAM the OS may use.
pub const MMAP_AVAILABLE: u32 = 1;
/// Memory-map entry type: reserved.
pub const MMAP_RESERVED: u32 = 2;
/// Bytes of one memory-map entry including its leading `size` field.
pub const MMAP_ENTRY_LEN: usize = 24;
/// The `size` field of a memory-map entry: the entry's length without the field itself.
const MMAP_ENTRY_SIZE_FIELD: u32 = 20;
/// Bytes of one module-list entry (`mod_start`, `mod_end`, `string`, reserved).
pub const MODULE_ENTRY_LEN: usize = 16;

/// Where ESP points at entry (the stack grows down into free low memory).
pub const BOOT_STACK_TOP: u32 = 0x8000;
/// Start of ferrite's boot area: everything from here to [`BOOT_AREA_END`] is written by
/// the loader.
pub const BOOT_AREA_START: u32 = 0x8000;
/// The GDT (three descriptors).
pub const GDT_ADDR: u32 = 0x8000;
/// The multiboot information structure (EBX).
pub const INFO_ADDR: u32 = 0x9000;
/// The memory map.
pub const MMAP_ADDR: u32 = 0x9100;
/// The module list.
pub const MODS_ADDR: u32 = 0x9200;
/// The boot loader name.
pub const LOADER_NAME_ADDR: u32 = 0x9300;
/// The kernel command line.
pub const CMDLINE_ADDR: u32 = 0xA000;
/// The module's string.
pub const MODULE_STRING_ADDR: u32 = 0xC000;
/// The longest command line or module string, with its NUL.
pub const MAX_STRING: usize = 0x2000;
/// End of ferrite's boot area; the kernel may load from here.
pub const BOOT_AREA_END: u32 = 0x1_0000;
/// End of conventional memory (the EBDA sits above it on a PC).
pub const LOW_RAM_END: u32 = 0x9_FC00;
/// Start of upper memory.
pub const HIGH_MEMORY: u32 = 0x10_0000;
/// What the loader calls itself in the info structure.
pub const LOADER_NAME: &str = "ferrite";
/// Modules start on a page boundary.
const MODULE_ALIGN: u64 = 4096;

/// The code selector in CS at entry (GDT entry 1).
pub const CODE_SELECTOR: u16 = 0x08;
/// The data selector in DS, ES, FS, GS and SS at entry (GDT entry 2).
pub const DATA_SELECTOR: u16 = 0x10;
/// Attributes of the flat code segment: present, DPL 0, execute/read, accessed; 32-bit,
/// 4 KiB granularity.
pub const CODE_ATTRS: u16 = 0xC09B;
/// Attributes of the flat data segments: present, DPL 0, read/write, accessed; 32-bit,
/// 4 KiB granularity.
pub const DATA_ATTRS: u16 = 0xC093;
/// The GDT's descriptors: null, flat code, flat data (base 0, limit 0xFFFFF pages).
pub const GDT: [u64; 3] = [0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
/// CR0 at entry: protection enabled, ET set (an x87 is present), paging off.
pub const ENTRY_CR0: u32 = 0x11;

/// What the CLI hands over: the kernel file and what to tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBoot {
    /// The whole kernel file.
    pub image: Vec<u8>,
    /// The command line given to the kernel (by convention its path, then `--append`).
    pub cmdline: String,
    /// One module to load after the kernel (`--initrd`).
    pub module: Option<BootModule>,
}

/// A boot module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootModule {
    /// Its bytes.
    pub data: Vec<u8>,
    /// The string the module list shows for it (by convention its path).
    pub string: String,
}

/// The a.out-kludge address fields of a header (flag bit 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AoutKludge {
    /// Physical address of the header itself.
    pub header_addr: u32,
    /// Physical address of the first byte loaded.
    pub load_addr: u32,
    /// End of the loaded bytes (0: to the end of the file).
    pub load_end_addr: u32,
    /// End of the zeroed BSS after them (0: none).
    pub bss_end_addr: u32,
    /// Entry point.
    pub entry_addr: u32,
}

/// A multiboot header found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// File offset of the magic.
    pub offset: usize,
    /// The flags word.
    pub flags: u32,
    /// The address fields, when flag bit 16 is set.
    pub aout: Option<AoutKludge>,
}

/// Why a file cannot be booted the multiboot way. Messages are one line and do not
/// name the file (the caller does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultibootError {
    /// No header, and the file is not anything else ferrite recognises.
    NoHeader,
    /// No header, but the file is a Linux boot-protocol kernel.
    LinuxKernel,
    /// A magic number with a checksum that does not add up (and no valid header).
    BadChecksum {
        /// File offset of the magic.
        offset: usize,
    },
    /// The header is cut off by the end of the file.
    TruncatedHeader {
        /// File offset of the magic.
        offset: usize,
    },
    /// Requirement flags (bits 0..=15) that ferrite does not know.
    UnsupportedFlags(u32),
    /// Inconsistent a.out-kludge addresses.
    BadKludge(String),
    /// Flag bit 16 is clear and the ELF file cannot be loaded.
    Elf(ElfError),
    /// Flag bit 16 is clear and the file is not ELF.
    NotElfNoKludge,
    /// Something would land outside usable RAM.
    Placement(String),
    /// The entry point is not inside the loaded image.
    EntryOutside(u32),
    /// A command line or module string longer than [`MAX_STRING`] - 1 bytes or holding NUL.
    BadString(&'static str),
}

impl fmt::Display for MultibootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultibootError::NoHeader => {
                write!(f, "not a multiboot kernel (no multiboot header in its first {HEADER_SEARCH_LEN} bytes)")
            }
            MultibootError::LinuxKernel => write!(
                f,
                "it is a Linux kernel (bzImage), not a multiboot kernel; boot it through \
                 boot::linux (ferrite run --kernel picks that path by itself)"
            ),
            MultibootError::BadChecksum { offset } => {
                write!(f, "the multiboot header at offset {offset:#x} has a bad checksum")
            }
            MultibootError::TruncatedHeader { offset } => {
                write!(f, "the multiboot header at offset {offset:#x} is cut off by the end of the file")
            }
            MultibootError::UnsupportedFlags(bits) => {
                write!(f, "the multiboot header requires features ferrite does not support (flags {bits:#06x})")
            }
            MultibootError::BadKludge(why) => write!(f, "bad a.out-kludge addresses in the multiboot header: {why}"),
            MultibootError::Elf(e) => e.fmt(f),
            MultibootError::NotElfNoKludge => {
                write!(f, "the multiboot header has no load addresses (flags bit 16 clear) and the file is not ELF")
            }
            MultibootError::Placement(why) => why.fmt(f),
            MultibootError::EntryOutside(entry) => {
                write!(f, "the entry point {entry:#010x} is outside the loaded image")
            }
            MultibootError::BadString(what) => {
                write!(f, "the {what} is longer than {} bytes or contains a NUL byte", MAX_STRING - 1)
            }
        }
    }
}

impl std::error::Error for MultibootError {}

impl From<ElfError> for MultibootError {
    fn from(e: ElfError) -> Self {
        MultibootError::Elf(e)
    }
}

fn u32_at(image: &[u8], off: usize) -> Option<u32> {
    let b = image.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Offset of the Linux boot-protocol signature `HdrS`.
const LINUX_HDRS_OFFSET: usize = 0x202;
/// The Linux boot-protocol signature.
const LINUX_HDRS: &[u8; 4] = b"HdrS";

/// Whether `image` looks like a Linux kernel using the x86 boot protocol.
pub fn is_linux_kernel(image: &[u8]) -> bool {
    image.get(LINUX_HDRS_OFFSET..LINUX_HDRS_OFFSET + LINUX_HDRS.len()) == Some(&LINUX_HDRS[..])
}

/// Finds the multiboot header: the first 4-byte-aligned magic in the first
/// [`HEADER_SEARCH_LEN`] bytes whose checksum adds up.
pub fn find_header(image: &[u8]) -> Result<Header, MultibootError> {
    let mut bad_checksum = None;
    let search_end = image.len().min(HEADER_SEARCH_LEN);
    for offset in (0..search_end).step_by(HEADER_ALIGN) {
        if u32_at(image, offset) != Some(HEADER_MAGIC) {
            continue;
        }
        let (Some(flags), Some(checksum)) = (u32_at(image, offset + 4), u32_at(image, offset + 8)) else {
            return Err(MultibootError::TruncatedHeader { offset });
        };
        if HEADER_MAGIC.wrapping_add(flags).wrapping_add(checksum) != 0 {
            bad_checksum.get_or_insert(offset);
            continue;
        }
        let aout = if flags & HF_AOUT_KLUDGE != 0 {
            let field = |i: usize| u32_at(image, offset + HEADER_BASE_LEN + 4 * i);
            match (field(0), field(1), field(2), field(3), field(4)) {
                (Some(header_addr), Some(load_addr), Some(load_end_addr), Some(bss_end_addr), Some(entry_addr)) => {
                    Some(AoutKludge { header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr })
                }
                _ => return Err(MultibootError::TruncatedHeader { offset }),
            }
        } else {
            None
        };
        debug_assert!(offset + if aout.is_some() { HEADER_AOUT_LEN } else { HEADER_BASE_LEN } <= image.len());
        return Ok(Header { offset, flags, aout });
    }
    Err(match bad_checksum {
        Some(offset) => MultibootError::BadChecksum { offset },
        None if is_linux_kernel(image) => MultibootError::LinuxKernel,
        None => MultibootError::NoHeader,
    })
}

/// Bytes copied from the kernel file to guest memory, then zeroes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    /// Physical address of the first byte.
    addr: u32,
    /// File offset of the bytes.
    file_offset: usize,
    /// Bytes copied from the file.
    file_len: usize,
    /// Zero bytes after them.
    zero_len: usize,
}

/// Everything a multiboot boot writes into the machine, checked and ready to apply (and
/// to apply again after a reset).
#[derive(Debug, Clone)]
pub struct LoadPlan {
    image: Vec<u8>,
    chunks: Vec<Chunk>,
    boot_area: Vec<u8>,
    module: Option<(u32, Vec<u8>)>,
    /// The entry point (physical; paging is off).
    pub entry: u32,
    /// Lowest and one-past-highest physical address of the kernel image.
    pub kernel_range: (u32, u32),
    /// Where the module landed and how long it is.
    pub module_range: Option<(u32, u32)>,
}

/// The usable RAM ranges and the reserved area of the machine the kernel boots on.
#[derive(Debug, Clone, Copy)]
struct MemoryLayout {
    ram_size: u32,
    /// Start of the BIOS window below 1 MiB.
    bios_low_start: u32,
    /// Size of the BIOS image (mapped again just below 4 GiB).
    bios_len: u32,
}

impl MemoryLayout {
    /// Checks that `[start, start + len)` lies in the free low or upper memory.
    fn check(&self, what: &str, start: u32, len: u64) -> Result<(), MultibootError> {
        if len == 0 {
            return Ok(());
        }
        let start64 = start as u64;
        let end = start64 + len;
        let range = format!("{what} at {start64:#x}..{end:#x}");
        let ram = self.ram_size as u64;
        if end > ram {
            return Err(MultibootError::Placement(format!(
                "{range} does not fit in guest RAM (0..{ram:#x}; a larger -m may help)"
            )));
        }
        if start64 < BOOT_AREA_END as u64 {
            return Err(MultibootError::Placement(format!(
                "{range} overlaps ferrite's multiboot area 0x0..{BOOT_AREA_END:#x} (GDT, info structure, \
                 command line)"
            )));
        }
        if start64 < HIGH_MEMORY as u64 && end > LOW_RAM_END as u64 {
            return Err(MultibootError::Placement(format!(
                "{range} overlaps the reserved area {LOW_RAM_END:#x}..{HIGH_MEMORY:#x} (EBDA, video memory, BIOS)"
            )));
        }
        Ok(())
    }

    /// The memory map: `(base, length, type)` per entry.
    fn memory_map(&self) -> Vec<(u64, u64, u32)> {
        let mut map = vec![
            (0, LOW_RAM_END as u64, MMAP_AVAILABLE),
            (LOW_RAM_END as u64, 0xA_0000 - LOW_RAM_END as u64, MMAP_RESERVED),
        ];
        if self.bios_len != 0 {
            map.push((self.bios_low_start as u64, (HIGH_MEMORY - self.bios_low_start) as u64, MMAP_RESERVED));
        }
        if self.ram_size > HIGH_MEMORY {
            map.push((HIGH_MEMORY as u64, (self.ram_size - HIGH_MEMORY) as u64, MMAP_AVAILABLE));
        }
        if self.bios_len != 0 {
            map.push(((1u64 << 32) - self.bios_len as u64, self.bios_len as u64, MMAP_RESERVED));
        }
        map
    }
}

/// Works out the loads for the kernel image: `(chunks, entry)`.
fn kernel_chunks(image: &[u8], header: &Header) -> Result<(Vec<Chunk>, u32), MultibootError> {
    if let Some(k) = header.aout {
        let bad = |why: String| Err(MultibootError::BadKludge(why));
        if k.load_addr > k.header_addr {
            return bad(format!("load_addr {:#x} is above header_addr {:#x}", k.load_addr, k.header_addr));
        }
        let lead = (k.header_addr - k.load_addr) as usize;
        let Some(file_offset) = header.offset.checked_sub(lead) else {
            return bad(format!(
                "header_addr - load_addr = {lead:#x} reaches before the start of the file (header at offset {:#x})",
                header.offset
            ));
        };
        let file_len = if k.load_end_addr == 0 {
            image.len() - file_offset
        } else {
            if k.load_end_addr < k.load_addr {
                return bad(format!("load_end_addr {:#x} is below load_addr {:#x}", k.load_end_addr, k.load_addr));
            }
            (k.load_end_addr - k.load_addr) as usize
        };
        if !matches!(file_offset.checked_add(file_len), Some(end) if end <= image.len()) {
            return bad(format!(
                "the file is {:#x} bytes but load_addr..load_end_addr needs {file_len:#x} bytes from offset \
                 {file_offset:#x}",
                image.len()
            ));
        }
        let load_end = k.load_addr as u64 + file_len as u64;
        let zero_len = if k.bss_end_addr == 0 {
            0
        } else if (k.bss_end_addr as u64) < load_end {
            return bad(format!(
                "bss_end_addr {:#x} is below the end of the loaded bytes {load_end:#x}",
                k.bss_end_addr
            ));
        } else {
            (k.bss_end_addr as u64 - load_end) as usize
        };
        let chunk = Chunk { addr: k.load_addr, file_offset, file_len, zero_len };
        return Ok((vec![chunk], k.entry_addr));
    }
    if !elf::is_elf(image) {
        return Err(MultibootError::NotElfNoKludge);
    }
    let parsed = elf::parse(image)?;
    let chunks = parsed
        .segments
        .iter()
        .map(|s| Chunk {
            addr: s.paddr,
            file_offset: s.offset as usize,
            file_len: s.filesz as usize,
            zero_len: (s.memsz - s.filesz) as usize,
        })
        .collect();
    Ok((chunks, parsed.physical_entry()))
}

/// Checks a string for the info structure and returns its bytes with the NUL.
fn c_string(s: &str, what: &'static str) -> Result<Vec<u8>, MultibootError> {
    if s.len() >= MAX_STRING || s.as_bytes().contains(&0) {
        return Err(MultibootError::BadString(what));
    }
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    Ok(bytes)
}

/// Writes `value` little-endian at `off` of `area` (offsets are ferrite's own constants,
/// always inside the area).
fn put_u32(area: &mut [u8], off: usize, value: u32) {
    if let Some(b) = area.get_mut(off..off + 4) {
        b.copy_from_slice(&value.to_le_bytes());
    }
}

fn put_bytes(area: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(b) = area.get_mut(off..off + bytes.len()) {
        b.copy_from_slice(bytes);
    }
}

/// Offset of physical address `addr` in the boot area.
fn area_off(addr: u32) -> usize {
    (addr - BOOT_AREA_START) as usize
}

/// Checks `kernel` against a machine with `ram_size` bytes of RAM and a BIOS image of
/// `bios_len` bytes (0: none), and works out everything to write.
pub fn prepare(kernel: KernelBoot, ram_size: u32, bios_len: u32) -> Result<LoadPlan, MultibootError> {
    let low_window = (ferrite_mem::LOW_BIOS_WINDOW as u32).min(bios_len);
    let layout = MemoryLayout { ram_size, bios_low_start: HIGH_MEMORY - low_window, bios_len };
    let image = kernel.image;
    let header = find_header(&image)?;
    let unknown = header.flags & HF_REQUIRED_MASK & !HF_KNOWN;
    if unknown != 0 {
        return Err(MultibootError::UnsupportedFlags(unknown));
    }
    let (chunks, entry) = kernel_chunks(&image, &header)?;
    let mut kernel_range = (u32::MAX, 0u32);
    let mut entry_inside = false;
    for (i, c) in chunks.iter().enumerate() {
        let len = c.file_len as u64 + c.zero_len as u64;
        let what = if chunks.len() == 1 { "the kernel".to_string() } else { format!("kernel segment {i}") };
        layout.check(&what, c.addr, len)?;
        // check() guarantees addr + len <= ram_size < 4 GiB.
        let end = c.addr + len as u32;
        kernel_range = (kernel_range.0.min(c.addr), kernel_range.1.max(end));
        entry_inside |= (c.addr..end).contains(&entry);
    }
    if !entry_inside {
        return Err(MultibootError::EntryOutside(entry));
    }

    let cmdline = c_string(&kernel.cmdline, "kernel command line")?;
    let mut module = None;
    let mut module_range = None;
    let mut mods_count = 0;
    let mut area = vec![0u8; (BOOT_AREA_END - BOOT_AREA_START) as usize];
    if let Some(m) = kernel.module {
        let string = c_string(&m.string, "module name")?;
        let start = (kernel_range.1.max(HIGH_MEMORY) as u64).div_ceil(MODULE_ALIGN) * MODULE_ALIGN;
        let len = m.data.len() as u64;
        if start + len > ram_size as u64 {
            return Err(MultibootError::Placement(format!(
                "the initrd ({len} bytes) does not fit in guest RAM after the kernel (it would end at {:#x}, \
                 RAM ends at {ram_size:#x}; a larger -m may help)",
                start + len
            )));
        }
        let start = start as u32;
        put_u32(&mut area, area_off(MODS_ADDR), start);
        put_u32(&mut area, area_off(MODS_ADDR) + 4, start + len as u32);
        put_u32(&mut area, area_off(MODS_ADDR) + 8, MODULE_STRING_ADDR);
        put_bytes(&mut area, area_off(MODULE_STRING_ADDR), &string);
        module_range = Some((start, start + len as u32));
        module = Some((start, m.data));
        mods_count = 1;
    }

    for (i, d) in GDT.iter().enumerate() {
        put_bytes(&mut area, area_off(GDT_ADDR) + 8 * i, &d.to_le_bytes());
    }
    let map = layout.memory_map();
    for (i, &(base, len, kind)) in map.iter().enumerate() {
        let off = area_off(MMAP_ADDR) + i * MMAP_ENTRY_LEN;
        put_u32(&mut area, off, MMAP_ENTRY_SIZE_FIELD);
        put_bytes(&mut area, off + 4, &base.to_le_bytes());
        put_bytes(&mut area, off + 12, &len.to_le_bytes());
        put_u32(&mut area, off + 20, kind);
    }
    put_bytes(&mut area, area_off(CMDLINE_ADDR), &cmdline);
    let mut name = LOADER_NAME.as_bytes().to_vec();
    name.push(0);
    put_bytes(&mut area, area_off(LOADER_NAME_ADDR), &name);

    let info = area_off(INFO_ADDR);
    let mem_lower = LOW_RAM_END / 1024;
    let mem_upper = ram_size.saturating_sub(HIGH_MEMORY) / 1024;
    put_u32(&mut area, info + INFO_FLAGS, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_LOADER_NAME);
    put_u32(&mut area, info + INFO_MEM_LOWER, mem_lower);
    put_u32(&mut area, info + INFO_MEM_UPPER, mem_upper);
    put_u32(&mut area, info + INFO_CMDLINE_ADDR, CMDLINE_ADDR);
    put_u32(&mut area, info + INFO_MODS_COUNT, mods_count);
    put_u32(&mut area, info + INFO_MODS_ADDR, MODS_ADDR);
    put_u32(&mut area, info + INFO_MMAP_LENGTH, (map.len() * MMAP_ENTRY_LEN) as u32);
    put_u32(&mut area, info + INFO_MMAP_ADDR, MMAP_ADDR);
    put_u32(&mut area, info + INFO_LOADER_NAME_ADDR, LOADER_NAME_ADDR);

    Ok(LoadPlan { image, chunks, boot_area: area, module, entry, kernel_range, module_range })
}

/// Zeroes `len` bytes of RAM at `addr`.
fn zero_ram(mem: &mut PhysMem, addr: u32, len: usize) {
    let start = addr as usize;
    if let Some(dst) = start.checked_add(len).and_then(|end| mem.ram_mut().get_mut(start..end)) {
        dst.fill(0);
    }
}

impl LoadPlan {
    /// Writes the kernel, the module and the boot area into RAM, opens A20 and puts the
    /// CPU at the entry point in the multiboot machine state (see the module docs). The
    /// CPU should have just been reset.
    pub fn apply(&self, cpu: &mut Cpu, mem: &mut PhysMem) {
        for c in &self.chunks {
            let bytes = self.image.get(c.file_offset..c.file_offset + c.file_len).unwrap_or(&[]);
            copy_to_ram(mem, c.addr, bytes);
            zero_ram(mem, c.addr + c.file_len as u32, c.zero_len);
        }
        if let Some((addr, data)) = &self.module {
            copy_to_ram(mem, *addr, data);
        }
        copy_to_ram(mem, BOOT_AREA_START, &self.boot_area);
        // The writes bypassed code tracking; nothing decoded survives a reload.
        mem.forget_code();
        mem.set_a20(true);

        cpu.gpr[Gpr::Eax as usize] = BOOTLOADER_MAGIC;
        cpu.gpr[Gpr::Ebx as usize] = INFO_ADDR;
        enter_flat_protected_mode(
            cpu,
            FlatEntry {
                entry: self.entry,
                stack_top: BOOT_STACK_TOP,
                code_sel: CODE_SELECTOR,
                data_sel: DATA_SELECTOR,
                gdt_addr: GDT_ADDR,
                gdt_entries: GDT.len() as u32,
            },
        );
    }
}

#[cfg(test)]
mod tests;
