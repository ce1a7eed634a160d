//! Off-CPU time from `perf record -e sched:sched_switch -a -g`.
//!
//! A `sched_switch` sample is taken in the thread being switched out: its stack is that thread's
//! blocked stack, and its thread is the trace data's `prev_pid` (the header's tid is the same
//! unless perf lost the task, `:-1 -1`). The thread's off-CPU interval starts at that sample's
//! time and ends at the next `sched_switch` whose `next_pid` is that thread. Per stack the exact
//! nanoseconds are summed, then floored to microseconds (stacks under 1 µs are left out and
//! counted). The idle task (pid 0) is left out, and so are the last switch-outs of exiting
//! threads (`prev_state` `X` or `Z`: they never run again; counted as `exits`); intervals with no
//! switch-in before the capture ends count nothing (counted as `unclosed`). Other events are
//! ignored (counted).

use super::events::{Event, EventReader};
use super::naming::{Namer, StackOptions};
use super::{finish_warnings, folded_lines, parse_switch, state_matches, NsTable, TransformResult, SCHED_SWITCH};
use crate::error::{Result, Warning};
use std::collections::HashMap;
use std::io::Read;

/// Options of [`offcpu`].
#[derive(Clone, Debug, Default)]
pub struct OffcpuOptions {
    pub stacks: StackOptions,
    /// Keep only switch-outs whose `prev_state` has one of these letters (`b"SD"`); all when
    /// `None`. `R` (or `R+`) is a preempted, still runnable thread.
    pub states: Option<Vec<u8>>,
    /// Leave out intervals shorter than this many microseconds (each interval on its own).
    pub min_us: u64,
}

/// A thread switched out, waiting to be switched in.
pub(crate) struct Pending {
    pub time_ns: u64,
    /// Its stack, ids root first.
    pub stack: Vec<u32>,
}

/// A closed off-CPU interval.
pub(crate) struct Closed {
    pub ns: u64,
    pub stack: Vec<u32>,
}

/// Counts of the switch bookkeeping.
#[derive(Default, Debug, Clone)]
pub(crate) struct Counts {
    pub switches: u64,
    pub idle: u64,
    pub exits: u64,
    pub state_filtered: u64,
    pub intervals: u64,
    pub below_min: u64,
    pub reopened: u64,
    pub backwards: u64,
    pub no_time: u64,
    pub bad_fields: u64,
}

/// The per-thread state of off-CPU intervals: one pending switch-out per thread.
#[derive(Default)]
pub(crate) struct Tracker {
    pub pending: HashMap<i64, Pending>,
    pub counts: Counts,
    pub states: Option<Vec<u8>>,
    pub min_ns: u64,
    scratch: Vec<u32>,
    mismatch_warned: bool,
}

impl Tracker {
    pub fn new(states: Option<Vec<u8>>, min_us: u64) -> Self {
        Tracker { states, min_ns: min_us.saturating_mul(1000), ..Default::default() }
    }

