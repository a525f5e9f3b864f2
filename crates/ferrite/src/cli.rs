//! The command line: clap definitions and the parsers for option values. Every value is
//! checked here, so a bad one is a one-line usage error before any machine is built.

use clap::{Args, Parser, Subcommand};
use ferrite_machine::{DEFAULT_RAM_MIB, MAX_RAM_MIB, MIN_RAM_MIB};
use std::path::PathBuf;

/// Exit statuses, shown by `ferrite run --help` and kept in step with the README.
pub const EXIT_STATUS_HELP: &str = "\
Exit status (the run ends with one line on stderr:
`ferrite: stopped: REASON at CS:EIP insns=N post=0xNN`):
  (V<<1)|1  exit-port     the guest wrote V to port 0xF4 (isa-debug-exit; low 8 bits, always odd)
  0         halted        HLT with interrupts off, or with no timer armed and no input to wake it
  0         poweroff      the guest switched the machine off (ACPI PM1a_CNT at 0x604: SLP_EN, SLP_TYP 0)
  4         triple-fault  the CPU shut down and --no-reboot was given (else the machine resets)
  0         reboot        the guest asked for a reset (0xCF9, 8042, port 0x92) and --no-reboot was given
  124       max-insns     the --max-insns budget ran out
  130       interrupted   Ctrl-C (press it twice to quit at once)
  1         ferrite could not start: unreadable or wrong-size BIOS image, a --kernel that cannot
            be booted (no multiboot header, bad ELF, does not fit in RAM), a disk or floppy image
            that cannot be opened or has a size no drive takes, unwritable output file
  2         usage error: unknown option or bad option value
  101       internal error: a ferrite bug, reported on one line";

/// ferrite — a full-system x86 PC emulator.
#[derive(Debug, Parser)]
#[command(
    name = "ferrite",
    version,
    about = "ferrite - a full-system x86 PC emulator",
    after_help = "With no command, ferrite boots its built-in demo ROM (the same as `ferrite run`)."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot a PC from a BIOS image (or a multiboot --kernel) and run it until it stops
    #[command(after_help = EXIT_STATUS_HELP)]
    Run(RunArgs),
    /// Build the same machine as `run` and open the step debugger before its first
    /// instruction (type `help` at its prompt)
    #[command(after_help = DEBUG_HELP)]
    Debug(RunArgs),
}

/// Shown by `ferrite debug --help`.
pub const DEBUG_HELP: &str = "\
The debugger reads commands from the terminal (with line editing and history) or from a
pipe: step [N], next, continue, until ADDR, break ADDR, watch ADDR [r|w|rw] [LEN], delete [N],
info break|tlb|pagewalk ADDR|idt|gdt|devices, regs [fpu|sse|all], x ADDR [N], disasm [ADDR] [N],
quit. Addresses are hex: 100020 (linear), p:B8000 (physical), 0008:00100020 (SEL:OFF).
Ctrl-C while the guest runs breaks in. On quit or end of input ferrite prints the summary line
and exits with status 0. See docs/debugging.md.";

