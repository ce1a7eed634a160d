//! Off-wake and chain graphs (`perf record -e sched:sched_switch -e sched:sched_wakeup -a -g`).
//!
//! A thread's blocked interval starts at its switch-out (as in [`super::offcpu()`]) and ends at
//! the first `sched_wakeup` (or `sched_waking`) of it (trace field `pid`); that sample is taken
//! in the waker,
//! so its stack is the waker's stack. The time counted is switch-out to wakeup (as bcc's
//! `offwaketime`: the run-queue wait after the wakeup is not blocked time). The stack drawn is,
//! from the root: the blocked thread's stack (process name first), a [`SEPARATOR`] frame `--`,
//! then the waker's stack reversed — its leaf next to the separator, its process name on top —
//! every waker frame suffixed [`WAKER`] (`_[w]`, what flamegraph.pl's `chain` palette keys on).
//!
//! Chains (`depth` > 1): each thread remembers the waker segments of its last wakeup; when it
//! wakes another thread, those are appended after its own segment, each after a `--`, up to
//! `depth` segments: the waker, the waker's waker, ...
//!
//! Intervals that end with a switch-in and no wakeup (a preempted thread, `R`) count nothing
//! (`no_waker`); idle (pid 0) is left out; intervals open at the end count nothing (`unclosed`).

use super::events::{push_warning, EventReader};
use super::naming::{Namer, StackOptions};
use super::offcpu::Tracker;
use super::{folded_lines, NsTable, TransformResult, SCHED_SWITCH, SCHED_WAKEUP, SCHED_WAKING};
use crate::error::Result;
use std::collections::HashMap;
use std::io::Read;

/// The frame between the blocked stack and each waker stack.
pub const SEPARATOR: &[u8] = b"--";
/// The suffix on waker frames.
pub const WAKER: &[u8] = b"_[w]";

/// Options of [`wakeup`].
#[derive(Clone, Debug)]
pub struct WakeupOptions {
    pub stacks: StackOptions,
    /// Waker segments per stack: 1 for the off-wake graph, more for a chain graph.
    pub depth: usize,
    /// As [`super::OffcpuOptions::states`].
    pub states: Option<Vec<u8>>,
    /// Leave out blocked intervals shorter than this (switch-out to wakeup).
    pub min_us: u64,
}

impl Default for WakeupOptions {
    fn default() -> Self {
        WakeupOptions { stacks: StackOptions::default(), depth: 1, states: None, min_us: 0 }
    }
}

/// Blocked time per blocked stack and waker stack(s), in microseconds.
///
/// Summary keys: `wakeups`, `woken_blocked` (wakeups that ended a blocked interval), `no_waker`,
/// `below_min_us` (of the off-wake intervals), `bad_wakeups`, then the off-CPU counts of
/// [`super::offcpu()`] (`switches` … `bad_fields`; its `intervals` and `below_min_us` are
/// switch-ins with no wakeup before), `other_events`, `under_1us_stacks`, `total_us`.
pub fn wakeup<R: Read>(r: R, opts: &WakeupOptions) -> Result<TransformResult> {
    let depth = opts.depth.max(1);
    let mut rd = EventReader::new(r);
    let mut namer = Namer::new(opts.stacks.clone());
    let sep = namer.intern(SEPARATOR);
    let mut tracker = Tracker::new(opts.states.clone(), 0);
    let min_ns = opts.min_us.saturating_mul(1000);
    let mut table = NsTable::default();
    let (mut warnings, mut more) = (Vec::new(), 0u64);
    // per thread: the waker segments of its last wakeup (reversed, suffixed, without `--`)
    let mut chains: HashMap<i64, Vec<Vec<u32>>> = HashMap::new();
    let (mut wakeups, mut woken, mut no_waker, mut below_min, mut bad, mut other) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut waker = Vec::new();
    let mut key = Vec::new();
    while let Some(ev) = rd.next()? {
        if ev.event == SCHED_SWITCH {
            if tracker.switch(ev, &mut namer, &mut warnings, &mut more).is_some() {
                no_waker += 1;
            }
            continue;
        }
        if ev.event != SCHED_WAKEUP && ev.event != SCHED_WAKING {
            other += 1;
            continue;
        }
        wakeups += 1;
        let target = ev.field(b"pid").and_then(|p| std::str::from_utf8(p).ok()?.parse::<i64>().ok());
        let (Some(target), Some(t)) = (target, ev.time_ns) else {
            bad += 1;
            push_warning(&mut warnings, &mut more, ev.line, "sched_wakeup without a pid field or a time stamp: ignored");
            continue;
        };
        // the waker's segment: its stack reversed (leaf first, process name last), suffixed
        waker.clear();
        namer.stack(ev, &mut waker);
        waker.reverse();
        for id in waker.iter_mut() {
            *id = namer.suffixed(*id, WAKER);
        }
        let waker_chain: Vec<Vec<u32>> = match ev.tid {
            Some(tid) if depth > 1 && tid > 0 => chains.get(&tid).cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        if let Some(p) = tracker.pending.remove(&target) {
            if t < p.time_ns {
                tracker.counts.backwards += 1;
            } else if t - p.time_ns < min_ns {
                below_min += 1;
            } else {
                woken += 1;
                key.clear();
                key.extend_from_slice(&p.stack);
                key.push(sep);
                key.extend_from_slice(&waker);
                for seg in waker_chain.iter().take(depth - 1) {
                    key.push(sep);
                    key.extend_from_slice(seg);
                }
                table.add(&key, t - p.time_ns)?;
            }
        }
        if depth > 1 {
            let mut c = Vec::with_capacity(depth - 1);
            c.push(waker.clone());
            c.extend(waker_chain.iter().take(depth - 2).cloned());
            chains.insert(target, c);
        }
    }
    let rendered = table.render_us(&namer);
    let note = (wakeups == 0).then(|| crate::error::Warning { line: 0, msg: "no sched:sched_wakeup samples: record with -e sched:sched_wakeup too".into() });
    let warnings = tracker.warnings(&mut rd, warnings, more, note);
    let mut summary = vec![("wakeups", wakeups), ("woken_blocked", woken), ("no_waker", no_waker), ("below_min_us", below_min), ("bad_wakeups", bad)];
    let mut off = Vec::new();
    tracker.summary(&mut off);
    summary.extend(off.into_iter().filter(|(k, _)| *k != "below_min_us"));
    summary.extend([("other_events", other), ("under_1us_stacks", rendered.under_us), ("total_us", rendered.total_us)]);
    Ok(TransformResult { folded: folded_lines(rendered.lines), warnings, summary, two_counts: false })
}
