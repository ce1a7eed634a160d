//! The `perf script` collapser: stackcollapse-perf.pl's rules over bytes, frames interned once
//! per distinct line, stacks folded as id sequences, chunks of the input folded in parallel and
//! merged deterministically.

pub mod frame;
pub mod header;
pub mod inline;
pub mod tidy;

use crate::error::{excerpt, Error, Result, Warning};
use crate::fold::{Folded, FoldedBuilder, StackTable};
use crate::intern::{FrameId, Interner};
use crate::source::{slice_chunks, Chunker, CHUNK, LONG_LINE, MAX_LINE};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use header::{is_ws, parse_header, trim_start, Header};
use std::hash::BuildHasher;
use std::io::Read;
use std::sync::{mpsc, Mutex};

/// stackcollapse-perf.pl's options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub pid: bool,
    pub tid: bool,
    pub kernel: bool,
    pub jit: bool,
    pub addrs: bool,
    pub inline: bool,
    pub context: bool,
    pub srcline: bool,
    /// Keep only this event; by default the first event seen is kept.
    pub event_filter: Option<Vec<u8>>,
}

/// What a collapse gives: the folded stacks and what was noticed on the way.
#[derive(Debug, Default)]
pub struct Collapsed {
    pub folded: Folded,
    pub warnings: Vec<Warning>,
    /// The event kept (explicit filter or first event seen), if any event was seen.
    pub kept_event: Option<Vec<u8>>,
    /// Samples (their summed weight) of other events, left out.
    pub dropped: u128,
    /// Decompressed input bytes.
    pub bytes: u64,
}

/// Called by the reading thread after each chunk with the bytes read so far; an error stops the
/// run (Ctrl-C from Python, for instance).
pub type Progress<'a> = &'a (dyn Fn(u64) -> Result<()> + Sync);

const NO_EVENT: u32 = u32::MAX;
const MAX_WARNINGS: usize = 100;
const LINE_CACHE_LIMIT: usize = 16 << 20;

/// Frame line (trimmed, plus the java flag) -> the frame ids it gives. Only a cache: it is
/// cleared when it grows past a limit, so memory stays bounded whatever the number of addresses.
struct LineCache {
    table: HashTable<u32>,
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    /// (start, length) in `pool`, and for lines their flags, for blocks their line count.
    vals: Vec<(u32, u32, u32)>,
    pool: Vec<u32>,
    hasher: FixedState,
    /// Hash the whole key (blocks) rather than sampled words of it (lines).
    whole: bool,
}

const UNKNOWN: u8 = 1;
const NO_SRCLINE: u8 = 2;

impl LineCache {
    fn new(whole: bool) -> Self {
        LineCache { table: HashTable::new(), keys: Vec::new(), key_ends: Vec::new(), vals: Vec::new(), pool: Vec::new(), hasher: FixedState::with_seed(7), whole }
    }

    #[inline]
    fn hash(&self, flag: u8, key: &[u8]) -> u64 {
        key_hash(&self.hasher, self.whole, flag, key)
    }

    #[inline]
    fn key(ends: &[usize], i: usize) -> std::ops::Range<usize> {
        (if i == 0 { 0 } else { ends[i - 1] })..ends[i]
    }

    #[inline]
    fn find(&self, hash: u64, flag: u8, line: &[u8]) -> Option<usize> {
        self.table
            .find(hash, |&i| {
                let k = &self.keys[Self::key(&self.key_ends, i as usize)];
                k.len() == line.len() + 1 && k[0] == flag && &k[1..] == line
            })
            .map(|&i| i as usize)
    }

    fn insert(&mut self, hash: u64, flag: u8, line: &[u8], ids: &[u32], extra: u32) -> usize {
        if self.keys.len() > LINE_CACHE_LIMIT {
            self.table.clear();
            self.keys.clear();
            self.key_ends.clear();
            self.vals.clear();
            self.pool.clear();
        }
        let i = self.key_ends.len();
        self.keys.push(flag);
        self.keys.extend_from_slice(line);
        self.key_ends.push(self.keys.len());
        self.vals.push((self.pool.len() as u32, ids.len() as u32, extra));
        self.pool.extend_from_slice(ids);
        let LineCache { table, keys, key_ends, hasher, whole, .. } = self;
        table.insert_unique(hash, i as u32, |&j| {
            let k = &keys[Self::key(key_ends, j as usize)];
            key_hash(hasher, *whole, k[0], &k[1..])
        });
        i
    }
}

#[inline]
fn key_hash(state: &FixedState, whole: bool, flag: u8, key: &[u8]) -> u64 {
    if whole {
        block_hash(state, flag, key)
    } else {
        state.hash_one(key) ^ flag as u64 // lines are short: hash them whole
    }
}

/// A hash of a frame block from its length and 16 words spread over it (first and last lines
/// included): constant time whatever the depth of the stack. Equal hashes are compared in full.
#[inline]
fn block_hash(state: &FixedState, flag: u8, b: &[u8]) -> u64 {
    let n = b.len();
    if n < 128 {
        return state.hash_one(b) ^ flag as u64;
    }
    let mut h = (n as u64) << 8 | flag as u64;
    let step = (n - 8) / 15;
    for k in 0..16 {
        h = fold_mul(h ^ word(b, k * step), 0x9e37_79b9_7f4a_7c15);
    }
    h
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}


/// Folds chunks into its own tables.
pub struct Worker<'o> {
    opts: &'o Options,
    names: Interner,
    events: Interner,
    stacks: StackTable,
    cache: LineCache,
    /// Whole frame blocks (all frame lines of a sample) -> the frames they gave: a sample whose
    /// callchain text was seen before costs one hash and one compare.
    blocks: LineCache,
    use_blocks: bool,
    pending: Option<(usize, usize, u64)>,
    clean: bool,
    block_lookups: u32,
    block_hits: u32,
    blocks_off_for: u32,
    inliner: Option<inline::Inliner>,
    warnings: Vec<(usize, u64, String)>,
    more_warnings: u64,
    chunk_lines: Vec<(usize, u64)>,
    first_event: Option<(usize, u32)>,
    headers: u64,
    /// The first error, with the chunk and chunk-local line it was met at.
    error: Option<(usize, u64, Error)>,
    /// The chunk being folded.
    chunk: usize,
    /// `--srcline`: the frames of the last frame line, waiting for their source lines (one
    /// line each, read whatever they hold), and how many have theirs.
    src_group: Vec<u32>,
    src_next: usize,
    // the sample being read
    active: bool,
    java: bool,
    event: u32,
    pname: u32,
    last_pname: (Vec<u8>, u32),
    count: u64,
    orphan_warned: bool,
    rev: Vec<u32>,
    key: Vec<u32>,
    scratch: Vec<u8>,
    name: Vec<u8>,
    group: Vec<u32>,
}

