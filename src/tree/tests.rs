use super::*;

fn build(text: &str, opts: TreeOptions, min: MinWidth) -> Frames {
    let mut b = TreeBuilder::new(opts);
    b.read_slice(text.as_bytes());
    b.finish(min, None).unwrap()
}

const ALL: MinWidth = MinWidth::Percent(0.0);

/// (depth, name, start, width) rows.
fn rows(f: &Frames) -> Vec<(u32, String, f64, f64)> {
    (0..f.depth.len()).map(|i| (f.depth[i], String::from_utf8_lossy(&f.names[f.name[i] as usize]).into_owned(), f.start[i], f.width[i])).collect()
}

#[test]
fn differential_frames_know_both_counts() {
    let f = build("a;b 3 5\na;c 4 1\na 2 2\n", TreeOptions::default(), ALL);
    let got: Vec<_> = (0..f.depth.len()).map(|i| (String::from_utf8_lossy(&f.names[f.name[i] as usize]).into_owned(), f.before[i], f.width[i])).collect();
    assert_eq!(got, vec![("".into(), 9.0, 8.0), ("a".into(), 9.0, 8.0), ("b".into(), 3.0, 5.0), ("c".into(), 4.0, 1.0)]);
}

#[test]
fn line_grammar() {
    const S: u128 = SCALE;
    assert_eq!(parse_line(b"a;b 5"), Ok((&b"a;b"[..], None, 5 * S)));
    assert_eq!(parse_line(b"a;b 31.5 2."), Ok((&b"a;b"[..], Some(31 * S + S / 2), 2 * S)));
    assert_eq!(parse_line(b"a;b\t7"), Ok((&b"a;b"[..], None, 7 * S)));
    assert_eq!(parse_line(b" 5"), Ok((&b""[..], None, 5 * S)));
    assert_eq!(parse_line(b"a;b  5"), Ok((&b"a;b "[..], None, 5 * S)));
    assert_eq!(parse_line(b"a;b .5"), Ok((&b"a;b"[..], None, S / 2)));
    for bad in [&b"a;b"[..], b"a;b5", b"a;b 1.2.3", b"a;b -1", b"5", b"a;b 18446744073709551616"] {
        assert!(parse_line(bad).is_err());
    }
}

#[test]
fn merges_into_a_tree_in_byte_order() {
    // flamegraph.pl would split `foo` in two here (`foo2` sorts between `foo` and `foo;x`)
    let f = build("main;foo;x 5\nmain;foo2 3\nmain;foo 1\n", TreeOptions::default(), ALL);
    assert_eq!(
        rows(&f),
        vec![
            (0, "".into(), 0.0, 9.0),
            (1, "main".into(), 0.0, 9.0),
            (2, "foo".into(), 0.0, 6.0),
            (3, "x".into(), 1.0, 5.0),
            (2, "foo2".into(), 6.0, 3.0),
        ]
    );
    assert_eq!(f.total, 9.0);
}

#[test]
fn same_tree_whatever_the_line_order() {
    let text = "a;b;c 1\na;b 2\nx 3\na;b;d 4\n;a 1\na 7\na;b;c 2\n";
    let mut lines: Vec<&str> = text.lines().collect();
    let f1 = build(text, TreeOptions::default(), ALL);
    lines.sort();
    let f2 = build(&(lines.join("\n") + "\n"), TreeOptions::default(), ALL);
    lines.reverse();
    let f3 = build(&lines.join("\n"), TreeOptions::default(), ALL);
    assert_eq!(rows(&f1), rows(&f2));
    assert_eq!(rows(&f1), rows(&f3));
    let names: Vec<_> = rows(&f1).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(names[1], (1, "".to_string())); // `;a`: an empty first frame
}

#[test]
fn prefix_reuse_is_exact() {
    // names that extend each other across the `;` boundary
    let f = build("ab;c 1\nab 1\na;bc 1\na;b;c 1\nab;c;d 1\nab;cd 1\n", TreeOptions::default(), ALL);
    let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1, r.3)).collect();
    assert_eq!(
        r,
        vec![
            (0, "".into(), 6.0),
            (1, "a".into(), 2.0),
            (2, "b".into(), 1.0),
            (3, "c".into(), 1.0),
            (2, "bc".into(), 1.0),
            (1, "ab".into(), 4.0),
            (2, "c".into(), 2.0),
            (3, "d".into(), 1.0),
            (2, "cd".into(), 1.0),
        ]
    );
}

