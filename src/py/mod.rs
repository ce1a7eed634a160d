//! The Python bindings: the only place that knows about PyO3. Logic stays in the core; this
//! converts arguments, releases the GIL for the long work, and maps errors.

mod collapse;
mod diff;
mod graph;
mod profile;
mod transform;

use crate::error::Error;
use crate::collapse::perf::Options;
use crate::input::source;
use profile::Profile;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

create_exception!(flamefold, ParseError, PyValueError, "The input cannot be read as the expected format; `.line` is the 1-based line number (0 if unknown).");
create_exception!(flamefold, InternalError, PyRuntimeError, "A bug in flamefold (a Rust panic, caught): the message says where; please report it.");

/// The first panic message (with its place) seen by the quiet panic hook while a `guard` runs.
static PANIC_NOTE: Mutex<Option<String>> = Mutex::new(None);
/// How many `guard`s are running (a panic outside them is PyO3's to report).
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Replaces Rust's panic hook, which prints a backtrace hint to stderr: the panic is reported
/// once, as an `InternalError`, by `guard`.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = payload_text(info.payload());
        let note = match info.location() {
            Some(l) => format!("{msg} at {}:{}", l.file(), l.line()),
            None => msg,
        };
        let mut g = PANIC_NOTE.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() && GUARDS.load(Ordering::SeqCst) > 0 {
            *g = Some(note);
        }
    }));
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// `FLAMEFOLD_TEST_PANIC=1` (or `thread`: in a worker thread) makes every guarded call panic:
/// the tests' way to check that a panic reaches Python as an `InternalError`.
fn test_panic() {
    match std::env::var_os("FLAMEFOLD_TEST_PANIC") {
        Some(v) if v == "thread" => std::thread::scope(|s| {
            let h = s.spawn(|| panic!("FLAMEFOLD_TEST_PANIC in a worker thread"));
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        }),
        Some(v) if !v.is_empty() => panic!("FLAMEFOLD_TEST_PANIC"),
        _ => {}
    }
}

/// Runs core work so that a panic (in this thread, or a worker's re-raised by a scope) becomes
/// `Error::Internal` (a Python `flamefold.InternalError`) instead of a `PanicException`, which
/// `except Exception` misses. Every binding's released-GIL work should run under it.
pub(crate) fn guard<T>(f: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    GUARDS.fetch_add(1, Ordering::SeqCst);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        test_panic();
        f()
    }));
    let note = if res.is_err() || GUARDS.load(Ordering::SeqCst) == 1 { PANIC_NOTE.lock().unwrap_or_else(|p| p.into_inner()).take() } else { None };
    GUARDS.fetch_sub(1, Ordering::SeqCst);
    match res {
        Ok(r) => r,
        // the hook's note has the place; a scope's re-raise carries only the payload
        Err(payload) => Err(Error::Internal(note.unwrap_or_else(|| payload_text(payload.as_ref())))),
    }
}

/// An io error about `path` as a Python `OSError` (the errno's subclass, `FileNotFoundError`
/// ...) whose `filename` is the path and `strerror` the system's message without "(os error N)".
pub(crate) fn io_pyerr(py: Python<'_>, e: io::Error, path: &Path) -> PyErr {
    let name = match profile::py_str(py, path.as_os_str().as_bytes()) {
        Ok(n) => n,
        Err(err) => return err,
    };
    // "is a directory" found by a metadata check carries no errno: it is EISDIR
    const EISDIR: i32 = 21;
    let code = e.raw_os_error().or_else(|| (e.kind() == io::ErrorKind::IsADirectory).then_some(EISDIR));
    match code {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text.strip_suffix(&format!(" (os error {code})")).unwrap_or(&text).to_string();
            PyOSError::new_err((code, text, name.unbind()))
        }
        // no errno (a file that shrank, corrupt gzip data, ...): OSError(None, message, filename)
        None => PyOSError::new_err((py.None(), e.to_string(), name.unbind())),
    }
}

/// Where a PyErr raised inside released-GIL work waits until the work returns.
#[derive(Default)]
pub(crate) struct Stash(Mutex<Option<PyErr>>);

impl Stash {
    fn put(&self, e: PyErr) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(e);
        }
    }

    fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Converts a core error; an error raised by Python code during the work comes first.
pub(crate) fn to_pyerr(py: Python<'_>, e: Error, stash: &Stash) -> PyErr {
    to_pyerr_at(py, e, stash, None)
}

/// `to_pyerr` for work on the file at `path`: its io errors name the file (`OSError.filename`).
pub(crate) fn to_pyerr_at(py: Python<'_>, e: Error, stash: &Stash, path: Option<&Path>) -> PyErr {
    if let Some(err) = stash.take() {
        return err;
    }
    match e {
        Error::Io(e) => match path {
            Some(p) => io_pyerr(py, e, p),
            None => e.into(),
        },
        Error::Parse { line, msg } => {
            let err = ParseError::new_err(if line == 0 { msg } else { format!("line {line}: {msg}") });
            let _ = err.value(py).setattr("line", line);
            err
        }
        Error::Overflow { .. } => PyOverflowError::new_err(e.to_string()),
        Error::Usage(msg) => PyValueError::new_err(msg),
        Error::Cancelled => PyKeyboardInterrupt::new_err("cancelled"),
        Error::Internal(_) => InternalError::new_err(e.to_string()),
    }
}