#[cfg(test)]
thread_local! {
    /// Tests: Workers made on this thread parse every line (no block cache), for reference.
    static NO_BLOCKS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn blocks_allowed() -> bool {
    #[cfg(test)]
    if NO_BLOCKS.with(|c| c.get()) {
        return false;
    }
    true
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| is_ws(b))
}

impl<'o> Worker<'o> {
    pub fn new(opts: &'o Options) -> Self {
        Worker {
            opts,
            names: Interner::new(),
            events: Interner::new(),
            stacks: StackTable::new(),
            cache: LineCache::new(false),
            blocks: LineCache::new(true),
            use_blocks: !opts.srcline && !opts.inline && blocks_allowed(),
            pending: None,
            clean: false,
            block_lookups: 0,
            block_hits: 0,
            blocks_off_for: 0,
            inliner: if opts.inline { Some(inline::Inliner::new(opts.context)) } else { None },
            warnings: Vec::new(),
            more_warnings: 0,
            chunk_lines: Vec::new(),
            first_event: None,
            headers: 0,
            error: None,
            chunk: 0,
            src_group: Vec::new(),
            src_next: 0,
            active: false,
            java: false,
            event: NO_EVENT,
            pname: 0,
            last_pname: (Vec::new(), u32::MAX),
            count: 0,
            orphan_warned: false,
            rev: Vec::new(),
            key: Vec::new(),
            scratch: Vec::new(),
            name: Vec::new(),
            group: Vec::new(),
        }
    }

