//! Folded stacks of one event weighed by a size its trace data gives (`--weight bytes`): block
//! I/O bytes, mmap lengths, kmalloc sizes, socket send/receive lengths.
//!
//! The stacks are named and kept as `flamefold collapse` keeps them: the samples of one event
//! (`event`, or the first one seen), rooted at the process name. With [`Weight::Count`] each
//! sample counts 1, so the output equals the collapser's. With [`Weight::Bytes`] each sample
//! counts the size its event's rule reads ([`size_rule`]):
//!
//! | event | size |
//! | --- | --- |
//! | `block:*` (`block_rq_insert`, `block_rq_issue`, ...) | `bytes=` if present, else the bytes column (`254,0 W 4096 () ...`), else `+ nr_sector` × 512 |
//! | `syscalls:sys_enter_mmap`/`munmap`/`sendto`/`recvfrom` | `len: 0x...` |
//! | `syscalls:sys_enter_mremap` | `new_len:` |
//! | `syscalls:sys_enter_read`/`write`/`pread64`/`pwrite64` | `count:` |
//! | `kmem:kmalloc`/`kmalloc_node`/`kmem_cache_alloc`/`__kmalloc` | `bytes_req=` |
//! | `kmem:mm_page_alloc` | 4096 << `order=` |
//! | `sock:sock_send_length`/`sock_recv_length` | `length = ` |
//! | `tcp:tcp_probe`, `net:*` | `data_len=` / `len=` |
//! | other tracepoints | the first of `bytes=`, `len=`, `length=`, `size=` in the first sample |
//! | `syscalls:sys_enter_brk`, `tcp:tcp_sendmsg_locked`, `page-faults`, hardware and software events | no size: each sample counts 1 (one warning) |
//!
//! A sample whose trace data lacks the size its rule reads counts **0** (it is left out of the
//! graph: a byte count must not be made up); how many is the summary's `unsized` and one
//! warning. Sizes are decimal or `0x` hex, as perf prints them.

use super::events::{event_base, EventReader};
use super::naming::{Namer, StackOptions};
use super::{finish_warnings, folded_lines, TransformResult};
use crate::error::{Error, Result, Warning};
use std::collections::HashMap;
use std::io::Read;

/// What a sample counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Weight {
    /// 1 per sample (the collapser's counts).
    #[default]
    Count,
    /// The size in bytes the trace data gives.
    Bytes,
}

/// Options of [`weighted`].
#[derive(Clone, Debug, Default)]
pub struct WeightedOptions {
    pub stacks: StackOptions,
    /// The event kept, as perf prints it (`block:block_rq_insert`); `None`: the first seen.
    pub event: Option<Vec<u8>>,
    pub weight: Weight,
}

/// How a size is read from an event's trace data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeRule {
    /// The block layer's `dev rwbs bytes (cmd) sector + nr_sector` (or `bytes=`).
    Block,
    /// The first of these fields present (`key=v`, `key: v` or `key = v`).
    Keys(&'static [&'static str]),
    /// `4096 << order=`.
    PageOrder,
    /// The event has no size: each sample counts 1.
    Unsized,
    /// An event with no known rule: the generic keys, decided on its first sample.
    Generic,
}

const GENERIC: &[&str] = &["bytes", "len", "length", "size"];

/// The rule for an event (its base name, see [`event_base`]).
pub fn size_rule(event: &[u8]) -> SizeRule {
    let e = std::str::from_utf8(event_base(event)).unwrap_or("");
    match e {
        _ if e.starts_with("block:") => SizeRule::Block,
        "syscalls:sys_enter_mmap" | "syscalls:sys_enter_munmap" | "syscalls:sys_enter_sendto" | "syscalls:sys_enter_recvfrom" => SizeRule::Keys(&["len"]),
        "syscalls:sys_enter_mremap" => SizeRule::Keys(&["new_len"]),
        "syscalls:sys_enter_read" | "syscalls:sys_enter_write" | "syscalls:sys_enter_pread64" | "syscalls:sys_enter_pwrite64" => SizeRule::Keys(&["count"]),
        "kmem:kmalloc" | "kmem:kmalloc_node" | "kmem:kmem_cache_alloc" | "kmem:kmem_cache_alloc_node" | "kmem:__kmalloc" => SizeRule::Keys(&["bytes_req"]),
        "kmem:mm_page_alloc" => SizeRule::PageOrder,
        "sock:sock_send_length" | "sock:sock_recv_length" => SizeRule::Keys(&["length"]),
        "tcp:tcp_probe" => SizeRule::Keys(&["data_len"]),
        _ if e.starts_with("net:") => SizeRule::Keys(&["len"]),
        _ if e.starts_with("syscalls:") || e.starts_with("tcp:") || !e.contains(':') => SizeRule::Unsized,
        _ => SizeRule::Generic,
    }
}

