//! Symbol tables loaded on other threads while the records are read: the kernel's (from
//! `/proc/kallsyms`) and the ELF files the capture's header lists (perf lists the DSOs its
//! samples hit). The reading thread asks for a table when a sample first needs it: it waits
//! if a worker is loading it, or loads it itself if no worker has started it. Who loads a
//! table changes nothing in it, so the output is the same at any thread count.

use super::elf::{self, Loaded};
use super::symtab::{self, Demangle, SymbolTable};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What to load.
pub enum Job {
    /// The kernel's symbols: the copy of its kallsyms perf keeps in the build-id cache when
    /// its `_text` is where the capture's kernel map says (the same kernel, booted at the same
    /// address: `/proc/kallsyms` has the same symbols, and is much slower to read), else
    /// `/proc/kallsyms`.
    Kernel { build_id: Option<Vec<u8>>, text: u64 },
    /// An ELF DSO's symbols, with the build id perf recorded for it.
    Elf { path: Vec<u8>, build_id: Option<Vec<u8>> },
    /// An executable mapped from a file the header has no build id for: loaded ahead unless
    /// the file has a build id (perf lists those its samples hit: this one was not).
    Unlisted { path: Vec<u8> },
}

/// What a job gave.
pub enum Done {
    /// `None`: `/proc/kallsyms` could not be read.
    Kernel(Option<SymbolTable>),
    Elf(Loaded),
    /// An unlisted file with a build id: left to the reading thread if it needs it.
    Skipped,
}

enum Slot {
    Todo(Job),
    Running,
    Done(Done),
    Taken,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<usize>,
    slots: Vec<Slot>,
    closed: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Jobs run by worker threads, each taken back once by [`Loader::take`].
pub struct Loader {
    shared: Arc<Shared>,
    threads: usize,
    started: usize,
    demangle: Option<Demangle>,
}

pub fn run(job: Job, demangle: Option<Demangle>) -> Done {
    match job {
        Job::Kernel { build_id, text } => {
            let cached = build_id.and_then(|id| std::fs::read(elf::kallsyms_cache(&id)).ok()).filter(|k| same_text(k, text));
            Done::Kernel(cached.or_else(|| std::fs::read("/proc/kallsyms").ok()).map(|t| symtab::load_kallsyms(&t)))
        }
        Job::Elf { path, build_id } => Done::Elf(elf::load(&path, build_id.as_deref(), demangle)),
        Job::Unlisted { path } => match elf::Elf::open(elf::os_path(&path)) {
            Some(e) if e.build_id().is_none() => Done::Elf(elf::load(&path, None, demangle)),
            _ => Done::Skipped,
        },
    }
}

/// Whether kallsyms text puts `_text` at `addr`.
pub fn same_text(kallsyms: &[u8], addr: u64) -> bool {
    let Some(at) = memchr::memmem::find(kallsyms, b" T _text\n") else { return false };
    let line = &kallsyms[kallsyms[..at].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1)..at];
    std::str::from_utf8(line).ok().and_then(|h| u64::from_str_radix(h, 16).ok()) == Some(addr)
}

impl Loader {
    /// A loader with up to `threads` workers (started with the first jobs).
    pub fn new(threads: usize, demangle: Option<Demangle>) -> Self {
        Loader { shared: Arc::new(Shared { inner: Mutex::new(Inner::default()), cv: Condvar::new() }), threads: threads.clamp(1, 16), started: 0, demangle }
    }

    /// Queues a job (`first`: ahead of the others); its id is what [`Loader::take`] takes.
    pub fn submit(&mut self, job: Job, first: bool) -> usize {
        let id = {
            let mut g = self.shared.lock();
            g.slots.push(Slot::Todo(job));
            let id = g.slots.len() - 1;
            if first {
                g.queue.push_front(id);
            } else {
                g.queue.push_back(id);
            }
            id
        };
        self.shared.cv.notify_one();
        if self.started < self.threads {
            self.started += 1;
            let (shared, demangle) = (self.shared.clone(), self.demangle);
            // a worker that cannot be started leaves its jobs to the reading thread
            let _ = std::thread::Builder::new().name("flamefold-symbols".into()).spawn(move || worker(&shared, demangle));
        }
        id
    }

    /// The result of job `id`: waited for if a worker runs it, run here if none has started it.
    /// `None` if it was taken before.
    pub fn take(&mut self, id: usize) -> Option<Done> {
        let mut g = self.shared.lock();
        loop {
            match std::mem::replace(g.slots.get_mut(id)?, Slot::Taken) {
                Slot::Todo(job) => {
                    drop(g);
                    return Some(run(job, self.demangle));
                }
                Slot::Done(d) => return Some(d),
                Slot::Taken => return None,
                Slot::Running => {
                    g.slots[id] = Slot::Running;
                    g = self.shared.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

impl Drop for Loader {
    /// Workers stop after the job at hand; what they still hold is dropped with them.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.cv.notify_all();
    }
}

fn worker(shared: &Shared, demangle: Option<Demangle>) {
    let mut g = shared.lock();
    loop {
        if g.closed {
            return;
        }
        let Some(id) = g.queue.pop_front() else {
            g = shared.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let job = match std::mem::replace(&mut g.slots[id], Slot::Running) {
            Slot::Todo(job) => job,
            other => {
                g.slots[id] = other; // taken by the reading thread meanwhile
                continue;
            }
        };
        drop(g);
        let done = run(job, demangle);
        g = shared.lock();
        if !g.closed {
            g.slots[id] = Slot::Done(done);
        }
        shared.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job's result comes back once, whoever ran it, at any number of workers.
    #[test]
    fn each_job_taken_once() {
        for threads in [1, 2, 4] {
            let mut l = Loader::new(threads, None);
            assert!(same_text(b"0000000000000000 A x\nffffffff81000000 T _text\n", 0xffffffff81000000));
            assert!(!same_text(b"ffffffff81000000 T _text\n", 0xffffffff82000000));
            assert!(!same_text(b"ffffffff81000000 T _stext\n", 0xffffffff81000000));
            let ids: Vec<usize> = (0..6).map(|i| l.submit(Job::Elf { path: format!("/nonexistent/flamefold-{i}").into_bytes(), build_id: None }, i % 2 == 0)).collect();
            for &id in ids.iter().rev() {
                match l.take(id) {
                    Some(Done::Elf(Loaded { table, problem })) => {
                        assert!(table.is_empty());
                        assert!(problem.unwrap().contains(&format!("flamefold-{id}")));
                    }
                    _ => panic!("job {id} lost"),
                }
                assert!(l.take(id).is_none());
            }
        }
    }
}
