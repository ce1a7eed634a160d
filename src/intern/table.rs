//! Folding: a table from stacks (sequences of ids) to their summed counts, merged at the end.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Distinct id sequences with a `u64` count each. Each stack is one record in `recs` (its
/// length, its count as two halves, its ids), so that a lookup touches the table and one place
/// past it (a real capture's 150k stacks outgrow the caches: separate key, end and count arrays
/// cost a miss each).
pub struct StackTable {
    /// Record offsets in `recs` (in `u32`s: 16 GiB of records at most).
    table: HashTable<u32>,
    recs: Vec<u32>,
    len: usize,
    hasher: FixedState,
}

impl Default for StackTable {
    fn default() -> Self {
        Self::new()
    }
}

const HEAD: usize = 3;

impl StackTable {
    pub fn new() -> Self {
        StackTable { table: HashTable::new(), recs: Vec::new(), len: 0, hasher: FixedState::with_seed(0xf01d) }
    }

    #[inline(always)]
    fn ids_at(recs: &[u32], o: usize) -> &[u32] {
        let n = recs[o] as usize;
        &recs[o + HEAD..o + HEAD + n]
    }

    /// Adds `count` to `key`. Returns false when the sum would overflow `u64` (nothing is
    /// added), or the table would pass 16 GiB.
    #[inline]
    pub fn add(&mut self, key: &[u32], count: u64) -> bool {
        let hash = self.hasher.hash_one(key);
        let StackTable { table, recs, len, hasher } = self;
        if let Some(&o) = table.find(hash, |&o| super::eq_ids(Self::ids_at(recs, o as usize), key)) {
            let o = o as usize;
            let c = (recs[o + 1] as u64 | (recs[o + 2] as u64) << 32).checked_add(count);
            match c {
                Some(v) => {
                    recs[o + 1] = v as u32;
                    recs[o + 2] = (v >> 32) as u32;
                    true
                }
                None => false,
            }
        } else {
            let o = recs.len();
            if o + HEAD + key.len() > u32::MAX as usize {
                return false;
            }
            recs.extend_from_slice(&[key.len() as u32, count as u32, (count >> 32) as u32]);
            recs.extend_from_slice(key);
            *len += 1;
            table.insert_unique(hash, o as u32, |&j| hasher.hash_one(Self::ids_at(recs, j as usize)));
            true
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The stacks and their counts, in the order they were first added.
    pub fn iter(&self) -> impl Iterator<Item = (&[u32], u64)> {
        let mut o = 0;
        std::iter::from_fn(move || {
            if o >= self.recs.len() {
                return None;
            }
            let r = &self.recs;
            let n = r[o] as usize;
            let item = (&r[o + HEAD..o + HEAD + n], r[o + 1] as u64 | (r[o + 2] as u64) << 32);
            o += HEAD + n;
            Some(item)
        })
    }

    pub fn heap_bytes(&self) -> usize {
        self.recs.capacity() * 4 + self.table.capacity() * 4
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
