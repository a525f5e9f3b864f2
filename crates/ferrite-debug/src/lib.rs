//! `ferrite-debug` turns machine state into text for people: a register dump
//! ([`format_registers`]) and a one-instruction disassembly at CS:EIP ([`disassemble_at_pc`])
//! in Intel syntax. [`dump`] combines both; the CLI prints it for `--dump-regs`.
//!
//! Later this crate grows the step debugger, breakpoints, the trace log and the gdb stub.
//! It reads state only; nothing here changes the guest.
#![deny(missing_docs)]

mod disasm;
mod regs;
mod stats;

pub use disasm::{disassemble, disassemble_at_pc, MAX_INSN_LEN};
pub use regs::{flag_names, format_registers};
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
