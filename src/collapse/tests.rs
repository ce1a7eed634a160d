//! The driver through a toy line format: any thread count, any chunk size, streamed or in
//! memory, the same sink contents as the in-order reference.
//!
//! The toy: `@name [event]` starts a record (weight 1, or `@name event *w`), its frame lines
//! follow (leaf first), a blank line ends it; `!...` lines are warned about; `#` lines are
//! comments. A record may start after a blank line or at an `@` line.

use super::*;

struct Toy;

#[derive(Default)]
struct ToyCollapser {
    active: bool,
    event: Option<EventId>,
    weight: u64,
    frames: Vec<FrameId>,
}

impl ToyCollapser {
    fn flush(&mut self, out: &mut Sink) {
        if std::mem::take(&mut self.active) {
            self.frames.reverse();
            out.add_stack(self.event, &self.frames, self.weight);
            out.records += 1;
        }
        self.frames.clear();
    }
}

impl Collapser for ToyCollapser {
    fn chunk(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64 {
        if fresh {
            self.flush(out);
        }
        for_lines(data, |line, n| {
            if line.is_empty() {
                self.flush(out);
            } else if let Some(h) = line.strip_prefix(b"@") {
                self.flush(out);
                let mut parts = h.split(|&c| c == b' ');
                let name = parts.next().unwrap_or_default();
                self.event = parts.next().map(|e| out.event(e));
                self.weight = parts.next().and_then(|w| std::str::from_utf8(&w[1..]).ok()?.parse().ok()).unwrap_or(1);
                self.active = true;
                let id = out.frame(name);
                self.frames.push(id);
            } else if line == b"MEET" {
                meet();
            } else if line == b"PANIC" {
                panic!("the toy collapser panics on PANIC (a test of the driver)");
            } else if line.starts_with(b"!") {
                out.warn(n, format!("bad: {}", String::from_utf8_lossy(line)));
            } else if !line.starts_with(b"#") && self.active {
                let id = out.frame(line);
                self.frames.insert(1.min(self.frames.len()), id);
            }
        })
    }

    fn end(&mut self, out: &mut Sink) {
        self.flush(out);
    }
}

/// Workers that reached a `MEET` line of the toy input, and how many found another one there.
static AT_MEET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A worker at a `MEET` line waits (up to 3 s) for a second worker to reach one: two workers
/// meet only if they fold at the same time.
fn meet() {
    use std::sync::atomic::Ordering::SeqCst;
    AT_MEET.fetch_add(1, SeqCst);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        if AT_MEET.load(SeqCst) >= 2 {
            MET.fetch_add(1, SeqCst);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

impl Format for Toy {
    type C = ToyCollapser;
    fn collapser(&self) -> ToyCollapser {
        ToyCollapser::default()
    }
    fn parallel(&self) -> bool {
        true
    }
    fn starts_record(&self, line: &[u8], after_blank: bool) -> bool {
        after_blank || line.starts_with(b"@")
    }
}

/// What a run gives, comparable: folded text of each event, the warnings, the first event.
fn contents(c: &Collapsed) -> (Vec<u8>, Vec<String>, Option<Vec<u8>>, u64) {
    let s = &c.sink;
    let mut by_event: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (k, w) in s.stacks.iter() {
        let ev = if k[0] == NO_EVENT { b"-".to_vec() } else { s.events.get(FrameId(k[0])).to_vec() };
        let mut line = ev.clone();
        for &f in &k[1..] {
            line.push(b';');
            line.extend_from_slice(s.names.get(FrameId(f)));
        }
        line.extend_from_slice(format!(" {w}\n").as_bytes());
        by_event.push((ev, line));
    }
    by_event.sort();
    let text = by_event.into_iter().flat_map(|(_, l)| l).collect();
    let warnings = c.warnings.iter().map(|w| w.to_string()).collect();
    let first = s.first_event.map(|(_, e)| s.events.get(FrameId(e.0)).to_vec());
    (text, warnings, first, s.records)
}

fn toy_input() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..400 {
        let ev = ["", " cycles", " instructions *3"][i % 3];
        s.push_str(&format!("@p{}{ev}\nf{}\ng{}\n", i % 5, i % 7, i % 2));
        if i % 37 == 0 {
            s.push_str("!oops\n# note\n");
        }
        // some records end at the next `@`, without a blank line
        if i % 4 != 0 {
            s.push('\n');
        }
    }
    s.into_bytes()
}

#[test]
fn same_sink_at_every_thread_count_and_chunk_size() {
    let data = toy_input();
    let want = contents(&collapse_in_order(&Toy, &data).unwrap());
    assert!(want.1.len() == 11 && want.1[0].starts_with("line 4: bad"), "{:?}", want.1);
    assert_eq!(want.2.as_deref(), Some(&b"cycles"[..]));
    assert_eq!(want.3, 400);
    for threads in 1..=3 {
        for chunk in [1, 2, 7, 64, 1000, 4096, 64 << 10] {
            let got = contents(&collapse_slice(&Toy, &data, threads, &|_| Ok(()), chunk).unwrap());
            assert_eq!(got, want, "in memory, {threads} threads, chunks of {chunk}");
            let got = contents(&collapse_read(&Toy, &data[..], threads, &|_| Ok(()), chunk).unwrap());
            assert_eq!(got, want, "streamed, {threads} threads, chunks of {chunk}");
        }
    }
}

/// `n` short records, each followed by a record of three 700 KiB lines (longer than a chunk
/// plus the line limit: the stream is cut inside it); `line(i, k)` ends line `k` of record `i`.
fn long_records(n: usize, line: impl Fn(usize, usize) -> String) -> Vec<u8> {
    let long = vec![b'x'; 700 << 10];
    let mut data = Vec::new();
    for i in 0..n {
        data.extend_from_slice(format!("@p{i} cycles\nf{i}\n\n@q{i}\n").as_bytes());
        for k in 0..3 {
            data.extend_from_slice(&long);
            data.extend_from_slice(line(i, k).as_bytes());
        }
        data.extend_from_slice(b"\n");
    }
    data
}

/// Records longer than a chunk plus the line limit: the stream is cut where no record starts,
/// and the chunks that continue a record must be folded in order by the thread that has it,
/// whichever thread read them.
#[test]
fn records_longer_than_a_chunk_stay_whole_at_every_thread_count() {
    let data = long_records(6, |i, k| format!("{i}{k}\n"));
    let want = contents(&collapse_in_order(&Toy, &data).unwrap());
    assert_eq!(want.3, 12);
    for threads in 1..=3 {
        for chunk in [64 << 10, 1 << 20] {
            let got = contents(&collapse_read(&Toy, &data[..], threads, &|_| Ok(()), chunk).unwrap());
            assert_eq!(got, want, "streamed, {threads} threads, chunks of {chunk}");
        }
    }
}

/// A worker that panics while another thread waits for it to take a queued chunk: the run ends
/// with the panic, never hangs.
#[test]
fn a_panicking_worker_ends_the_run() {
    let data = long_records(4, |i, k| if i == 2 && k == 0 { "\nPANIC\n".into() } else { "\n".into() });
    for threads in [2, 3] {
        let (tx, rx) = std::sync::mpsc::channel();
        let d = data.clone();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(|| collapse_read(&Toy, &d[..], threads, &|_| Ok(()), 64 << 10).map(|_| ()));
            let _ = tx.send(r.is_err());
        });
        let panicked = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the run hung");
        assert!(panicked, "{threads} threads");
    }
}

