//! One-instruction disassembly at CS:EIP in Intel syntax, via iced-x86.
//!
//! Bytes are read at the linear address CS.base + EIP, through the guest's page tables
//! when paging is on (a side-effect-free walk); an unmapped address is said to be so
//! instead of showing bytes from the wrong place. [`disassemble_lines`] lists several
//! instructions from any address for the debugger's `disasm`.

use crate::vmem::{self, Place};
use ferrite_cpu::{Cpu, SegReg};
use ferrite_mem::PhysMem;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

/// The longest x86 instruction.
pub const MAX_INSN_LEN: usize = 15;

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

/// Decodes the instruction at `ip` in `bytes` (iced's invalid instruction if none).
pub fn decode(bytes: &[u8], ip: u32, code32: bool) -> Instruction {
    let bitness = if code32 { 32 } else { 16 };
    Decoder::with_ip(bitness, bytes, ip as u64, DecoderOptions::NONE).decode()
}

/// Reads up to [`MAX_INSN_LEN`] bytes at `place`; an unmapped linear page ends the read
/// early (the error when not even the first byte can be read).
pub fn fetch(cpu: &Cpu, mem: &PhysMem, place: Place) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; MAX_INSN_LEN];
    if vmem::read(cpu, mem, place, &mut bytes).is_ok() {
        return Ok(bytes);
    }
    // Crossing into an unmapped page: keep what the first page holds.
    let Place::Linear(addr) = place else { return Err("physical address unreadable".into()) };
    let first = (0x1000 - (addr & 0xFFF)) as usize;
    bytes.truncate(first.min(MAX_INSN_LEN));
    vmem::read(cpu, mem, place, &mut bytes)?;
    Ok(bytes)
}

/// `ADDR  BYTES  instruction` for one instruction; also its length (at least 1).
fn line_at(label: &str, bytes: &[u8], ip: u32, code32: bool) -> (String, usize) {
    let (len, text) = disassemble(bytes, ip, code32);
    let shown = len.max(1).min(bytes.len());
    let hex: Vec<String> = bytes[..shown].iter().map(|b| format!("{b:02X}")).collect();
    (format!("{label}  {:<20} {text}", hex.join(" ")), len.max(1))
}

/// `CS:EIP` formatted as the summary line does: EIP in 4 digits for 16-bit code.
pub fn format_pc(cpu: &Cpu) -> String {
    let cs = cpu.seg[SegReg::Cs as usize].selector;
    if cpu.code32() {
        format!("{cs:04X}:{:08X}", cpu.eip)
    } else {
        format!("{cs:04X}:{:04X}", cpu.eip)
    }
}

/// `CS:EIP  BYTES  instruction` for the instruction the CPU would execute next.
pub fn disassemble_at_pc(cpu: &Cpu, mem: &PhysMem) -> String {
    let at = format_pc(cpu);
    match fetch(cpu, mem, Place::Linear(cpu.pc_linear())) {
        Ok(bytes) => line_at(&at, &bytes, cpu.eip, cpu.code32()).0,
        Err(e) => format!("{at}  ({e})"),
    }
}

/// `count` instructions from `place`, decoded as 32-bit code when `code32`. Lines are
/// labelled with the address (`p:` for physical); decoding stops at an unmapped page.
pub fn disassemble_lines(cpu: &Cpu, mem: &PhysMem, place: Place, code32: bool, count: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut at = place;
    for _ in 0..count {
        let (addr, label) = match at {
            Place::Linear(a) => (a, format!("{a:08X}")),
            Place::Phys(a) => (a, format!("p:{a:08X}")),
        };
        let bytes = match fetch(cpu, mem, at) {
            Ok(b) => b,
            Err(e) => {
                lines.push(format!("{label}  ({e})"));
                break;
            }
        };
        let (line, len) = line_at(&label, &bytes, addr, code32);
        lines.push(line);
        let next = addr.wrapping_add(len as u32);
        at = match at {
            Place::Linear(_) => Place::Linear(next),
            Place::Phys(_) => Place::Phys(next),
        };
    }
    lines
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

    #[test]
    fn test_disassemble_lines_and_unmapped_pc() {
        let mut cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(0x1000, &[0x90, 0xB8, 1, 0, 0, 0, 0xF4]);
        let lines = disassemble_lines(&cpu, &mem, Place::Phys(0x1000), true, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("p:00001000  90") && lines[0].ends_with("nop"), "{lines:?}");
        assert!(lines[1].ends_with("mov eax,1"), "{lines:?}");
        assert!(lines[2].starts_with("p:00001006") && lines[2].ends_with("hlt"), "{lines:?}");
        cpu.cr0 |= 0x8000_0001;
        cpu.cr3 = 0x2000;
        let line = disassemble_at_pc(&cpu, &mem);
        assert!(line.contains("linear FFFFFFF0 is not mapped"), "{line}");
    }
}
