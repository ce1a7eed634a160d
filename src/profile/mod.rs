//! A profile: what a collapse gives once its workers' tables are merged, the events filtered and
//! the names tidied: frames interned once ([`FrameId`]), stacks as frame-id sequences (root
//! first, [`StackId`] = position) with `u64` weights, in the byte order of their rendered text,
//! and frame ids numbered by first appearance in that order. So everything read from a profile
//! (folded text, speedscope, ...) is the same at every thread count.
//!
//! DESIGN.md puts the interning tables here too; they live in `crate::intern` (re-exported
//! below) because the collapse seam's `Sink` fills them: `collapse` sits below `profile`.

use crate::collapse::perf::{self, tidy, Options};
use crate::collapse::{Collapsed, Progress, Sink, NO_EVENT};
use crate::error::{excerpt, Error, Result, Warning};
use crate::input::chunk::CHUNK;
use std::io::Read;

pub use crate::intern::{FrameId, Interner, StackId};
mod order;
mod perf_data;
pub use perf_data::{from_perf_data_path, from_perf_data_read, from_perf_data_slice, is_perf_data_path};

pub mod formats;

/// Frames and stacks with weights, ordered by rendered bytes; and what the collapse noticed.
#[derive(Default)]
pub struct Profile {
    frames: Interner,
    ids: Vec<FrameId>,
    ends: Vec<usize>,
    weights: Vec<u64>,
    /// The stacks' text (`a;b;c`), one after the other, ending at `text_ends`: written in order
    /// once the stacks are sorted, for the folded output (empty for profiles built by
    /// [`Profile::push_sorted`]).
    text: Vec<u8>,
    text_ends: Vec<usize>,
    pub warnings: Vec<Warning>,
    /// The event kept (explicit filter or first event seen), if any event was seen.
    pub kept_event: Option<Vec<u8>>,
    /// Samples (their summed weight) of other events, left out.
    pub dropped: u128,
    /// Decompressed input bytes.
    pub bytes: u64,
}

/// How events are kept: `explicit` (an `--event-filter`) or else the first event seen, each
/// event compared to it by `same(event, kept, explicit)`.
pub struct EventFilter<'a> {
    pub explicit: Option<&'a [u8]>,
    pub same: fn(&[u8], &[u8], bool) -> bool,
}

impl Profile {
    /// The frame names (after the tidy rules), by id.
    pub fn frames(&self) -> &Interner {
        &self.frames
    }

    /// Number of distinct stacks.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// A stack's frames, root first.
    pub fn stack(&self, id: StackId) -> &[FrameId] {
        let i = id.0 as usize;
        &self.ids[if i == 0 { 0 } else { self.ends[i - 1] }..self.ends[i]]
    }

    pub fn weight(&self, id: StackId) -> u64 {
        self.weights[id.0 as usize]
    }

