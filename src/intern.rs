//! Typed ids over byte-string tables: every distinct frame name is stored once.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Index of an interned byte string (a frame name, a process name or an event name).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(pub u32);

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
            &arena[start..ends[i]] == bytes
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

/// A set of stacks (`a;b;c` byte strings), each stored once as the ids of its frames (split at
/// every `;`, empty frames kept), the frame names interned once: far smaller than the texts.
/// Ids are `u32`, in order of first appearance.
pub struct StackTable {
    frames: Interner,
    ids: Vec<u32>,
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: FixedState,
    /// The last stack interned, as text and as frame ids (sorted input shares prefixes).
    prev: Vec<u8>,
    scratch: Vec<u32>,
}

impl Default for StackTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StackTable {
    pub fn new() -> Self {
        StackTable {
            frames: Interner::new(),
            ids: Vec::new(),
            ends: Vec::new(),
            table: HashTable::new(),
            hasher: FixedState::with_seed(0x5eed),
            prev: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    #[inline]
    fn frames_of(&self, id: u32) -> &[u32] {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.ids[start..self.ends[i]]
    }

    /// The id of `stack`, adding it when new.
    pub fn intern(&mut self, stack: &[u8]) -> u32 {
        // the frames before the last `;` of the part shared with the previous stack are its frames
        let common = self.prev.iter().zip(stack).take_while(|(a, b)| a == b).count();
        let shared = memchr::memchr_iter(b';', &stack[..common]).count();
        self.scratch.truncate(shared);
        let mut start = match shared {
            0 => 0,
            _ => memchr::memchr_iter(b';', &stack[..common]).nth(shared - 1).unwrap() + 1,
        };
        loop {
            let end = memchr::memchr(b';', &stack[start..]).map_or(stack.len(), |p| start + p);
            self.scratch.push(self.frames.intern(&stack[start..end]).0);
            if end == stack.len() {
                break;
            }
            start = end + 1;
        }
        self.prev.clear();
        self.prev.extend_from_slice(stack);
        let StackTable { ids, ends, table, hasher, scratch, .. } = self;
        let hash = hasher.hash_one(&scratch[..]);
        fn slice(ends: &[usize], i: u32) -> std::ops::Range<usize> {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            start..ends[i]
        }
        if let Some(&i) = table.find(hash, |&i| ids[slice(ends, i)] == scratch[..]) {
            return i;
        }
        let id = ends.len() as u32;
        ids.extend_from_slice(scratch);
        ends.push(ids.len());
        table.insert_unique(hash, id, |&i| hasher.hash_one(&ids[slice(ends, i)]));
        id
    }

    /// Frees what only the interning needs (the table stays readable, and can take more).
    pub fn done(&mut self) {
        self.prev = Vec::new();
        self.scratch = Vec::new();
        self.ids.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// Appends the text of stack `id` to `out`.
    pub fn write(&self, id: u32, out: &mut Vec<u8>) {
        for (k, &f) in self.frames_of(id).iter().enumerate() {
            if k > 0 {
                out.push(b';');
            }
            out.extend_from_slice(self.frames.get(FrameId(f)));
        }
    }

    /// The text of stack `id`.
    pub fn get(&self, id: u32) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(id, &mut v);
        v
    }

    /// Stacks `a` and `b` compared as their texts are, byte by byte.
    pub fn cmp(&self, a: u32, b: u32) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let (fa, fb) = (self.frames_of(a), self.frames_of(b));
        // equal leading frames are equal leading bytes (with their `;`)
        let k = fa.iter().zip(fb).take_while(|(x, y)| x == y).count();
        match (fa.get(k), fb.get(k)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(&x), Some(&y)) => {
                // the texts go on with `frame;rest` (or `frame` at the end); frames hold no `;`
                let (x, y) = (self.frames.get(FrameId(x)), self.frames.get(FrameId(y)));
                let n = x.len().min(y.len());
                match x[..n].cmp(&y[..n]) {
                    Ordering::Equal => {
                        let next = |f: &[u8], more: bool| if f.len() > n { Some(f[n]) } else if more { Some(b';') } else { None };
                        next(x, k + 1 < fa.len()).cmp(&next(y, k + 1 < fb.len()))
                    }
                    o => o,
                }
            }
        }
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

    #[test]
    fn stack_table() {
        let texts: Vec<&[u8]> = vec![b"a;b;c", b"a;b", b"a;bc", b"a;b;", b"", b";", b"a;;b", b"ab", b"a", b"a;b;c", b"b", b"a;b:c", b"a;b;c;d", b"a;a"];
        let mut t = StackTable::new();
        let ids: Vec<u32> = texts.iter().map(|s| t.intern(s)).collect();
        for (s, &id) in texts.iter().zip(&ids) {
            assert_eq!(t.get(id), *s);
            assert_eq!(t.intern(s), id);
        }
        assert_eq!(ids[0], ids[9]);
        for (x, &a) in texts.iter().zip(&ids) {
            for (y, &b) in texts.iter().zip(&ids) {
                assert_eq!(t.cmp(a, b), x.cmp(y), "{:?} {:?}", x, y);
            }
        }
    }
}
