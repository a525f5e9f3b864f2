//! `ferrite-mem` owns the guest's physical memory and the PC physical address map.
//!
//! Guest RAM is one anonymous `memmap2` mapping sized by `-m`. On top of it sit the
//! regions a PC decodes before RAM: the BIOS ROM (mapped twice, ending at 0xFFFFF and at
//! 0xFFFFFFFF), MMIO holes that the machine routes to devices, and the A20 gate. Nothing
//! here knows about CPUs or devices: an access either lands in RAM/ROM, or [`PhysMem::resolve`]
//! names the MMIO hole so the caller can route it.
//!
//! RAM pages that hold decoded or translated guest code are marked with
//! [`PhysMem::mark_code_page`]; the first write to such a page (from the CPU or from a
//! device's DMA) records it in a list the engines drain with
//! [`PhysMem::take_written_code_pages`], which is how self-modifying code is detected.
//!
//! For translated code, [`PhysMem::page_access_table`] gives one byte per 4 KiB page of
//! the 32-bit physical space saying whether the page is plain RAM that generated code may
//! read ([`PAGE_FAST_READ`]) or also write ([`PAGE_FAST_WRITE`]: not marked as code)
//! directly at `ram base + physical address`. Everything else takes a slow path.
#![deny(missing_docs)]

use std::fmt;

mod map;
pub use map::{pam_segment_range, MmioId, PamMode, Target, PAM_END, PAM_SEGMENTS, PAM_START};

/// Size of a guest page, the granularity of code tracking and of the soft TLB.
pub const PAGE_SIZE: u32 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
/// The largest BIOS image window mapped below 1 MiB (QEMU's `isa-bios` is the same size).
pub const LOW_BIOS_WINDOW: usize = 128 * 1024;
/// BIOS image sizes accepted by [`PhysMem::load_bios`].
pub const BIOS_SIZES: [usize; 3] = [64 * 1024, 128 * 1024, 256 * 1024];
/// Lowest address of an option ROM ([`PhysMem::load_option_rom`]).
pub const OPTION_ROM_START: u32 = 0xC_0000;
/// End (exclusive) of the option-ROM area.
pub const OPTION_ROM_END: u32 = 0xE_0000;
/// Option ROMs start on 2 KiB boundaries.
pub const OPTION_ROM_ALIGN: u32 = 2048;
/// The largest amount of guest RAM supported (the 32-bit space minus the PCI/ROM hole).
pub const MAX_RAM: usize = 3584 * 1024 * 1024;
/// Pages in the 32-bit physical space: the length of [`PhysMem::page_access_table`].
pub const PHYS_PAGES: usize = 1 << (32 - PAGE_SHIFT);
/// Page-access bit: the whole page is guest RAM at `ram base + address` (no ROM, no MMIO).
pub const PAGE_FAST_READ: u8 = 1;
/// Page-access bit: a plain RAM page not marked as code, so a direct write needs no tracking.
pub const PAGE_FAST_WRITE: u8 = 2;

/// Errors building the physical memory map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemError {
    /// The host refused the anonymous mapping for guest RAM.
    MapFailed(String),
    /// Guest RAM size of zero, not page-aligned, or above [`MAX_RAM`].
    BadRamSize(usize),
    /// A BIOS image whose size is not 64, 128 or 256 KiB.
    BadBiosSize(usize),
    /// An option ROM that is empty, misaligned or outside 0xC0000..0xE0000.
    BadOptionRom {
        /// Requested address.
        addr: u32,
        /// Image length.
        len: usize,
    },
    /// An MMIO hole that overlaps another hole or wraps the 32-bit space.
    MmioOverlap {
        /// First byte of the rejected hole.
        start: u32,
        /// Length of the rejected hole.
        len: u32,
    },
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::MapFailed(e) => write!(f, "cannot map guest RAM: {e}"),
            MemError::BadRamSize(n) => write!(
                f,
                "bad guest RAM size {n} bytes (must be a non-zero multiple of 4 KiB, at most {} MiB)",
                MAX_RAM >> 20
            ),
            MemError::BadBiosSize(n) => write!(f, "BIOS image is {n} bytes; it must be exactly 64, 128 or 256 KiB"),
            MemError::BadOptionRom { addr, len } => write!(
                f,
                "option ROM of {len} bytes at {addr:#x} must be non-empty, 2 KiB-aligned and within 0xC0000..0xE0000"
            ),
            MemError::MmioOverlap { start, len } => {
                write!(f, "MMIO hole {start:#x}+{len:#x} overlaps another region")
            }
        }
    }
}

