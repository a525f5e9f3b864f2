//! The VGA adapter with the Bochs VBE extensions: QEMU's `stdvga` (PCI 1234:1111), the
//! card SeaBIOS' `vgabios-stdvga.bin` drives.
//!
//! - Ports 0x3B0–0x3DF: the VGA registers — miscellaneous output, sequencer (0x3C4/5),
//!   graphics controller (0x3CE/F), attribute controller (0x3C0/1 with its index/data
//!   flip-flop, reset by reading input status 1), CRTC (0x3B4/5 or 0x3D4/5 as the
//!   miscellaneous output's I/O-address bit selects), the DAC (PEL mask 0x3C6, read index
//!   0x3C7, write index 0x3C8, data 0x3C9) and input status 1 (0x3BA/0x3DA).
//! - Ports 0x1CE/0x1CF: the Bochs VBE "dispi" index/data pair ([`vbe`]).
//! - Memory: the legacy window 0xA0000–0xBFFFF ([`Vga::mem_read`], [`Vga::mem_write`];
//!   planes, read/write modes, chain-4 and odd/even in [`memory`]) and the linear
//!   framebuffer ([`Vga::lfb_read`], [`Vga::lfb_write`], [`Vga::lfb`]), which the machine
//!   maps at [`LFB_ADDR`] (later at the stdvga's PCI BAR 0).
//! - [`Vga::render`] turns video memory and the registers into an RGB [`Frame`]
//!   ([`render`]).
//!
//! Video memory is one buffer of [`VRAM_SIZE`] bytes. The first 256 KiB double as the four
//! VGA planes, interleaved: byte `offset * 4 + plane` (so chain-4 addresses are plain
//! byte addresses, as QEMU lays them out); VBE modes use it linearly from byte 0.

pub mod memory;
pub mod render;
pub mod vbe;

#[cfg(test)]
mod tests;

use crate::PortDevice;
use std::ops::RangeInclusive;

pub use render::Frame;
pub use vbe::Vbe;

/// Bytes of video memory (16 MiB, as QEMU's default `vgamem_mb`).
pub const VRAM_SIZE: usize = 16 * 1024 * 1024;
/// Where the machine maps the linear framebuffer until it sits behind a PCI BAR (the
/// address the Bochs VBE BIOS assumes without PCI).
pub const LFB_ADDR: u32 = 0xE000_0000;
/// The legacy memory window: 0xA0000–0xBFFFF.
pub const VGA_WINDOW_START: u32 = 0xA_0000;
/// Length of the legacy memory window.
pub const VGA_WINDOW_LEN: u32 = 0x2_0000;
/// The stdvga's PCI vendor ID (for the PCI function, once the bus takes devices).
pub const STDVGA_VENDOR: u16 = 0x1234;
/// The stdvga's PCI device ID.
pub const STDVGA_DEVICE: u16 = 0x1111;
/// PCI class code of a VGA-compatible display controller (class 0x03, subclass 0x00).
pub const STDVGA_CLASS: u16 = 0x0300;

/// Attribute controller index/data port (write), index read-back (read).
pub const PORT_AR_INDEX: u16 = 0x3C0;
/// Attribute controller data read.
pub const PORT_AR_DATA_READ: u16 = 0x3C1;
/// Miscellaneous output (write) / input status 0 (read).
pub const PORT_MISC_WRITE: u16 = 0x3C2;
/// Sequencer index.
pub const PORT_SEQ_INDEX: u16 = 0x3C4;
/// Sequencer data.
pub const PORT_SEQ_DATA: u16 = 0x3C5;
/// DAC PEL mask.
pub const PORT_PEL_MASK: u16 = 0x3C6;
/// DAC read index (write) / DAC state (read).
pub const PORT_DAC_READ_INDEX: u16 = 0x3C7;
/// DAC write index.
pub const PORT_DAC_WRITE_INDEX: u16 = 0x3C8;
/// DAC data (three 6-bit components per entry).
pub const PORT_DAC_DATA: u16 = 0x3C9;
/// Feature control read.
pub const PORT_FEATURE_READ: u16 = 0x3CA;
/// Miscellaneous output read.
pub const PORT_MISC_READ: u16 = 0x3CC;
/// Graphics controller index.
pub const PORT_GR_INDEX: u16 = 0x3CE;
/// Graphics controller data.
pub const PORT_GR_DATA: u16 = 0x3CF;
/// CRTC index in colour mode (mono: 0x3B4).
pub const PORT_CRTC_INDEX_COLOR: u16 = 0x3D4;
/// Input status 1 in colour mode (mono: 0x3BA).
pub const PORT_STATUS1_COLOR: u16 = 0x3DA;
/// What the colour addresses become in mono mode.
const MONO_OFFSET: u16 = 0x20;

