//! The debugger's `info` reports: breakpoints, the shadow MMU (soft TLB and the guest page
//! walk for one address), the descriptor tables and the board's devices.

use crate::session::Point;
use crate::vmem;
use ferrite_cpu::debug_walk::pte_bits;
use ferrite_cpu::descriptor::Descriptor;
use ferrite_cpu::soft_tlb::{TAG_INVALID, TLB_ENTRIES};
use ferrite_cpu::Cpu;
use ferrite_machine::DeviceInfo;
use ferrite_mem::PhysMem;
use std::fmt::Write;

/// Size of a protected-mode descriptor (GDT or IDT entry).
const DESC_SIZE: u32 = 8;
/// Size of a real-mode IVT entry.
const IVT_ENTRY_SIZE: u32 = 4;
/// The most table entries a report lists.
const MAX_ENTRIES: u32 = 256;
/// The D/B bit in [`Descriptor::flags`].
const FLAGS_DB: u8 = 0x40;
/// Access-byte bit S: code/data (1) or system (0) descriptor.
const ACCESS_S: u8 = 0x10;

/// The numbered breakpoints and watchpoints.
pub fn format_points(points: &[(u32, Point)]) -> String {
    if points.is_empty() {
        return "no breakpoints or watchpoints\n".into();
    }
    points.iter().map(|(id, p)| format!("{id:>3}  {p}\n")).collect()
}

/// The valid soft-TLB entries: privilege class, linear page → physical page, and which
/// accesses hit without a walk.
pub fn format_tlb(cpu: &Cpu) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "soft TLB: {TLB_ENTRIES} entries x 2 classes; paging {} (fills={} guest #PF={} flushes={})",
        if cpu.cr0 & (1 << 31) != 0 { "on" } else { "off" },
        cpu.mmu_stats.tlb_fills,
        cpu.mmu_stats.guest_page_faults,
        cpu.mmu_stats.flushes
    );
    let mut shown = 0;
    for (class, entries) in cpu.tlb.entries.iter().enumerate() {
        for (slot, e) in entries.iter().enumerate() {
            let tags = [e.read_tag, e.write_tag, e.exec_tag];
            let Some(&page) = tags.iter().find(|&&t| t != TAG_INVALID) else { continue };
            let flag = |t: u32, c: char| if t == page { c } else { '-' };
            let _ = writeln!(
                out,
                "  {} slot {slot:3}: {page:08X} -> {:08X} {}{}{}{}",
                if class == 0 { "sup " } else { "user" },
                page.wrapping_add(e.addend),
                flag(e.read_tag, 'r'),
                flag(e.write_tag, 'w'),
                flag(e.exec_tag, 'x'),
                if e.global != 0 { " global" } else { "" }
            );
            shown += 1;
        }
    }
    if shown == 0 {
        out.push_str("  (empty)\n");
    }
    out
}

/// Names the bits set in a paging-structure entry.
fn pte_flags(v: u64) -> String {
    let names = [
        (pte_bits::PRESENT, "P"),
        (pte_bits::WRITABLE, "W"),
        (pte_bits::USER, "U"),
        (pte_bits::ACCESSED, "A"),
        (pte_bits::DIRTY, "D"),
        (pte_bits::LARGE, "PS"),
        (pte_bits::GLOBAL, "G"),
        (pte_bits::NO_EXECUTE, "NX"),
    ];
    names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

/// How linear `addr` maps: each paging-structure entry read, the result, and what the
/// soft TLB holds for the page in each privilege class.
pub fn format_pagewalk(cpu: &Cpu, mem: &PhysMem, addr: u32) -> String {
    let mut out = String::new();
    let walk = cpu.translate_debug(mem, addr);
    if walk.levels.is_empty() {
        let _ = writeln!(out, "paging is off: linear {addr:08X} = physical {addr:08X}");
    } else {
        let mode = if cpu.cr4 & (1 << 5) != 0 { "PAE" } else { "32-bit" };
        let _ = writeln!(out, "{mode} paging, CR3={:08X}, linear {addr:08X}:", cpu.cr3);
        for l in &walk.levels {
            let _ = writeln!(out, "  {:<5} at p:{:08X} = {:016X} [{}]", l.name, l.addr, l.value, pte_flags(l.value));
        }
        match walk.phys {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  -> physical {p:08X} ({} KiB page, {}{}{})",
                    walk.page_size / 1024,
                    if walk.writable { "writable" } else { "read-only" },
                    if walk.user { ", user" } else { ", supervisor" },
                    if walk.no_execute { ", no-execute" } else { "" }
                );
            }
            None => {
                let _ = writeln!(out, "  -> not present: an access raises #PF");
            }
        }
    }
    for (class, name) in [(false, "supervisor"), (true, "user")] {
        let e = cpu.tlb.entry(addr, class);
        let page = addr & !0xFFF;
        let hits: String = [(e.read_tag, 'r'), (e.write_tag, 'w'), (e.exec_tag, 'x')]
            .iter()
            .map(|&(t, c)| if t == page { c } else { '-' })
            .collect();
        if hits == "---" {
            let _ = writeln!(out, "  soft TLB ({name}): no entry; the next access walks the tables");
        } else {
            let _ = writeln!(out, "  soft TLB ({name}): {page:08X} -> {:08X} {hits}", page.wrapping_add(e.addend));
        }
    }
    out
}

