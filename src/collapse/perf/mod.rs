//! The `perf script` collapser: stackcollapse-perf.pl's rules over bytes, frames interned once
//! per distinct line, stacks folded as id sequences, chunks of the input folded in parallel and
//! merged deterministically.

pub mod frame;
pub mod header;
pub mod inline;
pub mod tidy;

mod cache;
mod lines;
mod policy;

use super::{Collapsed, Collapser, Format, Progress, Sink, NO_EVENT};
use crate::error::{excerpt, Error, Result};
use crate::input::chunk::MAX_LINE;
use crate::intern::FrameId;
use cache::{BlockCache, FrameCache, LineMemo};
#[cfg(test)]
use tidy::split_arrow;
use policy::BlockPolicy;
use header::{is_ws, parse_header, Header, HeaderMemo};
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
    /// What the workers' block cache policies share (see [`policy::BlockPolicy`]).
    shared: std::sync::Arc<policy::Shared>,
}

impl<'o> PerfScript<'o> {
    pub fn new(opts: &'o Options) -> Self {
        PerfScript { opts, shared: policy::Shared::new() }
    }
}

impl<'o> Format for PerfScript<'o> {
    type C = Worker<'o>;

    fn collapser(&self) -> Worker<'o> {
        let mut w = Worker::new(self.opts);
        w.policy = BlockPolicy::new(self.shared.clone());
        w
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
    checked(super::collapse_read(&PerfScript::new(opts), r, threads, progress, chunk)?)
}

