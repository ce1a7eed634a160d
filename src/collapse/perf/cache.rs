//! The perf collapser's caches: frame line -> frame ids, and whole callchain blocks -> frame
//! ids. Only caches: cleared when they grow past a limit, so memory stays bounded whatever the
//! number of addresses.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use crate::intern::eq_bytes;
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

/// A frame line's cache key, in place in the line: what its frames depend on (see
/// `Worker::frame_line`): the symbol without its offset, the module, and `extra` (the text after
/// the module's `)` and, where `--addrs` reads it, the address: empty on perf's lines).
#[derive(Clone, Copy)]
pub(super) struct FrameKey<'a> {
    pub flag: u8,
    pub sym: &'a [u8],
    pub module: &'a [u8],
    pub extra: &'a [u8],
}

/// One cached frame line: where its key is in `keys`, its parts' lengths, its frame ids. Held
/// in the hash table itself: a lookup reads the table, then the key bytes, nothing between.
#[derive(Clone, Copy)]
pub(super) struct FrameEntry {
    key: u32,
    sym_len: u32,
    mod_len: u32,
    extra_len: u32,
    flag: u8,
    flags: u8,
    /// One id inline (`ids_len` 1), else a range of `pool`.
    ids_start: u32,
    ids_len: u32,
}

/// Frame key -> the frame ids it gives, without copying the key out of the line to look it
/// up. Only a cache: cleared when it grows past a limit.
pub(super) struct FrameCache {
    table: HashTable<FrameEntry>,
    keys: Vec<u8>,
    pool: Vec<u32>,
    hasher: FixedState,
}

impl FrameCache {
    pub(super) fn new() -> Self {
        FrameCache { table: HashTable::new(), keys: Vec::new(), pool: Vec::new(), hasher: FixedState::with_seed(11) }
    }

    #[inline]
    pub(super) fn hash(&self, k: &FrameKey<'_>) -> u64 {
        frame_hash(&self.hasher, k.flag, k.sym, k.module, k.extra)
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, k: &FrameKey<'_>) -> Option<FrameEntry> {
        let keys = &self.keys;
        self.table
            .find(hash, |e| {
                if e.flag != k.flag || e.sym_len as usize != k.sym.len() || e.mod_len as usize != k.module.len() || e.extra_len as usize != k.extra.len() {
                    return false;
                }
                let s = e.key as usize;
                let m = s + k.sym.len();
                let x = m + k.module.len();
                eq_bytes(&keys[s..m], k.sym) && eq_bytes(&keys[m..x], k.module) && (k.extra.is_empty() || &keys[x..x + k.extra.len()] == k.extra)
            })
            .copied()
    }

    /// The frame ids of an entry, and its flags.
    #[inline]
    pub(super) fn get<'a>(&'a self, e: &'a FrameEntry) -> (&'a [u32], u8) {
        if e.ids_len == 1 {
            (std::slice::from_ref(&e.ids_start), e.flags)
        } else {
            (&self.pool[e.ids_start as usize..(e.ids_start + e.ids_len) as usize], e.flags)
        }
    }

    pub(super) fn insert(&mut self, hash: u64, k: &FrameKey<'_>, ids: &[u32], flags: u8) -> FrameEntry {
        if self.keys.len() > LINE_CACHE_LIMIT {
            self.table.clear();
            self.keys.clear();
            self.pool.clear();
        }
        let key = self.keys.len() as u32;
        self.keys.extend_from_slice(k.sym);
        self.keys.extend_from_slice(k.module);
        self.keys.extend_from_slice(k.extra);
        let (ids_start, ids_len) = if ids.len() == 1 {
            (ids[0], 1)
        } else {
            let s = self.pool.len() as u32;
            self.pool.extend_from_slice(ids);
            (s, ids.len() as u32)
        };
        let e = FrameEntry { key, sym_len: k.sym.len() as u32, mod_len: k.module.len() as u32, extra_len: k.extra.len() as u32, flag: k.flag, flags, ids_start, ids_len };
        let FrameCache { table, keys, hasher, .. } = self;
        table.insert_unique(hash, e, |e| {
            let s = e.key as usize;
            let m = s + e.sym_len as usize;
            let x = m + e.mod_len as usize;
            frame_hash(hasher, e.flag, &keys[s..m], &keys[m..x], &keys[x..x + e.extra_len as usize])
        });
        e
    }
}

#[inline]
fn frame_hash(state: &FixedState, flag: u8, sym: &[u8], module: &[u8], extra: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = state.build_hasher();
    h.write(sym);
    // modules are few and long (library paths): their length and last bytes tell them apart
    // well enough for a hash (keys are compared in full)
    let n = module.len();
    let tail = if n >= 8 { u64::from_le_bytes(module[n - 8..].try_into().unwrap()) } else { module.iter().fold(0u64, |a, &b| a << 8 | b as u64) };
    h.write_u64(tail ^ (n as u64) << 56 ^ (flag as u64) << 48);
    if !extra.is_empty() {
        h.write(extra);
    }
    h.finish()
}
