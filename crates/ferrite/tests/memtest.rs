//! memtest86+ 6 (Debian's `memtest86+` package: /boot/memtest86+ia32.bin) starts on ferrite
//! and shows its banner, booted two ways:
//!
//! - `ferrite run --kernel` with `console=ttyS0,115200`: the .bin follows the Linux boot
//!   protocol, and with that option memtest mirrors its screen on COM1, so the banner
//!   ("Memtest86+ v6...") arrives on standard output;
//! - from a floppy through SeaBIOS: the .bin starts with a legacy boot sector, so padded to
//!   1.44 MiB it is a bootable floppy. That boot has no command line, so the banner is only
//!   on the VGA text screen (SeaBIOS sets text mode through Debian's
//!   `vgabios-stdvga.bin`); this test drives a `Machine` directly and reads the screen's
//!   characters.
//!
//! Neither test installs anything: without /boot/memtest86+ia32.bin (or SeaBIOS for the
//! floppy) each prints a loud SKIPPED notice and passes; scripts/setup installs both.

mod common;

use common::*;
use ferrite_devices::block::DiskImage;
use ferrite_machine::{BootDevice, Engine, Machine, MachineConfig};
use std::path::Path;

/// Debian's 32-bit memtest86+ image.
const MEMTEST: &str = "/boot/memtest86+ia32.bin";
/// The VGA BIOS that puts the screen in text mode for the floppy boot.
const VGA_BIOS: &str = "/usr/share/seabios/vgabios-stdvga.bin";
/// memtest's banner (its boot sector's "Loading Memtest86+" comes before and is not it).
const BANNER: &str = "Memtest86+ v6";
/// A floppy image's size.
const FLOPPY_BYTES: usize = 1_474_560;
/// Instructions the `--kernel` runs get (host time: memtest calibrates its delays against
/// the PIT, and the banner came after 20-60 million instructions on the development machine;
/// with `--deterministic` it takes over 300 million, so these runs use host time).
const KERNEL_BUDGET: u64 = 400_000_000;
/// Upper bound on instructions for the banner to appear from the floppy (the loop stops as
/// soon as it is on the screen).
const BUDGET: u64 = 1_500_000_000;

fn memtest_or_skip(test: &str) -> Option<&'static str> {
    if Path::new(MEMTEST).is_file() {
        return Some(MEMTEST);
    }
    eprintln!("################################################################################");
    eprintln!("## SKIPPED {test}: {MEMTEST} not found (apt-get install memtest86+; scripts/setup does it)");
    eprintln!("################################################################################");
    None
}

fn kernel_boot_shows_banner(engine: &str) {
    let Some(memtest) = memtest_or_skip(&format!("memtest --kernel ({engine})")) else { return };
    let budget = KERNEL_BUDGET.to_string();
    let o = ferrite(&[
        "run",
        "--kernel",
        memtest,
        "--append",
        "console=ttyS0,115200",
        "-m",
        "64",
        "--serial",
        "stdio",
        "--display",
        "none",
        "--engine",
        engine,
        "--max-insns",
        &budget,
    ]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert!(out.contains(BANNER), "no banner on COM1: {:?}\n{}", out, stderr(&o));
    assert!(out.contains("Pass"), "the status panel is drawn too: {out:?}");
}

#[test]
fn test_memtest_kernel_boot_banner_jit() {
    kernel_boot_shows_banner("jit");
}

#[test]
fn test_memtest_kernel_boot_banner_interp() {
    kernel_boot_shows_banner("interp");
}

#[test]
fn test_memtest_floppy_boot_banner_on_screen() {
    let Some(memtest) = memtest_or_skip("memtest floppy boot") else { return };
    let Some(bios) = seabios_or_skip("memtest floppy boot") else { return };
    let mut floppy = std::fs::read(memtest).expect("memtest is readable");
    assert!(floppy.len() <= FLOPPY_BYTES, "memtest fits on a floppy");
    assert_eq!(&floppy[510..512], &[0x55, 0xAA], "memtest's .bin starts with a boot sector");
    floppy.resize(FLOPPY_BYTES, 0);
    let mut config = MachineConfig::new(std::fs::read(bios).expect("SeaBIOS is readable"));
    config.ram_mib = 64;
    config.engine = Engine::Jit;
    config.vga_bios = Some(std::fs::read(VGA_BIOS).expect("the VGA BIOS is readable"));
    let mut machine = Machine::new(config).expect("the machine builds");
    machine.attach_floppies([Some(DiskImage::from_bytes(floppy, false)), None]).expect("a 1.44 MiB floppy");
    machine.set_boot_order(&[BootDevice::Floppy]);
    let mut screen = Vec::new();
    while machine.cpu().insns < BUDGET {
        if let Some(reason) = machine.run_for(10_000_000) {
            panic!("memtest stopped: {reason:?}; screen:\n{}", screen.join("\n"));
        }
        screen = machine.screen_text().unwrap_or_default();
        if screen.iter().any(|row| row.contains(BANNER)) {
            break;
        }
    }
    assert!(
        screen.iter().any(|row| row.contains(BANNER)),
        "no banner after {} instructions; screen:\n{}",
        machine.cpu().insns,
        screen.join("\n")
    );
}
