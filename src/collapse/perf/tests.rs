//! The perf collapser's tests, through the whole pipeline (collapse, profile, folded text).

use super::*;
use crate::input::chunk::CHUNK;
use crate::output::folded::Folded;
use crate::profile::{from_perf_read_sized, from_perf_slice_sized};
use crate::Warning;

/// What the tests look at: the folded text and the warnings.
#[derive(Debug)]
struct Collapsed {
    folded: Folded,
    warnings: Vec<Warning>,
}

fn done(mut p: crate::profile::Profile) -> Collapsed {
    Collapsed { folded: Folded::take_from(&mut p), warnings: p.warnings }
}

fn collapse_slice_sized(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    from_perf_slice_sized(data, opts, threads, progress, chunk).map(done)
}

fn collapse_read_sized<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    from_perf_read_sized(r, opts, threads, progress, chunk).map(done)
}

fn collapse_slice(data: &[u8], opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Collapsed> {
    collapse_slice_sized(data, opts, threads, progress, CHUNK)
}

fn collapse_read<R: Read + Send>(r: R, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Collapsed> {
    collapse_read_sized(r, opts, threads, progress, CHUNK)
}

fn run(input: &str, opts: &Options, threads: usize) -> Collapsed {
    collapse_slice(input.as_bytes(), opts, threads, &|_| Ok(())).unwrap()
}

fn text(c: &Collapsed) -> String {
    String::from_utf8(c.folded.to_text()).unwrap()
}

const TWO: &str = "a 1 1.0: 5 cycles: \n\tff f+0x1 (/m)\n\tff main (/m)\n\na 1 1.0: 7 cycles: \n\tff g (/m)\n\tff main (/m)\n";

#[test]
fn arrow_splits_only_outside_brackets() {
    let parts = |s: &str| split_arrow(s.as_bytes()).into_iter().map(|p| String::from_utf8(p.to_vec()).unwrap()).collect::<Vec<_>>();
    assert_eq!(parts("Ljava/A;::a->Ljava/B;::b->Ljava/C;::c"), ["Ljava/A;::a", "Ljava/B;::b", "Ljava/C;::c"]);
    for one in [
        "std::sync::once_lock::OnceLock<unsafe fn() -> Box<dyn Fn()>>::initialize",
        "core::ops::function::FnOnce::call_once<fn() -> i32>",
        "std::function<int () -> int>::operator()",
        "std::unique_ptr<Foo>::operator->",
        "Foo::operator->*(int)",
        "x::{{closure}}<fn(u8) -> [u8; 4]>",
        "plain",
    ] {
        assert_eq!(parts(one), [one]);
    }
    // an arrow after a closed type still splits; unbalanced closers do not go below depth 0
    assert_eq!(parts("a<fn() -> i32>->b"), ["a<fn() -> i32>", "b"]);
    assert_eq!(parts("a)]>->b"), ["a)]>", "b"]);
    assert_eq!(parts("std::operator<< <char>->b"), ["std::operator<< <char>", "b"]);
}

#[test]
fn arrow_in_a_type_is_one_frame() {
    let s = "rustc 7 1.0: 3 cycles: \n\t    55d0c3a1b2c4 std::sync::once_lock::OnceLock<T>::initialize::{{closure}}<fn() -> alloc::boxed::Box<dyn core::any::Any + core::marker::Send>>+0x24 (/usr/bin/rustc)\n\t    55d0c3a1b2c5 core::ops::function::FnOnce::call_once<fn() -> i32, fn(u8)>+0x1 (/usr/bin/rustc)\n\t ff Ljava/A;::a->Ljava/B;::b+0x0 (/tmp/perf-7.map)\n\n";
    assert_eq!(
        text(&run(s, &Options::default(), 1)),
        "rustc;Ljava/A:::a;Ljava/B:::b_[i];core::ops::function::FnOnce::call_once<fn() -> i32, fn(u8)>;std::sync::once_lock::OnceLock<T>::initialize::{{closure}}<fn() -> alloc::boxed::Box<dyn core::any::Any + core::marker::Send>> 3\n"
    );
}

#[test]
fn exited_tasks_fold_under_one_process() {
    let s = ":-1    -1 [000]   719.403207: 500250 cpu-clock:ppp: \n\tff f (/m)\n\n:-1    -1 [001]   847.938387: 500250 cpu-clock:ppp: \n\tff f (/m)\n\n:-1 -1/-1 [002] 900.1: 3 cpu-clock:ppp: \n\tff f (/m)\n\n";
    assert_eq!(text(&run(s, &Options::default(), 1)), ":-1;f 1000503\n");
    assert_eq!(text(&run(s, &Options { pid: true, ..Default::default() }, 1)), ":-1--1;f 3\n:-1-?;f 1000500\n");
    assert_eq!(text(&run(s, &Options { tid: true, ..Default::default() }, 1)), ":-1--1/-1;f 3\n:-1-?/-1;f 1000500\n");
}

#[test]
fn srcline_header_is_never_eaten_as_a_source_line() {
    // an inline chain of 3 parts wants 3 source lines; the capture gives none
    let one = "java 1  1.0:   10 cpu-clock: \n\t    7f a->b->c+0xbf (/tmp/perf-1.map)";
    let twice = format!("{one}\n{one}\n");
    let o = Options { srcline: true, ..Default::default() };
    for t in [1, 2, 3] {
        let c = run(&twice, &o, t);
        assert_eq!(c.folded.iter().map(|(_, n)| n).sum::<u64>(), 20, "threads {t}");
    }
}

#[test]
fn last_sample_counts_without_blank_line() {
    assert_eq!(text(&run(TWO, &Options::default(), 1)), "a;main;f 5\na;main;g 7\n");
}

#[test]
fn crlf_same_as_lf() {
    let crlf = TWO.replace('\n', "\r\n");
    assert_eq!(text(&run(&crlf, &Options::default(), 1)), text(&run(TWO, &Options::default(), 1)));
}

#[test]
fn bad_line_warns_and_rest_counts() {
    let s = "a 1 1.0: 5 cycles: \n\tff f (/m)\n\tBROKEN\n\tff main (/m)\n";
    let c = run(s, &Options::default(), 1);
    assert_eq!(text(&c), "a;main;f 5\n");
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].line, 3);
}