/// Miscellaneous output bit 0: CRTC and status 1 at 0x3Dx (else 0x3Bx).
pub const MISC_COLOR_IO: u8 = 0x01;
/// Attribute index bit 5: palette address source — clear while the palette is being
/// loaded, which blanks the screen.
pub const AR_INDEX_PAS: u8 = 0x20;
/// Input status 1 bit 0: display disabled (in a blanking interval).
const STATUS1_DISPLAY_DISABLED: u8 = 0x01;
/// Input status 1 bit 3: vertical retrace.
const STATUS1_VRETRACE: u8 = 0x08;
/// CRTC register 0x11 bit 7: registers 0–7 are write-protected.
const CRTC_PROTECT: u8 = 0x80;
/// CRTC register 0x07 (overflow): the only bit writable while protected (line compare 8).
const CRTC_OVERFLOW_LC8: u8 = 0x10;

/// Sequencer registers.
pub const SEQ_REGS: usize = 5;
/// Graphics controller registers.
pub const GR_REGS: usize = 9;
/// Attribute controller registers.
pub const AR_REGS: usize = 21;
/// CRTC registers.
pub const CRTC_REGS: usize = 25;
/// DAC entries.
pub const DAC_ENTRIES: usize = 256;

/// The VGA register file: everything but video memory and the VBE registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgaRegs {
    /// Miscellaneous output register.
    pub misc: u8,
    /// Sequencer index.
    pub seq_index: u8,
    /// Sequencer registers 0–4.
    pub seq: [u8; SEQ_REGS],
    /// Graphics controller index.
    pub gr_index: u8,
    /// Graphics controller registers 0–8.
    pub gr: [u8; GR_REGS],
    /// Attribute controller index (with the PAS bit).
    pub ar_index: u8,
    /// Attribute controller flip-flop: the next 0x3C0 write is data.
    pub ar_flip: bool,
    /// Attribute controller registers 0x00–0x14.
    pub ar: [u8; AR_REGS],
    /// CRTC index.
    pub crtc_index: u8,
    /// CRTC registers 0x00–0x18.
    pub crtc: [u8; CRTC_REGS],
    /// DAC PEL mask.
    pub pel_mask: u8,
    /// DAC palette: 6-bit (or, for 8-bit-DAC VBE modes, 8-bit) R, G, B per entry.
    pub dac: [[u8; 3]; DAC_ENTRIES],
    /// DAC read index.
    pub dac_read: u8,
    /// DAC write index.
    pub dac_write: u8,
    /// Which component (0–2) the next data access touches.
    pub dac_component: u8,
    /// The entry being written, collected until its third component.
    pub dac_pending: [u8; 3],
    /// Whether the last index written was the read index (DAC state read).
    pub dac_reading: bool,
    /// The four plane latches, loaded by every read of the window.
    pub latch: [u8; 4],
    /// Counts input status 1 reads, to toggle the retrace bits.
    pub status_reads: u8,
}

impl Default for VgaRegs {
    fn default() -> Self {
        VgaRegs {
            misc: MISC_COLOR_IO,
            seq_index: 0,
            seq: [0; SEQ_REGS],
            gr_index: 0,
            gr: [0; GR_REGS],
            ar_index: 0,
            ar_flip: false,
            ar: [0; AR_REGS],
            crtc_index: 0,
            crtc: [0; CRTC_REGS],
            pel_mask: 0xFF,
            dac: [[0; 3]; DAC_ENTRIES],
            dac_read: 0,
            dac_write: 0,
            dac_component: 0,
            dac_pending: [0; 3],
            dac_reading: false,
            latch: [0; 4],
            status_reads: 0,
        }
    }
}

