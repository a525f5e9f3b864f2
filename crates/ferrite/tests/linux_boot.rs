//! Direct Linux boot end to end: `ferrite run --kernel` with Debian 12's i386 `686` kernel
//! and the busybox initramfs that `scripts/linux-image` builds into `target/linux/` (or
//! the directory in `FERRITE_LINUX_IMAGES`). Without those images the boot tests print a
//! loud SKIPPED notice and pass; `scripts/test` builds the images first when apt works.
//!
//! Each boot reads COM1 (`--serial stdio`) line by line and stops ferrite as soon as the
//! milestone it waits for appears — [`SHELL_MARKER`], which `/init` prints just before it
//! starts the shell; the instruction budget bounds a run that never gets there (with
//! `--deterministic` the marker comes after about 6.5 × 10⁹ instructions).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// What the initramfs's `/init` prints before it starts the shell.
const SHELL_MARKER: &str = "FERRITE-SHELL-READY";
/// The kernel's banner, printed through earlyprintk.
const BANNER: &str = "Linux version 6.1";
/// The initramfs has been unpacked into the root file system.
const INITRD_UNPACKED: &str = "Freeing initrd memory";
/// The kernel command line of every boot here.
const APPEND: &str = "console=ttyS0 earlyprintk=serial,ttyS0,115200";
/// Upper bound on instructions per boot (the milestones come well before it).
const BUDGET: u64 = 12_000_000_000;
/// Upper bound on wall-clock time per boot.
const TIMEOUT: Duration = Duration::from_secs(900);

fn images(kernel_name: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("FERRITE_LINUX_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/linux"));
    let (kernel, initrd) = (dir.join(kernel_name), dir.join("initrd.gz"));
    if kernel.is_file() && initrd.is_file() {
        Some((kernel, initrd))
    } else {
        eprintln!();
        eprintln!("################################################################################");
        eprintln!("## NOTICE: no {kernel_name}/initrd.gz in {}: the Linux boot test was SKIPPED.", dir.display());
        eprintln!("## Build them with scripts/linux-image (needs apt and the network).");
        eprintln!("################################################################################");
        None
    }
}

/// Boots the kernel with `engine` and returns every serial line up to the first one
/// containing `milestone` (ferrite is stopped there), or all of them with `false` when
/// the run ended, the budget ran out or the timeout passed first.
fn boot_until(kernel_name: &str, engine: &str, milestone: &str) -> Option<(bool, Vec<String>)> {
    let (kernel, initrd) = images(kernel_name)?;
    let budget = BUDGET.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--kernel"])
        .arg(&kernel)
        .arg("--initrd")
        .arg(&initrd)
        .args(["--append", APPEND, "-m", "256", "--serial", "stdio", "--display", "none", "--deterministic"])
        .args(["--engine", engine, "--max-insns", &budget])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ferrite binary runs");
    let (found, lines) = common::lines_until(&mut child, milestone, TIMEOUT);
    let _ = child.kill();
    let Output { stderr, .. } = child.wait_with_output().expect("ferrite exits");
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!stderr.contains("internal error"), "ferrite panicked: {stderr}");
    if !found {
        eprintln!(
            "ferrite ({engine}) did not reach {milestone:?} within {BUDGET} instructions or {TIMEOUT:?}: {stderr}"
        );
    }
    Some((found, lines))
}

fn check(kernel_name: &str, engine: &str, milestone: &str) {
    let Some((found, lines)) = boot_until(kernel_name, engine, milestone) else { return };
    let tail = lines.iter().rev().take(25).rev().cloned().collect::<Vec<_>>().join("\n");
    assert!(found, "--engine {engine}: no {milestone:?} on the serial console; its last lines:\n{tail}");
    assert!(lines.iter().any(|l| l.contains(BANNER)), "no banner before the milestone:\n{tail}");
    assert!(lines.iter().any(|l| l.contains(INITRD_UNPACKED)), "the initramfs was not unpacked:\n{tail}");
    assert!(lines.iter().any(|l| l.contains("BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable")));
    eprintln!("--engine {engine}: reached {milestone:?} after {} serial lines", lines.len());
}

#[test]
fn test_linux_boots_to_the_shell_interp() {
    check("vmlinuz", "interp", SHELL_MARKER);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn test_linux_boots_to_the_shell_jit() {
    check("vmlinuz", "jit", SHELL_MARKER);
}

#[test]
fn test_linux_pae_kernel_boots_to_the_shell() {
    check("vmlinuz-pae", "interp", SHELL_MARKER);
}

/// A kernel that panics — here because there is no initrd, so no root file system — says
/// so on the console, and with `panic=1` asks for a reset a second later, which
/// `--no-reboot` turns into the documented stop: `reboot`, status 0 (without `panic=N`
/// the kernel spins in its panic loop until Ctrl-C, status 130, or `--max-insns`, 124).
#[test]
#[cfg(target_arch = "x86_64")]
fn test_kernel_panic_without_initrd_ends_the_run_under_no_reboot() {
    let Some((kernel, _)) = images("vmlinuz") else { return };
    let budget = BUDGET.to_string();
    let kernel = kernel.to_str().expect("a UTF-8 path");
    let o = ferrite(&[
        "run",
        "--kernel",
        kernel,
        "--append",
        "console=ttyS0 panic=1",
        "-m",
        "256",
        "--serial",
        "stdio",
        "--display",
        "none",
        "--deterministic",
        "--no-reboot",
        "--max-insns",
        &budget,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("Kernel panic - not syncing: VFS: Unable to mount root fs"), "{out}\n{err}");
    assert!(err.contains("ferrite: stopped: reboot"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite")).args(args).output().expect("the ferrite binary runs")
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ferrite-linux-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

fn assert_one_error_line(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ferrite: error: cannot boot kernel "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

#[test]
fn test_garbage_and_broken_bzimages_give_one_clear_error() {
    let garbage = scratch("garbage", &[0x5Au8; 10_000]);
    assert_one_error_line(&ferrite(&["run", "--kernel", garbage.to_str().unwrap()]), "not a multiboot kernel");

    // A bzImage signature with a header cut off by the end of the file.
    let mut cut = vec![0u8; 0x210];
    cut[0x201] = 0x6A;
    cut[0x202..0x206].copy_from_slice(b"HdrS");
    let cut = scratch("cut", &cut);
    assert_one_error_line(&ferrite(&["run", "--kernel", cut.to_str().unwrap()]), "the bzImage is cut off");

    // A well-formed 2.15 header whose kernel needs more RAM than the machine has.
    let mut bz = vec![0u8; 5 * 512 + 64];
    bz[0x1F1] = 4;
    bz[0x201] = 0x6A;
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    bz[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    bz[0x211] = 1;
    bz[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
    bz[0x238..0x23C].copy_from_slice(&255u32.to_le_bytes());
    bz[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
    bz[0x260..0x264].copy_from_slice(&0x100_0000u32.to_le_bytes());
    let bz = scratch("bz", &bz);
    assert_one_error_line(&ferrite(&["run", "--kernel", bz.to_str().unwrap(), "-m", "16"]), "a larger -m may help");
    let o = ferrite(&["run", "--kernel", bz.to_str().unwrap(), "-m", "64", "--append", &"x".repeat(300)]);
    assert_one_error_line(&o, "bad kernel command line");
    for p in [garbage, cut, bz] {
        let _ = std::fs::remove_file(p);
    }
}
