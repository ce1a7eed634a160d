//! The perf collapser's caches: frame line -> frame ids, and whole callchain blocks -> frame
//! ids. Only caches: cleared when they grow past a limit, so memory stays bounded whatever the
//! number of addresses.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use crate::intern::eq_bytes;
use std::hash::BuildHasher;

/// The caches' size limit (tiny in tests, so that they clear often and every path is exercised).
const LINE_CACHE_LIMIT: usize = if cfg!(test) { 2048 } else { 16 << 20 };

/// Whole callchain blocks (all frame lines of a sample, with the java flag) -> the frame ids
/// they gave, and their line counts. Only a cache: it is cleared when it grows past a limit, so
/// memory stays bounded whatever the number of callchains.
pub(super) struct BlockCache {
    table: HashTable<u32>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    /// (start, length) in `pool` and the block's line count.
    pub(super) vals: Vec<(u32, u32, u32)>,
    pub(super) pool: Vec<u32>,
    hasher: FixedState,
}

impl BlockCache {
    pub(super) fn new() -> Self {
        BlockCache { table: HashTable::new(), keys: Vec::new(), key_ends: Vec::new(), vals: Vec::new(), pool: Vec::new(), hasher: FixedState::with_seed(7) }
    }

    /// A hash of the whole block. (A hash of 16 words spread over it cost less, but blocks that
    /// differ only in an offset's digit shared it: on a real capture, long chains of full
    /// compares.)
    #[inline]
    pub(super) fn hash(&self, flag: u8, block: &[u8]) -> u64 {
        self.hasher.hash_one(block) ^ flag as u64
    }

    #[inline]
    fn key(ends: &[usize], i: usize) -> std::ops::Range<usize> {
        (if i == 0 { 0 } else { ends[i - 1] })..ends[i]
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, flag: u8, block: &[u8]) -> Option<usize> {
        self.table
            .find(hash, |&i| {
                let k = &self.keys[Self::key(&self.key_ends, i as usize)];
                k.len() == block.len() + 1 && k[0] == flag && &k[1..] == block
            })
            .map(|&i| i as usize)
    }

    pub(super) fn insert(&mut self, hash: u64, flag: u8, block: &[u8], ids: &[u32], lines: u32) -> usize {
        if self.keys.len() > LINE_CACHE_LIMIT {
            self.table.clear();
            self.keys.clear();
            self.key_ends.clear();
            self.vals.clear();
            self.pool.clear();
        }
        let i = self.key_ends.len();
        self.keys.push(flag);
        self.keys.extend_from_slice(block);
        self.key_ends.push(self.keys.len());
        self.vals.push((self.pool.len() as u32, ids.len() as u32, lines));
        self.pool.extend_from_slice(ids);
        let BlockCache { table, keys, key_ends, hasher, .. } = self;
        table.insert_unique(hash, i as u32, |&j| {
            let k = &keys[Self::key(key_ends, j as usize)];
            hasher.hash_one(&k[1..]) ^ k[0] as u64
        });
        i
    }
}

/// A frame line's cache key, in place in the line: what its frames depend on (see
/// `Worker::frame_line`): the symbol without its offset, the module, and `extra` (the text after
/// the module's `)` and, where `--addrs` reads it, the address: empty on perf's lines).
#[derive(Clone, Copy)]
pub(super) struct FrameKey<'a> {
    pub flag: u8,
    pub sym: &'a [u8],
    /// The module's id in [`FrameCache::module`].
    pub module: u32,
    pub extra: &'a [u8],
}

/// One cached frame line, as found: its flags and its frame ids (one inline, else a range of
/// the pool).
#[derive(Clone, Copy)]
pub(super) struct FrameEntry {
    flags: u8,
    ids_start: u32,
    ids_len: u32,
}

impl FrameEntry {
    /// The entry's frame id, when it has at most one (`None` for none).
    #[inline]
    pub(super) fn single(&self) -> Option<Option<u32>> {
        match self.ids_len {
            0 => Some(None),
            1 => Some(Some(self.ids_start)),
            _ => None,
        }
    }
}

/// Whether two byte strings of one length (a frame line and a slot's: 17 bytes or more,
/// mostly 60-120) are equal: 16 bytes at a time, the last 16 overlapping.
#[inline(always)]
fn eq_line(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    #[cfg(target_arch = "x86_64")]
    if n >= 16 && b.len() == n {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64; every load reads 16 bytes inside `a` or `b`
        // (i + 16 <= n, and n - 16 >= 0).
        unsafe {
            let eq16 = |i: usize| {
                let x = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
                let y = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xffff
            };
            let mut i = 0;
            while i + 16 < n {
                if !eq16(i) {
                    return false;
                }
                i += 16;
            }
            return eq16(n - 16);
        }
    }
    eq_bytes(a, b)
}

/// A line memo slot's bytes: a header (line length u16, unused, whether the slot holds an id
/// and the java flag, the id u32), then the line.
const SLOT: usize = 192;
const SLOT_HEAD: usize = 8;
/// The longest line a slot holds (97% of a real capture's frame lines are this short or shorter).
pub(super) const MEMO_LINE: usize = SLOT - SLOT_HEAD;
/// Slots (4096: 768 KiB, which stays in a core's cache; 8192 and 16384 were slower on real captures).
const SLOTS_LOG2: u32 = 12;

