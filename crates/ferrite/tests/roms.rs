//! The committed ROM images and test kernels in `roms/bin/` must be exactly what `nasm`
//! builds from the sources in `roms/`. The test needs nasm; `./scripts/setup` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every ROM source and its committed image (64 KiB BIOS images).
const ROMS: [&str; 6] = ["smoke", "demo", "triple", "serial_hello", "ide_hello", "vga_screen"];
/// Every multiboot test kernel (flat binaries of any size, booted with `--kernel`).
/// The protected-mode test kernels include `roms/include/pmtest.inc`, so nasm gets `-i roms/`.
const KERNELS: [&str; 9] = [
    "multiboot_hello",
    "multiboot_bench",
    "pm_paging",
    "pm_tasks",
    "pm_v86",
    "pm_rings",
    "pm_fpu",
    "pm_sse",
    "pm_apic",
];
/// Disk images: `NAME.asm` builds `bin/NAME.img` (`bench_disk` incbins `bin/multiboot_bench.bin`,
/// found through `-i roms/`; `floppy_pm` is a 1.44 MiB floppy).
const DISKS: [&str; 2] = ["bench_disk", "floppy_pm"];

fn roms_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms")
}

fn nasm_available() -> bool {
    Command::new("nasm").arg("-v").output().map(|o| o.status.success()).unwrap_or(false)
}

fn assemble(src: &Path, out: &Path) -> Vec<u8> {
    let include_dir = format!("{}/", roms_dir().display());
    let o = Command::new("nasm")
        .args(["-f", "bin", "-w+all", "-i", &include_dir, "-o"])
        .arg(out)
        .arg(src)
        .output()
        .expect("nasm runs");
    assert!(o.status.success(), "nasm failed on {}:\n{}", src.display(), String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).expect("nasm wrote its output")
}

#[test]
fn test_committed_roms_match_their_sources() {
    if !nasm_available() {
        panic!(
            "\n\n*** nasm is not installed, so the ROMs in roms/ cannot be checked. ***\n\
             *** Install it with ./scripts/setup (or: sudo apt-get install -y nasm). ***\n\n"
        );
    }
    for name in ROMS.iter().chain(KERNELS.iter()) {
        let src = roms_dir().join(format!("{name}.asm"));
        let committed = std::fs::read(roms_dir().join(format!("bin/{name}.bin"))).expect("committed image exists");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.bin", std::process::id()));
        let built = assemble(&src, &out);
        let _ = std::fs::remove_file(&out);
        if ROMS.contains(name) {
            assert_eq!(built.len(), 64 * 1024, "{name}: a BIOS image is 64 KiB");
        }
        assert!(built == committed, "roms/bin/{name}.bin is stale: run roms/build.sh and commit the result");
    }
}

#[test]
fn test_committed_disk_images_match_their_sources() {
    if !nasm_available() {
        panic!("\n\n*** nasm is not installed; install it with ./scripts/setup (or: sudo apt-get install -y nasm). ***\n\n");
    }
    for name in DISKS {
        let src = roms_dir().join(format!("{name}.asm"));
        let committed = std::fs::read(roms_dir().join(format!("bin/{name}.img"))).expect("committed image exists");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.img", std::process::id()));
        let built = assemble(&src, &out);
        let _ = std::fs::remove_file(&out);
        assert_eq!(built.len() % 512, 0, "{name}: a disk image is whole sectors");
        assert_eq!(&built[510..512], &[0x55, 0xAA], "{name}: sector 0 is a boot sector");
        assert!(built == committed, "roms/bin/{name}.img is stale: run roms/build.sh and commit the result");
    }
}
