//! A streaming reader of `perf script` text that yields whole samples: who (comm, pid, tid), where
//! (cpu), when (integer nanoseconds), what (event, period, the trace data after the event) and the
//! callchain frames, leaf first.
//!
//! Memory is bounded: one line and one sample are held at a time. Lines longer than
//! [`crate::input::chunk::MAX_LINE`] are an error (not `perf script` text). Compressed input is the
//! caller's business (wrap the reader in [`crate::input::source::decoding`]).
//!
//! The header grammar is the collapser's ([`crate::collapse::perf::header::parse_header`]); the cpu, the
//! time stamp and the trace data, which it does not return, are read here from the text after
//! the pid/tid: `[cpu] secs.frac: [period] event: trace-data`.

use crate::error::{excerpt, Error, Result, Warning};
use crate::collapse::perf::frame::{parse_frame, FrameLine};
use crate::collapse::perf::header::parse_header;
use crate::input::{is_ws, trim_end, trim_start};
use crate::collapse::perf::LONG_LINE;
use crate::input::chunk::MAX_LINE;
use std::io::{BufRead, BufReader, Read};

/// Warnings kept per run; the rest are counted.
pub const MAX_WARNINGS: usize = 100;

/// One sample of `perf script` text. Reused from sample to sample by [`EventReader`].
#[derive(Debug, Default, Clone)]
pub struct Event {
    /// 1-based line number of the header line.
    pub line: u64,
    pub comm: Vec<u8>,
    /// The pid as printed: digits, `-1`, or `?` when perf printed one id only (then the tid).
    pub pid_text: Vec<u8>,
    /// The tid as printed.
    pub tid_text: Vec<u8>,
    pub pid: Option<i64>,
    pub tid: Option<i64>,
    pub cpu: Option<u32>,
    /// The time stamp in nanoseconds, exact (`secs.usecs` is multiplied out, `secs.nsecs` kept).
    pub time_ns: Option<u64>,
    /// The event as printed (`sched:sched_switch`, `cpu-clock:ppp`).
    pub event: Vec<u8>,
    pub period: Option<u64>,
    /// The text after the event (tracepoint fields), trimmed; empty when none.
    pub trace: Vec<u8>,
    /// Frame lines, trimmed, concatenated; `frame_ends` cuts them.
    frame_text: Vec<u8>,
    frame_ends: Vec<usize>,
}

impl Event {
    /// The number of frames.
    pub fn depth(&self) -> usize {
        self.frame_ends.len()
    }

    /// Frame `i` (0 = leaf) as the collapser reads it.
    pub fn frame(&self, i: usize) -> FrameLine<'_> {
        let start = if i == 0 { 0 } else { self.frame_ends[i - 1] };
        parse_frame(&self.frame_text[start..self.frame_ends[i]]).expect("frame lines are checked when read")
    }

    /// The raw (trimmed) text of frame `i`.
    pub fn frame_text(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.frame_ends[i - 1] };
        &self.frame_text[start..self.frame_ends[i]]
    }

    /// The frames, leaf first.
    pub fn frames(&self) -> impl Iterator<Item = FrameLine<'_>> + '_ {
        (0..self.depth()).map(|i| self.frame(i))
    }

    /// The event name without perf's modifiers (`cycles:u` -> `cycles`; a tracepoint's
    /// `sched:sched_switch` stays whole).
    pub fn event_base(&self) -> &[u8] {
        event_base(&self.event)
    }

    /// A tracepoint field of [`Event::trace`] (see [`field`]).
    pub fn field(&self, key: &[u8]) -> Option<&[u8]> {
        field(&self.trace, key)
    }

    fn clear(&mut self) {
        self.comm.clear();
        self.pid_text.clear();
        self.tid_text.clear();
        self.pid = None;
        self.tid = None;
        self.cpu = None;
        self.time_ns = None;
        self.event.clear();
        self.period = None;
        self.trace.clear();
        self.frame_text.clear();
        self.frame_ends.clear();
    }

    fn push_frame(&mut self, trimmed: &[u8]) {
        self.frame_text.extend_from_slice(trimmed);
        self.frame_ends.push(self.frame_text.len());
    }
}

