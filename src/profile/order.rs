//! The kept stacks of a collapse put in the byte order of their rendered text (`a;b;c`), and that
//! text written in order: the longest step after the parallel folding.
//!
//! The stacks are not sorted as text. Each name is cut at its `;` into pieces (a Rust name such
//! as `ErasedData<[u8; 8]>` holds one), and every distinct piece gets two ranks in the byte
//! order of all pieces: as the last piece of a text (the piece alone) and as one followed by
//! more (the piece and a `;`). A stack's key is its pieces' ranks, big-endian, and keys in byte
//! order are the texts in byte order: where two texts first differ, inside a piece or at its
//! end, their pieces' ranks differ the same way, since no piece holds a `;`. Keys are about a
//! tenth of the text (two bytes a frame where a real capture's names average 19), so they sort
//! in the core's cache. On the build capture (38k stacks, 7 MB of text, one thread), rendering
//! the texts and sorting them took 17-18 ms; the ranks, keys and sort take 8-9 ms, and the
//! text, written once in order, is no longer copied.

use std::cmp::Ordering;

/// A stack to order: its frame ids (root first), its count and the length of its text.
pub(super) type Kept<'a> = (&'a [u32], u64, usize);

/// A stack in order: its index in the kept stacks, and whether its text is the one before's
/// (stacks that render alike are one line of folded text).
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub kept: usize,
    pub same: bool,
}

/// Below this many stacks, one thread makes and sorts all keys (a thread costs more).
pub(super) const PARALLEL_MIN: usize = 4096;

/// Frame names by id in one buffer, each followed by a `;` (a stack's text is its names so
/// written, the last `;` dropped), then [`PAD`] bytes more.
#[derive(Default)]
pub(super) struct Names {
    text: Vec<u8>,
    ends: Vec<usize>,
}

/// Names this long or shorter (nearly all) are copied as this many bytes at once, whatever their
/// length: one unaligned load and store instead of a call to `memcpy` per frame.
const PAD: usize = 64;

impl Names {
    /// The names of frames `0..frames`.
    pub fn new<'n>(frames: usize, name: impl Fn(u32) -> &'n [u8]) -> Names {
        let mut n = Names { text: Vec::new(), ends: Vec::with_capacity(frames) };
        for id in 0..frames as u32 {
            n.text.extend_from_slice(name(id));
            n.text.push(b';');
            n.ends.push(n.text.len());
        }
        n.text.extend_from_slice(&[0; PAD]);
        n
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, id: u32) -> usize {
        if id == 0 {
            0
        } else {
            self.ends[id as usize - 1]
        }
    }

    /// A frame's name.
    #[inline]
    pub fn get(&self, id: u32) -> &[u8] {
        &self.text[self.start(id)..self.ends[id as usize] - 1]
    }

    /// A frame's name and a `;`.
    #[inline]
    fn with_semi(&self, id: u32) -> &[u8] {
        &self.text[self.start(id)..self.ends[id as usize]]
    }
}

/// Every frame's key bytes: as a frame followed by more (`more`) and as a stack's last frame
/// (`last`), ranges of `bytes`; and the key of a stack of no frame (its text is one empty
/// piece, as is a stack of one frame named ``).
struct Ranks {
    bytes: Vec<u8>,
    more: Vec<(usize, usize)>,
    last: Vec<(usize, usize)>,
    empty: (usize, usize),
}

/// Whether `p` is `t` and more, the first byte after `t` below `;` (`t` followed by more pieces
/// sorts after `p`).
fn below(p: &[u8], t: &[u8]) -> bool {
    p.len() > t.len() && p[t.len()] < b';' && p.starts_with(t)
}