/// Describes one protected-mode descriptor.
fn describe(d: &Descriptor) -> String {
    if !d.present() {
        return "not present".into();
    }
    if d.access() & ACCESS_S != 0 {
        let kind = if d.is_code() { "code" } else { "data" };
        let bits = if d.flags() & FLAGS_DB != 0 { 32 } else { 16 };
        return format!(
            "{kind}{bits} base={:08X} limit={:08X} dpl={} access={:02X}",
            d.base(),
            d.limit(),
            d.dpl(),
            d.access()
        );
    }
    let raw = d.raw;
    let offset = (raw & 0xFFFF) as u32 | ((raw >> 48) as u32) << 16;
    let selector = (raw >> 16) as u16;
    let gate = |name: &str| format!("{name} {selector:04X}:{offset:08X} dpl={}", d.dpl());
    match d.system_type() {
        0x1 | 0x3 => format!("tss16 base={:08X} limit={:08X}{}", d.base(), d.limit(), busy(d)),
        0x9 | 0xB => format!("tss32 base={:08X} limit={:08X}{}", d.base(), d.limit(), busy(d)),
        0x2 => format!("ldt base={:08X} limit={:08X}", d.base(), d.limit()),
        0x4 => gate("call-gate16"),
        0xC => gate("call-gate32"),
        0x5 => format!("task-gate tss={selector:04X} dpl={}", d.dpl()),
        0x6 => gate("int-gate16"),
        0x7 => gate("trap-gate16"),
        0xE => gate("int-gate32"),
        0xF => gate("trap-gate32"),
        t => format!("reserved system type {t:X}"),
    }
}

fn busy(d: &Descriptor) -> &'static str {
    if d.system_type() & 2 != 0 {
        " busy"
    } else {
        ""
    }
}

/// Reads the descriptors of a table at linear `base` with byte limit `limit`.
fn table_entries(cpu: &Cpu, mem: &PhysMem, base: u32, limit: u32) -> Vec<Result<Descriptor, String>> {
    let count = ((limit as u64 + 1) / DESC_SIZE as u64).min(MAX_ENTRIES as u64) as u32;
    (0..count)
        .map(|i| {
            let mut raw = [0u8; DESC_SIZE as usize];
            vmem::read_linear(cpu, mem, base.wrapping_add(i * DESC_SIZE), &mut raw)
                .map(|()| Descriptor::new(u64::from_le_bytes(raw)))
        })
        .collect()
}

/// The GDT's entries (null and non-present entries included, at most 256).
pub fn format_gdt(cpu: &Cpu, mem: &PhysMem) -> String {
    let mut out = format!("GDT base={:08X} limit={:04X}\n", cpu.gdtr.base, cpu.gdtr.limit);
    for (i, e) in table_entries(cpu, mem, cpu.gdtr.base, cpu.gdtr.limit).into_iter().enumerate() {
        let text = match e {
            Ok(d) if d.raw == 0 => "null".into(),
            Ok(d) => describe(&d),
            Err(e) => e,
        };
        let _ = writeln!(out, "  {:04X}  {text}", i * DESC_SIZE as usize);
    }
    out
}

