//! `ferrite-debug` is ferrite's debugger. It turns machine state into text for people — a
//! register dump ([`format_registers`], [`format_fpu`], [`format_sse`]), disassembly in
//! Intel syntax ([`disassemble_at_pc`]); [`dump`] combines them for `--dump-regs` — and it
//! drives a [`ferrite_machine::Machine`] for the three ways of debugging a guest:
//!
//! - [`repl`]: `ferrite debug`, the step-debugger command line ([`commands`] parses it);
//! - [`trace`]: `--trace FILE`, one line per executed instruction;
//! - [`gdb`]: `--gdb PORT`, the GDB remote serial protocol (i386 target description).
//!
//! All three go through [`session::Session`], which owns the breakpoints and runs the
//! machine with [`ferrite_machine::Machine::run_for`]. Breakpoints and watchpoints are the
//! CPU's host hooks, which every engine honours; devices never call into the debugger.
#![deny(missing_docs)]

pub mod commands;
mod disasm;
pub mod gdb;
pub mod info;
mod regs;
pub mod repl;
pub mod session;
mod stats;
pub mod trace;
pub mod vmem;

pub use disasm::{decode, disassemble, disassemble_at_pc, disassemble_lines, format_pc, MAX_INSN_LEN};
pub use regs::{flag_names, format_fpu, format_registers, format_sse, RegSnapshot};
pub use stats::format_stats;

use ferrite_cpu::Cpu;
use ferrite_mem::PhysMem;

/// The register dump followed by the instruction at CS:EIP.
pub fn dump(cpu: &Cpu, mem: &PhysMem) -> String {
    let mut s = format_registers(cpu);
    s.push_str("next: ");
    s.push_str(&disassemble_at_pc(cpu, mem));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_dump_has_registers_and_next_instruction() {
        let cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        let mut bios = vec![0u8; 64 * 1024];
        bios[0xFFF0] = 0xF4; // hlt
        mem.load_bios(&bios).unwrap();
        let text = dump(&cpu, &mem);
        assert!(text.contains("EIP=0000FFF0"), "{text}");
        assert!(text.contains("next: F000:FFF0  F4"), "{text}");
        assert!(text.trim_end().ends_with("hlt"), "{text}");
    }
}
