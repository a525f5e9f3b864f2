//! Booting from a floppy through SeaBIOS: Debian's `bios.bin` finds the 82077AA controller
//! and drive A: through CMOS, reads `roms/bin/floppy_pm.img` with INT 13h over the
//! controller and DMA channel 2, and starts its boot sector, which loads 40 more sectors
//! across both heads and into cylinder 1. The second stage writes the disk's last sector
//! and reads it back (the write must reach a writable image and not one under
//! `--snapshot`), enters protected mode and prints the checksum of what it loaded on COM1
//! (see roms/floppy_pm.asm). The checksum is recomputed here from the image, so every
//! sector must have arrived intact and in its place. `--boot` is checked against a hard
//! disk that would boot too. Without SeaBIOS installed the tests print a loud SKIPPED
//! notice and pass; scripts/setup installs it.

mod common;

use common::*;
use std::process::Output;

/// What the floppy's second stage prints before the checksum's hex digits.
const FLOPPY_MSG: &str = "ferrite floppy: protected mode OK, checksum 0x";
/// What the second stage prints when the sector it wrote reads back the same.
const WRITE_MSG: &str = "ferrite floppy: last sector written and read back\r\n";
/// Sectors the boot sector loads after itself (LBA 1..=40).
const LOAD_SECTORS: usize = 40;
/// The floppy's exit-port value 0x10: status (0x10 << 1) | 1.
const FLOPPY_STATUS: i32 = 33;
/// The hard disk's exit-port value 0x22: status (0x22 << 1) | 1.
const DISK_STATUS: i32 = 69;
/// A generous bound on one boot (SeaBIOS's POST takes most of it).
const BUDGET: &str = "3000000000";

