//! Reading folded stacks (`stack;frames count`), streaming: memory grows with the distinct
//! stacks, not with the input.

use crate::error::{excerpt, Error, Result, Warning};
use crate::fold::{Folded, FoldedBuilder};
use crate::intern::{FrameId, Interner};
use std::io::{BufRead, BufReader, Read};

const MAX_WARNINGS: usize = 100;

/// Splits `stack count` (count = the last space-separated token). Returns None if the count is
/// not a whole number.
pub fn split_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = memchr::memrchr(b' ', line)?;
    let (stack, count) = (&line[..sp], &line[sp + 1..]);
    if stack.is_empty() || count.is_empty() {
        return None;
    }
    Some((stack, count))
}

fn parse_count(tok: &[u8]) -> std::result::Result<u64, String> {
    if tok.iter().all(|c| c.is_ascii_digit()) {
        return std::str::from_utf8(tok).unwrap().parse::<u64>().map_err(|_| "count does not fit in 64 bits".to_string());
    }
    // "12.0" and "12." are whole numbers too
    if let Some(dot) = memchr::memchr(b'.', tok) {
        let (int, frac) = (&tok[..dot], &tok[dot + 1..]);
        if !int.is_empty() && int.iter().all(|c| c.is_ascii_digit()) && frac.iter().all(|&c| c == b'0') {
            return std::str::from_utf8(int).unwrap().parse::<u64>().map_err(|_| "count does not fit in 64 bits".to_string());
        }
        if int.iter().chain(frac).all(|c| c.is_ascii_digit()) {
            return Err(format!("fractional count {} (whole numbers only)", excerpt(tok, 30)));
        }
    }
    Err(format!("no count at the end of the line: {}", excerpt(tok, 30)))
}

/// Reads `stack count` lines, summing the counts of each distinct stack. `parse` turns a line
/// with content into its stack and count, or says why it cannot; such lines are skipped with a
/// warning naming them (the first hundred). Input with content but no usable line is an error.
pub fn read_stacks<R: Read, T: Copy>(
    r: R,
    parse: for<'a> fn(&'a [u8]) -> std::result::Result<(&'a [u8], T), String>,
    add: fn(T, T, &[u8]) -> Result<T>,
) -> Result<(Interner, Vec<T>, Vec<Warning>)> {
    let mut rd = BufReader::with_capacity(1 << 20, r);
    let mut stacks = Interner::new();
    let mut counts: Vec<T> = Vec::new();
    let mut warnings = Vec::new();
    let (mut more, mut good, mut lineno) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if rd.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lineno += 1;
        let t = crate::perf::header::trim_end(&buf);
        if t.is_empty() || t.starts_with(b"# ") || t == b"#" {
            continue;
        }
        match parse(t) {
            Ok((s, c)) => {
                good += 1;
                let id = stacks.intern(s).0 as usize;
                if id == counts.len() {
                    counts.push(c);
                } else {
                    counts[id] = add(counts[id], c, s)?;
                }
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
    Ok((stacks, counts, warnings))
}

fn whole_count(t: &[u8]) -> std::result::Result<(&[u8], u64), String> {
    let (s, c) = split_line(t).ok_or_else(|| format!("not `stack count`: {}", excerpt(t, 80)))?;
    Ok((s, parse_count(c)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sums_and_warns() {
        let (f, w) = read_folded(&b"b;c 2\na 1\r\nb;c 3\nbad line\n\n# comment\nx 2.0\n"[..]).unwrap();
        assert_eq!(f.to_text(), b"a 1\nb;c 5\nx 2\n");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 4);
        assert!(matches!(read_folded(&b"garbage\n"[..]), Err(Error::Parse { line: 1, .. })));
    }
}
