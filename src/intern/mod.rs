//! Typed ids over byte-string tables: every distinct frame name is stored once.
//!
//! The tables every stage fills: [`Interner`] (frame names, [`FrameId`]), [`table::StackTable`]
//! (stacks as id sequences -> summed weights, [`StackId`]) and [`texts::TextStacks`] (whole `a;b;c`
//! texts stored as frame ids, for diff). DESIGN.md puts them in `profile/`; they sit here, below
//! `collapse/`, because every collapser's `Sink` fills them while `profile/` reads collapsed
//! sinks: in `profile/` they would make `collapse` <-> `profile` a cycle.

pub mod table;
pub mod texts;

pub use table::StackTable;
pub use texts::TextStacks;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Index of an interned byte string (a frame name, a process name or an event name).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(pub u32);

/// Index of a stack in a [`StackTable`] or a [`crate::profile::Profile`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(pub u32);

/// A set of byte strings, each stored once in one arena, addressed by [`FrameId`].
pub struct Interner {
    table: HashTable<u32>,
    arena: Vec<u8>,
    ends: Vec<usize>,
    hasher: FixedState,
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
pub fn hash_bytes(state: &FixedState, bytes: &[u8]) -> u64 {
    state.hash_one(bytes)
}

/// `a == b` for the short byte strings of the hot paths (frame keys, names, stacks): inline
/// word compares, no call to `memcmp`.
#[inline(always)]
pub fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        if n >= 4 {
            let x = u32::from_le_bytes(a[..4].try_into().unwrap()) ^ u32::from_le_bytes(b[..4].try_into().unwrap());
            let y = u32::from_le_bytes(a[n - 4..].try_into().unwrap()) ^ u32::from_le_bytes(b[n - 4..].try_into().unwrap());
            return x | y == 0;
        }
        return a == b;
    }
    let mut i = 0;
    while i + 8 < n {
        if u64::from_le_bytes(a[i..i + 8].try_into().unwrap()) != u64::from_le_bytes(b[i..i + 8].try_into().unwrap()) {
            return false;
        }
        i += 8;
    }
    // the last word, overlapping the one before
    u64::from_le_bytes(a[n - 8..].try_into().unwrap()) == u64::from_le_bytes(b[n - 8..].try_into().unwrap())
}

/// `a == b` for id sequences, as [`eq_bytes`].
#[inline(always)]
pub fn eq_ids(a: &[u32], b: &[u32]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 2 <= n {
        let x = (a[i] as u64) | (a[i + 1] as u64) << 32;
        let y = (b[i] as u64) | (b[i + 1] as u64) << 32;
        if x != y {
            return false;
        }
        i += 2;
    }
    i == n || a[i] == b[i]
}

/// The length of the common prefix of `a` and `b`.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 16 <= n {
        let x = u128::from_le_bytes(a[i..i + 16].try_into().unwrap());
        let y = u128::from_le_bytes(b[i..i + 16].try_into().unwrap());
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 16;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl Interner {
    pub fn new() -> Self {
        Interner { table: HashTable::new(), arena: Vec::new(), ends: Vec::new(), hasher: FixedState::with_seed(0x5eed) }
    }

    #[inline]
    pub fn get(&self, id: FrameId) -> &[u8] {
        let i = id.0 as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id of `bytes`, adding it when new.
    #[inline]
    pub fn intern(&mut self, bytes: &[u8]) -> FrameId {
        let hash = hash_bytes(&self.hasher, bytes);
        let Interner { table, arena, ends, hasher } = self;
        let found = table.find(hash, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            eq_bytes(&arena[start..ends[i]], bytes)
        });
        if let Some(&i) = found {
            return FrameId(i);
        }
        let id = ends.len() as u32;
        arena.extend_from_slice(bytes);
        ends.push(arena.len());
        table.insert_unique(hash, id, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            hash_bytes(hasher, &arena[start..ends[i]])
        });
        FrameId(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (FrameId, &[u8])> {
        (0..self.len()).map(move |i| (FrameId(i as u32), self.get(FrameId(i as u32))))
    }

    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * 8 + self.table.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_id() {
        let mut i = Interner::new();
        let a = i.intern(b"main");
        let b = i.intern(b"foo");
        assert_ne!(a, b);
        assert_eq!(i.intern(b"main"), a);
        assert_eq!(i.get(b), b"foo");
        assert_eq!(i.len(), 2);
        assert_eq!(i.intern(b""), FrameId(2));
        assert_eq!(i.get(FrameId(2)), b"");
    }
}
