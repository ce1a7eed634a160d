//! The perf collapser's frame lines: the frame line cache's key, the cold paths, and the
//! symbol rules applied once per distinct key.

use super::cache::{FrameEntry, FrameKey};
use super::header::{parse_header, trim_start};
use super::{frame, inline, tidy, Sink, Worker, NO_SRCLINE, UNKNOWN};
use crate::error::excerpt;

impl Worker<'_> {
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
    pub(super) fn frame_line(&mut self, out: &mut Sink, line: &[u8], lineno: u64) {
        if let Some((start, fl)) = frame::parse_std(line) {
            if self.use_cache {
                self.frame_line_parsed(out, line, lineno, &line[start..], fl);
                return;
            }
        }
        let trimmed = trim_start(line);
        let Some(fl) = frame::parse_frame(trimmed) else {
            return self.frame_line_slow(out, line, lineno);
        };
        if !self.use_cache {
            return self.frame_line_uncached(out, line, lineno, fl);
        }
        self.frame_line_parsed(out, line, lineno, trimmed, fl);
    }

    /// A frame line read: `trimmed` is the line without its leading blanks, `fl` its parts.
    /// Returns the cache entry whose frames joined the stack, if they did.
    #[inline(always)]
    pub(super) fn frame_line_parsed(&mut self, out: &mut Sink, line: &[u8], lineno: u64, trimmed: &[u8], fl: frame::FrameLine<'_>) -> Option<FrameEntry> {
        let indented = trimmed.len() < line.len();
        let mut extra = std::mem::take(&mut self.extra);
        let key = if self.opts.inline {
            FrameKey { flag: self.java as u8 | (indented as u8) << 1, sym: trimmed, module: 0, extra: b"" }
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
            FrameKey { flag, sym, module: self.cache.module(fl.module), extra: x }
        };
        let hash = self.cache.hash(&key);
        let entry = match self.cache.find(hash, &key) {
            Some(e) => e,
            None if indented && header_with_event(trimmed) => {
                self.extra = extra;
                self.frame_line_slow(out, line, lineno);
                return None;
            }
            None => {
                let flags = self.compute_group(out, fl);
                self.cache.insert(hash, &key, &self.group, flags)
            }
        };
        self.extra = extra;
        if !self.active {
            self.orphan(out, lineno);
            return None;
        }
        let (ids, flags) = self.cache.get(&entry);
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
            None
        } else {
            self.rev.extend(ids.iter().rev());
            Some(entry)
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
                self.start_sample(out, lineno, &h, false);
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
        if tidy::strip_offset(fl.raw).starts_with(b"(") {
            return NO_SRCLINE;
        }
        let rules = tidy::NameRules { java: self.java, kernel: o.kernel, jit: o.jit, addrs: o.addrs };
        let group = &mut self.group;
        let unknown = tidy::frame_names(fl.raw, fl.module, fl.addr, rules, &mut self.name, |n| group.push(out.names.intern(n).0));
        if unknown {
            UNKNOWN
        } else {
            0
        }
    }
}

/// Whether an indented line is a header with an event (perf without callchains right-aligns
/// the comm): then it starts a sample even though it reads as a frame line too.
#[inline]
pub(super) fn header_with_event(trimmed: &[u8]) -> bool {
    parse_header(trimmed).is_some_and(|h| h.event.is_some())
}


