//! Tests of the transforms: real captures (tests/data/transform, see SOURCES.md there) checked
//! against small independent computations written here from the raw events, and constructed
//! text where the right answer is known.

use super::events::{event_base, field, parse_time, EventReader};
use super::*;
use std::collections::BTreeMap;
use std::io::Read;

pub(super) fn data(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/transform").join(name);
    let mut v = Vec::new();
    crate::input::source::decoding(std::fs::File::open(&p).unwrap()).unwrap().read_to_end(&mut v).unwrap();
    v
}

pub(super) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One raw sample of a capture, read with plain string operations (no EventReader).
pub(super) struct Raw {
    pub header: String,
    pub block: String,
    pub time_ns: u64,
}

/// The samples of a capture: blocks between blank lines, header first.
pub(super) fn raw_samples(s: &str) -> Vec<Raw> {
    s.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let b = b.trim_start_matches('\n');
            let header = b.lines().next().unwrap().to_string();
            // the time: the token `digits.digits:`
            let tok = header.split_whitespace().find(|t| t.ends_with(':') && t[..t.len() - 1].split('.').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))).unwrap();
            let (secs, frac) = tok[..tok.len() - 1].split_once('.').unwrap();
            let time_ns = secs.parse::<u64>().unwrap() * 1_000_000_000 + format!("{frac:0<9}").parse::<u64>().unwrap();
            Raw { header, block: format!("{b}\n\n"), time_ns }
        })
        .collect()
}

/// A trace field by plain splitting (`key=value`, value without spaces).
pub(super) fn raw_field(header: &str, key: &str) -> Option<String> {
    header.split_whitespace().find_map(|t| t.strip_prefix(&format!("{key}=")).map(str::to_string))
}

/// The stack `flamefold collapse` gives for one sample (its folded line without the count).
pub(super) fn collapse_stack(block: &str, o: &crate::collapse::perf::Options) -> String {
    let c = crate::profile::from_perf_slice(block.as_bytes(), o, 1, &|_| Ok(())).unwrap();
    let t = text(&crate::output::folded::Folded::from_profile(&c).to_text());
    let line = t.lines().next().unwrap_or("").to_string();
    line.rsplit_once(' ').map(|(s, _)| s.to_string()).unwrap_or_default()
}

/// Folded text as a map.
pub(super) fn parse_folded(b: &[u8]) -> BTreeMap<String, u64> {
    text(b).lines().map(|l| l.rsplit_once(' ').map(|(s, c)| (s.to_string(), c.parse().unwrap())).unwrap()).collect()
}

/// Off-CPU µs per stack computed the obvious way: every (time, prev_pid, next_pid, stack); each
/// switch-out of a non-idle thread runs to the first later switch-in of that thread, unless the
/// thread switches out again first (a switch-in the capture lacks: no interval).
pub(super) fn offcpu_reference(s: &str, o: &crate::collapse::perf::Options, states: Option<&str>, suffix: &str) -> BTreeMap<String, u64> {
    let evs: Vec<(u64, i64, i64, String, String)> = raw_samples(s)
        .into_iter()
        .filter(|r| r.header.contains(" sched:sched_switch: "))
        .map(|r| {
            let prev = raw_field(&r.header, "prev_pid").unwrap().parse().unwrap();
            let next = raw_field(&r.header, "next_pid").unwrap().parse().unwrap();
            let state = raw_field(&r.header, "prev_state").unwrap();
            (r.time_ns, prev, next, state, collapse_stack(&r.block, o))
        })
        .collect();
    let mut ns: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (t0, prev, _, state, stack)) in evs.iter().enumerate() {
        if *prev == 0 || states.is_some_and(|st| !state.chars().any(|c| st.contains(c))) {
            continue;
        }
        if let Some((t1, ..)) = evs[i + 1..].iter().find(|e| e.2 == *prev || e.1 == *prev).filter(|e| e.2 == *prev) {
            let mut st = stack.clone();
            if !suffix.is_empty() {
                let mut parts: Vec<String> = st.split(';').map(str::to_string).collect();
                for p in parts.iter_mut().skip(1) {
                    p.push_str(suffix);
                }
                st = parts.join(";");
            }
            *ns.entry(st).or_default() += t1 - t0;
        }
    }
    ns.into_iter().map(|(k, v)| (k, v / 1000)).filter(|(_, v)| *v > 0).collect()
}

