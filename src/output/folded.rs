//! Folded text (`a;b;c count`, sorted by bytes): rendered from a profile's tables, and read
//! back from folded files (the grammar is `input::folded`'s).

use crate::error::{excerpt, Error, Result, Warning};
use crate::input::folded::{read_stacks, stack_and_count, Num};
use crate::intern::{FrameId, StackId};
use crate::profile::Profile;
use std::io::Read;

/// Folded stacks as text: sorted by bytes, each distinct, with counts. A rendering of a
/// [`Profile`], and the content of the Python `Profile`.
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

    /// The folded text of a profile, moving the text a collapse made out of it (the profile
    /// keeps its tables); rendered from the tables when there is none.
    pub fn take_from(p: &mut Profile) -> Folded {
        match p.take_text() {
            Some((text, ends)) => Folded { text, ends, counts: p.stacks().map(|(_, w)| w).collect() },
            None => Folded::from_profile(p),
        }
    }

    /// The folded text of a profile (already in byte order: no sort).
    pub fn from_profile(p: &Profile) -> Folded {
        if let Some((text, ends)) = p.text() {
            return Folded { text: text.to_vec(), ends: ends.to_vec(), counts: p.stacks().map(|(_, w)| w).collect() };
        }
        let lens: Vec<usize> = p.frames().iter().map(|(_, n)| n.len()).collect();
        let bytes: usize = p.stacks().map(|(s, _)| s.iter().map(|f| lens[f.0 as usize] + 1).sum::<usize>()).sum();
        let mut out = Folded { text: Vec::with_capacity(bytes), ends: Vec::with_capacity(p.len()), counts: Vec::with_capacity(p.len()) };
        for i in 0..p.len() {
            let id = StackId(i as u32);
            p.render(id, &mut out.text);
            out.ends.push(out.text.len());
            out.counts.push(p.weight(id));
        }
        out
    }

    /// The tables of this text: each line's stack split at `;` (so a profile read from a folded
    /// file can be written in another output).
    pub fn to_profile(&self) -> Profile {
        let mut p = Profile::default();
        for (s, c) in self.iter() {
            p.push_sorted(s.split(|&b| b == b';'), c);
        }
        p
    }

    /// Builds from unsorted (stack, count) pairs, which may repeat: sorts by bytes, sums repeats.
    pub fn from_pairs<'a, I>(pairs: I) -> std::result::Result<Folded, Vec<u8>>
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
    pub fn merge(&self, other: &Folded) -> std::result::Result<Folded, Vec<u8>> {
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

    /// The `stack count\n` lines handed to `out` in pieces of about `piece` bytes (see
    /// [`write_pieces`]), so the whole text is never in memory.
    pub fn write_pieces(&self, piece: usize, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut num = itoa::Buffer::new();
        write_pieces(self.iter(), piece, out, |(s, c), buf| {
            buf.extend_from_slice(s);
            buf.push(b' ');
            buf.extend_from_slice(num.format(c).as_bytes());
            buf.push(b'\n');
        })
    }

    pub fn to_text(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.text.len() + self.len() * 12);
        self.write_to(&mut v).expect("writing to a Vec cannot fail");
        v
    }

    /// The parts for pickling: the stacks one after the other, where each ends, and the counts.
    pub fn parts(&self) -> (&[u8], &[usize], &[u64]) {
        (&self.text, &self.ends, &self.counts)
    }

    /// The inverse of [`Folded::parts`]: `None` unless the ends are in the text and the stacks
    /// strictly increasing (sorted, distinct), one count each.
    pub fn from_parts(text: Vec<u8>, ends: Vec<usize>, counts: Vec<u64>) -> Option<Folded> {
        if ends.len() != counts.len() || ends.last().is_some_and(|&e| e != text.len()) || (ends.is_empty() && !text.is_empty()) {
            return None;
        }
        let mut start = 0;
        let mut prev: Option<&[u8]> = None;
        for &end in &ends {
            if end < start {
                return None;
            }
            let s = &text[start..end];
            if prev.is_some_and(|p| p >= s) {
                return None;
            }
            prev = Some(s);
            start = end;
        }
        Some(Folded { text, ends, counts })
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
    pub fn finish(mut self) -> std::result::Result<Folded, Vec<u8>> {
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

fn whole_count(t: &[u8]) -> std::result::Result<(&[u8], u64), String> {
    match stack_and_count(t)? {
        (s, Num::Int(c)) => Ok((s, c)),
        (_, Num::Float(_)) => Err(format!("fractional count (whole numbers only): {}", excerpt(t, 80))),
    }
}

fn add_u64(a: u64, b: u64, stack: &[u8]) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| Error::Overflow { what: format!("the count of stack {}", excerpt(stack, 200)) })
}

