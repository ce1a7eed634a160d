//! offcpu: real captures against the reference computation, and constructed cases.

use super::*;

fn run(s: &[u8], o: &OffcpuOptions) -> TransformResult {
    offcpu(s, o).unwrap()
}

#[test]
fn real_captures_match_the_reference() {
    for file in ["offcpu-ns.txt", "offcpu-us.txt", "offcpu-pidtid.txt", "wakeup.txt"] {
        for po in [crate::collapse::perf::Options::default(), crate::collapse::perf::Options { tid: true, kernel: true, ..Default::default() }] {
            for states in [None, Some("SD"), Some("R")] {
                let d = data(file);
                let o = OffcpuOptions { stacks: StackOptions::from(&po), states: states.map(|s| s.as_bytes().to_vec()), min_us: 0 };
                let r = run(&d, &o);
                let want = offcpu_reference(&text(&d), &po, states, "");
                assert_eq!(parse_folded(&r.folded), want, "{file} {states:?} {po:?}");
                assert!(!want.is_empty() || states == Some("R"), "{file}");
                assert_eq!(r.total(), want.values().map(|&v| v as u128).sum::<u128>());
                assert_eq!(r.get("total_us").unwrap() as u128, r.total());
            }
        }
    }
}

#[test]
fn real_capture_sees_the_workload_blocking() {
    let r = run(&data("offcpu-ns.txt"), &OffcpuOptions::default());
    let f = text(&r.folded);
    // usleep, the pipe read, the mutex (futex) and fsync all block
    for want in ["main;clock_nanosleep", "reader_thread;read;", "futex_wait;", "main;fsync;"] {
        assert!(f.lines().any(|l| l.contains(want)), "{want} missing in\n{f}");
    }
    assert!(r.get("intervals").unwrap() > 10);
}

#[test]
fn microsecond_and_nanosecond_captures_agree_to_the_microsecond_per_interval() {
    // the same perf.data printed with --ns and without: per stack the µs capture sums whole µs
    let ns = parse_folded(&run(&data("offcpu-ns.txt"), &OffcpuOptions::default()).folded);
    let us = parse_folded(&run(&data("offcpu-us.txt"), &OffcpuOptions::default()).folded);
    assert_eq!(ns.keys().collect::<Vec<_>>(), us.keys().collect::<Vec<_>>());
    for (k, v) in &ns {
        assert!(v.abs_diff(us[k]) <= 50, "{k}: {v} vs {}", us[k]);
    }
}

const CASE: &str = "\
a 10 [0] 1.000000000: sched:sched_switch: prev_comm=a prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=b next_pid=20 next_prio=120
\tff f (/m)
\tff main (/m)

b 20 [0] 1.000400500: sched:sched_switch: prev_comm=b prev_pid=20 prev_prio=120 prev_state=D ==> next_comm=swapper/0 next_pid=0 next_prio=120
\tff g (/m)

swapper 0 [0] 1.001000000: sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=a next_pid=10 next_prio=120
\tff idle (/k)

a 10 [1] 1.002000000: sched:sched_switch: prev_comm=a prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=b next_pid=20 next_prio=120
\tff f (/m)
\tff main (/m)

swapper 0 [0] 1.003000999: sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=a next_pid=10 next_prio=120
\tff idle (/k)

a 10 [1] 1.004000000: sched:sched_switch: prev_comm=a prev_pid=10 prev_prio=120 prev_state=R+ ==> next_comm=c next_pid=30 next_prio=120
\tff h (/m)
\tff main (/m)

";

#[test]
fn constructed_intervals() {
    let r = run(CASE.as_bytes(), &OffcpuOptions::default());
    // a: 1.000000000 -> 1.001000000 (1000 µs) and 1.002 -> 1.003000999 (1000.999 µs): 2000 µs
    // b: 1.000400500 -> 1.002000000 = 1599.5 µs -> 1599; a's last switch-out never closes
    assert_eq!(text(&r.folded), "a;main;f 2000\nb;g 1599\n");
    assert_eq!(r.get("unclosed"), Some(1));
    assert_eq!(r.get("idle_switch_outs"), Some(2));
    assert_eq!(r.get("intervals"), Some(3));
    assert!(r.warnings.iter().any(|w| w.line == 0 && w.msg.contains("1 threads were still off-CPU")));
    let r = run(CASE.as_bytes(), &OffcpuOptions { states: Some(b"D".to_vec()), ..Default::default() });
    assert_eq!(text(&r.folded), "b;g 1599\n");
    assert_eq!(r.get("state_filtered"), Some(3));
    let r = run(CASE.as_bytes(), &OffcpuOptions { min_us: 1001, ..Default::default() });
    assert_eq!(text(&r.folded), "b;g 1599\n");
    assert_eq!(r.get("below_min_us"), Some(2));
    let r = run(CASE.as_bytes(), &OffcpuOptions { stacks: StackOptions { pid: true, ..Default::default() }, ..Default::default() });
    assert_eq!(text(&r.folded), "a-?;main;f 2000\nb-?;g 1599\n");
}

