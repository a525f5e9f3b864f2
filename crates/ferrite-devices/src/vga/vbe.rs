//! The Bochs VBE "dispi" interface: an index port (0x1CE) and a 16-bit data port (0x1CF)
//! giving the guest direct control of a linear framebuffer mode, which SeaBIOS' VGA BIOS
//! (and Linux's `bochs` DRM driver) program.
//!
//! Registers: ID (the guest writes the version it speaks, 0xB0C0–0xB0C5, and reads back
//! what it was granted), XRES, YRES, BPP (8, 15, 16, 24, 32), ENABLE (enabled, "get
//! capabilities", 8-bit DAC, LFB, no-clear-memory), BANK (64 KiB window at 0xA0000),
//! VIRT_WIDTH/VIRT_HEIGHT (the virtual screen), X_OFFSET/Y_OFFSET (the visible corner of
//! it) and VIDEO_MEMORY_64K (read-only size).

/// Index port.
pub const PORT_INDEX: u16 = 0x1CE;
/// Data port.
pub const PORT_DATA: u16 = 0x1CF;

/// Register: interface ID.
pub const INDEX_ID: u16 = 0;
/// Register: horizontal resolution.
pub const INDEX_XRES: u16 = 1;
/// Register: vertical resolution.
pub const INDEX_YRES: u16 = 2;
/// Register: bits per pixel.
pub const INDEX_BPP: u16 = 3;
/// Register: enable flags.
pub const INDEX_ENABLE: u16 = 4;
/// Register: bank (64 KiB units) shown in the 0xA0000 window.
pub const INDEX_BANK: u16 = 5;
/// Register: virtual width in pixels.
pub const INDEX_VIRT_WIDTH: u16 = 6;
/// Register: virtual height in lines.
pub const INDEX_VIRT_HEIGHT: u16 = 7;
/// Register: first visible column.
pub const INDEX_X_OFFSET: u16 = 8;
/// Register: first visible line.
pub const INDEX_Y_OFFSET: u16 = 9;
/// Register: video memory in 64 KiB units (read-only).
pub const INDEX_VIDEO_MEMORY_64K: u16 = 0xA;
/// Number of registers.
const REGS: usize = 11;

/// The oldest interface version.
pub const ID0: u16 = 0xB0C0;
/// The newest interface version this adapter speaks.
pub const ID5: u16 = 0xB0C5;

/// ENABLE: the VBE mode is on.
pub const ENABLE_ENABLED: u16 = 0x01;
/// ENABLE: reads of XRES/YRES/BPP return the maxima.
pub const ENABLE_GETCAPS: u16 = 0x02;
/// ENABLE: the DAC takes 8-bit components.
pub const ENABLE_8BIT_DAC: u16 = 0x20;
/// ENABLE: the linear framebuffer is in use.
pub const ENABLE_LFB: u16 = 0x40;
/// ENABLE: do not clear video memory when enabling.
pub const ENABLE_NOCLEARMEM: u16 = 0x80;

/// Largest horizontal resolution.
pub const MAX_XRES: u16 = 2560;
/// Largest vertical resolution.
pub const MAX_YRES: u16 = 1600;
/// Largest depth.
pub const MAX_BPP: u16 = 32;
/// Size of a bank in the 0xA0000 window.
pub const BANK_SIZE: usize = 64 * 1024;

/// The dispi registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vbe {
    /// Selected register.
    pub index: u16,
    /// Register values, by index.
    pub regs: [u16; REGS],
    vram_size: usize,
}

impl Vbe {
    /// Disabled, ID 0xB0C0, 640x480x8 programmed, over `vram_size` bytes of video memory.
    pub fn new(vram_size: usize) -> Self {
        let mut regs = [0u16; REGS];
        regs[INDEX_ID as usize] = ID0;
        regs[INDEX_XRES as usize] = 640;
        regs[INDEX_YRES as usize] = 480;
        regs[INDEX_BPP as usize] = 8;
        regs[INDEX_VIDEO_MEMORY_64K as usize] = (vram_size / BANK_SIZE).min(u16::MAX as usize) as u16;
        Vbe { index: 0, regs, vram_size }
    }

    fn reg(&self, index: u16) -> u16 {
        self.regs[index as usize]
    }

    /// Whether a VBE mode is on.
    pub fn enabled(&self) -> bool {
        self.reg(INDEX_ENABLE) & ENABLE_ENABLED != 0
    }

    /// Whether the DAC takes 8-bit components (only while enabled).
    pub fn dac_8bit(&self) -> bool {
        self.enabled() && self.reg(INDEX_ENABLE) & ENABLE_8BIT_DAC != 0
    }

