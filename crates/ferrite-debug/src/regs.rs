//! The register dump: general registers, EIP and EFLAGS (with the names of the set
//! flags), segment registers with their hidden base/limit/attributes, the descriptor
//! table registers and CR0/CR2/CR3/CR4.

use ferrite_cpu::{Cpu, Flags, Gpr, SegReg, Segment};
use std::fmt::Write;

/// Single-bit EFLAGS flags and their names, low bit first.
const FLAG_BITS: [(u32, &str); 16] = [
    (Flags::CF, "CF"),
    (Flags::PF, "PF"),
    (Flags::AF, "AF"),
    (Flags::ZF, "ZF"),
    (Flags::SF, "SF"),
    (Flags::TF, "TF"),
    (Flags::IF, "IF"),
    (Flags::DF, "DF"),
    (Flags::OF, "OF"),
    (Flags::NT, "NT"),
    (Flags::RF, "RF"),
    (Flags::VM, "VM"),
    (Flags::AC, "AC"),
    (Flags::VIF, "VIF"),
    (Flags::VIP, "VIP"),
    (Flags::ID, "ID"),
];
/// Where IOPL sits in EFLAGS.
const IOPL_SHIFT: u32 = 12;

/// The names of the flags set in `eflags`, space-separated, with `IOPL=n` when non-zero.
pub fn flag_names(eflags: u32) -> String {
    let mut names: Vec<String> =
        FLAG_BITS.iter().filter(|(bit, _)| eflags & bit != 0).map(|(_, name)| name.to_string()).collect();
    let iopl = (eflags & Flags::IOPL) >> IOPL_SHIFT;
    if iopl != 0 {
        names.push(format!("IOPL={iopl}"));
    }
    names.join(" ")
}

fn seg_line(out: &mut String, name: &str, s: &Segment) {
    let _ =
        writeln!(out, "{name:<4}={:04X} base={:08X} limit={:08X} attrs={:04X}", s.selector, s.base, s.limit, s.attrs);
}

/// A multi-line dump of the CPU's registers.
pub fn format_registers(cpu: &Cpu) -> String {
    let g = |r: Gpr| cpu.gpr[r as usize];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "EAX={:08X} EBX={:08X} ECX={:08X} EDX={:08X}",
        g(Gpr::Eax),
        g(Gpr::Ebx),
        g(Gpr::Ecx),
        g(Gpr::Edx)
    );
    let _ = writeln!(
        out,
        "ESI={:08X} EDI={:08X} EBP={:08X} ESP={:08X}",
        g(Gpr::Esi),
        g(Gpr::Edi),
        g(Gpr::Ebp),
        g(Gpr::Esp)
    );
    let _ = writeln!(out, "EIP={:08X} EFLAGS={:08X} [{}]", cpu.eip, cpu.eflags, flag_names(cpu.eflags));
    for s in SegReg::ALL {
        seg_line(&mut out, &s.name().to_uppercase(), &cpu.seg[s as usize]);
    }
    seg_line(&mut out, "LDTR", &cpu.ldtr);
    seg_line(&mut out, "TR", &cpu.tr);
    let _ = writeln!(
        out,
        "GDTR base={:08X} limit={:04X}  IDTR base={:08X} limit={:04X}",
        cpu.gdtr.base, cpu.gdtr.limit, cpu.idtr.base, cpu.idtr.limit
    );
    let _ = writeln!(out, "CR0={:08X} CR2={:08X} CR3={:08X} CR4={:08X}", cpu.cr0, cpu.cr2, cpu.cr3, cpu.cr4);
    let _ = writeln!(out, "insns={} halted={}", cpu.insns, cpu.halted);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_flag_names() {
        assert_eq!(flag_names(Flags::FIXED1), "");
        assert_eq!(flag_names(Flags::FIXED1 | Flags::CF | Flags::ZF | Flags::IF), "CF ZF IF");
        assert_eq!(flag_names(Flags::IOPL | Flags::VM), "VM IOPL=3");
    }

    #[test]
    fn test_register_dump_of_reset_cpu() {
        let mut cpu = Cpu::new();
        cpu.gpr[Gpr::Eax as usize] = 0x1234_5678;
        let text = format_registers(&cpu);
        assert!(text.contains("EAX=12345678"), "{text}");
        assert!(text.contains("EIP=0000FFF0 EFLAGS=00000002 []"), "{text}");
        assert!(text.contains("CS  =F000 base=FFFF0000 limit=0000FFFF attrs=009B"), "{text}");
        assert!(text.contains("CR0=60000010"), "{text}");
        assert!(text.contains("IDTR base=00000000 limit=03FF"), "{text}");
    }
}