/// Options of `ferrite run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// BIOS image (64, 128 or 256 KiB), mapped to end at 0xFFFFF and 0xFFFFFFFF
    /// [default: the built-in demo ROM]
    #[arg(long, value_name = "FILE")]
    pub bios: Option<PathBuf>,

    /// Boot a kernel directly, without running the BIOS: a Linux bzImage (32-bit boot
    /// protocol) or a multiboot v1 kernel (ELF32 or a.out kludge); the CPU starts at its
    /// entry in 32-bit protected mode; a reset loads it again
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,

    /// The --kernel command line: a bzImage sees STRING, a multiboot kernel "FILE STRING"
    #[arg(long, value_name = "STRING", requires = "kernel")]
    pub append: Option<String>,

    /// Load FILE as the bzImage's initrd (at the top of RAM) or as a multiboot module
    /// after the kernel (its string is FILE)
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<PathBuf>,

    /// Guest RAM in MiB (1..=3584)
    #[arg(short = 'm', long = "memory", value_name = "MiB",
          default_value_t = DEFAULT_RAM_MIB, value_parser = parse_ram_mib)]
    pub ram_mib: u32,

    /// Execution engine: `jit` (the binary translator, the default on x86-64 hosts; it hands
    /// what it does not translate to the interpreter) or `interp` (the interpreter)
    #[arg(long, value_name = "ENGINE", default_value = Engine::DEFAULT.name(), value_parser = parse_engine)]
    pub engine: Engine,

    /// With `--engine jit`: print the guest and host code of every translated block on stderr
    #[arg(long)]
    pub jit_dump: bool,

    /// Where the debug console (port 0xE9) writes
    #[arg(long, value_name = "stdio|none|file:PATH", default_value = "stdio",
          value_parser = parse_sink)]
    pub debugcon: Sink,

    /// Port of the debug console (QEMU's isa-debugcon iobase): 0xE9 as on Bochs and QEMU;
    /// SeaBIOS built for QEMU logs to 0x402
    #[arg(long, value_name = "PORT", default_value = "0xE9", value_parser = parse_port)]
    pub debugcon_port: u16,

    /// Port whose last written byte is kept as the POST code (decimal or 0x hex)
    #[arg(long, value_name = "PORT", default_value = "0x80", value_parser = parse_port)]
    pub post_port: u16,

    /// Stop after N instructions (exit status 124)
    #[arg(long, value_name = "N")]
    pub max_insns: Option<u64>,

    /// Deterministic time: the virtual clock runs on the instruction count (10 ns per
    /// instruction; a HLT skips to the next timer) and the RTC starts at 2024-01-01 00:00 UTC,
    /// so two runs of the same image produce the same output [default: host time]
    #[arg(long)]
    pub deterministic: bool,

    /// Stop instead of resetting the machine: on a triple fault (exit status 4) and when
    /// the guest asks for a reset through 0xCF9, the 8042 or port 0x92 (`reboot`, status 0)
    #[arg(long)]
    pub no_reboot: bool,

    /// Display: `none` (headless) or `window` (the guest's screen in a window, with the
    /// host keyboard and mouse as PS/2 devices; closing it stops the run, status 130)
    #[arg(long, value_name = "none|window", default_value = "none", value_parser = parse_display)]
    pub display: Display,

    /// At exit, write the guest's screen (VGA text or graphics, or the VBE framebuffer) to
    /// FILE as a PNG
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<PathBuf>,

    /// VGA BIOS option ROM (e.g. /usr/share/seabios/vgabios-stdvga.bin), mapped read-only at
    /// 0xC0000 and offered to SeaBIOS as the fw_cfg file vgaroms/vgabios.bin
    #[arg(long, value_name = "FILE")]
    pub vga_bios: Option<PathBuf>,

    /// COM1 (16550A at 0x3F8): `stdio` is an interactive console (raw terminal; Ctrl-A x
    /// quits, Ctrl-A h lists the keys), `file:PATH` logs its output, `none` leaves it unconnected
    #[arg(long, value_name = "none|stdio|file:PATH", default_value = "none",
          value_parser = parse_sink)]
    pub serial: Sink,

    /// After the run, print the registers and the next instruction on stderr
    #[arg(long)]
    pub dump_regs: bool,

    /// After the run, print counters on stderr: instructions, shadow-MMU faults
    /// (hypervisor-induced soft-TLB fills vs guest-induced #PF), TLB flushes, decode cache
    #[arg(long)]
    pub stats: bool,

    /// Log unusual I/O on stderr (now: the first access to each unclaimed I/O port)
    #[arg(long)]
    pub trace_io: bool,

    /// Write an instruction trace to FILE: one line per executed instruction (CS:EIP,
    /// bytes, disassembly, registers before it) plus exceptions and interrupts
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Start the --trace when the instruction at this linear address (hex) is first reached
    #[arg(long, value_name = "ADDR", requires = "trace", value_parser = parse_hex_addr)]
    pub trace_from: Option<u32>,

    /// End the --trace after N instructions (the guest runs on)
    #[arg(long, value_name = "N", requires = "trace")]
    pub trace_count: Option<u64>,

    /// Serve the GDB remote protocol on 127.0.0.1:PORT (i386; `target remote :PORT`)
    #[arg(long, value_name = "PORT")]
    pub gdb: Option<u16>,

    /// With --gdb: wait for gdb before the first instruction
    #[arg(long, requires = "gdb")]
    pub paused: bool,
    /// Hard disk image (raw, a multiple of 512 bytes) on the primary IDE master; guest
    /// writes reach the file (flushed at exit) unless --snapshot is given
    #[arg(long, value_name = "FILE")]
    pub hda: Option<PathBuf>,
    /// Hard disk image on the primary IDE slave
    #[arg(long, value_name = "FILE")]
    pub hdb: Option<PathBuf>,
    /// CD-ROM image (ISO 9660, read-only) in the ATAPI drive on the secondary IDE master
    #[arg(long, value_name = "FILE")]
    pub cdrom: Option<PathBuf>,
    /// Keep the disk images untouched: guest writes go to an in-memory overlay
    #[arg(long)]
    pub snapshot: bool,
    /// Floppy disk image in drive A: (raw; 720 KiB, 1.2 MiB, 1.44 MiB or 2.88 MiB, the format
    /// follows from the size) on the 82077AA controller at 0x3F0; guest writes reach the file
    /// unless --snapshot is given
    #[arg(long, value_name = "FILE")]
    pub fda: Option<PathBuf>,
    /// Floppy disk image in drive B:
    #[arg(long, value_name = "FILE")]
    pub fdb: Option<PathBuf>,
    /// BIOS boot order, as QEMU's -boot: one to three of `a` (floppy A:), `c` (first hard
    /// disk), `d` (CD-ROM), first choice first; devices not named are tried after them.
    /// SeaBIOS reads it from CMOS 0x3D/0x38 [default: cad]
    #[arg(long, value_name = "a|c|d", value_parser = parse_boot)]
    pub boot: Option<BootOrder>,
}