/// The ranks of the pieces of every name.
fn ranks(names: &Names) -> Ranks {
    // every frame's pieces (ranges of the names' text), one after the other, frame `f`'s from
    // `firsts[f]` on; then the empty stack's one empty piece
    let mut pieces: Vec<(usize, usize, u32)> = Vec::with_capacity(names.len() + 16);
    let mut firsts: Vec<usize> = Vec::with_capacity(names.len() + 1);
    for f in 0..names.len() as u32 {
        firsts.push(pieces.len());
        let (mut from, end) = (names.start(f), names.ends[f as usize] - 1);
        let first = from;
        for semi in memchr::memchr_iter(b';', &names.text[first..end]) {
            pieces.push((from, first + semi, pieces.len() as u32));
            from = first + semi + 1;
        }
        pieces.push((from, end, pieces.len() as u32));
    }
    firsts.push(pieces.len());
    pieces.push((0, 0, pieces.len() as u32));
    let count = pieces.len();
    let order = by_keys(&names.text, pieces, &|_, _| Ordering::Equal);
    // The distinct pieces in order, each ranked alone and followed by more: `p;` sorts after
    // `p` and after every piece that is `p` and more with a first byte below `;` (and their
    // own `;` ranks), before the next piece (no piece holds a `;`). So a piece's second rank is
    // given when the first piece that does not continue it that way comes: a stack of pieces
    // (their text and distinct piece), each continuing the one below it.
    let mut group = vec![0u32; count];
    let mut alone: Vec<u32> = Vec::with_capacity(count);
    let mut more: Vec<u32> = Vec::with_capacity(count);
    let mut open: Vec<(&[u8], usize)> = Vec::new();
    let mut r = 0u32;
    for &(start, end, i) in &order {
        let p = &names.text[start..end];
        if open.last().is_none_or(|&(t, _)| t != p) {
            while let Some(&(t, g)) = open.last() {
                if below(p, t) {
                    break;
                }
                more[g] = r;
                r += 1;
                open.pop();
            }
            alone.push(r);
            more.push(0);
            r += 1;
            open.push((p, alone.len() - 1));
        }
        group[i as usize] = alone.len() as u32 - 1;
    }
    while let Some((_, g)) = open.pop() {
        more[g] = r;
        r += 1;
    }
    let wide = r > u16::MAX as u32 + 1;
    let put = |bytes: &mut Vec<u8>, r: u32| {
        if wide {
            bytes.extend_from_slice(&r.to_be_bytes());
        } else {
            bytes.extend_from_slice(&(r as u16).to_be_bytes());
        }
    };
    let mut ranks = Ranks { bytes: Vec::with_capacity(count * 8), more: Vec::with_capacity(names.len()), last: Vec::with_capacity(names.len()), empty: (0, 0) };
    for f in 0..names.len() {
        let g = &group[firsts[f]..firsts[f + 1]];
        let n = g.len();
        let start = ranks.bytes.len();
        for &k in g {
            put(&mut ranks.bytes, more[k as usize]);
        }
        ranks.more.push((start, ranks.bytes.len()));
        let start = ranks.bytes.len();
        for &k in &g[..n - 1] {
            put(&mut ranks.bytes, more[k as usize]);
        }
        put(&mut ranks.bytes, alone[g[n - 1] as usize]);
        ranks.last.push((start, ranks.bytes.len()));
    }
    let start = ranks.bytes.len();
    put(&mut ranks.bytes, alone[group[count - 1] as usize]);
    ranks.empty = (start, ranks.bytes.len());
    ranks
}

