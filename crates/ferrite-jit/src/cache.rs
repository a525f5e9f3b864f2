//! The translation cache: blocks keyed by where and how they run, the pages they came
//! from (for self-modifying code), and the chaining links between them.

use crate::translate::ExitSite;
use hashbrown::HashMap;

/// What a translation depends on: physical address of the first byte, EIP, CS base and
/// limit (the code embeds EIP values and checks branch targets against the limit) and the
/// mode bits ([`mode_bits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) phys: u32,
    pub(crate) eip: u32,
    pub(crate) cs_base: u32,
    pub(crate) cs_limit: u32,
    pub(crate) mode: u32,
}

/// Mode bit: 32-bit code segment.
pub(crate) const MODE_CODE32: u32 = 1 << 0;
/// Mode bit: 32-bit stack segment.
pub(crate) const MODE_SS32: u32 = 1 << 1;
/// Mode bit: paging on.
pub(crate) const MODE_PAGING: u32 = 1 << 2;
/// Mode bits 3–4: CPL.
pub(crate) const MODE_CPL_SHIFT: u32 = 3;
/// Mode bit: A20 gate open.
pub(crate) const MODE_A20: u32 = 1 << 5;
/// Mode bit: protected mode.
pub(crate) const MODE_PE: u32 = 1 << 6;
/// Mode bit: ES, SS and DS are flat (base 0, limit 4 GiB, readable and writable), so
/// probes through them skip the segment check and base.
pub(crate) const MODE_FLAT: u32 = 1 << 7;

/// A cached translation (or the note that none is possible at this key).
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) key: Key,
    /// Code-buffer offset of the entry, `None` when the first instruction is not translated.
    pub(crate) entry: Option<usize>,
    /// Guest instructions in the block.
    pub(crate) guest_len: u32,
    /// RAM page number the guest code came from, if RAM.
    pub(crate) page: Option<u32>,
    /// This block's patchable exits.
    pub(crate) exits: Vec<ExitSite>,
    /// Other blocks' exits patched to jump here.
    pub(crate) incoming: Vec<ExitSite>,
}

/// The cache proper.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    map: HashMap<Key, usize>,
    blocks: Vec<Option<Block>>,
    free: Vec<usize>,
    by_page: HashMap<u32, Vec<usize>>,
    /// Exit-site offset → the block that owns it.
    site_owner: HashMap<usize, usize>,
    /// Executions seen per key before translation (hot-block detection).
    pub(crate) heat: HashMap<Key, u32>,
}

impl Cache {
    /// The block index for `key`.
    pub(crate) fn get(&self, key: &Key) -> Option<usize> {
        self.map.get(key).copied()
    }

    /// The block at `idx`.
    pub(crate) fn block(&self, idx: usize) -> &Block {
        self.blocks[idx].as_ref().expect("live block")
    }

    /// Inserts a block and returns its index.
    pub(crate) fn insert(&mut self, block: Block) -> usize {
        let key = block.key;
        let page = block.page;
        let sites: Vec<usize> = block.exits.iter().map(|e| e.site).collect();
        let idx = match self.free.pop() {
            Some(i) => {
                self.blocks[i] = Some(block);
                i
            }
            None => {
                self.blocks.push(Some(block));
                self.blocks.len() - 1
            }
        };
        self.map.insert(key, idx);
        if let Some(p) = page {
            self.by_page.entry(p).or_default().push(idx);
        }
        for s in sites {
            self.site_owner.insert(s, idx);
        }
        self.heat.remove(&key);
        idx
    }

    /// The block owning exit site `site`, and that site.
    pub(crate) fn site(&self, site: usize) -> Option<(usize, ExitSite)> {
        let owner = *self.site_owner.get(&site)?;
        let b = self.blocks.get(owner)?.as_ref()?;
        b.exits.iter().find(|e| e.site == site).map(|e| (owner, *e))
    }

    /// Records that `site` now jumps to block `to`.
    pub(crate) fn link(&mut self, site: ExitSite, to: usize) {
        if let Some(b) = self.blocks[to].as_mut() {
            b.incoming.push(site);
        }
    }

    /// Removes every block from RAM page `page`; returns them (their incoming sites must
    /// be unpatched by the caller).
    pub(crate) fn remove_page(&mut self, page: u32) -> Vec<Block> {
        let mut out = Vec::new();
        for idx in self.by_page.remove(&page).unwrap_or_default() {
            if let Some(b) = self.blocks[idx].take() {
                self.map.remove(&b.key);
                for e in &b.exits {
                    self.site_owner.remove(&e.site);
                }
                self.free.push(idx);
                out.push(b);
            }
        }
        out
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        *self = Cache::default();
    }

    /// Live translated blocks.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
