//! End-to-end tests of debugging with the multiboot test kernel (`roms/multiboot_hello.asm`,
//! loaded at 0x100000): the `ferrite debug` REPL fed through a pipe, the instruction trace
//! (`--trace`), and a real `gdb` driving the gdb stub (`--gdb PORT --paused`).
//!
//! Addresses in the kernel (see `ndisasm -b 32 -o 0x100000 roms/bin/multiboot_hello.bin`):
//! `start` at 0x100020 is `mov esp, stack_top`; 0x100035 is `mov esi, why_segments` and the
//! next instruction, `mov ax, cs`, is at 0x10003A.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The kernel's entry point.
const ENTRY: &str = "0x100020";
/// `mov esi, why_segments` (5 bytes), and the instruction after it.
const BREAK_AT: &str = "100035";
const AFTER_BREAK: &str = "0x10003a";
/// The status the test kernel's success exit (0x10) gives.
const STATUS_KERNEL_OK: i32 = (0x10 << 1) | 1;
/// How long gdb may take before the test gives up.
const GDB_TIMEOUT: Duration = Duration::from_secs(60);

fn kernel() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin/multiboot_hello.bin").display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dbg-{}-{name}", std::process::id()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(o: &Output) {
    let err = text(&o.stderr);
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    assert!(o.status.code().is_some(), "killed by a signal: {:?}", o.status);
}

/// Runs `ferrite ARGS` with `input` on standard input.
fn ferrite_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ferrite binary runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("input written");
    child.wait_with_output().expect("ferrite finishes")
}

#[test]
fn test_repl_from_a_pipe_stops_at_a_breakpoint_and_dumps_registers() {
    let k = kernel();
    let o = ferrite_with_input(&["debug", "--kernel", &k], &format!("break {BREAK_AT}\ncontinue\nregs\nquit\n"));
    assert_no_panic(&o);
    let out = text(&o.stdout);
    assert!(out.contains("next: 0008:00100020  BC E4 12 10 00"), "{out}");
    assert!(out.contains("stopped at breakpoint at 00100035 (1)"), "{out}");
    assert!(out.contains("EIP=00100035"), "{out}");
    assert!(out.contains("EAX=2BADB002 EBX=00009000"), "{out}");
    assert!(out.contains("CS  =0008 base=00000000 limit=FFFFFFFF"), "{out}");
    assert!(out.contains("CR0=00000011") && out.contains("EFER=") && out.contains("DR7=00000400"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("ferrite: stopped: debug-stop at 0008:00100035"), "{}", text(&o.stderr));
}

#[test]
fn test_repl_survives_bad_commands_and_runs_the_guest_to_its_exit() {
    let k = kernel();
    let input = "x zz\nbreak\nfrobnicate\nx p:ffffffff 4\ninfo pagewalk 12345678\nwatch 1002e0 w 4\nc\nc\nquit\n";
    let o = ferrite_with_input(&["debug", "--kernel", &k, "--debugcon", "none"], input);
    assert_no_panic(&o);
    let out = text(&o.stdout);
    assert!(out.contains("error: 'zz' is not a hex address"), "{out}");
    assert!(out.contains("error: 'break' needs an address"), "{out}");
    assert!(out.contains("error: unknown command 'frobnicate'"), "{out}");
    assert!(out.contains("p:FFFFFFFF  FF 00 00 00"), "the ROM top, then RAM from 0: {out}");
    assert!(out.contains("stopped after a write of 001002E0"), "{out}");
    assert!(out.contains("the machine stopped: exit-port (value 0x10, exit status 33)"), "{out}");
    assert!(text(&o.stderr).contains("ferrite: stopped: exit-port"), "{}", text(&o.stderr));
}

#[test]
fn test_trace_from_an_address_for_a_count() {
    let k = kernel();
    let log = scratch("trace.log");
    let log_s = log.display().to_string();
    let o = ferrite_with_input(
        &[
            "run",
            "--kernel",
            &k,
            "--debugcon",
            "none",
            "--trace",
            &log_s,
            "--trace-from",
            BREAK_AT,
            "--trace-count",
            "3",
        ],
        "",
    );
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK), "{}", text(&o.stderr));
    let trace = std::fs::read_to_string(&log).expect("trace written");
    let lines: Vec<&str> = trace.lines().collect();
    assert_eq!(lines.len(), 5, "{trace}");
    assert_eq!(lines[0], "-- trace starts at linear 00100035");
    assert!(lines[1].starts_with("0008:00100035  BE 5B 02 10 00") && lines[1].contains("mov esi,10025Bh"), "{trace}");
    assert!(lines[1].contains("EAX=2BADB002") && lines[1].contains("ESP=001012E4"), "{trace}");
    assert!(lines[2].starts_with("0008:0010003A  66 8C C8") && lines[2].contains("mov ax,cs"), "{trace}");
    assert!(lines[3].starts_with("0008:0010003D"), "{trace}");
    assert_eq!(lines[4], "-- trace count reached");
}

