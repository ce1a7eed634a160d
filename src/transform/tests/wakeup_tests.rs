//! wakeup: a real capture against a reference computation, and constructed chains.

use super::*;
use std::collections::BTreeMap;

/// Off-wake µs per stack, the obvious way: for each switch-out of a non-idle thread, the first
/// later event about that thread; when it is a wakeup of it, the interval runs to it and joins
/// the blocked stack, `--`, and the waker's stack reversed with `_[w]` on each frame.
fn reference(s: &str, o: &crate::collapse::perf::Options) -> BTreeMap<String, u64> {
    // (time, switch-out pid, switch-in pid, woken pid, stack)
    let evs: Vec<(u64, i64, i64, i64, String)> = raw_samples(s)
        .into_iter()
        .filter_map(|r| {
            let stack = collapse_stack(&r.block, o);
            let n = |k: &str| raw_field(&r.header, k).map(|v| v.parse::<i64>().unwrap());
            if r.header.contains(" sched:sched_switch: ") {
                Some((r.time_ns, n("prev_pid").unwrap(), n("next_pid").unwrap(), -1, stack))
            } else if r.header.contains(" sched:sched_wakeup: ") {
                Some((r.time_ns, -1, -1, n("pid").unwrap(), stack))
            } else {
                None
            }
        })
        .collect();
    let mut ns: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (t0, prev, _, _, stack)) in evs.iter().enumerate() {
        if *prev <= 0 {
            continue;
        }
        let Some((t1, _, _, _, waker)) = evs[i + 1..].iter().find(|e| e.1 == *prev || e.2 == *prev || e.3 == *prev) else { continue };
        if evs[i + 1..].iter().find(|e| e.1 == *prev || e.2 == *prev || e.3 == *prev).unwrap().3 != *prev {
            continue;
        }
        let w: Vec<String> = waker.split(';').rev().map(|f| format!("{f}_[w]")).collect();
        *ns.entry(format!("{stack};--;{}", w.join(";"))).or_default() += t1 - t0;
    }
    ns.into_iter().map(|(k, v)| (k, v / 1000)).filter(|(_, v)| *v > 0).collect()
}

#[test]
fn real_capture_joins_the_right_waker() {
    let d = data("wakeup.txt");
    for po in [crate::collapse::perf::Options::default(), crate::collapse::perf::Options { tid: true, kernel: true, ..Default::default() }] {
        let r = wakeup(&d[..], &WakeupOptions { stacks: StackOptions::from(&po), ..Default::default() }).unwrap();
        let want = reference(&text(&d), &po);
        assert!(want.len() > 3);
        assert_eq!(parse_folded(&r.folded), want, "{po:?}");
    }
    let r = wakeup(&d[..], &WakeupOptions::default()).unwrap();
    let f = text(&r.folded);
    // the pipe reader is woken by the main thread writing to the pipe
    assert!(
        f.lines().any(|l| l.contains("reader_thread;read;") && l.contains(";--;") && l.contains("anon_pipe_write_[w]") && l.contains("__GI___libc_write_[w];main_[w]") && l.contains("workload_[w] ")),
        "{f}"
    );
    assert!(r.get("woken_blocked").unwrap() > 5);
}

const CHAIN: &str = "\
A 1 [0] 1.000000000: sched:sched_switch: prev_comm=A prev_pid=1 prev_state=S ==> next_comm=B next_pid=2
\tff wait_a (/m)
\tff main_a (/m)

T 9 [0] 1.000100000: sched:sched_wakeup: comm=B pid=2 prio=120 target_cpu=000
\tff timer_irq (/k)

B 2 [0] 1.000200000: sched:sched_switch: prev_comm=B prev_pid=2 prev_state=S ==> next_comm=C next_pid=3
\tff wait_b (/m)
\tff main_b (/m)

C 3 [0] 1.000300000: sched:sched_wakeup: comm=B pid=2 prio=120 target_cpu=000
\tff wake_b (/m)
\tff main_c (/m)

B 2 [0] 1.000400000: sched:sched_wakeup: comm=A pid=1 prio=120 target_cpu=000
\tff wake_a (/m)
\tff main_b (/m)

C 3 [0] 1.000500000: sched:sched_switch: prev_comm=C prev_pid=3 prev_state=R ==> next_comm=A next_pid=1

";

