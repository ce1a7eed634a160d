//! The `perf script` collapser: stackcollapse-perf.pl's rules over bytes, frames interned once
//! per distinct line, stacks folded as id sequences, chunks of the input folded in parallel and
//! merged deterministically.

pub mod frame;
pub mod header;
pub mod inline;
pub mod tidy;

mod cache;

use super::{Collapsed, Collapser, Format, Progress, Sink, NO_EVENT};
use crate::error::{excerpt, Error, Result};
use crate::input::chunk::MAX_LINE;
use crate::intern::FrameId;
use cache::{FrameCache, FrameKey, LineCache};
use header::{is_ws, parse_header, trim_start, Header};
use std::io::Read;

const UNKNOWN: u8 = 1;
const NO_SRCLINE: u8 = 2;

/// The message of the error for a line longer than [`MAX_LINE`].
pub const LONG_LINE: &str = "line longer than 1 MiB (is this a perf script capture?)";

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

/// The `perf script` format with its options: one [`Worker`] per thread, records cut at blank
/// lines and at headers in column 0 (not under `--srcline`, where a blank line may be a source
/// line, nor `--inline`, where one worker asks addr2line each address once).
pub struct PerfScript<'o> {
    pub opts: &'o Options,
}

impl<'o> Format for PerfScript<'o> {
    type C = Worker<'o>;

    fn collapser(&self) -> Worker<'o> {
        Worker::new(self.opts)
    }

    fn parallel(&self) -> bool {
        !self.opts.inline && !self.opts.srcline
    }

    /// A place where the parser, reading the input from its start, is between samples exactly
    /// as at the start of the input: just after a blank line, or just before a header line in
    /// column 0.
    #[inline]
    fn starts_record(&self, line: &[u8], after_blank: bool) -> bool {
        after_blank || starts_sample(line)
    }
}

/// Whether the parser reads this complete line (no `\n`) as a sample header in column 0, which
/// ends the sample before it whatever came before (outside `--srcline`).
#[inline]
pub fn starts_sample(line: &[u8]) -> bool {
    if line.first() == Some(&b'#') {
        return false;
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.first() {
        Some(&c) if !is_ws(c) => parse_header(line).is_some(),
        _ => false,
    }
}

/// Collapses a stream (already decompressed) of `perf script` text, in chunks of about `chunk`
/// bytes (`input::chunk::CHUNK` by default).
pub fn collapse_read<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    checked(super::collapse_read(&PerfScript { opts }, r, threads, progress, chunk)?)
}

/// Collapses `perf script` text held in memory (not compressed), without copying it.
pub fn collapse_slice(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    checked(super::collapse_slice(&PerfScript { opts }, data, threads, progress, chunk)?)
}

/// Input with no sample header at all is no `perf script` capture: its first bad line is the
/// error.
fn checked(c: Collapsed) -> Result<Collapsed> {
    if c.sink.records == 0 {
        if let Some(first) = c.warnings.iter().find(|w| w.line > 0) {
            return Err(Error::Parse { line: first.line, msg: format!("no `perf script` sample header found ({})", first.msg) });
        }
    }
    Ok(c)
}

/// Folds chunks into its sink, with its caches of frame lines and callchain blocks.
pub struct Worker<'o> {
    opts: &'o Options,
    cache: FrameCache,
    /// Tests: no cache at all, every line parsed (the reference the caches are checked against).
    use_cache: bool,
    /// Scratch for a frame key's rare extra part (text after the module, the address).
    extra: Vec<u8>,
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
    /// Tests: Workers made on this thread parse every line (no block cache, no frame line
    /// cache), for reference.
    static NO_BLOCKS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn blocks_allowed() -> bool {
    #[cfg(test)]
    if NO_BLOCKS.with(|c| c.get()) {
        return false;
    }
    true
}

use crate::input::chunk::is_blank;

