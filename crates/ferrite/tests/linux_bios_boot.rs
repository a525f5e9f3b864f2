//! Linux through the firmware, end to end: SeaBIOS (`/usr/share/seabios/bios.bin`) boots
//! the images `scripts/linux-image` builds into `target/linux/` (or `FERRITE_LINUX_IMAGES`)
//! the way a PC boots them — no `--kernel`:
//!
//! - `disk.img` on the IDE primary master (`--hda`): SeaBIOS runs SYSLINUX's MBR, which
//!   starts the active FAT16 partition's SYSLINUX, which loads `/vmlinuz` and
//!   `/initrd.gz` through INT 13h and starts the kernel through the 16-bit boot protocol;
//! - `linux.iso` on the ATAPI CD-ROM (`--cdrom`): SeaBIOS's El Torito no-emulation boot
//!   loads ISOLINUX, which reads the kernel and initrd through INT 13h's CD functions.
//!
//! Each boot reads COM1 until the initramfs's `FERRITE-SHELL-READY` marker, quits ferrite
//! with the console's Ctrl-A x (a clean stop that flushes every log) and checks the boot
//! loader's banner (its `SERIAL` directive puts its console on COM1), the kernel's
//! banner, and SeaBIOS's own banner and "Booting from ..." line in its debug log (port
//! 0x402, `--debugcon file:`). The boots run with `--snapshot` and the image file must be
//! byte-identical afterwards. Bad media must end in SeaBIOS's boot-failure path, not in a
//! panic: a corrupt disk, a disk cut off after its MBR, an ISO without a boot record.
//! A small boot sector checks that `--snapshot` keeps guest writes in memory (the guest
//! reads its write back; the file does not change) while without it they reach the file.
//!
//! Without the images or SeaBIOS the tests print a loud SKIPPED notice and pass;
//! `scripts/setup` installs SeaBIOS and `scripts/test` builds the images first.

mod common;

use common::*;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What the initramfs's `/init` prints before it starts the shell.
const SHELL_MARKER: &str = "FERRITE-SHELL-READY";
/// The kernel's banner on the serial console.
const KERNEL_BANNER: &str = "Linux version 6.1";
/// SeaBIOS's banner in its debug log.
const SEABIOS_BANNER: &str = "SeaBIOS (version";
/// What SeaBIOS logs when every boot device has failed.
const NO_BOOT_DEVICE: &str = "No bootable device.";
/// SeaBIOS's debug-log port in Debian's QEMU build.
const SEABIOS_LOG_PORT: &str = "0x402";
/// Upper bound on instructions per Linux boot (with `--deterministic` the marker comes
/// after about 6.5 × 10⁹).
const LINUX_BUDGET: &str = "15000000000";
/// Upper bound on wall-clock time per Linux boot.
const TIMEOUT: Duration = Duration::from_secs(900);
/// Upper bound on instructions for the bad-media runs: SeaBIOS's POST and its failed boot
/// take about 7 × 10⁶ with `--deterministic`.
const FAILURE_BUDGET: &str = "100000000";

/// The boot media scripts/linux-image builds.
#[derive(Clone, Copy)]
enum Media {
    /// `disk.img` on `--hda`, booted by SYSLINUX.
    Disk,
    /// `linux.iso` on `--cdrom`, booted by ISOLINUX.
    Iso,
}

impl Media {
    fn file(self) -> &'static str {
        match self {
            Media::Disk => "disk.img",
            Media::Iso => "linux.iso",
        }
    }
    fn option(self) -> &'static str {
        match self {
            Media::Disk => "--hda",
            Media::Iso => "--cdrom",
        }
    }
    /// The boot loader's banner (its first line on COM1).
    fn loader_banner(self) -> &'static str {
        match self {
            Media::Disk => "SYSLINUX 6.",
            Media::Iso => "ISOLINUX 6.",
        }
    }
    /// What SeaBIOS logs when it starts this kind of device.
    fn seabios_boot_line(self) -> &'static str {
        match self {
            Media::Disk => "Booting from Hard Disk...",
            Media::Iso => "Booting from DVD/CD...",
        }
    }
}

fn image_dir() -> PathBuf {
    std::env::var_os("FERRITE_LINUX_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/linux"))
}

/// The image's path, or a loud notice that `test` is skipped.
fn image_or_skip(media: Media, test: &str) -> Option<PathBuf> {
    let path = image_dir().join(media.file());
    if path.is_file() {
        return Some(path);
    }
    eprintln!();
    eprintln!("################################################################################");
    eprintln!("## SKIPPED {test}: no {} in {}.", media.file(), image_dir().display());
    eprintln!("## Build it with scripts/linux-image (needs apt and the network).");
    eprintln!("################################################################################");
    None
}

