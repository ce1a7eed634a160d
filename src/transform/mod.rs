//! The talk's advanced flame graphs as transforms over `perf script` text: off-CPU time,
//! hot/cold, off-wake and chain graphs, CPI, and a stack doctor.
//!
//! Each transform streams its input through [`events::EventReader`] and keeps state per thread
//! only (the pending switch-out of each thread, its last waker), never the whole capture. The
//! stacks are named exactly as `flamefold collapse` names them ([`naming::Namer`]). Results are
//! folded text, sorted by bytes, one `stack count` line per distinct stack (CPI: two counts),
//! with warnings (numbered lines) and summary counts. Compressed input: wrap the reader in
//! [`crate::input::source::decoding`] first.
//!
//! | transform | perf record | counts | frame marks | flamegraph.pl drawing |
//! | --- | --- | --- | --- | --- |
//! | [`offcpu()`] | `-e sched:sched_switch -a -g` | µs blocked | — | `--colors io --countname us`, "Off-CPU Time Flame Graph" |
//! | [`hotcold()`] | `-e cpu-clock -F 999 -e sched:sched_switch -a -g` | µs on + off | `_[o]` on off-CPU frames (not the root) | hot, with `_[o]$` cold; `--countname us` |
//! | [`wakeup()`] | `-e sched:sched_switch -e sched:sched_wakeup -a -g` | µs blocked until woken | `--` frame, `_[w]` on waker frames | `--colors wakeup` (depth 1) / `chain`, `--countname us` |
//! | [`cpi()`] | `-e cycles -e instructions -a -g` | cycles, instructions | — | differential (two columns), see [`cpi()`] |
//! | [`doctor()`] | any capture | a report | — | — |
//! | [`weighted()`] | `-e block:block_rq_insert -a -g` (any tracepoint with a size) | bytes (or samples) | — | the recipe's palette (`io`, `mem`), `--countname bytes` |

pub mod cpi;
pub mod doctor;
pub mod events;
pub mod hotcold;
pub mod naming;
pub mod offcpu;
pub mod wakeup;
pub mod weighted;

#[cfg(test)]
mod tests;

pub use cpi::{cpi, CpiColumns, CpiOptions};
pub use doctor::{doctor, DoctorOptions, DoctorReport, Finding};
pub use events::{Event, EventReader};
pub use hotcold::{hotcold, HotcoldOptions};
pub use naming::StackOptions;
pub use offcpu::{offcpu, OffcpuOptions};
pub use wakeup::{wakeup, WakeupOptions};
pub use weighted::{weighted, Weight, WeightedOptions};

use crate::error::{Error, Result, Warning};
use crate::intern::StackTable;

/// What a transform gives.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransformResult {
    /// Folded stacks, sorted by bytes: `a;b;c count\n` (CPI: `a;b;c cycles instructions\n`).
    pub folded: Vec<u8>,
    /// Lines that could not be used, and notes (line 0) such as intervals never closed.
    pub warnings: Vec<Warning>,
    /// Named counts, in a fixed order per transform (documented on each transform).
    pub summary: Vec<(&'static str, u64)>,
    /// Two counts a line (CPI), for flamegraph.pl's differential mode.
    pub two_counts: bool,
}

impl TransformResult {
    /// A summary count by name.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.summary.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }

    /// The folded stacks as a [`crate::output::folded::Folded`] (what a `Profile` holds), for the
    /// one-count transforms (not CPI's two columns: `None` then, or on an overflow).
    pub fn to_folded(&self) -> Option<crate::output::folded::Folded> {
        if self.two_counts {
            return None;
        }
        let mut pairs = Vec::new();
        for l in self.folded.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let sp = memchr::memrchr(b' ', l)?;
            let c: u64 = std::str::from_utf8(&l[sp + 1..]).ok()?.parse().ok()?;
            pairs.push((&l[..sp], c));
        }
        crate::output::folded::Folded::from_pairs(pairs).ok()
    }

    /// The sum of the last column of the folded text.
    pub fn total(&self) -> u128 {
        self.folded
            .split(|&b| b == b'\n')
            .filter_map(|l| l.rsplit(|&b| b == b' ').next())
            .filter_map(|c| std::str::from_utf8(c).ok()?.parse::<u128>().ok())
            .sum()
    }
}

