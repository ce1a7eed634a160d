//! difffolded.pl: two profiles -> `stack before after` for every stack of either, in byte order.

use crate::error::{Result, Warning};
pub use crate::input::folded::Num;
use crate::intern::TextStacks as StackTable;
use crate::output::folded::Folded;
use std::io::Read;

/// `0x` + hex digits -> `0x...` (difffolded.pl's -s).
pub fn strip_hex(stack: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < stack.len() {
        if stack[i] == b'0' && stack.get(i + 1) == Some(&b'x') && stack.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit()) {
            out.extend_from_slice(b"0x...");
            i += 2;
            while i < stack.len() && stack[i].is_ascii_hexdigit() {
                i += 1;
            }
        } else {
            out.push(stack[i]);
            i += 1;
        }
    }
}

/// One side's counts over a [`Sides`] table.
#[derive(Default)]
pub struct SideCounts {
    /// By stack id; `Int(0)` where the side does not have the stack.
    counts: Vec<Num>,
    /// Whether the side has the stack (by id).
    seen: Vec<bool>,
    /// The side's stacks in order of first appearance in its input.
    order: Vec<u32>,
    pub warnings: Vec<Warning>,
}

impl SideCounts {
    fn add(&mut self, id: u32, n: Num) -> Result<()> {
        let i = id as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, Num::Int(0));
            self.seen.resize(i + 1, false);
        }
        if self.seen[i] {
            self.counts[i] = self.counts[i].add(n)?;
        } else {
            self.seen[i] = true;
            self.order.push(id);
            self.counts[i] = n;
        }
        Ok(())
    }

    /// The stacks with their counts, in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Num)> + '_ {
        self.order.iter().map(|&id| (id, self.counts[id as usize]))
    }

    /// The total as a float for `-n`: summed exactly while the counts are whole (as Perl
    /// does with integers), else in the stacks' order (first seen in the input).
    fn total(&self) -> f64 {
        match self.total_num() {
            Ok(Num::Int(v)) => v as f64,
            _ => self.iter().map(|(_, c)| c.as_f64()).sum(),
        }
    }

    fn total_num(&self) -> Result<Num> {
        self.iter().try_fold(Num::Int(0), |a, (_, c)| a.add(c))
    }
}

/// The stacks of both sides, each stored once (see [`StackTable`]), with each side's (summed)
/// counts: the second side is read straight into the first side's table.
#[derive(Default)]
pub struct Sides {
    pub names: StackTable,
    pub sides: [SideCounts; 2],
}

impl Sides {
    pub fn new() -> Sides {
        Sides::default()
    }

    /// Both sides from folded texts (see [`Sides::read_checked`]).
    pub fn read<R: Read, S: Read>(before: R, after: S) -> Result<Sides> {
        let mut s = Sides::new();
        s.read_checked(0, before, &|_| Ok(()))?;
        s.read_checked(1, after, &|_| Ok(()))?;
        Ok(s)
    }

    /// Adds a profile's stacks to side `k`.
    pub fn add_folded(&mut self, k: usize, f: &Folded) {
        let Sides { names, sides } = self;
        for (s, c) in f.iter() {
            let id = names.intern(s);
            // a Folded holds each stack once: no sums
            let _ = sides[k].add(id, Num::Int(c));
        }
    }

    /// Reads folded text into side `k` (one or two count columns; the last is used; fractions
    /// allowed), calling `check` now and then (its error stops the reading).
    pub fn read_checked<R: Read>(&mut self, k: usize, r: R, check: &dyn Fn(u64) -> Result<()>) -> Result<()> {
        let Sides { names, sides } = self;
        let side = &mut sides[k];
        let warnings = crate::input::folded::read_stacks_with(r, crate::input::folded::stack_and_count, &mut |s, c: Num| side.add(names.intern(s), c), check)?;
        side.warnings = warnings;
        Ok(())
    }