/// Collapses `perf script` text held in memory (not compressed), without copying it.
pub fn collapse_slice(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    checked(super::collapse_slice(&PerfScript::new(opts), data, threads, progress, chunk)?)
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

/// What a sample header gives the sample it starts: its event, process name, whether that is
/// a Java process, and its count.
#[derive(Clone, Copy)]
struct Started {
    event: u32,
    pname: u32,
    java: bool,
    count: u64,
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
    blocks: BlockCache,
    use_blocks: bool,
    /// Whole frame lines seen lately -> their frame (not under `--srcline` and `--inline`,
    /// whose frames take more than the line).
    memo: LineMemo,
    use_memo: bool,
    pending: Option<(usize, usize, u64)>,
    clean: bool,
    /// The block cache's measured cost, per mode (see [`Worker::choose_blocks`]).
    policy: BlockPolicy,
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
    /// The process names of the last samples (most recent first) and their frame ids: on a
    /// system-wide capture, most samples change thread but few threads run at a time (build
    /// capture: 79% of samples change process name, 3% miss the last four).
    pnames: [(Vec<u8>, u32); 4],
    last_event: (Vec<u8>, u32),
    count: u64,
    orphan_warned: bool,
    rev: Vec<u32>,
    key: Vec<u32>,
    scratch: Vec<u8>,
    /// Recent sample headers, to read a repeating one from its two ends, with what each gave.
    headers: HeaderMemo<Started>,
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
        // a frame line's frames depend on its text alone (not on source lines after it, nor on
        // addr2line): the block cache and the line memo may hold them
        let plain = !opts.srcline && !opts.inline && blocks_allowed();
        Worker {
            opts,
            cache: FrameCache::new(),
            use_cache: blocks_allowed(),
            extra: Vec::new(),
            blocks: BlockCache::new(),
            use_blocks: plain,
            memo: LineMemo::new(),
            use_memo: plain,
            pending: None,
            clean: false,
            policy: BlockPolicy::new(policy::Shared::new()),
            inliner: if opts.inline { Some(inline::Inliner::new(opts.context)) } else { None },
            src_group: Vec::new(),
            src_next: 0,
            active: false,
            java: false,
            event: NO_EVENT,
            pname: 0,
            pnames: Default::default(),
            last_event: (Vec::new(), NO_EVENT),
            count: 0,
            orphan_warned: false,
            rev: Vec::new(),
            key: Vec::new(),
            scratch: Vec::new(),
            headers: HeaderMemo::default(),
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
        let blocks_now = self.use_blocks && self.policy.choose();
        let started = std::time::Instant::now();
        let lineno = self.read_lines(data, out, blocks_now);
        if self.use_blocks {
            self.policy.learn(blocks_now, started.elapsed(), data.len());
        }
        lineno
    }

    fn read_lines(&mut self, data: &[u8], out: &mut Sink, blocks_now: bool) -> u64 {
        let mut pos = 0;
        let mut lineno = 0u64;
        while pos < data.len() {
            let (end, next) = match newline(&data[pos..]) {
                Some(i) => (pos + i, pos + i + 1),
                None => (data.len(), data.len()),
            };
            let mut line = &data[pos..end];
            let line_start = pos;
            pos = next;
            self.memo.prefetch(&data[next..]);
            lineno += 1;
            if line.len() > MAX_LINE {
                out.fail(lineno, Error::Parse { line: lineno, msg: LONG_LINE.into() });
                break;
            }
            if line.first() == Some(&b'\t') && self.use_cache && self.src_next >= self.src_group.len() {
                if self.use_memo && self.active && line.len() >= 17 {
                    // a line seen shortly before, address included: its frame
                    if let Some(id) = self.memo.get(line, self.java) {
                        self.rev.extend(id);
                        continue;
                    }
                }
                // perf's own frame line (most lines): read in one pass (the checks below cannot
                // apply to it: it is no comment, no blank line, no header, has no `\r`)
                if let Some((start, fl)) = frame::parse_std(line) {
                    let entry = self.frame_line_parsed(out, line, lineno, &line[start..], fl);
                    if let Some(id) = entry.and_then(|e| e.single()).filter(|_| self.use_memo) {
                        self.memo.put(line, self.java, id);
                    }
                    continue;
                }
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
                if let Some((h, memo)) = self.headers.parse(line) {
                    self.pending = None;
                    self.end_sample(out);
                    self.start_sample(out, lineno, &h, memo);
                    if let Some(t) = h.trailer {
                        self.frame_line(out, t, lineno);
                    } else if !blocks_now && self.use_blocks && self.policy.chosen(&data[pos..]) {
                        // do callchains repeat? (a few blocks, chosen by their content)
                        if let Some(block) = block_at(&data[pos..]) {
                            let hash = self.blocks.hash(self.java as u8, block);
                            self.policy.watch(hash);
                        }
                    } else if blocks_now {
                        // the callchain up to the blank line: seen before?
                        if let Some(block) = block_at(&data[pos..]) {
                            let b = block.len() - 1;
                            let flag = self.java as u8;
                            let hash = self.blocks.hash(flag, block);
                            if let Some(e) = self.blocks.find(hash, flag, block) {
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

    /// A sample starts with header `h`; `memo`: the header memo remembers it (what it gave is
    /// then kept there, and given again when its ends repeat).
    fn start_sample(&mut self, out: &mut Sink, lineno: u64, h: &Header<'_>, memo: bool) {
        if let Some(s) = self.headers.kept().filter(|_| memo) {
            self.begin(out, s);
            return;
        }
        let event = match h.event {
            // consecutive samples mostly have one event: skip the lookup then (the sink saw
            // this name before, so its first event is set already)
            Some(e) if self.last_event.1 != NO_EVENT && crate::intern::eq_bytes(e, &self.last_event.0) => self.last_event.1,
            Some(e) => {
                let id = out.event(e).0;
                self.last_event = (e.to_vec(), id);
                id
            }
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
        let java = s.starts_with(b"java");
        // a process name met lately: no lookup in the interner (an unused slot holds no
        // name, and a process name is never empty: a header's comm is not)
        let p = &mut self.pnames;
        match p.iter().position(|(n, _)| crate::intern::eq_bytes(n, s)) {
            Some(k) => p[..=k].rotate_right(1),
            None => {
                // the least recent slot's buffer is reused: no allocation per thread change
                p.rotate_right(1);
                p[0].0.clear();
                p[0].0.extend_from_slice(s);
                p[0].1 = out.names.intern(s).0;
            }
        }
        let pname = p[0].1;
        let mut warned = false;
        let count = match h.period {
            None => 1,
            Some(d) => match digits_u64(d) {
                Some(0) => 1,
                Some(v) => v,
                None => {
                    warned = true;
                    self.warn(out, lineno, format!("period {} does not fit in 64 bits: the sample counts 1", excerpt(d, 40)));
                    1
                }
            },
        };
        let started = Started { event, pname, java, count };
        self.begin(out, started);
        if memo && !warned {
            self.headers.keep(started);
        }
    }

    /// The sample in progress is one that `s` starts.
    fn begin(&mut self, out: &mut Sink, s: Started) {
        out.records += 1;
        // a header inside a callchain block: the block gives two samples, not one
        self.clean = false;
        self.orphan_warned = false;
        (self.event, self.pname, self.java, self.count) = (s.event, s.pname, s.java, s.count);
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

/// The callchain block starting `rest` (its lines up to the blank line, the last `\n`
/// included), when the blank line comes within 32 KiB.
#[inline]
fn block_at(rest: &[u8]) -> Option<&[u8]> {
    let window = &rest[..rest.len().min(1 << 15)];
    memchr::memmem::find(window, b"\n\n").map(|b| &rest[..b + 1])
}

/// The first `\n` in `s`: 16 bytes at a time, inline (perf's lines are short: a call per line
/// into a general search cost more than the search), then the general search for the rest.
#[inline(always)]
fn newline(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut i = 0;
        // SAFETY: SSE2 is part of x86-64; each load reads 16 bytes inside `s` (i + 16 <= len).
        unsafe {
            let nl = _mm_set1_epi8(b'\n' as i8);
            while i + 16 <= s.len() && i < 256 {
                let v = _mm_loadu_si128(s.as_ptr().add(i) as *const __m128i);
                let m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u32;
                if m != 0 {
                    return Some(i + m.trailing_zeros() as usize);
                }
                i += 16;
            }
        }
        return memchr::memchr(b'\n', &s[i..]).map(|k| i + k);
    }
    #[allow(unreachable_code)]
    memchr::memchr(b'\n', s)
}

/// The value of a period (ASCII digits), or `None` past `u64::MAX`.
#[inline]
fn digits_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
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
