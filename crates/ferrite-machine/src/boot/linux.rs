//! Direct Linux boot: the Linux/x86 boot protocol's 32-bit entry, no BIOS run.
//!
//! [`prepare`] reads the setup header of a bzImage (signature `"HdrS"` at
//! [`HDRS_OFFSET`], protocol 2.02 or newer, `LOADED_HIGH`), checks what goes where, and
//! builds the zero page (`struct boot_params`): the kernel's setup header copied in and
//! completed as a boot loader must (loader type, heap, command line, initrd), a BIOS-like
//! e820 memory map and an 80x25 VGA text `screen_info`. [`LinuxPlan::apply`] writes it
//! all into RAM and enters the kernel the 32-bit way; the machine applies the plan again
//! after every reset. Facts from the kernel's `Documentation/arch/x86/boot.rst` and
//! `zero-page.rst`.
//!
//! # Guest memory layout
//!
//! | physical range | contents |
//! |---|---|
//! | `0x07000..0x08000` | the zero page (`boot_params`); ESI points here |
//! | `0x08000..0x08020` | the GDT: null, null, `__BOOT_CS` (0x10, flat code), `__BOOT_DS` (0x18, flat data) |
//! | `0x20000..`        | the kernel command line (`--append`), at most the kernel's `cmdline_size` bytes |
//! | `0x90000..`        | the real-mode setup (boot sector + `setup_sects` sectors), with its heap up to 0x9E000 (not run) |
//! | `0x100000..`       | the protected-mode kernel; it decompresses itself up to `pref_address + init_size` |
//! | top of RAM (below `initrd_addr_max`) | the initrd, page aligned |
//!
//! # Machine state at the entry point (`code32_start`)
//!
//! CS = 0x10 (flat 4 GiB, 32-bit, execute/read), DS = ES = FS = GS = SS = 0x18 (flat 4 GiB,
//! read/write); CR0 = PE | ET, paging off; EFLAGS = 0x2 (interrupts off); ESI = the zero
//! page; EBP = EDI = EBX = 0; A20 open; IDTR limit 0.

use super::multiboot::{KernelBoot, HIGH_MEMORY, LOW_RAM_END};
use super::{copy_to_ram, enter_flat_protected_mode, FlatEntry};
use ferrite_cpu::{Cpu, Gpr};
use ferrite_mem::PhysMem;
use std::fmt;

/// Where the setup header's `"HdrS"` signature sits in the file (and the zero page).
pub const HDRS_OFFSET: usize = 0x202;
/// The signature.
pub const HDRS: &[u8; 4] = b"HdrS";
/// The oldest boot protocol ferrite speaks (it has `cmd_line_ptr`).
pub const MIN_PROTOCOL: u16 = 0x0202;
/// One sector of the real-mode part.
const SECTOR: usize = 512;
/// `setup_sects` 0 means this many.
const DEFAULT_SETUP_SECTS: usize = 4;
/// Size of the zero page.
pub const ZERO_PAGE_LEN: usize = 4096;

