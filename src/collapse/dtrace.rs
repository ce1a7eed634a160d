//! DTrace `stack()` / `ustack()` aggregations, read exactly as FlameGraph's `stackcollapse.pl`.
//!
//! The input: three header lines (skipped whatever they hold, as the Perl does), then stacks of
//! one frame a line, leaf first, each ended by a line holding only its count:
//!
//! ```text
//!               unix`i86_mwait+0xd
//!               unix`idle+0x114
//!              1641
//! ```
//!
//! Each frame: leading whitespace dropped; `+offset` (from the last `+`) dropped unless
//! [`Dtrace::includeoffset`]; C++ arguments dropped (from the last `(` or `<` after the first
//! `::`); an empty frame named `-`; then split at `->` (perf-map-agent inline chains; fields
//! after the first get `_[i]`; empty trailing fields vanish, as Perl's `split` drops them),
//! each with `;` turned to `:` and one leading `L` dropped. With `includeoffset`, the offset of
//! the stack's last frame is cut instead, from the last `+` of the joined stack (which, when the
//! leaf has none, cuts into a frame nearer the root: the Perl's behaviour, kept).
//!
//! Not parallel: the three header lines count from the start of the whole input, and a stack
//! runs on across blank lines until its count line, so no line tells on its own where a record
//! starts. DTrace output is small next to perf's; one collapser reads it in order.
//!
//! Intended differences from the Perl: a `\r\n` line end is read as `\n` (the Perl on Unix would
//! take no count line of a CRLF file and print nothing); a count too large for 64 bits is warned
//! about and its stack dropped (the Perl would sum it as a float and print `1e+20`).

use super::{for_lines, Collapser, Format, Sink};
use crate::intern::FrameId;

/// Lines skipped at the start of the input, whatever they hold (`$headerlines` in the Perl).
const HEADER_LINES: u64 = 3;

/// The DTrace format and its options (those of `stackcollapse.pl`).
#[derive(Clone, Debug, Default)]
pub struct Dtrace {
    /// Keep each frame's `+offset`, except the stack's last one (`$includeoffset`).
    pub includeoffset: bool,
}

impl Format for Dtrace {
    type C = DtraceCollapser;

    fn collapser(&self) -> DtraceCollapser {
        DtraceCollapser { includeoffset: self.includeoffset, ..DtraceCollapser::default() }
    }
}

/// Reads DTrace stacks in order; the stack in progress carries over from chunk to chunk.
#[derive(Default)]
pub struct DtraceCollapser {
    includeoffset: bool,
    /// Lines read since the start of the input (for the header lines).
    seen: u64,
    /// The stack in progress, leaf first (each line's frames reversed).
    stack: Vec<FrameId>,
    /// Scratch: one line's frames, in order.
    group: Vec<FrameId>,
    /// Scratch: a stack from the root.
    root: Vec<FrameId>,
    /// Scratch: a frame's name.
    buf: Vec<u8>,
}

/// Perl's `\s` on bytes.
#[inline]
pub(crate) fn is_perl_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `line` without its leading Perl whitespace.
#[inline]
pub(crate) fn trim_start(line: &[u8]) -> &[u8] {
    let n = line.iter().position(|&b| !is_perl_space(b)).unwrap_or(line.len());
    &line[n..]
}

/// Whether a trimmed line is a count line (`^\s*(\d+)+$`).
#[inline]
fn is_count(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(u8::is_ascii_digit)
}

impl DtraceCollapser {
    fn line(&mut self, line: &[u8], n: u64, out: &mut Sink) {
        self.seen += 1;
        if self.seen <= HEADER_LINES {
            return;
        }
        let t = trim_start(line);
        if t.is_empty() {
            return;
        }
        if is_count(t) {
            let count = t.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')));
            match count {
                Some(c) => self.emit(c, out),
                None => {
                    out.warn(n, format!("count {} is too large for 64 bits; its stack was dropped", String::from_utf8_lossy(t)));
                    self.stack.clear();
                }
            }
            return;
        }
        self.frame(t, out);
    }

