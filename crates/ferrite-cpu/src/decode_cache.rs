//! The decoded-block cache: guest code is decoded once per basic block and kept, keyed by
//! the physical address of its first byte and the code size it was decoded under.
//!
//! Blocks are dropped when a page they were decoded from is written (the page is marked
//! in `ferrite-mem`, which reports the write), so self-modifying code sees fresh decodes.
//! Each block also keeps its instructions lowered to the interpreter's fast forms
//! (`interp::uop`), unless those are switched off.

use crate::interp::uop::{lower, Uop};
use hashbrown::HashMap;
use iced_x86::Instruction;
use std::cell::Cell;
use std::rc::{Rc, Weak};

/// Decode-cache counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Blocks decoded.
    pub blocks_decoded: u64,
    /// Lookups that found a decoded block.
    pub hits: u64,
    /// Blocks dropped because their code was written.
    pub invalidated: u64,
}

/// One decoded block: consecutive instructions ending at an unconditional control
/// transfer, a state-changing instruction, a page boundary or the length cap. Conditional
/// branches do not end it: the instructions after one are its fall-through path, and the
/// run loop leaves the block when the branch is taken.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) insns: Box<[Instruction]>,
    /// `insns[i]` lowered to its fast form (or `Uop::GENERIC`); same length as `insns`.
    pub(crate) uops: Box<[Uop]>,
    pub(crate) first_page: u32,
    pub(crate) last_page: u32,
    /// Decoded as 32-bit code (EIP wraps at 4 GiB, else at 64 KiB).
    pub(crate) code32: bool,
    /// The blocks the run loop went on to from this one (see [`Link`]).
    links: [Link; 2],
}

/// A successor the run loop looked up after a block: the block at EIP `eip`, valid while
/// the cache's link epoch is still `epoch`. Within one epoch nothing that decides which
/// block CS:EIP names can change — CS, paging and the soft TLB, A20, the decoded code —
/// because everything that can change them bumps the epoch (see
/// [`DecodeCache::bump_epoch`]), so the next lookup from the same block and EIP can skip
/// the segment check, the TLB probe and the table lookup.
#[derive(Default)]
struct Link {
    epoch: Cell<u64>,
    eip: Cell<u32>,
    block: Cell<Weak<Block>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("epoch", &self.epoch.get()).field("eip", &self.eip.get()).finish_non_exhaustive()
    }
}

impl Block {
    /// A block of `insns`, lowered to fast forms when `uops` is set.
    pub(crate) fn new(insns: Vec<Instruction>, first_page: u32, last_page: u32, code32: bool, uops: bool) -> Self {
        let uops = insns.iter().map(|i| if uops { lower(i) } else { Uop::GENERIC }).collect();
        Block { insns: insns.into_boxed_slice(), uops, first_page, last_page, code32, links: Default::default() }
    }

    /// The successor at `eip` recorded in link epoch `epoch`, if any.
    #[inline]
    fn linked(&self, eip: u32, epoch: u64) -> Option<Rc<Block>> {
        let l = self.links.iter().find(|l| l.epoch.get() == epoch && l.eip.get() == eip)?;
        let weak = l.block.take();
        let b = weak.upgrade();
        l.block.set(weak);
        b
    }

    /// Records `next` as the successor at `eip` in epoch `epoch`, replacing a stale link
    /// (or the second one: the first keeps, say, a loop's back edge).
    fn link(&self, eip: u32, epoch: u64, next: &Rc<Block>) {
        let l = if self.links[0].epoch.get() != epoch { &self.links[0] } else { &self.links[1] };
        l.epoch.set(epoch);
        l.eip.set(eip);
        l.block.set(Rc::downgrade(next));
    }
}

/// Key: physical address of the first byte, and whether it was decoded as 32-bit code.
type Key = (u32, bool);

/// One entry of the direct-mapped table: a block and its key, or nothing.
type FrontSlot = Option<(Key, Rc<Block>)>;

/// Entries of the direct-mapped table in front of the hash map.
const FRONT_SLOTS: usize = 4096;

/// The front-table slot of a block's physical address.
#[inline]
fn front_slot(phys: u32) -> usize {
    (phys ^ (phys >> 12)) as usize & (FRONT_SLOTS - 1)
}

#[derive(Debug)]
pub(crate) struct DecodeCache {
    blocks: HashMap<Key, Rc<Block>>,
    /// A direct-mapped table of recently run blocks, looked up before the hash map (one
    /// index and compare instead of a hash and probe). Every block in it is also in
    /// `blocks`; dropping a block from `blocks` drops it here.
    front: Box<[FrontSlot]>,
    enabled: bool,
    /// Whether new blocks get fast forms.
    uops: bool,
    /// The current link epoch (see [`Link`]); starts at 1, links start at 0.
    epoch: u64,
    pub(crate) stats: CacheStats,
}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            blocks: HashMap::new(),
            front: vec![None; FRONT_SLOTS].into_boxed_slice(),
            enabled: true,
            uops: true,
            epoch: 1,
            stats: CacheStats::default(),
        }
    }
}

/// Upper bound on cached blocks before the whole cache is flushed.
const MAX_BLOCKS: usize = 1 << 16;