/// Physical address of the zero page (ESI at entry).
pub const ZERO_PAGE_ADDR: u32 = 0x7000;
/// Physical address of the GDT.
pub const GDT_ADDR: u32 = 0x8000;
/// `__BOOT_CS`: the code selector at entry (GDT entry 2).
pub const BOOT_CS: u16 = 0x10;
/// `__BOOT_DS`: the data selector at entry (GDT entry 3).
pub const BOOT_DS: u16 = 0x18;
/// The GDT: two null entries, then flat code and flat data (base 0, limit 0xFFFFF pages).
pub const GDT: [u64; 4] = [0, 0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
/// Physical address of the command line.
pub const CMDLINE_ADDR: u32 = 0x2_0000;
/// The longest command line ferrite places, with its NUL (the kernel may allow less).
pub const CMDLINE_MAX: usize = 0x1_0000;
/// Physical address of the real-mode setup (the boot sector first).
pub const SETUP_ADDR: u32 = 0x9_0000;
/// End of the setup's stack and heap.
const SETUP_HEAP_END: u32 = 0x9_E000;
/// Where the protected-mode kernel is loaded.
pub const KERNEL_ADDR: u32 = HIGH_MEMORY;
/// Initrds start on a page boundary.
const INITRD_ALIGN: u32 = 4096;
/// The initrd limit of protocols before 2.03 (no `initrd_addr_max` field).
const OLD_INITRD_MAX: u32 = 0x37FF_FFFF;
/// ESP at entry (the kernel sets up its own stack at once).
const BOOT_STACK_TOP: u32 = ZERO_PAGE_ADDR;

/// Zero-page offsets (`zero-page.rst`, `boot.rst`).
mod off {
    pub const EXT_MEM_K: usize = 0x002;
    pub const ORIG_VIDEO_MODE: usize = 0x006;
    pub const ORIG_VIDEO_COLS: usize = 0x007;
    pub const ORIG_VIDEO_LINES: usize = 0x00E;
    pub const ORIG_VIDEO_IS_VGA: usize = 0x00F;
    pub const ORIG_VIDEO_POINTS: usize = 0x010;
    pub const ALT_MEM_K: usize = 0x1E0;
    pub const E820_ENTRIES: usize = 0x1E8;
    pub const SETUP_HEADER: usize = 0x1F1;
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const VID_MODE: usize = 0x1FA;
    pub const JUMP_LEN: usize = 0x201;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const HEAP_END_PTR: usize = 0x224;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const ACPI_RSDP_ADDR: usize = 0x070;
    pub const INIT_SIZE: usize = 0x260;
    pub const E820_TABLE: usize = 0x2D0;
}

/// `loadflags` bit 0: the protected-mode kernel is loaded at 0x100000 (a bzImage).
pub const LOADED_HIGH: u8 = 1 << 0;
/// `loadflags` bit 7: `heap_end_ptr` is valid.
pub const CAN_USE_HEAP: u8 = 1 << 7;
/// `type_of_loader` for a loader without an assigned ID.
pub const LOADER_TYPE_UNDEFINED: u8 = 0xFF;
/// `vid_mode` "normal" (80x25 text, no prompt).
const VID_MODE_NORMAL: u16 = 0xFFFF;
/// e820 type: usable RAM.
pub const E820_RAM: u32 = 1;
/// e820 type: reserved.
pub const E820_RESERVED: u32 = 2;
/// Bytes of one e820 entry (u64 address, u64 size, u32 type).
pub const E820_ENTRY_LEN: usize = 20;

/// The setup-header fields ferrite uses, read from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version (0x020F is 2.15).
    pub version: u16,
    /// Sectors of real-mode setup after the boot sector.
    pub setup_sects: usize,
    /// The kernel's `loadflags`.
    pub loadflags: u8,
    /// The 32-bit entry point.
    pub code32_start: u32,
    /// Highest address the initrd may occupy.
    pub initrd_addr_max: u32,
    /// Longest command line without its NUL.
    pub cmdline_size: u32,
    /// Where a relocatable kernel runs (0 before protocol 2.10).
    pub pref_address: u64,
    /// Memory the kernel needs from its run address (0 before protocol 2.10).
    pub init_size: u32,
    /// End of the setup header in the file (0x202 + the byte at 0x201).
    pub header_end: usize,
}

impl SetupHeader {
    /// File offset of the protected-mode kernel.
    pub fn kernel_offset(&self) -> usize {
        (self.setup_sects + 1) * SECTOR
    }
}

/// Why a bzImage cannot be booted. Messages are one line and do not name the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinuxError {
    /// No `"HdrS"` at 0x202: not a boot-protocol kernel.
    NotBzImage,
    /// The file ends inside the setup header or the real-mode part.
    Truncated {
        /// What was cut off.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes in the file.
        len: usize,
    },
    /// A protocol older than [`MIN_PROTOCOL`].
    OldProtocol(u16),
    /// `LOADED_HIGH` clear: a zImage, which loads at 0x10000 and needs the BIOS.
    NotLoadedHigh,
    /// The real-mode part does not fit below the setup heap.
    SetupTooLarge(usize),
    /// The command line is too long or holds a NUL.
    BadCmdline(String),
    /// Something does not fit in guest RAM.
    Placement(String),
    /// `code32_start` is outside the loaded kernel.
    EntryOutside(u32),
}

