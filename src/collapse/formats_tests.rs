//! Tests of the DTrace and jstack formats against the Perl scripts' outputs in `tests/data/dtrace`
//! and `tests/data/jstack` (see the `SOURCES.md` there), read whole and cut into chunks at line
//! boundaries, plus the format guessers.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::collapse::dtrace::{self, Dtrace};
use crate::collapse::jstack::{self, Jstack};
use crate::collapse::{collapse_in_order, folded_text, Collapser, Format, Sink};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// A test file, unpacked when it ends in `.gz`.
fn read(rel: &str) -> Vec<u8> {
    let path = data(rel);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if rel.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

fn whole<F: Format>(format: &F, input: &[u8]) -> Vec<u8> {
    folded_text(&collapse_in_order(format, input).unwrap().sink)
}

/// Reads `input` as the in-order driver would with chunks ending at `cuts` (byte offsets, each
/// just after a `\n`, increasing): one collapser, `fresh` for the first chunk only.
fn chunked<F: Format>(format: &F, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut c = format.collapser();
    let mut sink = Sink::new();
    let mut start = 0;
    for (i, &end) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        sink.chunk = i;
        c.chunk(&input[start..end], i == 0, &mut sink);
        start = end;
    }
    c.end(&mut sink);
    assert!(sink.error.is_none());
    folded_text(&sink)
}

/// The offsets just after each `\n` but the last byte.
fn line_starts(input: &[u8]) -> Vec<usize> {
    memchr::memchr_iter(b'\n', input).map(|i| i + 1).filter(|&i| i < input.len()).collect()
}

