//! The guest page-table walk that fills the soft TLB: 32-bit paging with 4 KiB and
//! 4 MiB (PSE) pages, and PAE paging with 4 KiB and 2 MiB pages and the NX bit.
//! Accessed and dirty bits are set as the hardware sets them; a failed walk becomes a
//! guest-induced #PF with its error code and CR2.

use crate::fault::{Fault, Vector};
use crate::interp::Exec;
use crate::memory::Access;
use crate::soft_tlb::{TlbEntry, TAG_INVALID};

/// CR0.PG: paging enabled.
pub const CR0_PG: u32 = 1 << 31;
/// CR0.WP: supervisor writes honour read-only pages.
pub const CR0_WP: u32 = 1 << 16;
/// CR4.PSE: 4 MiB pages in 32-bit paging.
pub const CR4_PSE: u32 = 1 << 4;
/// CR4.PAE: physical address extension (3-level paging).
pub const CR4_PAE: u32 = 1 << 5;
/// CR4.PGE: global pages.
pub const CR4_PGE: u32 = 1 << 7;
/// EFER.NXE: the NX bit is honoured (PAE only).
pub const EFER_NXE: u64 = 1 << 11;

/// Paging-structure entry bits.
mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITABLE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    pub const LARGE: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const NO_EXECUTE: u64 = 1 << 63;
}

/// #PF error-code bits.
mod pf {
    pub const PROTECTION: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const USER: u32 = 1 << 2;
    pub const FETCH: u32 = 1 << 4;
}

/// One paging-structure entry the walk read, so A/D bits can be written back.
#[derive(Clone, Copy)]
struct Level {
    addr: u32,
    value: u64,
}

/// The outcome of a successful walk before permission checks.
struct Walk {
    levels: [Level; 3],
    count: usize,
    phys_page: u32,
    writable: bool,
    user: bool,
    no_execute: bool,
    global: bool,
}