    /// Stacks (root-first frame ids) and weights, in the byte order of their rendered text.
    pub fn stacks(&self) -> impl Iterator<Item = (&[FrameId], u64)> + '_ {
        (0..self.len()).map(move |i| (self.stack(StackId(i as u32)), self.weights[i]))
    }

    /// Sum of all weights.
    pub fn total(&self) -> u128 {
        self.weights.iter().map(|&w| w as u128).sum()
    }

    /// The stacks' text and where each ends, when the profile was made by a collapse (`None`
    /// once taken, or for profiles built by [`Profile::push_sorted`]).
    pub fn text(&self) -> Option<(&[u8], &[usize])> {
        (self.text_ends.len() == self.len()).then_some((&self.text[..], &self.text_ends[..]))
    }

    /// Takes the stacks' text and ends out of the profile (see [`Profile::text`]).
    pub fn take_text(&mut self) -> Option<(Vec<u8>, Vec<usize>)> {
        if self.text_ends.len() != self.len() {
            return None;
        }
        Some((std::mem::take(&mut self.text), std::mem::take(&mut self.text_ends)))
    }

    /// Writes a stack's text (`a;b;c`) into `out`.
    pub fn render(&self, id: StackId, out: &mut Vec<u8>) {
        for (k, &f) in self.stack(id).iter().enumerate() {
            if k > 0 {
                out.push(b';');
            }
            out.extend_from_slice(self.frames.get(f));
        }
    }

    /// Adds a stack after the last one: `frames` root first, in byte order after the stacks
    /// already there (a folded file's lines, sorted and distinct, for instance).
    pub fn push_sorted<'a>(&mut self, frames: impl IntoIterator<Item = &'a [u8]>, weight: u64) {
        self.text.clear();
        self.text_ends.clear();
        for f in frames {
            let id = self.frames.intern(f);
            self.ids.push(id);
        }
        self.ends.push(self.ids.len());
        self.weights.push(weight);
    }

    /// The merged result of a collapse: the kept event's stacks, the Rust-name fix-up applied
    /// once per distinct frame (when `fixups`), sorted and renumbered.
    pub fn from_collapsed(c: Collapsed, events: &EventFilter<'_>, fixups: bool) -> Result<Profile> {
        Self::from_collapsed_on(c, events, fixups, 1)
    }

    /// [`Profile::from_collapsed`], its stacks put in order on up to `threads` threads
    /// (the same profile at any count).
    pub fn from_collapsed_on(c: Collapsed, events: &EventFilter<'_>, fixups: bool, threads: usize) -> Result<Profile> {
        let Collapsed { sink, mut warnings, bytes } = c;
        let Sink { names, events: event_names, stacks, first_event, .. } = sink;
        let explicit = events.explicit;
        let first = first_event.map(|(_, e)| event_names.get(FrameId(e.0)).to_vec());
        let kept: Option<Vec<u8>> = explicit.map(<[u8]>::to_vec).or(first);
        let keep: Vec<bool> = event_names.iter().map(|(_, n)| kept.as_deref().is_some_and(|k| (events.same)(n, k, explicit.is_some()))).collect();

        // the tidied names, computed once per distinct frame, in one buffer (the sort and the
        // text read them often, in no order)
        let fixed = if fixups { rust_fixups(&names) } else { None };
        let table = order::Names::new(names.len(), |id| match fixed.as_ref().and_then(|f| f[id as usize].as_deref()) {
            Some(v) => v,
            None => names.get(FrameId(id)),
        });
        drop(fixed);
        let name = |id: u32| -> &[u8] { table.get(id) };
        let mut dropped: u128 = 0;
        let mut dropped_events: Vec<u32> = Vec::new();
        let lens: Vec<u32> = (0..names.len() as u32).map(|id| name(id).len() as u32).collect();
        let mut kept_stacks: Vec<order::Kept<'_>> = Vec::with_capacity(stacks.len());
        let (mut size, mut frames) = (0usize, 0usize);
        for (k, c) in stacks.iter() {
            if k[0] != NO_EVENT && !keep[k[0] as usize] {
                dropped += c as u128;
                if !dropped_events.contains(&k[0]) {
                    dropped_events.push(k[0]);
                }
                continue;
            }
            let ids = &k[1..];
            let len = ids.iter().map(|&id| lens[id as usize] as usize).sum::<usize>() + ids.len().saturating_sub(1);
            kept_stacks.push((ids, c, len));
            size += len;
            frames += ids.len();
        }
        // the kept stacks, in the byte order of their text
        let spans = order::sorted(&kept_stacks, &table, threads);

        // frames renumbered by first appearance in that order; stacks that render alike add up.
        // The text in order is written by another thread when there is one (7 MB on a real
        // capture, its pages new: as long as the rest of this loop)
        let mut p = Profile { bytes, ..Default::default() };
        p.ids.reserve_exact(frames);
        p.ends.reserve_exact(spans.len());
        p.weights.reserve_exact(spans.len());
        let tables = |p: &mut Profile| -> Result<()> {
            let mut new_id: Vec<Option<FrameId>> = vec![None; names.len()];
            for s in &spans {
                let (ids, c, _) = kept_stacks[s.kept];
                if s.same {
                    let last = p.weights.len() - 1;
                    p.weights[last] = p.weights[last].checked_add(c).ok_or_else(|| {
                        let mut t = Vec::new();
                        order::render(ids, &table, &mut t);
                        Error::Overflow { what: format!("the count of stack {}", excerpt(&t, 200)) }
                    })?;
                    continue;
                }
                for &f in ids {
                    let id = *new_id[f as usize].get_or_insert_with(|| p.frames.intern(name(f)));
                    p.ids.push(id);
                }
                p.ends.push(p.ids.len());
                p.weights.push(c);
            }
            Ok(())
        };
        let (text, text_ends) = if threads > 1 && spans.len() >= order::PARALLEL_MIN {
            std::thread::scope(|s| {
                let copy = s.spawn(|| order::text_in_order(&kept_stacks, &spans, &table, size));
                let r = tables(&mut p);
                let text = copy.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                r.map(|()| text)
            })?
        } else {
            tables(&mut p)?;
            order::text_in_order(&kept_stacks, &spans, &table, size)
        };
        (p.text, p.text_ends) = (text, text_ends);
        drop(spans);

        if dropped > 0 && explicit.is_none() {
            let mut others: Vec<String> = dropped_events.iter().map(|&e| String::from_utf8_lossy(event_names.get(FrameId(e))).into_owned()).collect();
            others.sort();
            warnings.push(Warning {
                line: 0,
                msg: format!(
                    "Filtering for events of type: {} (left out: {}; choose one with --event-filter)",
                    String::from_utf8_lossy(kept.as_deref().unwrap_or(b"")),
                    others.join(", ")
                ),
            });
        }
        if let (Some(f), false) = (explicit, keep.contains(&true)) {
            if !event_names.is_empty() {
                let mut seen: Vec<String> = event_names.iter().map(|(_, n)| String::from_utf8_lossy(n).into_owned()).collect();
                seen.sort();
                warnings.push(Warning { line: 0, msg: format!("no sample has event {} (events seen: {})", String::from_utf8_lossy(f), seen.join(", ")) });
            }
        }
        p.warnings = warnings;
        p.kept_event = kept;
        p.dropped = dropped;
        Ok(p)
    }
}