#[test]
fn progress_error_stops_the_run() {
    let data = toy_input();
    for threads in 1..=3 {
        let r = collapse_read(&Toy, &data[..], threads, &|b| if b > 100 { Err(Error::Cancelled) } else { Ok(()) }, 64);
        assert!(matches!(r, Err(Error::Cancelled)));
        let r = collapse_slice(&Toy, &data, threads, &|b| if b > 100 { Err(Error::Cancelled) } else { Ok(()) }, 64);
        assert!(matches!(r, Err(Error::Cancelled)));
    }
}

/// Two workers fold side by side, in memory as streamed: two records that each wait for the
/// other worker to reach its own, 2 MiB apart (more than a chunk plus the line limit: never in
/// one chunk). A worker that kept the chunk queue locked while folding made the in-memory path
/// fold one chunk at a time, slower on two threads than on one.
#[test]
fn workers_fold_at_the_same_time() {
    use std::sync::atomic::Ordering::SeqCst;
    let filler = b"@z\nf\n\n".repeat((2 << 20) / 7);
    let data = [&b"@a\nMEET\nf\n\n"[..], &filler, b"@b\nMEET\ng\n\n", &filler].concat();
    for streamed in [false, true] {
        AT_MEET.store(0, SeqCst);
        MET.store(0, SeqCst);
        let c = if streamed { collapse_read(&Toy, &data[..], 2, &|_| Ok(()), 64 << 10) } else { collapse_slice(&Toy, &data, 2, &|_| Ok(()), 64 << 10) };
        assert_eq!(c.unwrap().sink.records, 2 + 2 * ((2 << 20) / 7) as u64);
        assert_eq!(MET.load(SeqCst), 2, "the two workers did not fold at the same time (streamed: {streamed})");
    }
}
