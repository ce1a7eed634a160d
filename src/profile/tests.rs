use super::*;
use crate::output::folded::Folded;

/// A profile's tables (frame ids, their order, the stacks) are the same at every thread count
/// and chunk size, and render the folded text.
#[test]
fn tables_are_deterministic() {
    let mut s = String::new();
    for i in 0..3000 {
        s.push_str(&format!("c{} {} 1.0: {} cycles: \n\tff f{} (/m)\n\tff g{} (/m)\n\tff main (/m)\n\n", i % 3, i, i % 7 + 1, i % 13, i % 5));
    }
    let o = Options::default();
    let want = from_perf_slice_sized(s.as_bytes(), &o, 1, &|_| Ok(()), usize::MAX).unwrap();
    let frames = |p: &Profile| p.frames().iter().map(|(_, n)| n.to_vec()).collect::<Vec<_>>();
    let stacks = |p: &Profile| p.stacks().map(|(s, w)| (s.to_vec(), w)).collect::<Vec<_>>();
    for t in 1..=3 {
        for chunk in [100, 5000] {
            let p = from_perf_read_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk).unwrap();
            assert_eq!(frames(&p), frames(&want));
            assert_eq!(stacks(&p), stacks(&want));
        }
    }
    // frames numbered by first appearance in byte order; the text is the rendering
    assert_eq!(want.frames().get(FrameId(0)), b"c0");
    let text = Folded::from_profile(&want).to_text();
    let mut taken = from_perf_slice_sized(s.as_bytes(), &o, 2, &|_| Ok(()), 700).unwrap();
    assert_eq!(Folded::take_from(&mut taken).to_text(), text);
    assert_eq!(Folded::from_profile(&taken).to_text(), text); // rendered from the tables
    assert!(text.starts_with(b"c0;main;g0;f0 "), "{}", String::from_utf8_lossy(&text[..40]));
    let back = Folded::from_profile(&want).to_profile();
    assert_eq!(stacks(&back), stacks(&want));
    assert_eq!(frames(&back), frames(&want));
}

/// Past the size where the stacks are rendered, sorted and copied on several threads: the same
/// tables and text at every thread count, a comm holding `;` (its stack renders like another
/// with one frame more) included.
#[test]
fn many_stacks_same_tables_at_every_thread_count() {
    let mut s = String::new();
    for i in 0..12000 {
        s.push_str(&format!("c{} {} 1.0: 1 cycles: \n\tff f{} (/m)\n\tff g{} (/m)\n\tff main (/m)\n\n", i % 3, i, i % 97, i % 89));
        if i % 1000 == 0 {
            s.push_str("x;y 1 1.0: 2 cycles: \n\tff main (/m)\n\n");
            s.push_str("x 1 1.0: 3 cycles: \n\tff main (/m)\n\tff y (/m)\n\n");
        }
    }
    let o = Options::default();
    let frames = |p: &Profile| p.frames().iter().map(|(_, n)| n.to_vec()).collect::<Vec<_>>();
    let stacks = |p: &Profile| p.stacks().map(|(s, w)| (s.to_vec(), w)).collect::<Vec<_>>();
    let mut want = from_perf_slice_sized(s.as_bytes(), &o, 1, &|_| Ok(()), usize::MAX).unwrap();
    assert!(want.len() > 2 * order::PARALLEL_MIN, "{}", want.len());
    let text = Folded::take_from(&mut want).to_text();
    assert!(text.windows(13).any(|w| w == b"\nx;y;main 60\n"), "the two renderings of x;y;main add up");
    for t in 2..=4 {
        for chunk in [10_000, 1 << 20] {
            let mut p = from_perf_read_sized(s.as_bytes(), &o, t, &|_| Ok(()), chunk).unwrap();
            assert_eq!(frames(&p), frames(&want), "{t} threads");
            assert_eq!(stacks(&p), stacks(&want), "{t} threads");
            assert_eq!(Folded::take_from(&mut p).to_text(), text, "{t} threads");
        }
    }
}