/// A Python binary file object read from Rust threads (the GIL is taken for each read).
struct PyReader<'a> {
    obj: Py<PyAny>,
    stash: &'a Stash,
}

impl Read for PyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| -> PyResult<usize> {
            let data = self.obj.bind(py).call_method1("read", (buf.len(),))?;
            if let Ok(b) = data.cast::<PyBytes>() {
                let b = b.as_bytes();
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                Ok(n)
            } else if let Ok(b) = data.cast::<PyByteArray>() {
                let v = b.to_vec();
                let n = v.len().min(buf.len());
                buf[..n].copy_from_slice(&v[..n]);
                Ok(n)
            } else if data.is_none() {
                Ok(0)
            } else {
                Err(PyTypeError::new_err("the file object must be opened in binary mode ('rb'): read() gave no bytes"))
            }
        })
        .map_err(|e| {
            self.stash.put(e);
            io::Error::other("reading the Python file object failed")
        })
    }
}

/// A source argument: a path, bytes, or a binary file object.
pub(crate) enum Src {
    Path(PathBuf),
    Bytes(Py<PyAny>),
    File(Py<PyAny>),
}

pub(crate) fn classify(obj: &Bound<'_, PyAny>) -> PyResult<Src> {
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Src::Bytes(obj.clone().unbind()));
    }
    if obj.is_instance_of::<PyByteArray>() || obj.hasattr("tobytes")? {
        let b = PyBytes::new(obj.py(), &obj.extract::<Vec<u8>>().or_else(|_| obj.call_method0("tobytes")?.extract::<Vec<u8>>())?);
        return Ok(Src::Bytes(b.into_any().unbind()));
    }
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return Ok(Src::Path(obj.extract::<PathBuf>()?));
    }
    if obj.hasattr("read")? {
        return Ok(Src::File(obj.clone().unbind()));
    }
    Err(PyTypeError::new_err(format!("expected a path, bytes or a binary file object, not {}", obj.get_type().name()?)))
}

