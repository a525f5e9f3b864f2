//! Linux on the VGA screen with the PS/2 keyboard, end to end: what `--display window`
//! shows and forwards, without a window. SeaBIOS with Debian's `vgabios-stdvga.bin` boots
//! `target/linux/disk.img` from `scripts/linux-image` (SYSLINUX, Debian 12's 686 kernel,
//! `console=ttyS0`, so the kernel talks on COM1); the VGA BIOS sets up the text mode and
//! its font, the kernel's VGA text console (vgacon) takes the screen over, and `/init`
//! starts a shell on the first virtual console besides the one on COM1. Once the serial
//! marker is there, the test types `echo vga ok` and Enter as PS/2 set-2 scancodes into
//! the 8042 (as the window forwards host keys) and reads the screen's characters
//! (`Machine::screen_text`, what the window renders) until the command's output appears
//! on a line of its own.
//!
//! Without the image or SeaBIOS the test prints a loud SKIPPED notice and passes;
//! `scripts/setup` and `scripts/test` provide both when apt works.

mod common;

use ferrite_devices::ata_identify::Drive;
use ferrite_devices::block::{DiskImage, MediaKind};
use ferrite_machine::{Engine, Machine, MachineConfig};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What `/init` prints on COM1 before it starts the shells.
const SHELL_MARKER: &str = "FERRITE-SHELL-READY";
/// The VGA BIOS from Debian's `seabios` package.
const VGA_BIOS: &str = "/usr/share/seabios/vgabios-stdvga.bin";
/// Upper bound on instructions to the marker (about 6.5 × 10⁹ with `--deterministic`).
const BOOT_BUDGET: u64 = 12_000_000_000;
/// Upper bound on instructions from the marker until the typed command's output shows.
const TYPE_BUDGET: u64 = 3_000_000_000;
/// Instructions per run slice between looks at the serial output and the screen.
const SLICE: u64 = 50_000_000;

/// COM1's output, shared with the test.
#[derive(Clone, Default)]
struct Serial(Arc<Mutex<Vec<u8>>>);

impl Write for Serial {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn disk_image() -> Option<PathBuf> {
    let dir = std::env::var_os("FERRITE_LINUX_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/linux"));
    let disk = dir.join("disk.img");
    if disk.is_file() && std::path::Path::new(VGA_BIOS).is_file() {
        return Some(disk);
    }
    eprintln!();
    eprintln!("################################################################################");
    eprintln!("## NOTICE: no {} or no {VGA_BIOS}: the VGA console test was SKIPPED.", disk.display());
    eprintln!("## Build the image with scripts/linux-image; scripts/setup installs seabios.");
    eprintln!("################################################################################");
    None
}

/// PS/2 set-2 make and break bytes for the keys of `text` (lower-case letters, space,
/// newline as Enter).
fn scancodes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for c in text.chars() {
        let code = match c {
            'a' => 0x1C,
            'c' => 0x21,
            'e' => 0x24,
            'g' => 0x34,
            'h' => 0x33,
            'k' => 0x42,
            'o' => 0x44,
            'v' => 0x2A,
            ' ' => 0x29,
            '\n' => 0x5A,
            _ => panic!("no scancode for {c:?} in this test"),
        };
        out.extend_from_slice(&[code, 0xF0, code]);
    }
    out
}

#[test]
fn test_linux_shell_on_the_vga_console_takes_keyboard_input() {
    let Some(disk) = disk_image() else { return };
    let Some(bios) = common::seabios_or_skip("VGA console") else { return };
    let mut config = MachineConfig::new(std::fs::read(bios).expect("SeaBIOS is readable"));
    config.ram_mib = 256;
    config.engine = Engine::Jit;
    config.deterministic = true;
    config.vga_bios = Some(std::fs::read(VGA_BIOS).expect("the VGA BIOS is readable"));
    let mut machine = Machine::new(config).expect("the machine builds");
    let image = DiskImage::open(&disk, MediaKind::HardDisk, true).expect("the disk image opens (as a snapshot)");
    machine.attach_drives([Some(Drive::disk(image)), None, None, None]);
    let serial = Serial::default();
    machine.set_serial(Some(Box::new(serial.clone())), None);
    let serial_text = || String::from_utf8_lossy(&serial.0.lock().unwrap()).into_owned();

    while !serial_text().contains(SHELL_MARKER) {
        assert!(machine.cpu().insns < BOOT_BUDGET, "no shell marker; serial:\n{}", serial_text());
        if let Some(reason) = machine.run_for(SLICE) {
            panic!("Linux stopped before the shell: {reason:?}; serial:\n{}", serial_text());
        }
    }
    // Let the shell on tty1 come up, then type into it.
    for _ in 0..4 {
        assert_eq!(machine.run_for(SLICE), None);
    }
    machine.key_input(&scancodes("echo vga ok\n"));
    let start = machine.cpu().insns;
    let mut screen = Vec::new();
    while machine.cpu().insns - start < TYPE_BUDGET {
        assert_eq!(machine.run_for(SLICE), None, "the run goes on");
        screen = machine.screen_text().expect("the console is in a text mode");
        // The command line itself shows "/ # echo vga ok"; the output is a row of its own.
        if screen.iter().any(|row| row.trim_end() == "vga ok") {
            assert!(
                screen.iter().any(|row| row.contains("# echo vga ok")),
                "the typed command is echoed on the screen:\n{}",
                screen.join("\n")
            );
            return;
        }
    }
    panic!("the typed command's output never showed on the VGA screen:\n{}", screen.join("\n"));
}
