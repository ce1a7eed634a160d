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
use std::sync::{mpsc, Mutex};

/// Called by the reading thread after each chunk with the bytes read so far; an error stops the
/// run (Ctrl-C from Python, for instance).
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

/// A chunk: its index in the input, its buffer and the length used.
type Piece = (usize, (Vec<u8>, usize));
/// The chunks that continue a chunk, in order.
type Group = mpsc::Receiver<Piece>;

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
    // The reading thread is one of the `threads` workers: a chunk cut at a record boundary goes
    // to a waiting worker (one queued per other worker), or, when they are all busy, is folded
    // by the reading thread itself; so `threads` threads share the cores, the reading included
    // (a reader of its own made one thread more than cores: on two cores, 1.3x one thread).
    // The chunks that continue a chunk (cut where there was no boundary) go where it went, in
    // order: through a channel of their own to its worker, or to the reading thread.
    let others = threads - 1;
    let (tx, rx) = mpsc::sync_channel::<(usize, (Vec<u8>, usize), Group)>(others);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let rx = Mutex::new(rx);
    let (mut workers, mine, read_result) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..others)
            .map(|_| {
                let rx = &rx;
                let free_tx = free_tx.clone();
                s.spawn(move || {
                    let mut w = Worker::new(format);
                    loop {
                        let msg = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((i, (buf, n), more)) = msg else { break };
                        w.read(i, &buf[..n], true);
                        let _ = free_tx.send(buf);
                        while let Ok((j, (buf, n))) = more.recv() {
                            w.read(j, &buf[..n], false);
                            let _ = free_tx.send(buf);
                        }
                    }
                    w
                })
            })
            .collect();
        let mut mine = Worker::new(format);
        let read_result = (|| -> Result<()> {
            let mut idx = 0;
            // where the last fresh chunk went: a worker (the channel for the chunks continuing
            // it) or this thread (None)
            let mut group: Option<Option<mpsc::SyncSender<Piece>>> = None;
            loop {
                let mut buf = free_rx.try_recv().unwrap_or_default();
                let Some((n, continues)) = chunker.next_into(&mut buf)? else { return Ok(()) };
                match &group {
                    Some(Some(g)) if continues => {
                        if g.send((idx, (buf, n))).is_err() {
                            return Ok(());
                        }
                    }
                    Some(None) if continues => {
                        mine.read(idx, &buf[..n], false);
                        let _ = free_tx.send(buf);
                    }
                    _ => {
                        drop(group.take()); // the worker of the last group may finish it
                        let (gtx, grx) = mpsc::sync_channel(1);
                        match tx.try_send((idx, (buf, n), grx)) {
                            Ok(()) => group = Some(Some(gtx)),
                            Err(mpsc::TrySendError::Full((_, (buf, n), _))) => {
                                mine.read(idx, &buf[..n], true);
                                let _ = free_tx.send(buf);
                                group = Some(None);
                            }
                            Err(mpsc::TrySendError::Disconnected(_)) => return Ok(()),
                        }
                    }
                }
                idx += 1;
                progress(chunker.bytes)?;
            }
        })();
        drop(tx);
        (join(handles), mine, read_result)
    });
    workers.push(mine);
    read_result?;
    merge(workers, chunker.bytes)
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
                    while let Ok((i, part)) = rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
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
