//! The debugger's command language: one line in, one [`Command`] out, or an error message
//! for the user. Parsing needs no machine, so it is tested on its own.
//!
//! Addresses are hex, with or without `0x`: `100020` and `0x100020` are linear addresses,
//! `p:B8000` is physical, `0008:00100020` is selector:offset. Counts are decimal, or hex
//! with `0x`.

/// Where an address lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrSpec {
    /// A linear (virtual) address: translated by the guest's page tables when paging is on.
    Linear(u32),
    /// A physical address.
    Phys(u32),
    /// A selector and an offset; the base comes from the loaded segment register with that
    /// selector, the GDT/LDT (protected mode) or `selector × 16` (real mode).
    SegOff(u16, u32),
}

/// Which accesses a watchpoint stops on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Reads only.
    Read,
    /// Writes only.
    Write,
    /// Reads and writes.
    ReadWrite,
}

/// What `info` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Info {
    /// Breakpoints and watchpoints.
    Break,
    /// The soft TLB's valid entries.
    Tlb,
    /// The guest page walk for an address, and the soft TLB's entry for it.
    PageWalk(AddrSpec),
    /// The interrupt descriptor table (or the real-mode IVT).
    Idt,
    /// The global descriptor table.
    Gdt,
    /// The devices on the board and their ports.
    Devices,
}

/// Which registers `regs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegSet {
    /// General, segment, control, debug and table registers.
    Core,
    /// The x87 FPU.
    Fpu,
    /// XMM0–7 and MXCSR.
    Sse,
    /// All of the above.
    All,
}

/// One debugger command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Execute N instructions (`step [N]`, `s`, `stepi`, `si`).
    Step(u64),
    /// Execute one instruction, running a CALL (or INT, or REP string op) to its return.
    Next,
    /// Run until a breakpoint, a watchpoint, Ctrl-C or a machine stop.
    Continue,
    /// Run until the instruction at this address is next.
    Until(AddrSpec),
    /// Set a breakpoint.
    Break(AddrSpec),
    /// Set a watchpoint on `len` bytes.
    Watch {
        /// The first watched byte.
        addr: AddrSpec,
        /// Which accesses stop.
        kind: WatchKind,
        /// How many bytes.
        len: u32,
    },
    /// Delete one breakpoint/watchpoint by number, or all of them.
    Delete(Option<u32>),
    /// Show something about the machine.
    Info(Info),
    /// Show registers.
    Regs(RegSet),
    /// Dump `count` bytes of memory.
    Examine {
        /// Where to start.
        addr: AddrSpec,
        /// How many bytes.
        count: u32,
    },
    /// Disassemble `count` instructions from `addr` (CS:EIP when absent).
    Disasm {
        /// Where to start.
        addr: Option<AddrSpec>,
        /// How many instructions.
        count: u32,
    },
    /// List the commands.
    Help,
    /// Leave the debugger.
    Quit,
    /// An empty line: nothing to do.
    Nothing,
}

/// Default byte count of `x`.
pub const DEFAULT_EXAMINE_BYTES: u32 = 64;
/// Default instruction count of `disasm`.
pub const DEFAULT_DISASM_INSNS: u32 = 10;
/// Largest byte count `x` accepts.
pub const MAX_EXAMINE_BYTES: u32 = 1 << 20;
/// Largest instruction count `disasm` accepts.
pub const MAX_DISASM_INSNS: u32 = 10_000;

/// The help text.
pub const HELP: &str = "\
commands (addresses are hex: 100020 linear, p:B8000 physical, 0008:00100020 selector:offset):
  step [N] | s | si      execute N instructions (default 1)
  next | n               one instruction, running a call to its return
  continue | c           run until a breakpoint, a watchpoint, Ctrl-C or a machine stop
  until ADDR | u ADDR    run until the instruction at ADDR is next
  break ADDR | b ADDR    breakpoint (linear, p:physical or SEL:OFF)
  watch ADDR [r|w|rw] [LEN]  watchpoint on LEN bytes (default: w, 1 byte)
  delete [N] | d [N]     delete breakpoint/watchpoint N, or all
  info break|tlb|idt|gdt|devices, info pagewalk ADDR
  regs [fpu|sse|all] | r full register dump
  x ADDR [N]             dump N bytes (default 64)
  disasm [ADDR] [N]      disassemble N instructions (default 10) from ADDR (default CS:EIP)
  help | h               this text
  quit | q               leave the debugger";

