//! The one parallel driver: every [`Format`] is read through it, streamed or in memory.
//!
//! The input is cut by the one chunker (`input::chunk`) where the format says records may start.
//! Each worker owns one [`Collapser`] and one [`Sink`] for the whole run (a format may cache
//! frame ids across chunks). A chunk cut where no record starts continues the one before: it
//! goes to the same worker, in order. At the end the sinks are merged deterministically: the
//! first error and the warnings in input order, line numbers made absolute, tables merged (the
//! merged ids depend on the scheduling; everything read from them is sorted by bytes).

use super::{Collapsed, Collapser, EventId, Format, Sink, MAX_WARNINGS, NO_EVENT};
use crate::error::{Error, Result, Warning};
use crate::input::chunk::{slice_chunks, Chunker};
use std::io::Read;
use std::sync::{mpsc, Condvar, Mutex};

/// Called after each chunk read with the bytes read so far (by the thread that read it, one
/// call at a time, in order); an error stops the run (Ctrl-C from Python, for instance).
pub type Progress<'a> = &'a (dyn Fn(u64) -> Result<()> + Sync);

/// One worker: its collapser, its sink, and the lines of each chunk it read.
struct Worker<C> {
    c: C,
    sink: Sink,
    lines: Vec<(usize, u64)>,
}

impl<C: Collapser> Worker<C> {
    fn new<F: Format<C = C>>(format: &F) -> Self {
        Worker { c: format.collapser(), sink: Sink::new(), lines: Vec::new() }
    }

    fn read(&mut self, idx: usize, data: &[u8], fresh: bool) {
        self.sink.chunk = idx;
        let n = self.c.chunk(data, fresh, &mut self.sink);
        self.lines.push((idx, n));
    }
}

fn threads_for<F: Format>(format: &F, threads: usize) -> usize {
    if format.parallel() {
        threads.max(1)
    } else {
        1
    }
}

/// Collapses a stream (already decompressed) in chunks of about `chunk` bytes, on `threads`
/// workers when the format allows.
pub fn collapse_read<F: Format, R: Read + Send>(format: &F, r: R, threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    let threads = threads_for(format, threads);
    let mut chunker = Chunker::new(r, chunk, |line: &[u8], after_blank: bool| format.starts_record(line, after_blank));
    if threads == 1 {
        let mut w = Worker::new(format);
        let mut buf = Vec::new();
        let mut idx = 0;
        while let Some((n, _)) = chunker.next_into(&mut buf)? {
            w.read(idx, &buf[..n], idx == 0);
            idx += 1;
            progress(chunker.bytes)?;
        }
        return merge(vec![w], chunker.bytes);
    }
    // Every thread reads and folds: it takes the reader (a lock) for its next chunk, then folds
    // it, so the reading (a copy from the page cache, or decompression) is shared like the
    // folding and no thread waits on another but for the lock (a reading thread that handed
    // chunks to workers, and folded those it could not hand over, left them idle while it read
    // or folded: the jit capture took 0.103 s on two cores, now 0.088 s). A chunk that
    // continues the one before (cut where no record starts) goes to the thread that has that
    // one: into its queue when another thread read it (one chunk at a time: no chunk is read
    // while one is queued). A thread that panics ends the reading, so that no other waits for
    // it to take its queued chunk; the panic is then raised on the calling thread.
    let shared = Mutex::new(Reading { chunker, idx: 0, owner: usize::MAX, queued: vec![None; threads], spare: Vec::new(), done: false, error: None });
    let wake = Condvar::new();
    let run = |me: usize| -> Worker<F::C> {
        let mut w = Worker::new(format);
        let mut buf = Vec::new();
        let mut st = lock(&shared);
        loop {
            if let Some((i, b, n)) = st.queued[me].take() {
                st.spare.push(std::mem::replace(&mut buf, b));
                drop(st);
                wake.notify_all();
                w.read(i, &buf[..n], false);
                st = lock(&shared);
                continue;
            }
            if st.done {
                break;
            }
            if st.queued.iter().any(Option::is_some) {
                // another thread's queued chunk first: a chunk is read only when every queue is
                // empty, so a continuing chunk is queued as soon as it is read, in order
                st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if buf.capacity() == 0 {
                buf = st.spare.pop().unwrap_or_default();
            }
            let got = st.chunker.next_into(&mut buf);
            let (n, continues) = match got {
                Ok(Some(x)) => x,
                Ok(None) => {
                    st.done = true;
                    wake.notify_all();
                    break;
                }
                Err(e) => {
                    st.fail(e.into());
                    wake.notify_all();
                    break;
                }
            };
            let i = st.idx;
            st.idx += 1;
            if let Err(e) = progress(st.chunker.bytes) {
                st.fail(e);
                wake.notify_all();
                break;
            }
            let owner = st.owner;
            if continues && owner != me && owner != usize::MAX {
                // the chunk goes on a sample the owner is reading: to its queue (empty, see above)
                st.queued[owner] = Some((i, std::mem::take(&mut buf), n));
                wake.notify_all();
                continue;
            }
            st.owner = me;
            drop(st);
            w.read(i, &buf[..n], !continues);
            st = lock(&shared);
        }
        drop(st);
        w
    };
    let run = |me: usize| -> Worker<F::C> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(me))).unwrap_or_else(|p| {
            lock(&shared).done = true;
            wake.notify_all();
            std::panic::resume_unwind(p)
        })
    };
    let run = &run;
    let workers = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|me| s.spawn(move || run(me))).collect();
        // this thread is worker 0 (Python's Ctrl-C is seen by progress here)
        let mine = run(0);
        let mut all = join(handles);
        all.insert(0, mine);
        all
    });
    let st = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = st.error {
        return Err(e);
    }
    let bytes = st.chunker.bytes;
    merge(workers, bytes)
}

