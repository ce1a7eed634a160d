//! difffolded.pl: two profiles -> `stack before after` for every stack of either, in byte order.

use crate::error::{Error, Result, Warning};
use crate::fold::Folded;
use crate::intern::{FrameId, Interner};
use std::io::Read;

/// A count: exact while whole, a float once a fraction is seen (folded files may hold fractions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(u64),
    Float(f64),
}

impl Default for Num {
    fn default() -> Self {
        Num::Int(0)
    }
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(v) => v as f64,
            Num::Float(v) => v,
        }
    }

    pub fn add(self, other: Num) -> Result<Num> {
        Ok(match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.checked_add(b).ok_or_else(|| Error::Overflow { what: "a count".into() })?),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        })
    }

    /// Perl's number format: whole numbers as integers, others like `%.15g`.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            Num::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
            Num::Float(f) => out.extend_from_slice(perl_float(f).as_bytes()),
        }
    }
}

/// `%.15g`, as Perl prints a non-integer number.
pub fn perl_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() { "NaN".into() } else if f > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.14e}", f);
    let (mant, e) = sci.split_once('e').unwrap();
    let e: i32 = e.parse().unwrap();
    if !(-4..15).contains(&e) {
        let mant = trim_zeros(mant);
        return format!("{}e{}{:02}", mant, if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (14 - e).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, f)).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A count token of the folded grammar as a number (None if it is not one).
pub(crate) fn parse_num(tok: &[u8]) -> Option<Num> {
    crate::folded::is_count(tok).then(|| crate::folded::count_num(tok).ok()).flatten()
}

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

/// Stacks with their (summed) counts, as read from one side: each stack once, in `names`
/// (ids in order of first appearance), its count at the same index of `counts`.
#[derive(Default)]
pub struct Side {
    pub names: Interner,
    pub counts: Vec<Num>,
    pub warnings: Vec<Warning>,
}

impl Side {
    pub fn from_folded(f: &Folded) -> Side {
        let mut names = Interner::new();
        let counts = f.iter().map(|(s, c)| {
            names.intern(s);
            Num::Int(c)
        });
        let counts = counts.collect();
        Side { names, counts, warnings: Vec::new() }
    }

    /// The stacks with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Num)> {
        self.counts.iter().enumerate().map(|(i, &c)| (self.names.get(FrameId(i as u32)), c))
    }

    /// Reads folded text (one or two count columns; the last is used; fractions allowed).
    pub fn read<R: Read>(r: R) -> Result<Side> {
        Side::read_checked(r, &|_| Ok(()))
    }

    /// [`Side::read`], calling `check` now and then (its error stops the reading).
    pub fn read_checked<R: Read>(r: R, check: &dyn Fn(u64) -> Result<()>) -> Result<Side> {
        let (names, counts, warnings) = crate::folded::read_stacks_checked(r, crate::folded::stack_and_count, |a, b, _| a.add(b), check)?;
        Ok(Side { names, counts, warnings })
    }

    /// Reads either folded stacks or `perf script` text (collapsed with `opts`), told apart
    /// by the first 64 KiB (see [`crate::folded::sniff`]); binary input (named `name` in the
    /// error) is refused. `check` runs now and then; its error stops the reading.
    pub fn read_auto<R: Read + Send>(r: R, threads: usize, opts: &crate::perf::Options, name: &str, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<Side> {
        match crate::folded::sniffed(r, name)? {
            (crate::folded::Kind::PerfScript, joined) => {
                let c = crate::perf::collapse_read(joined, opts, threads, check)?;
                let mut side = Side::from_folded(&c.folded);
                side.warnings = c.warnings;
                Ok(side)
            }
            (_, joined) => Side::read_checked(joined, check),
        }
    }

    /// The total as a float for `-n`: summed exactly while the counts are whole (as Perl
    /// does with integers), else in the stacks' order (first seen in the input).
    fn total(&self) -> f64 {
        match self.total_num() {
            Ok(Num::Int(v)) => v as f64,
            _ => self.counts.iter().map(|c| c.as_f64()).sum(),
        }
    }

    fn total_num(&self) -> Result<Num> {
        self.counts.iter().try_fold(Num::Int(0), |a, c| a.add(*c))
    }
}

