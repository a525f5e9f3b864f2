//! The physical address map: which of ROM, MMIO or RAM an address decodes to.

use crate::{MemError, LOW_BIOS_WINDOW};

/// First byte of the range the chipset's PAM registers shadow (0xC0000..0x100000).
pub const PAM_START: u32 = 0xC_0000;
/// One past the last byte of the PAM range.
pub const PAM_END: u32 = 0x10_0000;
/// PAM segments: index 0 is 0xF0000..0x100000 (64 KiB), 1..=12 are the 16 KiB pieces
/// from 0xC0000 to 0xEFFFF in address order.
pub const PAM_SEGMENTS: usize = 13;
/// Size of the 16 KiB PAM segments.
const PAM_SMALL: u32 = 0x4000;
/// Start of the 64 KiB PAM segment 0.
const PAM_HIGH_START: u32 = 0xF_0000;

/// The PAM segment holding `addr`, which must lie in `PAM_START..PAM_END`.
#[inline]
pub(crate) fn pam_segment(addr: u32) -> usize {
    if addr >= PAM_HIGH_START {
        0
    } else {
        1 + ((addr - PAM_START) / PAM_SMALL) as usize
    }
}

/// The bytes `[start, end)` of PAM segment `seg` (0..[`PAM_SEGMENTS`]).
pub fn pam_segment_range(seg: usize) -> (u32, u32) {
    if seg == 0 {
        (PAM_HIGH_START, PAM_END)
    } else {
        let start = PAM_START + (seg as u32 - 1) * PAM_SMALL;
        (start, start + PAM_SMALL)
    }
}

/// How a PAM segment decodes. The default (`read_ram` and `write_ram` false) is the
/// decode without shadowing: the BIOS ROM where it is mapped, RAM elsewhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PamMode {
    /// Reads go to RAM (else to the ROM/default decode).
    pub read_ram: bool,
    /// Writes go to RAM (else to the ROM/default decode, or nowhere when reads go to RAM:
    /// a write-protected shadow).
    pub write_ram: bool,
}

/// Identifies an MMIO hole; the machine chooses the numbers and routes them to devices.
pub type MmioId = u16;

/// Where one physical address lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Guest RAM, at this byte offset.
    Ram(u32),
    /// The BIOS image, at this byte offset (read-only).
    Rom(u32),
    /// An MMIO hole: its id and the offset inside the hole.
    Mmio(MmioId, u32),
    /// Nothing decodes the address: reads float to all-ones, writes vanish.
    Unmapped,
}

#[derive(Debug, Clone, Copy)]
struct Hole {
    start: u32,
    end: u32, // inclusive
    id: MmioId,
}

/// The decode order of a PC chipset: high BIOS, low BIOS, MMIO holes, then RAM.
#[derive(Debug, Default)]
pub(crate) struct AddressMap {
    bios_len: u32,
    low_bios_start: u32,
    holes: Vec<Hole>,
    pam: [PamMode; PAM_SEGMENTS],
    /// An option ROM below the BIOS: first byte and length (0 when none).
    option_rom: (u32, u32),
}

impl AddressMap {
    pub(crate) fn set_bios(&mut self, len: u32) {
        self.bios_len = len;
        self.low_bios_start = 0x10_0000 - len.min(LOW_BIOS_WINDOW as u32);
    }

    /// Maps an option ROM of `len` bytes at `start`; it decodes below the BIOS windows
    /// and the PAM shadow, above MMIO holes and RAM.
    pub(crate) fn set_option_rom(&mut self, start: u32, len: u32) {
        self.option_rom = (start, len);
    }

    pub(crate) fn add_mmio(&mut self, start: u32, len: u32, id: MmioId) -> Result<(), MemError> {
        let overlap = MemError::MmioOverlap { start, len };
        if len == 0 {
            return Err(overlap);
        }
        let end = start.checked_add(len - 1).ok_or(overlap.clone())?;
        if self.holes.iter().any(|h| start <= h.end && h.start <= end) {
            return Err(overlap);
        }
        self.holes.push(Hole { start, end, id });
        self.holes.sort_by_key(|h| h.start);
        Ok(())
    }