/// `cycles:u` -> `cycles`, `cpu-clock:ppp` -> `cpu-clock`; names with a `:` followed by more than
/// modifier letters (tracepoints) stay whole.
pub fn event_base(e: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', e) {
        Some(i) if i > 0 && e[i + 1..].iter().all(|c| b"ukhIGHppPSDWe".contains(c)) => event_base(&e[..i]),
        _ => e,
    }
}

/// A `key=value` field of tracepoint text. The value runs to the next ` name=` (or ` ==>`), so
/// values holding spaces (`prev_comm=V8 WorkerThread`) come out whole.
pub fn field<'a>(trace: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&trace[from..], key) {
        let at = from + i;
        let end = at + key.len();
        if (at == 0 || is_ws(trace[at - 1])) && trace.get(end) == Some(&b'=') {
            let v = end + 1;
            let mut j = v;
            while j < trace.len() {
                if is_ws(trace[j]) && starts_field(&trace[j + 1..]) {
                    break;
                }
                j += 1;
            }
            return Some(trim_end(&trace[v..j]));
        }
        from = at + 1;
    }
    None
}

fn starts_field(s: &[u8]) -> bool {
    let s = trim_start(s);
    if s.starts_with(b"==>") {
        return true;
    }
    let n = s.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
    n > 0 && s.get(n) == Some(&b'=')
}

/// `123.456789:` -> 123456789000 ns; `123.456789012:` -> 123456789012 ns; `123:` -> 123 s.
pub fn parse_time(tok: &[u8]) -> Option<u64> {
    let t = tok.strip_suffix(b":")?;
    let (secs, frac) = match memchr::memchr(b'.', t) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, &b""[..]),
    };
    if secs.is_empty() || !secs.iter().all(u8::is_ascii_digit) || frac.len() > 9 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut ns: u64 = 0;
    for &d in frac {
        ns = ns * 10 + (d - b'0') as u64;
    }
    ns *= 10u64.pow(9 - frac.len() as u32);
    let s: u64 = std::str::from_utf8(secs).ok()?.parse().ok()?;
    s.checked_mul(1_000_000_000)?.checked_add(ns)
}

fn parse_id(t: &[u8]) -> Option<i64> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// Reads samples one at a time from `perf script` text.
pub struct EventReader<R: Read> {
    r: BufReader<R>,
    line: Vec<u8>,
    /// `line` holds a header read ahead (it ended the previous sample).
    held: bool,
    lineno: u64,
    ev: Event,
    in_event: bool,
    eof: bool,
    orphan_warned: bool,
    warnings: Vec<Warning>,
    more_warnings: u64,
    /// Samples read.
    pub samples: u64,
}

impl<R: Read> EventReader<R> {
    pub fn new(r: R) -> Self {
        EventReader {
            r: BufReader::with_capacity(1 << 16, r),
            line: Vec::new(),
            held: false,
            lineno: 0,
            ev: Event::default(),
            in_event: false,
            eof: false,
            orphan_warned: false,
            warnings: Vec::new(),
            more_warnings: 0,
            samples: 0,
        }
    }

    /// A warning about a line (kept up to [`MAX_WARNINGS`], then counted).
    pub fn warn(&mut self, line: u64, msg: impl Into<String>) {
        push_warning(&mut self.warnings, &mut self.more_warnings, line, msg);
    }

    /// The warnings so far (and the count of those beyond the cap), taken out.
    pub fn take_warnings(&mut self) -> (Vec<Warning>, u64) {
        (std::mem::take(&mut self.warnings), std::mem::take(&mut self.more_warnings))
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.lineno
    }

    /// Reads one line into `self.line` (without its end); false at the end of the input.
    fn read_line(&mut self) -> Result<bool> {
        self.line.clear();
        // at most the limit, its line end and one more byte: longer is an error, not a buffer
        // as large as the input
        let n = (&mut self.r).take(MAX_LINE as u64 + 2).read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(false);
        }
        self.lineno += 1;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        if self.line.len() > MAX_LINE {
            return Err(Error::Parse { line: self.lineno, msg: LONG_LINE.into() });
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.lineno == 1 && self.line.starts_with(b"PERFILE") {
            return Err(Error::Parse { line: 1, msg: "this is a binary perf.data file: run `perf script` on it and read that text".into() });
        }
        Ok(true)
    }