/// The `--boot` devices, first choice first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOrder(pub Vec<ferrite_machine::BootDevice>);

fn parse_boot(s: &str) -> Result<BootOrder, String> {
    ferrite_machine::parse_boot_order(s.trim()).map(BootOrder)
}

fn parse_hex_addr(s: &str) -> Result<u32, String> {
    ferrite_debug::commands::parse_hex(s.trim())
}

pub use ferrite_machine::Engine;

/// A display back end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// No display (headless).
    None,
    /// A window on the host's graphical display.
    Window,
}

/// Where a character device's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// The host's standard output.
    Stdio,
    /// Discarded.
    None,
    /// A file, created or truncated.
    File(PathBuf),
}

fn parse_ram_mib(s: &str) -> Result<u32, String> {
    let mib: u64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number of MiB"))?;
    if !(MIN_RAM_MIB as u64..=MAX_RAM_MIB as u64).contains(&mib) {
        return Err(format!("guest RAM must be {MIN_RAM_MIB}..={MAX_RAM_MIB} MiB"));
    }
    Ok(mib as u32)
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    match s {
        "interp" => Ok(Engine::Interp),
        "jit" => Ok(Engine::Jit),
        _ => Err("unknown engine; expected 'interp' or 'jit'".into()),
    }
}

fn parse_display(s: &str) -> Result<Display, String> {
    match s {
        "none" => Ok(Display::None),
        "window" => Ok(Display::Window),
        _ => Err("unknown display; expected 'none' or 'window'".into()),
    }
}