#[test]
fn trailing_empty_frames_and_bad_lines() {
    let mut b = TreeBuilder::new(TreeOptions::default());
    b.read_slice(b"a;b; 5\r\nnot a line\n\n# comment\n;; 2\na;b 1\n");
    assert_eq!(b.warnings().1, 1);
    assert_eq!(b.warnings().0[0].line, 2);
    let f = b.finish(ALL, None).unwrap();
    assert_eq!(rows(&f), vec![(0, "".into(), 0.0, 8.0), (1, "a".into(), 2.0, 6.0), (2, "b".into(), 2.0, 6.0)]);
}

#[test]
fn minwidth_prunes_but_parents_keep_the_samples() {
    let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Pixels { px: 0.1, image_width: 1180.0 });
    // b is 1/1001 of 1180 px = 1.18 px: kept; at 10 px it goes
    assert_eq!(f.depth.len(), 4);
    let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Pixels { px: 10.0, image_width: 1180.0 });
    assert_eq!(rows(&f), vec![(0, "".into(), 0.0, 1001.0), (1, "a".into(), 0.0, 1001.0), (2, "c".into(), 1.0, 1000.0)]);
    let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Percent(0.5));
    assert_eq!(f.depth.len(), 3);
}

#[test]
fn differential_delta_goes_to_the_leaf() {
    let f = build("a;b 3 5\na 4 1\na;c 1\n", TreeOptions::default(), ALL);
    let d: Vec<_> = (0..f.depth.len()).map(|i| (f.names[f.name[i] as usize].clone(), f.delta[i], f.diff[i], f.width[i])).collect();
    assert_eq!(
        d,
        vec![(b"".to_vec(), 0.0, true, 7.0), (b"a".to_vec(), -3.0, true, 7.0), (b"b".to_vec(), 2.0, true, 5.0), (b"c".to_vec(), 0.0, false, 1.0)]
    );
    assert_eq!(f.maxdelta, 3.0);
}

#[test]
fn reverse_and_chain() {
    let f = build("a;b;c 2\nx;c 1\n", TreeOptions { reverse: true, ..Default::default() }, ALL);
    let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(r, vec![(0, "".into()), (1, "c".into()), (2, "b".into()), (3, "a".into()), (2, "x".into())]);
    let f = build("a;--;b 2\nc 1\n", TreeOptions { chain: true, ..Default::default() }, ALL);
    let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(r, vec![(0, "".into()), (1, "a".into()), (2, "--".into()), (3, "b_[w]".into()), (1, "c".into()), (2, "--".into())]);
}

#[test]
fn flame_chart_keeps_input_order() {
    let f = build("b;x 1\nb;x 2\na 1\nb 1\n", TreeOptions { flamechart: true, ..Default::default() }, ALL);
    assert_eq!(
        rows(&f),
        vec![
            (0, "".into(), 0.0, 5.0),
            (1, "b".into(), 0.0, 3.0),
            (2, "x".into(), 0.0, 3.0),
            (1, "a".into(), 3.0, 1.0),
            (1, "b".into(), 4.0, 1.0),
        ]
    );
}

#[test]
fn total_widens_the_scale() {
    let mut b = TreeBuilder::new(TreeOptions::default());
    b.read_slice(b"a 10\n");
    let f = b.finish(ALL, Some(40.0)).unwrap();
    assert_eq!((f.total, f.timemax, f.width[0], f.width[1]), (10.0, 40.0, 40.0, 10.0));
}

#[test]
fn streaming_reader_matches_slice() {
    let mut text = Vec::new();
    for i in 0..50_000 {
        text.extend_from_slice(format!("main;f{};g{} {}\n", i % 97, i % 13, i % 5 + 1).as_bytes());
    }
    text.extend_from_slice(b"last;line 3"); // no final newline
    let mut a = TreeBuilder::new(TreeOptions::default());
    a.read_slice(&text);
    let mut b = TreeBuilder::new(TreeOptions::default());
    // a reader that hands out odd-sized pieces
    struct Odd<'a>(&'a [u8], usize);
    impl Read for Odd<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = self.1 % 7919 + 1;
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    b.read(Odd(&text, 0), &|_| Ok(())).unwrap();
    assert_eq!(a.finish(ALL, None).unwrap(), b.finish(ALL, None).unwrap());
}