/// Whole frame lines, address included, -> the frame they gave, in a direct-mapped table
/// indexed by the address: most frame lines of a real capture repeat a line seen shortly
/// before (the same call site in the same binary: build capture, 1.95M frame lines, 88k
/// distinct), so a line found here costs a few multiplications and one compare with the slot,
/// instead of finding its parts, hashing the symbol and comparing it in the frame cache. A
/// line that misses replaces the slot's line. Only lines of one frame (or none) are held; the
/// ids stay valid (the sink's names are never dropped).
pub(super) struct LineMemo {
    slots: Vec<u8>,
}

impl LineMemo {
    pub(super) fn new() -> Self {
        LineMemo { slots: Vec::new() }
    }

    #[inline(always)]
    fn slot(line: &[u8]) -> usize {
        // the 16 columns of the address (the caller checks the length)
        let a = u64::from_le_bytes(line[1..9].try_into().unwrap());
        let b = u64::from_le_bytes(line[9..17].try_into().unwrap());
        ((a ^ b.rotate_left(23)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS_LOG2)) as usize * SLOT
    }

    /// Asks for the slot of the line starting `next` (if it looks like a frame line) to be
    /// brought into the cache while the line before it is read: the slot is found from the
    /// address alone, and waiting for it was the memo's main cost.
    #[inline(always)]
    pub(super) fn prefetch(&self, next: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        if next.len() >= 17 && next[0] == b'\t' && !self.slots.is_empty() {
            use std::arch::x86_64::*;
            let p = self.slots[Self::slot(next)..].as_ptr();
            // SAFETY: prefetching never faults; `p` and `p + 64` are inside the slot.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(p.add(64) as *const i8);
            }
        }
    }

    /// The frame (if any) of `line` (a frame line of at least 17 bytes) read with the java
    /// flag `java`, when it is the line the slot holds.
    #[inline(always)]
    pub(super) fn get(&self, line: &[u8], java: bool) -> Option<Option<u32>> {
        if self.slots.is_empty() || line.len() > MEMO_LINE {
            return None;
        }
        let s = &self.slots[Self::slot(line)..][..SLOT];
        let len = u16::from_le_bytes([s[0], s[1]]) as usize;
        if len != line.len() || s[3] >> 1 != java as u8 || !eq_line(&s[SLOT_HEAD..SLOT_HEAD + len], line) {
            return None;
        }
        let id = u32::from_le_bytes(s[4..8].try_into().unwrap());
        Some((s[3] & 1 != 0).then_some(id))
    }

    /// Puts `line` (at least 17 bytes) in its slot.
    #[inline]
    pub(super) fn put(&mut self, line: &[u8], java: bool, id: Option<u32>) {
        if line.len() > MEMO_LINE {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![0; SLOT << SLOTS_LOG2];
        }
        let at = Self::slot(line);
        let s = &mut self.slots[at..at + SLOT];
        s[..2].copy_from_slice(&(line.len() as u16).to_le_bytes());
        s[3] = (java as u8) << 1 | id.is_some() as u8;
        s[4..8].copy_from_slice(&id.unwrap_or(0).to_le_bytes());
        s[SLOT_HEAD..SLOT_HEAD + line.len()].copy_from_slice(line);
    }
}

/// The module memo's slots.
const MEMO: usize = 64;

