//! End-to-end tests of the serial console, fw_cfg and ACPI power-off: `roms/serial_hello.asm`
//! prints through COM1 (polling LSR.THRE), reads fw_cfg's signature and RAM size and powers
//! the machine off through the ACPI PM block.

mod common;

use common::{ferrite, stderr};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn rom(name: &str) -> String {
    common::rom(name).display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("serial", name)
}

const EXPECTED_16M: &str = "hello from COM1\nfw_cfg signature QEMU, RAM 0x01000000\n";

#[test]
fn test_serial_file_logs_output_and_poweroff_ends_with_status_0() {
    let path = scratch("com1.txt");
    let arg = format!("file:{}", path.display());
    let o = ferrite(&["run", "--bios", &rom("serial_hello.bin"), "--serial", &arg]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.lines().last().unwrap_or_default().starts_with("ferrite: stopped: poweroff at F000:"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EXPECTED_16M);
    assert!(o.stdout.is_empty(), "nothing on stdout with the serial port in a file");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn test_serial_stdio_prints_on_stdout_and_fw_cfg_reports_ram() {
    let o = ferrite(&["run", "--bios", &rom("serial_hello.bin"), "-m", "128", "--serial", "stdio"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello from COM1\nfw_cfg signature QEMU, RAM 0x08000000\n");
}

#[test]
fn test_serial_none_discards_output() {
    let o = ferrite(&["run", "--bios", &rom("serial_hello.bin"), "--serial", "none"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn test_serial_escape_ctrl_a_x_quits() {
    // triple.bin resets forever without --no-reboot; Ctrl-A x on standard input ends it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--bios", &rom("triple.bin"), "--serial", "stdio", "--max-insns", "2000000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferrite runs");
    child.stdin.take().expect("stdin").write_all(b"hi\x01x").expect("input written");
    let o = child.wait_with_output().expect("ferrite ends");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).lines().last().unwrap_or_default().starts_with("ferrite: stopped: interrupted"));
}

#[test]
fn test_serial_file_in_missing_directory_is_a_start_error() {
    let o = ferrite(&["run", "--serial", "file:/nonexistent/dir/com1.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("ferrite: error: cannot create serial file /nonexistent/dir/com1.txt"),
        "{}",
        stderr(&o)
    );
}