    fn warn(&mut self, chunk: usize, line: u64, msg: String) {
        self.clean = false;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push((chunk, line, msg));
        } else {
            self.more_warnings += 1;
        }
    }

    fn fail(&mut self, line: u64, e: Error) {
        if self.error.is_none() {
            self.error = Some((self.chunk, line, e));
        }
    }

    /// Folds one chunk (whole lines). `idx` orders chunks in the input. A `fresh` chunk starts
    /// at a sample boundary (see [`crate::source::last_boundary`]): the sample in progress is
    /// ended first. Otherwise the chunk continues the one folded before it by this worker, its
    /// sample in progress and pending source lines included. The last sample stays open until
    /// the next fresh chunk or [`Worker::end_input`].
    pub fn process(&mut self, idx: usize, data: &[u8], fresh: bool) {
        if fresh {
            self.end_sample();
            self.orphan_warned = false;
        }
        self.chunk = idx;
        self.pending = None;
        if self.error.is_some() {
            self.chunk_lines.push((idx, 0));
            return;
        }
        if idx == 0 && data.starts_with(b"PERFILE") {
            self.fail(1, Error::Parse { line: 1, msg: "this is a binary perf.data file: run `perf script` on it and collapse that text".into() });
            self.chunk_lines.push((idx, 0));
            return;
        }
        let mut pos = 0;
        let mut lineno = 0u64;
        while pos < data.len() {
            let (end, next) = match memchr::memchr(b'\n', &data[pos..]) {
                Some(i) => (pos + i, pos + i + 1),
                None => (data.len(), data.len()),
            };
            let mut line = &data[pos..end];
            let line_start = pos;
            pos = next;
            lineno += 1;
            if line.len() > MAX_LINE {
                self.fail(lineno, Error::Parse { line: lineno, msg: LONG_LINE.into() });
                break;
            }
            if self.src_next < self.src_group.len() {
                // perf indents source lines: a header in column 0 is the next sample, whose
                // frame line lacked its source lines (the Perl would eat it as one, losing it)
                if line.first().is_some_and(|&b| !is_ws(b)) && parse_header(line).is_some() {
                    self.flush_sources();
                } else {
                    self.source_line(line);
                    continue;
                }
            }
            if line.first() == Some(&b'#') {
                self.clean = false;
                continue;
            }
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if is_blank(line) {
                if let Some((start, len, hash)) = self.pending.take() {
                    if self.clean && self.active && start + len == line_start {
                        let flag = self.java as u8;
                        let block = &data[start..start + len];
                        let lines = memchr::memchr_iter(b'\n', block).count() as u32;
                        self.blocks.insert(hash, flag, block, &self.rev, lines);
                    }
                }
                self.end_sample();
                self.orphan_warned = false;
                continue;
            }
            if !is_ws(line[0]) {
                if let Some(h) = parse_header(line) {
                    self.pending = None;
                    self.end_sample();
                    self.start_sample(idx, lineno, &h);
                    if let Some(t) = h.trailer {
                        self.frame_line(idx, t, lineno);
                    } else if self.use_blocks && self.blocks_enabled() {
                        // the callchain up to the blank line: seen before?
                        let rest = &data[pos..];
                        let window = &rest[..rest.len().min(1 << 15)];
                        if let Some(b) = memchr::memmem::find(window, b"\n\n") {
                            let block = &rest[..b + 1];
                            let flag = self.java as u8;
                            let hash = self.blocks.hash(flag, block);
                            self.block_lookups += 1;
                            if let Some(e) = self.blocks.find(hash, flag, block) {
                                self.block_hits += 1;
                                let (start, len, lines) = self.blocks.vals[e];
                                self.rev.extend_from_slice(&self.blocks.pool[start as usize..(start + len) as usize]);
                                lineno += lines as u64 + 1;
                                pos += b + 2;
                                self.end_sample();
                                self.orphan_warned = false;
                                continue;
                            }
                            self.pending = Some((pos, b + 1, hash));
                            // any line of the block that is not a plain frame line of this
                            // sample (a warning, a comment, a header) clears this
                            self.clean = true;
                        }
                    }
                    continue;
                }
            }
            self.frame_line(idx, line, lineno);
        }
        self.chunk_lines.push((idx, lineno));
    }

    /// Ends the input: the last sample counts.
    pub fn end_input(&mut self) {
        self.end_sample();
    }

    /// `--srcline`: one source line (whatever it holds) for the next waiting frame.
    fn source_line(&mut self, line: &[u8]) {
        let k = self.src_next;
        self.name.clear();
        self.name.extend_from_slice(self.names.get(FrameId(self.src_group[k])));
        let base = self.name.len();
        self.name.push(b':');
        tidy::srcline_text(line.strip_suffix(b"\r").unwrap_or(line), &mut self.name);
        if self.name.len() > base + 1 {
            self.src_group[k] = self.names.intern(&self.name).0;
        }
        self.src_next += 1;
        if self.src_next == self.src_group.len() {
            self.flush_sources();
        }
    }

    /// The waiting frames (with the source lines they got) join the stack.
    fn flush_sources(&mut self) {
        self.rev.extend(self.src_group.iter().rev());
        self.src_group.clear();
        self.src_next = 0;
    }

    /// The block cache pays only when callchains repeat: after 4096 lookups with fewer than a
    /// quarter of hits it rests for 65536 samples, then tries again.
    #[inline]
    fn blocks_enabled(&mut self) -> bool {
        if self.blocks_off_for > 0 {
            self.blocks_off_for -= 1;
            return false;
        }
        if self.block_lookups >= 4096 {
            if self.block_hits * 4 < self.block_lookups {
                self.blocks_off_for = 65536;
            }
            self.block_lookups = 0;
            self.block_hits = 0;
            return self.blocks_off_for == 0;
        }
        true
    }

    fn start_sample(&mut self, idx: usize, lineno: u64, h: &Header<'_>) {
        self.headers += 1;
        // a header inside a callchain block: the block gives two samples, not one
        self.clean = false;
        self.orphan_warned = false;
        self.event = match h.event {
            Some(e) => self.events.intern(e).0,
            None => NO_EVENT,
        };
        if self.first_event.is_none() && self.event != NO_EVENT {
            self.first_event = Some((idx, self.event));
        }
        let o = self.opts;
        let s = &mut self.scratch;
        s.clear();
        s.extend(h.comm.iter().map(|&b| if b == b' ' { b'_' } else { b }));
        if o.tid {
            s.push(b'-');
            s.extend_from_slice(h.pid);
            s.push(b'/');
            s.extend_from_slice(h.tid);
        } else if o.pid {
            s.push(b'-');
            s.extend_from_slice(h.pid);
        }
        self.java = s.starts_with(b"java");
        // consecutive samples mostly come from the same thread: skip the lookup then
        if *s != self.last_pname.0 {
            self.last_pname = (s.clone(), self.names.intern(s).0);
        }
        self.pname = self.last_pname.1;
        self.count = match h.period {
            None => 1,
            Some(d) => match std::str::from_utf8(d).ok().and_then(|t| t.parse::<u64>().ok()) {
                Some(0) => 1,
                Some(v) => v,
                None => {
                    self.warn(idx, lineno, format!("period {} does not fit in 64 bits: the sample counts 1", excerpt(d, 40)));
                    1
                }
            },
        };
        self.active = true;
    }

    fn end_sample(&mut self) {
        if !self.src_group.is_empty() {
            self.flush_sources(); // the input ended before their source lines: none
        }
        if !self.active {
            return;
        }
        self.active = false;
        self.key.clear();
        self.key.push(self.event);
        self.key.push(self.pname);
        self.key.extend(self.rev.iter().rev());
        self.rev.clear();
        if !self.stacks.add(&self.key, self.count) && self.error.is_none() {
            let mut s = Vec::new();
            crate::fold::render(&self.names, &self.key[1..], &mut s);
            self.fail(0, Error::Overflow { what: format!("the count of stack {}", excerpt(&s, 200)) });
        }
    }

    fn frame_line(&mut self, idx: usize, line: &[u8], lineno: u64) {
        let trimmed = trim_start(line);
        let indented = trimmed.len() < line.len();
        // the key says whether the line was indented: an indented line may be a header, the
        // same text unindented (a frame on a header line) is a frame
        let flag = self.java as u8 | (indented as u8) << 1;
        let hash = self.cache.hash(flag, trimmed);
        let entry = match self.cache.find(hash, flag, trimmed) {
            Some(e) => e,
            None => {
                if indented {
                    // perf without callchains right-aligns the comm: an indented header line
                    // (with its frame on the same line) that has an event is a header.
                    if let Some(h) = parse_header(trimmed).filter(|h| h.event.is_some()) {
                        self.end_sample();
                        self.start_sample(idx, lineno, &h);
                        if let Some(t) = h.trailer {
                            self.frame_line(idx, t, lineno);
                        }
                        return;
                    }
                }
                let Some(fl) = frame::parse_frame(trimmed) else {
                    self.warn(idx, lineno, format!("unrecognized line: {}", excerpt(line, 160)));
                    return;
                };
                let flags = self.compute_group(fl);
                let group = std::mem::take(&mut self.group);
                let e = self.cache.insert(hash, flag, trimmed, &group, flags as u32);
                self.group = group;
                e
            }
        };
        if !self.active {
            if !self.orphan_warned {
                self.orphan_warned = true;
                self.warn(idx, lineno, "frame line outside a sample (no header line since the last blank line): ignored".into());
            }
            return;
        }
        let (start, len, flags) = self.cache.vals[entry];
        let flags = flags as u8;
        let ids = &self.cache.pool[start as usize..(start + len) as usize];
        if self.opts.srcline && flags & (UNKNOWN | NO_SRCLINE) == 0 {
            // perl reads one source line per inline part, after each frame line, whatever
            // those lines hold (a blank line too): they are read as they come, in this chunk
            // or the next
            self.src_group.clear();
            self.src_group.extend_from_slice(ids);
            self.src_next = 0;
            if self.src_group.is_empty() {
                self.flush_sources();
            }
        } else {
            self.rev.extend(ids.iter().rev());
        }
    }

    /// Applies the symbol rules to one frame line; leaves its frame ids in `self.group`.
    fn compute_group(&mut self, fl: frame::FrameLine<'_>) -> u8 {
        self.group.clear();
        let o = self.opts;
        if let Some(inl) = self.inliner.as_mut() {
            if inline::Inliner::applies(fl.module) {
                if let Some(funcs) = inl.resolve(fl.addr, fl.raw, fl.module) {
                    for f in funcs {
                        self.group.push(self.names.intern(&f).0);
                    }
                    return NO_SRCLINE;
                }
            }
        }
        let raw = tidy::strip_offset(fl.raw);
        if raw.starts_with(b"(") {
            return NO_SRCLINE;
        }
        let mut parts: Vec<&[u8]> = split_arrow(raw);
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let mut flags = 0;
        let mut tmp = Vec::new();
        for (k, part) in parts.into_iter().enumerate() {
            self.name.clear();
            let src: &[u8] = if part == b"[unknown]" {
                tmp.clear();
                if tidy::unknown_name(fl.module, fl.addr, o.addrs, &mut tmp) {
                    flags |= UNKNOWN;
                }
                &tmp
            } else {
                part
            };
            tidy::tidy_generic(src, &mut self.name);
            if self.java {
                tidy::tidy_java(&mut self.name, 0);
            }
            if k > 0 {
                if !tidy::contains(&self.name, b"_[i]") {
                    self.name.extend_from_slice(b"_[i]");
                }
            } else if o.kernel && tidy::is_kernel(fl.module) {
                self.name.extend_from_slice(b"_[k]");
            } else if o.jit && tidy::is_jit(fl.module) && !tidy::contains(&self.name, b"_[j]") {
                self.name.extend_from_slice(b"_[j]");
            }
            self.group.push(self.names.intern(&self.name).0);
        }
        flags
    }
}

