//! `ferrite` is the command-line front end of the ferrite PC emulator. It parses the
//! options (clap), loads the BIOS image (or the built-in demo ROM when started with no
//! arguments), builds a [`ferrite_machine::Machine`], runs it, and reports how the run
//! ended: one `ferrite: stopped: ...` line on stderr and an exit status per stop reason
//! (see [`cli::EXIT_STATUS_HELP`]).
//!
//! Everything that can go wrong with the host's input — a missing, unreadable or
//! wrong-size image, a bad option — ends as one `ferrite: error: ...` line and a non-zero
//! status, never a panic.
#![deny(missing_docs)]

mod cli;
mod display;
mod serial;

use clap::error::ErrorKind;
use clap::Parser;
use cli::{Cli, Command, RunArgs, Sink};
use ferrite_debug::gdb::GdbEnd;
use ferrite_debug::session::{never, Session, Stop};
use ferrite_debug::trace::Tracer;
use ferrite_devices::ata_identify::Drive;
use ferrite_devices::block::{DiskImage, MediaKind};
use ferrite_machine::{BootModule, KernelBoot, Machine, MachineConfig, MachineError, StopReason};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;

/// The demo ROM built from `roms/demo.asm`, run when ferrite starts with no arguments.
const DEMO_ROM: &[u8] = include_bytes!("../../../roms/bin/demo.bin");
/// Exit status when ferrite itself cannot start the run.
const STATUS_ERROR: i32 = 1;
/// Exit status for a usage error (as clap uses).
const STATUS_USAGE: i32 = 2;
/// Exit status of a second Ctrl-C, which quits without waiting for the run loop.
const STATUS_SIGINT: i32 = 130;
/// The largest image read from a non-regular file (e.g. a pipe) before the size check.
const MAX_IMAGE_READ: u64 = 256 * 1024;

fn main() {
    install_panic_hook();
    let status = match run_cli() {
        Ok(status) => status,
        Err(message) => {
            eprintln!("ferrite: error: {message}");
            STATUS_ERROR
        }
    };
    std::process::exit(status);
}

/// A panic is a ferrite bug: report it on one line, without a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        serial::restore_terminal();
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("ferrite: internal error: {}{at} (this is a ferrite bug; please report it)", msg.replace('\n', " "));
    }));
}

/// Parses the command line and runs; returns the process exit status.
fn run_cli() -> Result<i32, String> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(report_usage(e)),
    };
    match cli.command {
        Some(Command::Run(args)) => run(args, false),
        Some(Command::Debug(args)) => run(args, true),
        None => match Cli::try_parse_from(["ferrite", "run"]) {
            Ok(Cli { command: Some(Command::Run(args)) }) => run(args, false),
            _ => Err("cannot build the default run options".into()),
        },
    }
}

/// Prints help/version as clap does; turns any other clap error into one line.
fn report_usage(e: clap::Error) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        _ => {
            let text = e.render().to_string();
            let mut lines = text.lines();
            let first = lines.next().unwrap_or("bad command line");
            let mut first = first.strip_prefix("error: ").unwrap_or(first).to_string();
            if first.ends_with(':') {
                // "the following required arguments were not provided:" lists them below.
                let listed: Vec<&str> =
                    lines.take_while(|l| l.starts_with(' ')).map(str::trim).filter(|l| !l.is_empty()).collect();
                first = format!("{first} {}", listed.join(", "));
            }
            eprintln!("ferrite: error: {first} (see 'ferrite --help' or 'ferrite run --help')");
            STATUS_USAGE
        }
    }
}

/// Opens the --hda/--hdb/--cdrom images as the IDE drives (primary master, primary
/// slave, secondary master); a missing, unreadable, empty or odd-sized image is an error.
fn open_drives(args: &RunArgs) -> Result<[Option<Drive>; 4], String> {
    let open = |path: &Option<PathBuf>, kind: MediaKind| -> Result<Option<Drive>, String> {
        let Some(path) = path else { return Ok(None) };
        let image = DiskImage::open(path, kind, args.snapshot).map_err(|e| e.to_string())?;
        Ok(Some(match kind {
            MediaKind::HardDisk => Drive::disk(image),
            MediaKind::Cdrom => Drive::cdrom(image),
        }))
    };
    Ok([
        open(&args.hda, MediaKind::HardDisk)?,
        open(&args.hdb, MediaKind::HardDisk)?,
        open(&args.cdrom, MediaKind::Cdrom)?,
        None,
    ])
}