#[test]
fn siblings_in_order_of_their_shown_names() {
    let f = build("a;fReadComplete_[j] 1\na;fRead_[j] 1\na;fRead 1\n", TreeOptions::default(), ALL);
    let r: Vec<_> = rows(&f).into_iter().skip(2).map(|r| r.1).collect();
    assert_eq!(r, vec!["fRead", "fRead_[j]", "fReadComplete_[j]"]);
}

#[test]
fn common_prefix_lengths() {
    let a = b"0123456789abcdefghij";
    for n in 0..a.len() {
        let mut b = a.to_vec();
        b[n] = b'#';
        assert_eq!(common_prefix(a, &b), n);
        assert_eq!(common_prefix(a, &a[..n]), n);
    }
    assert_eq!(common_prefix(a, a), a.len());
}

#[test]
fn same_frames_at_any_thread_count() {
    let mut text = Vec::new();
    for i in 0..200_000u32 {
        let (a, b, c) = (i.wrapping_mul(2654435761) % 31, i % 7, i % 1009);
        text.extend_from_slice(format!("r{a};m{b};x{c} {}\n", i % 9 + 1).as_bytes());
        if i % 50_000 == 7 {
            text.extend_from_slice(b"a bad line\n");
        }
    }
    let run = |threads| {
        let mut b = TreeBuilder::new(TreeOptions { threads, ..Default::default() });
        b.read(&text[..], &|_| Ok(())).unwrap();
        let w: Vec<u64> = b.warnings().0.iter().map(|w| w.line).collect();
        (b.finish(ALL, None).unwrap(), w)
    };
    let one = run(1);
    assert_eq!(one.1, vec![9, 50_010, 100_011, 150_012]);
    assert!(one.0.depth.len() > 1000);
    assert_eq!(run(2), one);
    assert_eq!(run(3), one);
}

#[test]
fn piped_reading_is_the_single_builder() {
    // two-column and one-column lines, empty stacks, empty and trailing frames, CRLF, comments,
    // bad lines, sorted runs and jumps: over several blocks, then a second source and a stack
    // added by hand into the same builder
    let mut text = Vec::new();
    for i in 0..120_000u32 {
        let (a, b, c) = (i / 4000, i % 13, i.wrapping_mul(2654435761) % 97);
        let line = match i % 11 {
            0 => format!("r{a};;m{b};x{c}; {} {}\r\n", i % 5, i % 7),
            1 => format!(" {}\n", i % 3 + 1),
            2 => format!("r{a};m{b} {}\n", i % 4),
            3 if i % 1000 == 3 => "# comment\nnot a line\n".to_string(),
            // a stack, then its parent's, then itself again and deeper (shared up to a boundary)
            4 => format!("r{a};m{b};x{c};leaf0 1\nr{a};m{b};x{c} 2\nr{a};m{b};x{c};leaf0 1\nr{a};m{b};x{c};leaf0;deeper 5\nr{a};m{b};x{c};leaf0 1\n"),
            _ => format!("r{a};m{b};x{c};leaf{} {}\n", i % 3, i % 9 + 1),
        };
        text.extend_from_slice(line.as_bytes());
    }
    let run = |threads| {
        let mut b = TreeBuilder::new(TreeOptions { threads, ..Default::default() });
        b.read(&text[..], &|_| Ok(())).unwrap();
        let w1: Vec<u64> = b.take_warnings().iter().map(|w| w.line).collect();
        b.read(&text[..5000], &|_| Ok(())).unwrap();
        b.add_whole(b"r0;m1;x2;leaf0", 3);
        let w2: Vec<u64> = b.warnings().0.iter().map(|w| w.line).collect();
        let ignored = b.warnings().1;
        (b.finish(ALL, None).unwrap(), w1, w2, ignored)
    };
    let one = run(1);
    assert!(one.0.depth.len() > 1000 && one.3 >= 10 && !one.1.is_empty(), "{} frames, {} ignored", one.0.depth.len(), one.3);
    assert!(one.0.diff.iter().any(|&d| d));
    assert_eq!(run(2), one);
    assert_eq!(run(3), one);
}

