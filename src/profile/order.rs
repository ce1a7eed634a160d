//! The kept stacks of a collapse rendered (`a;b;c`) and put in the byte order of that text, on
//! several threads when there are many: each thread renders and sorts a share, and the sorted
//! shares are merged. This is the longest step after the parallel folding (on a real capture,
//! 38k stacks and 7 MB of text, render and sort took 17-20 ms of about 0.16 s on two cores).

use std::cmp::Ordering;

/// A stack to order: its frame ids (root first), its count and the length of its text.
pub(super) type Kept<'a> = (&'a [u32], u64, usize);

/// A stack in order: the share whose text holds it and where, its index in the kept stacks,
/// and whether its text is the one before's (stacks that render alike are one line of folded
/// text).
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub part: usize,
    pub start: usize,
    pub end: usize,
    pub kept: usize,
    pub same: bool,
}

/// Below this many stacks, one thread renders and sorts them all (a thread costs more).
pub(super) const PARALLEL_MIN: usize = 4096;

/// The kept stacks' texts (one buffer per share) and the stacks in byte order of their text.
/// Stacks with the same text (a name holding `;` renders like two frames) are ordered by the
/// lengths of their names, so which one comes first never depends on the thread count.
pub(super) fn sorted<'n, N>(kept: &[Kept<'_>], name: &N, threads: usize) -> (Vec<Vec<u8>>, Vec<Span>)
where
    N: Fn(u32) -> &'n [u8] + Sync,
{
    let parts = if threads > 1 && kept.len() >= PARALLEL_MIN { threads.min(4) } else { 1 };
    let per = kept.len().div_ceil(parts).max(1);
    let share = |p: usize| -> (Vec<u8>, Vec<Span>) {
        let lo = (p * per).min(kept.len());
        let hi = (lo + per).min(kept.len());
        // the buffer allocated once at its size (grown by doubling, its pages were touched
        // twice over: page faults cost as much as the copying)
        let mut text = Vec::with_capacity(kept[lo..hi].iter().map(|k| k.2).sum());
        let mut spans = Vec::with_capacity(hi - lo);
        for (i, &(ids, _, _)) in kept[lo..hi].iter().enumerate() {
            let start = text.len();
            for (n, &id) in ids.iter().enumerate() {
                if n > 0 {
                    text.push(b';');
                }
                text.extend_from_slice(name(id));
            }
            spans.push(Span { part: p, start, end: text.len(), kept: lo + i, same: false });
        }
        spans.sort_unstable_by(|a, b| order(&text[a.start..a.end], &text[b.start..b.end], kept[a.kept].0, kept[b.kept].0, name));
        (text, spans)
    };
    let shares: Vec<(Vec<u8>, Vec<Span>)> = if parts == 1 {
        vec![share(0)]
    } else {
        std::thread::scope(|s| {
            let share = &share;
            let others: Vec<_> = (1..parts).map(|p| s.spawn(move || share(p))).collect();
            let mut all = vec![share(0)];
            all.extend(others.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
            all
        })
    };
    let (texts, mut lists): (Vec<Vec<u8>>, Vec<Vec<Span>>) = shares.into_iter().unzip();
    let text = |s: &Span| &texts[s.part][s.start..s.end];
    let mut out = if lists.len() == 1 { lists.pop().unwrap_or_default() } else { merged(&lists, kept, &text, name) };
    for i in 1..out.len() {
        out[i].same = text(&out[i]) == text(&out[i - 1]);
    }
    (texts, out)
}

/// The sorted shares merged: the smallest head each time (a few shares: a scan of the heads).
fn merged<'t, 'n, T, N>(lists: &[Vec<Span>], kept: &[Kept<'_>], text: &T, name: &N) -> Vec<Span>
where
    T: Fn(&Span) -> &'t [u8],
    N: Fn(u32) -> &'n [u8],
{
    let mut heads = vec![0usize; lists.len()];
    let mut out = Vec::with_capacity(kept.len());
    loop {
        let mut best: Option<usize> = None;
        for (l, list) in lists.iter().enumerate() {
            let Some(s) = list.get(heads[l]) else { continue };
            best = match best {
                Some(b) => {
                    let t = &lists[b][heads[b]];
                    if order(text(s), text(t), kept[s.kept].0, kept[t.kept].0, name) == Ordering::Less {
                        Some(l)
                    } else {
                        Some(b)
                    }
                }
                None => Some(l),
            };
        }
        let Some(b) = best else { break };
        out.push(lists[b][heads[b]]);
        heads[b] += 1;
    }
    out
}

/// The texts in order, one copy of each distinct text, and where each ends.
pub(super) fn text_in_order(texts: &[Vec<u8>], spans: &[Span], size: usize) -> (Vec<u8>, Vec<usize>) {
    let mut text = Vec::with_capacity(size);
    let mut ends = Vec::with_capacity(spans.len());
    for s in spans.iter().filter(|s| !s.same) {
        text.extend_from_slice(&texts[s.part][s.start..s.end]);
        ends.push(text.len());
    }
    (text, ends)
}

/// Byte order of the texts; equal texts (rare) by the lengths of their names, frame by frame.
#[inline]
fn order<'n, N: Fn(u32) -> &'n [u8]>(a: &[u8], b: &[u8], ia: &[u32], ib: &[u32], name: &N) -> Ordering {
    a.cmp(b).then_with(|| ia.iter().map(|&f| name(f).len()).cmp(ib.iter().map(|&f| name(f).len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many stacks over names that are prefixes of one another, hold `;` or bytes below `;`:
    /// the same order at every thread count, by bytes, ties (the same text) by name lengths.
    #[test]
    fn same_order_at_every_thread_count() {
        let names: Vec<&[u8]> = vec![b"a", b"a;b", b"b", b"a!", b"a.cold", b"ab", b"", b"main", b"x;y;z", b"y"];
        let name = |id: u32| names[id as usize];
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let stacks: Vec<Vec<u32>> = (0..3 * PARALLEL_MIN).map(|_| (0..1 + next(6)).map(|_| next(names.len() as u64) as u32).collect()).collect();
        let kept: Vec<Kept<'_>> = stacks.iter().map(|s| (&s[..], 1, s.iter().map(|&f| name(f).len()).sum::<usize>() + s.len() - 1)).collect();
        let run = |threads| {
            let (texts, spans) = sorted(&kept, &name, threads);
            assert_eq!(spans.len(), kept.len());
            spans.iter().map(|s| (texts[s.part][s.start..s.end].to_vec(), kept[s.kept].0.to_vec())).collect::<Vec<_>>()
        };
        let one = run(1);
        for w in one.windows(2) {
            assert!(w[0].0 <= w[1].0, "not in byte order: {:?} {:?}", w[0], w[1]);
            if w[0].0 == w[1].0 {
                let lens = |ids: &[u32]| ids.iter().map(|&f| name(f).len()).collect::<Vec<_>>();
                assert!(lens(&w[0].1) <= lens(&w[1].1));
            }
        }
        assert!(one.windows(2).any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1), "the test has no ties");
        for threads in [2, 3, 4, 8] {
            let got = run(threads);
            // ties with the same name lengths render alike frame by frame: the same names
            let key = |v: &Vec<(Vec<u8>, Vec<u32>)>| v.iter().map(|(t, ids)| (t.clone(), ids.iter().map(|&f| name(f).to_vec()).collect::<Vec<_>>())).collect::<Vec<_>>();
            assert_eq!(key(&got), key(&one), "{threads} threads");
        }
    }
}