#[test]
fn tracepoints_are_filtered_by_name() {
    let s = "p 1 [0] 1.0: sched:sched_switch: prev_comm=a ==> next_comm=b\n\tff s (/m)\n\np 1 [0] 2.0: block:block_rq_insert: 8,0 W 4096 () 1 + 8 [p]\n\tff b (/m)\n\n";
    let c = run(s, &Options::default(), 1);
    assert_eq!(text(&c), "p;s 1\n");
    assert!(c.warnings.iter().any(|w| w.msg.contains("Filtering for events of type: sched:sched_switch")));
    let o = Options { event_filter: Some(b"block:block_rq_insert".to_vec()), ..Default::default() };
    assert_eq!(text(&run(s, &o, 1)), "p;b 1\n");
}

#[test]
fn event_modifiers() {
    assert_eq!(event_base(b"cycles:u"), b"cycles");
    assert_eq!(event_base(b"cpu-clock:uhH"), b"cpu-clock");
    assert_eq!(event_base(b"sched:sched_switch"), b"sched:sched_switch");
    assert!(same_event(b"cycles:u", b"cycles", false) && same_event(b"cycles:u", b"cycles", true));
    assert!(!same_event(b"cycles", b"cycles:u", true) && !same_event(b"instructions", b"cycles", false));
}

