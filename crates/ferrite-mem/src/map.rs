//! The physical address map: which of ROM, MMIO or RAM an address decodes to.

use crate::{MemError, LOW_BIOS_WINDOW};

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
}

impl AddressMap {
    pub(crate) fn set_bios(&mut self, len: u32) {
        self.bios_len = len;
        self.low_bios_start = 0x10_0000 - len.min(LOW_BIOS_WINDOW as u32);
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
        !self.holes.iter().any(|h| overlaps(h.start, h.end))
    }

    #[inline]
    pub(crate) fn resolve(&self, addr: u32, ram_size: u32) -> Target {
        if self.bios_len != 0 {
            let high_start = 0u32.wrapping_sub(self.bios_len);
            if addr >= high_start {
                return Target::Rom(addr - high_start);
            }
            if (self.low_bios_start..0x10_0000).contains(&addr) {
                return Target::Rom(self.bios_len - (0x10_0000 - addr));
            }
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