fn file_hash(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).expect("the image is readable");
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    (bytes.len() as u64, h.finish())
}

/// What one boot produced: the serial lines up to the marker (or all of them), whether
/// the marker came, SeaBIOS's log and ferrite's standard error.
struct Boot {
    found: bool,
    lines: Vec<String>,
    seabios_log: String,
    stderr: String,
}

/// Boots `image` from `media` with `engine` under SeaBIOS and stops ferrite when the
/// shell marker appears on COM1 (or the run ends, or the time-out passes).
fn boot_linux(bios: &str, media: Media, image: &Path, engine: &str, name: &str) -> Boot {
    let log = scratch("linux_bios_boot", &format!("{name}.seabios.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--bios", bios, media.option()])
        .arg(image)
        .args(["--snapshot", "-m", "256", "--serial", "stdio", "--display", "none", "--deterministic"])
        .args(["--debugcon-port", SEABIOS_LOG_PORT, "--debugcon"])
        .arg(format!("file:{}", log.display()))
        .args(["--engine", engine, "--max-insns", LINUX_BUDGET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ferrite binary runs");
    let start = Instant::now();
    let (found, lines) = lines_until(&mut child, SHELL_MARKER, TIMEOUT);
    // Ctrl-A x on the console quits ferrite cleanly, so SeaBIOS's log file is flushed;
    // a ferrite that does not stop is killed (and the log checks then fail).
    let mut stdin = child.stdin.take().expect("piped stdin");
    let _ = stdin.write_all(b"\x01x").and_then(|()| stdin.flush());
    let quit = Instant::now();
    while child.try_wait().expect("ferrite's status").is_none() && quit.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    drop(stdin);
    let out = child.wait_with_output().expect("ferrite exits");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let seabios_log = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&log);
    eprintln!("{name}: {} after {:.1?}", if found { "reached the marker" } else { "no marker" }, start.elapsed());
    Boot { found, lines, seabios_log, stderr }
}

fn check_linux_boot(media: Media, engine: &str, test: &str) {
    let Some(bios) = seabios_or_skip(test) else { return };
    let Some(image) = image_or_skip(media, test) else { return };
    let before = file_hash(&image);
    let boot = boot_linux(bios, media, &image, engine, test);
    let tail = boot.lines.iter().rev().take(25).rev().cloned().collect::<Vec<_>>().join("\n");
    assert!(!boot.stderr.contains("internal error") && !boot.stderr.contains("panicked"), "{}", boot.stderr);
    assert!(boot.found, "{test}: no {SHELL_MARKER:?} on COM1; stderr: {}\nlast lines:\n{tail}", boot.stderr);
    assert!(boot.stderr.contains("stopped: interrupted"), "{test}: Ctrl-A x did not stop ferrite: {}", boot.stderr);
    let has = |needle: &str| boot.lines.iter().any(|l| l.contains(needle));
    assert!(has(media.loader_banner()), "{test}: no {:?} banner on COM1:\n{tail}", media.loader_banner());
    assert!(has("Loading /vmlinuz... ok"), "{test}: the boot loader did not load the kernel");
    assert!(has("Loading /initrd.gz...ok"), "{test}: the boot loader did not load the initrd");
    assert!(has(KERNEL_BANNER), "{test}: no kernel banner:\n{tail}");
    assert!(has("Freeing initrd memory"), "{test}: the initramfs was not unpacked:\n{tail}");
    assert!(boot.seabios_log.contains(SEABIOS_BANNER), "{test}: no SeaBIOS banner in its log");
    assert!(
        boot.seabios_log.contains(media.seabios_boot_line()),
        "{test}: SeaBIOS did not log {:?}:\n{}",
        media.seabios_boot_line(),
        boot.seabios_log
    );
    assert!(!boot.seabios_log.contains("Boot failed"), "{test}: {}", boot.seabios_log);
    assert_eq!(file_hash(&image), before, "{test}: --snapshot changed {}", image.display());
}

#[test]
#[cfg(target_arch = "x86_64")]
fn test_disk_image_boots_linux_through_seabios_and_syslinux_jit() {
    check_linux_boot(Media::Disk, "jit", "test_disk_image_boots_linux_through_seabios_and_syslinux_jit");
}

#[test]
fn test_disk_image_boots_linux_through_seabios_and_syslinux_interp() {
    check_linux_boot(Media::Disk, "interp", "test_disk_image_boots_linux_through_seabios_and_syslinux_interp");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn test_iso_boots_linux_through_seabios_and_isolinux_jit() {
    check_linux_boot(Media::Iso, "jit", "test_iso_boots_linux_through_seabios_and_isolinux_jit");
}

#[test]
fn test_iso_boots_linux_through_seabios_and_isolinux_interp() {
    check_linux_boot(Media::Iso, "interp", "test_iso_boots_linux_through_seabios_and_isolinux_interp");
}

/// Runs SeaBIOS on `media_option FILE` for the failure budget with its log captured;
/// returns the run and the log.
fn boot_bad_media(bios: &str, media_option: &str, file: &Path, name: &str) -> (Output, String) {
    let log = scratch("linux_bios_boot", &format!("{name}.seabios.log"));
    let file = file.to_str().expect("a UTF-8 path");
    let debugcon = format!("file:{}", log.display());
    let o = ferrite(&[
        "run",
        "--bios",
        bios,
        media_option,
        file,
        "--snapshot",
        "-m",
        "256",
        "--serial",
        "stdio",
        "--display",
        "none",
        "--deterministic",
        "--debugcon-port",
        SEABIOS_LOG_PORT,
        "--debugcon",
        &debugcon,
        "--max-insns",
        FAILURE_BUDGET,
    ]);
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&log);
    (o, text)
}

/// The run went through SeaBIOS's failure path: `failure` logged, then "No bootable
/// device", and ferrite ran out of its instruction budget (status 124), no panic.
fn assert_boot_failed(o: &Output, log: &str, boot_line: &str, failure: &str) {
    assert_no_panic(o);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(o));
    assert!(summary(o).contains("stopped: max-insns"), "{}", summary(o));
    assert!(log.contains(SEABIOS_BANNER), "no SeaBIOS banner:\n{log}");
    let at = log.find(boot_line).unwrap_or_else(|| panic!("no {boot_line:?} in SeaBIOS's log:\n{log}"));
    let after = &log[at..];
    assert!(after.contains(failure), "no {failure:?} after {boot_line:?}:\n{log}");
    assert!(after.contains(NO_BOOT_DEVICE), "no {NO_BOOT_DEVICE:?}:\n{log}");
}