/// Runs `work` on a decompressing reader (or the bytes themselves) with the GIL released.
pub(crate) fn with_source<T: Send>(
    py: Python<'_>,
    src: &Src,
    stash: &Stash,
    work: impl Fn(Input<'_>) -> crate::Result<T> + Send + Sync,
) -> PyResult<(T, Option<u64>)> {
    let res = match src {
        Src::Path(p) => py.detach(|| {
            guard(|| -> crate::Result<(T, Option<u64>)> {
                let (r, size) = source::open_path(p)?;
                Ok((work(Input::Reader(r))?, size))
            })
        }),
        Src::Bytes(b) => {
            let data: &[u8] = b.bind(py).cast::<PyBytes>()?.as_bytes();
            let size = Some(data.len() as u64);
            py.detach(|| {
                guard(|| -> crate::Result<(T, Option<u64>)> {
                    if source::is_compressed(data) {
                        Ok((work(Input::Reader(source::decoding(data)?))?, size))
                    } else {
                        Ok((work(Input::Slice(data))?, size))
                    }
                })
            })
        }
        Src::File(f) => {
            let reader = PyReader { obj: f.clone_ref(py), stash };
            py.detach(|| guard(|| -> crate::Result<(T, Option<u64>)> { Ok((work(Input::Reader(source::decoding(reader)?))?, None)) }))
        }
    };
    let path = match src {
        Src::Path(p) => Some(p.as_path()),
        _ => None,
    };
    res.map_err(|e| to_pyerr_at(py, e, stash, path))
}

pub(crate) enum Input<'a> {
    Slice(&'a [u8]),
    Reader(source::BoxRead<'a>),
}

/// stackcollapse-perf's options for `perf script` input met by graph and diff.
pub(crate) fn perf_options(pid: bool, tid: bool, kernel: bool, jit: bool, addrs: bool, event_filter: Option<String>) -> Options {
    Options { pid, tid, kernel, jit, addrs, event_filter: event_filter.map(String::into_bytes), ..Options::default() }
}

fn default_threads() -> PyResult<usize> {
    if let Ok(v) = std::env::var("FLAMEFOLD_THREADS") {
        if !v.trim().is_empty() {
            return v.trim().parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| PyValueError::new_err(format!("FLAMEFOLD_THREADS must be a positive whole number, not {v:?}")));
        }
    }
    Ok(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

pub(crate) fn resolve_threads(threads: Option<usize>) -> PyResult<usize> {
    match threads {
        Some(0) => Err(PyValueError::new_err("threads must be at least 1")),
        Some(n) => Ok(n),
        None => default_threads(),
    }
}

/// Calls `progress(done, total)` from the reading thread and checks for Ctrl-C.
fn progress_fn<'a>(callback: Option<&'a Py<PyAny>>, total: Option<u64>, stash: &'a Stash) -> impl Fn(u64) -> crate::Result<()> + Sync + 'a {
    move |done: u64| {
        Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = callback {
                cb.bind(py).call1((done, total))?;
            }
            Ok(())
        })
        .map_err(|e| {
            stash.put(e);
            Error::Cancelled
        })
    }
}

/// Whether a path or bytes source is perf.data (its magic bytes): graph and diff collapse it
/// with [`perf_profile`] first.
pub(crate) fn is_perf_data_src(py: Python<'_>, src: &Src) -> bool {
    match src {
        Src::Path(path) => path.extension().is_none_or(|e| e != "gz" && e != "zst") && crate::profile::is_perf_data_path(path),
        Src::Bytes(b) => b.bind(py).cast::<PyBytes>().is_ok_and(|b| crate::collapse::perf_data::is_perf_data(b.as_bytes())),
        Src::File(_) => false,
    }
}

/// `perf script` text, or perf.data (found by its magic bytes: a file, a capture in memory,
/// or a stream from `perf record -o -`) read directly, collapsed with the GIL released.
/// `name`: how a path is named in a parse error (graph and diff name their inputs).
pub(crate) fn perf_profile(py: Python<'_>, src: &Src, stash: &Stash, opts: &Options, threads: usize, prog: crate::collapse::Progress<'_>, name: Option<&str>) -> PyResult<crate::profile::Profile> {
    use crate::profile as p;
    if let Src::Path(path) = src {
        if is_perf_data_src(py, src) {
            return py
                .detach(|| guard(|| p::from_perf_data_path(path, opts, threads, prog)))
                .map_err(|e| match (e, name) {
                    (Error::Parse { line: 0, msg }, Some(n)) => Error::Parse { line: 0, msg: format!("{n}: {msg}") },
                    (e, _) => e,
                })
                .map_err(|e| to_pyerr_at(py, e, stash, Some(path)));
        }
    }
    let (c, _) = with_source(py, src, stash, |input| match input {
        Input::Slice(d) if crate::collapse::perf_data::is_perf_data(d) => p::from_perf_data_slice(d, opts, threads),
        Input::Slice(d) => p::from_perf_slice(d, opts, threads, prog),
        Input::Reader(mut r) => {
            let mut head = Vec::with_capacity(16);
            (&mut r).take(16).read_to_end(&mut head)?;
            if crate::collapse::perf_data::is_perf_data(&head) {
                p::from_perf_data_read(&head, r, opts, threads, prog)
            } else {
                p::from_perf_read(io::Cursor::new(head).chain(r), opts, threads, prog)
            }
        }
    })?;
    Ok(c)
}

/// Reads folded stacks (`frame;frame;... count` lines) from a path, bytes or a binary file.
#[pyfunction]
#[pyo3(signature = (source, /))]
fn read_folded(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Profile> {
    read_folded_src(py, classify(source)?)
}

/// `read_folded` of a classified source.
fn read_folded_src(py: Python<'_>, src: Src) -> PyResult<Profile> {
    let stash = Stash::default();
    if let Src::Path(p) = &src {
        // streamed through a bounded buffer (never mapped), binary input refused
        let (f, w) = py.detach(|| guard(|| crate::output::folded::read_folded_path(p))).map_err(|e| to_pyerr_at(py, e, &stash, Some(p)))?;
        return Ok(Profile::new(f, w, None, 0));
    }
    let ((f, w), _) = with_source(py, &src, &stash, |input| match input {
        Input::Slice(d) => crate::output::folded::read_folded(d),
        Input::Reader(r) => crate::output::folded::read_folded(r),
    })?;
    Ok(Profile::new(f, w, None, 0))
}

#[pymodule]
mod _flamefold {
    #[pymodule_export]
    use super::collapse::{collapse, collapse_perf};
    #[pymodule_export]
    use super::diff::{diff, load_profile, DiffSide, PyDiff};
    #[pymodule_export]
    use super::graph::{graph_frames, GraphFrames};
    #[pymodule_export]
    use super::profile::{Profile, ProfileItems, _profile_from_parts};
    #[pymodule_export]
    use super::read_folded;
    #[pymodule_export]
    use super::transform::{doctor, transform, weighted, DoctorReport, Finding, Transformed};
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        // collapse_perf, graph_frames and diff read perf.data (its magic bytes) directly
        m.add("PERF_DATA", true)?;
        m.add("ParseError", m.py().get_type::<super::ParseError>())?;
        m.add("InternalError", m.py().get_type::<super::InternalError>())?;
        super::quiet_panics();
        m.add("__all__", vec!["Diff", "GraphFrames", "InternalError", "ParseError", "Profile", "ProfileItems", "collapse", "collapse_perf", "diff", "graph_frames", "load_profile", "read_folded"])?;
        super::transform::register(m)?;
        Ok(())
    }
}