#[test]
fn threads_give_same_bytes() {
    let mut s = String::new();
    for i in 0..20000 {
        s.push_str(&format!("c{} {} 1.0: {} cycles: \n\tff f{} (/m)\n\tff main (/m)\n\n", i % 3, i, i % 7, i % 13));
    }
    let one = run(&s, &Options::default(), 1).folded;
    for t in [2, 3, 8] {
        assert_eq!(run(&s, &Options::default(), t).folded, one);
        let c = collapse_read(s.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
        assert_eq!(c.folded, one);
    }
}

fn outcome(r: Result<Collapsed>) -> std::result::Result<(Vec<u8>, Vec<String>), String> {
    r.map(|c| (c.folded.to_text(), c.warnings.iter().map(|w| w.to_string()).collect())).map_err(|e| e.to_string())
}

#[test]
fn header_cut_at_end_of_input() {
    for input in ["a 1 1.0: 5 cycles:", "a 1 1.0: 5 cycles:\n", "a 1 1.0: 5 cycles: ", "a 1 1.0: 5 cycles:\r", "a 1 1.0: 5 cycles:\n\tff f (/m)"] {
        for t in [1, 2, 3] {
            let c = collapse_slice(input.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
            assert_eq!(c.folded.total(), 5, "{input:?}");
            let c = collapse_read(input.as_bytes(), &Options::default(), t, &|_| Ok(())).unwrap();
            assert_eq!(c.folded.total(), 5, "{input:?}");
        }
    }
}

/// A callchain block holding an indented header with a frame (perf without callchains) is
/// two samples: caching it as one lost the second sample of its second copy.
#[test]
fn block_cache_never_spans_a_header() {
    let one = "a 1 1.0: 5 cycles:\n\tff f (/m)\n    b 2 2.0: 7 cycles:  ff g (/m)\n\tff h (/m)\n\n";
    let two = one.repeat(2);
    let c = run(&two, &Options::default(), 1);
    assert_eq!(c.folded.total(), 24);
    assert_eq!(text(&c), "a;f 10\nb;h;g 14\n");
    let many = one.repeat(50);
    assert_eq!(run(&many, &Options::default(), 1).folded.total(), 600);
    // a comment, a blank-looking line, CRLF, inside repeated blocks: replay == parse
    for block in ["\tff f (/m)\n# c\n\tff g (/m)\n", "\tff f (/m)\n \t\n\tff g (/m)\n", "\tff f (/m)\r\n\tff g (/m)\r\n", "\tff f (/m)\nBAD\n\tff g (/m)\n"] {
        let s = format!("a 1 1.0: 5 cycles:\n{block}\n").repeat(5);
        NO_BLOCKS.with(|c| c.set(true));
        let parsed = text(&run(&s, &Options::default(), 1));
        NO_BLOCKS.with(|c| c.set(false));
        assert_eq!(text(&run(&s, &Options::default(), 1)), parsed, "{block:?}");
    }
}

/// The same text as a frame on a header line and as an indented line: the first is a frame,
/// the second a header (perf without callchains), whatever the line cache saw first.
#[test]
fn indented_header_after_same_text_as_trailer() {
    let s = "x 1 1.0: 1 cycles:  b 2 2.0: 7 cycles:  ff g (/m)\n\n    b 2 2.0: 7 cycles:  ff g (/m)\n\n";
    let c = run(s, &Options::default(), 1);
    assert_eq!(text(&c), "b;g 7\nx;2 2.0: 7 cycles:  ff g 1\n");
    for chunk in [1, 10, 100] {
        for t in [1, 2, 3] {
            let c = collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk).unwrap();
            assert_eq!(text(&c), "b;g 7\nx;2 2.0: 7 cycles:  ff g 1\n");
        }
    }
}

#[test]
fn counts_overflow_is_an_error() {
    let max = u64::MAX;
    let s = format!("a 1 1.0: {max} cycles:\n\tff f (/m)\n\na 1 1.0: 1 cycles:\n\tff f (/m)\n\n");
    for t in [1, 2, 3] {
        // chunks of one sample each: the sum overflows in the merge of the workers
        let e = collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), 1).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
        let e = collapse_read_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), 1).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
    }
}