#[test]
fn sub_microsecond_stacks_and_bad_lines() {
    let s = "a 10 [0] 1.000000000: sched:sched_switch: prev_comm=a prev_pid=10 prev_state=S ==> next_comm=b next_pid=20\n\tff f (/m)\nGARBAGE\n\n\
b 20 [0] 1.000000999: sched:sched_switch: prev_comm=b prev_pid=20 prev_state=S ==> next_comm=a next_pid=10\n\tff g (/m)\n\n\
b 20 [0] 1.5: sched:sched_switch: no fields here\n\n";
    let r = run(s.as_bytes(), &OffcpuOptions::default());
    assert_eq!(r.folded, b"");
    assert_eq!(r.get("under_1us_stacks"), Some(1));
    assert_eq!(r.get("bad_fields"), Some(1));
    let lines: Vec<u64> = r.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![3, 8, 0]);
}

#[test]
fn capture_without_callchains() {
    // perf record without -g: headers right-aligned, no blank lines, stacks are the comm alone
    let d = data("offcpu-nocallchain.txt");
    let s = text(&d);
    assert!(s.starts_with("        workload"));
    let r = run(&d, &OffcpuOptions::default());
    let blocks: String = s.lines().map(|l| format!("{}\n\n", l.trim_start())).collect();
    let want = offcpu_reference(&blocks, &crate::collapse::perf::Options::default(), None, "");
    assert!(!want.is_empty());
    assert_eq!(parse_folded(&r.folded), want);
    assert!(r.warnings.iter().all(|w| w.line == 0), "{:?}", r.warnings);
    assert_eq!(r.get("switches").unwrap() as usize, s.lines().count());
}

#[test]
fn exiting_threads_open_no_interval() {
    let s = "a 10 [0] 1.0: sched:sched_switch: prev_comm=a prev_pid=10 prev_state=X ==> next_comm=b next_pid=20\n\n\
b 20 [0] 2.0: sched:sched_switch: prev_comm=b prev_pid=20 prev_state=S ==> next_comm=a next_pid=10\n\n";
    let r = run(s.as_bytes(), &OffcpuOptions::default());
    assert_eq!((r.get("exits"), r.get("unclosed"), r.get("intervals")), (Some(1), Some(1), Some(0)));
}

/// What the transforms assume of real captures: a sched_switch sample is taken in the thread
/// switched out (its tid is prev_pid, or -1 when perf lost the task), and perf script prints
/// the samples of all CPUs in time order.
#[test]
fn captures_meet_the_assumptions() {
    for file in ["offcpu-ns.txt", "offcpu-pidtid.txt", "wakeup.txt", "hotcold.txt.gz", "offcpu-nocallchain.txt"] {
        let d = data(file);
        let mut rd = EventReader::new(&d[..]);
        let (mut last, mut switches, mut lost) = (0u64, 0, 0);
        while let Some(e) = rd.next().unwrap() {
            let t = e.time_ns.unwrap();
            assert!(t >= last, "{file} line {}: time goes back", e.line);
            last = t;
            if e.event == SCHED_SWITCH {
                let sw = parse_switch(&e.trace).unwrap();
                switches += 1;
                match e.tid.unwrap() {
                    -1 => lost += 1,
                    tid => assert_eq!(tid, sw.prev_pid, "{file} line {}", e.line),
                }
            }
        }
        assert!(switches > 10 && lost < switches / 5, "{file}: {switches} switches, {lost} lost");
    }
}

/// A long generated stream, read through `Read` piece by piece: 40 threads in a ring, each
/// switched out for 39 µs at a time; only the last switch-out of each thread stays open.
#[test]
fn long_stream_in_a_ring() {
    struct Gen {
        i: u64,
        n: u64,
        buf: Vec<u8>,
        pos: usize,
    }
    impl std::io::Read for Gen {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.buf.len() {
                if self.i == self.n {
                    return Ok(0);
                }
                let (p, q) = (self.i % 40 + 1, (self.i + 1) % 40 + 1);
                let t = 1_000_000_000 + self.i * 1000;
                self.buf = format!("t{p} {p} [0] {}.{:09}: sched:sched_switch: prev_comm=t{p} prev_pid={p} prev_state=S ==> next_comm=t{q} next_pid={q}\n\tff wait{} (/m)\n\tff main (/m)\n\n", t / 1_000_000_000, t % 1_000_000_000, p % 2).into_bytes();
                self.pos = 0;
                self.i += 1;
            }
            let k = out.len().min(self.buf.len() - self.pos).min(7);
            out[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            Ok(k)
        }
    }
    let n = 20_000;
    let r = offcpu(Gen { i: 0, n, buf: Vec::new(), pos: 0 }, &OffcpuOptions::default()).unwrap();
    // every switch-out but the last 39 closes after 39 µs
    assert_eq!(r.get("intervals"), Some(n - 39));
    assert_eq!(r.get("unclosed"), Some(39));
    assert_eq!(r.total(), (n - 39) as u128 * 39);
    assert_eq!(text(&r.folded).lines().count(), 40);
}