impl fmt::Display for LinuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinuxError::NotBzImage => {
                write!(f, "not a Linux bzImage (no \"HdrS\" signature at offset {HDRS_OFFSET:#x})")
            }
            LinuxError::Truncated { what, need, len } => {
                write!(f, "the bzImage is cut off: its {what} needs {need} bytes but the file has {len}")
            }
            LinuxError::OldProtocol(v) => {
                write!(f, "Linux boot protocol {}.{:02} is too old (ferrite needs 2.02 or newer)", v >> 8, v & 0xFF)
            }
            LinuxError::NotLoadedHigh => {
                write!(f, "it is a zImage (LOADED_HIGH clear), which only boots through the BIOS; use a bzImage")
            }
            LinuxError::SetupTooLarge(len) => {
                write!(f, "the real-mode setup is {len} bytes, more than fits below its heap at {SETUP_ADDR:#x}")
            }
            LinuxError::BadCmdline(why) => write!(f, "bad kernel command line: {why}"),
            LinuxError::Placement(why) => f.write_str(why),
            LinuxError::EntryOutside(a) => write!(f, "code32_start {a:#x} is outside the loaded kernel"),
        }
    }
}

impl std::error::Error for LinuxError {}

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u32_at(b, off) as u64 | (u32_at(b, off + 4) as u64) << 32
}

/// Whether `image` carries the boot-protocol signature (a bzImage or zImage).
pub fn is_bzimage(image: &[u8]) -> bool {
    image.get(HDRS_OFFSET..HDRS_OFFSET + HDRS.len()) == Some(&HDRS[..])
}

/// Reads and checks the setup header. Fields newer than the file's protocol read as 0.
pub fn parse_header(image: &[u8]) -> Result<SetupHeader, LinuxError> {
    if !is_bzimage(image) {
        return Err(LinuxError::NotBzImage);
    }
    let header_end = HDRS_OFFSET + *image.get(off::JUMP_LEN).unwrap_or(&0) as usize;
    let min_end = off::CMD_LINE_PTR + 4;
    if image.len() < header_end.max(min_end) {
        return Err(LinuxError::Truncated { what: "setup header", need: header_end.max(min_end), len: image.len() });
    }
    let version = u16_at(image, off::VERSION);
    if version < MIN_PROTOCOL {
        return Err(LinuxError::OldProtocol(version));
    }
    // Fields past the header's end (older protocols) are not the header's: read them as 0.
    let field = |o: usize, size: usize| if o + size <= header_end { Some(o) } else { None };
    let loadflags = image[off::LOADFLAGS];
    if loadflags & LOADED_HIGH == 0 {
        return Err(LinuxError::NotLoadedHigh);
    }
    let setup_sects = match image[off::SETUP_SECTS] as usize {
        0 => DEFAULT_SETUP_SECTS,
        n => n,
    };
    let initrd_addr_max = match (version >= 0x0203).then(|| field(off::INITRD_ADDR_MAX, 4)).flatten() {
        Some(o) => u32_at(image, o),
        None => OLD_INITRD_MAX,
    };
    let cmdline_size = match (version >= 0x0206).then(|| field(off::CMDLINE_SIZE, 4)).flatten() {
        Some(o) => u32_at(image, o),
        None => 255,
    };
    let (pref_address, init_size) = match (version >= 0x020A).then(|| field(off::INIT_SIZE, 4)).flatten() {
        Some(o) => (u64_at(image, off::PREF_ADDRESS), u32_at(image, o)),
        None => (0, 0),
    };
    let header = SetupHeader {
        version,
        setup_sects,
        loadflags,
        code32_start: u32_at(image, off::CODE32_START),
        initrd_addr_max,
        cmdline_size,
        pref_address,
        init_size,
        header_end,
    };
    if image.len() <= header.kernel_offset() {
        return Err(LinuxError::Truncated {
            what: "real-mode setup and protected-mode kernel",
            need: header.kernel_offset() + 1,
            len: image.len(),
        });
    }
    Ok(header)
}

/// Everything a Linux boot writes into the machine, ready to apply (again after a reset).
#[derive(Debug, Clone)]
pub struct LinuxPlan {
    image: Vec<u8>,
    header: SetupHeader,
    zero_page: Vec<u8>,
    cmdline: Vec<u8>,
    initrd: Option<(u32, Vec<u8>)>,
    /// The 32-bit entry point.
    pub entry: u32,
    /// Where the initrd landed and where it ends.
    pub initrd_range: Option<(u32, u32)>,
}

