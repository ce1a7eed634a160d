//! Input: where bytes come from and how they are cut, before any format reads them.
//!
//! - [`source`]: files, pipes, in-memory bytes; gzip and zstd by magic bytes; read through
//!   reused buffers (never mapped, on purpose).
//! - [`sniff`]: the one format sniffer (perf script, folded, perf.data, DTrace, jstack, binary).
//! - [`chunk`]: the one chunker, cutting at record boundaries a format supplies as a predicate.
//! - [`folded`]: the one folded grammar (`stack count` or `stack before after`, spaces or tabs).
//!
//! Nothing here knows a profiler's format: the formats (in `collapse/`) hand their rules in.

pub mod chunk;
pub mod folded;
pub mod sniff;
pub mod source;

/// Whitespace as the line grammars read it: space, tab, `\n`, `\r`, vertical tab, form feed.
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

pub fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if is_ws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

pub fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    s
}