/// The IDT's gates in protected mode, or the IVT's vectors in real mode (at most 256).
pub fn format_idt(cpu: &Cpu, mem: &PhysMem) -> String {
    let mut out = format!("IDT base={:08X} limit={:04X}\n", cpu.idtr.base, cpu.idtr.limit);
    if !cpu.protected_mode() {
        let count = ((cpu.idtr.limit + 1) / IVT_ENTRY_SIZE).min(MAX_ENTRIES);
        for v in 0..count {
            let mut raw = [0u8; IVT_ENTRY_SIZE as usize];
            let _ = vmem::read_linear(cpu, mem, cpu.idtr.base.wrapping_add(v * IVT_ENTRY_SIZE), &mut raw);
            let (off, seg) = (u16::from_le_bytes([raw[0], raw[1]]), u16::from_le_bytes([raw[2], raw[3]]));
            let _ = writeln!(out, "  {v:02X}  {seg:04X}:{off:04X}");
        }
        return out;
    }
    for (v, e) in table_entries(cpu, mem, cpu.idtr.base, cpu.idtr.limit).into_iter().enumerate() {
        match e {
            Ok(d) if !d.present() => {}
            Ok(d) => {
                let _ = writeln!(out, "  {v:02X}  {}", describe(&d));
            }
            Err(e) => {
                let _ = writeln!(out, "  {v:02X}  {e}");
            }
        }
    }
    out
}

/// The board's devices and their ports.
pub fn format_devices(devices: &[DeviceInfo]) -> String {
    let mut out = String::new();
    for d in devices {
        let ports: Vec<String> = d
            .ports
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    format!("{:#06x}", r.start())
                } else {
                    format!("{:#06x}-{:#06x}", r.start(), r.end())
                }
            })
            .collect();
        let _ = writeln!(out, "  {:<16} ports {}", d.id.name(), ports.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_gdt_and_idt_reports() {
        let mut cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        // null, flat 32-bit code, flat data
        let gdt: [u64; 3] = [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF];
        for (i, d) in gdt.iter().enumerate() {
            mem.write_bytes(0x8000 + i as u32 * 8, &d.to_le_bytes());
        }
        cpu.gdtr.base = 0x8000;
        cpu.gdtr.limit = 23;
        let text = format_gdt(&cpu, &mem);
        assert!(text.contains("0000  null"), "{text}");
        assert!(text.contains("0008  code32 base=00000000 limit=FFFFFFFF dpl=0 access=9A"), "{text}");
        assert!(text.contains("0010  data32"), "{text}");
        mem.write_bytes(6 * 4, &[0x34, 0x12, 0x00, 0xF0]);
        let ivt = format_idt(&cpu, &mem);
        assert!(ivt.contains("  06  F000:1234"), "{ivt}");
        // a 32-bit interrupt gate 0008:00101234 at vector 0x0D
        cpu.cr0 |= 1;
        cpu.idtr.base = 0x9000;
        cpu.idtr.limit = 0x7FF;
        let gate: u64 = 0x0010_8E00_0008_1234;
        mem.write_bytes(0x9000 + 0xD * 8, &gate.to_le_bytes());
        let idt = format_idt(&cpu, &mem);
        assert!(idt.contains("  0D  int-gate32 0008:00101234 dpl=0"), "{idt}");
        assert_eq!(idt.lines().count(), 2, "{idt}");
    }

    #[test]
    fn test_pagewalk_and_tlb_reports() {
        let mut cpu = Cpu::new();
        let mut mem = PhysMem::new(1 << 20).unwrap();
        assert!(format_pagewalk(&cpu, &mem, 0x1234).contains("paging is off"));
        mem.write_bytes(0x2000, &(0x3000u32 | 7).to_le_bytes());
        mem.write_bytes(0x3000 + 4, &(0x5000u32 | 3).to_le_bytes());
        cpu.cr0 |= 0x8000_0001;
        cpu.cr3 = 0x2000;
        let text = format_pagewalk(&cpu, &mem, 0x1abc);
        assert!(text.contains("PDE   at p:00002000 = 0000000000003007 [P W U]"), "{text}");
        assert!(text.contains("-> physical 00005ABC (4 KiB page, writable, supervisor)"), "{text}");
        assert!(text.contains("soft TLB (supervisor): no entry"), "{text}");
        assert!(format_tlb(&cpu).contains("(empty)"));
    }
}
