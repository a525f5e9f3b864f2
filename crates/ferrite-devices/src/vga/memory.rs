//! The legacy memory window 0xA0000–0xBFFFF as the graphics controller and sequencer
//! decode it.
//!
//! - The memory map select (graphics register 6, bits 2–3) picks which part of the
//!   window answers: 128 KiB at 0xA0000, 64 KiB at 0xA0000, 32 KiB at 0xB0000 or 32 KiB
//!   at 0xB8000.
//! - Chain-4 (sequencer 4 bit 3): the low two address bits pick the plane (mode 13h).
//! - Odd/even (sequencer 4 bit 2 clear for writes, graphics 5 bit 4 for reads): even
//!   addresses reach planes 0/2, odd ones planes 1/3 (text modes).
//! - Otherwise planar: every read loads the four latches and returns one plane (read
//!   mode 0) or a colour-compare result (read mode 1); writes go through the data
//!   rotate, set/reset, the logical function and the bit mask (write modes 0–3), to the
//!   planes the map mask enables.
//! - With a VBE mode on, the 64 KiB at 0xA0000 show the selected bank of video memory.

use super::Vga;

/// Graphics register: set/reset value.
pub const GR_SET_RESET: usize = 0;
/// Graphics register: enable set/reset.
pub const GR_ENABLE_SET_RESET: usize = 1;
/// Graphics register: colour compare.
pub const GR_COLOR_COMPARE: usize = 2;
/// Graphics register: data rotate (bits 0–2) and function select (bits 3–4).
pub const GR_DATA_ROTATE: usize = 3;
/// Graphics register: read map select.
pub const GR_READ_MAP: usize = 4;
/// Graphics register: mode (write mode bits 0–1, read mode bit 3, odd/even bit 4,
/// shift-256 bit 6).
pub const GR_MODE: usize = 5;
/// Graphics register: miscellaneous (graphics mode bit 0, memory map bits 2–3).
pub const GR_MISC: usize = 6;
/// Graphics register: colour don't care.
pub const GR_COLOR_DONT_CARE: usize = 7;
/// Graphics register: bit mask.
pub const GR_BIT_MASK: usize = 8;
/// Sequencer register: map mask (plane write enable).
pub const SEQ_MAP_MASK: usize = 2;
/// Sequencer register: memory mode.
pub const SEQ_MEMORY_MODE: usize = 4;
/// Memory mode: odd/even addressing disabled.
pub const SEQ4_ODD_EVEN_DISABLE: u8 = 0x04;
/// Memory mode: chain-4.
pub const SEQ4_CHAIN4: u8 = 0x08;
/// Mode register: read mode 1 (colour compare).
pub const GR5_READ_MODE1: u8 = 0x08;
/// Mode register: host odd/even reads.
pub const GR5_ODD_EVEN: u8 = 0x10;
/// Planar offsets per plane.
pub const PLANE_SIZE: usize = 64 * 1024;

/// Expands the low four bits of `v` to a byte per plane (bit p → 0xFF in plane p).
fn expand(v: u8) -> [u8; 4] {
    std::array::from_fn(|p| if v & (1 << p) != 0 { 0xFF } else { 0 })
}

impl Vga {
    /// The window offset (from 0xA0000) decoded by the memory map select, or `None` when
    /// the address lies outside the part that answers.
    fn window_offset(&self, addr: u32) -> Option<u32> {
        let (base, len) = match (self.regs.gr[GR_MISC] >> 2) & 3 {
            0 => (0, 0x2_0000),
            1 => (0, 0x1_0000),
            2 => (0x1_0000, 0x8000),
            _ => (0x1_8000, 0x8000),
        };
        addr.checked_sub(base).filter(|&off| off < len)
    }

    /// The vram index of planar `offset` in `plane`.
    fn plane_index(offset: u32, plane: usize) -> usize {
        ((offset as usize % PLANE_SIZE) << 2) | (plane & 3)
    }

