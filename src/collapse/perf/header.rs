//! The sample header line of `perf script`: `comm pid/tid [cpu] time: period event: [trace data | frame]`.
//!
//! The grammar follows stackcollapse-perf.pl (see the spec in the repository notes) with four
//! deliberate extensions: a one-character comm parses, a pid/tid may be `-1` (an exited task),
//! tracepoint events keep their name when trace data follows them, and a frame printed on the
//! header line itself is returned.

pub use crate::input::{is_ws, trim_end, trim_start};

#[derive(Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub comm: &'a [u8],
    /// Digits (`-1` for an exited task), or `?` when perf printed only one id (it is then the tid).
    pub pid: &'a [u8],
    pub tid: &'a [u8],
    /// The period column's digits, when present.
    pub period: Option<&'a [u8]>,
    /// The event name (`cycles:u`, `sched:sched_switch`), when it can be found.
    pub event: Option<&'a [u8]>,
    /// A frame printed on the header line after the event (`cycles:u:  ffff sym (mod)`).
    pub trailer: Option<&'a [u8]>,
}

/// Parses a header line (no line end). Returns `None` when the line is not a header.
/// Whether `line` is a sample header (for the sniffer).
pub fn looks_like_header(line: &[u8]) -> bool {
    parse_header(line).is_some()
}

pub fn parse_header(line: &[u8]) -> Option<Header<'_>> {
    if line.is_empty() || is_ws(line[0]) {
        return None;
    }
    let n = line.len();
    // COMM is the shortest prefix followed by `\s+ digits /* digits? \s+`.
    let mut i = 1;
    while i < n {
        if is_ws(line[i]) {
            let mut j = i;
            while j < n && is_ws(line[j]) {
                j += 1;
            }
            let a_start = j;
            j = id_end(line, j);
            if j > a_start {
                let a_end = j;
                while j < n && line[j] == b'/' {
                    j += 1;
                }
                let b_start = j;
                j = id_end(line, j);
                let b_end = j;
                if j < n && is_ws(line[j]) {
                    let a = &line[a_start..a_end];
                    let b = &line[b_start..b_end];
                    let (pid, tid): (&[u8], &[u8]) = if b.is_empty() || b == b"0" { (b"?", a) } else { (a, b) };
                    let (period, event, trailer) = parse_event(line, j);
                    return Some(Header { comm: &line[..i], pid, tid, period, event, trailer });
                }
            }
            // every start inside this run of blanks reaches the same text after it, so fails
            // the same way: skip the run (linear time on long runs of spaces)
            i = a_start;
            continue;
        }
        i += 1;
    }
    None
}

/// The end of the pid or tid starting at `j`: digits, or `-` and digits (perf prints the samples
/// of a task that has exited as `:-1    -1 [000] …`). `j` when there is none.
#[inline]
fn id_end(line: &[u8], j: usize) -> usize {
    let d = (line.get(j) == Some(&b'-')) as usize;
    let digits = line[j + d..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 {
        j + d + digits
    } else {
        j
    }
}

type EventParts<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);

/// Finds period, event and trailer. `after_ids` is where the text after the pid/tid starts.
fn parse_event(line: &[u8], after_ids: usize) -> EventParts<'_> {
    if let Some((period, event)) = perl_event(line) {
        return (period, Some(event), None);
    }
    extended_event(&line[after_ids..])
}

/// stackcollapse-perf.pl's rule: the line ends with `: [period] event:` and only whitespace.
fn perl_event(line: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let e = trim_end(line);
    if e.len() < 2 || *e.last()? != b':' {
        return None;
    }
    let tok_start = e.iter().rposition(|&b| is_ws(b))? + 1;
    let event = &e[tok_start..e.len() - 1];
    if event.is_empty() {
        return None;
    }
    let b = trim_end(&e[..tok_start]);
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let period = if digits > 0 { Some(&b[b.len() - digits..]) } else { None };
    let before = trim_end(&b[..b.len() - digits]);
    if before.last() != Some(&b':') {
        return None;
    }
    // `\s+` must separate the period (or the colon) from the event: guaranteed by tok_start.
    Some((period, event))
}

/// Tracepoints (`sched:sched_switch: prev_comm=...`) and frames on the header line: the first
/// token ending in `:` is the time, then an optional period, then `event:`; the rest is either a
/// frame (it starts with a hex address) or trace data, which is ignored.
fn extended_event(rest: &[u8]) -> EventParts<'_> {
    let mut toks = Tokens { s: rest, pos: 0 };
    // the time stamp: first token ending in ':'
    loop {
        match toks.next() {
            None => return (None, None, None),
            Some((_, t)) if t.ends_with(b":") => break,
            Some(_) => {}
        }
    }
    let mut period = None;
    let Some((_, mut t)) = toks.next() else { return (None, None, None) };
    if t.iter().all(|c| c.is_ascii_digit()) {
        period = Some(t);
        match toks.next() {
            Some((_, t2)) => t = t2,
            None => return (period, None, None),
        }
    }
    if t.len() < 2 || !t.ends_with(b":") {
        return (period, None, None);
    }
    let event = &t[..t.len() - 1];
    let trailer = trim_start(&rest[toks.pos..]);
    let trailer = if looks_like_frame(trailer) { Some(trailer) } else { None };
    (period, Some(event), trailer)
}