/// What the threads of [`collapse_read`] share, behind its lock.
struct Reading<R, B> {
    chunker: Chunker<R, B>,
    /// The next chunk's index.
    idx: usize,
    /// The thread folding the last chunk read (`usize::MAX`: none yet).
    owner: usize,
    /// Per thread: a chunk continuing its sample, read by another thread.
    queued: Vec<Option<(usize, Vec<u8>, usize)>>,
    /// Buffers given up by threads that took a queued chunk.
    spare: Vec<Vec<u8>>,
    done: bool,
    error: Option<Error>,
}

impl<R, B> Reading<R, B> {
    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
        self.done = true;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn join<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
}

/// Collapses bytes held in memory (not compressed), without copying them, in chunks of about
/// `chunk` bytes on `threads` workers when the format allows.
pub fn collapse_slice<F: Format>(format: &F, data: &[u8], threads: usize, progress: Progress<'_>, chunk: usize) -> Result<Collapsed> {
    let threads = threads_for(format, threads);
    let starts = |line: &[u8], after_blank: bool| format.starts_record(line, after_blank);
    if threads == 1 {
        let mut w = Worker::new(format);
        let mut bytes = 0u64;
        for (idx, part) in slice_chunks(data, chunk.saturating_mul(4), &starts).enumerate() {
            w.read(idx, part, idx == 0);
            bytes += part.len() as u64;
            progress(bytes)?;
        }
        return merge(vec![w], data.len() as u64);
    }
    let (tx, rx) = mpsc::sync_channel::<(usize, &[u8])>(threads * 4);
    let rx = Mutex::new(rx);
    let (workers, sent) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                s.spawn(move || {
                    let mut w = Worker::new(format);
                    // the lock only while taking a chunk (a guard in the `while let` itself
                    // would live through the body: the workers would fold one at a time)
                    loop {
                        let next = lock(rx).recv();
                        let Ok((i, part)) = next else { break };
                        w.read(i, part, true);
                    }
                    w
                })
            })
            .collect();
        let sent = (|| -> Result<()> {
            let mut sent = 0u64;
            for (idx, part) in slice_chunks(data, chunk, &starts).enumerate() {
                if tx.send((idx, part)).is_err() {
                    break;
                }
                sent += part.len() as u64;
                progress(sent)?;
            }
            Ok(())
        })();
        drop(tx);
        (join(handles), sent)
    });
    sent?;
    merge(workers, data.len() as u64)
}

/// Ends every worker's input and merges their sinks: the error met first in the input, the
/// warnings in input order (absolute line numbers), then one table.
fn merge<C: Collapser>(mut workers: Vec<Worker<C>>, bytes: u64) -> Result<Collapsed> {
    for w in workers.iter_mut() {
        w.c.end(&mut w.sink);
    }
    // line numbers: chunk-local -> absolute
    let mut chunk_lines: Vec<(usize, u64)> = workers.iter().flat_map(|w| w.lines.iter().copied()).collect();
    chunk_lines.sort_unstable();
    let mut base = vec![0u64; chunk_lines.last().map_or(0, |&(i, _)| i + 1)];
    let mut acc = 0u64;
    for &(i, n) in &chunk_lines {
        base[i] = acc;
        acc = acc.saturating_add(n);
    }
    let at = |c: usize, l: u64| base.get(c).copied().unwrap_or(0) + l;
    if let Some((c, l, mut e)) = workers.iter_mut().filter_map(|w| w.sink.error.take()).min_by_key(|&(c, l, _)| (c, l)) {
        if let Error::Parse { line, .. } = &mut e {
            *line = at(c, l);
        }
        return Err(e);
    }
    let mut raw: Vec<(usize, u64, String)> = workers.iter_mut().flat_map(|w| std::mem::take(&mut w.sink.warnings)).collect();
    raw.sort();
    let more: u64 = workers.iter().map(|w| w.sink.more_warnings).sum::<u64>() + raw.len().saturating_sub(MAX_WARNINGS) as u64;
    raw.truncate(MAX_WARNINGS);
    let mut warnings: Vec<Warning> = raw.into_iter().map(|(c, l, msg)| Warning { line: at(c, l), msg }).collect();
    for w in workers.iter_mut() {
        warnings.extend(w.sink.notes.drain(..).map(|msg| Warning { line: 0, msg }));
    }
    if more > 0 {
        warnings.push(Warning { line: 0, msg: format!("{more} more lines could not be used (only the first {MAX_WARNINGS} are shown)") });
    }
    // one table: the single worker's, or all merged into the first
    let mut it = workers.into_iter().map(|w| w.sink);
    let mut g = it.next().expect("at least one worker");
    for w in it {
        g.records += w.records;
        let ev_map: Vec<u32> = w.events.iter().map(|(_, n)| g.events.intern(n).0).collect();
        let first = w.first_event.map(|(c, e)| (c, EventId(ev_map[e.0 as usize])));
        g.first_event = match (g.first_event, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let name_map: Vec<u32> = w.names.iter().map(|(_, n)| g.names.intern(n).0).collect();
        let mut key = Vec::new();
        for (k, c) in w.stacks.iter() {
            key.clear();
            key.push(if k[0] == NO_EVENT { NO_EVENT } else { ev_map[k[0] as usize] });
            key.extend(k[1..].iter().map(|&id| name_map[id as usize]));
            if !g.stacks.add(&key, c) {
                return Err(Error::Overflow { what: "the count of a stack".into() });
            }
        }
    }
    Ok(Collapsed { sink: g, warnings, bytes })
}
