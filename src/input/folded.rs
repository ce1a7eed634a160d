//! Reading folded stacks (`stack;frames count`), streaming: memory grows with the distinct
//! stacks, not with the input.
//!
//! One grammar serves every reader (graph, diff, difffolded, read_folded): a line is a stack,
//! then one or two counts, each after one space or tab. A count is digits with an optional
//! fractional part (`7`, `7.`, `7.25`, `.5`); whole counts are exact 64-bit integers (a larger
//! one is a bad line), a fraction is accepted where the command accepts fractions.

use crate::error::{excerpt, Error, Result, Warning};
use crate::intern::Interner;
use std::io::{BufRead, BufReader, Read};

const MAX_WARNINGS: usize = 100;

pub use super::chunk::MAX_LINE;

/// The error for a line longer than [`MAX_LINE`].
pub fn line_too_long(line: u64) -> Error {
    Error::Parse { line, msg: format!("line longer than {} MiB: not folded stacks", MAX_LINE >> 20) }
}

/// Whether `tok` is a count: digits, at most one `.`, at least one digit.
pub fn is_count(tok: &[u8]) -> bool {
    let mut dots = 0;
    let mut digits = 0;
    for &c in tok {
        if c == b'.' {
            dots += 1;
        } else if c.is_ascii_digit() {
            digits += 1;
        } else {
            return false;
        }
    }
    digits > 0 && dots <= 1
}

/// Splits off a trailing `<space or tab>COUNT`: (what comes before the separator, the count).
fn split_count(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let tok_start = s.iter().rposition(|&c| !(c.is_ascii_digit() || c == b'.')).map_or(0, |p| p + 1);
    let tok = &s[tok_start..];
    if tok_start == 0 || !is_count(tok) || !matches!(s[tok_start - 1], b' ' | b'\t') {
        return None;
    }
    Some((&s[..tok_start - 1], tok))
}

/// A line's content (without trailing whitespace and line end), or None for a blank line or
/// a `# ` comment, which every reader skips.
pub fn content(line: &[u8]) -> Option<&[u8]> {
    let t = super::trim_end(line);
    (!(t.is_empty() || t.starts_with(b"# ") || t == b"#")).then_some(t)
}

/// A folded line's (stack, first count of two, last count), as text.
pub type Columns<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

/// Turns a line with content into its stack and count, or says why it cannot.
pub type LineParser<T> = for<'a> fn(&'a [u8]) -> std::result::Result<(&'a [u8], T), String>;

/// The folded grammar: a line (without its line end) -> (stack, first count of a two-column
/// line, last count), the counts as text. The stack may be empty (` 5`: samples with no frame).
pub fn split_columns(line: &[u8]) -> Option<Columns<'_>> {
    let (stack, last) = split_count(line)?;
    match split_count(stack) {
        Some((stack, first)) => Some((stack, Some(first), last)),
        None => Some((stack, None, last)),
    }
}

/// Splits `stack count` (the last count; a two-column line keeps its first count in the stack).
/// Kept for the perf sniffing in `perf/mod.rs`.
pub fn split_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    split_count(line)
}

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

/// A count token (see [`split_columns`]) as a number: whole counts (`7`, `7.`, `7.00`) exact,
/// others as floats. A whole count past 64 bits is an error.
pub fn count_num(tok: &[u8]) -> std::result::Result<Num, String> {
    if !is_count(tok) {
        return Err(format!("bad count {}", excerpt(tok, 30)));
    }
    let (int, frac) = match memchr::memchr(b'.', tok) {
        Some(d) => (&tok[..d], &tok[d + 1..]),
        None => (tok, &b""[..]),
    };
    if frac.iter().all(|&c| c == b'0') {
        return whole(int).map(Num::Int);
    }
    // digits and one dot (checked by the grammar): always a valid float
    let f = std::str::from_utf8(tok).ok().and_then(|s| s.parse::<f64>().ok());
    f.map(Num::Float).ok_or_else(|| format!("bad count {}", excerpt(tok, 30)))
}

fn whole(int: &[u8]) -> std::result::Result<u64, String> {
    let mut v: u64 = 0;
    for &c in int {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or_else(|| format!("count {} does not fit in 64 bits", excerpt(int, 30)))?;
    }
    Ok(v)
}

/// Fixed point: counts are held as multiples of 10^-18, so sums of whole and of decimal counts
/// are exact and do not depend on the order of the additions (any thread count, same bytes).
pub const SCALE: u128 = 1_000_000_000_000_000_000;
/// The largest count or sum: 2^64 - 1 and a fraction.
pub const MAX_FIXED: u128 = u64::MAX as u128 * SCALE + (SCALE - 1);

