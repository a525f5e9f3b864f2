//! End-to-end runs of the project's self-checking protected-mode test kernels
//! (`roms/pm_*.asm`, multiboot a.out-kludge binaries sharing `roms/include/pmtest.inc`).
//!
//! Each kernel prints `ok NAME` or `FAIL NAME got=.. want=..` per check on the debug
//! console, then `done: N checks, F failed`, and exits through port 0xF4 with 0 (status 1)
//! when every check passed or with the number of its first failing check. The expected
//! `ok` lines are taken from the kernel's source: every `CHECK "NAME", ...` line that is
//! not commented out must have printed `ok NAME`, so a check can be neither dropped nor
//! skipped silently.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The status of a kernel whose checks all passed: it wrote 0 to port 0xF4.
const STATUS_ALL_PASSED: i32 = 1;
/// The instruction budget for one kernel (each needs well under a million).
const MAX_INSNS: &str = "20000000";

fn roms_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms")
}

fn run_kernel(name: &str, extra: &[&str]) -> Output {
    let bin = roms_dir().join(format!("bin/{name}.bin"));
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--kernel", bin.to_str().unwrap(), "--no-reboot", "--max-insns", MAX_INSNS])
        .args(extra)
        .output()
        .expect("the ferrite binary runs")
}

/// The names of the checks in a kernel's source: the quoted first operand of every
/// `CHECK "NAME", ...` line that is not commented out, and the three checks each
/// `CHECK_T80 "NAME", ...` line (pm_fpu's 80-bit result check) expands to. CHECK lines
/// inside macro definitions (whose name is a macro parameter, not a string) are skipped.
fn check_names(name: &str) -> Vec<String> {
    let src = std::fs::read_to_string(roms_dir().join(format!("{name}.asm"))).expect("kernel source exists");
    let quoted = |rest: &str| -> Option<String> {
        let rest = rest.trim_start().strip_prefix('"')?;
        Some(rest[..rest.find('"').expect("closing quote")].to_string())
    };
    let mut names = Vec::new();
    for line in src.lines().map(|l| l.split(';').next().unwrap_or("").trim()) {
        if let Some(n) = line.strip_prefix("CHECK ").and_then(quoted) {
            names.push(n);
        } else if let Some(n) = line.strip_prefix("CHECK_T80 ").and_then(quoted) {
            for part in ["significand low", "significand high", "sign, exponent"] {
                names.push(format!("{n} ({part})"));
            }
        }
    }
    names
}

/// Runs the kernel and checks: no `FAIL` line, an `ok` line for every check in the
/// source, the summary line, the exit status and the stop reason.
fn assert_kernel_passes(name: &str) {
    assert_kernel_passes_with(name, &[]);
}

/// [`assert_kernel_passes`] with more `ferrite run` options (an engine, `--deterministic`).
fn assert_kernel_passes_with(name: &str, extra: &[&str]) {
    let o = run_kernel(name, extra);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let ctx = format!("{name} {extra:?}: stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains("panicked"), "{ctx}");
    assert!(!out.contains("FAIL"), "{ctx}");
    let names = check_names(name);
    assert!(names.len() >= 5, "{name}: too few CHECK lines found in the source");
    let oks: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    for n in &names {
        assert!(oks.contains(&n.as_str()), "{name}: no `ok {n}` line\n{ctx}");
    }
    let done = out.lines().find(|l| l.starts_with("done: ")).unwrap_or_else(|| panic!("no summary line\n{ctx}"));
    assert!(done.ends_with(" checks, 00000000 failed"), "{ctx}");
    let checks = u32::from_str_radix(done.split_whitespace().nth(1).unwrap(), 16).expect("hex check count");
    assert!(checks as usize >= names.len() && checks as usize == oks.len(), "{ctx}");
    assert!(err.lines().last().unwrap_or_default().starts_with("ferrite: stopped: exit-port at 0008:"), "{ctx}");
    assert_eq!(o.status.code(), Some(STATUS_ALL_PASSED), "{ctx}");
}

#[test]
fn test_pm_paging_kernel() {
    assert_kernel_passes("pm_paging");
}

#[test]
fn test_pm_tasks_kernel() {
    assert_kernel_passes("pm_tasks");
}

#[test]
fn test_pm_v86_kernel() {
    assert_kernel_passes("pm_v86");
}

#[test]
fn test_pm_rings_kernel() {
    assert_kernel_passes("pm_rings");
}

#[test]
fn test_pm_fpu_kernel() {
    assert_kernel_passes("pm_fpu");
}

#[test]
fn test_pm_sse_kernel() {
    assert_kernel_passes("pm_sse");
}

/// The local APIC (self IPIs, TPR, timer one-shot/periodic) and the I/O APIC (the PIT on
/// pin 2, the RTC level-triggered on pin 8, EOI and remote IRR), and the 8259 through
/// LINT0, with both engines, on host time and on the deterministic clock.
#[test]
fn test_pm_apic_kernel_interp() {
    assert_kernel_passes_with("pm_apic", &["--engine", "interp"]);
    assert_kernel_passes_with("pm_apic", &["--engine", "interp", "--deterministic"]);
}

#[test]
fn test_pm_apic_kernel_jit() {
    assert_kernel_passes_with("pm_apic", &["--engine", "jit"]);
    assert_kernel_passes_with("pm_apic", &["--engine", "jit", "--deterministic"]);
}