#[test]
fn long_line_is_an_error_naming_it() {
    let mut s = b"a 1 1.0: 5 cycles:\n\tff f (/m)\n\n".repeat(3);
    s.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
    s.extend_from_slice(b"\na 1 1.0: 5 cycles:\n\tff f (/m)\n\n");
    for t in [1, 2, 3] {
        for chunk in [7, 1000, CHUNK] {
            let e = collapse_slice_sized(&s, &Options::default(), t, &|_| Ok(()), chunk).unwrap_err();
            assert_eq!(e.to_string(), "line 10: line longer than 1 MiB (is this a perf script capture?)");
            let e = collapse_read_sized(&s[..], &Options::default(), t, &|_| Ok(()), chunk).unwrap_err();
            assert_eq!(e.to_string(), "line 10: line longer than 1 MiB (is this a perf script capture?)");
        }
    }
    // no line end at all: the reading stops after about a chunk and the limit
    let zeros = std::io::repeat(0).take(1 << 40);
    let e = collapse_read(zeros, &Options::default(), 2, &|b| {
        assert!(b <= (CHUNK + MAX_LINE) as u64 * 2);
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "line 1: line longer than 1 MiB (is this a perf script capture?)");
}

/// Old perf: frames unindented, no blank lines. Streamed or in memory, any chunking and any
/// thread count give the same stacks.
#[test]
fn unindented_frames_without_blank_lines() {
    let mut s = String::new();
    for i in 0..3000 {
        s.push_str(&format!("c{} {} 1.0: {} cycles:\nff f{} (/m)\nff g (/m)\nff main (/m)\n", i % 3, i, i % 7 + 1, i % 13));
    }
    let want = outcome(collapse_slice_sized(s.as_bytes(), &Options::default(), 1, &|_| Ok(()), usize::MAX));
    assert!(want.as_ref().unwrap().0.starts_with(b"c0;main;g;f0 "));
    for t in [1, 2, 3] {
        for chunk in [10, 333, 4096] {
            assert_eq!(outcome(collapse_read_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk)), want, "read t={t} chunk={chunk}");
            assert_eq!(outcome(collapse_slice_sized(s.as_bytes(), &Options::default(), t, &|_| Ok(()), chunk)), want, "slice t={t} chunk={chunk}");
        }
    }
}

/// `--srcline`: a blank line read as a frame's source line is no sample end.
#[test]
fn srcline_blank_source_line_at_any_cut() {
    let o = Options { srcline: true, ..Default::default() };
    let sample = "a 1 1.0: 1 cycles:\n\tff f (/m)\n\n\tff g (/m)\n  g.c:3\n\n";
    let s = sample.repeat(500);
    let want = outcome(collapse_slice_sized(s.as_bytes(), &o, 1, &|_| Ok(()), usize::MAX));
    assert_eq!(want.as_ref().unwrap().0, b"a;g:g.c:3;f 500\n");
    for t in [1, 2, 3, 8] {
        for chunk in [5, 64, 1000] {
            assert_eq!(outcome(collapse_read_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk)), want, "read t={t} chunk={chunk}");
            assert_eq!(outcome(collapse_slice_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk)), want, "slice t={t} chunk={chunk}");
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/collapse/inputs");
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            crate::input::source::decoding(std::fs::File::open(p).unwrap()).unwrap().read_to_end(&mut v).unwrap();
            v
        })
        .collect()
}