/// Splits a symbol at the `->` of an inline chain (perf-map-agent's `a->b->c`): only at a `->`
/// outside brackets, so a `->` inside a type (`OnceLock<fn() -> Box<T>>`, `FnOnce::call_once<fn()
/// -> i32>`, `std::function<int () -> int>`) and `operator->` stay part of the name. The Perl
/// splits at every `->`.
fn split_arrow(raw: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    if memchr::memmem::find(raw, b"->").is_none() {
        parts.push(raw);
        return parts;
    }
    let (mut depth, mut start, mut i) = (0usize, 0, 0);
    while i < raw.len() {
        match raw[i] {
            b'o' if tidy::operator_at(raw, i) => {
                i = tidy::skip_operator(raw, i);
                continue;
            }
            b'-' if raw.get(i + 1) == Some(&b'>') => {
                if depth == 0 {
                    parts.push(&raw[start..i]);
                    start = i + 2;
                }
                i += 2; // the `>` of a `->` closes nothing
                continue;
            }
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    parts.push(&raw[start..]);
    parts
}

fn effective_threads(opts: &Options, threads: usize) -> usize {
    if opts.inline {
        1 // addr2line lookups are cached per worker: one worker asks each address once
    } else if opts.srcline {
        // a source line may be blank, so a blank line is no sample boundary: one worker reads
        // the input in order, its state carried from chunk to chunk
        1
    } else {
        threads.max(1)
    }
}

/// Collapses a stream (already decompressed) of `perf script` text.
pub fn collapse_read<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Collapsed> {
    collapse_read_sized(r, opts, threads, progress, CHUNK)
}

/// A chunk: its index in the input, its buffer and the length used.
type Piece = (usize, (Vec<u8>, usize));
/// The chunks that continue a chunk, in order.
type Group = mpsc::Receiver<Piece>;

/// [`collapse_read`] with chunks of about `chunk` bytes.
pub(crate) fn collapse_read_sized<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    let threads = effective_threads(opts, threads);
    let mut chunker = Chunker::new(r, chunk);
    if threads == 1 {
        let mut w = Worker::new(opts);
        let mut buf = Vec::new();
        let mut idx = 0;
        while let Some((n, _)) = chunker.next_into(&mut buf)? {
            w.process(idx, &buf[..n], false);
            idx += 1;
            progress(chunker.bytes)?;
        }
        return finish(vec![w], opts, chunker.bytes);
    }
    // A chunk cut at a sample boundary goes to any worker, with a channel for the chunks that
    // continue it (cut where there was no boundary): those go to the same worker, in order.
    let (tx, rx) = mpsc::sync_channel::<(usize, (Vec<u8>, usize), Group)>(threads * 2);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let rx = Mutex::new(rx);
    let (workers, read_result) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                let free_tx = free_tx.clone();
                s.spawn(move || {
                    let mut w = Worker::new(opts);
                    loop {
                        let msg = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match msg {
                            Ok((i, (buf, n), more)) => {
                                w.process(i, &buf[..n], true);
                                let _ = free_tx.send(buf);
                                while let Ok((j, (buf, n))) = more.recv() {
                                    w.process(j, &buf[..n], false);
                                    let _ = free_tx.send(buf);
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    w
                })
            })
            .collect();
        let read_result = (|| -> Result<()> {
            let mut idx = 0;
            let mut group: Option<mpsc::SyncSender<Piece>> = None;
            loop {
                let mut buf = free_rx.try_recv().unwrap_or_default();
                let Some((n, continues)) = chunker.next_into(&mut buf)? else { return Ok(()) };
                match &group {
                    Some(g) if continues => {
                        if g.send((idx, (buf, n))).is_err() {
                            return Ok(());
                        }
                    }
                    _ => {
                        drop(group.take()); // the worker of the last group may finish it
                        let (gtx, grx) = mpsc::sync_channel(1);
                        if tx.send((idx, (buf, n), grx)).is_err() {
                            return Ok(());
                        }
                        group = Some(gtx);
                    }
                }
                idx += 1;
                progress(chunker.bytes)?;
            }
        })();
        drop(tx);
        let workers: Vec<Worker<'_>> = handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        (workers, read_result)
    });
    read_result?;
    finish(workers, opts, chunker.bytes)
}

/// Collapses `perf script` text held in memory (not compressed), without copying it.
pub fn collapse_slice(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Collapsed> {
    collapse_slice_sized(data, opts, threads, progress, CHUNK)
}

/// [`collapse_slice`] with chunks of about `chunk` bytes.
pub(crate) fn collapse_slice_sized(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    let threads = effective_threads(opts, threads);
    if threads == 1 {
        let mut w = Worker::new(opts);
        let mut bytes = 0u64;
        for (idx, part) in slice_chunks(data, chunk.saturating_mul(4)).enumerate() {
            w.process(idx, part, false);
            bytes += part.len() as u64;
            progress(bytes)?;
        }
        return finish(vec![w], opts, data.len() as u64);
    }
    let (tx, rx) = mpsc::sync_channel::<(usize, &[u8])>(threads * 4);
    let rx = Mutex::new(rx);
    let (workers, sent) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                s.spawn(move || {
                    let mut w = Worker::new(opts);
                    loop {
                        let msg = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match msg {
                            Ok((i, part)) => {
                                w.process(i, part, true);
                            }
                            Err(_) => break,
                        }
                    }
                    w
                })
            })
            .collect();
        let sent = (|| -> Result<()> {
            let mut sent = 0u64;
            for (idx, part) in slice_chunks(data, chunk).enumerate() {
                if tx.send((idx, part)).is_err() {
                    break;
                }
                sent += part.len() as u64;
                progress(sent)?;
            }
            Ok(())
        })();
        drop(tx);
        let workers: Vec<Worker<'_>> = handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        (workers, sent)
    });
    sent?;
    finish(workers, opts, data.len() as u64)
}

