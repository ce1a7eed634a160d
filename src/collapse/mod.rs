//! Collapsing: every input format turns its bytes into stacks through one seam.
//!
//! A format is two small things: a [`Format`] (made once per run: its options, where its records
//! may start so the driver can cut the input there, and a [`Collapser`] per worker) and the
//! [`Collapser`] itself, which reads chunks of whole lines and hands what it finds to a [`Sink`]:
//! either [`Sample`]s (raw frames, the format's naming rules applied by the sink once per distinct
//! frame) or stacks of frame ids it already named. The driver runs the collapsers over the input
//! (in parallel where the format's records allow) and merges the sinks deterministically.
//!
//! - [`driver`]: the one parallel driver ([`collapse_read`] streamed, [`collapse_slice`] in
//!   memory; chunks cut by `input::chunk` where [`Format::starts_record`] says; progress and
//!   cancellation through [`Progress`]). [`collapse_in_order`] stays the reference.
//! - [`perf`]: `perf script` text, a [`Format`] on this seam.
//! - [`SNIFF_RULES`]: what the formats tell the one sniffer (`input::sniff`).
//!
//! The result, [`Collapsed`], is a merged sink: the tables as the workers filled them. Event
//! filtering, name fix-ups and the byte order of stacks are `profile`'s.

pub mod driver;
pub mod perf;

pub use driver::{collapse_read, collapse_slice, Progress};

use crate::error::{Error, Warning};
use crate::input::sniff::{Kind, Rules};
use crate::intern::{FrameId, Interner, StackTable};

/// What the formats tell the one sniffer (`input::sniff`): how a `perf script` header looks,
/// and each other format's `looks_like` test, asked in this order.
pub const SNIFF_RULES: Rules<'static> = Rules { perf_header: perf::header::looks_like_header, formats: &[(Kind::Dtrace, dtrace::looks_like), (Kind::Jstack, jstack::looks_like)] };

/// [`crate::input::sniff::sniff`] with the formats known here.
pub fn sniff(head: &[u8]) -> Kind {
    crate::input::sniff::sniff(head, &SNIFF_RULES)
}

/// [`crate::input::sniff::sniff_read`] with the formats known here.
pub fn sniff_read<R: std::io::Read>(r: R) -> crate::Result<(Kind, impl std::io::Read)> {
    crate::input::sniff::sniff_read(r, &SNIFF_RULES)
}

/// [`crate::input::sniff::sniffed`] with the formats known here.
pub fn sniffed<R: std::io::Read>(r: R, name: &str) -> crate::Result<(Kind, impl std::io::Read)> {
    crate::input::sniff::sniffed(r, name, &SNIFF_RULES)
}

pub mod dtrace;
pub mod jstack;
pub mod perf_data;

/// One frame as a profiler prints it, before any naming rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct Frame<'a> {
    /// The symbol as printed (may hold an offset such as `+0x1f`, arguments, ...).
    pub symbol: &'a [u8],
    /// The module (`[kernel.kallsyms]`, `/usr/lib/libc.so.6`, a JIT map ...), empty when none.
    pub module: &'a [u8],
}

/// One sample: who ran, which event, how much it weighs, when, and its frames from the leaf (the
/// order profilers print them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample<'a> {
    /// The process (or thread) name; empty when the format has none.
    pub comm: &'a [u8],
    pub pid: Option<i64>,
    pub tid: Option<i64>,
    /// The event name; empty when the format has none.
    pub event: &'a [u8],
    pub weight: u64,
    /// Nanoseconds, when the format prints a timestamp.
    pub time_ns: Option<u64>,
    /// Leaf first.
    pub frames: &'a [Frame<'a>],
}

/// An event name's id in a [`Sink`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u32);

/// Where a collapser puts what it reads. One per worker; the driver merges them in input order.
/// Line numbers given to it are 1-based within the chunk being read; the driver makes them
/// absolute.
#[derive(Default)]
pub struct Sink {
    /// Frame names (after the format's rules).
    pub names: Interner,
    /// Event names.
    pub events: Interner,
    /// Stacks: `[event id or NO_EVENT, frame ids from the root...]` -> summed weight.
    pub stacks: StackTable,
    /// (chunk index, line in chunk, message), at most `MAX_WARNINGS`.
    pub warnings: Vec<(usize, u64, String)>,
    /// Warnings beyond the cap.
    pub more_warnings: u64,
    /// The first error: (chunk, line in chunk, error).
    pub error: Option<(usize, u64, Error)>,
    /// The chunk being read (set by the driver).
    pub chunk: usize,
    /// Records (samples) started: a run that found none reports its first warning as the error.
    pub records: u64,
    /// The first event named: (chunk, id); the merge keeps the one first in the input.
    pub first_event: Option<(usize, EventId)>,
    /// Warnings about no line (kept in full, after the numbered ones).
    pub notes: Vec<String>,
    key: Vec<u32>,
}

/// The event slot of a stack key when the format has no events.
pub const NO_EVENT: u32 = u32::MAX;
/// Warnings kept per run (the rest are counted).
pub const MAX_WARNINGS: usize = 100;

impl Sink {
    pub fn new() -> Self {
        Sink::default()
    }

