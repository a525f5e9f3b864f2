//! One-instruction disassembly at CS:EIP in Intel syntax, via iced-x86.
//!
//! Bytes are read from physical memory at CS.base + EIP. With paging on that linear
//! address is not translated (the debugger does not walk page tables yet), so the dump
//! says so instead of showing bytes from the wrong place.

use ferrite_cpu::{Cpu, SegReg};
use ferrite_mem::PhysMem;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

/// The longest x86 instruction.
pub const MAX_INSN_LEN: usize = 15;
/// CR0.PG: paging enabled.
const CR0_PG: u32 = 1 << 31;

/// Disassembles the one instruction in `bytes` (decoded at `ip` as 16- or 32-bit code):
/// its length and its Intel-syntax text. Undecodable bytes give `(0, "(bad)")`.
pub fn disassemble(bytes: &[u8], ip: u32, code32: bool) -> (usize, String) {
    let bitness = if code32 { 32 } else { 16 };
    let mut decoder = Decoder::with_ip(bitness, bytes, ip as u64, DecoderOptions::NONE);
    let ins = decoder.decode();
    if ins.is_invalid() {
        return (0, "(bad)".to_string());
    }
    let mut text = String::new();
    IntelFormatter::new().format(&ins, &mut text);
    (ins.len(), text)
}

/// `CS:EIP  BYTES  instruction` for the instruction the CPU would execute next.
pub fn disassemble_at_pc(cpu: &Cpu, mem: &PhysMem) -> String {
    let cs = cpu.seg[SegReg::Cs as usize].selector;
    let code32 = cpu.code32();
    let at = if code32 { format!("{cs:04X}:{:08X}", cpu.eip) } else { format!("{cs:04X}:{:04X}", cpu.eip) };
    if cpu.cr0 & CR0_PG != 0 {
        return format!("{at}  (paging on: linear {:08X} not translated)", cpu.pc_linear());
    }
    let mut bytes = [0u8; MAX_INSN_LEN];
    mem.read_bytes(cpu.pc_linear(), &mut bytes);
    let (len, text) = disassemble(&bytes, cpu.eip, code32);
    let shown = if len == 0 { 1 } else { len };
    let hex: Vec<String> = bytes[..shown].iter().map(|b| format!("{b:02X}")).collect();
    format!("{at}  {:<20} {text}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_disassemble_16_and_32_bit() {
        assert_eq!(disassemble(&[0xB0, 0x41], 0, false), (2, "mov al,41h".to_string()));
        assert_eq!(disassemble(&[0xB8, 1, 0, 0, 0], 0, true), (5, "mov eax,1".to_string()));
        let (len, text) = disassemble(&[0xEA, 0x00, 0x01, 0x00, 0xF0], 0xFFF0, false);
        assert_eq!(len, 5);
        assert!(text.starts_with("jmp far"), "{text}");
    }

    #[test]
    fn test_disassemble_bad_bytes() {
        assert_eq!(disassemble(&[0x0F], 0, false), (0, "(bad)".to_string()));
    }

    #[test]
    fn test_disassemble_at_pc_reads_reset_vector() {
        let cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        let mut bios = vec![0u8; 64 * 1024];
        bios[0xFFF0..0xFFF2].copy_from_slice(&[0xB0, 0x41]);
        mem.load_bios(&bios).unwrap();
        let line = disassemble_at_pc(&cpu, &mem);
        assert!(line.starts_with("F000:FFF0  B0 41"), "{line}");
        assert!(line.ends_with("mov al,41h"), "{line}");
    }
}
