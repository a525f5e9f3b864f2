//! What the end-to-end tests of the `ferrite` binary share: paths to the committed ROMs
//! and scratch files, running the binary, reading its output, and the checks every test
//! makes of a run that ended (no panic; start-up errors are exactly one line).
//!
//! Each test file includes it with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Debian's SeaBIOS image (package `seabios`, installed by scripts/setup).
pub const SEABIOS: &str = "/usr/share/seabios/bios.bin";

/// A committed image in roms/bin.
pub fn rom(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin").join(name)
}

/// A scratch path unique to this test process (`prefix` names the test file).
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{}-{name}", std::process::id()))
}

/// Runs the binary to its end and collects its output.
pub fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite")).args(args).output().expect("the ferrite binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The process ended by itself, with no panic text.
pub fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE") && !err.contains("internal error"), "{err}");
    assert!(o.status.code().is_some(), "killed by a signal: {:?}", o.status);
}

/// A usage or start-up error: exactly one `ferrite: error:` line, the given status.
pub fn assert_error_line(o: &Output, status: i32, needle: &str) {
    assert_no_panic(o);
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(status), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ferrite: error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

/// The last stderr line: the run summary.
pub fn summary(o: &Output) -> String {
    stderr(o).lines().last().unwrap_or_default().to_string()
}

/// SeaBIOS's path when it is installed; otherwise says loudly that `test` is skipped.
pub fn seabios_or_skip(test: &str) -> Option<&'static str> {
    if std::path::Path::new(SEABIOS).is_file() {
        return Some(SEABIOS);
    }
    eprintln!("################################################################################");
    eprintln!("## SKIPPED {test}: {SEABIOS} not found (apt-get install seabios; scripts/setup does it)");
    eprintln!("################################################################################");
    None
}

/// Reads `child`'s standard output line by line (on a thread, so a silent guest cannot
/// block the test) until a line contains `milestone`, the output ends or `timeout`
/// passes. Returns whether the milestone came and every line read. The child keeps
/// running: stopping it is the caller's business.
pub fn lines_until(
    child: &mut std::process::Child,
    milestone: &str,
    timeout: std::time::Duration,
) -> (bool, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = std::time::Instant::now();
    let mut lines = Vec::new();
    while start.elapsed() < timeout {
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) => {
                let found = line.contains(milestone);
                lines.push(line);
                if found {
                    return (true, lines);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    (false, lines)
}