    /// The id of a frame name, adding it when new.
    #[inline]
    pub fn frame(&mut self, name: &[u8]) -> FrameId {
        self.names.intern(name)
    }

    /// The id of an event name, adding it when new.
    #[inline]
    pub fn event(&mut self, name: &[u8]) -> EventId {
        let e = EventId(self.events.intern(name).0);
        if self.first_event.is_none() {
            self.first_event = Some((self.chunk, e));
        }
        e
    }

    /// Adds `weight` to a stack of frames given from the root.
    #[inline]
    pub fn add_stack(&mut self, event: Option<EventId>, root_first: &[FrameId], weight: u64) {
        self.key.clear();
        self.key.push(event.map_or(NO_EVENT, |e| e.0));
        self.key.extend(root_first.iter().map(|f| f.0));
        if !self.stacks.add(&self.key, weight) {
            self.fail(0, Error::Overflow { what: "the count of a stack".into() });
        }
    }

    /// A line that could not be used; the run goes on.
    pub fn warn(&mut self, line: u64, msg: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push((self.chunk, line, msg.into()));
        } else {
            self.more_warnings += 1;
        }
    }

    /// A warning about no line of the input.
    pub fn note(&mut self, msg: impl Into<String>) {
        self.notes.push(msg.into());
    }

    /// An error that stops the run; the first one met in the input is reported.
    pub fn fail(&mut self, line: u64, e: Error) {
        if self.error.is_none() {
            self.error = Some((self.chunk, line, e));
        }
    }
}

/// Reads one format, chunk by chunk, into a [`Sink`]. One per worker.
pub trait Collapser: Send {
    /// Reads one chunk of whole lines (the last may lack its newline at the end of the input).
    /// `fresh`: the chunk starts where a record may start (see [`Format::starts_record`]), so
    /// any record in progress ends first; otherwise it continues the chunk this collapser read
    /// before. Returns the number of lines in the chunk (for absolute line numbers).
    fn chunk(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64;
    /// The input ended: finish the record in progress.
    fn end(&mut self, out: &mut Sink);
}

/// A format, with its options: makes the collapsers and tells the driver where to cut.
pub trait Format: Sync {
    type C: Collapser;
    /// A collapser for one worker.
    fn collapser(&self) -> Self::C;
    /// Whether the input may be cut into chunks read by several workers. When false, one worker
    /// reads every chunk in order (`fresh` only for the first).
    fn parallel(&self) -> bool {
        false
    }
    /// Where a parallel format's records may start: `line` (without its newline) comes after a
    /// line that was blank (`after_blank`) or not. Only asked when [`Format::parallel`].
    fn starts_record(&self, _line: &[u8], _after_blank: bool) -> bool {
        false
    }
}

/// Calls `f(line, lineno)` for each line of `data` (without `\n` or a final `\r`), numbered from
/// 1; returns the number of lines. For line-oriented formats' [`Collapser::chunk`].
pub fn for_lines(data: &[u8], mut f: impl FnMut(&[u8], u64)) -> u64 {
    let mut n = 0u64;
    let mut pos = 0;
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        let mut line = &data[pos..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        n += 1;
        f(line, n);
        pos = end + 1;
    }
    n
}

/// What a collapse gives before rendering: the merged sink and the warnings, numbered.
pub struct Collapsed {
    pub sink: Sink,
    pub warnings: Vec<Warning>,
    pub bytes: u64,
}

/// The simplest driver: one collapser reads the whole input in memory, in order. The parallel
/// driver replaces it for formats whose records allow it; this one stays the reference.
pub fn collapse_in_order<F: Format>(format: &F, data: &[u8]) -> crate::Result<Collapsed> {
    let mut c = format.collapser();
    let mut sink = Sink::new();
    c.chunk(data, true, &mut sink);
    c.end(&mut sink);
    if let Some((_, line, e)) = sink.error.take() {
        return Err(match e {
            Error::Parse { msg, .. } => Error::Parse { line, msg },
            e => e,
        });
    }
    let mut warnings: Vec<Warning> = sink.warnings.drain(..).map(|(_, line, msg)| Warning { line, msg }).collect();
    if sink.more_warnings > 0 {
        warnings.push(Warning { line: 0, msg: format!("{} more lines could not be used (only the first {MAX_WARNINGS} are shown)", sink.more_warnings) });
    }
    Ok(Collapsed { sink, warnings, bytes: data.len() as u64 })
}

/// Folded text (`a;b;c count`, sorted by bytes) of a sink's stacks, all events together: for
/// tests and for formats without events.
pub fn folded_text(sink: &Sink) -> Vec<u8> {
    let mut lines: Vec<(Vec<u8>, u64)> = Vec::new();
    for (k, c) in sink.stacks.iter() {
        let mut s = Vec::new();
        for (i, &id) in k[1..].iter().enumerate() {
            if i > 0 {
                s.push(b';');
            }
            s.extend_from_slice(sink.names.get(FrameId(id)));
        }
        lines.push((s, c));
    }
    lines.sort();
    let mut out = Vec::new();
    for (s, c) in lines {
        out.extend_from_slice(&s);
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(c).as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests;
