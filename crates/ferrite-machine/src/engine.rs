//! The execution engine a machine runs its CPU with: the interpreter (`Cpu::run`) or the
//! binary translator (`ferrite_jit::Jit::run`), which has the same budget semantics and
//! the same `RunExit` results and falls back to the interpreter instruction by
//! instruction for whatever it does not translate.

use ferrite_cpu::{Cpu, IoBus, RunExit};
use ferrite_jit::{Jit, JitStats};
use ferrite_mem::PhysMem;
use std::io::Write;

/// Which engine executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The interpreter: every mode, any host.
    Interp,
    /// The binary translator (x86-64 hosts only).
    Jit,
}

impl Engine {
    /// The engine a run uses when none is chosen: the translator on x86-64 hosts (it
    /// passes the differential test on every project ROM and kernel), else the
    /// interpreter.
    pub const DEFAULT: Engine = if cfg!(target_arch = "x86_64") { Engine::Jit } else { Engine::Interp };

    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }
}

/// The engine with its state.
pub(crate) enum Runner {
    /// The interpreter keeps all its state in the CPU.
    Interp,
    /// The translator's code buffer and cache.
    Jit(Box<Jit>),
}

impl Runner {
    /// Builds `engine`; the translator may be refused by the host.
    pub(crate) fn new(engine: Engine, dump: Option<Box<dyn Write + Send>>) -> Result<Runner, String> {
        match engine {
            Engine::Interp => Ok(Runner::Interp),
            Engine::Jit => {
                let mut jit = Jit::new().map_err(|e| e.to_string())?;
                jit.set_dump(dump);
                Ok(Runner::Jit(Box::new(jit)))
            }
        }
    }

    /// Runs up to `budget` instructions.
    pub(crate) fn run(
        &mut self,
        cpu: &mut Cpu,
        mem: &mut PhysMem,
        io: &mut dyn IoBus,
        budget: u64,
        exact: bool,
    ) -> RunExit {
        match self {
            Runner::Interp => cpu.run(mem, io, budget),
            Runner::Jit(jit) => {
                jit.set_budget_overrun(!exact);
                jit.run(cpu, mem, io, budget)
            }
        }
    }

    /// Drops translations after a reset (RAM may be reloaded behind code tracking).
    pub(crate) fn reset(&mut self) {
        if let Runner::Jit(jit) = self {
            jit.flush();
        }
    }

    /// The translator's counters, if it is the engine.
    pub(crate) fn jit_stats(&self) -> Option<JitStats> {
        match self {
            Runner::Interp => None,
            Runner::Jit(jit) => Some(jit.stats()),
        }
    }
}
