//! perf.data (found by its magic bytes) turned into the same [`Profile`] as its `perf script`
//! text: the entry points the bindings route to.

use super::{perf_events, Profile};
use crate::collapse::perf::Options;
use crate::collapse::perf_data::{self, is_perf_data};
use crate::collapse::Progress;
use crate::error::{Error, Result};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How often the reader reports progress (and checks for Ctrl-C).
const REPORT_EVERY: u64 = 4 << 20;

/// A reader that reports the bytes read so far; a cancelled progress is an error of the read.
struct Reporting<'a, R> {
    inner: R,
    done: u64,
    next: u64,
    progress: Progress<'a>,
}

impl<'a, R> Reporting<'a, R> {
    fn new(inner: R, progress: Progress<'a>) -> Self {
        Reporting { inner, done: 0, next: REPORT_EVERY, progress }
    }
}

impl<R: Read> Read for Reporting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done >= self.next {
            self.next = self.done + REPORT_EVERY;
            (self.progress)(self.done).map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Reporting<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(pos)?;
        self.done = at;
        self.next = at + REPORT_EVERY;
        Ok(at)
    }
}

fn profile(c: Result<crate::collapse::Collapsed>, opts: &Options, threads: usize) -> Result<Profile> {
    let c = c.map_err(|e| match e {
        // the reader's own errors ("perf.data: ..."): what was read is not a whole perf.data
        Error::Parse { line: 0, msg } if msg.starts_with("perf.data:") => Error::Parse { line: 0, msg: format!("{msg} (a truncated or damaged perf.data file? see what `perf script -i FILE` makes of it)") },
        e => e,
    })?;
    Profile::from_collapsed_on(c, &perf_events(opts), true, threads)
}

/// Whether the regular file at `path` is a perf.data file (its magic bytes).
pub fn is_perf_data_path(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 8];
    f.read_exact(&mut head).is_ok() && is_perf_data(&head)
}

/// A perf.data file (a capture saved from a pipe too) read directly, symbols on `threads` threads.
pub fn from_perf_data_path(path: &Path, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    let mut f = std::fs::File::open(path)?;
    let bytes = f.metadata()?.len();
    let mut head = Vec::with_capacity(16);
    (&mut f).take(16).read_to_end(&mut head)?;
    f.seek(SeekFrom::Start(0))?;
    let r = io::BufReader::with_capacity(1 << 20, Reporting::new(f, progress));
    let c = if is_pipe_header(&head) {
        perf_data::collapse_pipe(r, opts, perf_data::read_kallsyms())
    } else {
        perf_data::collapse_reader(r, opts, perf_data::read_kallsyms(), threads)
    };
    profile(c.map(|mut c| {
        c.bytes = bytes;
        c
    }), opts, threads)
}

fn not_perf_data() -> Error {
    Error::Parse { line: 0, msg: "not a perf.data file (it does not start with perf's magic bytes PERFILE2)".into() }
}

/// A pipe-mode header (`perf record -o -`): the magic, then a header size of 16.
fn is_pipe_header(head: &[u8]) -> bool {
    head.len() >= 16 && is_perf_data(head) && (head[8..16] == 16u64.to_le_bytes() || head[8..16] == 16u64.to_be_bytes())
}

/// perf.data in memory (either layout).
pub fn from_perf_data_slice(data: &[u8], opts: &Options, threads: usize) -> Result<Profile> {
    if !is_perf_data(data) {
        return Err(not_perf_data());
    }
    let c = if is_pipe_header(data) {
        perf_data::collapse_pipe(data, opts, perf_data::read_kallsyms())
    } else {
        perf_data::collapse_reader(io::Cursor::new(data), opts, perf_data::read_kallsyms(), threads)
    };
    profile(c.map(|mut c| {
        c.bytes = data.len() as u64;
        c
    }), opts, threads)
}

/// perf.data from a stream whose first bytes (`head`, at least 16 unless the stream is
/// shorter) were already read: a pipe-mode stream (`perf record -o - | ...`) is read as it
/// comes; a file-layout one is read whole first (it needs seeking).
pub fn from_perf_data_read<R: Read>(head: &[u8], r: R, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    if !is_perf_data(head) {
        return Err(not_perf_data());
    }
    let mut r = Reporting::new(io::Cursor::new(head.to_vec()).chain(r), progress);
    if is_pipe_header(head) {
        let c = perf_data::collapse_pipe(io::BufReader::with_capacity(1 << 20, &mut r), opts, perf_data::read_kallsyms());
        let done = r.done;
        return profile(c.map(|mut c| {
            c.bytes = done;
            c
        }), opts, threads);
    }
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    from_perf_data_slice(&all, opts, threads)
}
