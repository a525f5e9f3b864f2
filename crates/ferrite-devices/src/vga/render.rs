//! Turning video memory and the registers into an RGB frame, as the CRTC would scan it
//! out: one frame per call, at the mode's own resolution (the UI scales it).
//!
//! - A VBE mode: `xres`×`yres` at 8 (through the DAC), 15, 16, 24 or 32 bits per pixel,
//!   from the virtual-screen corner (X/Y offset) with the virtual width as the pitch.
//! - Text (graphics register 6 bit 0 clear): 40 or 80 columns of 8- or 9-dot characters
//!   (sequencer 1 bit 0), character codes in plane 0 and attributes in plane 1, glyphs of
//!   32 bytes each in plane 2 in the font maps sequencer 3 selects (attribute bit 3 picks
//!   map A or B), colours through the attribute controller and the DAC, the 9th column
//!   repeating the 8th for the line-graphics characters 0xC0–0xDF, the cursor (CRTC 0x0A,
//!   0x0B, 0x0E, 0x0F). Blinking is not modelled: the blink bit only limits the background
//!   to 8 colours.
//! - 256 colours (graphics register 5 bit 6; mode 13h and the unchained "mode X"): one
//!   byte per pixel, pixel x in plane x % 4.
//! - 16 colours, planar (mode 12h and the EGA modes): one bit per plane per pixel.
//!
//! The CRTC supplies the start address, the offset (line pitch), the maximum scan line
//! and double scanning (line repeat), the vertical display end and the line compare
//! (the lines below it show memory from address 0, the split screen). Screen-off
//! (sequencer 1 bit 5) or a clear palette address source blanks the frame.

use super::memory::{GR_MISC, GR_MODE, PLANE_SIZE};
use super::vbe::Vbe;
use super::{Vga, AR_INDEX_PAS};

/// Largest frame dimension rendered (guards against absurd register values).
pub const MAX_DIM: usize = 4096;
/// Frame size used while no sensible mode is programmed.
pub const BLANK_SIZE: (usize, usize) = (640, 480);
/// Sequencer register 1 (clocking mode) bit 0: 8-dot characters.
const SEQ1_8DOT: u8 = 0x01;
/// Sequencer register 1 bit 5: screen off.
const SEQ1_SCREEN_OFF: u8 = 0x20;
/// Graphics register 6 bit 0: graphics (not text) mode.
const GR6_GRAPHICS: u8 = 0x01;
/// Graphics register 5 bit 6: 256-colour shift mode.
const GR5_SHIFT256: u8 = 0x40;
/// Attribute mode control (0x10) bit 2: line-graphics enable (9th column copies).
const AR10_LINE_GRAPHICS: u8 = 0x04;
/// Attribute mode control bit 3: blink enable (attribute bit 7 blinks).
const AR10_BLINK: u8 = 0x08;
/// Attribute mode control bit 7: P5/P4 come from the colour select register.
const AR10_P54_SELECT: u8 = 0x80;
/// Attribute register: mode control.
const AR_MODE: usize = 0x10;
/// Attribute register: colour plane enable.
const AR_PLANE_ENABLE: usize = 0x12;
/// Attribute register: colour select.
const AR_COLOR_SELECT: usize = 0x14;
/// CRTC register 0x0A bit 5: cursor off.
const CURSOR_OFF: u8 = 0x20;
/// CRTC register 0x09 bit 7: double scanning.
const CRTC9_DOUBLE_SCAN: u8 = 0x80;
/// CRTC register 0x14 bit 6: doubleword addressing.
const CRTC14_DWORD: u8 = 0x40;
/// CRTC register 0x17 bit 6: byte (not word) addressing.
const CRTC17_BYTE: u8 = 0x40;
/// Bytes per glyph slot in plane 2.
const GLYPH_STRIDE: u32 = 32;
/// Where each of the eight font maps starts in plane 2.
const FONT_MAP_BASE: [u32; 8] = [0x0000, 0x4000, 0x8000, 0xC000, 0x2000, 0x6000, 0xA000, 0xE000];
/// The line-graphics characters whose 9th column repeats the 8th.
const LINE_GRAPHICS: std::ops::RangeInclusive<u8> = 0xC0..=0xDF;