/// The VGA + Bochs VBE adapter: registers, video memory and the dispi interface.
pub struct Vga {
    /// The VGA register file.
    pub regs: VgaRegs,
    /// The VBE dispi registers.
    pub vbe: Vbe,
    /// Video memory ([`VRAM_SIZE`] bytes).
    vram: Vec<u8>,
}

impl std::fmt::Debug for Vga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vga").field("regs", &self.regs).field("vbe", &self.vbe).finish_non_exhaustive()
    }
}

impl Default for Vga {
    fn default() -> Self {
        Self::new()
    }
}

impl Vga {
    /// A powered-on adapter: registers zero (colour I/O addresses), video memory clear,
    /// VBE disabled.
    pub fn new() -> Self {
        Vga { regs: VgaRegs::default(), vbe: Vbe::new(VRAM_SIZE), vram: vec![0; VRAM_SIZE] }
    }

    /// Video memory.
    pub fn vram(&self) -> &[u8] {
        &self.vram
    }

    /// Video memory, mutable (the linear framebuffer as a plain buffer).
    pub fn vram_mut(&mut self) -> &mut [u8] {
        &mut self.vram
    }

    /// The linear framebuffer: all of video memory.
    pub fn lfb(&mut self) -> &mut [u8] {
        &mut self.vram
    }

    /// Reads `size` bytes at `offset` into the linear framebuffer (all-ones past its end).
    pub fn lfb_read(&self, offset: u32, size: u8) -> u32 {
        let mut v = 0u32;
        for i in 0..size.min(4) as usize {
            let b = self.vram.get(offset as usize + i).copied().unwrap_or(0xFF);
            v |= (b as u32) << (8 * i);
        }
        v
    }

