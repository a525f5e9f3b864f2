//! A side-effect-free page walk for debuggers: how the guest's page tables map a linear
//! address, without setting accessed/dirty bits, filling the soft TLB, touching CR2 or
//! raising #PF. `ferrite debug` uses it for `info pagewalk` and for memory dumps and
//! disassembly by virtual address; the gdb stub uses it for memory accesses.
//!
//! It follows the same rules as the MMU's own walk (32-bit paging with 4 KiB and, with
//! CR4.PSE, 4 MiB pages; PAE with 4 KiB and 2 MiB pages and NX), reading the tables
//! through [`PhysMem`] only.

use crate::paging::{CR0_PG, CR4_PAE, CR4_PSE, EFER_NXE};
use crate::Cpu;
use ferrite_mem::PhysMem;

/// Page-table entry bits the debug walk reports.
pub mod pte_bits {
    /// Present.
    pub const PRESENT: u64 = 1 << 0;
    /// Writable.
    pub const WRITABLE: u64 = 1 << 1;
    /// User-accessible.
    pub const USER: u64 = 1 << 2;
    /// Accessed.
    pub const ACCESSED: u64 = 1 << 5;
    /// Dirty.
    pub const DIRTY: u64 = 1 << 6;
    /// Large page (in a directory entry).
    pub const LARGE: u64 = 1 << 7;
    /// Global.
    pub const GLOBAL: u64 = 1 << 8;
    /// No-execute (PAE with EFER.NXE).
    pub const NO_EXECUTE: u64 = 1 << 63;
}

/// The size of a 4 KiB page.
const PAGE_4K: u32 = 0x1000;
/// The size of a PAE large page.
const PAGE_2M: u32 = 0x20_0000;
/// The size of a 32-bit large page.
const PAGE_4M: u32 = 0x40_0000;

/// One paging-structure entry the walk read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLevel {
    /// The level's name: `PDPTE`, `PDE` or `PTE`.
    pub name: &'static str,
    /// Physical address of the entry.
    pub addr: u32,
    /// The entry (the high half is zero without PAE).
    pub value: u64,
}

/// The result of [`Cpu::translate_debug`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugWalk {
    /// The entries read, top level first (empty when paging is off).
    pub levels: Vec<WalkLevel>,
    /// The physical address, or `None` when an entry on the way is not present.
    pub phys: Option<u32>,
    /// Size of the page that maps the address (0 when not mapped or paging is off).
    pub page_size: u32,
    /// Writable at every level.
    pub writable: bool,
    /// User-accessible at every level.
    pub user: bool,
    /// Execution forbidden (NX) at some level.
    pub no_execute: bool,
}

impl Cpu {
    /// Translates `linear` the way the MMU would, without side effects: no A/D bits, no
    /// TLB fill, no #PF. With paging off the address maps to itself.
    pub fn translate_debug(&self, mem: &PhysMem, linear: u32) -> DebugWalk {
        let mut walk =
            DebugWalk { levels: Vec::new(), phys: None, page_size: 0, writable: true, user: true, no_execute: false };
        if self.cr0 & CR0_PG == 0 {
            walk.phys = Some(linear);
            return walk;
        }
        let pae = self.cr4 & CR4_PAE != 0;
        let nxe = pae && self.efer & EFER_NXE != 0;
        let read = |addr: u32| -> u64 {
            let mut b = [0u8; 8];
            let n = if pae { 8 } else { 4 };
            mem.read_bytes(addr, &mut b[..n]);
            u64::from_le_bytes(b)
        };
        let note = |walk: &mut DebugWalk, name: &'static str, addr: u32| -> Option<u64> {
            let value = read(addr);
            walk.levels.push(WalkLevel { name, addr, value });
            if value & pte_bits::PRESENT == 0 {
                return None;
            }
            if name != "PDPTE" {
                walk.writable &= value & pte_bits::WRITABLE != 0;
                walk.user &= value & pte_bits::USER != 0;
            }
            walk.no_execute |= nxe && value & pte_bits::NO_EXECUTE != 0;
            Some(value)
        };
        let dir_table = if pae {
            let pdpte_addr = (self.cr3 & !0x1F) | ((linear >> 27) & 0x18);
            let Some(pdpte) = note(&mut walk, "PDPTE", pdpte_addr) else { return walk };
            pdpte as u32 & !0xFFF
        } else {
            self.cr3 & !0xFFF
        };
        let pde_addr = if pae { dir_table | ((linear >> 18) & 0xFF8) } else { dir_table | ((linear >> 20) & 0xFFC) };
        let Some(pde) = note(&mut walk, "PDE", pde_addr) else { return walk };
        if pde & pte_bits::LARGE != 0 && (pae || self.cr4 & CR4_PSE != 0) {
            let size = if pae { PAGE_2M } else { PAGE_4M };
            walk.page_size = size;
            walk.phys = Some((pde as u32 & !(size - 1)) | (linear & (size - 1)));
            return walk;
        }
        let table = pde as u32 & !0xFFF;
        let pte_addr = if pae { table | ((linear >> 9) & 0xFF8) } else { table | ((linear >> 10) & 0xFFC) };
        let Some(entry) = note(&mut walk, "PTE", pte_addr) else { return walk };
        walk.page_size = PAGE_4K;
        walk.phys = Some((entry as u32 & !0xFFF) | (linear & 0xFFF));
        walk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_DIR: u32 = 0x2000;
    const PAGE_TABLE: u32 = 0x3000;

    #[test]
    fn test_debug_walk_maps_4k_page_without_setting_accessed() {
        let mut mem = PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(PAGE_DIR, &(PAGE_TABLE | 3).to_le_bytes());
        mem.write_bytes(PAGE_TABLE + 8 * 4, &(0x9000u32 | 3).to_le_bytes());
        let mut cpu = Cpu::new();
        cpu.cr0 |= CR0_PG | 1;
        cpu.cr3 = PAGE_DIR;
        let w = cpu.translate_debug(&mem, 0x8123);
        assert_eq!(w.phys, Some(0x9123));
        assert_eq!(w.page_size, PAGE_4K);
        assert_eq!(w.levels.len(), 2);
        assert!(w.writable && !w.user);
        assert_eq!(mem.read_u8(PAGE_TABLE + 32) & 0x20, 0, "accessed bit untouched");
        let missing = cpu.translate_debug(&mem, 0x40_0000);
        assert_eq!(missing.phys, None);
        assert_eq!(missing.levels.len(), 1);
    }

    #[test]
    fn test_debug_walk_large_page_and_paging_off() {
        let mut mem = PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(PAGE_DIR + 4, &(0x0040_0000u32 | 0x87).to_le_bytes());
        let mut cpu = Cpu::new();
        assert_eq!(cpu.translate_debug(&mem, 0x1234).phys, Some(0x1234));
        cpu.cr0 |= CR0_PG | 1;
        cpu.cr3 = PAGE_DIR;
        cpu.cr4 |= CR4_PSE;
        let w = cpu.translate_debug(&mem, 0x0045_6789);
        assert_eq!(w.phys, Some(0x0045_6789));
        assert_eq!(w.page_size, PAGE_4M);
        assert!(w.user);
    }
}