    /// The next sample, or `None` at the end of the input.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&Event>> {
        loop {
            if self.held {
                // a header read ahead ended the last sample: it starts this one
                self.held = false;
            } else if self.eof || !self.read_line()? {
                self.eof = true;
                if self.in_event {
                    self.in_event = false;
                    self.samples += 1;
                    return Ok(Some(&self.ev));
                }
                return Ok(None);
            }
            let line = std::mem::take(&mut self.line);
            let step = self.take_line(&line);
            self.line = line;
            match step {
                Step::Go => {}
                Step::Ended | Step::EndedHold => {
                    self.held = matches!(step, Step::EndedHold);
                    self.in_event = false;
                    self.samples += 1;
                    return Ok(Some(&self.ev));
                }
            }
        }
    }

    fn take_line(&mut self, line: &[u8]) -> Step {
        if line.first() == Some(&b'#') {
            return Step::Go;
        }
        if line.iter().all(|&b| is_ws(b)) {
            self.orphan_warned = false;
            return if self.in_event { Step::Ended } else { Step::Go };
        }
        // a header: in column 0, or (perf without callchains right-aligns the comm) indented
        // with an event, as the collapser reads it
        let t = trim_start(line);
        if let Some(h) = parse_header(t).filter(|h| h.event.is_some() || t.len() == line.len()) {
            if self.in_event {
                return Step::EndedHold;
            }
            self.start(t, &h);
            return Step::Go;
        }
        if parse_frame(t).is_none() {
            self.warn(self.lineno, format!("unrecognized line: {}", excerpt(line, 160)));
            return Step::Go;
        }
        if !self.in_event {
            if !self.orphan_warned {
                self.orphan_warned = true;
                self.warn(self.lineno, "frame line outside a sample (no header line since the last blank line): ignored");
            }
            return Step::Go;
        }
        self.ev.push_frame(t);
        Step::Go
    }

    fn start(&mut self, line: &[u8], h: &crate::collapse::perf::header::Header<'_>) {
        let ev = &mut self.ev;
        ev.clear();
        ev.line = self.lineno;
        ev.comm.extend_from_slice(h.comm);
        ev.pid_text.extend_from_slice(h.pid);
        ev.tid_text.extend_from_slice(h.tid);
        ev.pid = parse_id(h.pid);
        ev.tid = parse_id(h.tid);
        ev.event.extend_from_slice(h.event.unwrap_or_default());
        ev.period = h.period.and_then(|p| std::str::from_utf8(p).ok()?.parse().ok());
        // the tid is a slice of `line`: what follows it is `[cpu] time: [period] event: trace`
        let mut after = h.tid.as_ptr() as usize - line.as_ptr() as usize + h.tid.len();
        // `0/0` gives the tid `0` from before the slash: skip the rest of the ids
        while after < line.len() && !is_ws(line[after]) {
            after += 1;
        }
        let mut toks = Tokens { s: line, pos: after };
        let mut t = toks.next();
        if let Some(c) = t.and_then(|c| c.strip_prefix(b"[")).and_then(|c| c.strip_suffix(b"]")) {
            ev.cpu = std::str::from_utf8(c).ok().and_then(|c| c.parse().ok());
            t = toks.next();
        }
        if let Some(ts) = t.filter(|t| t.ends_with(b":")) {
            ev.time_ns = parse_time(ts);
            t = toks.next();
            if t.is_some_and(|p| p.iter().all(u8::is_ascii_digit)) {
                t = toks.next();
            }
            if t.is_some_and(|e| e.strip_suffix(b":") == h.event) && h.trailer.is_none() {
                ev.trace.extend_from_slice(trim_end(trim_start(&line[toks.pos..])));
            }
        }
        if let Some(tr) = h.trailer {
            ev.push_frame(tr);
        }
        self.in_event = true;
    }
}

enum Step {
    Go,
    Ended,
    EndedHold,
}

pub(crate) fn push_warning(w: &mut Vec<Warning>, more: &mut u64, line: u64, msg: impl Into<String>) {
    if w.len() < MAX_WARNINGS {
        w.push(Warning { line, msg: msg.into() });
    } else {
        *more += 1;
    }
}

struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.s;
        let mut i = self.pos;
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        let start = i;
        while i < s.len() && !is_ws(s[i]) {
            i += 1;
        }
        self.pos = i;
        if start == i {
            None
        } else {
            Some(&s[start..i])
        }
    }
}