    pub(crate) fn set_pam(&mut self, seg: usize, mode: PamMode) {
        if let Some(m) = self.pam.get_mut(seg) {
            *m = mode;
        }
    }

    pub(crate) fn pam(&self, seg: usize) -> PamMode {
        self.pam.get(seg).copied().unwrap_or_default()
    }

    /// Whether reads and writes of physical page `page` go straight to RAM at
    /// `ram base + address`: `(reads, writes)`.
    pub(crate) fn page_ram_access(&self, page: u32, ram_size: u32) -> (bool, bool) {
        let start = page << crate::PAGE_SHIFT;
        if (PAM_START..PAM_END).contains(&start) && start < ram_size {
            let mode = self.pam[pam_segment(start)];
            if mode.read_ram {
                return (true, mode.write_ram);
            }
        }
        let plain = self.page_is_plain_ram(page, ram_size);
        (plain, plain)
    }

    /// Whether the whole of physical page `page` (a page number) decodes to RAM: below
    /// `ram_size` and overlapping neither BIOS window nor any MMIO hole.
    pub(crate) fn page_is_plain_ram(&self, page: u32, ram_size: u32) -> bool {
        let start = page << crate::PAGE_SHIFT;
        let end = start | (crate::PAGE_SIZE - 1);
        if end >= ram_size {
            return false;
        }
        let overlaps = |lo: u32, hi: u32| start <= hi && lo <= end;
        if self.bios_len != 0
            && (overlaps(0u32.wrapping_sub(self.bios_len), u32::MAX) || overlaps(self.low_bios_start, 0xF_FFFF))
        {
            return false;
        }
        let (rom, rom_len) = self.option_rom;
        if rom_len != 0 && overlaps(rom, rom + (rom_len - 1)) {
            return false;
        }
        !self.holes.iter().any(|h| overlaps(h.start, h.end))
    }

    /// Where a write to `addr` lands: as a read, except in PAM segments that send writes
    /// to RAM, or that shadow the ROM read-only (writes vanish).
    #[inline]
    pub(crate) fn resolve_write(&self, addr: u32, ram_size: u32) -> Target {
        if (PAM_START..PAM_END).contains(&addr) {
            let mode = self.pam[pam_segment(addr)];
            match (mode.read_ram, mode.write_ram) {
                (_, true) if addr < ram_size => return Target::Ram(addr),
                (true, false) => return Target::Unmapped,
                _ => {}
            }
        }
        self.resolve_default(addr, ram_size)
    }

    #[inline]
    pub(crate) fn resolve(&self, addr: u32, ram_size: u32) -> Target {
        if (PAM_START..PAM_END).contains(&addr) && addr < ram_size && self.pam[pam_segment(addr)].read_ram {
            return Target::Ram(addr);
        }
        self.resolve_default(addr, ram_size)
    }

    #[inline]
    fn resolve_default(&self, addr: u32, ram_size: u32) -> Target {
        if self.bios_len != 0 {
            let high_start = 0u32.wrapping_sub(self.bios_len);
            if addr >= high_start {
                return Target::Rom(addr - high_start);
            }
            if (self.low_bios_start..0x10_0000).contains(&addr) {
                return Target::Rom(self.bios_len - (0x10_0000 - addr));
            }
        }
        let (rom, rom_len) = self.option_rom;
        if addr.wrapping_sub(rom) < rom_len {
            // Option-ROM bytes follow the BIOS image's in ROM offsets.
            return Target::Rom(self.bios_len + (addr - rom));
        }
        for h in &self.holes {
            if addr < h.start {
                break;
            }
            if addr <= h.end {
                return Target::Mmio(h.id, addr - h.start);
            }
        }
        if addr < ram_size {
            Target::Ram(addr)
        } else {
            Target::Unmapped
        }
    }
}