/// An RGB frame: `pixels[y * width + x]` is 0x00RRGGBB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Pixels, row by row, 0x00RRGGBB.
    pub pixels: Vec<u32>,
}

impl Frame {
    /// Resizes to `width`×`height` and fills with black.
    fn reset(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.resize(width * height, 0);
    }

    /// The pixel at (x, y), 0x00RRGGBB (black outside the frame).
    pub fn pixel(&self, x: usize, y: usize) -> u32 {
        if x < self.width {
            self.pixels.get(y * self.width + x).copied().unwrap_or(0)
        } else {
            0
        }
    }
}

/// A 6-bit DAC component widened to 8 bits.
fn widen6(c: u8) -> u32 {
    let c = c & 0x3F;
    ((c << 2) | (c >> 4)) as u32
}

/// The CRTC timing values the renderer needs.
struct Crtc {
    /// Characters per line.
    chars: usize,
    /// Visible scan lines.
    lines: usize,
    /// Scan lines per character row (maximum scan line + 1).
    cell_height: usize,
    /// 2 when double scanning, else 1.
    double: usize,
    /// Start address.
    start: u32,
    /// The offset register (half the pitch in address units).
    offset: u32,
    /// Address shift: 0 byte, 1 word, 2 doubleword addressing.
    shift: u32,
    /// Line compare (scan line after which addresses restart at 0).
    line_compare: usize,
}

impl Vga {
    fn crtc_timing(&self) -> Crtc {
        let c = &self.regs.crtc;
        let overflow = c[7] as usize;
        let vde = c[0x12] as usize | (overflow & 0x02) << 7 | (overflow & 0x40) << 3;
        let shift = if c[0x14] & CRTC14_DWORD != 0 {
            2
        } else if c[0x17] & CRTC17_BYTE == 0 {
            1
        } else {
            0
        };
        Crtc {
            chars: c[1] as usize + 1,
            lines: vde + 1,
            cell_height: (c[9] & 0x1F) as usize + 1,
            double: if c[9] & CRTC9_DOUBLE_SCAN != 0 { 2 } else { 1 },
            start: (c[0x0C] as u32) << 8 | c[0x0D] as u32,
            offset: c[0x13] as u32,
            shift,
            line_compare: c[0x18] as usize | (overflow & 0x10) << 4 | (c[9] as usize & 0x40) << 3,
        }
    }

    /// The RGB colour of DAC entry `index` (after the PEL mask).
    fn dac_rgb(&self, index: u8) -> u32 {
        let [r, g, b] = self.regs.dac[(index & self.regs.pel_mask) as usize];
        if self.vbe.dac_8bit() {
            (r as u32) << 16 | (g as u32) << 8 | b as u32
        } else {
            widen6(r) << 16 | widen6(g) << 8 | widen6(b)
        }
    }

    /// The DAC index of 4-bit colour `color` through the attribute controller.
    fn ar_dac_index(&self, color: u8) -> u8 {
        let ar = &self.regs.ar;
        let pal = ar[(color & ar[AR_PLANE_ENABLE] & 0x0F) as usize];
        let low = if ar[AR_MODE] & AR10_P54_SELECT != 0 {
            (pal & 0x0F) | (ar[AR_COLOR_SELECT] & 0x03) << 4
        } else {
            pal & 0x3F
        };
        low | (ar[AR_COLOR_SELECT] & 0x0C) << 4
    }