#[test]
fn time_stamps_are_exact_integers() {
    assert_eq!(parse_time(b"8582.894581819:"), Some(8_582_894_581_819));
    assert_eq!(parse_time(b"8582.894581:"), Some(8_582_894_581_000));
    assert_eq!(parse_time(b"12:"), Some(12_000_000_000));
    assert_eq!(parse_time(b"1.2:"), Some(1_200_000_000));
    assert_eq!(parse_time(b"1.1234567890:"), None);
    assert_eq!(parse_time(b"x.1:"), None);
    // no float rounding at large values
    assert_eq!(parse_time(b"18446744073.709551615:"), Some(u64::MAX));
}

#[test]
fn fields_with_spaces() {
    let t = b"prev_comm=V8 WorkerThread prev_pid=12 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120";
    assert_eq!(field(t, b"prev_comm"), Some(&b"V8 WorkerThread"[..]));
    assert_eq!(field(t, b"prev_pid"), Some(&b"12"[..]));
    assert_eq!(field(t, b"pid"), None);
    let s = parse_switch(t).unwrap();
    assert_eq!((s.prev_pid, s.prev_state, s.next_pid, s.next_comm), (12, &b"S"[..], 0, &b"swapper/1"[..]));
    assert!(state_matches(b"R+", b"R") && state_matches(b"D|K", b"SD") && !state_matches(b"S", b"D"));
    assert_eq!(event_base(b"cpu-clock:ppp"), b"cpu-clock");
    assert_eq!(event_base(b"sched:sched_switch"), b"sched:sched_switch");
    assert_eq!(event_base(b"cycles:u"), b"cycles");
}

#[test]
fn reader_gives_every_field() {
    let s = "# comment\nworkload 12621/12622 [001]  8582.894581819: sched:sched_switch: prev_comm=workload prev_pid=12622 prev_state=S ==> next_comm=b next_pid=3\n\tffffffff821f8b58 __schedule+0x618 ([kernel.kallsyms])\n\t1098d9 clone3+0x19 (/usr/lib/libc.so.6)\n\
a b 7 [000] 1.000002: 500000 cpu-clock:ppp: \n\t7f f (/m)\n\
short 9 2.5:   3 cycles:u:  ffff g+0x1 (/n)\n\nBROKEN\n\
swapper     0/0 [012] 2281339.604067:   20834821 cycles:\n";
    let mut rd = EventReader::new(s.as_bytes());
    let e = rd.next().unwrap().unwrap();
    assert_eq!((e.line, text(&e.comm), e.pid, e.tid, e.cpu, e.time_ns), (2, "workload".into(), Some(12621), Some(12622), Some(1), Some(8_582_894_581_819)));
    assert_eq!((text(&e.event), e.period), ("sched:sched_switch".into(), None));
    assert!(e.trace.starts_with(b"prev_comm=workload") && e.trace.ends_with(b"next_pid=3"));
    assert_eq!(e.depth(), 2);
    assert_eq!(e.frame(1).raw, b"clone3+0x19");
    let e = rd.next().unwrap().unwrap();
    assert_eq!((text(&e.comm), e.pid, e.tid, text(&e.pid_text), e.time_ns, e.period), ("a b".into(), None, Some(7), "?".into(), Some(1_000_002_000), Some(500000)));
    assert_eq!((text(&e.event), e.trace.is_empty(), e.depth()), ("cpu-clock:ppp".into(), true, 1));
    let e = rd.next().unwrap().unwrap();
    assert_eq!((text(&e.comm), e.cpu, e.time_ns, e.period, e.depth()), ("short".into(), None, Some(2_500_000_000), Some(3), 1));
    assert_eq!(e.frame(0).raw, b"g+0x1");
    let e = rd.next().unwrap().unwrap();
    assert_eq!((text(&e.comm), e.pid, e.tid, e.cpu, e.time_ns, e.period), ("swapper".into(), None, Some(0), Some(12), Some(2_281_339_604_067_000), Some(20834821)));
    assert!(rd.next().unwrap().is_none());
    assert!(rd.next().unwrap().is_none());
    let (w, _) = rd.take_warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, 9);
}

