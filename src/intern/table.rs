//! Folding: a table from stacks (sequences of ids) to their summed counts, merged at the end.

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
        if let Some(&i) = table.find(hash, |&i| super::eq_ids(&ids[Self::key(ends, i as usize)], key)) {
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
}