impl std::error::Error for MemError {}

/// Guest physical memory: RAM, BIOS ROM, MMIO holes and the A20 gate.
pub struct PhysMem {
    ram: memmap2::MmapMut,
    ram_size: u32,
    bios: Box<[u8]>,
    option_rom: Box<[u8]>,
    map: map::AddressMap,
    a20_mask: u32,
    code_pages: Vec<u64>,
    written_code_pages: Vec<u32>,
    /// While a second engine shares the code marks (the translator letting the
    /// interpreter run several instructions at once): every page handed out by
    /// `take_written_code_pages`, kept for that engine's own drain.
    code_write_log: Option<Vec<u32>>,
    page_access: Vec<u8>,
}

impl fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMem")
            .field("ram_size", &self.ram_size)
            .field("bios_len", &self.bios.len())
            .field("a20", &self.a20())
            .finish()
    }
}

impl PhysMem {
    /// Creates `ram_bytes` of zeroed guest RAM with no ROM and no MMIO holes, A20 enabled.
    pub fn new(ram_bytes: usize) -> Result<Self, MemError> {
        if ram_bytes == 0 || !ram_bytes.is_multiple_of(PAGE_SIZE as usize) || ram_bytes > MAX_RAM {
            return Err(MemError::BadRamSize(ram_bytes));
        }
        let ram =
            memmap2::MmapOptions::new().len(ram_bytes).map_anon().map_err(|e| MemError::MapFailed(e.to_string()))?;
        let pages = ram_bytes / PAGE_SIZE as usize;
        let mut mem = PhysMem {
            ram,
            ram_size: ram_bytes as u32,
            bios: Box::default(),
            option_rom: Box::default(),
            map: map::AddressMap::default(),
            a20_mask: !0,
            code_pages: vec![0; pages.div_ceil(64)],
            written_code_pages: Vec::new(),
            code_write_log: None,
            page_access: vec![0; PHYS_PAGES],
        };
        mem.refresh_page_access();
        Ok(mem)
    }

    /// One byte per physical page ([`PHYS_PAGES`] of them, indexed by address >> 12):
    /// [`PAGE_FAST_READ`] when the whole page is RAM at `ram base + address`, plus
    /// [`PAGE_FAST_WRITE`] when it is also not marked as code. Pages at or above the RAM
    /// size never have either bit, so an access confined to a page whose byte has the bit
    /// lies inside the RAM mapping.
    pub fn page_access_table(&self) -> &[u8] {
        &self.page_access
    }

    /// Recomputes the page-access table from the address map and the code marks.
    fn refresh_page_access(&mut self) {
        let ram_pages = (self.ram_size >> PAGE_SHIFT) as usize;
        for page in 0..ram_pages {
            let (read, write) = self.map.page_ram_access(page as u32, self.ram_size);
            let code = self.code_pages[page / 64] & (1 << (page % 64)) != 0;
            self.page_access[page] = match (read, write && !code) {
                (false, _) => 0,
                (true, false) => PAGE_FAST_READ,
                (true, true) => PAGE_FAST_READ | PAGE_FAST_WRITE,
            };
        }
    }

    /// Bytes of guest RAM.
    pub fn ram_size(&self) -> u32 {
        self.ram_size
    }

    /// Maps a BIOS image: all of it ends at 0xFFFFFFFF, its last 128 KiB (or all of a
    /// smaller image) end at 0xFFFFF. Both windows are read-only.
    pub fn load_bios(&mut self, image: &[u8]) -> Result<(), MemError> {
        if !BIOS_SIZES.contains(&image.len()) {
            return Err(MemError::BadBiosSize(image.len()));
        }
        self.bios = image.into();
        self.map.set_bios(image.len() as u32);
        self.refresh_page_access();
        Ok(())
    }

    /// Maps an option ROM (e.g. a VGA BIOS) read-only at `addr`, as a card's ROM decodes
    /// in 0xC0000..0xE0000: `addr` must be 2 KiB-aligned and the image must end by
    /// 0xE0000 and not be empty. A PAM segment that reads RAM shadows it, as on a real
    /// chipset. A second call replaces the first ROM.
    pub fn load_option_rom(&mut self, addr: u32, image: &[u8]) -> Result<(), MemError> {
        let len = image.len() as u64;
        let fits = addr.is_multiple_of(OPTION_ROM_ALIGN)
            && addr >= OPTION_ROM_START
            && len != 0
            && addr as u64 + len <= OPTION_ROM_END as u64;
        if !fits {
            return Err(MemError::BadOptionRom { addr, len: image.len() });
        }
        self.option_rom = image.into();
        self.map.set_option_rom(addr, image.len() as u32);
        self.refresh_page_access();
        Ok(())
    }