    /// Horizontal resolution.
    pub fn xres(&self) -> usize {
        self.reg(INDEX_XRES) as usize
    }

    /// Vertical resolution.
    pub fn yres(&self) -> usize {
        self.reg(INDEX_YRES) as usize
    }

    /// Bits per pixel.
    pub fn bpp(&self) -> u16 {
        self.reg(INDEX_BPP)
    }

    /// Bytes per pixel of the current depth (15 bpp takes two).
    pub fn bytes_per_pixel(&self) -> usize {
        (self.bpp() as usize).div_ceil(8)
    }

    /// Bytes from one line of the virtual screen to the next.
    pub fn pitch(&self) -> usize {
        self.reg(INDEX_VIRT_WIDTH) as usize * self.bytes_per_pixel()
    }

    /// Byte offset in video memory of the first visible pixel.
    pub fn start(&self) -> usize {
        self.reg(INDEX_Y_OFFSET) as usize * self.pitch() + self.reg(INDEX_X_OFFSET) as usize * self.bytes_per_pixel()
    }

    /// Byte offset in video memory of the 0xA0000 window's first byte.
    pub fn bank_offset(&self) -> usize {
        self.reg(INDEX_BANK) as usize * BANK_SIZE
    }

    /// Reads the index port or the selected register.
    pub fn read(&self, port: u16) -> u16 {
        if port == PORT_INDEX {
            return self.index;
        }
        let caps = self.reg(INDEX_ENABLE) & ENABLE_GETCAPS != 0;
        match self.index {
            INDEX_XRES if caps => MAX_XRES,
            INDEX_YRES if caps => MAX_YRES,
            INDEX_BPP if caps => MAX_BPP,
            i if (i as usize) < REGS => self.reg(i),
            _ => 0,
        }
    }

    /// Writes the index port or the selected register. Returns how many bytes of video
    /// memory to clear when the write enabled a mode without NOCLEARMEM.
    pub fn write(&mut self, port: u16, value: u16) -> Option<usize> {
        if port == PORT_INDEX {
            self.index = value;
            return None;
        }
        match self.index {
            INDEX_ID if (ID0..=ID5).contains(&value) => self.regs[INDEX_ID as usize] = value,
            INDEX_XRES => self.regs[INDEX_XRES as usize] = value.min(MAX_XRES) & !7,
            INDEX_YRES => self.regs[INDEX_YRES as usize] = value.min(MAX_YRES),
            INDEX_BPP => {
                let bpp = if value == 0 { 8 } else { value };
                if matches!(bpp, 4 | 8 | 15 | 16 | 24 | 32) {
                    self.regs[INDEX_BPP as usize] = bpp;
                }
            }
            INDEX_ENABLE => return self.set_enable(value),
            INDEX_BANK => {
                let banks = self.vram_size / BANK_SIZE;
                if (value as usize) < banks {
                    self.regs[INDEX_BANK as usize] = value;
                }
            }
            INDEX_VIRT_WIDTH => {
                let width = value.max(self.reg(INDEX_XRES));
                self.regs[INDEX_VIRT_WIDTH as usize] = width;
                self.fit_virtual_height();
            }
            INDEX_X_OFFSET | INDEX_Y_OFFSET => self.regs[self.index as usize] = value,
            // VIRT_HEIGHT follows from the width; VIDEO_MEMORY_64K is read-only.
            _ => {}
        }
        None
    }

    /// The tallest virtual screen video memory holds at the current pitch.
    fn fit_virtual_height(&mut self) {
        let pitch = self.pitch().max(1);
        self.regs[INDEX_VIRT_HEIGHT as usize] = (self.vram_size / pitch).min(u16::MAX as usize) as u16;
    }

    fn set_enable(&mut self, value: u16) -> Option<usize> {
        let was = self.enabled();
        self.regs[INDEX_ENABLE as usize] = value;
        if value & ENABLE_ENABLED == 0 || was {
            return None;
        }
        // Enabling: the virtual screen starts as the visible one, at the origin.
        self.regs[INDEX_VIRT_WIDTH as usize] = self.reg(INDEX_XRES);
        self.regs[INDEX_X_OFFSET as usize] = 0;
        self.regs[INDEX_Y_OFFSET as usize] = 0;
        self.regs[INDEX_BANK as usize] = 0;
        self.fit_virtual_height();
        if value & ENABLE_NOCLEARMEM != 0 {
            return None;
        }
        Some((self.pitch() * self.yres()).min(self.vram_size))
    }
}
