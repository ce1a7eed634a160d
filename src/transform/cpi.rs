//! CPI (cycles per instruction) from two events of one capture
//! (`perf record -e cycles -e instructions -a -g`).
//!
//! Per stack (named as the collapser names it) the periods of the cycles samples and of the
//! instructions samples are summed (a sample without a period, or with 0, counts 1, as the
//! collapser counts it). The output is flamegraph.pl's differential input, two counts a line:
//! `stack cycles instructions` by default. flamegraph.pl sizes frames by the second column and
//! colours by second minus first, so that order gives widths by instructions, red where
//! instructions exceed cycles (instruction-heavy, CPI < 1) and blue where cycles exceed
//! instructions (cycle-heavy, stalls). [`CpiColumns::InstructionsCycles`] gives widths by
//! cycles (the talk's CPI graph); drawn with flamegraph.pl's `--negate` its colours mean the same.

use super::events::{push_warning, EventReader};
use super::naming::{Namer, StackOptions};
use super::finish_warnings;
use super::TransformResult;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;

/// The order of the two counts on each line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CpiColumns {
    /// `stack cycles instructions`.
    #[default]
    CyclesInstructions,
    /// `stack instructions cycles`.
    InstructionsCycles,
}

/// Options of [`cpi`].
#[derive(Clone, Debug)]
pub struct CpiOptions {
    pub stacks: StackOptions,
    /// The cycles event's base name (`cycles:u` is `cycles`); `cycles` also takes `cpu-cycles`.
    pub cycles_event: Vec<u8>,
    /// The instructions event's base name.
    pub instructions_event: Vec<u8>,
    pub columns: CpiColumns,
}

impl Default for CpiOptions {
    fn default() -> Self {
        CpiOptions { stacks: StackOptions::default(), cycles_event: b"cycles".to_vec(), instructions_event: b"instructions".to_vec(), columns: CpiColumns::default() }
    }
}

/// Cycles and instructions per stack.
///
/// Summary keys: `cycles_samples`, `instructions_samples`, `cycles`, `instructions`,
/// `other_events`. [`TransformResult::total`] sums the second column.
pub fn cpi<R: Read>(r: R, opts: &CpiOptions) -> Result<TransformResult> {
    let mut rd = EventReader::new(r);
    let mut namer = Namer::new(opts.stacks.clone());
    let mut table: HashMap<Vec<u32>, [u64; 2]> = HashMap::new();
    let (mut samples, mut totals, mut other) = ([0u64; 2], [0u64; 2], 0u64);
    let (mut warnings, mut more) = (Vec::new(), 0u64);
    let mut stack = Vec::new();
    while let Some(ev) = rd.next()? {
        let base = ev.event_base();
        let slot = if base == &opts.cycles_event[..] || (opts.cycles_event == b"cycles" && base == b"cpu-cycles") {
            0
        } else if base == &opts.instructions_event[..] {
            1
        } else {
            other += 1;
            continue;
        };
        let n = match ev.period {
            Some(0) | None => {
                if ev.period.is_none() {
                    push_warning(&mut warnings, &mut more, ev.line, "sample without a period: counts 1");
                }
                1
            }
            Some(p) => p,
        };
        samples[slot] += 1;
        stack.clear();
        namer.stack(ev, &mut stack);
        let e = table.entry(stack.clone()).or_default();
        let overflow = || Error::Overflow { what: "the cycles or instructions of a stack".into() };
        e[slot] = e[slot].checked_add(n).ok_or_else(overflow)?;
        totals[slot] = totals[slot].checked_add(n).ok_or_else(overflow)?;
    }
    let mut lines = namer.render_all(table.iter().map(|(k, &c)| (&k[..], c)));
    lines.sort_unstable();
    let mut folded = Vec::new();
    let mut it = lines.into_iter().peekable();
    while let Some((s, [mut cycles, mut instr])) = it.next() {
        // names the Rust fix-ups made equal
        while let Some((_, [c, i])) = it.next_if(|(t, _)| *t == s) {
            cycles = cycles.saturating_add(c);
            instr = instr.saturating_add(i);
        }
        let (a, b) = match opts.columns {
            CpiColumns::CyclesInstructions => (cycles, instr),
            CpiColumns::InstructionsCycles => (instr, cycles),
        };
        folded.extend_from_slice(&s);
        for v in [a, b] {
            folded.push(b' ');
            folded.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
        folded.push(b'\n');
    }
    let (mut w, m) = rd.take_warnings();
    w.extend(warnings);
    w.sort_by_key(|x| x.line);
    for (i, name) in [&opts.cycles_event, &opts.instructions_event].into_iter().enumerate() {
        if samples[i] == 0 {
            w.push(crate::error::Warning { line: 0, msg: format!("no {} samples (record both: perf record -e cycles -e instructions)", String::from_utf8_lossy(name)) });
        }
    }
    let summary = vec![("cycles_samples", samples[0]), ("instructions_samples", samples[1]), ("cycles", totals[0]), ("instructions", totals[1]), ("other_events", other)];
    Ok(TransformResult { folded, warnings: finish_warnings(w, m + more), summary, two_counts: true })
}
