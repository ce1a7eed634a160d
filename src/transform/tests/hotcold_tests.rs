//! hotcold: on + off on a real capture against the reference computations.

use super::*;
use std::collections::BTreeMap;

/// On-CPU µs per stack, the obvious way: each cpu-clock sample's period (ns) summed per
/// collapse stack, floored per stack.
fn on_reference(s: &str, o: &crate::collapse::perf::Options) -> BTreeMap<String, u64> {
    let mut ns: BTreeMap<String, u64> = BTreeMap::new();
    for r in raw_samples(s) {
        let toks: Vec<&str> = r.header.split_whitespace().collect();
        let Some(i) = toks.iter().position(|t| t.starts_with("cpu-clock")) else { continue };
        let period: u64 = toks[i - 1].parse().unwrap();
        *ns.entry(collapse_stack(&r.block, o)).or_default() += period;
    }
    ns.into_iter().map(|(k, v)| (k, v / 1000)).filter(|(_, v)| *v > 0).collect()
}

#[test]
fn real_capture_is_on_plus_off() {
    let d = data("hotcold.txt.gz");
    let s = text(&d);
    for po in [crate::collapse::perf::Options::default(), crate::collapse::perf::Options { pid: true, kernel: true, ..Default::default() }] {
        let o = HotcoldOptions { stacks: StackOptions::from(&po), ..Default::default() };
        let r = hotcold(&d[..], &o).unwrap();
        let on = on_reference(&s, &po);
        let off = offcpu_reference(&s, &po, None, "_[o]");
        assert!(!on.is_empty() && !off.is_empty());
        let mut want = on.clone();
        for (k, v) in &off {
            *want.entry(k.clone()).or_default() += v;
        }
        assert_eq!(parse_folded(&r.folded), want, "{po:?}");
        let on_us: u64 = on.values().sum();
        let off_us: u64 = off.values().sum();
        assert_eq!((r.get("on_us"), r.get("off_us")), (Some(on_us), Some(off_us)));
        assert_eq!(r.total(), (on_us + off_us) as u128);
        assert_eq!(r.get("total_us"), Some(on_us + off_us));
        // the off-CPU part is the offcpu transform's, frames suffixed
        let plain = offcpu(&d[..], &OffcpuOptions { stacks: StackOptions::from(&po), ..Default::default() }).unwrap();
        assert_eq!(plain.get("total_us"), Some(off_us));
        let f = text(&r.folded);
        assert!(f.lines().any(|l| l.starts_with("workload") && l.contains("burn ")), "the workload burns on-CPU");
        assert!(f.lines().any(|l| l.starts_with("workload") && l.contains(";clock_nanosleep@GLIBC_2.2.5_[o];")), "and sleeps off-CPU");
    }
}

#[test]
fn constructed() {
    let s = "\
a 10 [0] 1.000000000: 250000 cpu-clock:ppp: \n\tff f (/m)\n\tff main (/m)\n\n\
a 10 [0] 1.000250000: sched:sched_switch: prev_comm=a prev_pid=10 prev_state=S ==> next_comm=b next_pid=20\n\tff schedule ([kernel.kallsyms])\n\tff main (/m)\n\n\
b 20 [0] 1.000500000: 250000 cpu-clock:ppp: \n\tff g (/m)\n\n\
b 20 [0] 1.001250000: sched:sched_switch: prev_comm=b prev_pid=20 prev_state=S ==> next_comm=a next_pid=10\n\n\
b 20 [0] 1.002: 7 cycles: \n\n\
c 30 [0] 1.003: cpu-clock: \n\n";
    let r = hotcold(s.as_bytes(), &HotcoldOptions { stacks: StackOptions { kernel: true, ..Default::default() }, ..Default::default() }).unwrap();
    assert_eq!(text(&r.folded), "a;main;f 250\na;main_[o];schedule_[k]_[o] 1000\nb;g 250\n");
    assert_eq!((r.get("on_us"), r.get("off_us"), r.get("total_us"), r.get("unclosed")), (Some(500), Some(1000), Some(1500), Some(1)));
    assert_eq!((r.get("on_samples"), r.get("on_no_period"), r.get("other_events")), (Some(3), Some(1), Some(1)));
    assert_eq!(r.warnings[0].line, 16);
}

/// perf's half-demangled legacy Rust names are finished in on-CPU and off-CPU frames alike
/// (the collapser's `rust_fixups`, decided over the names as read, not their `_[o]` copies).
#[test]
fn rust_fixups_reach_suffixed_frames() {
    let s = "\
a 10 [0] 1.000000000: 250000 cpu-clock:ppp: \n\tff a::b (/m)\n\tff c::d (/m)\n\tff e::f (/m)\n\tff Foo$LT$T$GT$::bar::h0123456789abcdef (/m)\n\n\
a 10 [0] 1.000250000: sched:sched_switch: prev_comm=a prev_pid=10 prev_state=S ==> next_comm=b next_pid=20\n\tff Foo$LT$T$GT$::bar::h0123456789abcdef (/m)\n\n\
b 20 [0] 1.001250000: sched:sched_switch: prev_comm=b prev_pid=20 prev_state=S ==> next_comm=a next_pid=10\n\n";
    let r = hotcold(s.as_bytes(), &HotcoldOptions::default()).unwrap();
    assert_eq!(text(&r.folded), "a;Foo<T>::bar;e::f;c::d;a::b 250\na;Foo<T>::bar_[o] 1000\n");
}