/// Opens the --fda/--fdb images (read-write, or with an overlay under --snapshot); the
/// machine checks that each size is a floppy format.
fn open_floppies(args: &RunArgs) -> Result<[Option<DiskImage>; 2], String> {
    let open = |path: &Option<PathBuf>| -> Result<Option<DiskImage>, String> {
        let Some(path) = path else { return Ok(None) };
        DiskImage::open(path, MediaKind::HardDisk, args.snapshot).map(Some).map_err(|e| e.to_string())
    };
    Ok([open(&args.fda)?, open(&args.fdb)?])
}

/// The path given for floppy drive `drive` (0 = A), for messages.
fn floppy_path(args: &RunArgs, drive: usize) -> String {
    let path = if drive == 0 { &args.fda } else { &args.fdb };
    path.as_ref().map_or_else(String::new, |p| p.display().to_string())
}

/// Builds the machine from `args`, runs it (under the debugger REPL with `debug`, the gdb
/// stub with `--gdb`, the tracer with `--trace`) and reports the stop.
fn run(args: RunArgs, debug: bool) -> Result<i32, String> {
    let bios = match &args.bios {
        Some(path) => read_bios(path)?,
        None => DEMO_ROM.to_vec(),
    };
    let last_out = Arc::new(AtomicU8::new(b'\n'));
    let debugcon = open_sink(&args.debugcon, "debug console", &last_out)?;
    let vga_bios = match &args.vga_bios {
        Some(path) => Some(read_vga_bios(path)?),
        None => None,
    };
    // Open the window before the machine runs, so a missing display is a clean error.
    let mut window = match args.display {
        cli::Display::Window if !debug && args.gdb.is_none() => Some(display::WindowDisplay::open()?),
        _ => None,
    };
    let kernel = match &args.kernel {
        Some(path) => Some(read_kernel(path, args.append.as_deref(), args.initrd.as_deref(), args.ram_mib)?),
        None => None,
    };
    let config = MachineConfig {
        ram_mib: args.ram_mib,
        bios,
        debugcon,
        debugcon_port: args.debugcon_port,
        post_port: args.post_port,
        max_insns: args.max_insns,
        no_reboot: args.no_reboot,
        trace: args.trace_io,
        kernel,
        engine: args.engine,
        jit_dump: if args.jit_dump { Some(Box::new(std::io::stderr())) } else { None },
        deterministic: args.deterministic,
        vga_bios,
    };
    let mut machine = Machine::new(config).map_err(|e| match (e, &args.kernel) {
        (MachineError::Kernel(e), Some(path)) => format!("cannot boot kernel {}: {e}", path.display()),
        (MachineError::Linux(e), Some(path)) => format!("cannot boot kernel {}: {e}", path.display()),
        (e, _) => e.to_string(),
    })?;
    machine.attach_drives(open_drives(&args)?);
    machine
        .attach_floppies(open_floppies(&args)?)
        .map_err(|(drive, e)| format!("floppy image {} {e}", floppy_path(&args, drive)))?;
    if let Some(order) = &args.boot {
        machine.set_boot_order(&order.0);
    }
    let serial_stdout = match args.serial {
        Sink::Stdio => open_sink(&Sink::Stdio, "serial", &last_out)?,
        _ => None,
    };
    // Restores the terminal when `run` returns, whichever way.
    // Under the debugger REPL standard input belongs to the REPL: serial output only.
    let _raw_mode = serial::connect(&args.serial, &mut machine, serial_stdout, !debug)?;
    let tracer = match &args.trace {
        Some(path) => {
            let file = File::create(path)
                .map_err(|e| format!("cannot create trace file {}: {}", path.display(), io_reason(&e)))?;
            Some(Tracer::new(Box::new(BufWriter::new(file)), args.trace_from, args.trace_count))
        }
        None => None,
    };
    // Under a debugger Ctrl-C breaks in, however often it is pressed.
    install_ctrl_c(machine.interrupt_handle(), !debug && args.gdb.is_none());
    let (summary, status) = if debug {
        let reason = ferrite_debug::repl::run(&mut machine, tracer);
        (machine.finish(reason.unwrap_or(StopReason::Debug)), 0)
    } else if let Some(port) = args.gdb {
        match ferrite_debug::gdb::serve(&mut machine, tracer, port, args.paused)? {
            GdbEnd::Machine(reason) => {
                let summary = machine.finish(reason);
                let status = summary.exit_status();
                (summary, status)
            }
            GdbEnd::Killed => (machine.finish(StopReason::Debug), 0),
        }
    } else if tracer.is_some() {
        let reason = run_traced(&mut machine, tracer);
        let summary = machine.finish(reason);
        let status = summary.exit_status();
        (summary, status)
    } else if let Some(window) = window.as_mut() {
        let reason = window.run(&mut machine);
        let summary = machine.finish(reason);
        let status = summary.exit_status();
        (summary, status)
    } else {
        let summary = machine.run();
        let status = summary.exit_status();
        (summary, status)
    };
    if let Some(path) = &args.screenshot {
        display::write_screenshot(&machine, path)?;
    }
    let mut stdout = std::io::stdout();
    if stdout.is_terminal() && last_out.load(Ordering::Relaxed) != b'\n' {
        // Start the summary on a fresh line when guest output and stderr share a terminal.
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
    if args.dump_regs {
        eprint!("{}", ferrite_debug::dump(machine.cpu(), machine.mem()));
    }
    if args.stats {
        eprint!("{}", ferrite_debug::format_stats(machine.cpu()));
        if let Some(jit) = machine.jit_stats() {
            eprintln!("ferrite: stats: {jit}");
        }
    }
    eprintln!("ferrite: {summary}");
    Ok(status)
}

/// Runs the machine to its stop under the instruction tracer.
fn run_traced(machine: &mut Machine, tracer: Option<Tracer>) -> StopReason {
    let mut session = Session::new(machine, tracer);
    loop {
        match session.cont(&mut never()) {
            Stop::Machine(reason) => return reason,
            Stop::Interrupted => return StopReason::Interrupted,
            _ => {} // no user breakpoints: nothing else stops a plain run
        }
    }
}

/// The first Ctrl-C asks the run loop to stop; with `second_quits` a second one quits at once.
fn install_ctrl_c(flag: Arc<AtomicBool>, second_quits: bool) {
    let presses = AtomicU32::new(0);
    let installed = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::Relaxed) > 0 && second_quits {
            serial::restore_terminal();
            std::process::exit(STATUS_SIGINT);
        }
        flag.store(true, Ordering::Relaxed);
    });
    if let Err(e) = installed {
        eprintln!("ferrite: warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}

/// An I/O error's reason without Rust's "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Reads a BIOS image, refusing sizes other than 64/128/256 KiB with a message naming
/// the file. Non-regular files are read only up to the largest valid size.
/// Reads a VGA BIOS option ROM: 512 bytes to 128 KiB.
fn read_vga_bios(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let image = std::fs::read(path).map_err(|e| format!("cannot read VGA BIOS {shown}: {}", io_reason(&e)))?;
    if !(512..=128 * 1024).contains(&image.len()) {
        return Err(format!("VGA BIOS {shown} is {} bytes; it must be 512 bytes to 128 KiB", image.len()));
    }
    Ok(image)
}

fn read_bios(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read BIOS image {shown}: {}", io_reason(&e));
    let file = File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(format!("cannot read BIOS image {shown}: Is a directory"));
    }
    let mut image = Vec::new();
    file.take(MAX_IMAGE_READ + 1).read_to_end(&mut image).map_err(cannot)?;
    let len = if meta.is_file() { meta.len() } else { image.len() as u64 };
    if !ferrite_mem::BIOS_SIZES.iter().any(|&s| s as u64 == len) {
        let size = if !meta.is_file() && len > MAX_IMAGE_READ {
            "more than 256 KiB".to_string()
        } else {
            format!("{len} bytes")
        };
        return Err(format!("BIOS image {shown} is {size}; it must be exactly 64, 128 or 256 KiB"));
    }
    Ok(image)
}

/// Reads a file the guest gets whole (a kernel or a module); it cannot be larger than
/// guest RAM, which also bounds reads from endless non-regular files.
fn read_guest_file(path: &Path, what: &str, ram_mib: u32) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read {what} {shown}: {}", io_reason(&e));
    let file = File::open(path).map_err(cannot)?;
    if file.metadata().map_err(cannot)?.is_dir() {
        return Err(format!("cannot read {what} {shown}: Is a directory"));
    }
    let cap = ram_mib as u64 * 1024 * 1024;
    let mut data = Vec::new();
    file.take(cap + 1).read_to_end(&mut data).map_err(cannot)?;
    if data.len() as u64 > cap {
        return Err(format!("{what} {shown} is larger than guest RAM ({ram_mib} MiB); a larger -m may help"));
    }
    Ok(data)
}