impl<'o> Worker<'o> {
    pub fn new(opts: &'o Options) -> Self {
        Worker {
            opts,
            cache: FrameCache::new(),
            use_cache: blocks_allowed(),
            extra: Vec::new(),
            blocks: LineCache::new(true),
            use_blocks: !opts.srcline && !opts.inline && blocks_allowed(),
            pending: None,
            clean: false,
            block_lookups: 0,
            block_hits: 0,
            blocks_off_for: 0,
            inliner: if opts.inline { Some(inline::Inliner::new(opts.context)) } else { None },
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

    fn warn(&mut self, out: &mut Sink, line: u64, msg: String) {
        self.clean = false;
        out.warn(line, msg);
    }

    /// Folds one chunk (whole lines). `idx` orders chunks in the input. A `fresh` chunk starts
    /// at a sample boundary (see [`PerfScript::starts_record`]): the sample in progress is
    /// ended first. Otherwise the chunk continues the one folded before it by this worker, its
    /// sample in progress and pending source lines included. The last sample stays open until
    /// the next fresh chunk or the end of the input.
    fn read(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64 {
        if fresh {
            self.end_sample(out);
            self.orphan_warned = false;
        }
        self.pending = None;
        if out.error.is_some() {
            return 0;
        }
        if out.chunk == 0 && data.starts_with(b"PERFILE") {
            out.fail(1, Error::Parse { line: 1, msg: "this is a binary perf.data file: run `perf script` on it and collapse that text".into() });
            return 0;
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
                out.fail(lineno, Error::Parse { line: lineno, msg: LONG_LINE.into() });
                break;
            }
            if self.src_next < self.src_group.len() {
                // perf indents source lines: a header in column 0 is the next sample, whose
                // frame line lacked its source lines (the Perl would eat it as one, losing it)
                if line.first().is_some_and(|&b| !is_ws(b)) && parse_header(line).is_some() {
                    self.flush_sources();
                } else {
                    self.source_line(out, line);
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
                self.end_sample(out);
                self.orphan_warned = false;
                continue;
            }
            if !is_ws(line[0]) {
                if let Some(h) = parse_header(line) {
                    self.pending = None;
                    self.end_sample(out);
                    self.start_sample(out, lineno, &h);
                    if let Some(t) = h.trailer {
                        self.frame_line(out, t, lineno);
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
                                self.end_sample(out);
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
            self.frame_line(out, line, lineno);
        }
        lineno
    }

    /// `--srcline`: one source line (whatever it holds) for the next waiting frame.
    fn source_line(&mut self, out: &mut Sink, line: &[u8]) {
        let k = self.src_next;
        self.name.clear();
        self.name.extend_from_slice(out.names.get(FrameId(self.src_group[k])));
        let base = self.name.len();
        self.name.push(b':');
        tidy::srcline_text(line.strip_suffix(b"\r").unwrap_or(line), &mut self.name);
        if self.name.len() > base + 1 {
            self.src_group[k] = out.names.intern(&self.name).0;
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

    fn start_sample(&mut self, out: &mut Sink, lineno: u64, h: &Header<'_>) {
        out.records += 1;
        // a header inside a callchain block: the block gives two samples, not one
        self.clean = false;
        self.orphan_warned = false;
        self.event = match h.event {
            Some(e) => out.event(e).0,
            None => NO_EVENT,
        };
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
            self.last_pname = (s.clone(), out.names.intern(s).0);
        }
        self.pname = self.last_pname.1;
        self.count = match h.period {
            None => 1,
            Some(d) => match std::str::from_utf8(d).ok().and_then(|t| t.parse::<u64>().ok()) {
                Some(0) => 1,
                Some(v) => v,
                None => {
                    self.warn(out, lineno, format!("period {} does not fit in 64 bits: the sample counts 1", excerpt(d, 40)));
                    1
                }
            },
        };
        self.active = true;
    }

    fn end_sample(&mut self, out: &mut Sink) {
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
        if !out.stacks.add(&self.key, self.count) && out.error.is_none() {
            let mut s = Vec::new();
            render_ids(&out.names, &self.key[1..], &mut s);
            out.fail(0, Error::Overflow { what: format!("the count of stack {}", excerpt(&s, 200)) });
        }
    }

    /// One frame line (or an indented header: perf without callchains right-aligns the comm).
    ///
    /// The frame line cache keys on what the frames depend on, not the whole line: a function
    /// is met at many addresses and offsets (real captures: 1.95M frame lines, 262k distinct
    /// lines, 14k distinct (symbol, module)). The key is the symbol without its `+0x` offset,
    /// the module, the text after the module's `)` (nothing, in perf's lines), the java flag,
    /// whether the line was indented and (indented only) whether the symbol had an offset; the
    /// address only under `--addrs` when the symbol holds `[unknown]`; under `--inline` (names
    /// from the address) the whole line. Two lines with one key then differ only in their
    /// address, the blanks before the symbol and the offset's digits: they give the same
    /// frames, and are both headers or both not: a header's comm starts with the whole address
    /// (no blank in it), its ids are a blank-separated token of digits (an offset's `+0x..`
    /// never is one, and the offset bit tells `ffff 1234 (m)` from `ffff 1234+0x1 (m)`), and
    /// its time and event are tokens ending in `:` (an offset's hex digits never end so). A
    /// line that is no frame line, or a header, is never cached: the cold path reads it.
    fn frame_line(&mut self, out: &mut Sink, line: &[u8], lineno: u64) {
        let trimmed = trim_start(line);
        let indented = trimmed.len() < line.len();
        let Some(fl) = frame::parse_frame(trimmed) else {
            return self.frame_line_slow(out, line, lineno);
        };
        if !self.use_cache {
            return self.frame_line_uncached(out, line, lineno, fl);
        }
        let mut extra = std::mem::take(&mut self.extra);
        let key = if self.opts.inline {
            FrameKey { flag: self.java as u8 | (indented as u8) << 1, sym: trimmed, module: b"", extra: b"" }
        } else {
            let sym = tidy::strip_offset(fl.raw);
            let has_offset = indented && sym.len() < fl.raw.len();
            let flag = self.java as u8 | (indented as u8) << 1 | (has_offset as u8) << 2;
            // what follows the module's `)` (nothing, in perf's lines) may make the line a header
            let end = fl.module.as_ptr() as usize - trimmed.as_ptr() as usize + fl.module.len();
            let tail = &trimmed[end..];
            let x: &[u8] = if self.opts.addrs && tidy::contains(sym, b"[unknown]") {
                extra.clear();
                extra.extend_from_slice(tail);
                extra.push(0);
                extra.extend_from_slice(fl.addr);
                &extra
            } else {
                tail
            };
            FrameKey { flag, sym, module: fl.module, extra: x }
        };
        let hash = self.cache.hash(&key);
        let entry = match self.cache.find(hash, &key) {
            Some(e) => e,
            None if indented && header_with_event(trimmed) => {
                self.extra = extra;
                return self.frame_line_slow(out, line, lineno);
            }
            None => {
                let flags = self.compute_group(out, fl);
                let e = self.cache.insert(hash, &key, &self.group, flags);
                e
            }
        };
        self.extra = extra;
        if !self.active {
            return self.orphan(out, lineno);
        }
        let (ids, flags) = self.cache.get(entry);
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

    #[cold]
    fn orphan(&mut self, out: &mut Sink, lineno: u64) {
        if !self.orphan_warned {
            self.orphan_warned = true;
            self.warn(out, lineno, "frame line outside a sample (no header line since the last blank line): ignored".into());
        }
    }

    /// A line that is no frame line, or an indented header with an event (perf without
    /// callchains right-aligns the comm): a header starts a sample, anything else is warned
    /// about.
    #[cold]
    #[inline(never)]
    fn frame_line_slow(&mut self, out: &mut Sink, line: &[u8], lineno: u64) {
        let trimmed = trim_start(line);
        if trimmed.len() < line.len() {
            if let Some(h) = parse_header(trimmed).filter(|h| h.event.is_some()) {
                self.end_sample(out);
                self.start_sample(out, lineno, &h);
                if let Some(t) = h.trailer {
                    self.frame_line(out, t, lineno);
                }
                return;
            }
        }
        if frame::parse_frame(trimmed).is_none() {
            self.warn(out, lineno, format!("unrecognized line: {}", excerpt(line, 160)));
        }
    }

    /// Tests: a frame line read without the cache (the reference).
    #[cold]
    fn frame_line_uncached(&mut self, out: &mut Sink, line: &[u8], lineno: u64, fl: frame::FrameLine<'_>) {
        let trimmed = trim_start(line);
        if trimmed.len() < line.len() && header_with_event(trimmed) {
            return self.frame_line_slow(out, line, lineno);
        }
        let flags = self.compute_group(out, fl);
        if !self.active {
            return self.orphan(out, lineno);
        }
        let ids = std::mem::take(&mut self.group);
        if self.opts.srcline && flags & (UNKNOWN | NO_SRCLINE) == 0 {
            self.src_group.clear();
            self.src_group.extend_from_slice(&ids);
            self.src_next = 0;
            if self.src_group.is_empty() {
                self.flush_sources();
            }
        } else {
            self.rev.extend(ids.iter().rev());
        }
        self.group = ids;
    }

    /// Applies the symbol rules to one frame line; leaves its frame ids in `self.group`.
    fn compute_group(&mut self, out: &mut Sink, fl: frame::FrameLine<'_>) -> u8 {
        self.group.clear();
        let o = self.opts;
        if let Some(inl) = self.inliner.as_mut() {
            if inline::Inliner::applies(fl.module) {
                if let Some(funcs) = inl.resolve(fl.addr, fl.raw, fl.module) {
                    for f in funcs {
                        self.group.push(out.names.intern(&f).0);
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
            self.group.push(out.names.intern(&self.name).0);
        }
        flags
    }
}

impl Collapser for Worker<'_> {
    #[inline]
    fn chunk(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64 {
        self.read(data, fresh, out)
    }

    /// The input ended: the last sample counts; addr2line's complaints join the warnings.
    fn end(&mut self, out: &mut Sink) {
        self.end_sample(out);
        if let Some(inl) = self.inliner.as_mut() {
            out.notes.append(&mut inl.warnings);
        }
    }
}

/// Whether an indented line is a header with an event (perf without callchains right-aligns
/// the comm): then it starts a sample even though it reads as a frame line too.
#[inline]
fn header_with_event(trimmed: &[u8]) -> bool {
    parse_header(trimmed).is_some_and(|h| h.event.is_some())
}

/// Renders frame ids as `name;name;...` into `out` (for messages).
fn render_ids(names: &crate::intern::Interner, ids: &[u32], out: &mut Vec<u8>) {
    for (k, &id) in ids.iter().enumerate() {
        if k > 0 {
            out.push(b';');
        }
        out.extend_from_slice(names.get(FrameId(id)));
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

/// The event name without perf's modifier suffix (`cycles:u` -> `cycles`, `cpu-clock:ppp` ->
/// `cpu-clock`); tracepoints (`sched:sched_switch`) are left whole.
pub fn event_base(e: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', e) {
        Some(i) if i > 0 && i + 1 < e.len() && e[i + 1..].iter().all(|c| b"ukhIGHpPSDWeb".contains(c)) => &e[..i],
        _ => e,
    }
}

/// Whether samples of event `e` are kept under `filter`. Modifiers do not split an event
/// (`cycles:u` and `cycles` are both cycles), unless an explicit filter names them.
pub fn same_event(e: &[u8], filter: &[u8], explicit: bool) -> bool {
    if explicit && event_base(filter) != filter {
        return e == filter;
    }
    event_base(e) == event_base(filter)
}

#[cfg(test)]
mod tests;
