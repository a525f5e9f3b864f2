//! `roms/bin/bench_disk.img` — the benchmark kernel wrapped in a bootable hard disk for
//! emulators without a multiboot loader — boots on ferrite through SeaBIOS (the BIOS
//! loads its boot sector, which reads the kernel with INT 13h, enters protected mode and
//! starts it) and prints exactly what the same kernel prints when ferrite loads it with
//! `--kernel`: the workload is the same bytes either way. Needs SeaBIOS
//! (`/usr/share/seabios/bios.bin`, Debian's `seabios` package, installed by
//! `./scripts/setup`); without it the test says so loudly and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SEABIOS: &str = "/usr/share/seabios/bios.bin";

fn rom(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin").join(name).display().to_string()
}

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite")).args(args).stdin(Stdio::null()).output().expect("ferrite runs")
}

/// The checksum line, after checking the run ended through the exit port with status 33.
fn bench_line(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(33), "{what}: {err}");
    assert!(err.contains("stopped: exit-port"), "{what}: {err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let line =
        out.lines().find(|l| l.starts_with("bench ")).unwrap_or_else(|| panic!("{what}: no bench line in {out:?}"));
    line.to_string()
}

#[test]
fn test_bench_disk_boots_through_seabios_with_the_kernels_checksums() {
    if !Path::new(SEABIOS).exists() {
        eprintln!(
            "\n\n*** SKIPPED: {SEABIOS} is missing, so bench_disk.img cannot be booted. ***\n\
             *** Install it with ./scripts/setup (or: sudo apt-get install -y seabios). ***\n\n"
        );
        return;
    }
    let kernel = bench_line(&ferrite(&["run", "--kernel", &rom("multiboot_bench.bin")]), "--kernel");
    let fields: Vec<&str> = kernel.split(' ').collect();
    assert_eq!(fields.len(), 7, "{kernel}");
    for (field, name) in fields[1..].iter().zip(["crc32", "sieve", "fib", "memcpy", "matmul", "sort"]) {
        let (n, v) = field.split_once('=').unwrap_or_else(|| panic!("{kernel}"));
        assert!(n == name && v.len() == 8 && v.chars().all(|c| c.is_ascii_hexdigit()), "{kernel}");
    }
    let disk = rom("bench_disk.img");
    let o = ferrite(&["run", "--bios", SEABIOS, "--hda", &disk, "--snapshot", "--max-insns", "2000000000"]);
    assert_eq!(bench_line(&o, "--hda bench_disk.img"), kernel);
}