fn mutate(rng: &mut Rng, d: &[u8]) -> Vec<u8> {
    let mut v = d.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = v.len();
        match rng.below(9) {
            0 => v.truncate(rng.below(n + 1)),
            1 if n > 0 => {
                let i = rng.below(n);
                v[i] ^= 1 << rng.below(8);
            }
            2 if n > 0 => {
                let i = rng.below(n);
                v[i] = *b"\n\t \r#:/0(" .get(rng.below(9)).unwrap();
            }
            3 => v.retain(|&b| b != b'\t'), // unindented frames
            4 => {
                // no blank lines
                let mut out = Vec::with_capacity(n);
                for (i, &b) in v.iter().enumerate() {
                    if !(b == b'\n' && i > 0 && v[i - 1] == b'\n') {
                        out.push(b);
                    }
                }
                v = out;
            }
            5 if n > 0 => {
                let (a, b) = (rng.below(n), rng.below(n));
                let (a, b) = (a.min(b), a.max(b));
                let piece = v[a..b.min(a + 5000)].to_vec();
                let at = rng.below(n);
                v.splice(at..at, piece);
            }
            6 => v = v.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect(),
            7 if n > 0 => {
                let i = rng.below(n);
                v.splice(i..i, b"    b 2 2.0: 7 cycles:  ff g (/m)\n".iter().copied());
            }
            _ => {
                let extra = v.clone();
                v.extend_from_slice(&extra);
            }
        }
    }
    v
}

/// Mutated corpus captures through every path: never a panic, and streamed, sliced, at 1 to 3
/// threads, in chunks of any size, the same result as one chunk on one thread, which is the
/// result with no block cache (every line parsed). Set
/// FLAMEFOLD_MUTATIONS for a longer run.
#[test]
fn mutated_corpus_same_everywhere() {
    let rounds: usize = std::env::var("FLAMEFOLD_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("FLAMEFOLD_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e3779b97f4a7c15);
    let corpus = corpus();
    let mut rng = Rng(seed);
    let all_opts = [
        Options::default(),
        Options { srcline: true, ..Default::default() },
        Options { tid: true, kernel: true, jit: true, addrs: true, ..Default::default() },
        Options { event_filter: Some(b"cycles".to_vec()), ..Default::default() },
    ];
    for round in 0..rounds {
        let d = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, d);
        let o = &all_opts[rng.below(all_opts.len())];
        let chunk = [1, 50, 700, 5000, 1 << 16][rng.below(5)];
        let res = std::panic::catch_unwind(|| {
            NO_BLOCKS.with(|c| c.set(true));
            let parsed = outcome(collapse_slice_sized(&m, o, 1, &|_| Ok(()), usize::MAX));
            NO_BLOCKS.with(|c| c.set(false));
            let want = outcome(collapse_slice_sized(&m, o, 1, &|_| Ok(()), usize::MAX));
            assert!(parsed == want, "the block cache changed the result");
            for t in 1..=3 {
                let got = outcome(collapse_read_sized(&m[..], o, t, &|_| Ok(()), chunk));
                assert!(got == want, "read t={t} chunk={chunk}: {:?}", got.as_ref().err());
                let got = outcome(collapse_slice_sized(&m, o, t, &|_| Ok(()), chunk));
                assert!(got == want, "slice t={t} chunk={chunk}: {:?}", got.as_ref().err());
            }
        });
        if res.is_err() {
            let path = std::env::temp_dir().join(format!("flamefold-mutant-{round}.txt"));
            std::fs::write(&path, &m).unwrap();
            panic!("round {round} ({o:?}, chunk {chunk}): input saved to {}", path.display());
        }
    }
}

/// The frame line cache keys on the symbol without its offset: `ffff 1234 (m) 1.0: cycles:`
/// (indented) is a header (comm `ffff`, pid 1234), `ffff 1234+0x1 (m) 1.0: cycles:` a frame,
/// whichever the cache saw first.
#[test]
fn offset_decides_an_indented_header() {
    let frame = "\tffff 1234+0x1 (/m) 1.0: cycles:\n";
    let header = "\tffff 1234 (/m) 1.0: cycles:\n";
    for (a, b) in [(frame, header), (header, frame)] {
        let s = format!("p 1 1.0: 1 cycles:\n{a}{b}\tff main (/m)\n\n");
        NO_BLOCKS.with(|c| c.set(true));
        let want = outcome(collapse_slice(s.as_bytes(), &Options::default(), 1, &|_| Ok(())));
        NO_BLOCKS.with(|c| c.set(false));
        assert_eq!(outcome(collapse_slice(s.as_bytes(), &Options::default(), 1, &|_| Ok(()))), want, "{s:?}");
    }
}