/// Cuts at line boundaries about every `size` bytes.
fn cuts_every(input: &[u8], size: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut last = 0;
    for s in line_starts(input) {
        if s - last >= size {
            cuts.push(s);
            last = s;
        }
    }
    cuts
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whole, chunked at every line (and every pair of lines, for small inputs), and in chunks of
/// several sizes: always `expected`.
fn check<F: Format>(format: &F, input_rel: &str, expected_rel: &str) {
    let input = read(input_rel);
    let expected = read(expected_rel);
    let got = whole(format, &input);
    assert!(got == expected, "{input_rel} -> {expected_rel}:\n--- got\n{}--- expected\n{}", show(&got), show(&expected));
    let starts = line_starts(&input);
    if starts.len() <= 120 {
        for (i, &a) in starts.iter().enumerate() {
            assert!(chunked(format, &input, &[a]) == expected, "{input_rel}: cut at byte {a}");
            for &b in &starts[i + 1..] {
                assert!(chunked(format, &input, &[a, b]) == expected, "{input_rel}: cut at bytes {a}, {b}");
            }
        }
    } else {
        let step = starts.len() / 12 + 1;
        for &a in starts.iter().step_by(step) {
            assert!(chunked(format, &input, &[a]) == expected, "{input_rel}: cut at byte {a}");
        }
    }
    for size in [1, 100, 4096, 1 << 16] {
        assert!(chunked(format, &input, &cuts_every(&input, size)) == expected, "{input_rel}: chunks of {size} bytes");
    }
}

const DTRACE_INPUTS: &[&str] = &[
    "edge-cases.txt",
    "example-dtrace-stacks.txt.gz",
    "inferno-flamegraph-bug.txt",
    "inferno-hex-addresses.txt",
    "inferno-java.txt",
    "inferno-only-header-lines.txt",
    "inferno-rust-names.txt",
    "inferno-scope_with_no_argument_list.txt",
    "inferno-stack-ustack.txt",
];

#[test]
fn dtrace_matches_stackcollapse_pl() {
    for input in DTRACE_INPUTS {
        let (stem, gz) = match input.strip_suffix(".gz") {
            Some(s) => (s.strip_suffix(".txt").unwrap(), ".gz"),
            None => (input.strip_suffix(".txt").unwrap(), ""),
        };
        for (format, suffix) in [(Dtrace::default(), ""), (Dtrace { includeoffset: true }, "-offsets")] {
            check(&format, &format!("dtrace/inputs/{input}"), &format!("dtrace/expected/{stem}{suffix}.txt{gz}"));
        }
    }
}

/// The folded text of `input` and its warnings (line, message).
fn run<F: Format>(format: &F, input: &[u8]) -> (String, Vec<(u64, String)>) {
    let c = collapse_in_order(format, input).unwrap();
    (show(&folded_text(&c.sink)), c.warnings.into_iter().map(|w| (w.line, w.msg)).collect())
}

#[test]
fn dtrace_warns_and_goes_on() {
    let input = b"h1\nh2\nh3\n a`f+0x1\n 99999999999999999999999\n b`g+0x2\n 2\n c`h\n";
    let (folded, w) = run(&Dtrace::default(), input);
    assert_eq!(folded, "b`g 2\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0].0, 5);
    assert!(w[0].1.contains("99999999999999999999999") && w[0].1.contains("too large"), "{w:?}");
    assert!(w[1].1.contains("ended inside a stack") && w[1].1.contains("1 frames"), "{w:?}");
    let (_, w) = run(&Dtrace::default(), b"CPU ID FUNCTION:NAME\n 0 1 :tick\n");
    assert!(w.len() == 1 && w[0].1.contains("only 2 lines"), "{w:?}");
    assert!(run(&Dtrace::default(), b"").1.is_empty());
}

/// `\n` line ends made `\r\n`.
fn to_crlf(lf: &[u8]) -> Vec<u8> {
    lf.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect()
}

#[test]
fn dtrace_crlf_reads_as_lf() {
    let crlf = to_crlf(&read("dtrace/inputs/inferno-stack-ustack.txt"));
    assert_eq!(whole(&Dtrace::default(), &crlf), read("dtrace/expected/inferno-stack-ustack.txt"));
}

const JSTACK_INPUTS: &[&str] = &["edge-cases", "java17-5-dumps", "java17-2-dumps-l"];

#[test]
fn jstack_matches_stackcollapse_jstack_pl() {
    let options = [
        ("", Jstack::default()),
        ("--include-tid", Jstack { include_tid: true, ..Jstack::default() }),
        ("--shorten-pkgs", Jstack { shorten_pkgs: true, ..Jstack::default() }),
        ("--no-include-tname", Jstack { include_tname: false, ..Jstack::default() }),
        ("--no-include-tname--shorten-pkgs", Jstack { include_tname: false, shorten_pkgs: true, ..Jstack::default() }),
        ("--include-tid--shorten-pkgs", Jstack { include_tid: true, shorten_pkgs: true, ..Jstack::default() }),
    ];
    for input in JSTACK_INPUTS {
        for (suffix, format) in &options {
            check(format, &format!("jstack/inputs/{input}.txt"), &format!("jstack/expected/{input}{suffix}.txt"));
        }
    }
}

#[test]
fn jstack_defaults_are_the_perls() {
    let j = Jstack::default();
    assert!(j.include_tname && !j.include_tid && !j.shorten_pkgs);
}

#[test]
fn jstack_warns_on_unrecognized_lines_and_goes_on() {
    let input = b"\"t-1\" #1\n   java.lang.Thread.State: RUNNABLE\n\tat a.B.c(B.java:1)\nwhat is this\n\tat a.B.d(B.java:2)\n\n\"u\"\n   java.lang.Thread.State: RUNNABLE\n\tat a.B.e(B.java:3)\n";
    let (folded, w) = run(&Jstack::default(), input);
    assert_eq!(folded, "t;a.B.d;a.B.c 1\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0], (4, "unrecognized line: what is this".to_string()));
    assert!(w[1].1.contains("ended inside a thread"), "{w:?}");
}

#[test]
fn jstack_real_dumps_give_no_warnings() {
    for input in ["java17-5-dumps", "java17-2-dumps-l"] {
        let (_, w) = run(&Jstack::default(), &read(&format!("jstack/inputs/{input}.txt")));
        assert!(w.is_empty(), "{input}: {w:?}");
    }
}

#[test]
fn jstack_crlf_reads_as_lf() {
    let crlf = to_crlf(&read("jstack/inputs/java17-5-dumps.txt"));
    assert_eq!(whole(&Jstack::default(), &crlf), read("jstack/expected/java17-5-dumps.txt"));
}

/// The first `n` lines of `input`.
fn head(input: &[u8], n: usize) -> &[u8] {
    let end = memchr::memchr_iter(b'\n', input).nth(n - 1).map_or(input.len(), |i| i + 1);
    &input[..end]
}

#[test]
fn looks_like_tells_the_formats_apart() {
    for input in DTRACE_INPUTS {
        let text = read(&format!("dtrace/inputs/{input}"));
        for n in [10, 50] {
            let h = head(&text, n);
            let got = dtrace::looks_like(h);
            if input.contains("only-header") {
                assert_eq!(got, None, "dtrace {input} ({n} lines)");
            } else if n == 10 {
                assert_ne!(got, Some(false), "dtrace {input} ({n} lines)"); // may hold no count line yet
            } else {
                assert_eq!(got, Some(true), "dtrace {input} ({n} lines)");
            }
            assert_ne!(jstack::looks_like(h), Some(true), "dtrace {input} ({n} lines) as jstack");
        }
    }
    for input in JSTACK_INPUTS {
        let text = read(&format!("jstack/inputs/{input}.txt"));
        for n in [10, 50] {
            let h = head(&text, n);
            assert_eq!(jstack::looks_like(h), Some(true), "jstack {input} ({n} lines)");
            assert_eq!(dtrace::looks_like(h), Some(false), "jstack {input} ({n} lines) as dtrace");
        }
    }
    // perf script text and folded stacks are neither.
    let mut others: Vec<String> = Vec::new();
    for dir in ["collapse/inputs", "collapse/expected", "flamegraph/inputs"] {
        for e in std::fs::read_dir(data(dir)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            others.push(format!("{dir}/{name}"));
        }
    }
    others.sort();
    assert!(others.len() > 20);
    for rel in &others {
        let text = read(rel);
        for n in [10, 50] {
            let h = head(&text, n);
            assert_ne!(dtrace::looks_like(h), Some(true), "{rel} ({n} lines) as dtrace");
            assert_ne!(jstack::looks_like(h), Some(true), "{rel} ({n} lines) as jstack");
        }
        if memchr::memchr_iter(b'\n', &text).count() >= 8 {
            assert_eq!(dtrace::looks_like(head(&text, 50)), Some(false), "{rel} as dtrace");
            assert_eq!(jstack::looks_like(head(&text, 50)), Some(false), "{rel} as jstack");
        }
    }
}

/// A deterministic generator for the differential test: SipHash (std's, fixed keys) of a seed
/// and a counter.
struct Rng {
    seed: u64,
    n: u64,
}

impl Rng {
    fn next(&mut self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (self.seed, self.n).hash(&mut h);
        self.n += 1;
        h.finish()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// `lo..=hi` pieces of `from` run together.
    fn run_of(&mut self, from: &[&str], lo: usize, hi: usize, out: &mut Vec<u8>) {
        for _ in 0..lo + self.below(hi - lo + 1) {
            let p = self.pick(from);
            out.extend_from_slice(p.as_bytes());
        }
    }
}

fn random_dtrace(r: &mut Rng) -> Vec<u8> {
    const PIECES: &[&str] = &[
        "a", "b", "mod`f", "`", "+0x1f", "+", "::", "(", "<", ">", ")", "->", "L", ";", " ", "\t", "-", "0", "7", "x", "\u{a0}", "_[i]",
    ];
    let mut out = Vec::new();
    for _ in 0..r.below(40) {
        match r.below(10) {
            0 => {}
            1 => r.run_of(&[" ", "\t", "\x0b", "\x0c"], 0, 2, &mut out),
            2 | 3 => {
                r.run_of(&[" ", "\t"], 0, 2, &mut out);
                out.extend_from_slice(r.below(1000).to_string().as_bytes());
            }
            _ => {
                r.run_of(&[" ", "\t", ""], 0, 3, &mut out);
                r.run_of(PIECES, 0, 7, &mut out);
            }
        }
        out.push(b'\n');
    }
    if r.below(4) == 0 {
        out.pop();
    }
    out
}

fn random_jstack(r: &mut Rng) -> Vec<u8> {
    const NAME: &[&str] = &["w", "-", "1", "9", ";", " ", "C2 CompilerThread0", "Signal Dispatcher", "Service Thread", "Attach Listener", "\"", "x"];
    const FUNC: &[&str] = &[
        "a", "b.", ".", "c_d", "$", ";", "(", " ", "\u{e9}", "Ab.", "x.", "y", "z.", "q1.", "m", "n", "o.", "p.", "k", "EPollXwait",
        "epollWait", "EPoll.wait", "socketAccept", "Socket", "accept0", "socketRead0",
    ];
    const STATE: &[&str] = &["RUNNABLE", "RUNNABLE", "RUNNABLE", "?", "WAITING (parking)", "", " RUNNABLE", "RUNNABLEx", "BLOCKED"];
    let mut out = Vec::new();
    for _ in 0..r.below(12) {
        // A thread: its line, its state, its frames, mostly in that order and well formed.
        let n = r.below(8);
        for i in 0..n + 2 {
            let kind = if r.below(5) > 0 { i.min(2) } else { r.below(6) };
            match kind {
                0 => {
                    out.push(b'"');
                    r.run_of(NAME, 0, 4, &mut out);
                    out.extend_from_slice(if r.below(4) > 0 { b"\" #1 prio=5" } else { b" tid=0x1" });
                }
                1 => {
                    out.extend_from_slice(r.pick(&["   ", "   ", "", "x", "\t"]).as_bytes());
                    out.extend_from_slice(r.pick(&["java.lang.Thread.State: ", "java.lang.Thread.State: ", "javaXlang.Thread.State: ", "java.lang.Thread.State:"]).as_bytes());
                    out.extend_from_slice(r.pick(STATE).as_bytes());
                }
                2 => {
                    out.extend_from_slice(r.pick(&["\tat ", "\tat ", "  at ", "at ", "\tat", "\u{a0}at "]).as_bytes());
                    // Mostly ordinary names: the idle ones rule a whole thread out.
                    let pieces = if r.below(3) == 0 { FUNC } else { &FUNC[..FUNC.len() - 6] };
                    r.run_of(pieces, 0, 6, &mut out);
                    if r.below(2) == 0 {
                        out.extend_from_slice(b"(X.java:1)");
                    }
                }
                3 => out.extend_from_slice(r.pick(&["\t- locked <0x1>", "2026-11-26 23:36:43", "Full thread dump x", "JNI global references: 1", "# c", "2x26-"]).as_bytes()),
                4 => r.run_of(&[" ", "\t"], 1, 2, &mut out),
                _ => r.run_of(FUNC, 0, 3, &mut out),
            }
            out.push(b'\n');
        }
        if r.below(6) > 0 {
            out.push(b'\n');
        }
    }
    out
}

/// Runs FlameGraph's Perl script `script` (in `$FLAMEGRAPH_DIR`) with `args` on `input`.
fn perl(script: &Path, args: &[&str], input: &[u8], tmp: &Path) -> Vec<u8> {
    std::fs::write(tmp, input).unwrap();
    let out = std::process::Command::new("perl").arg(script).args(args).arg(tmp).output().unwrap();
    assert!(out.status.success(), "perl {}: {}", script.display(), show(&out.stderr));
    out.stdout
}

/// Random inputs, read by the Perl scripts and by flamefold: the same output. Needs perl and a
/// FlameGraph checkout: `FLAMEGRAPH_DIR=/path/to/FlameGraph cargo test -- --ignored perl`
/// (`FLAMEFOLD_PERL_CASES=N`, default 300; `FLAMEFOLD_PERL_SEED=N`, default 1).
#[test]
#[ignore]
fn random_inputs_match_the_perl() {
    let Ok(dir) = std::env::var("FLAMEGRAPH_DIR") else {
        panic!("set FLAMEGRAPH_DIR to a FlameGraph checkout");
    };
    let dir = Path::new(&dir);
    let cases: usize = std::env::var("FLAMEFOLD_PERL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let tmp = std::env::temp_dir().join(format!("flamefold-perl-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // stackcollapse.pl has no option for includeoffset: a copy with it set.
    let src = std::fs::read_to_string(dir.join("stackcollapse.pl")).unwrap();
    let with_offsets = src.replacen("my $includeoffset = 0;", "my $includeoffset = 1;", 1);
    assert_ne!(src, with_offsets);
    let offsets_pl = tmp.join("stackcollapse-offsets.pl");
    std::fs::write(&offsets_pl, with_offsets).unwrap();
    let input = tmp.join("input.txt");
    let seed: u64 = std::env::var("FLAMEFOLD_PERL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut r = Rng { seed, n: 0 };
    let (mut dtrace_lines, mut jstack_lines) = (0, 0);
    for case in 0..cases {
        let text = random_dtrace(&mut r);
        for (format, script) in [(Dtrace::default(), dir.join("stackcollapse.pl")), (Dtrace { includeoffset: true }, offsets_pl.clone())] {
            let want = perl(&script, &[], &text, &input);
            let got = whole(&format, &text);
            dtrace_lines += memchr::memchr_iter(b'\n', &want).count();
            assert!(got == want, "dtrace case {case} {format:?}:\n{}\n--- got\n{}--- perl\n{}", show(&text), show(&got), show(&want));
        }
        let text = random_jstack(&mut r);
        let (tname, tid, short) = (r.below(4) > 0, r.below(2) == 0, r.below(2) == 0);
        let format = Jstack { include_tname: tname, include_tid: tid, shorten_pkgs: short };
        let args: Vec<&str> = [(tname, "--include-tname", "--no-include-tname"), (tid, "--include-tid", "--no-include-tid"), (short, "--shorten-pkgs", "--no-shorten-pkgs")]
            .iter()
            .map(|&(on, y, n)| if on { y } else { n })
            .collect();
        let want = perl(&dir.join("stackcollapse-jstack.pl"), &args, &text, &input);
        let got = whole(&format, &text);
        jstack_lines += memchr::memchr_iter(b'\n', &want).count();
        assert!(got == want, "jstack case {case} {format:?}:\n{}\n--- got\n{}--- perl\n{}", show(&text), show(&got), show(&want));
    }
    std::fs::remove_dir_all(&tmp).unwrap();
    // The cases are not all empty: most give stacks.
    eprintln!("{cases} cases: {dtrace_lines} DTrace and {jstack_lines} jstack output lines");
    assert!(dtrace_lines > cases && jstack_lines > cases / 2, "{dtrace_lines} {jstack_lines}");
}

/// Random inputs, whole and cut at random line boundaries: the same output, and no panic.
#[test]
fn random_inputs_read_the_same_in_chunks() {
    let mut r = Rng { seed: 11, n: 0 };
    let jstacks = [Jstack::default(), Jstack { include_tname: false, include_tid: true, shorten_pkgs: true }];
    for _ in 0..300 {
        let d = random_dtrace(&mut r);
        let j = random_jstack(&mut r);
        let (dc, jc) = (random_cuts(&mut r, &d), random_cuts(&mut r, &j));
        for format in [Dtrace::default(), Dtrace { includeoffset: true }] {
            assert!(whole(&format, &d) == chunked(&format, &d, &dc), "{}\n{dc:?}", show(&d));
        }
        for format in &jstacks {
            assert!(whole(format, &j) == chunked(format, &j, &jc), "{}\n{jc:?}", show(&j));
        }
        // Bytes of any kind.
        let mut raw = Vec::new();
        r.run_of(&["\n", "\n", "\r", " ", "\t", "\"", "`", "+", "::", "(", "<", "->", "L", ";", ".", "at ", "9", "-", "\u{85}", "\u{ff}", "\0"], 0, 300, &mut raw);
        let cuts = random_cuts(&mut r, &raw);
        assert!(whole(&Dtrace::default(), &raw) == chunked(&Dtrace::default(), &raw, &cuts));
        assert!(whole(&Jstack::default(), &raw) == chunked(&Jstack::default(), &raw, &cuts));
        let _ = (dtrace::looks_like(&raw), jstack::looks_like(&raw));
    }
}

/// Up to three cuts at line boundaries of `input`, in order.
fn random_cuts(r: &mut Rng, input: &[u8]) -> Vec<usize> {
    let starts = line_starts(input);
    if starts.is_empty() {
        return Vec::new();
    }
    let mut cuts: Vec<usize> = (0..r.below(4)).map(|_| starts[r.below(starts.len())]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}