/// Merges the workers' tables into one, applies the event filter, renders and sorts the stacks.
fn finish(mut workers: Vec<Worker<'_>>, opts: &Options, bytes: u64) -> Result<Collapsed> {
    for w in workers.iter_mut() {
        w.end_input();
    }
    // line numbers: chunk-local -> absolute
    let mut chunk_lines: Vec<(usize, u64)> = workers.iter().flat_map(|w| w.chunk_lines.iter().copied()).collect();
    chunk_lines.sort_unstable();
    let mut base = vec![0u64; chunk_lines.last().map_or(0, |&(i, _)| i + 1)];
    let mut acc = 0u64;
    for &(i, n) in &chunk_lines {
        base[i] = acc;
        acc = acc.saturating_add(n);
    }
    // the error met first in the input
    if let Some((c, l, mut e)) = workers.iter_mut().filter_map(|w| w.error.take()).min_by_key(|&(c, l, _)| (c, l)) {
        if let Error::Parse { line, .. } = &mut e {
            *line = base.get(c).copied().unwrap_or(0) + l;
        }
        return Err(e);
    }
    let mut raw_warnings: Vec<(usize, u64, String)> = workers.iter_mut().flat_map(|w| std::mem::take(&mut w.warnings)).collect();
    raw_warnings.sort();
    let more: u64 = workers.iter().map(|w| w.more_warnings).sum::<u64>() + raw_warnings.len().saturating_sub(MAX_WARNINGS) as u64;
    raw_warnings.truncate(MAX_WARNINGS);
    let mut warnings: Vec<Warning> = raw_warnings.into_iter().map(|(c, l, msg)| Warning { line: base.get(c).copied().unwrap_or(0) + l, msg }).collect();
    for w in workers.iter_mut() {
        if let Some(inl) = w.inliner.as_mut() {
            warnings.extend(inl.warnings.drain(..).map(|msg| Warning { line: 0, msg }));
        }
    }
    if more > 0 {
        warnings.push(Warning { line: 0, msg: format!("{more} more lines could not be used (only the first {MAX_WARNINGS} are shown)") });
    }
    let headers: u64 = workers.iter().map(|w| w.headers).sum();
    if headers == 0 {
        if let Some(first) = warnings.iter().find(|w| w.line > 0) {
            return Err(Error::Parse { line: first.line, msg: format!("no `perf script` sample header found ({})", first.msg) });
        }
    }
    let first_event = workers.iter().filter_map(|w| w.first_event.map(|(c, e)| (c, w.events.get(FrameId(e)).to_vec()))).min();

    // one table: the single worker's, or all merged into the first
    let mut it = workers.into_iter();
    let mut g = it.next().expect("at least one worker");
    for w in it {
        let name_map: Vec<u32> = w.names.iter().map(|(_, n)| g.names.intern(n).0).collect();
        let ev_map: Vec<u32> = w.events.iter().map(|(_, n)| g.events.intern(n).0).collect();
        let mut key = Vec::new();
        for (k, c) in w.stacks.iter() {
            key.clear();
            key.push(if k[0] == NO_EVENT { NO_EVENT } else { ev_map[k[0] as usize] });
            key.extend(k[1..].iter().map(|&id| name_map[id as usize]));
            if !g.stacks.add(&key, c) {
                return Err(Error::Overflow { what: "the count of a stack".into() });
            }
        }
    }
    let kept: Option<Vec<u8>> = opts.event_filter.clone().or(first_event.map(|(_, e)| e));
    let keep: Vec<bool> = g.events.iter().map(|(_, n)| kept.as_deref().is_some_and(|k| same_event(n, k, opts.event_filter.is_some()))).collect();
    let kept_id: Option<u32> = keep.iter().position(|&k| k).map(|i| i as u32);

    let fixed = rust_fixups(&g.names);
    let mut builder = FoldedBuilder::default();
    let mut line = Vec::new();
    let mut dropped: u128 = 0;
    let mut dropped_events: Vec<u32> = Vec::new();
    for (k, c) in g.stacks.iter() {
        if k[0] != NO_EVENT && !keep[k[0] as usize] {
            dropped += c as u128;
            if !dropped_events.contains(&k[0]) {
                dropped_events.push(k[0]);
            }
            continue;
        }
        line.clear();
        for (n, &id) in k[1..].iter().enumerate() {
            if n > 0 {
                line.push(b';');
            }
            match fixed.as_ref().and_then(|f| f[id as usize].as_ref()) {
                Some(v) => line.extend_from_slice(v),
                None => line.extend_from_slice(g.names.get(FrameId(id))),
            }
        }
        builder.push(&line, c);
    }
    let folded = builder.finish().map_err(|s| Error::Overflow { what: format!("the count of stack {}", excerpt(&s, 200)) })?;
    if dropped > 0 && opts.event_filter.is_none() {
        let mut others: Vec<String> = dropped_events.iter().map(|&e| String::from_utf8_lossy(g.events.get(FrameId(e))).into_owned()).collect();
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
    if let (Some(f), None) = (&opts.event_filter, kept_id) {
        if !g.events.is_empty() {
            let mut seen: Vec<String> = g.events.iter().map(|(_, n)| String::from_utf8_lossy(n).into_owned()).collect();
            seen.sort();
            warnings.push(Warning { line: 0, msg: format!("no sample has event {} (events seen: {})", String::from_utf8_lossy(f), seen.join(", ")) });
        }
    }
    Ok(Collapsed { folded, warnings, kept_event: kept, dropped, bytes })
}

/// The event name without perf's modifier suffix (`cycles:u` -> `cycles`, `cpu-clock:ppp` ->
/// `cpu-clock`); tracepoints (`sched:sched_switch`) are left whole.
fn event_base(e: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', e) {
        Some(i) if i > 0 && i + 1 < e.len() && e[i + 1..].iter().all(|c| b"ukhIGHpPSDWeb".contains(c)) => &e[..i],
        _ => e,
    }
}