/// Parses one command line.
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else { return Ok(Command::Nothing) };
    let args: Vec<&str> = words.collect();
    let want = |n: usize| -> Result<(), String> {
        if args.len() > n {
            Err(format!("'{verb}' takes at most {n} argument(s); 'help' lists the commands"))
        } else {
            Ok(())
        }
    };
    let need_addr = |i: usize| -> Result<AddrSpec, String> {
        args.get(i).ok_or_else(|| format!("'{verb}' needs an address")).and_then(|a| parse_addr(a))
    };
    let cmd = match verb {
        "step" | "s" | "stepi" | "si" => {
            want(1)?;
            let n = match args.first() {
                Some(a) => parse_count(a)?,
                None => 1,
            };
            if n == 0 {
                return Err("step count must be at least 1".into());
            }
            Command::Step(n)
        }
        "next" | "n" | "nexti" | "ni" => {
            want(0)?;
            Command::Next
        }
        "continue" | "cont" | "c" => {
            want(0)?;
            Command::Continue
        }
        "until" | "u" => {
            want(1)?;
            Command::Until(need_addr(0)?)
        }
        "break" | "b" => {
            want(1)?;
            Command::Break(need_addr(0)?)
        }
        "watch" | "w" => {
            want(3)?;
            let addr = need_addr(0)?;
            let mut kind = WatchKind::Write;
            let mut len = 1;
            for a in &args[1..] {
                match *a {
                    "r" => kind = WatchKind::Read,
                    "w" => kind = WatchKind::Write,
                    "rw" | "wr" => kind = WatchKind::ReadWrite,
                    other => len = parse_count(other)?,
                }
            }
            if len == 0 || len > u32::MAX as u64 {
                return Err("watch length must be 1..=4294967295 bytes".into());
            }
            Command::Watch { addr, kind, len: len as u32 }
        }
        "delete" | "d" => {
            want(1)?;
            match args.first() {
                Some(a) => Command::Delete(Some(parse_count(a)?.try_into().map_err(|_| "no such breakpoint")?)),
                None => Command::Delete(None),
            }
        }
        "info" | "i" => {
            let what = args.first().ok_or("info what? break, tlb, pagewalk ADDR, idt, gdt or devices")?;
            let info = match *what {
                "break" | "b" | "breakpoints" | "watch" => Info::Break,
                "tlb" => Info::Tlb,
                "pagewalk" | "pw" => {
                    want(2)?;
                    Info::PageWalk(parse_addr(args.get(1).ok_or("info pagewalk needs an address")?)?)
                }
                "idt" => Info::Idt,
                "gdt" => Info::Gdt,
                "devices" | "dev" => Info::Devices,
                other => return Err(format!("unknown info '{other}': break, tlb, pagewalk ADDR, idt, gdt, devices")),
            };
            if !matches!(info, Info::PageWalk(_)) {
                want(1)?;
            }
            Command::Info(info)
        }
        "regs" | "r" | "registers" => {
            want(1)?;
            Command::Regs(match args.first().copied() {
                None => RegSet::Core,
                Some("fpu") | Some("x87") => RegSet::Fpu,
                Some("sse") | Some("xmm") => RegSet::Sse,
                Some("all") => RegSet::All,
                Some(other) => return Err(format!("unknown register set '{other}': fpu, sse or all")),
            })
        }
        "x" => {
            want(2)?;
            let count = match args.get(1) {
                Some(a) => parse_count(a)?,
                None => DEFAULT_EXAMINE_BYTES as u64,
            };
            if count == 0 || count > MAX_EXAMINE_BYTES as u64 {
                return Err(format!("x dumps 1..={MAX_EXAMINE_BYTES} bytes"));
            }
            Command::Examine { addr: need_addr(0)?, count: count as u32 }
        }
        "disasm" | "dis" | "disassemble" => {
            want(2)?;
            let (addr, count) = match args.as_slice() {
                [] => (None, None),
                [one] => (Some(parse_addr(one)?), None),
                [a, n] => (Some(parse_addr(a)?), Some(parse_count(n)?)),
                _ => unreachable!("at most two arguments"),
            };
            let count = count.unwrap_or(DEFAULT_DISASM_INSNS as u64);
            if count == 0 || count > MAX_DISASM_INSNS as u64 {
                return Err(format!("disasm shows 1..={MAX_DISASM_INSNS} instructions"));
            }
            Command::Disasm { addr, count: count as u32 }
        }
        "help" | "h" | "?" => Command::Help,
        "quit" | "q" | "exit" => Command::Quit,
        other => return Err(format!("unknown command '{other}'; 'help' lists the commands")),
    };
    Ok(cmd)
}

/// Parses a hex number, with or without `0x`, that fits in 32 bits.
pub fn parse_hex(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 8 {
        return Err(format!("'{s}' is not a 32-bit hex address"));
    }
    u32::from_str_radix(digits, 16).map_err(|_| format!("'{s}' is not a hex address"))
}