/// A number as perf prints it: decimal or `0x` hex, a trailing `,` ignored.
fn number(t: &[u8]) -> Option<u64> {
    let t = t.strip_suffix(b",").unwrap_or(t);
    let s = std::str::from_utf8(t).ok()?;
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A numeric field written `key=v`, `key: v` or `key = v` (words separated by spaces or commas).
pub fn size_field(trace: &[u8], key: &str) -> Option<u64> {
    let key = key.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&trace[from..], key) {
        let at = from + i;
        from = at + 1;
        if at > 0 && !(ws(trace[at - 1]) || trace[at - 1] == b',') {
            continue;
        }
        let mut j = at + key.len();
        while j < trace.len() && ws(trace[j]) {
            j += 1;
        }
        if !matches!(trace.get(j), Some(b'=') | Some(b':')) {
            continue;
        }
        j += 1;
        while j < trace.len() && ws(trace[j]) {
            j += 1;
        }
        let end = trace[j..].iter().position(|&b| ws(b) || b == b',').map_or(trace.len(), |n| j + n);
        return number(&trace[j..end]);
    }
    None
}

/// The block layer's size: `bytes=`, else the bytes column of `dev rwbs bytes (cmd) ...`, else
/// `+ nr_sector` × 512.
pub fn block_bytes(trace: &[u8]) -> Option<u64> {
    if let Some(b) = size_field(trace, "bytes") {
        return Some(b);
    }
    let toks: Vec<&[u8]> = trace.split(|&b| ws(b)).filter(|t| !t.is_empty()).collect();
    if toks.len() > 3 && toks[3].starts_with(b"(") {
        if let Some(b) = number(toks[2]) {
            return Some(b);
        }
    }
    let plus = toks.iter().position(|t| *t == b"+")?;
    number(toks.get(plus + 1)?)?.checked_mul(512)
}

fn size_of(rule: &SizeRule, trace: &[u8]) -> Option<u64> {
    match rule {
        SizeRule::Block => block_bytes(trace),
        SizeRule::Keys(keys) => keys.iter().find_map(|k| size_field(trace, k)),
        SizeRule::PageOrder => size_field(trace, "order").filter(|&o| o < 40).map(|o| 4096u64 << o),
        SizeRule::Unsized | SizeRule::Generic => None,
    }
}

/// Folded stacks of one event, each sample weighed as `opts.weight` says.
///
/// Summary keys: `samples` (of the kept event), `weight` (their sum), `unsized` (samples of a
/// sized event without their size: counted 0), `other_events` (samples of other events).
pub fn weighted<R: Read>(r: R, opts: &WeightedOptions) -> Result<TransformResult> {
    let mut rd = EventReader::new(r);
    let mut namer = Namer::new(opts.stacks.clone());
    let mut table: HashMap<Vec<u32>, u64> = HashMap::new();
    let mut kept: Option<Vec<u8>> = opts.event.clone();
    let mut rule: Option<SizeRule> = None;
    let (mut samples, mut total, mut no_size, mut other) = (0u64, 0u64, 0u64, 0u64);
    let mut first_unsized = 0u64;
    let mut notes: Vec<Warning> = Vec::new();
    let mut stack = Vec::new();
    while let Some(ev) = rd.next()? {
        match &kept {
            Some(k) if !crate::collapse::perf::same_event(&ev.event, k, opts.event.is_some()) => {
                other += 1;
                continue;
            }
            Some(_) => {}
            None => kept = Some(ev.event.clone()),
        }
        samples += 1;
        let n = match opts.weight {
            Weight::Count => 1,
            Weight::Bytes => {
                let r = rule.get_or_insert_with(|| {
                    let mut r = size_rule(&ev.event);
                    if r == SizeRule::Generic {
                        r = GENERIC.iter().find(|k| size_field(&ev.trace, k).is_some()).map_or(SizeRule::Unsized, |k| SizeRule::Keys(std::slice::from_ref(k)));
                    }
                    if r == SizeRule::Unsized {
                        let name = String::from_utf8_lossy(&ev.event);
                        notes.push(Warning { line: 0, msg: format!("{name} has no size in its trace data: --weight bytes counts its samples (1 each)") });
                    }
                    r
                });
                if *r == SizeRule::Unsized {
                    1
                } else {
                    match size_of(r, &ev.trace) {
                        Some(b) => b,
                        None => {
                            if no_size == 0 {
                                first_unsized = ev.line;
                            }
                            no_size += 1;
                            0
                        }
                    }
                }
            }
        };
        if n == 0 {
            continue;
        }
        stack.clear();
        namer.stack(ev, &mut stack);
        let overflow = || Error::Overflow { what: "the bytes of a stack".into() };
        let e = table.entry(stack.clone()).or_default();
        *e = e.checked_add(n).ok_or_else(overflow)?;
        total = total.checked_add(n).ok_or_else(overflow)?;
    }
    let lines = namer.render_all(table.iter().map(|(k, &c)| (&k[..], c)));
    let folded = folded_lines(lines);
    let (mut w, m) = rd.take_warnings();
    if no_size > 0 {
        let name = String::from_utf8_lossy(kept.as_deref().unwrap_or_default()).into_owned();
        w.push(Warning { line: first_unsized, msg: format!("{no_size} {name} samples without a size in their trace data (the first here): counted 0 bytes") });
    }
    w.extend(notes);
    let summary = vec![("samples", samples), ("weight", total), ("unsized", no_size), ("other_events", other)];
    Ok(TransformResult { folded, warnings: finish_warnings(w, m), summary, two_counts: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, weight: Weight, event: Option<&str>) -> TransformResult {
        let o = WeightedOptions { weight, event: event.map(|e| e.as_bytes().to_vec()), ..Default::default() };
        weighted(text.as_bytes(), &o).unwrap()
    }

    const BLOCK: &str = "\
dd 31634 [001] 14221.805837: block:block_rq_insert: 254,0 RA 16384 () 12581432 + 32 0x2,0,4 [dd]
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])
\t    ffffffff81500000 submit_bio+0x10 ([kernel.kallsyms])
\t        101a07 __write+0x7 (/usr/lib/x86_64-linux-gnu/libc.so.6)

