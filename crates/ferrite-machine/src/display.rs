//! The display on the board: the VGA adapter's memory window and linear framebuffer as
//! MMIO holes, the VGA BIOS, and what the UI needs from the machine (the rendered frame,
//! keyboard and mouse input into the 8042).
//!
//! The VGA BIOS (`MachineConfig::vga_bios`, the CLI's `--vga-bios`) is mapped read-only
//! at 0xC0000, where a card's ROM decodes and a legacy BIOS scan finds it, and is also
//! offered to SeaBIOS as the fw_cfg file [`VGA_ROM_FILE`]: SeaBIOS on a QEMU-style board
//! runs only VGA ROMs it finds on a PCI VGA function or in `vgaroms/` files, copying them
//! into the shadow RAM that its PAM settings put over the ROM.
//!
//! PCI hook: the stdvga is not yet a PCI function. To make it one, plug a function with
//! ID [`ferrite_devices::vga::STDVGA_VENDOR`]:[`ferrite_devices::vga::STDVGA_DEVICE`],
//! class [`ferrite_devices::vga::STDVGA_CLASS`] and BAR 0 = a 16 MiB prefetchable memory
//! BAR into `pci::build`, and move the [`MMIO_VGA_LFB`] hole to wherever the guest programs
//! BAR 0 (ferrite-mem needs a way to move a hole). Until then the framebuffer stays at
//! [`ferrite_devices::vga::LFB_ADDR`], the address the Bochs VBE BIOS uses without PCI.

use crate::board::{Board, MMIO_VGA_LFB, MMIO_VGA_WINDOW};
use crate::{Machine, MachineError};
use ferrite_devices::vga::{Frame, LFB_ADDR, VGA_WINDOW_LEN, VGA_WINDOW_START, VRAM_SIZE};
use ferrite_mem::PhysMem;

/// Where the VGA BIOS is mapped.
pub const VGA_BIOS_ADDR: u32 = 0xC_0000;
/// The fw_cfg file that offers the VGA BIOS to SeaBIOS.
pub const VGA_ROM_FILE: &str = "vgaroms/vgabios.bin";

/// Maps the VGA window and framebuffer and, if given, the VGA BIOS.
pub(crate) fn install(mem: &mut PhysMem, board: &mut Board, vga_bios: Option<&[u8]>) -> Result<(), MachineError> {
    mem.add_mmio(VGA_WINDOW_START, VGA_WINDOW_LEN, MMIO_VGA_WINDOW)?;
    mem.add_mmio(LFB_ADDR, VRAM_SIZE as u32, MMIO_VGA_LFB)?;
    if let Some(rom) = vga_bios {
        mem.load_option_rom(VGA_BIOS_ADDR, rom)?;
        // The name is short and unique, so this cannot fail.
        let _ = board.fw_cfg.add_file(VGA_ROM_FILE, rom.to_vec());
    }
    Ok(())
}

impl Machine {
    /// Renders the screen into `frame` (resized to the guest's mode).
    pub fn render_display(&self, frame: &mut Frame) {
        self.board.vga.render(frame);
    }

    /// The characters on the guest's text screen, one string per row; `None` in a
    /// graphics mode (see [`ferrite_devices::vga::Vga::text_screen`]).
    pub fn screen_text(&self) -> Option<Vec<String>> {
        self.board.vga.text_screen()
    }

    /// The host pressed or released keys: `codes` are PS/2 set-2 scancode bytes (with
    /// 0xE0/0xF0 prefixes), queued in the keyboard as a real one sends them.
    pub fn key_input(&mut self, codes: &[u8]) {
        self.board.chipset.kbc.key_input(codes);
    }

    /// The host moved the mouse by (dx, dy) (dy positive = up), turned the wheel by dz,
    /// with `buttons` held (bit 0 left, 1 right, 2 middle).
    pub fn mouse_input(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        self.board.chipset.kbc.mouse_input(dx, dy, dz, buttons);
    }
}
