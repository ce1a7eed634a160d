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
    parse_at(line).map(|(h, _)| h)
}

/// [`parse_header`], and what the parse read: the end of the ids and the blank after them
/// (`line[..ids]` gave the comm and ids), and, when the event was found by the Perl's pattern,
/// where the `:` before the period is (`line[colon..]` gave the period and event).
fn parse_at(line: &[u8]) -> Option<(Header<'_>, (usize, Option<usize>))> {
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
                    let (period, event, trailer, colon) = parse_event(line, j);
                    return Some((Header { comm: &line[..i], pid, tid, period, event, trailer }, (j + 1, colon)));
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
fn parse_event(line: &[u8], after_ids: usize) -> (Option<&[u8]>, Option<&[u8]>, Option<&[u8]>, Option<usize>) {
    if let Some((period, event, colon)) = perl_event(line) {
        return (period, Some(event), None, Some(colon));
    }
    let (period, event, trailer) = extended_event(&line[after_ids..]);
    (period, event, trailer, None)
}

/// stackcollapse-perf.pl's rule: the line ends with `: [period] event:` and only whitespace.
fn perl_event(line: &[u8]) -> Option<(Option<&[u8]>, &[u8], usize)> {
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
    Some((period, event, before.len() - 1))
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

/// The last few headers parsed, to answer one that repeats a recent one in all but its middle
/// (cpu and time): a header is read from its two ends (the comm and ids from the start, period
/// and event from the end after the `:` of the time), so a line with the same start and end
/// parses alike whatever lies between. On a two-core capture consecutive samples alternate
/// between the cores' tasks: the header two back repeats for 84-92% of the samples. Each
/// remembered header keeps a `T` of the caller's (what the header gave it).
pub struct HeaderMemo<T> {
    /// Most recent first.
    slots: Vec<Memo<T>>,
}

impl<T> Default for HeaderMemo<T> {
    fn default() -> Self {
        HeaderMemo { slots: Vec::new() }
    }
}

/// A header's start (`bytes[..ids]`) and end (`bytes[ids..]`), and where its fields were:
/// comm and ids from the line's start, period and event from the start of the end part; and
/// the caller's `T`.
struct Memo<T> {
    bytes: Vec<u8>,
    ids: usize,
    comm: usize,
    pid: Option<(usize, usize)>,
    tid: (usize, usize),
    period: Option<(usize, usize)>,
    event: (usize, usize),
    kept: Option<T>,
}

const MEMO_SLOTS: usize = 4;

impl<T: Copy> HeaderMemo<T> {
    /// [`parse_header`], answered from a recent header when the line repeats its ends; and
    /// whether the line is remembered now (see [`HeaderMemo::kept`]).
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Option<(Header<'a>, bool)> {
        for k in 0..self.slots.len() {
            let m = &self.slots[k];
            let tail = m.bytes.len() - m.ids;
            if line.len() < m.bytes.len() || line[..m.ids] != m.bytes[..m.ids] || line[line.len() - tail..] != m.bytes[m.ids..] {
                continue;
            }
            let end = line.len() - tail;
            let h = Header {
                comm: &line[..m.comm],
                pid: m.pid.map_or(&b"?"[..], |(a, b)| &line[a..b]),
                tid: &line[m.tid.0..m.tid.1],
                period: m.period.map(|(a, b)| &line[end + a..end + b]),
                event: Some(&line[end + m.event.0..end + m.event.1]),
                trailer: None,
            };
            self.slots[..=k].rotate_right(1);
            return Some((h, true));
        }
        let (h, (ids, colon)) = parse_at(line)?;
        // (the two ends may overlap in the line: each gave its fields alone)
        let Some((colon, event)) = colon.zip(h.event) else { return Some((h, false)) };
        if self.slots.len() < MEMO_SLOTS {
            self.slots.push(Memo { bytes: Vec::new(), ids: 0, comm: 0, pid: None, tid: (0, 0), period: None, event: (0, 0), kept: None });
        }
        self.slots.rotate_right(1);
        let at = |s: &[u8]| (s.as_ptr() as usize - line.as_ptr() as usize, s.as_ptr() as usize - line.as_ptr() as usize + s.len());
        let m = &mut self.slots[0];
        m.bytes.clear();
        m.bytes.extend_from_slice(&line[..ids]);
        m.bytes.extend_from_slice(&line[colon..]);
        m.ids = ids;
        m.comm = h.comm.len();
        m.pid = (h.pid != b"?").then(|| at(h.pid)); // a pid is digits or the `?` put for none
        m.tid = at(h.tid);
        m.period = h.period.map(|p| {
            let (a, b) = at(p);
            (a - colon, b - colon)
        });
        let (a, b) = at(event);
        m.event = (a - colon, b - colon);
        m.kept = None;
        Some((h, true))
    }

    /// The caller's `T` for the header last parsed, when it is remembered and has one.
    pub fn kept(&self) -> Option<T> {
        self.slots.first().and_then(|m| m.kept)
    }

    /// Keeps `t` with the header last parsed (it must be remembered).
    pub fn keep(&mut self, t: T) {
        if let Some(m) = self.slots.first_mut() {
            m.kept = Some(t);
        }
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

    /// The memo gives what a parse gives, line after line: headers whose ends repeat earlier
    /// ones around other middles (times, cpus, colons, digits, blanks), ends that overlap,
    /// lines shorter than a remembered header, lines that are no header, other event forms.
    #[test]
    fn memo_parses_as_the_parser_does() {
        let comms = ["cargo", "a b", "t", "x:", "9 9", "-", "V8 Worker"];
        let ids = ["123", "5/6", "0/0", "-1", "7/-1", "12/0"];
        let mids = [" [000]   845.390601", " 1.0", " [001] 9:", "", " :", " 5 6", "  "];
        let ends = [":     500250 cpu-clock:pppH: ", ": cycles:", ":  7 sched:sched_switch:", ":9 cycles:u:", ": 1 cycles:u:  ffff sym (mod)", ": x", ":", ": 5 a: "];
        let mut seed = 3u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let mut memo = HeaderMemo::<()>::default();
        let (mut hits, mut headers) = (0, 0);
        for _ in 0..20_000 {
            let line = match next(10) {
                0 => "cargo 5".to_string(),
                1 => format!("{} {}", comms[next(comms.len())], ids[next(ids.len())]),
                _ => format!("{} {}{}{}", comms[next(comms.len())], ids[next(ids.len())], mids[next(mids.len())], ends[next(ends.len())]),
            };
            let line = line.as_bytes();
            let want = parse_header(line);
            let before = memo.slots.iter().map(|m| m.bytes.clone()).collect::<Vec<_>>();
            assert_eq!(memo.parse(line).map(|(h, _)| h), want, "{:?}", String::from_utf8_lossy(line));
            headers += want.is_some() as usize;
            hits += (want.is_some() && before.iter().any(|b| memo.slots[0].bytes == *b)) as usize;
        }
        assert!(hits > headers / 4, "the memo answered {hits} of {headers} headers");
    }
}