/// The perf event rule: modifiers do not split an event unless the filter names them.
pub fn perf_events(opts: &Options) -> EventFilter<'_> {
    EventFilter { explicit: opts.event_filter.as_deref(), same: perf::same_event }
}

/// Collapses a stream of `perf script` text into a profile.
pub fn from_perf_read<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    from_perf_read_sized(r, opts, threads, progress, CHUNK)
}

/// Collapses `perf script` text in memory into a profile.
pub fn from_perf_slice(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    from_perf_slice_sized(data, opts, threads, progress, CHUNK)
}

pub(crate) fn from_perf_read_sized<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Profile> {
    Profile::from_collapsed_on(perf::collapse_read(r, opts, threads, progress, chunk)?, &perf_events(opts), true, threads)
}

pub(crate) fn from_perf_slice_sized(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Profile> {
    Profile::from_collapsed_on(perf::collapse_slice(data, opts, threads, progress, chunk)?, &perf_events(opts), true, threads)
}

/// Finishes perf's demangling of legacy Rust symbols where it demangled most names of a capture
/// but left some half done (`Foo$LT$T$GT$::bar::h0123...`), so a function is not drawn under two
/// names. A capture where perf demangled nothing is left as it is, as the Perl leaves it.
pub fn rust_fixups(names: &Interner) -> Option<Vec<Option<Vec<u8>>>> {
    let mut hashed = 0usize;
    let mut demangled = 0usize;
    for (_, n) in names.iter() {
        if tidy::has_rust_hash(n) {
            hashed += 1;
        } else if tidy::contains(n, b"::") {
            demangled += 1;
        }
    }
    if hashed == 0 || demangled <= hashed {
        return None;
    }
    Some(names.iter().map(|(_, n)| tidy::fix_rust_legacy(n)).collect())
}

#[cfg(test)]
mod tests;
