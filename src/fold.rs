//! Folding: a table from stacks (sequences of ids) to their summed counts, merged at the end.

use crate::intern::{hash_bytes, Interner};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Distinct id sequences with a `u64` count each.
pub struct StackTable {
    table: HashTable<u32>,
    ids: Vec<u32>,
    ends: Vec<usize>,
    counts: Vec<u64>,
    hasher: FixedState,
}

impl Default for StackTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StackTable {
    pub fn new() -> Self {
        StackTable { table: HashTable::new(), ids: Vec::new(), ends: Vec::new(), counts: Vec::new(), hasher: FixedState::with_seed(0xf01d) }
    }

    #[inline]
    fn key(ends: &[usize], i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        start..ends[i]
    }

    /// Adds `count` to `key`. Returns false when the sum would overflow `u64` (nothing is added).
    #[inline]
    pub fn add(&mut self, key: &[u32], count: u64) -> bool {
        let hash = self.hasher.hash_one(key);
        let StackTable { table, ids, ends, counts, hasher } = self;
        if let Some(&i) = table.find(hash, |&i| &ids[Self::key(ends, i as usize)] == key) {
            let c = &mut counts[i as usize];
            match c.checked_add(count) {
                Some(v) => {
                    *c = v;
                    true
                }
                None => false,
            }
        } else {
            let i = ends.len() as u32;
            ids.extend_from_slice(key);
            ends.push(ids.len());
            counts.push(count);
            table.insert_unique(hash, i, |&j| hasher.hash_one(&ids[Self::key(ends, j as usize)]));
            true
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u32], u64)> {
        (0..self.len()).map(move |i| (&self.ids[Self::key(&self.ends, i)], self.counts[i]))
    }

    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 4 + self.ends.capacity() * 8 + self.counts.capacity() * 8 + self.table.capacity() * 4
    }
}

/// Folded stacks as text: sorted by bytes, each distinct, with counts. The result of every
/// collapse and the content of a `Profile`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    text: Vec<u8>,
    ends: Vec<usize>,
    counts: Vec<u64>,
}

impl Folded {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    #[inline]
    pub fn stack(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn count(&self, i: usize) -> u64 {
        self.counts[i]
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        (0..self.len()).map(move |i| (self.stack(i), self.counts[i]))
    }

    /// Sum of all counts (u128: a sum of u64 counts cannot overflow it).
    pub fn total(&self) -> u128 {
        self.counts.iter().map(|&c| c as u128).sum()
    }

    /// Builds from unsorted (stack, count) pairs, which may repeat: sorts by bytes, sums repeats.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Folded, Vec<u8>>
    where
        I: IntoIterator<Item = (&'a [u8], u64)>,
    {
        let mut b = FoldedBuilder::default();
        for (s, c) in pairs {
            b.push(s, c);
        }
        b.finish()
    }

    /// Merges two folded profiles (both sorted): counts of equal stacks add up.
    pub fn merge(&self, other: &Folded) -> Result<Folded, Vec<u8>> {
        let mut out = Folded::default();
        let (mut i, mut j) = (0, 0);
        while i < self.len() || j < other.len() {
            let take = if i == self.len() {
                std::cmp::Ordering::Greater
            } else if j == other.len() {
                std::cmp::Ordering::Less
            } else {
                self.stack(i).cmp(other.stack(j))
            };
            match take {
                std::cmp::Ordering::Less => {
                    out.push_sorted(self.stack(i), self.counts[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push_sorted(other.stack(j), other.counts[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    let c = self.counts[i].checked_add(other.counts[j]).ok_or_else(|| self.stack(i).to_vec())?;
                    out.push_sorted(self.stack(i), c);
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(out)
    }

    fn push_sorted(&mut self, stack: &[u8], count: u64) {
        self.text.extend_from_slice(stack);
        self.ends.push(self.text.len());
        self.counts.push(count);
    }

    /// Writes `stack count\n` lines.
    pub fn write_to<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        let mut buf = itoa::Buffer::new();
        let mut line = Vec::with_capacity(256);
        for (s, c) in self.iter() {
            line.clear();
            line.extend_from_slice(s);
            line.push(b' ');
            line.extend_from_slice(buf.format(c).as_bytes());
            line.push(b'\n');
            w.write_all(&line)?;
        }
        Ok(())
    }

    pub fn to_text(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.text.len() + self.len() * 12);
        self.write_to(&mut v).expect("writing to a Vec cannot fail");
        v
    }

    /// The parts for pickling: stacks joined by '\n' and the counts.
    pub fn parts(&self) -> (&[u8], &[usize], &[u64]) {
        (&self.text, &self.ends, &self.counts)
    }
}

/// Collects (stack, count) pairs in any order into a sorted, deduplicated [`Folded`].
#[derive(Default)]
pub struct FoldedBuilder {
    text: Vec<u8>,
    spans: Vec<(usize, usize, u64)>,
}

impl FoldedBuilder {
    pub fn push(&mut self, stack: &[u8], count: u64) {
        let start = self.text.len();
        self.text.extend_from_slice(stack);
        self.spans.push((start, self.text.len(), count));
    }

    /// Sorts and sums; on overflow returns the stack whose count overflowed.
    pub fn finish(mut self) -> Result<Folded, Vec<u8>> {
        let text = std::mem::take(&mut self.text);
        self.spans.sort_unstable_by(|a, b| text[a.0..a.1].cmp(&text[b.0..b.1]));
        let mut out = Folded { text: Vec::with_capacity(text.len()), ends: Vec::with_capacity(self.spans.len()), counts: Vec::with_capacity(self.spans.len()) };
        for &(s, e, c) in &self.spans {
            let stack = &text[s..e];
            if !out.is_empty() && out.stack(out.len() - 1) == stack {
                let last = out.counts.last_mut().unwrap();
                *last = last.checked_add(c).ok_or_else(|| stack.to_vec())?;
            } else {
                out.push_sorted(stack, c);
            }
        }
        Ok(out)
    }
}

/// Byte-string set used by the merge step; re-exported for the folded reader.
pub fn hash_of(state: &FixedState, b: &[u8]) -> u64 {
    hash_bytes(state, b)
}

/// Renders an id sequence as `name;name;...` into `out`.
pub fn render(names: &Interner, ids: &[u32], out: &mut Vec<u8>) {
    for (k, &id) in ids.iter().enumerate() {
        if k > 0 {
            out.push(b';');
        }
        out.extend_from_slice(names.get(crate::intern::FrameId(id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sums_and_sorts() {
        let mut t = StackTable::new();
        assert!(t.add(&[1, 2, 3], 5));
        assert!(t.add(&[1, 2], 1));
        assert!(t.add(&[1, 2, 3], 7));
        let v: Vec<_> = t.iter().map(|(k, c)| (k.to_vec(), c)).collect();
        assert_eq!(v, vec![(vec![1, 2, 3], 12), (vec![1, 2], 1)]);
        assert!(!t.add(&[1, 2], u64::MAX));
    }

    #[test]
    fn folded_sorted_merge() {
        let a = Folded::from_pairs([(&b"b;c"[..], 2), (b"a", 1), (b"b;c", 3)]).unwrap();
        assert_eq!(a.to_text(), b"a 1\nb;c 5\n");
        let b = Folded::from_pairs([(&b"a;x"[..], 2), (b"a", 4)]).unwrap();
        assert_eq!(a.merge(&b).unwrap().to_text(), b"a 5\na;x 2\nb;c 5\n");
        assert_eq!(a.total(), 6);
    }
}