    /// Declares an MMIO hole; accesses inside it resolve to [`Target::Mmio`].
    pub fn add_mmio(&mut self, start: u32, len: u32, id: MmioId) -> Result<(), MemError> {
        self.map.add_mmio(start, len, id)?;
        self.refresh_page_access();
        Ok(())
    }

    /// Sets how PAM segment `seg` (0..[`PAM_SEGMENTS`], see [`pam_segment_range`]) of
    /// 0xC0000..0x100000 decodes, as the chipset's PAM registers do: reads from RAM or
    /// from the ROM (the default decode), writes to RAM or not. Every segment starts in
    /// the default mode, which is the decode without shadowing. Code cached from the
    /// segment is dropped (its pages are reported as written), since the bytes behind
    /// its addresses may have changed. Segments out of range are ignored.
    pub fn set_pam(&mut self, seg: usize, read_ram: bool, write_ram: bool) {
        let mode = PamMode { read_ram, write_ram };
        if seg >= PAM_SEGMENTS || self.map.pam(seg) == mode {
            return;
        }
        self.map.set_pam(seg, mode);
        let (start, end) = pam_segment_range(seg);
        for page in (start >> PAGE_SHIFT)..(end >> PAGE_SHIFT) {
            if page < self.ram_size >> PAGE_SHIFT {
                let bit = 1u64 << (page % 64);
                self.code_pages[page as usize / 64] &= !bit;
            }
            self.written_code_pages.push(page);
        }
        self.refresh_page_access();
    }

    /// How PAM segment `seg` decodes now.
    pub fn pam(&self, seg: usize) -> PamMode {
        self.map.pam(seg)
    }

    /// Opens (`true`) or closes the A20 gate. Closed, address bit 20 reads as zero.
    pub fn set_a20(&mut self, enabled: bool) {
        self.a20_mask = if enabled { !0 } else { !(1 << 20) };
    }

    /// Whether the A20 gate is open.
    pub fn a20(&self) -> bool {
        self.a20_mask & (1 << 20) != 0
    }

    /// The mask applied to every physical address (bit 20 cleared when A20 is closed).
    pub fn a20_mask(&self) -> u32 {
        self.a20_mask
    }

    /// Where a read of a physical address lands, after the A20 gate.
    #[inline]
    pub fn resolve(&self, addr: u32) -> Target {
        let addr = addr & self.a20_mask;
        self.map.resolve(addr, self.ram_size)
    }

    /// Where a write to a physical address lands, after the A20 gate: as a read except in
    /// the PAM-shadowed range (see [`PhysMem::set_pam`]).
    #[inline]
    pub fn resolve_write(&self, addr: u32) -> Target {
        let addr = addr & self.a20_mask;
        self.map.resolve_write(addr, self.ram_size)
    }

    /// Reads one byte. MMIO and unmapped addresses read as 0xFF here; callers that route
    /// MMIO check [`PhysMem::resolve`] first.
    #[inline]
    pub fn read_u8(&self, addr: u32) -> u8 {
        match self.resolve(addr) {
            Target::Ram(off) => self.ram[off as usize],
            Target::Rom(off) => self.rom_byte(off),
            Target::Mmio(..) | Target::Unmapped => 0xFF,
        }
    }

    /// Byte `off` of the ROM space: the BIOS image, then the option ROM.
    #[inline]
    fn rom_byte(&self, off: u32) -> u8 {
        let off = off as usize;
        match off.checked_sub(self.bios.len()) {
            None => self.bios[off],
            Some(o) => self.option_rom.get(o).copied().unwrap_or(0xFF),
        }
    }

    /// Writes one byte. ROM, MMIO and unmapped addresses ignore the write here.
    #[inline]
    pub fn write_u8(&mut self, addr: u32, value: u8) {
        if let Target::Ram(off) = self.resolve_write(addr) {
            self.note_write(off);
            self.ram[off as usize] = value;
        }
    }

