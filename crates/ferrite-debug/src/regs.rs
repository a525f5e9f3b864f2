//! The register dump: general registers, EIP and EFLAGS (with the names of the set
//! flags), segment registers with their hidden base/limit/attributes, the descriptor
//! table registers, CR0/CR2/CR3/CR4, EFER and DR0–DR7; on request the x87 and SSE state
//! ([`format_fpu`], [`format_sse`]); and the registers that changed between two stops
//! ([`RegSnapshot`]).

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
    let _ = writeln!(out, "EFER={:016X}", cpu.efer);
    let _ = writeln!(
        out,
        "DR0={:08X} DR1={:08X} DR2={:08X} DR3={:08X} DR6={:08X} DR7={:08X}",
        cpu.dr[0], cpu.dr[1], cpu.dr[2], cpu.dr[3], cpu.dr[6], cpu.dr[7]
    );
    let _ = writeln!(out, "insns={} halted={}", cpu.insns, cpu.halted);
    out
}

/// The x87 state: control, status (with TOP) and tag words, the last-instruction
/// pointers, and ST(0)–ST(7) as raw 80-bit values with their approximate value.
pub fn format_fpu(cpu: &Cpu) -> String {
    let f = &cpu.fpu;
    let top = (f.sw >> FPU_TOP_SHIFT) & 7;
    let mut out = String::new();
    let _ = writeln!(out, "FCW={:04X} FSW={:04X} (TOP={top}) FTW={:04X} FOP={:03X}", f.cw, f.sw, f.tw, f.fop);
    let _ = writeln!(out, "FIP={:04X}:{:08X} FDP={:04X}:{:08X}", f.fcs, f.fip, f.fds, f.fdp);
    for i in 0..8u16 {
        let phys = ((top + i) & 7) as usize;
        let r = f.regs[phys];
        let tag = ["valid", "zero", "special", "empty"][((f.tw >> (2 * phys)) & 3) as usize];
        let _ = writeln!(out, "ST({i})=R{phys} {:04X}:{:016X} {tag:<7} {}", r.se, r.sig, f80_approx(r.se, r.sig));
    }
    out
}

/// Where TOP sits in the FPU status word.
const FPU_TOP_SHIFT: u16 = 11;
/// The exponent bias of the 80-bit format.
const F80_BIAS: i32 = 16383;
/// The exponent of infinities and NaNs.
const F80_EXP_MAX: u16 = 0x7FFF;

/// An 80-bit value as an approximate decimal (through f64).
fn f80_approx(se: u16, sig: u64) -> String {
    let neg = se & 0x8000 != 0;
    let exp = se & F80_EXP_MAX;
    let sign = if neg { "-" } else { "" };
    if exp == F80_EXP_MAX {
        return if sig << 1 == 0 { format!("{sign}inf") } else { "nan".into() };
    }
    if exp == 0 && sig == 0 {
        return format!("{sign}0");
    }
    let exp = if exp == 0 { 1 - F80_BIAS } else { exp as i32 - F80_BIAS };
    let value = (sig as f64) * 2f64.powi(exp - 63);
    format!("{sign}{value:e}")
}

/// XMM0–XMM7 (as four 32-bit lanes, high lane first) and MXCSR.
pub fn format_sse(cpu: &Cpu) -> String {
    let mut out = String::new();
    for (i, x) in cpu.sse.xmm.iter().enumerate() {
        let lanes: Vec<String> = (0..4).rev().map(|l| format!("{:08X}", (x >> (32 * l)) as u32)).collect();
        let _ = writeln!(out, "XMM{i}={}", lanes.join("_"));
    }
    let _ = writeln!(out, "MXCSR={:08X}", cpu.sse.mxcsr);
    out
}

/// The registers a stop report compares, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegSnapshot {
    values: Vec<(&'static str, u64)>,
}

/// The registers [`RegSnapshot`] records, in report order.
const SNAPSHOT_GPRS: [(&str, Gpr); 8] = [
    ("EAX", Gpr::Eax),
    ("EBX", Gpr::Ebx),
    ("ECX", Gpr::Ecx),
    ("EDX", Gpr::Edx),
    ("ESI", Gpr::Esi),
    ("EDI", Gpr::Edi),
    ("EBP", Gpr::Ebp),
    ("ESP", Gpr::Esp),
];

impl RegSnapshot {
    /// Records the CPU's general, segment and control registers.
    pub fn take(cpu: &Cpu) -> Self {
        let mut values: Vec<(&'static str, u64)> =
            SNAPSHOT_GPRS.iter().map(|&(n, r)| (n, cpu.gpr[r as usize] as u64)).collect();
        values.push(("EIP", cpu.eip as u64));
        values.push(("EFLAGS", cpu.eflags as u64));
        const SEG_NAMES: [&str; 6] = ["ES", "CS", "SS", "DS", "FS", "GS"];
        for s in SegReg::ALL {
            values.push((SEG_NAMES[s as usize], cpu.seg[s as usize].selector as u64));
        }
        values.extend([("CR0", cpu.cr0 as u64), ("CR2", cpu.cr2 as u64), ("CR3", cpu.cr3 as u64)]);
        values.extend([("CR4", cpu.cr4 as u64), ("EFER", cpu.efer)]);
        RegSnapshot { values }
    }

    /// `NAME=OLD->NEW` for every register that differs from `earlier` (EIP excluded: the
    /// stop report shows it with the next instruction); empty when nothing changed.
    pub fn changes_since(&self, earlier: &RegSnapshot) -> String {
        let mut parts = Vec::new();
        for ((name, new), (_, old)) in self.values.iter().zip(&earlier.values) {
            if new != old && *name != "EIP" {
                let width = if name.len() == 2 { 4 } else { 8 };
                parts.push(format!("{name}={old:0width$X}->{new:0width$X}"));
            }
        }
        parts.join(" ")
    }
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
        assert!(text.contains("EFER=0000000000000000"), "{text}");
        assert!(text.contains("DR6=FFFF0FF0 DR7=00000400"), "{text}");
    }

    #[test]
    fn test_fpu_and_sse_dumps() {
        let mut cpu = Cpu::new();
        cpu.fpu.regs[0] = ferrite_cpu::F80 { sig: 1 << 63, se: 0x3FFF }; // 1.0
        cpu.sse.xmm[1] = 0x0000_0001_0000_0002_0000_0003_0000_0004;
        let fpu = format_fpu(&cpu);
        assert!(fpu.contains("ST(0)=R0 3FFF:8000000000000000"), "{fpu}");
        assert!(fpu.contains("1e0"), "{fpu}");
        let sse = format_sse(&cpu);
        assert!(sse.contains("XMM1=00000001_00000002_00000003_00000004"), "{sse}");
        assert!(sse.contains("MXCSR=00001F80"), "{sse}");
        assert_eq!(f80_approx(0xFFFF, 1 << 63), "-inf");
        assert_eq!(f80_approx(0x8000, 0), "-0");
    }

    #[test]
    fn test_snapshot_reports_changed_registers() {
        let mut cpu = Cpu::new();
        let before = RegSnapshot::take(&cpu);
        assert_eq!(RegSnapshot::take(&cpu).changes_since(&before), "");
        cpu.gpr[Gpr::Ecx as usize] = 5;
        cpu.seg[SegReg::Ds as usize].selector = 0x10;
        cpu.eip = 0x1234;
        assert_eq!(RegSnapshot::take(&cpu).changes_since(&before), "ECX=00000000->00000005 DS=0000->0010");
    }
}