#[test]
fn children_out_of_order_are_found() {
    // sorted, then unsorted, then repeated names under the same parents
    let mut text = String::new();
    for round in 0..3 {
        for i in 0..300u32 {
            let k = if round == 1 { (i * 7919) % 300 } else { i };
            text += &format!("p{};c{k:03};d{} 1\n", k % 3, k % 5);
        }
    }
    let f = build(&text, TreeOptions::default(), ALL);
    // root, 3 p, 300 c (each under one p), 300 d
    assert_eq!(f.depth.len(), 1 + 3 + 300 + 300);
    assert_eq!(f.width[0], 900.0);
    assert!(f.width.iter().zip(&f.depth).filter(|(_, &d)| d == 3).all(|(&w, _)| w == 3.0));
}

#[cfg(test)]
mod timing {
use crate::tree::*;

/// `FLAMEFOLD_TIMING_INPUT=big.folded cargo test --release --lib tree::tests::timing -- --ignored --nocapture`
#[test]
#[ignore]
fn phases() {
    let Ok(path) = std::env::var("FLAMEFOLD_TIMING_INPUT") else { return };
    for threads in [1, 2] {
        let t = std::time::Instant::now();
        let mut b = TreeBuilder::new(TreeOptions { threads, ..Default::default() });
        b.read(std::fs::File::open(&path).unwrap(), &|_| Ok(())).unwrap();
        let read = t.elapsed();
        let nodes = b.nodes();
        let f = b.finish(MinWidth::Percent(0.01), None).unwrap();
        eprintln!("threads {threads}: read {:?}, finish {:?}, {nodes} nodes, {} drawn", read, t.elapsed() - read, f.depth.len());
    }
}
}

#[cfg(test)]
mod robustness {
use crate::tree::*;
use crate::diff::{diff, Sides};

/// Cut, bit-flipped and spliced corpus files (and diffs of them) never panic the graph or
/// the diff, at any thread count, and give the same frames at every thread count.
#[test]
fn mangled_input_never_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flamegraph/inputs");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    corpus.sort();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for f in &corpus {
        let f = &f[..f.len().min(200_000)];
        inputs.push(f[..rnd(f.len())].to_vec());
        let mut flipped = f.to_vec();
        for _ in 0..50 {
            let i = rnd(flipped.len());
            flipped[i] ^= 1 << rnd(8);
        }
        inputs.push(flipped);
        let mut odd = f.to_vec();
        for _ in 0..30 {
            let i = rnd(odd.len());
            let b = [b'\n', b';', b' ', b'\t', b'.', b'0', b'9', b'\r', 0, 0xff][rnd(10)];
            odd.insert(i, b);
        }
        inputs.push(odd);
    }
    inputs.push(b"a 18446744073709551615\nb 18446744073709551615\n".to_vec());
    inputs.push(b"a 18446744073709551615 0\nb 0 18446744073709551615\nc 18446744073709551615 1\n".to_vec());
    inputs.push(b" \n;\n;;; 1\n 0 0\n.5 .5\n1. 2.\n 99999999999999999999.99999999999999999999999\n".to_vec());
    for text in &inputs {
        let mut outs = Vec::new();
        for threads in 1..=3 {
            for (reverse, flamechart, chain) in [(false, false, false), (true, false, true), (false, true, false)] {
                let r = std::panic::catch_unwind(|| {
                    let mut b = TreeBuilder::new(TreeOptions { reverse, flamechart, chain, threads });
                    let _ = b.read(&text[..], &|_| Ok(()));
                    b.finish(MinWidth::Pixels { px: 0.1, image_width: 1180.0 }, Some(3.0)).ok()
                });
                let r = r.unwrap_or_else(|_| panic!("graph panicked at {threads} threads on {:?}", String::from_utf8_lossy(&text[..text.len().min(200)])));
                if (reverse, flamechart) == (false, false) {
                    outs.push(r);
                }
            }
        }
        assert!(outs.windows(2).all(|w| w[0] == w[1]));
        let r = std::panic::catch_unwind(|| {
            for (n, s) in [(false, false), (true, true)] {
                if let Ok(sides) = Sides::read(&text[..], &inputs[0][..]) {
                    if let Ok(d) = diff(sides, n, s) {
                        let t = d.to_text();
                        let mut b = TreeBuilder::new(TreeOptions { threads: 2, ..Default::default() });
                        let _ = b.read(&t[..], &|_| Ok(()));
                        let _ = b.finish(MinWidth::Percent(0.0), None);
                    }
                }
            }
        });
        assert!(r.is_ok(), "diff panicked on {:?}", String::from_utf8_lossy(&text[..text.len().min(200)]));
    }
}
}