fn parse_sink(s: &str) -> Result<Sink, String> {
    match s {
        "stdio" => Ok(Sink::Stdio),
        "none" => Ok(Sink::None),
        _ => match s.strip_prefix("file:") {
            Some("") => Err("file: needs a path, e.g. file:out.txt".into()),
            Some(path) => Ok(Sink::File(PathBuf::from(path))),
            None => Err("expected stdio, none or file:PATH".into()),
        },
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => t.parse::<u16>(),
    };
    parsed.map_err(|_| "expected an I/O port 0..=65535 (decimal or 0x hex)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn test_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_parse_ram_bounds() {
        assert_eq!(parse_ram_mib("1"), Ok(1));
        assert_eq!(parse_ram_mib("3584"), Ok(3584));
        assert!(parse_ram_mib("0").is_err());
        assert!(parse_ram_mib("3585").is_err());
        assert!(parse_ram_mib("99999999999999999999").is_err());
        assert!(parse_ram_mib("lots").is_err());
    }

    #[test]
    fn test_parse_sink_forms() {
        assert_eq!(parse_sink("stdio"), Ok(Sink::Stdio));
        assert_eq!(parse_sink("none"), Ok(Sink::None));
        assert_eq!(parse_sink("file:a/b.txt"), Ok(Sink::File("a/b.txt".into())));
        assert!(parse_sink("file:").is_err());
        assert!(parse_sink("tcp:1234").is_err());
    }

    #[test]
    fn test_parse_port_hex_and_decimal() {
        assert_eq!(parse_port("0x80"), Ok(0x80));
        assert_eq!(parse_port("0X3F8"), Ok(0x3F8));
        assert_eq!(parse_port("128"), Ok(128));
        assert!(parse_port("0x10000").is_err());
        assert!(parse_port("-1").is_err());
    }

    #[test]
    fn test_engine_and_display_choices() {
        assert_eq!(parse_engine("interp"), Ok(Engine::Interp));
        assert_eq!(parse_engine("jit"), Ok(Engine::Jit));
        assert!(parse_engine("qemu").is_err());
        assert_eq!(parse_display("none"), Ok(Display::None));
        assert_eq!(parse_display("window"), Ok(Display::Window));
        assert!(parse_display("vnc").is_err());
    }

    #[test]
    fn test_run_defaults() {
        let cli = Cli::try_parse_from(["ferrite", "run"]).unwrap();
        let Some(Command::Run(args)) = cli.command else { panic!("no run") };
        assert_eq!(args.ram_mib, DEFAULT_RAM_MIB);
        assert_eq!(args.post_port, 0x80);
        assert_eq!(args.debugcon, Sink::Stdio);
        assert_eq!(args.serial, Sink::None);
        assert!(args.bios.is_none() && args.max_insns.is_none() && !args.no_reboot);
        assert!(args.kernel.is_none() && args.append.is_none() && args.initrd.is_none());
    }

    #[test]
    fn test_debug_takes_the_run_options_and_trace_options_parse() {
        let cli = Cli::try_parse_from(["ferrite", "debug", "--kernel", "k", "-m", "32", "--trace-io"]).unwrap();
        let Some(Command::Debug(args)) = cli.command else { panic!("no debug") };
        assert_eq!((args.ram_mib, args.trace_io), (32, true));
        let cli = Cli::try_parse_from([
            "ferrite",
            "run",
            "--trace",
            "t.log",
            "--trace-from",
            "0x100020",
            "--trace-count",
            "5",
            "--gdb",
            "1234",
            "--paused",
        ])
        .unwrap();
        let Some(Command::Run(args)) = cli.command else { panic!("no run") };
        assert_eq!(args.trace, Some(PathBuf::from("t.log")));
        assert_eq!((args.trace_from, args.trace_count), (Some(0x100020), Some(5)));
        assert_eq!((args.gdb, args.paused), (Some(1234), true));
        assert!(Cli::try_parse_from(["ferrite", "run", "--trace-from", "100"]).is_err());
        assert!(Cli::try_parse_from(["ferrite", "run", "--paused"]).is_err());
        assert!(Cli::try_parse_from(["ferrite", "run", "--trace", "t", "--trace-from", "xyz"]).is_err());
    }

    #[test]
    fn test_floppy_and_boot_options_parse() {
        use ferrite_machine::BootDevice;
        let cli = Cli::try_parse_from(["ferrite", "run", "--fda", "a.img", "--fdb", "b.img", "--boot", "a"]).unwrap();
        let Some(Command::Run(args)) = cli.command else { panic!("no run") };
        assert_eq!((args.fda, args.fdb), (Some(PathBuf::from("a.img")), Some(PathBuf::from("b.img"))));
        assert_eq!(args.boot, Some(BootOrder(vec![BootDevice::Floppy])));
        let cli = Cli::try_parse_from(["ferrite", "run", "--boot", "dca"]).unwrap();
        let Some(Command::Run(args)) = cli.command else { panic!("no run") };
        assert_eq!(args.boot.map(|b| b.0.len()), Some(3));
        assert!(Cli::try_parse_from(["ferrite", "run", "--boot", "x"]).is_err());
        assert!(Cli::try_parse_from(["ferrite", "run", "--boot", "cc"]).is_err());
    }

    #[test]
    fn test_append_and_initrd_need_a_kernel() {
        assert!(Cli::try_parse_from(["ferrite", "run", "--append", "x"]).is_err());
        assert!(Cli::try_parse_from(["ferrite", "run", "--initrd", "x"]).is_err());
        let cli = Cli::try_parse_from(["ferrite", "run", "--kernel", "k", "--append", "a b", "--initrd", "i"]).unwrap();
        let Some(Command::Run(args)) = cli.command else { panic!("no run") };
        assert_eq!(args.kernel, Some(PathBuf::from("k")));
        assert_eq!(args.append.as_deref(), Some("a b"));
        assert_eq!(args.initrd, Some(PathBuf::from("i")));
    }
}