impl Exec<'_> {
    /// Linear → physical through the soft TLB when paging is on.
    #[inline]
    pub(crate) fn translate(&mut self, linear: u32, access: Access) -> Result<u32, Fault> {
        if self.cpu.cr0 & CR0_PG == 0 {
            return Ok(linear);
        }
        let user = self.cpu.cpl() == 3;
        self.translate_as(linear, access, user)
    }

    /// Translation for an explicit privilege class (descriptor-table and TSS accesses are
    /// supervisor accesses whatever the CPL).
    #[inline]
    pub(crate) fn translate_as(&mut self, linear: u32, access: Access, user: bool) -> Result<u32, Fault> {
        if self.cpu.cr0 & CR0_PG == 0 {
            return Ok(linear);
        }
        let e = self.cpu.tlb.entry(linear, user);
        let tag = match access {
            Access::Read => e.read_tag,
            Access::Write => e.write_tag,
            Access::Execute => e.exec_tag,
        };
        if tag == linear & !0xFFF {
            return Ok(linear.wrapping_add(e.addend));
        }
        self.tlb_miss(linear, access, user)
    }

    /// A soft-TLB miss: walk the guest tables, check permissions, set A/D, fill.
    fn tlb_miss(&mut self, linear: u32, access: Access, user: bool) -> Result<u32, Fault> {
        self.walk_and_fill(linear, access, user).map_err(|present| self.page_fault(linear, access, user, present))
    }

    /// The miss work without the fault: walks the guest tables, checks permissions, sets
    /// A/D and fills the soft TLB, returning the physical address. A walk that would
    /// fault changes nothing (no A/D bits, no CR2) and returns whether the page was
    /// present, so the translator can call this from a probe's miss path and leave a
    /// faulting access to the interpreter, which raises the #PF itself.
    pub(crate) fn walk_and_fill(&mut self, linear: u32, access: Access, user: bool) -> Result<u32, bool> {
        let walk = match self.walk(linear) {
            Ok(w) => w,
            Err(()) => return Err(false),
        };
        let wp = self.cpu.cr0 & CR0_WP != 0;
        let may_read = !user || walk.user;
        let may_write = may_read && (walk.writable || (!user && !wp));
        let may_exec = may_read && !walk.no_execute;
        let allowed = match access {
            Access::Read => may_read,
            Access::Write => may_write,
            Access::Execute => may_exec,
        };
        if !allowed {
            return Err(true);
        }
        // Set accessed on every level, dirty on the leaf for writes.
        let leaf = walk.count - 1;
        for (i, lvl) in walk.levels[..walk.count].iter().enumerate() {
            let mut v = lvl.value | pte::ACCESSED;
            if i == leaf && access == Access::Write {
                v |= pte::DIRTY;
            }
            if v != lvl.value {
                self.phys_write(lvl.addr, 4, v as u32);
            }
        }
        let dirty = access == Access::Write || walk.levels[leaf].value & pte::DIRTY != 0;
        let page = linear & !0xFFF;
        let tag = |ok: bool| if ok { page } else { TAG_INVALID };
        let global = walk.global && self.cpu.cr4 & CR4_PGE != 0;
        self.cpu.tlb.fill(
            linear,
            user,
            TlbEntry {
                read_tag: tag(may_read),
                write_tag: tag(may_write && dirty),
                exec_tag: tag(may_exec),
                addend: walk.phys_page.wrapping_sub(page),
                global: global as u32,
            },
        );
        self.cpu.mmu_stats.tlb_fills += 1;
        // The entry may have replaced one a block-to-block link relied on.
        self.cpu.cache.bump_epoch();
        Ok(walk.phys_page | (linear & 0xFFF))
    }

    /// Reads the paging structures for `linear`. Err when an entry is not present.
    fn walk(&mut self, linear: u32) -> Result<Walk, ()> {
        let pae = self.cpu.cr4 & CR4_PAE != 0;
        let nxe = pae && self.cpu.efer & EFER_NXE != 0;
        let empty = Level { addr: 0, value: 0 };
        let mut w = Walk {
            levels: [empty; 3],
            count: 0,
            phys_page: 0,
            writable: true,
            user: true,
            no_execute: false,
            global: false,
        };
        let mut table;
        if pae {
            let pdpte_addr = (self.cpu.cr3 & !0x1F) | ((linear >> 27) & 0x18);
            let pdpte = self.read_entry(pdpte_addr, true);
            if pdpte & pte::PRESENT == 0 {
                return Err(());
            }
            table = (pdpte as u32) & !0xFFF;
        } else {
            table = self.cpu.cr3 & !0xFFF;
        }
        // Directory level.
        let pde_addr = if pae { table | ((linear >> 18) & 0xFF8) } else { table | ((linear >> 20) & 0xFFC) };
        let pde = self.read_entry(pde_addr, pae);
        if pde & pte::PRESENT == 0 {
            return Err(());
        }
        w.levels[0] = Level { addr: pde_addr, value: pde };
        w.count = 1;
        w.writable &= pde & pte::WRITABLE != 0;
        w.user &= pde & pte::USER != 0;
        w.no_execute |= nxe && pde & pte::NO_EXECUTE != 0;
        let large = pde & pte::LARGE != 0 && (pae || self.cpu.cr4 & CR4_PSE != 0);
        if large {
            w.global = pde & pte::GLOBAL != 0;
            w.phys_page = if pae {
                (pde as u32 & 0xFFE0_0000) | (linear & 0x001F_F000)
            } else {
                (pde as u32 & 0xFFC0_0000) | (linear & 0x003F_F000)
            };
            return Ok(w);
        }
        table = pde as u32 & !0xFFF;
        let pte_addr = if pae { table | ((linear >> 9) & 0xFF8) } else { table | ((linear >> 10) & 0xFFC) };
        let entry = self.read_entry(pte_addr, pae);
        if entry & pte::PRESENT == 0 {
            return Err(());
        }
        w.levels[1] = Level { addr: pte_addr, value: entry };
        w.count = 2;
        w.writable &= entry & pte::WRITABLE != 0;
        w.user &= entry & pte::USER != 0;
        w.no_execute |= nxe && entry & pte::NO_EXECUTE != 0;
        w.global = entry & pte::GLOBAL != 0;
        w.phys_page = entry as u32 & !0xFFF;
        Ok(w)
    }

    fn read_entry(&mut self, addr: u32, wide: bool) -> u64 {
        let lo = self.phys_read(addr, 4) as u64;
        if wide {
            lo | (self.phys_read(addr.wrapping_add(4), 4) as u64) << 32
        } else {
            lo
        }
    }

    /// Builds the #PF for a failed access and records CR2.
    fn page_fault(&mut self, linear: u32, access: Access, user: bool, present: bool) -> Fault {
        let mut code = 0;
        if present {
            code |= pf::PROTECTION;
        }
        if access == Access::Write {
            code |= pf::WRITE;
        }
        if user {
            code |= pf::USER;
        }
        if access == Access::Execute && self.cpu.cr4 & CR4_PAE != 0 && self.cpu.efer & EFER_NXE != 0 {
            code |= pf::FETCH;
        }
        self.cpu.cr2 = linear;
        self.cpu.mmu_stats.guest_page_faults += 1;
        Fault::with_code(Vector::PageFault, code)
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::run_real_with;

    const PAGE_DIR: u32 = 0x2000;
    const PAGE_TABLE: u32 = 0x3000;
    const PRESENT_RW: u32 = 0x3;

    /// Identity-maps the first 16 pages except linear page 8, which maps to physical page 9.
    fn build_tables(mem: &mut ferrite_mem::PhysMem) {
        mem.write_bytes(PAGE_DIR, &(PAGE_TABLE | PRESENT_RW).to_le_bytes());
        for i in 0..16u32 {
            let phys = if i == 8 { 0x9000 } else { i << 12 };
            mem.write_bytes(PAGE_TABLE + i * 4, &(phys | PRESENT_RW).to_le_bytes());
        }
    }

    #[test]
    fn test_paged_write_lands_on_mapped_frame_and_sets_dirty() {
        let code = [
            0x66, 0xB8, 0x00, 0x20, 0x00, 0x00, // mov eax, 0x2000
            0x0F, 0x22, 0xD8, // mov cr3, eax
            0x0F, 0x20, 0xC0, // mov eax, cr0
            0x66, 0x0D, 0x01, 0x00, 0x00, 0x80, // or eax, 0x80000001
            0x0F, 0x22, 0xC0, // mov cr0, eax
            0xC7, 0x06, 0x00, 0x80, 0x34, 0x12, // mov word [0x8000], 0x1234
            0xF4,
        ];
        let (cpu, mem) = run_real_with(&code, build_tables);
        assert_eq!(mem.read_u8(0x9000), 0x34, "write went through the page table");
        assert_eq!(mem.read_u8(0x8000), 0, "identity frame untouched");
        let pte = u32::from_le_bytes([
            mem.read_u8(PAGE_TABLE + 32),
            mem.read_u8(PAGE_TABLE + 33),
            mem.read_u8(PAGE_TABLE + 34),
            mem.read_u8(PAGE_TABLE + 35),
        ]);
        assert_eq!(pte & 0x60, 0x60, "accessed and dirty set");
        assert!(cpu.mmu_stats.tlb_fills >= 2);
        assert_eq!(cpu.mmu_stats.guest_page_faults, 0);
    }
}
