//! The one format sniffer: what an input is, from its first bytes.

use super::folded::{content, split_columns};
use crate::error::{Error, Result};
use std::io::Read;

/// What the first bytes of an input say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Folded,
    PerfScript,
    /// A binary perf.data file (`PERFILE2`).
    PerfData,
    /// DTrace aggregated stacks (`stackcollapse.pl`'s input): indented ``module`function`` frames,
    /// each stack ended by an indented count.
    Dtrace,
    /// A Java thread dump (`jstack PID`): `"thread" ... tid=...` lines and `\tat ...` frames.
    Jstack,
    /// Other binary data (NUL bytes near the start).
    Binary,
}

/// A test on the first bytes of an input (up to [`SNIFF`], complete lines): `Some(true)` when
/// they are the format, `Some(false)` when they are not, `None` when it cannot tell yet.
pub type Looks = fn(&[u8]) -> Option<bool>;

/// What the formats tell the sniffer (`input/` does not know them; `collapse::SNIFF_RULES` is
/// the set in use): whether a line is a `perf script` sample header, and `looks_like` tests of
/// other formats, asked in order after the magic numbers and the folded test.
pub struct Rules<'a> {
    pub perf_header: fn(&[u8]) -> bool,
    pub formats: &'a [(Kind, Looks)],
}

/// Tells folded stacks from `perf script` text (and both from binary data, DTrace stacks and
/// Java thread dumps) by the first bytes of the (decompressed) input. Folded: most lines with
/// content end with a count. Then the formats' own tests, then simple rules for DTrace and
/// jstack. `perf script`: otherwise, when a quarter of the lines are indented frames, or the
/// first line with content is not a folded line.
pub fn sniff(head: &[u8], rules: &Rules<'_>) -> Kind {
    if head.starts_with(b"PERFILE2") || head.starts_with(b"PERFFILE") {
        return Kind::PerfData;
    }
    if memchr::memchr(0, &head[..head.len().min(4096)]).is_some() {
        return Kind::Binary;
    }
    let (mut indented, mut lines, mut folded) = (0usize, 0usize, 0usize);
    let mut first_is_folded = None;
    // the last piece may be a cut line: only whole lines count (unless it is all there is)
    let whole = match memchr::memrchr(b'\n', head) {
        Some(p) if p + 1 < head.len() => &head[..=p],
        _ => head,
    };
    for line in whole.split(|&c| c == b'\n').take(400) {
        let Some(t) = content(line) else { continue };
        lines += 1;
        if matches!(t[0], b' ' | b'\t') {
            indented += 1;
        }
        let is_folded = split_columns(t).is_some();
        folded += usize::from(is_folded);
        first_is_folded.get_or_insert_with(|| is_folded || !(rules.perf_header)(t));
    }
    if lines == 0 || folded * 4 >= lines * 3 {
        return Kind::Folded;
    }
    if let Some(&(k, _)) = rules.formats.iter().find(|(_, looks)| looks(whole) == Some(true)) {
        return k;
    }
    if first_is_folded == Some(false) {
        // a perf header first: perf script, whatever its frames look like
    } else if looks_like_jstack(whole) {
        return Kind::Jstack;
    } else if looks_like_dtrace(whole) {
        return Kind::Dtrace;
    }
    if indented * 4 >= lines || first_is_folded == Some(false) {
        Kind::PerfScript
    } else {
        Kind::Folded
    }
}

/// How much of a stream is looked at to tell what it is.
pub const SNIFF: usize = 64 << 10;

/// Reads the first [`SNIFF`] bytes of `r` to tell what it is: its kind, and the whole stream
/// again; a binary kind is the error naming `name`.
pub fn sniffed<R: Read>(r: R, name: &str, rules: &Rules<'_>) -> Result<(Kind, impl Read)> {
    match sniff_read(r, rules)? {
        (k @ (Kind::PerfData | Kind::Binary), _) => Err(binary_error(k, name)),
        found => Ok(found),
    }
}

/// Reads the first [`SNIFF`] bytes of `r` to tell what it is: its kind (binary kinds too), and
/// the whole stream again.
pub fn sniff_read<R: Read>(mut r: R, rules: &Rules<'_>) -> Result<(Kind, impl Read)> {
    let mut head = Vec::with_capacity(SNIFF);
    (&mut r).take(SNIFF as u64).read_to_end(&mut head)?;
    Ok((sniff(&head, rules), std::io::Cursor::new(head).chain(r)))
}