/// A count token as fixed point (digits past the 18th decimal are dropped).
pub fn count_fixed(tok: &[u8]) -> std::result::Result<u128, String> {
    if tok.len() < 20 && !tok.is_empty() && tok.iter().all(u8::is_ascii_digit) {
        // the common case: at most 19 digits always fit in 64 bits
        return Ok(u128::from(tok.iter().fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'))) * SCALE);
    }
    if !is_count(tok) {
        return Err(format!("bad count {}", excerpt(tok, 30)));
    }
    let (int, frac) = match memchr::memchr(b'.', tok) {
        Some(d) => (&tok[..d], &tok[d + 1..]),
        None => (tok, &b""[..]),
    };
    let mut f: u128 = 0;
    let mut scale = SCALE;
    for &c in frac.iter().take(18) {
        scale /= 10;
        f += u128::from(c - b'0') * scale;
    }
    Ok(u128::from(whole(int)?) * SCALE + f)
}

/// A fixed-point value as a float (the whole part rounded once).
pub fn fixed_f64(x: u128) -> f64 {
    (x / SCALE) as f64 + (x % SCALE) as f64 / SCALE as f64
}

/// A signed fixed-point value as a float.
pub fn fixed_f64_signed(x: i128) -> f64 {
    if x < 0 {
        -fixed_f64(x.unsigned_abs())
    } else {
        fixed_f64(x as u128)
    }
}

/// Reads the next line (with its `\n`) into `buf` through `rd`'s buffer; false at the end.
/// `lineno` is the number of the line before it (for the error on a line too long).
pub fn next_line<R: BufRead>(rd: &mut R, buf: &mut Vec<u8>, lineno: u64) -> Result<bool> {
    buf.clear();
    loop {
        let avail = match rd.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if avail.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        buf.extend_from_slice(&avail[..take]);
        rd.consume(take);
        if buf.len() > MAX_LINE + 2 {
            return Err(line_too_long(lineno + 1));
        }
        if done {
            return Ok(true);
        }
    }
}

/// Reads `stack count` lines, summing the counts of each distinct stack. `parse` turns a line
/// with content into its stack and count, or says why it cannot; such lines are skipped with a
/// warning naming them (the first hundred). Input with content but no usable line is an error.
pub fn read_stacks<R: Read, T: Copy>(
    r: R,
    parse: LineParser<T>,
    add: fn(T, T, &[u8]) -> Result<T>,
) -> Result<(Interner, Vec<T>, Vec<Warning>)> {
    read_stacks_checked(r, parse, add, &|_| Ok(()))
}

/// [`read_stacks`], calling `check` with the lines read so far every 64 Ki lines (its error,
/// e.g. [`Error::Cancelled`], stops the reading).
pub fn read_stacks_checked<R: Read, T: Copy>(
    r: R,
    parse: LineParser<T>,
    add: fn(T, T, &[u8]) -> Result<T>,
    check: &dyn Fn(u64) -> Result<()>,
) -> Result<(Interner, Vec<T>, Vec<Warning>)> {
    let mut stacks = Interner::new();
    let mut counts: Vec<T> = Vec::new();
    let warnings = read_stacks_with(r, parse, &mut |s, c| {
        let id = stacks.intern(s).0 as usize;
        if id == counts.len() {
            counts.push(c);
        } else {
            counts[id] = add(counts[id], c, s)?;
        }
        Ok(())
    }, check)?;
    Ok((stacks, counts, warnings))
}

/// Reads `stack count` lines, giving each usable line's stack and count to `sink` (its error
/// stops the reading); otherwise as [`read_stacks_checked`]. Returns the warnings.
pub fn read_stacks_with<R: Read, T>(
    r: R,
    parse: LineParser<T>,
    sink: &mut dyn FnMut(&[u8], T) -> Result<()>,
    check: &dyn Fn(u64) -> Result<()>,
) -> Result<Vec<Warning>> {
    let mut rd = BufReader::with_capacity(1 << 20, r);
    let mut warnings = Vec::new();
    let (mut more, mut good, mut lineno) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    while next_line(&mut rd, &mut buf, lineno)? {
        lineno += 1;
        if lineno % (1 << 16) == 0 {
            check(lineno)?;
        }
        let Some(t) = content(&buf) else { continue };
        match parse(t) {
            Ok((s, c)) => {
                good += 1;
                sink(s, c)?;
            }
            Err(msg) if warnings.len() < MAX_WARNINGS => warnings.push(Warning { line: lineno, msg }),
            Err(_) => more += 1,
        }
    }
    if good == 0 {
        if let Some(w) = warnings.first() {
            return Err(Error::Parse { line: w.line, msg: format!("not folded stacks: {}", w.msg) });
        }
    }
    if more > 0 {
        warnings.push(Warning { line: 0, msg: format!("{more} more lines could not be used") });
    }
    Ok(warnings)
}

/// One line for a reader that takes the last count: (stack, count), the stack before both
/// counts of a two-column line.
pub fn stack_and_count(t: &[u8]) -> std::result::Result<(&[u8], Num), String> {
    let (stack, _, count) = split_columns(t).ok_or_else(|| format!("not `stack count`: {}", excerpt(t, 80)))?;
    Ok((stack, count_num(count)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar() {
        assert_eq!(split_columns(b"a;b 5"), Some((&b"a;b"[..], None, &b"5"[..])));
        assert_eq!(split_columns(b"a;b 31.5 2."), Some((&b"a;b"[..], Some(&b"31.5"[..]), &b"2."[..])));
        assert_eq!(split_columns(b"a;b\t7"), Some((&b"a;b"[..], None, &b"7"[..])));
        assert_eq!(split_columns(b"a;b .5"), Some((&b"a;b"[..], None, &b".5"[..])));
        assert_eq!(split_columns(b" 5"), Some((&b""[..], None, &b"5"[..])));
        assert_eq!(split_columns(b"a;b  5"), Some((&b"a;b "[..], None, &b"5"[..])));
        for bad in [&b"a;b"[..], b"a;b5", b"a;b 1.2.3", b"a;b -1", b"5", b"a;b .", b""] {
            assert_eq!(split_columns(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(count_num(b"7."), Ok(Num::Int(7)));
        assert_eq!(count_num(b"18446744073709551615"), Ok(Num::Int(u64::MAX)));
        assert!(count_num(b"18446744073709551616").is_err());
        assert_eq!(count_num(b".5"), Ok(Num::Float(0.5)));
        assert_eq!(count_fixed(b"2.5"), Ok(5 * SCALE / 2));
        assert_eq!(count_fixed(b"18446744073709551615.9"), Ok(u64::MAX as u128 * SCALE + SCALE / 10 * 9));
        assert!(count_fixed(b"18446744073709551616").is_err());
        assert_eq!(fixed_f64(3 * SCALE + SCALE / 4), 3.25);
    }

}