/// Reads folded text; bad lines are skipped with a warning naming them.
pub fn read_folded<R: Read>(r: R) -> Result<(Folded, Vec<Warning>)> {
    let (stacks, counts, warnings) = read_stacks(r, whole_count, add_u64)?;
    let mut b = FoldedBuilder::default();
    for (id, &c) in counts.iter().enumerate() {
        b.push(stacks.get(FrameId(id as u32)), c);
    }
    let folded = b.finish().map_err(|s| Error::Overflow { what: format!("the count of stack {}", excerpt(&s, 200)) })?;
    Ok((folded, warnings))
}

/// Reads folded text from a file by path, a block at a time (never mapped): gzip/zstd too.
/// Binary input (a perf.data file) is an error naming the path.
pub fn read_folded_path(path: &std::path::Path) -> Result<(Folded, Vec<Warning>)> {
    let r = crate::input::source::decoding(std::fs::File::open(path)?)?;
    read_folded(crate::collapse::sniffed(r, &path.display().to_string())?.1)
}

/// The size of the pieces folded text is written in (to a file object or a file).
pub const PIECE: usize = 1 << 20;

/// Lines written by `line` (one per item), handed to `out` in pieces of about `piece` bytes,
/// each ending at a line's end (so no character is split).
pub fn write_pieces<T>(items: impl Iterator<Item = T>, piece: usize, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>, mut line: impl FnMut(T, &mut Vec<u8>)) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(piece.min(PIECE) + 1024);
    for item in items {
        line(item, &mut buf);
        if buf.len() >= piece {
            out(&buf)?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        out(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_sorted_merge() {
        let a = Folded::from_pairs([(&b"b;c"[..], 2), (b"a", 1), (b"b;c", 3)]).unwrap();
        assert_eq!(a.to_text(), b"a 1\nb;c 5\n");
        let b = Folded::from_pairs([(&b"a;x"[..], 2), (b"a", 4)]).unwrap();
        assert_eq!(a.merge(&b).unwrap().to_text(), b"a 5\na;x 2\nb;c 5\n");
        assert_eq!(a.total(), 6);
    }

    #[test]
    fn reads_sums_and_warns() {
        let (f, w) = read_folded(&b"b;c 2\na 1\r\nb;c 3\nbad line\n\n# comment\nx 2.0\n"[..]).unwrap();
        assert_eq!(f.to_text(), b"a 1\nb;c 5\nx 2\n");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 4);
        assert!(matches!(read_folded(&b"garbage\n"[..]), Err(Error::Parse { line: 1, .. })));
    }

    #[test]
    fn every_reader_takes_tabs_and_fractions() {
        // every reader takes a tab and a leading-dot fraction
        let (f, w) = read_folded(&b"a;b\t7\nc 1\n"[..]).unwrap();
        assert_eq!((f.to_text(), w.len()), (b"a;b 7\nc 1\n".to_vec(), 0));
        let (_, w) = read_folded(&b"a;b .5\nc 1\nd 99999999999999999999\n"[..]).unwrap();
        assert_eq!(w.iter().map(|w| w.line).collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn by_path() {
        let dir = std::env::temp_dir().join(format!("flamefold-folded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ok, bin) = (dir.join("ok.folded"), dir.join("perf.data"));
        std::fs::write(&ok, b"a;b 2\nc 1\n").unwrap();
        std::fs::write(&bin, b"PERFILE2\0\0\0\x68").unwrap();
        assert_eq!(read_folded_path(&ok).unwrap().0.to_text(), b"a;b 2\nc 1\n");
        let err = read_folded_path(&bin).unwrap_err().to_string();
        assert!(err.contains("perf.data: this is a binary perf.data file: run `perf script -i "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_lines_are_an_error() {
        let mut text = b"a 1\n".to_vec();
        text.extend(std::iter::repeat(b'x').take(crate::input::chunk::MAX_LINE + 10));
        text.extend_from_slice(b" 1\n");
        assert!(matches!(read_folded(&text[..]), Err(Error::Parse { line: 2, .. })));
    }
}