dd 31634 [001] 14221.805880: block:block_rq_insert: 254,0 W 0 () 12581472 + 8 [dd]
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])

kworker/0:1 12 [000] 14221.805890: block:block_rq_insert: bytes=1000 other=3
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])

kworker/0:1 12 [000] 14221.805891: block:block_rq_insert: garbage
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])

";

    #[test]
    fn block_bytes_column_then_sectors() {
        assert_eq!(block_bytes(b"254,0 RA 16384 () 12581432 + 32 0x2,0,4 [dd]"), Some(16384));
        assert_eq!(block_bytes(b"254,0 W () 12581432 + 32 [0]"), Some(32 * 512));
        assert_eq!(block_bytes(b"254,0 W 12581432 + 8 [dd]"), Some(4096));
        assert_eq!(block_bytes(b"bytes=77 x=1"), Some(77));
        assert_eq!(block_bytes(b"nothing here"), None);
    }

    #[test]
    fn block_weighs_bytes_and_counts_unsized_zero() {
        let r = run(BLOCK, Weight::Bytes, None);
        assert_eq!(String::from_utf8(r.folded.clone()).unwrap(), "dd;__write;submit_bio;blk_mq_insert_request 16384\nkworker/0:1;blk_mq_insert_request 1000\n");
        assert_eq!(r.get("samples"), Some(4));
        assert_eq!(r.get("unsized"), Some(1));
        assert_eq!(r.get("weight"), Some(17384));
        assert!(r.warnings.iter().any(|w| w.msg.starts_with("1 block:block_rq_insert samples without a size")), "{:?}", r.warnings);
        let c = run(BLOCK, Weight::Count, None);
        assert_eq!(String::from_utf8(c.folded).unwrap(), "dd;__write;submit_bio;blk_mq_insert_request 1\ndd;blk_mq_insert_request 1\nkworker/0:1;blk_mq_insert_request 2\n");
    }

    #[test]
    fn syscall_fields_and_unsized_events() {
        assert_eq!(size_field(b"addr: 0x00000000, len: 0x00004000, prot: 0x00000003", "len"), Some(0x4000));
        assert_eq!(size_field(b"sk address = 0xffff, family = AF_INET protocol = IPPROTO_TCP, length = 1000, error = 0", "length"), Some(1000));
        assert_eq!(size_field(b"call_site=foo ptr=0x1 bytes_req=64 bytes_alloc=64", "bytes_req"), Some(64));
        assert_eq!(size_field(b"new_len: 0x10", "len"), None);
        assert_eq!(size_rule(b"syscalls:sys_enter_brk"), SizeRule::Unsized);
        assert_eq!(size_rule(b"page-faults"), SizeRule::Unsized);
        assert_eq!(size_rule(b"cycles:u"), SizeRule::Unsized);
        let text = "\
p 1 [000] 1.000001:    syscalls:sys_enter_brk: brk: 0x00000000
\t        101a07 __brk+0x7 (/lib/libc.so.6)

p 1 [000] 1.000002:   syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00004000, prot: 0x00000003
\t        101a08 __mmap+0x7 (/lib/libc.so.6)

p 1 [000] 1.000003:    syscalls:sys_enter_brk: brk: 0x562f2194a000
\t        101a07 __brk+0x7 (/lib/libc.so.6)

";
        let r = run(text, Weight::Bytes, None);
        assert_eq!(String::from_utf8(r.folded.clone()).unwrap(), "p;__brk 2\n");
        assert!(r.warnings.iter().any(|w| w.msg.contains("has no size")));
        assert_eq!(r.get("other_events"), Some(1));
        let m = run(text, Weight::Bytes, Some("syscalls:sys_enter_mmap"));
        assert_eq!(String::from_utf8(m.folded).unwrap(), "p;__mmap 16384\n");
        assert!(m.warnings.is_empty());
    }
}
