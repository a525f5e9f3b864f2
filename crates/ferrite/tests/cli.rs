//! End-to-end tests of the `ferrite` binary: the built-in demo, the project's ROMs, every
//! stop reason reachable today, and bad input (which must give one error line, a non-zero
//! status and no panic).

mod common;

use common::{assert_error_line, assert_no_panic, ferrite, rom, stderr, stdout, summary};
use std::process::Command;

/// A scratch path for this test.
fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch("cli", name)
}

#[test]
fn test_no_args_runs_demo_and_halts_with_status_0() {
    let o = ferrite(&[]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert!(out.starts_with("ferrite demo ROM"), "{out}");
    assert!(out.contains("primes below 100: 2 3 5 7 11 13"), "{out}");
    assert!(out.contains("count 25, sum 1060"), "{out}");
    assert!(summary(&o).starts_with("ferrite: stopped: halted at F000:"), "{}", stderr(&o));
    assert!(summary(&o).ends_with("post=0xDD"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn test_smoke_rom_prints_and_exits_through_exit_port() {
    let o = ferrite(&["run", "--bios", rom("smoke.bin").to_str().unwrap()]);
    assert_no_panic(&o);
    assert_eq!(stdout(&o), "ferrite smoke: real mode up\nferrite smoke ok\n");
    let line = summary(&o);
    assert!(line.starts_with("ferrite: stopped: exit-port at F000:"), "{line}");
    assert!(line.ends_with("post=0x04"), "{line}");
    assert_eq!(o.status.code(), Some((0x10 << 1) | 1));
}

#[test]
fn test_summary_line_format() {
    let o = ferrite(&["run", "--max-insns", "0"]);
    assert_eq!(summary(&o), "ferrite: stopped: max-insns at F000:FFF0 insns=0 post=0x00");
}

#[test]
fn test_max_insns_stops_the_demo() {
    let o = ferrite(&["run", "--max-insns", "100"]);
    assert_no_panic(&o);
    let line = summary(&o);
    assert!(line.starts_with("ferrite: stopped: max-insns at "), "{line}");
    let insns: u64 =
        line.split("insns=").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(insns <= 100, "{line}");
    assert_eq!(o.status.code(), Some(124));
}

#[test]
fn test_triple_fault_with_no_reboot() {
    let o = ferrite(&["run", "--bios", rom("triple.bin").to_str().unwrap(), "--no-reboot"]);
    assert_no_panic(&o);
    let line = summary(&o);
    assert!(line.starts_with("ferrite: stopped: triple-fault at F000:"), "{line}");
    assert!(line.ends_with("post=0x7F"), "{line}");
    assert_eq!(o.status.code(), Some(4));
}

#[test]
fn test_triple_fault_without_no_reboot_keeps_resetting() {
    let o = ferrite(&["run", "--bios", rom("triple.bin").to_str().unwrap(), "--max-insns", "300"]);
    assert_no_panic(&o);
    assert!(summary(&o).starts_with("ferrite: stopped: max-insns"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn test_ctrl_c_stops_with_interrupted() {
    // The triple-fault ROM resets forever without --no-reboot: only Ctrl-C ends it.
    let child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--bios", rom("triple.bin").to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the ferrite binary starts");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(killed.map(|s| s.success()).unwrap_or(false), "kill -INT failed");
    let o = child.wait_with_output().expect("ferrite ends");
    assert_no_panic(&o);
    assert!(summary(&o).starts_with("ferrite: stopped: interrupted at "), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(130));
}

#[test]
fn test_debugcon_to_file_and_none() {
    let path = scratch("debugcon.txt");
    let spec = format!("file:{}", path.display());
    let o = ferrite(&["run", "--bios", rom("smoke.bin").to_str().unwrap(), "--debugcon", &spec]);
    assert_no_panic(&o);
    assert_eq!(stdout(&o), "");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "ferrite smoke: real mode up\nferrite smoke ok\n");
    let _ = std::fs::remove_file(&path);

    let o = ferrite(&["run", "--debugcon", "none"]);
    assert_eq!(stdout(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn test_dump_regs_prints_registers_and_next_instruction() {
    let o = ferrite(&["run", "--max-insns", "50", "--dump-regs", "--debugcon", "none"]);
    let err = stderr(&o);
    assert!(err.contains("EAX="), "{err}");
    assert!(err.contains("CS  =F000 base=000F0000"), "{err}");
    assert!(err.contains("next: "), "{err}");
    assert!(summary(&o).starts_with("ferrite: stopped: max-insns"), "{err}");
}

#[test]
fn test_debugcon_port_moves_the_console() {
    // The demo prints on 0xE9; with the console on 0x402 (where SeaBIOS logs) nothing of
    // it reaches stdout, and the run still ends the same way.
    let moved = ferrite(&["run", "--debugcon-port", "0x402"]);
    assert!(!stdout(&moved).contains("ferrite demo ROM"), "{}", stdout(&moved));
    assert!(summary(&moved).starts_with("ferrite: stopped: halted"), "{}", stderr(&moved));
    assert_eq!(moved.status.code(), Some(0));
    let clash = ferrite(&["run", "--debugcon-port", "0xF4"]);
    assert_eq!(clash.status.code(), Some(1));
    assert!(stderr(&clash).contains("claimed by both the debug console and the exit port"), "{}", stderr(&clash));
}

#[test]
fn test_stats_prints_engine_and_mmu_counters() {
    let o = ferrite(&["run", "--max-insns", "500", "--stats", "--debugcon", "none"]);
    let err = stderr(&o);
    assert!(err.contains("ferrite: stats: insns=500"), "{err}");
    assert!(err.contains("hypervisor-faults="), "{err}");
    assert!(err.contains("guest-faults="), "{err}");
    assert!(err.contains("decode-cache blocks-decoded="), "{err}");
    assert!(summary(&o).starts_with("ferrite: stopped: max-insns"), "{err}");
}

#[test]
fn test_both_engines_run_the_demo_alike_and_jit_stats_and_dump() {
    let interp = ferrite(&["run", "--engine", "interp"]);
    let jit = ferrite(&["run", "--engine", "jit", "--stats", "--jit-dump"]);
    assert_no_panic(&jit);
    assert_eq!(stdout(&interp), stdout(&jit));
    assert_eq!(summary(&interp), summary(&jit));
    let err = stderr(&jit);
    assert!(err.contains("ferrite: stats: jit blocks-translated="), "{err}");
    assert!(err.contains("jit: block phys=") && err.contains("  guest ") && err.contains("  host "), "{err}");
}

#[test]
fn test_accepted_options() {
    let o = ferrite(&[
        "run",
        "-m",
        "32",
        "--engine",
        "interp",
        "--display",
        "none",
        "--serial",
        "stdio",
        "--post-port",
        "0x84",
        "--debugcon",
        "none",
        "--trace-io",
    ]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The demo writes its POST codes to 0x80, which is now unclaimed.
    assert!(summary(&o).ends_with("post=0x00"), "{}", stderr(&o));
    assert!(stderr(&o).contains("unclaimed I/O port 0x0080"), "{}", stderr(&o));
}

#[test]
fn test_missing_bios_is_one_error_line() {
    let o = ferrite(&["run", "--bios", "/nonexistent"]);
    assert_error_line(&o, 1, "cannot read BIOS image /nonexistent: No such file or directory");
}

#[test]
fn test_bios_of_wrong_size_is_refused() {
    let path = scratch("short.bin");
    std::fs::write(&path, [0u8; 1000]).unwrap();
    let o = ferrite(&["run", "--bios", path.to_str().unwrap()]);
    assert_error_line(&o, 1, "is 1000 bytes; it must be exactly 64, 128 or 256 KiB");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn test_directory_as_bios_is_refused() {
    let o = ferrite(&["run", "--bios", env!("CARGO_MANIFEST_DIR")]);
    assert_error_line(&o, 1, "Is a directory");
}

#[test]
fn test_unwritable_debugcon_file_is_refused() {
    let o = ferrite(&["run", "--debugcon", "file:/nonexistent/dir/out.txt"]);
    assert_error_line(&o, 1, "cannot create debug console file /nonexistent/dir/out.txt");
}

#[test]
fn test_post_port_conflict_is_refused() {
    let o = ferrite(&["run", "--post-port", "0xF4"]);
    assert_error_line(&o, 1, "I/O port 0x00f4 is claimed by both");
}

#[test]
fn test_usage_errors_are_one_line_with_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["bogus"], "unrecognized subcommand 'bogus'"),
        (&["run", "--engine", "qemu"], "expected 'interp' or 'jit'"),
        (&["run", "-m", "0"], "1..=3584 MiB"),
        (&["run", "-m", "4096"], "1..=3584 MiB"),
        (&["run", "--display", "vnc"], "expected 'none' or 'window'"),
        (&["run", "--debugcon", "tcp:1"], "stdio, none or file:PATH"),
        (&["run", "--serial", "file:"], "needs a path"),
        (&["run", "--post-port", "70000"], "0..=65535"),
        (&["run", "--max-insns", "many"], "--max-insns"),
        (&["run", "--bios"], "--bios"),
    ];
    for (args, needle) in cases {
        let o = ferrite(args);
        assert_error_line(&o, 2, needle);
    }
}

#[test]
fn test_run_help_documents_exit_statuses() {
    let o = ferrite(&["run", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for needle in ["--bios", "--max-insns", "--no-reboot", "--dump-regs", "Exit status", "triple-fault", "124", "130"] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
}
