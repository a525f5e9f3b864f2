//! The decoded-block cache: guest code is decoded once per basic block and kept, keyed by
//! the physical address of its first byte and the code size it was decoded under.
//!
//! Blocks are dropped when a page they were decoded from is written (the page is marked
//! in `ferrite-mem`, which reports the write), so self-modifying code sees fresh decodes.

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

/// One decoded basic block: consecutive instructions ending at a control transfer, a
/// state-changing instruction, a page boundary or the length cap.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) insns: Box<[Instruction]>,
    pub(crate) first_page: u32,
    pub(crate) last_page: u32,
}

impl Block {
    pub(crate) fn new(insns: Vec<Instruction>, first_page: u32, last_page: u32) -> Self {
        Block { insns: insns.into_boxed_slice(), first_page, last_page }
    }
}

/// Key: physical address of the first byte, and whether it was decoded as 32-bit code.
type Key = (u32, bool);

#[derive(Debug)]
pub(crate) struct DecodeCache {
    blocks: HashMap<Key, Rc<Block>>,
    enabled: bool,
    pub(crate) stats: CacheStats,
}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache { blocks: HashMap::new(), enabled: true, stats: CacheStats::default() }
    }
}

/// Upper bound on cached blocks before the whole cache is flushed.
const MAX_BLOCKS: usize = 1 << 16;

impl DecodeCache {
    pub(crate) fn clear(&mut self) {
        self.blocks.clear();
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        self.blocks.clear();
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    #[inline]
    pub(crate) fn get(&mut self, phys: u32, code32: bool) -> Option<Rc<Block>> {
        let b = self.blocks.get(&(phys, code32)).cloned();
        if b.is_some() {
            self.stats.hits += 1;
        }
        b
    }

    pub(crate) fn insert(&mut self, phys: u32, code32: bool, block: Rc<Block>) {
        self.stats.blocks_decoded += 1;
        if !self.enabled {
            return;
        }
        if self.blocks.len() >= MAX_BLOCKS {
            self.blocks.clear();
        }
        self.blocks.insert((phys, code32), block);
    }

    /// Drops every block decoded from RAM page `page` (a page number).
    pub(crate) fn invalidate_page(&mut self, page: u32) {
        let before = self.blocks.len();
        self.blocks.retain(|_, b| b.first_page != page && b.last_page != page);
        self.stats.invalidated += (before - self.blocks.len()) as u64;
    }
}