impl DecodeCache {
    pub(crate) fn clear(&mut self) {
        self.bump_epoch();
        self.blocks.clear();
        self.front.iter_mut().for_each(|e| *e = None);
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        self.clear();
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn set_uops(&mut self, uops: bool) {
        self.uops = uops;
        self.clear();
    }

    pub(crate) fn uops(&self) -> bool {
        self.uops
    }

    /// Invalidates every block-to-block link: called whenever something that decides
    /// which block CS:EIP names may have changed — at the start of each run slice (the
    /// machine, debugger or translator ran), before each generic instruction and each
    /// exception or interrupt delivery (only those change CS, control registers, A20 or
    /// flush the TLB), on each soft-TLB fill, and when decoded code is dropped.
    #[inline]
    pub(crate) fn bump_epoch(&mut self) {
        self.epoch += 1;
    }

    /// The current link epoch.
    #[cfg(test)]
    fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The block `prev`'s link names for `eip` in the current epoch (counted as a hit).
    #[inline]
    pub(crate) fn follow(&mut self, prev: Option<&Block>, eip: u32) -> Option<Rc<Block>> {
        let b = prev?.linked(eip, self.epoch)?;
        self.stats.hits += 1;
        Some(b)
    }

    /// Links `prev` to `next`, the block looked up at `eip` in the current epoch (not
    /// while the cache is off: every lookup must then decode afresh).
    #[inline]
    pub(crate) fn remember(&self, prev: Option<&Block>, eip: u32, next: &Rc<Block>) {
        if let (Some(p), true) = (prev, self.enabled) {
            p.link(eip, self.epoch, next);
        }
    }

    #[inline]
    pub(crate) fn get(&mut self, phys: u32, code32: bool) -> Option<Rc<Block>> {
        let key = (phys, code32);
        let slot = front_slot(phys);
        if let Some((k, b)) = &self.front[slot] {
            if *k == key {
                self.stats.hits += 1;
                return Some(b.clone());
            }
        }
        let b = self.blocks.get(&key).cloned();
        if let Some(b) = &b {
            self.stats.hits += 1;
            self.front[slot] = Some((key, b.clone()));
        }
        b
    }

    pub(crate) fn insert(&mut self, phys: u32, code32: bool, block: Rc<Block>) {
        self.stats.blocks_decoded += 1;
        if !self.enabled {
            return;
        }
        if self.blocks.len() >= MAX_BLOCKS {
            self.clear();
        }
        self.front[front_slot(phys)] = Some(((phys, code32), block.clone()));
        self.blocks.insert((phys, code32), block);
    }

    /// Drops every block decoded from RAM page `page` (a page number).
    pub(crate) fn invalidate_page(&mut self, page: u32) {
        self.bump_epoch();
        let before = self.blocks.len();
        let front = &mut self.front;
        self.blocks.retain(|k, b| {
            let keep = b.first_page != page && b.last_page != page;
            if !keep {
                let slot = &mut front[front_slot(k.0)];
                if slot.as_ref().is_some_and(|(fk, _)| fk == k) {
                    *slot = None;
                }
            }
            keep
        });
        self.stats.invalidated += (before - self.blocks.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Rc<Block> {
        Rc::new(Block::new(Vec::new(), 0, 0, true, false))
    }

    #[test]
    fn test_a_link_holds_only_for_its_eip_and_epoch() {
        let mut cache = DecodeCache::default();
        let (a, b) = (block(), block());
        a.link(0x1000, cache.epoch(), &b);
        assert!(Rc::ptr_eq(&a.linked(0x1000, cache.epoch()).expect("linked"), &b));
        assert!(a.linked(0x1004, cache.epoch()).is_none(), "another EIP");
        cache.bump_epoch();
        assert!(a.linked(0x1000, cache.epoch()).is_none(), "a later epoch");
    }

    #[test]
    fn test_dropping_code_ends_every_link() {
        let mut cache = DecodeCache::default();
        let (a, b) = (block(), block());
        cache.insert(0x2000, true, b.clone());
        a.link(0x2000, cache.epoch(), &b);
        cache.invalidate_page(2);
        assert!(a.linked(0x2000, cache.epoch()).is_none());
        a.link(0x2000, cache.epoch(), &b);
        cache.clear();
        assert!(a.linked(0x2000, cache.epoch()).is_none());
    }

    #[test]
    fn test_a_link_never_keeps_a_block_alive() {
        let cache = DecodeCache::default();
        let a = block();
        a.link(0x3000, cache.epoch(), &block());
        assert!(a.linked(0x3000, cache.epoch()).is_none(), "the successor was dropped");
    }

    #[test]
    fn test_two_successors_are_kept() {
        let cache = DecodeCache::default();
        let (a, taken, fall) = (block(), block(), block());
        a.link(0x10, cache.epoch(), &taken);
        a.link(0x20, cache.epoch(), &fall);
        assert!(Rc::ptr_eq(&a.linked(0x10, cache.epoch()).expect("taken"), &taken));
        assert!(Rc::ptr_eq(&a.linked(0x20, cache.epoch()).expect("fall-through"), &fall));
    }
}