    /// One frame line (leading whitespace gone): its frames go before the stack read so far.
    fn frame(&mut self, t: &[u8], out: &mut Sink) {
        let mut f = t;
        if !self.includeoffset {
            if let Some(p) = memchr::memrchr(b'+', f) {
                f = &f[..p];
            }
        }
        // `s/(::.*)[(<].*/$1/`: from the last `(` or `<` after the first `::`.
        if let Some(i) = memchr::memmem::find(f, b"::") {
            if let Some(j) = f[i + 2..].iter().rposition(|&b| b == b'(' || b == b'<') {
                f = &f[..i + 2 + j];
            }
        }
        if f.is_empty() {
            f = b"-";
        }
        // `split /\->/`: trailing empty fields are dropped.
        let mut end = f.len();
        while end >= 2 && &f[end - 2..end] == b"->" {
            end -= 2;
        }
        let f = &f[..end];
        self.group.clear();
        if !f.is_empty() {
            let mut start = 0;
            let cuts = memchr::memmem::find_iter(f, b"->").chain(std::iter::once(f.len()));
            for cut in cuts {
                if cut < start {
                    continue; // (cannot happen: matches do not overlap)
                }
                let mut field = &f[start..cut];
                start = cut + 2;
                if let [b'L', rest @ ..] = field {
                    field = rest;
                }
                self.buf.clear();
                self.buf.extend(field.iter().map(|&b| if b == b';' { b':' } else { b }));
                if !self.group.is_empty() {
                    self.buf.extend_from_slice(b"_[i]");
                }
                self.group.push(out.frame(&self.buf));
            }
        }
        self.stack.extend(self.group.iter().rev());
    }

    /// A count line: the stack in progress is done.
    fn emit(&mut self, count: u64, out: &mut Sink) {
        self.root.clear();
        self.root.extend(self.stack.iter().rev());
        self.stack.clear();
        if self.includeoffset {
            // `$joined =~ s/\+[^+]*$//`: from the last `+` of the joined stack to its end.
            for i in (0..self.root.len()).rev() {
                let name = out.names.get(self.root[i]);
                if let Some(p) = memchr::memrchr(b'+', name) {
                    self.buf.clear();
                    self.buf.extend_from_slice(&name[..p]);
                    self.root.truncate(i);
                    let id = out.frame(&self.buf);
                    self.root.push(id);
                    break;
                }
            }
        }
        // One empty frame joins to the same text as no frame: one key for both, as in the Perl.
        if let [only] = self.root[..] {
            if out.names.get(only).is_empty() {
                self.root.clear();
            }
        }
        out.add_stack(None, &self.root, count);
    }
}

impl Collapser for DtraceCollapser {
    fn chunk(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64 {
        if fresh {
            self.seen = 0;
            self.stack.clear();
        }
        for_lines(data, |line, n| self.line(line, n, out))
    }

    fn end(&mut self, out: &mut Sink) {
        if self.seen > 0 && self.seen <= HEADER_LINES {
            out.warn(0, format!("the input has only {} lines; DTrace's first {HEADER_LINES} lines are a header and are skipped", self.seen));
        }
        if !self.stack.is_empty() {
            out.warn(0, format!("the input ended inside a stack: its {} frames had no count line and were dropped", self.stack.len()));
            self.stack.clear();
        }
    }
}

/// Whether `head` (the first lines of an input) is DTrace stack output: `Some(true)` when, past
/// the three header lines, it holds indented frames (``module`func`` or `0x` addresses) ended by
/// a count line and nothing else but blank lines; `Some(false)` when a line past the header is
/// neither indented nor a count (perf script's sample lines, folded stacks, jstack's thread
/// lines) or is a perf script frame (a bare hex address, a space, a symbol); `None` when it
/// cannot tell yet.
pub fn looks_like(head: &[u8]) -> Option<bool> {
    let mut lineno = 0u64;
    let mut frames = false;
    let mut counted = false;
    let mut bad = false;
    for_lines(head, |line, _| {
        lineno += 1;
        if lineno <= HEADER_LINES || bad {
            return;
        }
        let t = trim_start(line);
        if t.is_empty() {
            return;
        }
        if is_count(t) {
            counted |= frames;
            return;
        }
        // An unindented line that is not a count, or a perf script frame (`addr symbol (dso)`:
        // DTrace prints unresolved addresses as `0x...`).
        let tok = t.iter().position(|&b| is_perl_space(b)).unwrap_or(t.len());
        let perf_frame = tok > 0 && t[..tok].iter().all(u8::is_ascii_hexdigit) && !trim_start(&t[tok..]).is_empty();
        if t.len() == line.len() || perf_frame {
            bad = true;
            return;
        }
        let hex = t.strip_prefix(b"0x").is_some_and(|h| !h.is_empty() && h.iter().all(u8::is_ascii_hexdigit));
        if memchr::memchr(b'`', t).is_some() || hex {
            frames = true;
        }
    });
    if bad {
        Some(false)
    } else if counted {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "formats_tests.rs"]
mod formats_tests;