/// The e820 map of a machine with `ram_size` bytes of RAM and a BIOS image of `bios_len`
/// bytes: `(address, size, type)` per entry, in address order.
pub fn e820_map(ram_size: u32, bios_len: u32) -> Vec<(u64, u64, u32)> {
    let low = (LOW_RAM_END as u64).min(ram_size as u64);
    let mut map = vec![(0, low, E820_RAM)];
    map.push((LOW_RAM_END as u64, 0xA_0000 - LOW_RAM_END as u64, E820_RESERVED));
    let window = (ferrite_mem::LOW_BIOS_WINDOW as u32).min(bios_len).max(0x1_0000);
    let bios_low = HIGH_MEMORY - window;
    map.push((bios_low as u64, (HIGH_MEMORY - bios_low) as u64, E820_RESERVED));
    if ram_size > HIGH_MEMORY {
        map.push((HIGH_MEMORY as u64, (ram_size - HIGH_MEMORY) as u64, E820_RAM));
    }
    if bios_len != 0 {
        map.push(((1u64 << 32) - bios_len as u64, bios_len as u64, E820_RESERVED));
    }
    map
}

fn put(page: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = page.get_mut(off..off + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Checks `kernel` (a bzImage; its `cmdline` is the whole kernel command line and its
/// module the initrd) against a machine with `ram_size` bytes of RAM and a BIOS image of
/// `bios_len` bytes, and builds the zero page.
pub fn prepare(kernel: KernelBoot, ram_size: u32, bios_len: u32) -> Result<LinuxPlan, LinuxError> {
    let image = kernel.image;
    let header = parse_header(&image)?;
    let setup_len = header.kernel_offset();
    if SETUP_ADDR as usize + setup_len > SETUP_HEAP_END as usize {
        return Err(LinuxError::SetupTooLarge(setup_len));
    }
    let kernel_len = (image.len() - setup_len) as u64;
    let kernel_end = KERNEL_ADDR as u64 + kernel_len;
    if !(KERNEL_ADDR as u64..kernel_end).contains(&(header.code32_start as u64)) {
        return Err(LinuxError::EntryOutside(header.code32_start));
    }
    // A relocatable kernel decompresses at pref_address (or where it was loaded, if higher)
    // and needs init_size bytes from there.
    let run_addr = header.pref_address.max(KERNEL_ADDR as u64);
    let needs_end = kernel_end.max(run_addr + header.init_size as u64);
    if needs_end > ram_size as u64 {
        return Err(LinuxError::Placement(format!(
            "the kernel needs RAM up to {needs_end:#x} to decompress itself but RAM ends at {ram_size:#x}; a \
             larger -m may help"
        )));
    }

    let max_cmdline = (header.cmdline_size as usize).min(CMDLINE_MAX - 1);
    if kernel.cmdline.len() > max_cmdline {
        return Err(LinuxError::BadCmdline(format!(
            "{} bytes, the kernel takes at most {max_cmdline}",
            kernel.cmdline.len()
        )));
    }
    if kernel.cmdline.as_bytes().contains(&0) {
        return Err(LinuxError::BadCmdline("it holds a NUL byte".into()));
    }
    let mut cmdline = kernel.cmdline.into_bytes();
    cmdline.push(0);

    let (initrd, initrd_range) = match kernel.module {
        Some(m) => {
            let len = m.data.len() as u64;
            let top = (header.initrd_addr_max as u64 + 1).min(ram_size as u64);
            let start = top.checked_sub(len).map(|s| s & !(INITRD_ALIGN as u64 - 1));
            match start {
                Some(start) if start >= needs_end => {
                    let start = start as u32;
                    (Some((start, m.data)), Some((start, start + len as u32)))
                }
                _ => {
                    return Err(LinuxError::Placement(format!(
                        "the initrd ({len} bytes) does not fit between the kernel (which needs RAM up to \
                         {needs_end:#x}) and the end of RAM or initrd_addr_max ({top:#x}); a larger -m may help"
                    )))
                }
            }
        }
        None => (None, None),
    };

    let mut zp = vec![0u8; ZERO_PAGE_LEN];
    // screen_info: an 80x25 colour VGA text console.
    let ext_mem_k = ram_size.saturating_sub(HIGH_MEMORY) / 1024;
    put(&mut zp, off::EXT_MEM_K, &(ext_mem_k.min(0xFFFF) as u16).to_le_bytes());
    zp[off::ORIG_VIDEO_MODE] = 3;
    zp[off::ORIG_VIDEO_COLS] = 80;
    zp[off::ORIG_VIDEO_LINES] = 25;
    zp[off::ORIG_VIDEO_IS_VGA] = 1;
    put(&mut zp, off::ORIG_VIDEO_POINTS, &16u16.to_le_bytes());
    put(&mut zp, off::ALT_MEM_K, &ext_mem_k.to_le_bytes());
    // The setup header as the kernel has it, then what a loader fills in.
    put(&mut zp, off::SETUP_HEADER, &image[off::SETUP_HEADER..header.header_end.min(ZERO_PAGE_LEN)]);
    put(&mut zp, off::VID_MODE, &VID_MODE_NORMAL.to_le_bytes());
    zp[off::TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
    zp[off::LOADFLAGS] = header.loadflags | CAN_USE_HEAP;
    put(&mut zp, off::HEAP_END_PTR, &((SETUP_HEAP_END - SETUP_ADDR - 0x200) as u16).to_le_bytes());
    put(&mut zp, off::CMD_LINE_PTR, &CMDLINE_ADDR.to_le_bytes());
    if let Some((start, end)) = initrd_range {
        put(&mut zp, off::RAMDISK_IMAGE, &start.to_le_bytes());
        put(&mut zp, off::RAMDISK_SIZE, &(end - start).to_le_bytes());
    }
    let map = e820_map(ram_size, bios_len);
    zp[off::E820_ENTRIES] = map.len() as u8;
    for (i, &(addr, size, kind)) in map.iter().enumerate() {
        let o = off::E820_TABLE + i * E820_ENTRY_LEN;
        put(&mut zp, o, &addr.to_le_bytes());
        put(&mut zp, o + 8, &size.to_le_bytes());
        put(&mut zp, o + 16, &kind.to_le_bytes());
    }

    let entry = header.code32_start;
    Ok(LinuxPlan { image, header, zero_page: zp, cmdline, initrd, entry, initrd_range })
}

impl LinuxPlan {
    /// The setup header read from the file.
    pub fn header(&self) -> &SetupHeader {
        &self.header
    }

    /// Hands the kernel the ACPI RSDP's physical address in the zero page
    /// (`acpi_rsdp_addr`, boot protocol 2.14 and newer; older kernels scan for it).
    pub fn set_acpi_rsdp(&mut self, addr: u32) {
        if self.header.version >= 0x020E {
            put(&mut self.zero_page, off::ACPI_RSDP_ADDR, &(addr as u64).to_le_bytes());
        }
    }

    /// The zero page as written to [`ZERO_PAGE_ADDR`].
    pub fn zero_page(&self) -> &[u8] {
        &self.zero_page
    }

    /// Writes the setup, the kernel, the initrd, the command line, the GDT and the zero
    /// page into RAM, opens A20 and puts the CPU at `code32_start` in the 32-bit boot
    /// protocol's state (module docs). The CPU should have just been reset.
    pub fn apply(&self, cpu: &mut Cpu, mem: &mut PhysMem) {
        let split = self.header.kernel_offset();
        copy_to_ram(mem, SETUP_ADDR, &self.image[..split]);
        copy_to_ram(mem, KERNEL_ADDR, &self.image[split..]);
        if let Some((addr, data)) = &self.initrd {
            copy_to_ram(mem, *addr, data);
        }
        copy_to_ram(mem, CMDLINE_ADDR, &self.cmdline);
        let gdt: Vec<u8> = GDT.iter().flat_map(|d| d.to_le_bytes()).collect();
        copy_to_ram(mem, GDT_ADDR, &gdt);
        copy_to_ram(mem, ZERO_PAGE_ADDR, &self.zero_page);
        mem.forget_code();
        mem.set_a20(true);

        cpu.gpr = [0; 8];
        cpu.gpr[Gpr::Esi as usize] = ZERO_PAGE_ADDR;
        enter_flat_protected_mode(
            cpu,
            FlatEntry {
                entry: self.entry,
                stack_top: BOOT_STACK_TOP,
                code_sel: BOOT_CS,
                data_sel: BOOT_DS,
                gdt_addr: GDT_ADDR,
                gdt_entries: GDT.len() as u32,
            },
        );
    }
}

#[cfg(test)]
mod tests;