    /// One `sched_switch` sample: closes the interval of the thread switched in (returned),
    /// opens the one of the thread switched out.
    pub fn switch(&mut self, ev: &Event, namer: &mut Namer, warnings: &mut Vec<Warning>, more: &mut u64) -> Option<Closed> {
        self.counts.switches += 1;
        let Some(sw) = parse_switch(&ev.trace) else {
            self.counts.bad_fields += 1;
            super::events::push_warning(warnings, more, ev.line, "sched_switch without prev_pid/next_pid fields: ignored");
            return None;
        };
        let Some(t) = ev.time_ns else {
            self.counts.no_time += 1;
            super::events::push_warning(warnings, more, ev.line, "sched_switch without a time stamp: ignored (record with perf script's default fields or -F +time)");
            return None;
        };
        let mut closed = None;
        if sw.next_pid != 0 {
            if let Some(p) = self.pending.remove(&sw.next_pid) {
                if t < p.time_ns {
                    self.counts.backwards += 1;
                    super::events::push_warning(warnings, more, ev.line, format!("thread {} switched in before it was switched out (time goes backwards): interval ignored", sw.next_pid));
                } else if t - p.time_ns < self.min_ns {
                    self.counts.below_min += 1;
                } else {
                    self.counts.intervals += 1;
                    closed = Some(Closed { ns: t - p.time_ns, stack: p.stack });
                }
            }
        }
        if sw.prev_pid == 0 {
            self.counts.idle += 1;
        } else if state_matches(sw.prev_state, b"XZ") {
            self.counts.exits += 1;
        } else if self.states.as_deref().is_some_and(|s| !state_matches(sw.prev_state, s)) {
            self.counts.state_filtered += 1;
        } else {
            if ev.tid.is_some_and(|tid| tid != sw.prev_pid && tid != -1) && !self.mismatch_warned {
                self.mismatch_warned = true;
                super::events::push_warning(warnings, more, ev.line, format!("sample of thread {} switches out prev_pid {}: prev_pid is used", ev.tid.unwrap_or(0), sw.prev_pid));
            }
            self.scratch.clear();
            namer.stack(ev, &mut self.scratch);
            let stack = self.scratch.clone();
            if self.pending.insert(sw.prev_pid, Pending { time_ns: t, stack }).is_some() {
                self.counts.reopened += 1;
            }
        }
        closed
    }

    pub fn summary(&self, out: &mut Vec<(&'static str, u64)>) {
        let c = &self.counts;
        out.extend([
            ("switches", c.switches),
            ("idle_switch_outs", c.idle),
            ("exits", c.exits),
            ("state_filtered", c.state_filtered),
            ("intervals", c.intervals),
            ("below_min_us", c.below_min),
            ("unclosed", self.pending.len() as u64),
            ("reopened", c.reopened),
            ("backwards", c.backwards),
            ("no_time", c.no_time),
            ("bad_fields", c.bad_fields),
        ]);
    }

    /// The note about intervals never closed, when there are some.
    pub fn unclosed_note(&self) -> Option<Warning> {
        let n = self.pending.len();
        (n > 0).then(|| Warning { line: 0, msg: format!("{n} threads were still off-CPU when the capture ended: those intervals count nothing") })
    }

    /// A run's warnings: the reader's and the transform's by line, then the notes (line 0).
    pub fn warnings<R: Read>(&self, rd: &mut EventReader<R>, own: Vec<Warning>, more: u64, note: Option<Warning>) -> Vec<Warning> {
        let (mut w, m) = rd.take_warnings();
        w.extend(own);
        w.sort_by_key(|x| x.line);
        w.extend(self.unclosed_note());
        w.extend(note);
        finish_warnings(w, m + more)
    }
}

/// Off-CPU time per blocked stack, in microseconds.
///
/// Summary keys: `switches`, `idle_switch_outs`, `exits`, `state_filtered`, `intervals`, `below_min_us`,
/// `unclosed`, `reopened` (a thread switched out twice with no switch-in between: the first
/// interval is dropped), `backwards`, `no_time`, `bad_fields`, `other_events`, `under_1us_stacks`,
/// `total_us`.
pub fn offcpu<R: Read>(r: R, opts: &OffcpuOptions) -> Result<TransformResult> {
    let mut rd = EventReader::new(r);
    let mut namer = Namer::new(opts.stacks.clone());
    let mut tracker = Tracker::new(opts.states.clone(), opts.min_us);
    let mut table = NsTable::default();
    let (mut warnings, mut more) = (Vec::new(), 0u64);
    let mut other = 0u64;
    while let Some(ev) = rd.next()? {
        if ev.event != SCHED_SWITCH {
            other += 1;
            continue;
        }
        if let Some(c) = tracker.switch(ev, &mut namer, &mut warnings, &mut more) {
            table.add(&c.stack, c.ns)?;
        }
    }
    let rendered = table.render_us(&namer);
    let warnings = tracker.warnings(&mut rd, warnings, more, None);
    let mut summary = Vec::new();
    tracker.summary(&mut summary);
    summary.extend([("other_events", other), ("under_1us_stacks", rendered.under_us), ("total_us", rendered.total_us)]);
    Ok(TransformResult { folded: folded_lines(rendered.lines), warnings, summary, two_counts: false })
}
