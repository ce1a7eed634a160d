//! Hot/cold: on-CPU samples and off-CPU intervals of one capture in one profile
//! (`perf record -e cpu-clock -F 999 -e sched:sched_switch -a -g`).
//!
//! On-CPU: each sample of the on-CPU event (`cpu-clock` by default; its period is in
//! nanoseconds) weighs its period. Off-CPU: the intervals of [`super::offcpu()`], same rules.
//! Both are summed in nanoseconds per stack and floored to microseconds per stack, so the total
//! is exactly on-CPU µs plus off-CPU µs (as the summary says). Off-CPU stacks are told apart by
//! the suffix [`OFF_CPU`] (`_[o]`) on every frame but the root (the process name), so a process
//! keeps one tower whose on-CPU and off-CPU parts split above it; a palette keys on the suffix
//! (`_[o]$`: cold, anything else: hot).

use super::events::{push_warning, EventReader};
use super::naming::{Namer, StackOptions};
use super::offcpu::Tracker;
use super::{folded_lines, NsTable, TransformResult, SCHED_SWITCH};
use crate::error::Result;
use std::io::Read;

/// The suffix on the frames of off-CPU stacks.
pub const OFF_CPU: &[u8] = b"_[o]";

/// Options of [`hotcold`].
#[derive(Clone, Debug)]
pub struct HotcoldOptions {
    pub stacks: StackOptions,
    /// The on-CPU event (its base name: `cpu-clock:ppp` is `cpu-clock`); its period must be
    /// nanoseconds (`cpu-clock`, `task-clock`).
    pub on_event: Vec<u8>,
    /// As [`super::OffcpuOptions::states`].
    pub states: Option<Vec<u8>>,
    /// As [`super::OffcpuOptions::min_us`] (off-CPU intervals only).
    pub min_us: u64,
}

impl Default for HotcoldOptions {
    fn default() -> Self {
        HotcoldOptions { stacks: StackOptions::default(), on_event: b"cpu-clock".to_vec(), states: None, min_us: 0 }
    }
}

/// On-CPU and off-CPU time per stack, in microseconds.
///
/// Summary keys: `on_samples`, `on_no_period`, `on_us`, `off_us`, `total_us` (= on + off),
/// the off-CPU counts of [`super::offcpu()`] (`switches` … `bad_fields`), `other_events`,
/// `under_1us_stacks`.
pub fn hotcold<R: Read>(r: R, opts: &HotcoldOptions) -> Result<TransformResult> {
    let mut rd = EventReader::new(r);
    let mut namer = Namer::new(opts.stacks.clone());
    let mut tracker = Tracker::new(opts.states.clone(), opts.min_us);
    let (mut on, mut off) = (NsTable::default(), NsTable::default());
    let (mut warnings, mut more) = (Vec::new(), 0u64);
    let (mut on_samples, mut no_period, mut other) = (0u64, 0u64, 0u64);
    let mut stack = Vec::new();
    while let Some(ev) = rd.next()? {
        if ev.event == SCHED_SWITCH {
            if let Some(mut c) = tracker.switch(ev, &mut namer, &mut warnings, &mut more) {
                for id in c.stack.iter_mut().skip(1) {
                    *id = namer.suffixed(*id, OFF_CPU);
                }
                off.add(&c.stack, c.ns)?;
            }
        } else if ev.event_base() == &opts.on_event[..] {
            on_samples += 1;
            let Some(p) = ev.period else {
                no_period += 1;
                push_warning(&mut warnings, &mut more, ev.line, "on-CPU sample without a period: left out");
                continue;
            };
            stack.clear();
            namer.stack(ev, &mut stack);
            on.add(&stack, p)?;
        } else {
            other += 1;
        }
    }
    let ron = on.render_us(&namer);
    let roff = off.render_us(&namer);
    let note = (on_samples == 0).then(|| crate::error::Warning { line: 0, msg: format!("no {} samples: the profile holds off-CPU time only", String::from_utf8_lossy(&opts.on_event)) });
    let warnings = tracker.warnings(&mut rd, warnings, more, note);
    let mut summary = vec![("on_samples", on_samples), ("on_no_period", no_period), ("on_us", ron.total_us), ("off_us", roff.total_us), ("total_us", ron.total_us + roff.total_us)];
    tracker.summary(&mut summary);
    summary.extend([("other_events", other), ("under_1us_stacks", ron.under_us + roff.under_us)]);
    let mut lines = ron.lines;
    lines.extend(roff.lines);
    Ok(TransformResult { folded: folded_lines(lines), warnings, summary, two_counts: false })
}