#[test]
fn test_trace_io_is_the_old_unclaimed_port_log() {
    let k = kernel();
    let o = ferrite_with_input(&["run", "--kernel", &k, "--trace-io", "--post-port", "0x84"], "");
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK), "{}", text(&o.stderr));
}

/// A TCP port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

/// Waits for `child`, killing it after `limit`.
fn wait_with_timeout(mut child: std::process::Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait works").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output collected")
}

#[test]
fn test_real_gdb_breaks_continues_and_steps() {
    // This test must run in CI: scripts/setup installs gdb. Fail loudly, never skip.
    let probe = Command::new("gdb").arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "gdb is not installed (run scripts/setup, which installs it): {probe:?}"
    );
    let k = kernel();
    let port = free_port();
    let mut ferrite = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--kernel", &k, "--debugcon", "none", "--gdb", &port.to_string(), "--paused"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ferrite binary runs");
    // Read ferrite's stderr on a thread; wait for the line saying the stub listens.
    let stderr = ferrite.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(GDB_TIMEOUT).expect("ferrite says it waits for gdb");
    assert!(first.contains("waiting for gdb on 127.0.0.1"), "{first}");
    let remote = format!("target remote :{port}");
    let brk = format!("break *0x{BREAK_AT}");
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set architecture i386", "-ex", &remote, "-ex", "p/x $eip", "-ex", &brk])
        .args(["-ex", "continue", "-ex", "p/x $eip", "-ex", "stepi", "-ex", "p/x $eip", "-ex", "p/x $eax"])
        .args(["-ex", "x/2xb 0x100020", "-ex", "watch *(int*)0x1002e0", "-ex", "continue", "-ex", "p/x $eip"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb runs");
    let g = wait_with_timeout(gdb, GDB_TIMEOUT, "gdb");
    let out = text(&g.stdout);
    let f = wait_with_timeout(ferrite, GDB_TIMEOUT, "ferrite after gdb detached");
    drop(reader);
    let ferrite_err: Vec<String> = rx.try_iter().collect();
    let ctx =
        format!("gdb stdout:\n{out}\ngdb stderr:\n{}\nferrite stderr:\n{}", text(&g.stderr), ferrite_err.join("\n"));
    assert!(out.contains(&format!("$1 = {ENTRY}")), "{ctx}");
    assert!(out.contains(&format!("Breakpoint 1, 0x00{BREAK_AT}")), "{ctx}");
    assert!(out.contains(&format!("$2 = 0x{BREAK_AT}")), "{ctx}");
    assert!(out.contains(&format!("$3 = {AFTER_BREAK}")), "stepi moves to the next instruction: {ctx}");
    assert!(out.contains("$4 = 0x2badb002"), "{ctx}");
    assert!(out.contains("0x100020:\t0xbc\t0xe4"), "{ctx}");
    assert!(out.contains("New value = 1520824333"), "the watchpoint saw the canary store: {ctx}");
    assert!(out.contains("$5 = 0x100070"), "stopped after the store: {ctx}");
    // gdb -batch detaches at the end; the guest then runs to its own exit.
    assert_no_panic(&f);
    assert_eq!(f.status.code(), Some(STATUS_KERNEL_OK), "{ctx}");
    assert!(ferrite_err.iter().any(|l| l.contains("ferrite: stopped: exit-port")), "{ctx}");
}
