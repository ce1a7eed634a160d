//! Whole stack texts (`a;b;c`) stored once each, as the ids of their frames: diff's table of
//! both inputs' stacks.

use super::{common_prefix, FrameId, Interner};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A set of stacks (`a;b;c` byte strings), each stored once as the ids of its frames (split at
/// every `;`, empty frames kept), the frame names interned once: far smaller than the texts.
/// Ids are `u32`, in order of first appearance.
pub struct TextStacks {
    frames: Interner,
    ids: Vec<u32>,
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: FixedState,
    /// The last stack interned: its text, the offsets of its `;`, its frame ids and its id
    /// (sorted input shares prefixes).
    prev: Vec<u8>,
    prev_ends: Vec<usize>,
    scratch: Vec<u32>,
    prev_id: u32,
}

impl Default for TextStacks {
    fn default() -> Self {
        Self::new()
    }
}

impl TextStacks {
    pub fn new() -> Self {
        TextStacks {
            frames: Interner::new(),
            ids: Vec::new(),
            ends: Vec::new(),
            table: HashTable::new(),
            hasher: FixedState::with_seed(0x5eed),
            prev: Vec::new(),
            prev_ends: Vec::new(),
            scratch: Vec::new(),
            prev_id: u32::MAX,
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
        // the frames that end (at a `;`) within the part shared with the previous stack are its
        let common = common_prefix(&self.prev, stack);
        if common == stack.len() && common == self.prev.len() && self.prev_id != u32::MAX {
            return self.prev_id;
        }
        let shared = self.prev_ends.partition_point(|&p| p < common);
        self.scratch.truncate(shared);
        self.prev_ends.truncate(shared);
        let mut start = if shared == 0 { 0 } else { self.prev_ends[shared - 1] + 1 };
        loop {
            let end = memchr::memchr(b';', &stack[start..]).map_or(stack.len(), |p| start + p);
            self.scratch.push(self.frames.intern(&stack[start..end]).0);
            if end == stack.len() {
                break;
            }
            self.prev_ends.push(end);
            start = end + 1;
        }
        self.prev.clear();
        self.prev.extend_from_slice(stack);
        let TextStacks { ids, ends, table, hasher, scratch, .. } = self;
        fn slice(ends: &[usize], i: u32) -> std::ops::Range<usize> {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            start..ends[i]
        }
        // sorted input read again (or a second sorted profile like the first) often goes on
        // with the stack after the last one: a look there saves the hash and its cache misses
        let guess = self.prev_id.wrapping_add(1);
        if (guess as usize) < ends.len() && ids[slice(ends, guess)] == scratch[..] {
            self.prev_id = guess;
            return guess;
        }
        let hash = hasher.hash_one(&scratch[..]);
        if let Some(&i) = table.find(hash, |&i| ids[slice(ends, i)] == scratch[..]) {
            self.prev_id = i;
            return i;
        }
        let id = ends.len() as u32;
        ids.extend_from_slice(scratch);
        ends.push(ids.len());
        table.insert_unique(hash, id, |&i| hasher.hash_one(&ids[slice(ends, i)]));
        self.prev_id = id;
        id
    }

    /// Frees what only the interning needs (the table stays readable, and can take more).
    pub fn done(&mut self) {
        self.prev = Vec::new();
        self.prev_ends = Vec::new();
        self.scratch = Vec::new();
        self.prev_id = u32::MAX;
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
    fn stack_table() {
        let texts: Vec<&[u8]> = vec![b"a;b;c", b"a;b", b"a;bc", b"a;b;", b"", b";", b"a;;b", b"ab", b"a", b"a;b;c", b"a;b;c", b"b", b"a;b:c", b"a;b;c;d", b"a;a", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa;b", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa;c;d", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa;c;e", b""];
        let mut t = TextStacks::new();
        let ids: Vec<u32> = texts.iter().map(|s| t.intern(s)).collect();
        for (s, &id) in texts.iter().zip(&ids) {
            assert_eq!(t.get(id), *s);
            assert_eq!(t.intern(s), id);
        }
        assert_eq!((ids[0], ids[0]), (ids[9], ids[10]));
        assert_eq!(ids[4], ids[18]);
        for (x, &a) in texts.iter().zip(&ids) {
            for (y, &b) in texts.iter().zip(&ids) {
                assert_eq!(t.cmp(a, b), x.cmp(y), "{:?} {:?}", x, y);
            }
        }
    }
}