/// The checksum the floppy's second stage computes over LBA 1..=40: sum = sum * 31 + word.
fn expected_checksum() -> u32 {
    let img = std::fs::read(rom("floppy_pm.img")).expect("the committed floppy image");
    assert_eq!(img.len(), 1_474_560, "a 1.44 MiB floppy");
    img[512..512 + LOAD_SECTORS * 512]
        .chunks_exact(4)
        .fold(0u32, |sum, w| sum.wrapping_mul(31).wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
}

/// A 1 MiB hard-disk image whose boot sector prints "HDD" on COM1 and exits with 0x22.
fn bootable_hard_disk(name: &str) -> std::path::PathBuf {
    let mut img = vec![0u8; 1024 * 1024];
    let code: [u8; 20] = [
        0xBA, 0xF8, 0x03, // mov dx, 0x3F8
        0xB0, b'H', 0xEE, // mov al, 'H'; out dx, al
        0xB0, b'D', 0xEE, // mov al, 'D'; out dx, al
        0xEE, // out dx, al
        0xB0, b'\n', 0xEE, // mov al, 10; out dx, al
        0xB0, 0x22, // mov al, 0x22
        0xE6, 0xF4, // out 0xF4, al
        0xFA, 0xF4, // cli; hlt
        0x90,
    ];
    img[..code.len()].copy_from_slice(&code);
    img[510] = 0x55;
    img[511] = 0xAA;
    let path = scratch("bios_boot", name);
    std::fs::write(&path, img).expect("scratch image written");
    path
}

/// What the second stage wrote to the disk's last sector: (i * 7 + 3) & 0xFF.
fn written_sector() -> Vec<u8> {
    (0..512u32).map(|i| (i * 7 + 3) as u8).collect()
}

/// Boots the committed floppy image under `--snapshot` (the guest's write must not reach it).
fn boot(bios: &str, engine: &str, extra: &[&str]) -> Output {
    let floppy = rom("floppy_pm.img");
    let o = boot_image(bios, engine, floppy.to_str().expect("a UTF-8 path"), &[&["--snapshot"], extra].concat());
    let img = std::fs::read(&floppy).expect("the committed floppy image");
    assert!(img[img.len() - 512..].iter().all(|&b| b == 0), "--snapshot kept the image's last sector");
    o
}

fn boot_image(bios: &str, engine: &str, floppy: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--bios", bios, "--fda", floppy, "--serial", "stdio", "--display", "none"];
    args.extend_from_slice(&["--engine", engine, "--max-insns", BUDGET]);
    args.extend_from_slice(extra);
    ferrite(&args)
}

fn assert_floppy_booted(o: &Output) {
    assert_no_panic(o);
    let out = stdout(o);
    assert!(out.contains(WRITE_MSG), "expected {WRITE_MSG:?} on COM1; got {out:?}");
    let want = format!("{FLOPPY_MSG}{:08X}\r\n", expected_checksum());
    assert!(out.contains(&want), "expected {want:?} on COM1; got {out:?}\nstderr: {}", stderr(o));
    assert_eq!(o.status.code(), Some(FLOPPY_STATUS), "{}", summary(o));
    assert!(summary(o).contains("exit-port"), "{}", summary(o));
}

#[test]
fn test_floppy_boots_to_protected_mode_interp() {
    let Some(bios) = seabios_or_skip("test_floppy_boots_to_protected_mode_interp") else { return };
    assert_floppy_booted(&boot(bios, "interp", &["--boot", "a"]));
}

#[test]
fn test_floppy_boots_to_protected_mode_jit() {
    let Some(bios) = seabios_or_skip("test_floppy_boots_to_protected_mode_jit") else { return };
    assert_floppy_booted(&boot(bios, "jit", &["--boot", "a"]));
}

#[test]
fn test_floppy_writes_reach_the_image_file() {
    let Some(bios) = seabios_or_skip("test_floppy_writes_reach_the_image_file") else { return };
    let copy = scratch("bios_boot", "floppy_rw.img");
    std::fs::copy(rom("floppy_pm.img"), &copy).expect("scratch copy");
    assert_floppy_booted(&boot_image(bios, "jit", copy.to_str().expect("a UTF-8 path"), &["--boot", "a"]));
    let img = std::fs::read(&copy).expect("the scratch image");
    assert_eq!(img[img.len() - 512..], written_sector()[..], "the guest's INT 13h write is in the file");
    let _ = std::fs::remove_file(copy);
}

#[test]
fn test_boot_order_picks_floppy_or_hard_disk() {
    let Some(bios) = seabios_or_skip("test_boot_order_picks_floppy_or_hard_disk") else { return };
    let hd = bootable_hard_disk("hd.img");
    let hd = hd.to_str().expect("a UTF-8 path");
    // --boot a: the floppy, although a bootable hard disk is present.
    assert_floppy_booted(&boot(bios, "jit", &["--hda", hd, "--boot", "a"]));
    // --boot c, and QEMU's default order (cad): the hard disk first.
    for extra in [&["--hda", hd, "--boot", "c"][..], &["--hda", hd][..]] {
        let o = boot(bios, "jit", extra);
        assert_no_panic(&o);
        assert!(stdout(&o).contains("HDD\n"), "{extra:?}: {:?}", stdout(&o));
        assert!(!stdout(&o).contains(FLOPPY_MSG), "{extra:?}");
        assert_eq!(o.status.code(), Some(DISK_STATUS), "{extra:?}: {}", summary(&o));
    }
    // --boot ca: no hard disk, so the floppy is next.
    assert_floppy_booted(&boot(bios, "jit", &["--boot", "ca"]));
}

#[test]
fn test_floppy_image_of_odd_size_is_refused() {
    let odd = scratch("bios_boot", "odd.img");
    std::fs::write(&odd, vec![0u8; 1_000_448]).expect("scratch image written");
    let o = ferrite(&["run", "--fda", odd.to_str().expect("a UTF-8 path"), "--max-insns", "10"]);
    assert_error_line(&o, 1, "is 1000448 bytes; a floppy image must be 737280");
    let o = ferrite(&["run", "--fda", "/nonexistent/a.img", "--max-insns", "10"]);
    assert_error_line(&o, 1, "cannot open disk image /nonexistent/a.img");
    let o = ferrite(&["run", "--boot", "z"]);
    assert_error_line(&o, 2, "unknown boot device 'z'");
}