/// Nanoseconds summed per stack (ids root first), rendered in microseconds, floored per stack.
#[derive(Default)]
pub(crate) struct NsTable {
    table: StackTable,
}

/// A rendered table: its lines (unsorted) and what the flooring left out.
pub(crate) struct Rendered {
    pub lines: Vec<(Vec<u8>, u64)>,
    pub total_us: u64,
    /// Stacks whose summed time is under 1 µs (left out).
    pub under_us: u64,
}

impl NsTable {
    pub fn add(&mut self, key: &[u32], ns: u64) -> Result<()> {
        if self.table.add(key, ns) {
            Ok(())
        } else {
            Err(Error::Overflow { what: "the nanoseconds of a stack".into() })
        }
    }

    /// The stacks as text (names as [`naming::Namer::render`] gives them), equal texts summed,
    /// then floored to microseconds.
    pub fn render_us(&self, namer: &naming::Namer) -> Rendered {
        let mut ns = namer.render_all(self.table.iter());
        ns.sort_unstable();
        let mut r = Rendered { lines: Vec::with_capacity(ns.len()), total_us: 0, under_us: 0 };
        let mut it = ns.into_iter().peekable();
        while let Some((s, mut total)) = it.next() {
            while let Some((_, more)) = it.next_if(|(t, _)| *t == s) {
                total = total.saturating_add(more);
            }
            let us = total / 1000;
            if us == 0 {
                r.under_us += 1;
                continue;
            }
            r.total_us += us;
            r.lines.push((s, us));
        }
        r
    }
}

/// Sorted folded text from `stack count` pairs (equal stacks summed).
pub(crate) fn folded_lines(mut lines: Vec<(Vec<u8>, u64)>) -> Vec<u8> {
    lines.sort();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut c = lines[i].1;
        let mut j = i + 1;
        while j < lines.len() && lines[j].0 == lines[i].0 {
            c += lines[j].1;
            j += 1;
        }
        out.extend_from_slice(&lines[i].0);
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(c).as_bytes());
        out.push(b'\n');
        i = j;
    }
    out
}

/// The warnings of a run, with a last line counting those beyond the cap.
pub(crate) fn finish_warnings(mut w: Vec<Warning>, more: u64) -> Vec<Warning> {
    if more > 0 {
        w.push(Warning { line: 0, msg: format!("{more} more warnings (only the first {} are shown)", events::MAX_WARNINGS) });
    }
    w
}

/// The fields of a `sched:sched_switch` sample's trace data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch<'a> {
    pub prev_comm: &'a [u8],
    pub prev_pid: i64,
    /// `S`, `D`, `R`, `R+`, `I`, `X`, ... as perf prints it.
    pub prev_state: &'a [u8],
    pub next_comm: &'a [u8],
    pub next_pid: i64,
}

/// Reads `prev_comm=.. prev_pid=.. prev_prio=.. prev_state=.. ==> next_comm=.. next_pid=..`.
pub fn parse_switch(trace: &[u8]) -> Option<Switch<'_>> {
    let arrow = memchr::memmem::find(trace, b"==>")?;
    let (before, after) = (&trace[..arrow], &trace[arrow + 3..]);
    let num = |s: &[u8], k: &[u8]| -> Option<i64> { std::str::from_utf8(events::field(s, k)?).ok()?.parse().ok() };
    Some(Switch {
        prev_comm: events::field(before, b"prev_comm").unwrap_or_default(),
        prev_pid: num(before, b"prev_pid")?,
        prev_state: events::field(before, b"prev_state").unwrap_or_default(),
        next_comm: events::field(after, b"next_comm").unwrap_or_default(),
        next_pid: num(after, b"next_pid")?,
    })
}

/// Whether a `prev_state` (`S`, `D`, `R+`, `D|K`, ...) has one of `letters`.
pub fn state_matches(state: &[u8], letters: &[u8]) -> bool {
    state.iter().any(|c| c.is_ascii_alphabetic() && letters.contains(c))
}

pub const SCHED_SWITCH: &[u8] = b"sched:sched_switch";
pub const SCHED_WAKEUP: &[u8] = b"sched:sched_wakeup";
pub const SCHED_WAKING: &[u8] = b"sched:sched_waking";