    /// Renders the current screen into `frame` (resized as the mode needs).
    pub fn render(&self, frame: &mut Frame) {
        if self.vbe.enabled() {
            return render_vbe(self, &self.vbe, frame);
        }
        let blank = self.regs.ar_index & AR_INDEX_PAS == 0 || self.regs.seq[1] & SEQ1_SCREEN_OFF != 0;
        let t = self.crtc_timing();
        if self.regs.gr[GR_MISC] & GR6_GRAPHICS == 0 {
            self.render_text(&t, frame, blank);
        } else {
            self.render_graphics(&t, frame, blank);
        }
    }

    fn render_text(&self, t: &Crtc, frame: &mut Frame, blank: bool) {
        let cell_w = if self.regs.seq[1] & SEQ1_8DOT != 0 { 8 } else { 9 };
        let rows = t.lines / (t.cell_height * t.double);
        let (width, height) = (t.chars * cell_w, rows * t.cell_height * t.double);
        if !sized(frame, width, height) || blank {
            return;
        }
        let ar = &self.regs.ar;
        let c = &self.regs.crtc;
        let sr3 = self.regs.seq[3];
        let map_a = FONT_MAP_BASE[(((sr3 >> 2) & 3) | ((sr3 >> 3) & 4)) as usize];
        let map_b = FONT_MAP_BASE[((sr3 & 3) | ((sr3 >> 2) & 4)) as usize];
        let cursor = (c[0x0E] as u32) << 8 | c[0x0F] as u32;
        let cursor_lines = (c[0x0A] & CURSOR_OFF == 0).then_some((c[0x0A] & 0x1F)..=(c[0x0B] & 0x1F));
        let blink = ar[AR_MODE] & AR10_BLINK != 0;
        let line_graphics = ar[AR_MODE] & AR10_LINE_GRAPHICS != 0;
        for row in 0..rows {
            for col in 0..t.chars {
                let counter = t.start.wrapping_add((row as u32) * t.offset * 2 + col as u32);
                let addr = (counter << t.shift) % PLANE_SIZE as u32;
                let ch = self.plane_byte(0, addr);
                let attr = self.plane_byte(1, addr);
                let fg = self.dac_rgb(self.ar_dac_index(attr & 0x0F));
                let bg_color = if blink { (attr >> 4) & 0x07 } else { attr >> 4 };
                let bg = self.dac_rgb(self.ar_dac_index(bg_color));
                let font = if attr & 0x08 != 0 { map_a } else { map_b };
                let glyph = font + ch as u32 * GLYPH_STRIDE;
                let is_cursor = counter & 0xFFFF == cursor;
                for line in 0..t.cell_height {
                    let mut bits = self.plane_byte(2, glyph + line as u32) as u32;
                    if is_cursor && cursor_lines.as_ref().is_some_and(|r| r.contains(&(line as u8))) {
                        bits = 0xFF;
                    }
                    let ninth = cell_w == 9 && line_graphics && LINE_GRAPHICS.contains(&ch) && bits & 1 != 0;
                    for rep in 0..t.double {
                        let y = (row * t.cell_height + line) * t.double + rep;
                        let out = &mut frame.pixels[y * width + col * cell_w..][..cell_w];
                        for (x, px) in out.iter_mut().enumerate() {
                            let on = if x < 8 { bits & (0x80 >> x) != 0 } else { ninth };
                            *px = if on { fg } else { bg };
                        }
                    }
                }
            }
        }
    }

