//! The soft TLB: the shadow MMU's cache of guest-virtual page → guest-physical page,
//! shared by the interpreter and (later) the translator's inline probes.
//!
//! There are two direct-mapped arrays, one per privilege class (supervisor, user), so a
//! probe is an index, one compare and an add. Each entry holds a tag per access kind
//! (read, write, execute): the page-aligned linear address when that access is allowed,
//! or [`TAG_INVALID`] when it must take the slow path (not cached, not permitted, or the
//! accessed/dirty bits still need setting). The tag layout is part of the translator's
//! contract: keep it `#[repr(C)]`.

/// Entries per privilege class.
pub const TLB_ENTRIES: usize = 256;
/// A tag that never equals a page-aligned address.
pub const TAG_INVALID: u32 = 1;

/// One cached translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct TlbEntry {
    /// Page-aligned linear address if reads hit, else [`TAG_INVALID`].
    pub read_tag: u32,
    /// Page-aligned linear address if writes hit (page dirty, writable), else invalid.
    pub write_tag: u32,
    /// Page-aligned linear address if instruction fetches hit, else invalid.
    pub exec_tag: u32,
    /// physical = linear + addend (wrapping).
    pub addend: u32,
    /// The mapping is global (survives CR3 writes when CR4.PGE is set).
    pub global: u32,
}

impl TlbEntry {
    /// An entry that matches nothing.
    pub const EMPTY: TlbEntry =
        TlbEntry { read_tag: TAG_INVALID, write_tag: TAG_INVALID, exec_tag: TAG_INVALID, addend: 0, global: 0 };
}

/// Shadow-MMU counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MmuStats {
    /// Hypervisor-induced faults: soft-TLB misses the MMU resolved by walking the guest's
    /// page tables.
    pub tlb_fills: u64,
    /// Guest-induced faults: #PF delivered to the guest.
    pub guest_page_faults: u64,
    /// Whole-TLB flushes (CR3 writes, paging-mode changes).
    pub flushes: u64,
}

/// The two arrays of entries.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct SoftTlb {
    /// `entries[0]` serves supervisor accesses, `entries[1]` user (CPL 3) accesses.
    pub entries: [[TlbEntry; TLB_ENTRIES]; 2],
}

impl Default for SoftTlb {
    fn default() -> Self {
        SoftTlb { entries: [[TlbEntry::EMPTY; TLB_ENTRIES]; 2] }
    }
}

/// The slot a linear address maps to.
#[inline]
pub fn slot(linear: u32) -> usize {
    (linear >> 12) as usize & (TLB_ENTRIES - 1)
}

impl SoftTlb {
    /// Drops every entry; with `keep_global`, global entries stay.
    pub fn flush(&mut self, keep_global: bool) {
        for class in self.entries.iter_mut() {
            for e in class.iter_mut() {
                if !(keep_global && e.global != 0) {
                    *e = TlbEntry::EMPTY;
                }
            }
        }
    }

    /// Drops the entries for the page holding `linear` (INVLPG).
    pub fn flush_page(&mut self, linear: u32) {
        let page = linear & !0xFFF;
        for class in self.entries.iter_mut() {
            let e = &mut class[slot(linear)];
            if e.read_tag == page || e.write_tag == page || e.exec_tag == page {
                *e = TlbEntry::EMPTY;
            }
        }
    }

    /// The entry for `linear` in privilege class `user`.
    #[inline]
    pub fn entry(&self, linear: u32, user: bool) -> &TlbEntry {
        &self.entries[user as usize][slot(linear)]
    }

    /// Installs an entry for `linear`.
    #[inline]
    pub fn fill(&mut self, linear: u32, user: bool, e: TlbEntry) {
        self.entries[user as usize][slot(linear)] = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_for(page: u32) -> TlbEntry {
        TlbEntry { read_tag: page, write_tag: page, exec_tag: page, addend: 0x1000, global: 0 }
    }

    #[test]
    fn test_flush_page_drops_only_that_page() {
        let mut t = SoftTlb::default();
        t.fill(0x4000_0000, false, entry_for(0x4000_0000));
        t.fill(0x4000_1000, false, entry_for(0x4000_1000));
        t.flush_page(0x4000_0123);
        assert_eq!(t.entry(0x4000_0000, false).read_tag, TAG_INVALID);
        assert_eq!(t.entry(0x4000_1000, false).read_tag, 0x4000_1000);
    }

    #[test]
    fn test_flush_keeps_global_entries_when_asked() {
        let mut t = SoftTlb::default();
        t.fill(0xC000_0000, false, TlbEntry { global: 1, ..entry_for(0xC000_0000) });
        t.fill(0x0800_0000, true, entry_for(0x0800_0000));
        t.flush(true);
        assert_eq!(t.entry(0xC000_0000, false).read_tag, 0xC000_0000);
        assert_eq!(t.entry(0x0800_0000, true).read_tag, TAG_INVALID);
        t.flush(false);
        assert_eq!(t.entry(0xC000_0000, false).read_tag, TAG_INVALID);
    }
}