#[test]
fn constructed_off_wake_and_chain() {
    let r = wakeup(CHAIN.as_bytes(), &WakeupOptions::default()).unwrap();
    // A blocked 1.0 -> woken by B at 1.0004 (400 µs); B blocked 1.0002 -> woken by C at 1.0003
    assert_eq!(text(&r.folded), "A;main_a;wait_a;--;wake_a_[w];main_b_[w];B_[w] 400\nB;main_b;wait_b;--;wake_b_[w];main_c_[w];C_[w] 100\n");
    assert_eq!((r.get("wakeups"), r.get("woken_blocked"), r.get("unclosed")), (Some(3), Some(2), Some(1)));
    // depth 2: A's waker B was last woken by C; B's waker C was never woken
    let r = wakeup(CHAIN.as_bytes(), &WakeupOptions { depth: 2, ..Default::default() }).unwrap();
    assert_eq!(
        text(&r.folded),
        "A;main_a;wait_a;--;wake_a_[w];main_b_[w];B_[w];--;wake_b_[w];main_c_[w];C_[w] 400\nB;main_b;wait_b;--;wake_b_[w];main_c_[w];C_[w] 100\n"
    );
    // min_us leaves B's 100 µs interval out
    let r = wakeup(CHAIN.as_bytes(), &WakeupOptions { min_us: 101, ..Default::default() }).unwrap();
    assert_eq!(text(&r.folded), "A;main_a;wait_a;--;wake_a_[w];main_b_[w];B_[w] 400\n");
    assert_eq!(r.get("below_min_us"), Some(1));
}

#[test]
fn chain_depth_is_bounded() {
    // a ring of wakeups: each thread wakes the next; depth 3 keeps 3 waker segments
    let mut s = String::new();
    let mut t = 1_000_000_000u64;
    for round in 0..4 {
        for p in 1..=3i64 {
            let q = p % 3 + 1;
            s += &format!("P{p} {p} [0] {}.{:09}: sched:sched_switch: prev_comm=P{p} prev_pid={p} prev_state=S ==> next_comm=x next_pid=99\n\tff w{p} (/m)\n\n", t / 1_000_000_000, t % 1_000_000_000);
            t += 1000;
            s += &format!("P{q} {q} [0] {}.{:09}: sched:sched_wakeup: comm=P{p} pid={p} prio=1 target_cpu=0\n\tff k{q} (/m)\n\n", t / 1_000_000_000, t % 1_000_000_000);
            t += 1000;
            let _ = round;
        }
    }
    let r = wakeup(s.as_bytes(), &WakeupOptions { depth: 3, ..Default::default() }).unwrap();
    for l in text(&r.folded).lines() {
        assert!(l.matches(";--;").count() <= 3, "{l}");
    }
    assert!(text(&r.folded).lines().any(|l| l.matches(";--;").count() == 3));
}

#[test]
fn sched_waking_serves_as_well() {
    let waking = CHAIN.replace("sched:sched_wakeup:", "sched:sched_waking:");
    let a = wakeup(CHAIN.as_bytes(), &WakeupOptions::default()).unwrap();
    let b = wakeup(waking.as_bytes(), &WakeupOptions::default()).unwrap();
    assert_eq!(a.folded, b.folded);
    // no wakeups at all: said
    let r = wakeup(&data("offcpu-ns.txt")[..], &WakeupOptions::default()).unwrap();
    assert_eq!(r.folded, b"");
    assert!(r.warnings.iter().any(|w| w.msg.contains("no sched:sched_wakeup samples")));
}

/// Chains on the real capture: cut after the first waker, a depth-3 graph is the off-wake graph
/// (up to the flooring of the stacks it splits into), and some chain is deeper than one waker.
#[test]
fn real_capture_chains_extend_the_off_wake_graph() {
    let d = data("wakeup.txt");
    let one = parse_folded(&wakeup(&d[..], &WakeupOptions::default()).unwrap().folded);
    let three = parse_folded(&wakeup(&d[..], &WakeupOptions { depth: 3, ..Default::default() }).unwrap().folded);
    let mut cut: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (k, v) in &three {
        let parts: Vec<&str> = k.split(";--;").collect();
        assert!(parts.len() >= 2 && parts.len() <= 4, "{k}");
        let e = cut.entry(format!("{};--;{}", parts[0], parts[1])).or_default();
        e.0 += v;
        e.1 += 1;
    }
    assert!(three.keys().any(|k| k.matches(";--;").count() >= 2));
    for (k, &v) in &one {
        let (sum, n) = cut.get(k).copied().unwrap_or((0, 1));
        assert!(sum <= v && sum + n >= v, "{k}: {v} vs {sum} in {n}");
    }
}