    fn render_graphics(&self, t: &Crtc, frame: &mut Frame, blank: bool) {
        let shift256 = self.regs.gr[GR_MODE] & GR5_SHIFT256 != 0;
        let width = if shift256 { t.chars * 4 } else { t.chars * 8 };
        let repeat = t.cell_height * t.double;
        let height = t.lines / repeat;
        if !sized(frame, width, height) || blank {
            return;
        }
        let split = t.line_compare / repeat;
        for y in 0..height {
            let (base, row) = if y > split && t.line_compare < t.lines { (0, y - split - 1) } else { (t.start, y) };
            let line = base.wrapping_add(row as u32 * t.offset * 2);
            let out = &mut frame.pixels[y * width..][..width];
            if shift256 {
                for (x, px) in out.iter_mut().enumerate() {
                    let offset = line.wrapping_add(x as u32 / 4);
                    *px = self.dac_rgb(self.plane_byte(x & 3, offset % PLANE_SIZE as u32));
                }
            } else {
                let addr = line << t.shift;
                for (x, px) in out.iter_mut().enumerate() {
                    let offset = addr.wrapping_add(x as u32 / 8) % PLANE_SIZE as u32;
                    let bit = 0x80 >> (x % 8);
                    let color = (0..4).fold(0u8, |acc, p| acc | (((self.plane_byte(p, offset) & bit) != 0) as u8) << p);
                    *px = self.dac_rgb(self.ar_dac_index(color));
                }
            }
        }
    }
}

/// Resizes `frame` for a mode of `width`×`height`; a blank frame of [`BLANK_SIZE`] when
/// the size is not sensible. Returns whether the mode can be drawn.
fn sized(frame: &mut Frame, width: usize, height: usize) -> bool {
    let ok = (8..=MAX_DIM).contains(&width) && (8..=MAX_DIM).contains(&height);
    if ok {
        frame.reset(width, height);
    } else {
        frame.reset(BLANK_SIZE.0, BLANK_SIZE.1);
    }
    ok
}

fn render_vbe(vga: &Vga, vbe: &Vbe, frame: &mut Frame) {
    let (width, height) = (vbe.xres(), vbe.yres());
    if !sized(frame, width, height) {
        return;
    }
    let vram = vga.vram();
    let bpp = vbe.bytes_per_pixel();
    for y in 0..height {
        let line = vbe.start() + y * vbe.pitch();
        let Some(src) = vram.get(line..line + width * bpp) else { break };
        let out = &mut frame.pixels[y * width..][..width];
        for (x, px) in out.iter_mut().enumerate() {
            let p = &src[x * bpp..][..bpp];
            *px = match vbe.bpp() {
                8 => vga.dac_rgb(p[0]),
                15 => rgb555(u16::from_le_bytes([p[0], p[1]])),
                16 => rgb565(u16::from_le_bytes([p[0], p[1]])),
                24 | 32 => (p[2] as u32) << 16 | (p[1] as u32) << 8 | p[0] as u32,
                _ => 0,
            };
        }
    }
}

/// A 5-bit component widened to 8 bits.
fn widen5(c: u16) -> u32 {
    let c = (c & 0x1F) as u32;
    (c << 3) | (c >> 2)
}

fn rgb555(v: u16) -> u32 {
    widen5(v >> 10) << 16 | widen5(v >> 5) << 8 | widen5(v)
}

fn rgb565(v: u16) -> u32 {
    let g = ((v >> 5) & 0x3F) as u32;
    widen5(v >> 11) << 16 | ((g << 2) | (g >> 4)) << 8 | widen5(v)
}

impl Vga {
    /// The characters of the text screen, one string per row (code points 0x20–0x7E as
    /// themselves, anything else as a space); `None` in a graphics or VBE mode. For tests
    /// and tools that look for text on the screen without rendering it.
    pub fn text_screen(&self) -> Option<Vec<String>> {
        if self.vbe.enabled() || self.regs.gr[GR_MISC] & GR6_GRAPHICS != 0 {
            return None;
        }
        let t = self.crtc_timing();
        let rows = t.lines / (t.cell_height * t.double).max(1);
        let screen = (0..rows)
            .map(|row| {
                (0..t.chars)
                    .map(|col| {
                        let counter = t.start.wrapping_add((row as u32) * t.offset * 2 + col as u32);
                        let ch = self.plane_byte(0, (counter << t.shift) % PLANE_SIZE as u32);
                        if (0x20..0x7F).contains(&ch) {
                            ch as char
                        } else {
                            ' '
                        }
                    })
                    .collect()
            })
            .collect();
        Some(screen)
    }
}
