//! Guest memory as a debugger sees it: addresses resolved from the command language
//! ([`AddrSpec`]), reads and writes by linear address through the guest's page tables
//! (with [`Cpu::translate_debug`], so nothing in the guest changes but the bytes written),
//! and segment bases for `SEL:OFF` addresses.

use crate::commands::AddrSpec;
use ferrite_cpu::descriptor::Descriptor;
use ferrite_cpu::{Cpu, Flags, SegReg};
use ferrite_mem::PhysMem;

/// Size of a page: translations are done once per page.
const PAGE_SIZE: u32 = 0x1000;
/// Size of one GDT/LDT entry.
const DESCRIPTOR_SIZE: u32 = 8;
/// The table-indicator bit of a selector (1 = LDT).
const SELECTOR_TI: u16 = 4;

/// An address resolved to one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A linear address (translated page by page when paging is on).
    Linear(u32),
    /// A physical address.
    Phys(u32),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Linear(a) => write!(f, "{a:08X}"),
            Place::Phys(a) => write!(f, "p:{a:08X}"),
        }
    }
}

/// The linear base of the segment `selector` names: the cached base of a loaded segment
/// register holding it, else as the CPU would load it now.
pub fn segment_base(cpu: &Cpu, mem: &PhysMem, selector: u16) -> Result<u32, String> {
    // A loaded segment register's cached base wins (CS first): at reset CS is F000 with
    // base FFFF0000, not F0000.
    let loaded = [SegReg::Cs, SegReg::Ds, SegReg::Ss, SegReg::Es, SegReg::Fs, SegReg::Gs];
    if let Some(s) = loaded.iter().map(|&s| cpu.seg[s as usize]).find(|s| s.selector == selector) {
        return Ok(s.base);
    }
    if !cpu.protected_mode() || cpu.eflags & Flags::VM != 0 {
        return Ok((selector as u32) << 4);
    }
    let (table_base, table_limit) =
        if selector & SELECTOR_TI != 0 { (cpu.ldtr.base, cpu.ldtr.limit) } else { (cpu.gdtr.base, cpu.gdtr.limit) };
    let offset = (selector & !7) as u32;
    if selector & !3 == 0 || offset + DESCRIPTOR_SIZE - 1 > table_limit {
        return Err(format!("selector {selector:04X} is outside its descriptor table"));
    }
    let mut raw = [0u8; DESCRIPTOR_SIZE as usize];
    read_linear(cpu, mem, table_base.wrapping_add(offset), &mut raw)?;
    Ok(Descriptor::new(u64::from_le_bytes(raw)).base())
}

/// Resolves a command-language address.
pub fn resolve(cpu: &Cpu, mem: &PhysMem, spec: AddrSpec) -> Result<Place, String> {
    Ok(match spec {
        AddrSpec::Linear(a) => Place::Linear(a),
        AddrSpec::Phys(a) => Place::Phys(a),
        AddrSpec::SegOff(sel, off) => Place::Linear(segment_base(cpu, mem, sel)?.wrapping_add(off)),
    })
}

/// The physical address of linear `addr`, or an error naming it when it is not mapped.
pub fn linear_to_phys(cpu: &Cpu, mem: &PhysMem, addr: u32) -> Result<u32, String> {
    cpu.translate_debug(mem, addr).phys.ok_or_else(|| format!("linear {addr:08X} is not mapped"))
}

/// Reads `buf.len()` bytes at `place`.
pub fn read(cpu: &Cpu, mem: &PhysMem, place: Place, buf: &mut [u8]) -> Result<(), String> {
    match place {
        Place::Phys(a) => {
            mem.read_bytes(a, buf);
            Ok(())
        }
        Place::Linear(a) => read_linear(cpu, mem, a, buf),
    }
}

/// Reads bytes at a linear address, page by page through the guest's tables.
pub fn read_linear(cpu: &Cpu, mem: &PhysMem, addr: u32, buf: &mut [u8]) -> Result<(), String> {
    let mut done = 0usize;
    while done < buf.len() {
        let lin = addr.wrapping_add(done as u32);
        let phys = linear_to_phys(cpu, mem, lin)?;
        let in_page = (PAGE_SIZE - (lin & (PAGE_SIZE - 1))) as usize;
        let n = in_page.min(buf.len() - done);
        mem.read_bytes(phys, &mut buf[done..done + n]);
        done += n;
    }
    Ok(())
}

/// Writes bytes at a linear address, page by page through the guest's tables. Every page
/// is translated before anything is written, so a failed write changes nothing.
pub fn write_linear(cpu: &Cpu, mem: &mut PhysMem, addr: u32, data: &[u8]) -> Result<(), String> {
    let mut chunks = Vec::new();
    let mut done = 0usize;
    while done < data.len() {
        let lin = addr.wrapping_add(done as u32);
        let phys = linear_to_phys(cpu, mem, lin)?;
        let in_page = (PAGE_SIZE - (lin & (PAGE_SIZE - 1))) as usize;
        let n = in_page.min(data.len() - done);
        chunks.push((phys, done, n));
        done += n;
    }
    for (phys, at, n) in chunks {
        mem.write_bytes(phys, &data[at..at + n]);
    }
    Ok(())
}

/// A hex dump: 16 bytes a line, address, hex and printable ASCII.
pub fn hex_dump(start: Place, bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let at = match start {
            Place::Linear(a) => Place::Linear(a.wrapping_add(i as u32 * 16)),
            Place::Phys(a) => Place::Phys(a.wrapping_add(i as u32 * 16)),
        };
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02X}")).collect();
        let ascii: String = line.iter().map(|&b| if (0x20..0x7F).contains(&b) { b as char } else { '.' }).collect();
        out.push_str(&format!("{at:>10}  {:<47}  {ascii}\n", hex.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_real_mode_segment_base_and_reads() {
        let cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(0x1234, b"hello");
        assert_eq!(segment_base(&cpu, &mem, 0x0100), Ok(0x1000));
        let place = resolve(&cpu, &mem, AddrSpec::SegOff(0x0100, 0x234)).unwrap();
        assert_eq!(place, Place::Linear(0x1234));
        let mut buf = [0u8; 5];
        read(&cpu, &mem, place, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        write_linear(&cpu, &mut mem, 0x1234, b"J").unwrap();
        assert_eq!(mem.read_u8(0x1234), b'J');
    }

    #[test]
    fn test_unmapped_linear_read_is_an_error() {
        let mut cpu = Cpu::new();
        let mem = PhysMem::new(1 << 20).unwrap();
        cpu.cr0 |= 0x8000_0001;
        cpu.cr3 = 0x2000; // an all-zero page directory
        let err = read_linear(&cpu, &mem, 0x40_0000, &mut [0u8; 4]).unwrap_err();
        assert_eq!(err, "linear 00400000 is not mapped");
    }

    #[test]
    fn test_hex_dump_layout() {
        let text = hex_dump(Place::Phys(0x10), b"AB\x00");
        assert_eq!(text.trim_end(), format!("p:00000010  41 42 00{}  AB.", " ".repeat(39)).trim_end());
    }
}
