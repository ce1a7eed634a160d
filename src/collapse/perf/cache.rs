//! The perf collapser's caches: frame line -> frame ids, and whole callchain blocks -> frame
//! ids. Only caches: cleared when they grow past a limit, so memory stays bounded whatever the
//! number of addresses.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

const LINE_CACHE_LIMIT: usize = 16 << 20;

/// Frame line (trimmed, plus the java flag) -> the frame ids it gives. Only a cache: it is
/// cleared when it grows past a limit, so memory stays bounded whatever the number of addresses.
pub(super) struct LineCache {
    table: HashTable<u32>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    /// (start, length) in `pool`, and for lines their flags, for blocks their line count.
    pub(super) vals: Vec<(u32, u32, u32)>,
    pub(super) pool: Vec<u32>,
    hasher: FixedState,
    /// Hash the whole key (blocks) rather than sampled words of it (lines).
    whole: bool,
}


impl LineCache {
    pub(super) fn new(whole: bool) -> Self {
        LineCache { table: HashTable::new(), keys: Vec::new(), key_ends: Vec::new(), vals: Vec::new(), pool: Vec::new(), hasher: FixedState::with_seed(7), whole }
    }

    #[inline]
    pub(super) fn hash(&self, flag: u8, key: &[u8]) -> u64 {
        key_hash(&self.hasher, self.whole, flag, key)
    }

    #[inline]
    fn key(ends: &[usize], i: usize) -> std::ops::Range<usize> {
        (if i == 0 { 0 } else { ends[i - 1] })..ends[i]
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, flag: u8, line: &[u8]) -> Option<usize> {
        self.table
            .find(hash, |&i| {
                let k = &self.keys[Self::key(&self.key_ends, i as usize)];
                k.len() == line.len() + 1 && k[0] == flag && &k[1..] == line
            })
            .map(|&i| i as usize)
    }

    pub(super) fn insert(&mut self, hash: u64, flag: u8, line: &[u8], ids: &[u32], extra: u32) -> usize {
        if self.keys.len() > LINE_CACHE_LIMIT {
            self.table.clear();
            self.keys.clear();
            self.key_ends.clear();
            self.vals.clear();
            self.pool.clear();
        }
        let i = self.key_ends.len();
        self.keys.push(flag);
        self.keys.extend_from_slice(line);
        self.key_ends.push(self.keys.len());
        self.vals.push((self.pool.len() as u32, ids.len() as u32, extra));
        self.pool.extend_from_slice(ids);
        let LineCache { table, keys, key_ends, hasher, whole, .. } = self;
        table.insert_unique(hash, i as u32, |&j| {
            let k = &keys[Self::key(key_ends, j as usize)];
            key_hash(hasher, *whole, k[0], &k[1..])
        });
        i
    }
}

#[inline]
fn key_hash(state: &FixedState, whole: bool, flag: u8, key: &[u8]) -> u64 {
    if whole {
        block_hash(state, flag, key)
    } else {
        state.hash_one(key) ^ flag as u64 // lines are short: hash them whole
    }
}

/// A hash of a frame block from its length and 16 words spread over it (first and last lines
/// included): constant time whatever the depth of the stack. Equal hashes are compared in full.
#[inline]
fn block_hash(state: &FixedState, flag: u8, b: &[u8]) -> u64 {
    let n = b.len();
    if n < 128 {
        return state.hash_one(b) ^ flag as u64;
    }
    let mut h = (n as u64) << 8 | flag as u64;
    let step = (n - 8) / 15;
    for k in 0..16 {
        h = fold_mul(h ^ word(b, k * step), 0x9e37_79b9_7f4a_7c15);
    }
    h
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