/// The line memo holds whole lines with the java flag: the same perf frame lines under a java
/// process and under others give each their own names, in any order, as without the caches.
#[test]
fn line_memo_keeps_java_apart() {
    let lines = "\t    7f0011223344 Lcom/x/Foo;::bar (/tmp/perf-1.map)\n\t    7f0011223345 [unknown] (/tmp/perf-1.map)\n\tffffffff81000000 do_syscall_64+0x10 ([kernel.kallsyms])\n";
    let mut s = String::new();
    for (i, comm) in ["java", "python", "java", "node", "java", "python"].iter().enumerate() {
        s += &format!("{comm} {i} 1.0: 1 cycles:\n{lines}\n");
    }
    for o in [Options::default(), Options { jit: true, ..Default::default() }, Options { addrs: true, kernel: true, ..Default::default() }] {
        NO_BLOCKS.with(|c| c.set(true));
        let want = text(&run(&s, &o, 1));
        NO_BLOCKS.with(|c| c.set(false));
        for t in [1, 2] {
            assert_eq!(text(&run(&s, &o, t)), want, "{o:?}");
        }
        // the java rules name these frames differently: the test would see a mix-up
        let java: Vec<&str> = want.lines().filter(|l| l.starts_with("java")).collect();
        let python: Vec<&str> = want.lines().filter(|l| l.starts_with("python")).collect();
        assert_ne!(java[0].trim_start_matches("java"), python[0].trim_start_matches("python"), "{want}");
    }
}

/// The inline newline search finds what memchr finds, at every length and position.
#[test]
fn newline_search_agrees() {
    let mut buf = vec![b'x'; 700];
    for len in 0..buf.len() {
        for at in [None, Some(0), Some(1), Some(15), Some(16), Some(17), Some(255), Some(256), Some(300), Some(len.saturating_sub(1))] {
            buf.iter_mut().for_each(|b| *b = b'x');
            if let Some(a) = at.filter(|&a| a < len) {
                buf[a] = b'\n';
                if a + 40 < len {
                    buf[a + 40] = b'\n';
                }
            }
            let s = &buf[..len];
            assert_eq!(super::newline(s), memchr::memchr(b'\n', s), "len {len} at {at:?}");
        }
    }
}

/// Headers that repeat but for their cpu and time (read from the header memo): each sample
/// still gets its own process, event and count, and a period too large for 64 bits is warned
/// about at every sample that has it, not only the first.
#[test]
fn repeated_headers_give_each_sample_its_own_start() {
    let sample = |comm: &str, cpu: u32, t: u32, period: &str, event: &str, f: &str| format!("{comm} 1/1 [00{cpu}] {t}.0: {period} {event}: \n\tff {f} (/m)\n\n");
    let mut s = String::new();
    for t in 0..3 {
        s.push_str(&sample("a", 0, t, "99999999999999999999999", "cycles", "f"));
        s.push_str(&sample("b b", 1, t, "5", "cycles", "g"));
        s.push_str(&sample("b b", 1, t, "7", "cycles", "g"));
        s.push_str(&sample("a", 0, t, "3", "instructions", "h"));
    }
    for threads in [1, 2] {
        let o = Options { event_filter: Some(b"cycles".to_vec()), ..Options::default() };
        let c = run(&s, &o, threads);
        assert_eq!(text(&c), "a;f 3\nb_b;g 36\n", "{threads} threads");
        let lines: Vec<u64> = c.warnings.iter().filter(|w| w.msg.contains("does not fit in 64 bits")).map(|w| w.line).collect();
        assert_eq!(lines, [1, 13, 25], "{threads} threads");
    }
}