/// Reads a kernel and its module. A multiboot kernel's command line is its path followed
/// by `append` (as GRUB and QEMU pass it); a Linux bzImage's is `append` alone. The
/// module's string is its path.
fn read_kernel(path: &Path, append: Option<&str>, initrd: Option<&Path>, ram_mib: u32) -> Result<KernelBoot, String> {
    let image = read_guest_file(path, "kernel", ram_mib)?;
    let mut cmdline =
        if ferrite_machine::boot::linux::is_bzimage(&image) { String::new() } else { path.display().to_string() };
    if let Some(extra) = append {
        if !cmdline.is_empty() {
            cmdline.push(' ');
        }
        cmdline.push_str(extra);
    }
    let module = match initrd {
        Some(p) => Some(BootModule { data: read_guest_file(p, "initrd", ram_mib)?, string: p.display().to_string() }),
        None => None,
    };
    Ok(KernelBoot { image, cmdline, module })
}

/// Standard output that remembers the last byte written through it.
struct TrackedStdout {
    last: Arc<AtomicU8>,
}

impl Write for TrackedStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = std::io::stdout().write(buf)?;
        if n > 0 {
            self.last.store(buf[n - 1], Ordering::Relaxed);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// Opens an output sink; files are created (or truncated) now so a bad path fails early.
/// Bytes sent to stdout update `last_out`.
fn open_sink(sink: &Sink, what: &str, last_out: &Arc<AtomicU8>) -> Result<Option<Box<dyn Write + Send>>, String> {
    Ok(match sink {
        Sink::None => None,
        Sink::Stdio => Some(Box::new(TrackedStdout { last: last_out.clone() })),
        Sink::File(path) => {
            let file = File::create(path)
                .map_err(|e| format!("cannot create {what} file {}: {}", path.display(), io_reason(&e)))?;
            Some(Box::new(BufWriter::new(file)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_demo_rom_is_a_valid_bios_size() {
        assert_eq!(DEMO_ROM.len(), 64 * 1024);
    }

    #[test]
    fn test_io_reason_drops_os_error_suffix() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "No such file or directory");
    }

    #[test]
    fn test_read_bios_errors_name_the_file() {
        let err = read_bios(Path::new("/nonexistent/bios.bin")).unwrap_err();
        assert_eq!(err, "cannot read BIOS image /nonexistent/bios.bin: No such file or directory");
        let err = read_bios(Path::new("/")).unwrap_err();
        assert!(err.contains("Is a directory"), "{err}");
    }

    #[test]
    fn test_read_kernel_errors_name_the_file() {
        let err = read_kernel(Path::new("/nonexistent/k.elf"), None, None, 16).unwrap_err();
        assert_eq!(err, "cannot read kernel /nonexistent/k.elf: No such file or directory");
        let err = read_guest_file(Path::new("/dev/zero"), "initrd", 1).unwrap_err();
        assert!(err.contains("larger than guest RAM (1 MiB)"), "{err}");
    }

    #[test]
    fn test_read_bios_caps_endless_files() {
        let err = read_bios(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("more than 256 KiB"), "{err}");
    }
}