/// The result: every stack of either side, sorted by bytes, with both counts.
#[derive(Default)]
pub struct Diff {
    /// The stacks (in no order); `order` lists their ids sorted by bytes.
    names: Interner,
    order: Vec<u32>,
    /// In sorted order.
    pub before: Vec<Num>,
    pub after: Vec<Num>,
    pub totals: (Num, Num),
}

pub fn diff(before: Side, after: Side, normalize: bool, strip: bool) -> Result<Diff> {
    let t1 = before.total();
    let t2 = after.total();
    let after_total = after.total_num()?;
    let (mut names, mut c1, mut c2);
    let mut tmp = Vec::new();
    if strip {
        (names, c1, c2) = (Interner::new(), Vec::new(), Vec::new());
        for (side, (s, n)) in before.iter().map(|x| (0, x)).chain(after.iter().map(|x| (1, x))) {
            tmp.clear();
            strip_hex(s, &mut tmp);
            let id = names.intern(&tmp).0 as usize;
            if id == c1.len() {
                c1.push(Num::Int(0));
                c2.push(Num::Int(0));
            }
            let slot: &mut Num = if side == 0 { &mut c1[id] } else { &mut c2[id] };
            *slot = slot.add(n)?;
        }
    } else {
        // the first side's stacks are already distinct: its table is reused, not copied
        (names, c1) = (before.names, before.counts);
        c2 = vec![Num::Int(0); c1.len()];
        for (s, n) in after.iter() {
            let id = names.intern(s).0 as usize;
            if id == c1.len() {
                c1.push(Num::Int(0));
                c2.push(Num::Int(0));
            }
            c2[id] = c2[id].add(n)?;
        }
    }
    drop(after);
    if normalize && t1 != t2 && t1 != 0.0 {
        for c in c1.iter_mut() {
            // perl: int($count1 * $total2 / $total1)
            let v = (c.as_f64() * t2 / t1).trunc();
            *c = if v >= 0.0 && v < 18446744073709551615.0 { Num::Int(v as u64) } else { Num::Float(v) };
        }
    }
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| names.get(FrameId(a)).cmp(names.get(FrameId(b))));
    let totals = (c1.iter().try_fold(Num::Int(0), |a, c| a.add(*c))?, after_total);
    Ok(Diff {
        before: order.iter().map(|&i| c1[i as usize]).collect(),
        after: order.iter().map(|&i| c2[i as usize]).collect(),
        names,
        order,
        totals,
    })
}

impl Diff {
    /// Stacks in the diff.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The `i`th stack in byte order.
    pub fn stack(&self, i: usize) -> &[u8] {
        self.names.get(FrameId(self.order[i]))
    }

    /// Writes `stack before after` lines, a piece at a time: `out` gets about `piece` bytes
    /// (whole lines) per call.
    pub fn write_text(&self, piece: usize, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(piece.min(1 << 20) + 1024);
        for i in 0..self.len() {
            buf.extend_from_slice(self.stack(i));
            buf.push(b' ');
            self.before[i].write(&mut buf);
            buf.push(b' ');
            self.after[i].write(&mut buf);
            buf.push(b'\n');
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
        let a = Side::read(&b"a;b 3\na;c 0x1f 1\nx 2\n"[..]).unwrap();
        let b = Side::read(&b"a;b 5\ny 1.5\n"[..]).unwrap();
        let d = diff(a, b, false, false).unwrap();
        assert_eq!(String::from_utf8(d.to_text()).unwrap(), "a;b 3 5\na;c 0x1f 1 0\nx 2 0\ny 0 1.5\n");
        let mut v = Vec::new();
        strip_hex(b"f;0xDEADbeef;g 0x1", &mut v);
        assert_eq!(v, b"f;0x...;g 0x...");
    }
}