    /// Writes `size` bytes of `value` at `offset` into the linear framebuffer.
    pub fn lfb_write(&mut self, offset: u32, size: u8, value: u32) {
        for i in 0..size.min(4) as usize {
            if let Some(b) = self.vram.get_mut(offset as usize + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
    }

    /// Whether the CRTC and status 1 answer at 0x3Dx (colour) rather than 0x3Bx.
    fn color_io(&self) -> bool {
        self.regs.misc & MISC_COLOR_IO != 0
    }

    /// Maps a port to its colour-mode name, or `None` when it belongs to the
    /// unselected (mono or colour) CRTC/status range.
    fn decode(&self, port: u16) -> Option<u16> {
        match port {
            0x3B0..=0x3BF if self.color_io() => None,
            0x3B0..=0x3BF => Some(port + MONO_OFFSET),
            0x3D0..=0x3DF if !self.color_io() => None,
            _ => Some(port),
        }
    }

    fn read_byte(&mut self, port: u16) -> u8 {
        let Some(port) = self.decode(port) else { return 0xFF };
        let r = &mut self.regs;
        match port {
            PORT_AR_INDEX => r.ar_index,
            PORT_AR_DATA_READ => r.ar.get((r.ar_index & 0x1F) as usize).copied().unwrap_or(0),
            PORT_MISC_WRITE => 0x10, // input status 0: switch sense high, no interrupt
            PORT_SEQ_INDEX => r.seq_index,
            PORT_SEQ_DATA => r.seq.get(r.seq_index as usize).copied().unwrap_or(0),
            PORT_PEL_MASK => r.pel_mask,
            PORT_DAC_READ_INDEX => {
                if r.dac_reading {
                    3
                } else {
                    0
                }
            }
            PORT_DAC_WRITE_INDEX => r.dac_write,
            PORT_DAC_DATA => {
                let v = r.dac[r.dac_read as usize][r.dac_component as usize];
                r.dac_component += 1;
                if r.dac_component == 3 {
                    r.dac_component = 0;
                    r.dac_read = r.dac_read.wrapping_add(1);
                }
                v
            }
            PORT_FEATURE_READ => 0,
            PORT_MISC_READ => r.misc,
            PORT_GR_INDEX => r.gr_index,
            PORT_GR_DATA => r.gr.get(r.gr_index as usize).copied().unwrap_or(0),
            PORT_CRTC_INDEX_COLOR => r.crtc_index,
            0x3D5 => r.crtc.get(r.crtc_index as usize).copied().unwrap_or(0),
            PORT_STATUS1_COLOR => {
                r.ar_flip = false;
                r.status_reads = r.status_reads.wrapping_add(1);
                // Alternate between active display and retrace so polling loops end.
                if r.status_reads & 1 != 0 {
                    STATUS1_VRETRACE | STATUS1_DISPLAY_DISABLED
                } else {
                    0
                }
            }
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, value: u8) {
        let Some(port) = self.decode(port) else { return };
        let r = &mut self.regs;
        match port {
            PORT_AR_INDEX => {
                if r.ar_flip {
                    if let Some(reg) = r.ar.get_mut((r.ar_index & 0x1F) as usize) {
                        *reg = value;
                    }
                } else {
                    r.ar_index = value & 0x3F;
                }
                r.ar_flip = !r.ar_flip;
            }
            PORT_MISC_WRITE => r.misc = value,
            PORT_SEQ_INDEX => r.seq_index = value & 0x07,
            PORT_SEQ_DATA => {
                if let Some(reg) = r.seq.get_mut(r.seq_index as usize) {
                    *reg = value;
                }
            }
            PORT_PEL_MASK => r.pel_mask = value,
            PORT_DAC_READ_INDEX => {
                r.dac_read = value;
                r.dac_component = 0;
                r.dac_reading = true;
            }
            PORT_DAC_WRITE_INDEX => {
                r.dac_write = value;
                r.dac_component = 0;
                r.dac_reading = false;
            }
            PORT_DAC_DATA => {
                let mask = if self.vbe.dac_8bit() { 0xFF } else { 0x3F };
                r.dac_pending[r.dac_component as usize] = value & mask;
                r.dac_component += 1;
                if r.dac_component == 3 {
                    r.dac[r.dac_write as usize] = r.dac_pending;
                    r.dac_component = 0;
                    r.dac_write = r.dac_write.wrapping_add(1);
                }
            }
            PORT_GR_INDEX => r.gr_index = value & 0x0F,
            PORT_GR_DATA => {
                if let Some(reg) = r.gr.get_mut(r.gr_index as usize) {
                    *reg = value;
                }
            }
            PORT_CRTC_INDEX_COLOR => r.crtc_index = value & 0x1F,
            0x3D5 => {
                let index = r.crtc_index as usize;
                let protected = r.crtc[0x11] & CRTC_PROTECT != 0;
                if index > 0x18 {
                    return;
                }
                if protected && index < 7 {
                    return;
                }
                if protected && index == 7 {
                    r.crtc[7] = (r.crtc[7] & !CRTC_OVERFLOW_LC8) | (value & CRTC_OVERFLOW_LC8);
                    return;
                }
                r.crtc[index] = value;
            }
            _ => {}
        }
    }
}

impl PortDevice for Vga {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![vbe::PORT_INDEX..=vbe::PORT_DATA, 0x3B0..=0x3DF]
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        if port == vbe::PORT_INDEX || port == vbe::PORT_DATA {
            return self.vbe.read(port) as u32;
        }
        let mut v = 0u32;
        for i in 0..size.min(4) as u16 {
            v |= (self.read_byte(port.wrapping_add(i)) as u32) << (8 * i);
        }
        v
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        if port == vbe::PORT_INDEX || port == vbe::PORT_DATA {
            let clear = self.vbe.write(port, value as u16);
            if let Some(len) = clear {
                let len = len.min(self.vram.len());
                self.vram[..len].fill(0);
            }
            return;
        }
        for i in 0..size.min(4) as u16 {
            self.write_byte(port.wrapping_add(i), (value >> (8 * i)) as u8);
        }
    }
}