/// Parses an address: `HEX`, `p:HEX` or `SEL:OFF`.
pub fn parse_addr(s: &str) -> Result<AddrSpec, String> {
    if let Some(p) = s.strip_prefix("p:").or_else(|| s.strip_prefix("P:")) {
        return parse_hex(p).map(AddrSpec::Phys);
    }
    match s.split_once(':') {
        Some((sel, off)) => {
            let sel = parse_hex(sel)?;
            let sel = u16::try_from(sel).map_err(|_| format!("selector '{sel:X}' is wider than 16 bits"))?;
            Ok(AddrSpec::SegOff(sel, parse_hex(off)?))
        }
        None => parse_hex(s).map(AddrSpec::Linear),
    }
}

/// Parses a count: decimal, or hex with `0x`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    parsed.map_err(|_| format!("'{s}' is not a count (decimal, or hex with 0x)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_addresses() {
        assert_eq!(parse_addr("100020"), Ok(AddrSpec::Linear(0x100020)));
        assert_eq!(parse_addr("0x100020"), Ok(AddrSpec::Linear(0x100020)));
        assert_eq!(parse_addr("p:b8000"), Ok(AddrSpec::Phys(0xB8000)));
        assert_eq!(parse_addr("0008:00100020"), Ok(AddrSpec::SegOff(8, 0x100020)));
        assert_eq!(parse_addr("f000:fff0"), Ok(AddrSpec::SegOff(0xF000, 0xFFF0)));
        assert!(parse_addr("12345:0").is_err());
        assert!(parse_addr("123456789").is_err());
        assert!(parse_addr("zz").is_err());
        assert!(parse_addr("p:").is_err());
        assert!(parse_addr(":").is_err());
    }

    #[test]
    fn test_parse_execution_commands() {
        assert_eq!(parse("step"), Ok(Command::Step(1)));
        assert_eq!(parse("si 10"), Ok(Command::Step(10)));
        assert_eq!(parse("s 0x10"), Ok(Command::Step(16)));
        assert!(parse("step 0").is_err());
        assert!(parse("step lots").is_err());
        assert_eq!(parse("next"), Ok(Command::Next));
        assert_eq!(parse("c"), Ok(Command::Continue));
        assert_eq!(parse("until 100030"), Ok(Command::Until(AddrSpec::Linear(0x100030))));
        assert!(parse("until").is_err());
        assert!(parse("continue now").is_err());
    }

    #[test]
    fn test_parse_breakpoints_and_watchpoints() {
        assert_eq!(parse("break 0x100020"), Ok(Command::Break(AddrSpec::Linear(0x100020))));
        assert_eq!(parse("b p:7c00"), Ok(Command::Break(AddrSpec::Phys(0x7C00))));
        assert_eq!(
            parse("watch 2000"),
            Ok(Command::Watch { addr: AddrSpec::Linear(0x2000), kind: WatchKind::Write, len: 1 })
        );
        assert_eq!(
            parse("watch 2000 rw 4"),
            Ok(Command::Watch { addr: AddrSpec::Linear(0x2000), kind: WatchKind::ReadWrite, len: 4 })
        );
        assert_eq!(
            parse("watch 2000 8 r"),
            Ok(Command::Watch { addr: AddrSpec::Linear(0x2000), kind: WatchKind::Read, len: 8 })
        );
        assert!(parse("watch 2000 0").is_err());
        assert!(parse("watch 2000 x").is_err());
        assert_eq!(parse("delete"), Ok(Command::Delete(None)));
        assert_eq!(parse("d 3"), Ok(Command::Delete(Some(3))));
        assert!(parse("d 99999999999").is_err());
    }

    #[test]
    fn test_parse_inspection_commands() {
        assert_eq!(parse("regs"), Ok(Command::Regs(RegSet::Core)));
        assert_eq!(parse("regs fpu"), Ok(Command::Regs(RegSet::Fpu)));
        assert_eq!(parse("r all"), Ok(Command::Regs(RegSet::All)));
        assert!(parse("regs mmx").is_err());
        assert_eq!(parse("x p:b8000 16"), Ok(Command::Examine { addr: AddrSpec::Phys(0xB8000), count: 16 }));
        assert_eq!(parse("x 1000"), Ok(Command::Examine { addr: AddrSpec::Linear(0x1000), count: 64 }));
        assert!(parse("x").is_err());
        assert!(parse("x 1000 0").is_err());
        assert_eq!(parse("disasm"), Ok(Command::Disasm { addr: None, count: 10 }));
        assert_eq!(
            parse("disasm 0008:100020 3"),
            Ok(Command::Disasm { addr: Some(AddrSpec::SegOff(8, 0x100020)), count: 3 })
        );
        assert_eq!(parse("info tlb"), Ok(Command::Info(Info::Tlb)));
        assert_eq!(parse("info pagewalk c0000000"), Ok(Command::Info(Info::PageWalk(AddrSpec::Linear(0xC000_0000)))));
        assert!(parse("info pagewalk").is_err());
        assert!(parse("info").is_err());
        assert!(parse("info cats").is_err());
        assert!(parse("info gdt extra").is_err());
        assert_eq!(parse("   "), Ok(Command::Nothing));
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
    }
}