    /// Reads folded stacks, or a capture (`perf script` text collapsed with `opts`, DTrace
    /// stacks, jstack dumps, perf.data) into side `k`, told apart by the first 64 KiB (see
    /// [`crate::input::sniff::sniff`]); other binary input (named `name` in the error) is refused.
    /// `check` runs now and then; its error stops the reading.
    pub fn read_auto<R: Read + Send>(&mut self, k: usize, r: R, threads: usize, opts: &crate::collapse::perf::Options, name: &str, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<()> {
        match crate::collapse::perf_data::sniffed_capture(r, name)? {
            (crate::input::sniff::Kind::Folded, joined) => self.read_checked(k, joined, check),
            (kind, joined) => {
                let opts = crate::profile::formats::FormatOptions::perf(opts.clone());
                let mut c = crate::profile::formats::from_read(kind, joined, &opts, threads, check)?;
                self.add_folded(k, &Folded::take_from(&mut c));
                self.sides[k].warnings = c.warnings;
                Ok(())
            }
        }
    }
}

/// The result: every stack of either side, sorted by bytes, with both counts.
#[derive(Default)]
pub struct Diff {
    /// The stacks (in no order); `order` lists their ids sorted by bytes.
    names: StackTable,
    order: Vec<u32>,
    /// In sorted order.
    pub before: Vec<Num>,
    pub after: Vec<Num>,
    pub totals: (Num, Num),
    /// In sorted order: whether each side had the stack (or one that strips to it).
    has: [Vec<bool>; 2],
}

pub fn diff(sides: Sides, normalize: bool, strip: bool) -> Result<Diff> {
    let Sides { names: mut table, sides: [before, after] } = sides;
    let t1 = before.total();
    let t2 = after.total();
    let after_total = after.total_num()?;
    if strip {
        let mut tmp = Vec::new();
        let mut stripped = StackTable::new();
        let mut sums = [SideCounts::default(), SideCounts::default()];
        let mut text = Vec::new();
        for (k, side) in [&before, &after].into_iter().enumerate() {
            for (id, n) in side.iter() {
                text.clear();
                table.write(id, &mut text);
                tmp.clear();
                strip_hex(&text, &mut tmp);
                let id = stripped.intern(&tmp);
                // a new stripped stack gets a zero on both sides, as difffolded.pl does
                sums[k].add(id, n)?;
            }
        }
        drop((table, before, after));
        stripped.done();
        let [s1, s2] = sums;
        return finish(stripped, [s1, s2], normalize, t1, t2, after_total);
    }
    table.done();
    finish(table, [before, after], normalize, t1, t2, after_total)
}

fn finish(names: StackTable, sides: [SideCounts; 2], normalize: bool, t1: f64, t2: f64, after_total: Num) -> Result<Diff> {
    let n = names.len();
    let [mut s1, mut s2] = sides;
    for s in [&mut s1, &mut s2] {
        s.order = Vec::new();
        s.counts.resize(n, Num::Int(0));
        s.seen.resize(n, false);
    }
    let c1 = &mut s1.counts;
    if normalize && t1 != t2 && t1 != 0.0 {
        for c in c1.iter_mut() {
            // perl: int($count1 * $total2 / $total1)
            let v = (c.as_f64() * t2 / t1).trunc();
            *c = if v >= 0.0 && v < 18446744073709551615.0 { Num::Int(v as u64) } else { Num::Float(v) };
        }
    }
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| names.cmp(a, b));
    let totals = (c1.iter().try_fold(Num::Int(0), |a, c| a.add(*c))?, after_total);
    let sorted = |v: Vec<Num>| order.iter().map(|&i| v[i as usize]).collect::<Vec<_>>();
    let before = sorted(std::mem::take(&mut s1.counts));
    let after = sorted(std::mem::take(&mut s2.counts));
    let has = [s1.seen, s2.seen].map(|v| order.iter().map(|&i| v[i as usize]).collect());
    Ok(Diff { before, after, names, order, totals, has })
}

impl Diff {
    /// Stacks in the diff.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Whether side `k` (0: before, 1: after) had the `i`th stack.
    pub fn has(&self, k: usize, i: usize) -> bool {
        self.has[k][i]
    }

    /// The `i`th stack's count on side `k` (0: before, 1: after).
    pub fn count(&self, k: usize, i: usize) -> Num {
        if k == 0 {
            self.before[i]
        } else {
            self.after[i]
        }
    }

    /// The diff of the two sides of this one (made without normalizing or stripping), as
    /// [`diff`] gives it from two profiles holding each side's stacks, sorted: each side's
    /// stacks in byte order.
    pub fn rediff(&self, normalize: bool, strip: bool) -> Result<Diff> {
        let mut sides = Sides::new();
        let mut stack = Vec::new();
        for k in 0..2 {
            let Sides { names, sides } = &mut sides;
            for i in (0..self.len()).filter(|&i| self.has(k, i)) {
                stack.clear();
                self.write_stack(i, &mut stack);
                sides[k].add(names.intern(&stack), self.count(k, i))?;
            }
        }
        diff(sides, normalize, strip)
    }

    /// Appends the `i`th stack in byte order to `out`.
    pub fn write_stack(&self, i: usize, out: &mut Vec<u8>) {
        self.names.write(self.order[i], out)
    }

    /// The `i`th stack in byte order.
    pub fn stack(&self, i: usize) -> Vec<u8> {
        self.names.get(self.order[i])
    }

    /// Writes `stack before after` lines, a piece at a time: `out` gets about `piece` bytes
    /// (whole lines) per call.
    pub fn write_text(&self, piece: usize, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        crate::output::folded::write_pieces(0..self.len(), piece, out, |i, buf| {
            self.write_stack(i, buf);
            buf.push(b' ');
            self.before[i].write(buf);
            buf.push(b' ');
            self.after[i].write(buf);
            buf.push(b'\n');
        })
    }

    pub fn to_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.write_text(usize::MAX, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::folded::perl_float;

    #[test]
    fn perl_numbers() {
        assert_eq!(perl_float(12.5), "12.5");
        assert_eq!(perl_float(0.1 + 0.2), "0.3");
        assert_eq!(perl_float(1e20), "1e+20");
        assert_eq!(perl_float(0.00001), "1e-05");
        assert_eq!(perl_float(3.0), "3");
    }

    #[test]
    fn diff_basic() {
        let s = Sides::read(&b"a;b 3\na;c 0x1f 1\nx 2\n"[..], &b"a;b 5\ny 1.5\n"[..]).unwrap();
        let d = diff(s, false, false).unwrap();
        assert_eq!(String::from_utf8(d.to_text()).unwrap(), "a;b 3 5\na;c 0x1f 1 0\nx 2 0\ny 0 1.5\n");
        assert_eq!((0..4).map(|i| (d.has(0, i), d.has(1, i))).collect::<Vec<_>>(), [(true, true), (true, false), (true, false), (false, true)]);
        let s = Sides::read(&b"a;0x1 2\nb 2\na;0x2 1\n"[..], &b"a;0x3 4\n"[..]).unwrap();
        let d = diff(s, false, false).unwrap();
        assert_eq!(d.rediff(true, true).unwrap().to_text(), b"a;0x... 2 4\nb 1 0\n");
        assert_eq!(d.rediff(false, false).unwrap().to_text(), d.to_text());
        let mut v = Vec::new();
        strip_hex(b"f;0xDEADbeef;g 0x1", &mut v);
        assert_eq!(v, b"f;0x...;g 0x...");
    }
}
