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
use std::rc::Rc;

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
}

impl Block {
    /// A block of `insns`, lowered to fast forms when `uops` is set.
    pub(crate) fn new(insns: Vec<Instruction>, first_page: u32, last_page: u32, code32: bool, uops: bool) -> Self {
        let uops = insns.iter().map(|i| if uops { lower(i) } else { Uop::GENERIC }).collect();
        Block { insns: insns.into_boxed_slice(), uops, first_page, last_page, code32 }
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
    pub(crate) stats: CacheStats,
}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            blocks: HashMap::new(),
            front: vec![None; FRONT_SLOTS].into_boxed_slice(),
            enabled: true,
            uops: true,
            stats: CacheStats::default(),
        }
    }
}

/// Upper bound on cached blocks before the whole cache is flushed.
const MAX_BLOCKS: usize = 1 << 16;

impl DecodeCache {
    pub(crate) fn clear(&mut self) {
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