#[test]
fn test_corrupt_disk_image_ends_in_seabios_boot_failure() {
    let Some(bios) = seabios_or_skip("test_corrupt_disk_image_ends_in_seabios_boot_failure") else { return };
    // 1 MiB of pseudo-random bytes: no 0x55AA boot signature.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut img: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    img[510] = 0;
    img[511] = 0;
    let path = scratch("linux_bios_boot", "corrupt.img");
    std::fs::write(&path, &img).expect("scratch image");
    let (o, log) = boot_bad_media(bios, "--hda", &path, "corrupt");
    assert_boot_failed(&o, &log, "Booting from Hard Disk...", "Boot failed: not a bootable disk");
    assert_eq!(std::fs::read(&path).expect("scratch image"), img, "--snapshot changed the image");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn test_truncated_disk_image_ends_in_seabios_boot_failure() {
    let test = "test_truncated_disk_image_ends_in_seabios_boot_failure";
    let Some(bios) = seabios_or_skip(test) else { return };
    let Some(disk) = image_or_skip(Media::Disk, test) else { return };
    // The first MiB only: SYSLINUX's MBR and the partition table survive, the partition
    // (from sector 2048) is gone, so the MBR's read fails and it hands back to the BIOS
    // (INT 18h), which runs out of devices.
    let mut img = std::fs::read(&disk).expect("disk.img is readable");
    img.truncate(1 << 20);
    let path = scratch("linux_bios_boot", "truncated.img");
    std::fs::write(&path, &img).expect("scratch image");
    let (o, log) = boot_bad_media(bios, "--hda", &path, "truncated");
    assert_boot_failed(&o, &log, "Booting from Hard Disk...", "Booting from 0000:7c00");
    let after_mbr = &log[log.find("Booting from 0000:7c00").expect("checked")..];
    assert!(after_mbr.contains("enter handle_18"), "the MBR did not give up through INT 18h:\n{log}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn test_iso_without_boot_record_ends_in_seabios_boot_failure() {
    let Some(bios) = seabios_or_skip("test_iso_without_boot_record_ends_in_seabios_boot_failure") else { return };
    // A valid but empty ISO 9660 volume: system area, a primary volume descriptor at
    // sector 16 and the set terminator at 17 — no El Torito boot record.
    let mut iso = vec![0u8; 20 * 2048];
    for (sector, kind) in [(16usize, 1u8), (17, 255)] {
        let d = &mut iso[sector * 2048..];
        d[0] = kind;
        d[1..6].copy_from_slice(b"CD001");
        d[6] = 1;
    }
    let path = scratch("linux_bios_boot", "nonboot.iso");
    std::fs::write(&path, &iso).expect("scratch image");
    let (o, log) = boot_bad_media(bios, "--cdrom", &path, "nonboot");
    assert_boot_failed(&o, &log, "Booting from DVD/CD...", "Boot failed: Could not read from CDROM");
    let _ = std::fs::remove_file(&path);
}

/// A boot sector that writes itself to LBA 1 with INT 13h AH=03h, reads LBA 1 back to
/// 0:0600 with AH=02h, compares the two, prints `W` (the same) or `F` (an error or a
/// difference) on COM1 and leaves through the exit port with 0x23 (status 71).
/// Assembled from:
///
/// ```text
///     xor ax, ax / mov ds, ax / mov es, ax / mov ss, ax / mov sp, 0x7c00
///     mov ax, 0x0301 / mov bx, 0x7c00 / mov cx, 0x0002 / xor dh, dh / int 0x13 / jc fail
///     mov ax, 0x0201 / mov bx, 0x0600 / mov cx, 0x0002 / xor dh, dh / int 0x13 / jc fail
///     mov si, 0x7c00 / mov di, 0x0600 / mov cx, 256 / cld / repe cmpsw / jne fail
///     mov al, 'W' / jmp report
/// fail: mov al, 'F'
/// report: mov dx, 0x3f8 / out dx, al / mov al, 10 / out dx, al
///     mov al, 0x23 / out 0xf4, al / cli / hlt
/// ```
const WRITER_SECTOR: [u8; 74] = [
    0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xb8, 0x01, 0x03, 0xbb, 0x00, 0x7c, 0xb9, 0x02,
    0x00, 0x30, 0xf6, 0xcd, 0x13, 0x72, 0x21, 0xb8, 0x01, 0x02, 0xbb, 0x00, 0x06, 0xb9, 0x02, 0x00, 0x30, 0xf6, 0xcd,
    0x13, 0x72, 0x12, 0xbe, 0x00, 0x7c, 0xbf, 0x00, 0x06, 0xb9, 0x00, 0x01, 0xfc, 0xf3, 0xa7, 0x75, 0x04, 0xb0, 0x57,
    0xeb, 0x02, 0xb0, 0x46, 0xba, 0xf8, 0x03, 0xee, 0xb0, 0x0a, 0xee, 0xb0, 0x23, 0xe6, 0xf4, 0xfa, 0xf4,
];

#[test]
fn test_snapshot_keeps_guest_disk_writes_off_the_image_file() {
    let Some(bios) = seabios_or_skip("test_snapshot_keeps_guest_disk_writes_off_the_image_file") else { return };
    let mut img = vec![0u8; 1 << 20];
    img[..WRITER_SECTOR.len()].copy_from_slice(&WRITER_SECTOR);
    img[510] = 0x55;
    img[511] = 0xAA;
    let run = |path: &Path, snapshot: bool| {
        let mut args = vec!["run", "--bios", bios, "--hda", path.to_str().expect("UTF-8"), "--serial", "stdio"];
        args.extend_from_slice(&["--display", "none", "--debugcon", "none", "--max-insns", FAILURE_BUDGET]);
        if snapshot {
            args.push("--snapshot");
        }
        let o = ferrite(&args);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(71), "{}", stderr(&o));
        assert_eq!(stdout(&o), "W\n", "the guest did not read its write back");
    };

    let path = scratch("linux_bios_boot", "writer.img");
    std::fs::write(&path, &img).expect("scratch image");
    run(&path, true);
    assert!(std::fs::read(&path).expect("scratch image") == img, "--snapshot let a guest write reach the file");

    // Without --snapshot the same write lands in the file: LBA 1 now holds sector 0.
    run(&path, false);
    let written = std::fs::read(&path).expect("scratch image");
    assert_eq!(written.len(), img.len());
    assert_eq!(&written[512..1024], &img[..512], "the guest's write did not reach the file");
    assert_eq!(&written[1024..], &img[1024..]);
    let _ = std::fs::remove_file(&path);
}