    /// Reads `buf.len()` bytes starting at `addr`, byte by byte through the map.
    pub fn read_bytes(&self, addr: u32, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.read_u8(addr.wrapping_add(i as u32));
        }
    }

    /// Writes `data` starting at `addr`, byte by byte through the map.
    pub fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u32), *b);
        }
    }

    /// The RAM bytes `[addr, addr + len)` when they are all plain RAM in one page.
    #[inline]
    pub fn ram_slice(&self, addr: u32, len: usize) -> Option<&[u8]> {
        let page_off = (addr & (PAGE_SIZE - 1)) as usize;
        if page_off + len > PAGE_SIZE as usize {
            return None;
        }
        match self.resolve(addr) {
            Target::Ram(off) => Some(&self.ram[off as usize..off as usize + len]),
            _ => None,
        }
    }

    /// Mutable RAM bytes `[addr, addr + len)` when they are all plain RAM in one page.
    /// Code-page tracking sees the write before the caller makes it.
    #[inline]
    pub fn ram_slice_mut(&mut self, addr: u32, len: usize) -> Option<&mut [u8]> {
        let page_off = (addr & (PAGE_SIZE - 1)) as usize;
        if page_off + len > PAGE_SIZE as usize {
            return None;
        }
        match self.resolve_write(addr) {
            Target::Ram(off) => {
                self.note_write(off);
                Some(&mut self.ram[off as usize..off as usize + len])
            }
            _ => None,
        }
    }

    /// The whole of guest RAM, for loaders and snapshots. Writes through it bypass code
    /// tracking; call [`PhysMem::forget_code`] afterwards.
    pub fn ram_mut(&mut self) -> &mut [u8] {
        &mut self.ram
    }

    /// The whole of guest RAM, read-only.
    pub fn ram(&self) -> &[u8] {
        &self.ram
    }

    /// Marks the RAM page holding physical `addr` as holding decoded/translated code.
    /// Returns false when `addr` is not RAM (ROM never changes, so it needs no tracking).
    pub fn mark_code_page(&mut self, addr: u32) -> bool {
        match self.resolve(addr) {
            Target::Ram(off) => {
                let page = (off >> PAGE_SHIFT) as usize;
                self.code_pages[page / 64] |= 1 << (page % 64);
                self.page_access[page] &= !PAGE_FAST_WRITE;
                true
            }
            _ => false,
        }
    }

    /// Pages (RAM page numbers) written since they were marked as code, oldest first.
    /// Their marks are cleared; the engine must drop its cached code for them.
    pub fn take_written_code_pages(&mut self) -> Vec<u32> {
        let pages = std::mem::take(&mut self.written_code_pages);
        if let Some(log) = self.code_write_log.as_mut() {
            log.extend_from_slice(&pages);
        }
        pages
    }

    /// Turns on (or off) the code-write log: from now on every page that
    /// [`PhysMem::take_written_code_pages`] hands out is also kept until
    /// [`PhysMem::take_code_write_log`]. An engine that caches code of its own (the
    /// translator) and lets another engine (the interpreter) drain the written pages for
    /// a while uses it so it still learns of every page it must drop.
    pub fn set_code_write_log(&mut self, on: bool) {
        if on != self.code_write_log.is_some() {
            self.code_write_log = on.then(Vec::new);
        }
    }

    /// Pages taken by [`PhysMem::take_written_code_pages`] since the last call (empty
    /// while the log is off).
    pub fn take_code_write_log(&mut self) -> Vec<u32> {
        self.code_write_log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether [`PhysMem::take_code_write_log`] has pages to give.
    pub fn code_write_logged(&self) -> bool {
        self.code_write_log.as_ref().is_some_and(|l| !l.is_empty())
    }

    /// Whether any code page has been written since the last
    /// [`PhysMem::take_written_code_pages`].
    #[inline]
    pub fn code_written(&self) -> bool {
        !self.written_code_pages.is_empty()
    }

    /// Clears every code mark, as after a bulk load or a whole-cache flush.
    pub fn forget_code(&mut self) {
        self.code_pages.iter_mut().for_each(|w| *w = 0);
        self.written_code_pages.clear();
        self.refresh_page_access();
    }

    #[inline]
    fn note_write(&mut self, ram_off: u32) {
        let page = (ram_off >> PAGE_SHIFT) as usize;
        let bit = 1u64 << (page % 64);
        let word = &mut self.code_pages[page / 64];
        if *word & bit != 0 {
            *word &= !bit;
            self.written_code_pages.push(page as u32);
            if self.page_access[page] & PAGE_FAST_READ != 0 {
                self.page_access[page] |= PAGE_FAST_WRITE;
            }
        }
    }
}

#[cfg(test)]
mod tests;