/// A frame starts with a hex address followed by whitespace and ends with `(module)`.
fn looks_like_frame(s: &[u8]) -> bool {
    let hex = s.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    hex > 0 && hex < s.len() && is_ws(s[hex]) && super::frame::parse_frame(s).is_some()
}

struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        let s = self.s;
        let mut i = self.pos;
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        if i == s.len() {
            self.pos = i;
            return None;
        }
        let start = i;
        while i < s.len() && !is_ws(s[i]) {
            i += 1;
        }
        self.pos = i;
        Some((start, &s[start..i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Header<'_> {
        parse_header(s.as_bytes()).unwrap()
    }

    #[test]
    fn classic() {
        let x = h("java 10488  9962.502413:   10101010 cpu-clock: ");
        assert_eq!(x.comm, b"java");
        assert_eq!((x.pid, x.tid), (&b"?"[..], &b"10488"[..]));
        assert_eq!(x.period, Some(&b"10101010"[..]));
        assert_eq!(x.event, Some(&b"cpu-clock"[..]));
        let x = h("bash  7784/7785    261.450485: cpu-clock:ppp: ");
        assert_eq!((x.pid, x.tid, x.period, x.event), (&b"7784"[..], &b"7785"[..], None, Some(&b"cpu-clock:ppp"[..])));
        let x = h("swapper     0/0 [012] 2281339.604067:   20834821 cycles:");
        assert_eq!((x.pid, x.tid), (&b"?"[..], &b"0"[..]));
    }

    #[test]
    fn comm_with_spaces_and_short_comm() {
        assert_eq!(h("V8 WorkerThread 25607 [000] 1.0: 1 cycles:").comm, b"V8 WorkerThread");
        let x = h("t 99076 10314749.002559: 7 cycles:");
        assert_eq!((x.comm, x.tid, x.period), (&b"t"[..], &b"99076"[..], Some(&b"7"[..])));
        assert!(parse_header(b"java 19983 cycles:").unwrap().event.is_none());
        assert!(parse_header(b"ffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])").is_none());
    }

    #[test]
    fn exited_task_ids() {
        let x = h(":-1    -1 [000]   719.403207: 500250 cpu-clock:ppp: ");
        assert_eq!((x.comm, x.pid, x.tid), (&b":-1"[..], &b"?"[..], &b"-1"[..]));
        assert_eq!((x.period, x.event), (Some(&b"500250"[..]), Some(&b"cpu-clock:ppp"[..])));
        let x = h(":-1    -1/-1 [000]   719.403207: 500250 cpu-clock:ppp: ");
        assert_eq!((x.comm, x.pid, x.tid), (&b":-1"[..], &b"-1"[..], &b"-1"[..]));
        let x = h("a 5/-1 1.0: 1 cycles:");
        assert_eq!((x.pid, x.tid), (&b"5"[..], &b"-1"[..]));
        // a minus sign alone, or before no digit, is no id
        assert_eq!(h("a - b 7 1.0: 1 cycles:").comm, b"a - b");
        assert_eq!(h("a -x 7 1.0: 1 cycles:").comm, b"a -x");
        assert_eq!(h("a --5 7 1.0: 1 cycles:").comm, b"a --5");
    }

    #[test]
    fn long_runs_of_blanks_and_minus_signs_stay_linear() {
        for unit in [&b" "[..], b" -", b" -1", b" -1/-", b" 1/-", b"\t-/"] {
            let line = unit.repeat(200_000);
            let t = std::time::Instant::now();
            assert!(parse_header(&line).is_none());
            assert!(t.elapsed().as_secs_f64() < 2.0, "{:?}", String::from_utf8_lossy(unit));
        }
    }

    #[test]
    fn tracepoints_and_trailers() {
        let x = h("perf 10 [000] 1.0: 1 sched:sched_switch: prev_comm=x prev_pid=1 ==> next_comm=y");
        assert_eq!(x.event, Some(&b"sched:sched_switch"[..]));
        assert_eq!(x.trailer, None);
        let x = h("dd 5 [001] 2.0: block:block_rq_insert: 8,0 WS 4096 () 123 + 8 [dd]");
        assert_eq!((x.event, x.period), (Some(&b"block:block_rq_insert"[..]), None));
        assert_eq!(x.trailer, None);
        let x = h("           false 39654 19115.489713:          1 cycles:u:  ffffffff9b201293 [unknown] ([unknown])".trim_start());
        assert_eq!(x.event, Some(&b"cycles:u"[..]));
        assert_eq!(x.trailer, Some(&b"ffffffff9b201293 [unknown] ([unknown])"[..]));
    }
}