#[inline(always)]
fn memo_slot(m: &[u8]) -> usize {
    let n = m.len();
    let tail = if n >= 8 { u64::from_le_bytes(m[n - 8..].try_into().unwrap()) } else { m.iter().fold(0u64, |a, &b| a << 8 | b as u64) };
    ((tail ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

/// A record's header in [`FrameCache::records`], before the key's bytes (symbol, then extra):
/// symbol length, module id, extra length, flag, flags, ids start, ids length (u32 each).
const HEAD: usize = 28;

/// Frame key -> the frame ids it gives, without copying the key out of the line to look it
/// up. The table holds only record offsets; a record holds its key and its value together, so
/// that a lookup touches one place in memory past the table (on a real capture, 14k keys: the
/// table stays in cache, the records nearly so). Only a cache: cleared when it grows past a
/// limit.
pub(super) struct FrameCache {
    table: HashTable<u32>,
    records: Vec<u8>,
    pool: Vec<u32>,
    hasher: FixedState,
    /// Modules (few: tens on a real capture) -> ids, through a small direct-mapped memo keyed
    /// on the module's length and last bytes: a key holds the id, not the module's bytes.
    modules: HashTable<u32>,
    module_names: Vec<u8>,
    module_ends: Vec<usize>,
    memo: [u32; MEMO],
}

#[inline(always)]
fn field(r: &[u8], at: usize, k: usize) -> u32 {
    u32::from_le_bytes(r[at + 4 * k..at + 4 * k + 4].try_into().unwrap())
}

impl FrameCache {
    pub(super) fn new() -> Self {
        FrameCache { table: HashTable::new(), records: Vec::new(), pool: Vec::new(), hasher: FixedState::with_seed(11), modules: HashTable::new(), module_names: Vec::new(), module_ends: Vec::new(), memo: [u32::MAX; MEMO] }
    }

    #[inline]
    pub(super) fn hash(&self, k: &FrameKey<'_>) -> u64 {
        frame_hash(&self.hasher, k.flag, k.sym, k.module, k.extra)
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, k: &FrameKey<'_>) -> Option<FrameEntry> {
        let r = &self.records;
        let want = [k.sym.len() as u32, k.module, k.extra.len() as u32, k.flag as u32];
        self.table
            .find(hash, |&at| {
                let at = at as usize;
                let head: [u32; 4] = std::array::from_fn(|i| field(r, at, i));
                if head != want {
                    return false;
                }
                let s = at + HEAD;
                let x = s + k.sym.len();
                eq_bytes(&r[s..x], k.sym) && (k.extra.is_empty() || &r[x..x + k.extra.len()] == k.extra)
            })
            .map(|&at| {
                let at = at as usize;
                FrameEntry { flags: field(r, at, 4) as u8, ids_start: field(r, at, 5), ids_len: field(r, at, 6) }
            })
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
        if self.records.len() > LINE_CACHE_LIMIT {
            // the module ids stay (the key being inserted holds one)
            self.table.clear();
            self.records.clear();
            self.pool.clear();
        }
        let (ids_start, ids_len) = if ids.len() == 1 {
            (ids[0], 1)
        } else {
            let s = self.pool.len() as u32;
            self.pool.extend_from_slice(ids);
            (s, ids.len() as u32)
        };
        let at = self.records.len();
        for v in [k.sym.len() as u32, k.module, k.extra.len() as u32, k.flag as u32, flags as u32, ids_start, ids_len] {
            self.records.extend_from_slice(&v.to_le_bytes());
        }
        self.records.extend_from_slice(k.sym);
        self.records.extend_from_slice(k.extra);
        // records start 4-aligned
        self.records.resize(self.records.len().next_multiple_of(4), 0);
        let FrameCache { table, records, hasher, .. } = self;
        table.insert_unique(hash, at as u32, |&at| {
            let at = at as usize;
            let (sl, m, xl, f) = (field(records, at, 0) as usize, field(records, at, 1), field(records, at, 2) as usize, field(records, at, 3) as u8);
            let s = at + HEAD;
            frame_hash(hasher, f, &records[s..s + sl], m, &records[s + sl..s + sl + xl])
        });
        FrameEntry { flags, ids_start, ids_len }
    }

    fn module_name(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.module_names[if i == 0 { 0 } else { self.module_ends[i - 1] }..self.module_ends[i]]
    }

    /// The id of a module (its bytes between ` (` and `)`).
    #[inline]
    pub(super) fn module(&mut self, m: &[u8]) -> u32 {
        let id = self.memo[memo_slot(m)];
        if id != u32::MAX && eq_bytes(self.module_name(id), m) {
            return id;
        }
        self.module_slow(m)
    }

    #[inline(never)]
    fn module_slow(&mut self, m: &[u8]) -> u32 {
        if self.module_names.len() > LINE_CACHE_LIMIT {
            self.clear(); // ids are forgotten with the keys that hold them
        }
        let hash = self.hasher.hash_one(m);
        let found = {
            let this = &*self;
            this.modules.find(hash, |&i| eq_bytes(this.module_name(i), m)).copied()
        };
        let id = match found {
            Some(i) => i,
            None => {
                let i = self.module_ends.len() as u32;
                self.module_names.extend_from_slice(m);
                self.module_ends.push(self.module_names.len());
                let FrameCache { modules, module_names, module_ends, hasher, .. } = self;
                modules.insert_unique(hash, i, |&j| {
                    let j = j as usize;
                    hasher.hash_one(&module_names[if j == 0 { 0 } else { module_ends[j - 1] }..module_ends[j]])
                });
                i
            }
        };
        self.memo[memo_slot(m)] = id;
        id
    }

    fn clear(&mut self) {
        self.table.clear();
        self.records.clear();
        self.pool.clear();
        self.modules.clear();
        self.module_names.clear();
        self.module_ends.clear();
        self.memo = [u32::MAX; MEMO];
    }
}

#[inline]
fn frame_hash(state: &FixedState, flag: u8, sym: &[u8], module: u32, extra: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = state.build_hasher();
    h.write(sym);
    h.write_u64((module as u64) << 8 | flag as u64);
    if !extra.is_empty() {
        h.write(extra);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    /// The 16-byte compare agrees with `==` at every length and place of a difference.
    #[test]
    fn eq_line_agrees() {
        let a: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        for n in 0..a.len() {
            let x = &a[..n];
            assert!(super::eq_line(x, &a[..n]));
            for at in 0..n {
                let mut y = x.to_vec();
                y[at] ^= 0x20;
                assert!(!super::eq_line(x, &y), "n {n} at {at}");
            }
        }
    }
}