#[test]
fn reader_streams_a_real_capture() {
    let d = data("offcpu-ns.txt");
    let mut rd = EventReader::new(&d[..]);
    let mut n = 0;
    let mut frames = 0;
    while let Some(e) = rd.next().unwrap() {
        assert_eq!(e.event, b"sched:sched_switch");
        assert!(e.time_ns.is_some() && e.cpu.is_some());
        frames += e.depth();
        n += 1;
    }
    let raw = raw_samples(&text(&d));
    assert_eq!(n, raw.len());
    let raw_frames: usize = raw.iter().map(|r| r.block.lines().filter(|l| l.starts_with('\t')).count()).sum();
    assert_eq!(frames, raw_frames);
    assert!(rd.take_warnings().0.is_empty());
}

#[test]
fn binary_perf_data_is_an_error() {
    let e = offcpu(&b"PERFILE2\x00\x01"[..], &OffcpuOptions::default()).unwrap_err();
    assert!(e.to_string().contains("perf.data"), "{e}");
}

#[test]
fn stacks_are_named_as_collapse_names_them() {
    // every sample alone: the transform's root-first stack equals collapse's line
    for (file, o) in [
        ("offcpu-ns.txt", crate::collapse::perf::Options::default()),
        ("offcpu-pidtid.txt", crate::collapse::perf::Options { tid: true, kernel: true, ..Default::default() }),
        ("offcpu-us.txt", crate::collapse::perf::Options { pid: true, jit: true, addrs: true, ..Default::default() }),
    ] {
        let d = text(&data(file));
        let mut namer = naming::Namer::new(StackOptions::from(&o));
        let mut rd = EventReader::new(d.as_bytes());
        let raws = raw_samples(&d);
        let mut i = 0;
        while let Some(e) = rd.next().unwrap() {
            let mut ids = Vec::new();
            namer.stack(e, &mut ids);
            let mut got = Vec::new();
            for (k, &id) in ids.iter().enumerate() {
                if k > 0 {
                    got.push(b';');
                }
                got.extend_from_slice(namer.names.get(crate::intern::FrameId(id)));
            }
            assert_eq!(text(&got), collapse_stack(&raws[i].block, &o), "{file} sample {i}");
            i += 1;
        }
    }
}

mod offcpu_tests;
mod doctor_tests;
mod hotcold_tests;
mod wakeup_tests;
mod cpi_tests;
mod corpus_tests;

#[test]
fn long_lines_are_an_error_and_crlf_is_a_line_end() {
    let mut s = b"a 1 [0] 1.0: 1 cycles: \n\tff f (/m)\n\n".to_vec();
    s.extend(std::iter::repeat_n(b'x', crate::input::chunk::MAX_LINE + 1));
    s.extend_from_slice(b"\nmore\n");
    let e = doctor(&s[..], &DoctorOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("line 4: {}", crate::collapse::perf::LONG_LINE));
    let lf = "a 1 [0] 1.0: 1 cycles: \n\tff f (/m)\n\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(cpi(crlf.as_bytes(), &CpiOptions::default()).unwrap().folded, cpi(lf.as_bytes(), &CpiOptions::default()).unwrap().folded);
}
