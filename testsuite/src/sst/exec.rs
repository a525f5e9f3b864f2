//! Running one single-step test on ferrite's CPU.
//!
//! A [`Worker`] owns one CPU and one 16 MiB guest memory and reuses both for every test it
//! runs: the CPU is reset (which also drops its decoded blocks) and only the bytes a test
//! touched are cleared afterwards, so no test pays for mapping fresh memory.

use super::compare::{compare, Diff, Masks, Observed};
use super::format::{Reg, TestCase, REG_COUNT};
use super::skips;
use ferrite_cpu::{Cpu, Flags, Gpr, NullBus, RunExit, SegReg, Segment};
use ferrite_mem::PhysMem;
use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The 286's physical address space: 24 address lines, all RAM in the tests.
pub const GUEST_RAM_BYTES: usize = 16 * 1024 * 1024;

/// Instructions a test may retire before it counts as "no HLT". One instruction plus its
/// HLT is normal; an exception adds the HLT at the handler; a REP string instruction
/// with CX up to 65535 retires once per 4096 iterations.
pub const DEFAULT_BUDGET: u64 = 1000;

/// Why a test failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The state differed; the differences, in register-then-memory order.
    Mismatch(Vec<Diff>),
    /// The CPU did not reach a HLT within the budget.
    NoHalt {
        /// How the run ended.
        exit: String,
        /// Where it was.
        cs_ip: (u16, u32),
    },
    /// The CPU shut down (triple fault).
    TripleFault,
    /// The emulator panicked.
    Panic(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Mismatch(diffs) => {
                for (i, d) in diffs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
            Failure::NoHalt { exit, cs_ip: (cs, ip) } => write!(f, "no HLT ({exit} at {cs:04x}:{ip:04x})"),
            Failure::TripleFault => f.write_str("triple fault"),
            Failure::Panic(msg) => write!(f, "panic: {msg}"),
        }
    }
}

thread_local! {
    /// Set while a worker runs a test, so the panic hook records instead of printing.
    static CATCHING: RefCell<bool> = const { RefCell::new(false) };
    /// The message and location of the last panic caught on this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once per process) a panic hook that records panics raised inside a test
/// instead of printing a backtrace for each, and defers to the default hook elsewhere.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| *c.borrow()) {
                let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                    (*s).to_string()
                } else if let Some(s) = info.payload().downcast_ref::<String>() {
                    s.clone()
                } else {
                    "(non-string payload)".to_string()
                };
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                default(info);
            }
        }));
    });
}

/// One thread's CPU and guest memory.
pub struct Worker {
    cpu: Cpu,
    mem: PhysMem,
    budget: u64,
}

/// The CPU's general register for each [`Reg`] that is one.
fn gpr_of(reg: Reg) -> Option<Gpr> {
    Some(match reg {
        Reg::Ax => Gpr::Eax,
        Reg::Bx => Gpr::Ebx,
        Reg::Cx => Gpr::Ecx,
        Reg::Dx => Gpr::Edx,
        Reg::Sp => Gpr::Esp,
        Reg::Bp => Gpr::Ebp,
        Reg::Si => Gpr::Esi,
        Reg::Di => Gpr::Edi,
        _ => return None,
    })
}

/// The CPU's segment register for each [`Reg`] that is one.
fn seg_of(reg: Reg) -> Option<SegReg> {
    Some(match reg {
        Reg::Cs => SegReg::Cs,
        Reg::Ss => SegReg::Ss,
        Reg::Ds => SegReg::Ds,
        Reg::Es => SegReg::Es,
        _ => return None,
    })
}

impl Worker {
    /// A worker with fresh 16 MiB guest memory; `budget` as in [`DEFAULT_BUDGET`].
    pub fn new(budget: u64) -> Result<Worker, String> {
        install_panic_hook();
        let mem = PhysMem::new(GUEST_RAM_BYTES).map_err(|e| format!("cannot map guest memory: {e}"))?;
        Ok(Worker { cpu: Cpu::new(), mem, budget })
    }