/// The error for a binary input named `name` (a path, or `<stdin>`).
pub fn binary_error(kind: Kind, name: &str) -> Error {
    let msg = match kind {
        Kind::PerfData => {
            let file = if name.starts_with('<') { "FILE" } else { name };
            format!("{name}: this is a binary perf.data file: run `perf script -i {file}` and give that text")
        }
        _ => format!("{name}: this is binary data, not folded stacks or `perf script` text"),
    };
    Error::Parse { line: 0, msg }
}

/// A simple rule: a `Full thread dump` banner, or a quoted thread line with a `tid=` followed
/// by `java.lang.Thread.State` or `at ` frame lines.
pub fn looks_like_jstack(head: &[u8]) -> bool {
    if memchr::memmem::find(&head[..head.len().min(4096)], b"Full thread dump").is_some() {
        return true;
    }
    let thread = head.split(|&c| c == b'\n').any(|l| l.starts_with(b"\"") && memchr::memmem::find(l, b" tid=").is_some());
    thread && (memchr::memmem::find(head, b"java.lang.Thread.State:").is_some() || memchr::memmem::find(head, b"\n\tat ").is_some())
}

/// A simple rule: indented ``module`function`` frames, and indented counts ending stacks.
pub fn looks_like_dtrace(head: &[u8]) -> bool {
    let (mut frames, mut counts, mut lines) = (0usize, 0usize, 0usize);
    for line in head.split(|&c| c == b'\n').take(400) {
        let Some(t) = content(line) else { continue };
        lines += 1;
        if !matches!(t[0], b' ' | b'\t') {
            continue;
        }
        let t = super::trim_start(t);
        if t.iter().all(u8::is_ascii_digit) {
            counts += 1;
        } else if memchr::memchr(b'`', t).is_some() {
            frames += 1;
        }
    }
    counts > 0 && frames > 0 && (frames + counts) * 2 >= lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf_like(t: &[u8]) -> bool {
        t.windows(2).any(|w| w == b": ") && !t.starts_with(b" ")
    }
    const RULES: Rules<'static> = Rules { perf_header: perf_like, formats: &[] };

    #[test]
    fn sniffing() {
        let sniff = |h: &[u8]| super::sniff(h, &RULES);
        assert_eq!(sniff(b"java 123 1.0: 1 cycles:\n\tffff a (/x)\n\tffff b (/x)\n\n"), Kind::PerfScript);
        assert_eq!(sniff(b"a;b 1\nc 2\n"), Kind::Folded);
        assert_eq!(sniff(b""), Kind::Folded);
        // a quarter of the folded lines start with whitespace: still folded
        assert_eq!(sniff(b" a;b 1\nc 2\nd 3\ne 4\n a 1\nc;x 2\nd 3\ne 4\n"), Kind::Folded);
        assert_eq!(sniff(b"PERFILE2\x68\0\0\0"), Kind::PerfData);
        assert_eq!(sniff(b"abc\0def 1\n"), Kind::Binary);
        // old perf: frames not indented, but the first line is a header
        assert_eq!(sniff(b"java 123 1.0: 1 cycles:\nffff a (/x)\nffff b (/x)\n\n"), Kind::PerfScript);
        assert_eq!(sniff(b"CPU     ID                    FUNCTION:NAME\n  0  64091                        :tick-60s\n\n\n              libc.so.1`_lwp_park+0x15\n              libc.so.1`cond_wait+0x32\n               17\n\n"), Kind::Dtrace);
        assert_eq!(sniff(b"2024-01-01 10:00:00\nFull thread dump OpenJDK 64-Bit Server VM:\n\n\"main\" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable\n   java.lang.Thread.State: RUNNABLE\n\tat A.b(A.java:1)\n\n"), Kind::Jstack);
        let only = Rules { perf_header: perf_like, formats: &[(Kind::Jstack, |h| Some(h.starts_with(b"J!")))] };
        assert_eq!(super::sniff(b"J!\nx\n", &only), Kind::Jstack);
    }
}