    /// Reads a byte at `addr`, an offset from 0xA0000 into the legacy window.
    pub fn mem_read(&mut self, addr: u32) -> u8 {
        if self.vbe.enabled() {
            return match addr {
                0..=0xFFFF => self.vram.get(self.vbe.bank_offset() + addr as usize).copied().unwrap_or(0xFF),
                _ => 0xFF,
            };
        }
        let Some(off) = self.window_offset(addr) else { return 0xFF };
        let r = &self.regs;
        if r.seq[SEQ_MEMORY_MODE] & SEQ4_CHAIN4 != 0 {
            return self.vram[Self::plane_index(off >> 2, off as usize & 3)];
        }
        if r.gr[GR_MODE] & GR5_ODD_EVEN != 0 {
            let plane = (r.gr[GR_READ_MAP] as usize & 2) | (off as usize & 1);
            return self.vram[Self::plane_index(off & !1, plane)];
        }
        let base = Self::plane_index(off, 0);
        let latch: [u8; 4] = std::array::from_fn(|p| self.vram[base + p]);
        self.regs.latch = latch;
        let r = &self.regs;
        if r.gr[GR_MODE] & GR5_READ_MODE1 == 0 {
            return latch[r.gr[GR_READ_MAP] as usize & 3];
        }
        let compare = expand(r.gr[GR_COLOR_COMPARE]);
        let care = expand(r.gr[GR_COLOR_DONT_CARE]);
        let differ = (0..4).fold(0u8, |acc, p| acc | ((latch[p] ^ compare[p]) & care[p]));
        !differ
    }

    /// Writes a byte at `addr`, an offset from 0xA0000 into the legacy window.
    pub fn mem_write(&mut self, addr: u32, value: u8) {
        if self.vbe.enabled() {
            if addr <= 0xFFFF {
                let at = self.vbe.bank_offset() + addr as usize;
                if let Some(b) = self.vram.get_mut(at) {
                    *b = value;
                }
            }
            return;
        }
        let Some(off) = self.window_offset(addr) else { return };
        let map_mask = self.regs.seq[SEQ_MAP_MASK];
        let mode = self.regs.seq[SEQ_MEMORY_MODE];
        if mode & SEQ4_CHAIN4 != 0 {
            let plane = off as usize & 3;
            if map_mask & (1 << plane) != 0 {
                self.vram[Self::plane_index(off >> 2, plane)] = value;
            }
            return;
        }
        if mode & SEQ4_ODD_EVEN_DISABLE == 0 {
            let odd = off as usize & 1;
            for plane in [odd, odd + 2] {
                if map_mask & (1 << plane) != 0 {
                    self.vram[Self::plane_index(off & !1, plane)] = value;
                }
            }
            return;
        }
        let data = self.planar_data(value);
        let base = Self::plane_index(off, 0);
        for (p, byte) in data.iter().enumerate() {
            if map_mask & (1 << p) != 0 {
                self.vram[base + p] = *byte;
            }
        }
    }

    /// The four plane bytes a planar write produces (write modes 0–3).
    fn planar_data(&self, value: u8) -> [u8; 4] {
        let r = &self.regs;
        let latch = r.latch;
        let rotate = r.gr[GR_DATA_ROTATE] & 7;
        let function = (r.gr[GR_DATA_ROTATE] >> 3) & 3;
        let set_reset = expand(r.gr[GR_SET_RESET]);
        let mut mask = r.gr[GR_BIT_MASK];
        let data: [u8; 4] = match r.gr[GR_MODE] & 3 {
            0 => {
                let v = value.rotate_right(rotate as u32);
                let enable = r.gr[GR_ENABLE_SET_RESET];
                std::array::from_fn(|p| if enable & (1 << p) != 0 { set_reset[p] } else { v })
            }
            1 => return latch,
            2 => expand(value),
            _ => {
                mask &= value.rotate_right(rotate as u32);
                set_reset
            }
        };
        std::array::from_fn(|p| {
            let d = match function {
                0 => data[p],
                1 => data[p] & latch[p],
                2 => data[p] | latch[p],
                _ => data[p] ^ latch[p],
            };
            (d & mask) | (latch[p] & !mask)
        })
    }

    /// Planar byte `offset` of `plane` (0–3), as the renderer and tests see it.
    pub fn plane_byte(&self, plane: usize, offset: u32) -> u8 {
        self.vram[Self::plane_index(offset, plane)]
    }

    /// Sets planar byte `offset` of `plane` directly (loaders, tests).
    pub fn set_plane_byte(&mut self, plane: usize, offset: u32, value: u8) {
        self.vram[Self::plane_index(offset, plane)] = value;
    }
}