/// The kept stacks in byte order of their text. Stacks with the same text (a name holding `;`
/// renders like two frames) are ordered by the lengths of their names, so which one comes
/// first never depends on the thread count.
pub(super) fn sorted(kept: &[Kept<'_>], names: &Names, threads: usize) -> Vec<Span> {
    let ranks = ranks(names);
    let parts = if threads > 1 && kept.len() >= PARALLEL_MIN { threads.min(4) } else { 1 };
    let per = kept.len().div_ceil(parts).max(1);
    let tie = |a: u32, b: u32| lengths(kept[a as usize].0, kept[b as usize].0, names);
    // a share's keys, one after the other, and its stacks sorted by them: (start, end, kept)
    let share = |p: usize| -> (Vec<u8>, Vec<(usize, usize, u32)>) {
        let lo = (p * per).min(kept.len());
        let hi = (lo + per).min(kept.len());
        let mut keys = Vec::with_capacity(kept[lo..hi].iter().map(|k| k.0.len() * 2 + 8).sum());
        let mut spans = Vec::with_capacity(hi - lo);
        for (i, &(ids, _, _)) in kept[lo..hi].iter().enumerate() {
            let start = keys.len();
            let (a, b) = match ids.split_last() {
                Some((&leaf, rest)) => {
                    for &f in rest {
                        let (a, b) = ranks.more[f as usize];
                        if b - a == 2 {
                            keys.extend_from_slice(&[ranks.bytes[a], ranks.bytes[a + 1]]);
                        } else {
                            keys.extend_from_slice(&ranks.bytes[a..b]);
                        }
                    }
                    ranks.last[leaf as usize]
                }
                None => ranks.empty,
            };
            keys.extend_from_slice(&ranks.bytes[a..b]);
            spans.push((start, keys.len(), (lo + i) as u32));
        }
        let spans = by_keys(&keys, spans, &tie);
        (keys, spans)
    };
    let shares: Vec<(Vec<u8>, Vec<(usize, usize, u32)>)> = if parts == 1 {
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
    // the shares merged: the smallest head each time (a few shares: a scan of the heads)
    let key = |p: usize, s: &(usize, usize, u32)| &shares[p].0[s.0..s.1];
    let mut heads = vec![0usize; shares.len()];
    let mut out: Vec<Span> = Vec::with_capacity(kept.len());
    let mut prev: Option<(usize, (usize, usize, u32))> = None;
    loop {
        let mut best: Option<usize> = None;
        for (p, (_, list)) in shares.iter().enumerate() {
            let Some(s) = list.get(heads[p]) else { continue };
            best = match best {
                Some(b) => {
                    let t = &shares[b].1[heads[b]];
                    if key(p, s).cmp(key(b, t)).then_with(|| tie(s.2, t.2)) == Ordering::Less {
                        Some(p)
                    } else {
                        Some(b)
                    }
                }
                None => Some(p),
            };
        }
        let Some(b) = best else { break };
        let s = shares[b].1[heads[b]];
        heads[b] += 1;
        let same = prev.is_some_and(|(q, t)| key(q, &t) == key(b, &s));
        out.push(Span { kept: s.2 as usize, same });
        prev = Some((b, s));
    }
    out
}

/// Ranges `(start, end, id)` of `keys` sorted by their bytes, equal ones by `tie(id, id)`.
/// Sorted eight bytes at a time, most significant first: the ranges by their next eight bytes
/// (and how many there are), then each run that ties on them by the eight after, so no key is
/// compared from its start again (long common beginnings are the rule: a process's stacks
/// share their first frames).
fn by_keys<T: Fn(u32, u32) -> Ordering>(keys: &[u8], spans: Vec<(usize, usize, u32)>, tie: &T) -> Vec<(usize, usize, u32)> {
    // (the next 8 bytes, zero-padded; how many there are, up to 8; the range)
    let mut items: Vec<(u64, u8, u32)> = (0..spans.len() as u32).map(|i| (0, 0, i)).collect();
    let mut work: Vec<(usize, usize, usize)> = vec![(0, items.len(), 0)];
    while let Some((lo, hi, depth)) = work.pop() {
        let run = &mut items[lo..hi];
        for it in run.iter_mut() {
            let (start, end, _) = spans[it.2 as usize];
            let from = (start + depth).min(end);
            let n = (end - from).min(8);
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&keys[from..from + n]);
            (it.0, it.1) = (u64::from_be_bytes(b), n as u8);
        }
        run.sort_unstable();
        let mut i = 0;
        while i < run.len() {
            let mut j = i + 1;
            while j < run.len() && (run[j].0, run[j].1) == (run[i].0, run[i].1) {
                j += 1;
            }
            if j - i > 1 {
                if run[i].1 == 8 {
                    work.push((lo + i, lo + j, depth + 8));
                } else {
                    // the same keys
                    run[i..j].sort_by(|a, b| tie(spans[a.2 as usize].2, spans[b.2 as usize].2));
                }
            }
            i = j;
        }
    }
    items.iter().map(|it| spans[it.2 as usize]).collect()
}

/// Stacks whose texts are the same, ordered by the lengths of their names, frame by frame.
fn lengths(a: &[u32], b: &[u32], names: &Names) -> Ordering {
    a.iter().map(|&f| names.get(f).len()).cmp(b.iter().map(|&f| names.get(f).len()))
}

/// The texts in order, one copy of each distinct text, and where each ends (`size`: the
/// length of all kept stacks' texts).
pub(super) fn text_in_order(kept: &[Kept<'_>], spans: &[Span], names: &Names, size: usize) -> (Vec<u8>, Vec<usize>) {
    let mut text: Vec<u8> = Vec::with_capacity(size + 1 + PAD);
    let mut ends = Vec::with_capacity(spans.len());
    for s in spans.iter().filter(|s| !s.same) {
        let ids = kept[s.kept].0;
        for &id in ids {
            let (from, to) = (names.start(id), names.ends[id as usize]);
            if to - from <= PAD && text.capacity() - text.len() >= PAD {
                // SAFETY: `names.text` holds PAD bytes from `from` on (it ends with PAD bytes
                // after its last name), `text` has room for PAD more; the `to - from` bytes
                // copied first are the name and its `;`, and only they join the text.
                unsafe {
                    std::ptr::copy_nonoverlapping(names.text.as_ptr().add(from), text.as_mut_ptr().add(text.len()), PAD);
                    text.set_len(text.len() + to - from);
                }
            } else {
                text.extend_from_slice(names.with_semi(id));
            }
        }
        if !ids.is_empty() {
            text.pop();
        }
        ends.push(text.len());
    }
    (text, ends)
}

/// Writes a stack's text (`a;b;c`) into `out`.
pub(super) fn render(ids: &[u32], names: &Names, out: &mut Vec<u8>) {
    for (n, &id) in ids.iter().enumerate() {
        if n > 0 {
            out.push(b';');
        }
        out.extend_from_slice(names.get(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random stacks over `names`: the order and the `same` marks of [`sorted`] at 1 to 8
    /// threads are those of sorting the rendered texts (ties by name lengths).
    fn check(names: &[Vec<u8>], stacks: usize, max_depth: u64, seed: u64, alike: bool) {
        let name = |id: u32| &names[id as usize][..];
        let table = Names::new(names.len(), name);
        let mut seed = seed;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let stacks: Vec<Vec<u32>> = (0..stacks).map(|_| (0..next(max_depth + 1)).map(|_| next(names.len() as u64) as u32).collect()).collect();
        let kept: Vec<Kept<'_>> = stacks.iter().map(|s| (&s[..], 1, s.iter().map(|&f| name(f).len()).sum::<usize>() + s.len().saturating_sub(1))).collect();
        let text = |ids: &[u32]| {
            let mut t = Vec::new();
            render(ids, &table, &mut t);
            t
        };
        let lens = |ids: &[u32]| ids.iter().map(|&f| name(f).len()).collect::<Vec<_>>();
        // the reference: texts sorted, ties by name lengths; each stack's names kept to compare
        let mut want: Vec<(Vec<u8>, Vec<usize>, Vec<Vec<u8>>)> = stacks.iter().map(|s| (text(s), lens(s), s.iter().map(|&f| name(f).to_vec()).collect())).collect();
        want.sort();
        assert!(!alike || want.windows(2).any(|w| w[0].0 == w[1].0 && w[0].2 != w[1].2), "the test has no stacks that render alike");
        for threads in [1, 2, 3, 8] {
            let spans = sorted(&kept, &table, threads);
            assert_eq!(spans.len(), kept.len());
            let got: Vec<_> = spans.iter().map(|s| (text(kept[s.kept].0), lens(kept[s.kept].0), kept[s.kept].0.iter().map(|&f| name(f).to_vec()).collect::<Vec<_>>())).collect();
            // stacks that tie (the same text and name lengths) have the same names: any order
            let key = |v: &[(Vec<u8>, Vec<usize>, Vec<Vec<u8>>)]| v.iter().map(|(t, l, _)| (t.clone(), l.clone())).collect::<Vec<_>>();
            let (g, w) = (key(&got), key(&want));
            if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
                panic!("{threads} threads: first difference at {i} of {}: got {:?} want {:?}; before {:?}", g.len(), g[i], w[i], &w[i.saturating_sub(1)]);
            }
            for (i, s) in spans.iter().enumerate() {
                assert_eq!(s.same, i > 0 && got[i].0 == got[i - 1].0, "{threads} threads, stack {i}");
            }
            let (all, ends) = text_in_order(&kept, &spans, &table, kept.iter().map(|k| k.2).sum());
            let mut distinct: Vec<&[u8]> = want.iter().map(|w| &w.0[..]).collect();
            distinct.dedup();
            let starts = std::iter::once(0).chain(ends.iter().copied());
            assert_eq!(starts.zip(ends.iter()).map(|(a, &b)| &all[a..b]).collect::<Vec<_>>(), distinct);
        }
    }

    /// Names that are prefixes of one another, hold `;` (leading, trailing, doubled), bytes
    /// below and above `;`, NUL, or nothing; and names longer than [`PAD`].
    #[test]
    fn byte_order_of_the_texts_at_every_thread_count() {
        let names: Vec<Vec<u8>> = [
            &b"a"[..], b"a;b", b"b", b"a!", b"a.cold", b"ab", b"", b"main", b"x;y;z", b"y", b"a;", b";a", b";;", b"a\0", b"a\xff",
            b"foo", b"foo::bar", b"foo;", b"foo<[u8; 8]>", b"foo<[u8; 32]>", b"foo<", b"z",
        ]
        .iter()
        .map(|n| n.to_vec())
        .chain([b"long::".repeat(20), [&b"long::"[..]; 10].join(&b";"[..]), b"x".repeat(63), b"x".repeat(64)])
        .collect();
        check(&names, 3 * PARALLEL_MIN, 6, 7, true);
        check(&names, 50, 3, 11, false);
    }

    /// More piece ranks than two bytes hold: four-byte keys, the same order.
    #[test]
    fn many_names() {
        let mut names: Vec<Vec<u8>> = (0..40_000u32).map(|i| format!("f{}", i.wrapping_mul(2654435761) % 1_000_000).into_bytes()).collect();
        names.extend([&b"f1"[..], b"f1;", b"f1;f1", b"f", b""].iter().map(|n| n.to_vec()));
        let r = ranks(&Names::new(names.len(), |id| &names[id as usize][..]));
        assert_eq!(r.more[0].1 - r.more[0].0, 4, "four-byte ranks");
        check(&names, 2 * PARALLEL_MIN, 5, 3, false);
    }
}