/// Whether samples of event `e` are kept under `filter`. Modifiers do not split an event
/// (`cycles:u` and `cycles` are both cycles), unless an explicit filter names them.
fn same_event(e: &[u8], filter: &[u8], explicit: bool) -> bool {
    if explicit && event_base(filter) != filter {
        return e == filter;
    }
    event_base(e) == event_base(filter)
}

/// Finishes perf's demangling of legacy Rust symbols where it demangled most names of a capture
/// but left some half done (`Foo$LT$T$GT$::bar::h0123...`), so a function is not drawn under two
/// names. A capture where perf demangled nothing is left as it is, as the Perl leaves it.
fn rust_fixups(names: &Interner) -> Option<Vec<Option<Vec<u8>>>> {
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
mod tests {
    use super::*;

    fn run(input: &str, opts: &Options, threads: usize) -> Collapsed {
        collapse_slice(input.as_bytes(), opts, threads, &|_| Ok(())).unwrap()
    }

    fn text(c: &Collapsed) -> String {
        String::from_utf8(c.folded.to_text()).unwrap()
    }

    const TWO: &str = "a 1 1.0: 5 cycles: \n\tff f+0x1 (/m)\n\tff main (/m)\n\na 1 1.0: 7 cycles: \n\tff g (/m)\n\tff main (/m)\n";

    #[test]
    fn arrow_splits_only_outside_brackets() {
        let parts = |s: &str| split_arrow(s.as_bytes()).into_iter().map(|p| String::from_utf8(p.to_vec()).unwrap()).collect::<Vec<_>>();
        assert_eq!(parts("Ljava/A;::a->Ljava/B;::b->Ljava/C;::c"), ["Ljava/A;::a", "Ljava/B;::b", "Ljava/C;::c"]);
        for one in [
            "std::sync::once_lock::OnceLock<unsafe fn() -> Box<dyn Fn()>>::initialize",
            "core::ops::function::FnOnce::call_once<fn() -> i32>",
            "std::function<int () -> int>::operator()",
            "std::unique_ptr<Foo>::operator->",
            "Foo::operator->*(int)",
            "x::{{closure}}<fn(u8) -> [u8; 4]>",
            "plain",
        ] {
            assert_eq!(parts(one), [one]);
        }
        // an arrow after a closed type still splits; unbalanced closers do not go below depth 0
        assert_eq!(parts("a<fn() -> i32>->b"), ["a<fn() -> i32>", "b"]);
        assert_eq!(parts("a)]>->b"), ["a)]>", "b"]);
        assert_eq!(parts("std::operator<< <char>->b"), ["std::operator<< <char>", "b"]);
    }

    #[test]
    fn arrow_in_a_type_is_one_frame() {
        let s = "rustc 7 1.0: 3 cycles: \n\t    55d0c3a1b2c4 std::sync::once_lock::OnceLock<T>::initialize::{{closure}}<fn() -> alloc::boxed::Box<dyn core::any::Any + core::marker::Send>>+0x24 (/usr/bin/rustc)\n\t    55d0c3a1b2c5 core::ops::function::FnOnce::call_once<fn() -> i32, fn(u8)>+0x1 (/usr/bin/rustc)\n\t ff Ljava/A;::a->Ljava/B;::b+0x0 (/tmp/perf-7.map)\n\n";
        assert_eq!(
            text(&run(s, &Options::default(), 1)),
            "rustc;Ljava/A:::a;Ljava/B:::b_[i];core::ops::function::FnOnce::call_once<fn() -> i32, fn(u8)>;std::sync::once_lock::OnceLock<T>::initialize::{{closure}}<fn() -> alloc::boxed::Box<dyn core::any::Any + core::marker::Send>> 3\n"
        );
    }

    #[test]
    fn exited_tasks_fold_under_one_process() {
        let s = ":-1    -1 [000]   719.403207: 500250 cpu-clock:ppp: \n\tff f (/m)\n\n:-1    -1 [001]   847.938387: 500250 cpu-clock:ppp: \n\tff f (/m)\n\n:-1 -1/-1 [002] 900.1: 3 cpu-clock:ppp: \n\tff f (/m)\n\n";
        assert_eq!(text(&run(s, &Options::default(), 1)), ":-1;f 1000503\n");
        assert_eq!(text(&run(s, &Options { pid: true, ..Default::default() }, 1)), ":-1--1;f 3\n:-1-?;f 1000500\n");
        assert_eq!(text(&run(s, &Options { tid: true, ..Default::default() }, 1)), ":-1--1/-1;f 3\n:-1-?/-1;f 1000500\n");
    }

    #[test]
    fn srcline_header_is_never_eaten_as_a_source_line() {
        // an inline chain of 3 parts wants 3 source lines; the capture gives none
        let one = "java 1  1.0:   10 cpu-clock: \n\t    7f a->b->c+0xbf (/tmp/perf-1.map)";
        let twice = format!("{one}\n{one}\n");
        let o = Options { srcline: true, ..Default::default() };
        for t in [1, 2, 3] {
            let c = run(&twice, &o, t);
            assert_eq!(c.folded.iter().map(|(_, n)| n).sum::<u64>(), 20, "threads {t}");
        }
    }

    #[test]
    fn last_sample_counts_without_blank_line() {
        assert_eq!(text(&run(TWO, &Options::default(), 1)), "a;main;f 5\na;main;g 7\n");
    }

    #[test]
    fn crlf_same_as_lf() {
        let crlf = TWO.replace('\n', "\r\n");
        assert_eq!(text(&run(&crlf, &Options::default(), 1)), text(&run(TWO, &Options::default(), 1)));
    }

    #[test]
    fn bad_line_warns_and_rest_counts() {
        let s = "a 1 1.0: 5 cycles: \n\tff f (/m)\n\tBROKEN\n\tff main (/m)\n";
        let c = run(s, &Options::default(), 1);
        assert_eq!(text(&c), "a;main;f 5\n");
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.warnings[0].line, 3);
    }

    #[test]
    fn tracepoints_are_filtered_by_name() {
        let s = "p 1 [0] 1.0: sched:sched_switch: prev_comm=a ==> next_comm=b\n\tff s (/m)\n\np 1 [0] 2.0: block:block_rq_insert: 8,0 W 4096 () 1 + 8 [p]\n\tff b (/m)\n\n";
        let c = run(s, &Options::default(), 1);
        assert_eq!(text(&c), "p;s 1\n");
        assert!(c.warnings.iter().any(|w| w.msg.contains("Filtering for events of type: sched:sched_switch")));
        let o = Options { event_filter: Some(b"block:block_rq_insert".to_vec()), ..Default::default() };
        assert_eq!(text(&run(s, &o, 1)), "p;b 1\n");
    }

    #[test]
    fn event_modifiers() {
        assert_eq!(event_base(b"cycles:u"), b"cycles");
        assert_eq!(event_base(b"cpu-clock:uhH"), b"cpu-clock");
        assert_eq!(event_base(b"sched:sched_switch"), b"sched:sched_switch");
        assert!(same_event(b"cycles:u", b"cycles", false) && same_event(b"cycles:u", b"cycles", true));
        assert!(!same_event(b"cycles", b"cycles:u", true) && !same_event(b"instructions", b"cycles", false));
    }

    #[test]
    fn threads_give_same_bytes() {
        let mut s = String::new();
        for i in 0..20000 {
            s.push_str(&format!("c{} {} 1.0: {} cycles: \n\tff f{} (/m)\n\tff main (/m)\n\n", i % 3, i, i % 7, i % 13));
        }
        let one = run(&s, &Options::default(), 1).folded;
        for t in [2, 3, 8] {
            assert_eq!(run(&s, &Options::default(), t).folded, one);
            let c = collapse_read(s.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
            assert_eq!(c.folded, one);
        }
    }

    fn outcome(r: Result<Collapsed>) -> std::result::Result<(Vec<u8>, Vec<String>), String> {
        r.map(|c| (c.folded.to_text(), c.warnings.iter().map(|w| w.to_string()).collect())).map_err(|e| e.to_string())
    }

    #[test]
    fn header_cut_at_end_of_input() {
        for input in ["a 1 1.0: 5 cycles:", "a 1 1.0: 5 cycles:\n", "a 1 1.0: 5 cycles: ", "a 1 1.0: 5 cycles:\r", "a 1 1.0: 5 cycles:\n\tff f (/m)"] {
            for t in [1, 2, 3] {
                let c = collapse_slice(input.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
                assert_eq!(c.folded.total(), 5, "{input:?}");
                let c = collapse_read(input.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
                assert_eq!(c.folded.total(), 5, "{input:?}");
            }
        }
    }

    /// A callchain block holding an indented header with a frame (perf without callchains) is
    /// two samples: caching it as one lost the second sample of its second copy.
    #[test]
    fn block_cache_never_spans_a_header() {
        let one = "a 1 1.0: 5 cycles:\n\tff f (/m)\n    b 2 2.0: 7 cycles:  ff g (/m)\n\tff h (/m)\n\n";
        let two = one.repeat(2);
        let c = run(&two, &Options::default(), 1);
        assert_eq!(c.folded.total(), 24);
        assert_eq!(text(&c), "a;f 10\nb;h;g 14\n");
        let many = one.repeat(50);
        assert_eq!(run(&many, &Options::default(), 1).folded.total(), 600);
        // a comment, a blank-looking line, CRLF, inside repeated blocks: replay == parse
        for block in ["\tff f (/m)\n# c\n\tff g (/m)\n", "\tff f (/m)\n \t\n\tff g (/m)\n", "\tff f (/m)\r\n\tff g (/m)\r\n", "\tff f (/m)\nBAD\n\tff g (/m)\n"] {
            let s = format!("a 1 1.0: 5 cycles:\n{block}\n").repeat(5);
            NO_BLOCKS.with(|c| c.set(true));
            let parsed = text(&run(&s, &Options::default(), 1));
            NO_BLOCKS.with(|c| c.set(false));
            assert_eq!(text(&run(&s, &Options::default(), 1)), parsed, "{block:?}");
        }
    }

    /// The same text as a frame on a header line and as an indented line: the first is a frame,
    /// the second a header (perf without callchains), whatever the line cache saw first.
    #[test]
    fn indented_header_after_same_text_as_trailer() {
        let s = "x 1 1.0: 1 cycles:  b 2 2.0: 7 cycles:  ff g (/m)\n\n    b 2 2.0: 7 cycles:  ff g (/m)\n\n";
        let c = run(s, &Options::default(), 1);
        assert_eq!(text(&c), "b;g 7\nx;2 2.0: 7 cycles:  ff g 1\n");
        for chunk in [1, 10, 100] {
            for t in [1, 2, 3] {
                let c = collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk).unwrap();
                assert_eq!(text(&c), "b;g 7\nx;2 2.0: 7 cycles:  ff g 1\n");
            }
        }
    }

    #[test]
    fn counts_overflow_is_an_error() {
        let max = u64::MAX;
        let s = format!("a 1 1.0: {max} cycles:\n\tff f (/m)\n\na 1 1.0: 1 cycles:\n\tff f (/m)\n\n");
        for t in [1, 2, 3] {
            // chunks of one sample each: the sum overflows in the merge of the workers
            let e = collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), 1).unwrap_err();
            assert!(matches!(e, Error::Overflow { .. }), "{e}");
            let e = collapse_read_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), 1).unwrap_err();
            assert!(matches!(e, Error::Overflow { .. }), "{e}");
        }
    }

    #[test]
    fn long_line_is_an_error_naming_it() {
        let mut s = b"a 1 1.0: 5 cycles:\n\tff f (/m)\n\n".repeat(3);
        s.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        s.extend_from_slice(b"\na 1 1.0: 5 cycles:\n\tff f (/m)\n\n");
        for t in [1, 2, 3] {
            for chunk in [7, 1000, CHUNK] {
                let e = collapse_slice_sized(&s, &Options::default(), t, &|_| Ok(()), chunk).unwrap_err();
                assert_eq!(e.to_string(), "line 10: line longer than 1 MiB (is this a perf script capture?)");
                let e = collapse_read_sized(&s[..], &Options::default(), t, &|_| Ok(()), chunk).unwrap_err();
                assert_eq!(e.to_string(), "line 10: line longer than 1 MiB (is this a perf script capture?)");
            }
        }
        // no line end at all: the reading stops after about a chunk and the limit
        let zeros = std::io::repeat(0).take(1 << 40);
        let e = collapse_read(zeros, &Options::default(), 2, &|b| {
            assert!(b <= (CHUNK + MAX_LINE) as u64 * 2);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "line 1: line longer than 1 MiB (is this a perf script capture?)");
    }

    /// Old perf: frames unindented, no blank lines. Streamed or in memory, any chunking and any
    /// thread count give the same stacks.
    #[test]
    fn unindented_frames_without_blank_lines() {
        let mut s = String::new();
        for i in 0..3000 {
            s.push_str(&format!("c{} {} 1.0: {} cycles:\nff f{} (/m)\nff g (/m)\nff main (/m)\n", i % 3, i, i % 7 + 1, i % 13));
        }
        let want = outcome(collapse_slice_sized(s.as_bytes(), &Options::default(), 1, &|_| Ok(()), usize::MAX));
        assert!(want.as_ref().unwrap().0.starts_with(b"c0;main;g;f0 "));
        for t in [1, 2, 3] {
            for chunk in [10, 333, 4096] {
                assert_eq!(outcome(collapse_read_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk)), want, "read t={t} chunk={chunk}");
                assert_eq!(outcome(collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk)), want, "slice t={t} chunk={chunk}");
            }
        }
    }

    /// `--srcline`: a blank line read as a frame's source line is no sample end.
    #[test]
    fn srcline_blank_source_line_at_any_cut() {
        let o = Options { srcline: true, ..Default::default() };
        let sample = "a 1 1.0: 1 cycles:\n\tff f (/m)\n\n\tff g (/m)\n  g.c:3\n\n";
        let s = sample.repeat(500);
        let want = outcome(collapse_slice_sized(s.as_bytes(), &o, 1, &|_| Ok(()), usize::MAX));
        assert_eq!(want.as_ref().unwrap().0, b"a;g:g.c:3;f 500\n");
        for t in [1, 2, 3, 8] {
            for chunk in [5, 64, 1000] {
                assert_eq!(outcome(collapse_read_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk)), want, "read t={t} chunk={chunk}");
                assert_eq!(outcome(collapse_slice_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk)), want, "slice t={t} chunk={chunk}");
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn corpus() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/collapse/inputs");
        let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let mut v = Vec::new();
                crate::source::decoding(std::fs::File::open(p).unwrap()).unwrap().read_to_end(&mut v).unwrap();
                v
            })
            .collect()
    }

    fn mutate(rng: &mut Rng, d: &[u8]) -> Vec<u8> {
        let mut v = d.to_vec();
        for _ in 0..1 + rng.below(4) {
            let n = v.len();
            match rng.below(9) {
                0 => v.truncate(rng.below(n + 1)),
                1 if n > 0 => {
                    let i = rng.below(n);
                    v[i] ^= 1 << rng.below(8);
                }
                2 if n > 0 => {
                    let i = rng.below(n);
                    v[i] = *b"\n\t \r#:/0(" .get(rng.below(9)).unwrap();
                }
                3 => v.retain(|&b| b != b'\t'), // unindented frames
                4 => {
                    // no blank lines
                    let mut out = Vec::with_capacity(n);
                    for (i, &b) in v.iter().enumerate() {
                        if !(b == b'\n' && i > 0 && v[i - 1] == b'\n') {
                            out.push(b);
                        }
                    }
                    v = out;
                }
                5 if n > 0 => {
                    let (a, b) = (rng.below(n), rng.below(n));
                    let (a, b) = (a.min(b), a.max(b));
                    let piece = v[a..b.min(a + 5000)].to_vec();
                    let at = rng.below(n);
                    v.splice(at..at, piece);
                }
                6 => v = v.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect(),
                7 if n > 0 => {
                    let i = rng.below(n);
                    v.splice(i..i, b"    b 2 2.0: 7 cycles:  ff g (/m)\n".iter().copied());
                }
                _ => {
                    let extra = v.clone();
                    v.extend_from_slice(&extra);
                }
            }
        }
        v
    }

    /// Mutated corpus captures through every path: never a panic, and streamed, sliced, at 1 to 3
    /// threads, in chunks of any size, the same result as one chunk on one thread, which is the
    /// result with no block cache (every line parsed). Set
    /// FLAMEFOLD_MUTATIONS for a longer run.
    #[test]
    fn mutated_corpus_same_everywhere() {
        let rounds: usize = std::env::var("FLAMEFOLD_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
        let seed: u64 = std::env::var("FLAMEFOLD_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e3779b97f4a7c15);
        let corpus = corpus();
        let mut rng = Rng(seed);
        let all_opts = [
            Options::default(),
            Options { srcline: true, ..Default::default() },
            Options { tid: true, kernel: true, jit: true, addrs: true, ..Default::default() },
            Options { event_filter: Some(b"cycles".to_vec()), ..Default::default() },
        ];
        for round in 0..rounds {
            let d = &corpus[rng.below(corpus.len())];
            let m = mutate(&mut rng, d);
            let o = &all_opts[rng.below(all_opts.len())];
            let chunk = [1, 50, 700, 5000, 1 << 16][rng.below(5)];
            let res = std::panic::catch_unwind(|| {
                NO_BLOCKS.with(|c| c.set(true));
                let parsed = outcome(collapse_slice_sized(&m, o, 1, &|_| Ok(()), usize::MAX));
                NO_BLOCKS.with(|c| c.set(false));
                let want = outcome(collapse_slice_sized(&m, o, 1, &|_| Ok(()), usize::MAX));
                assert!(parsed == want, "the block cache changed the result");
                for t in 1..=3 {
                    let got = outcome(collapse_read_sized(&m[..], o, t, &|_| Ok(()), chunk));
                    assert!(got == want, "read t={t} chunk={chunk}: {:?}", got.as_ref().err());
                    let got = outcome(collapse_slice_sized(&m, o, t, &|_| Ok(()), chunk));
                    assert!(got == want, "slice t={t} chunk={chunk}: {:?}", got.as_ref().err());
                }
            });
            if res.is_err() {
                let path = std::env::temp_dir().join(format!("flamefold-mutant-{round}.txt"));
                std::fs::write(&path, &m).unwrap();
                panic!("round {round} ({o:?}, chunk {chunk}): input saved to {}", path.display());
            }
        }
    }
}