    /// Runs one test and compares the result; `Ok(())` when it passed.
    pub fn run(&mut self, test: &TestCase, masks: &Masks) -> Result<(), Failure> {
        CATCHING.with(|c| *c.borrow_mut() = true);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.run_inner(test, masks)));
        CATCHING.with(|c| *c.borrow_mut() = false);
        let result = match outcome {
            Ok(r) => r,
            Err(_) => {
                let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown panic".into());
                // The CPU may be half-updated; start the next test from a clean one.
                self.cpu = Cpu::new();
                Err(Failure::Panic(msg))
            }
        };
        self.clear_touched(test);
        result
    }

    /// Puts the CPU in the test's real-mode initial state and loads its memory.
    fn load(&mut self, test: &TestCase) {
        let cpu = &mut self.cpu;
        cpu.reset();
        cpu.gpr = [0; 8];
        for s in SegReg::ALL {
            cpu.seg[s as usize] = Segment::real_mode(0);
        }
        // Real-mode code segment: base = selector × 16, 64 KiB limit, present code.
        cpu.seg[SegReg::Cs as usize].attrs = CODE_SEGMENT_ATTRS;
        for reg in Reg::ALL {
            let v = test.initial[reg as usize];
            if let Some(g) = gpr_of(reg) {
                cpu.set_reg16(g, v);
            } else if let Some(s) = seg_of(reg) {
                cpu.load_seg_real(s, v);
            }
        }
        cpu.eip = test.initial[Reg::Ip as usize] as u32;
        cpu.eflags = test.initial[Reg::Flags as usize] as u32 | Flags::FIXED1;
        self.mem.forget_code();
        for &(addr, byte) in &test.initial_ram {
            self.mem.write_u8(addr, byte);
        }
        for (from, to) in vector_aliases(test) {
            for i in 0..IVT_ENTRY_BYTES {
                let b = self.mem.read_u8(from + i);
                self.mem.write_u8(to + i, b);
            }
        }
    }

    fn run_inner(&mut self, test: &TestCase, masks: &Masks) -> Result<(), Failure> {
        self.load(test);
        let exit = self.cpu.run(&mut self.mem, &mut NullBus, self.budget);
        match exit {
            RunExit::Halted => {}
            _ if self.cpu.halted => {}
            RunExit::TripleFault => return Err(Failure::TripleFault),
            other => {
                let cs = self.cpu.seg[SegReg::Cs as usize].selector;
                return Err(Failure::NoHalt { exit: format!("{other:?}"), cs_ip: (cs, self.cpu.eip) });
            }
        }
        let observed = self.observe();
        let mem = &self.mem;
        let diffs = compare(test, masks, &observed, |a| mem.read_u8(a));
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(Failure::Mismatch(diffs))
        }
    }

    /// The CPU's registers in [`Reg`] order.
    fn observe(&self) -> Observed {
        let mut out = [0u32; REG_COUNT];
        for reg in Reg::ALL {
            out[reg as usize] = if let Some(g) = gpr_of(reg) {
                self.cpu.gpr[g as usize]
            } else if let Some(s) = seg_of(reg) {
                self.cpu.seg[s as usize].selector as u32
            } else if reg == Reg::Ip {
                self.cpu.eip
            } else {
                self.cpu.eflags
            };
        }
        out
    }

    /// Zeroes every byte the test loaded or expected, so the next test starts from zeroed
    /// memory without remapping 16 MiB.
    fn clear_touched(&mut self, test: &TestCase) {
        for &(addr, _) in test.initial_ram.iter().chain(&test.final_ram) {
            self.mem.write_u8(addr, 0);
        }
        for (_, to) in vector_aliases(test) {
            for i in 0..IVT_ENTRY_BYTES {
                self.mem.write_u8(to + i, 0);
            }
        }
    }
}

/// Bytes per real-mode interrupt vector (offset, segment).
const IVT_ENTRY_BYTES: u32 = 4;

/// The IVT entries to copy for this test, as (from, to) physical addresses: for each
/// [`skips::VECTOR_ALIASES`] pair whose 286 vector the test raised, unless the test
/// itself loads the P6 vector's entry.
fn vector_aliases(test: &TestCase) -> impl Iterator<Item = (u32, u32)> + '_ {
    let raised = test.exception.map(|e| e.number);
    skips::VECTOR_ALIASES.iter().filter(move |(v286, _)| raised == Some(*v286)).filter_map(move |&(v286, vp6)| {
        let (from, to) = (v286 as u32 * IVT_ENTRY_BYTES, vp6 as u32 * IVT_ENTRY_BYTES);
        let listed = test.initial_ram.iter().any(|(a, _)| (to..to + IVT_ENTRY_BYTES).contains(a));
        (!listed).then_some((from, to))
    })
}

/// Access byte of a real-mode code segment: present, code, readable, accessed.
const CODE_SEGMENT_ATTRS: u16 = 0x9B;
