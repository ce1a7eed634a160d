//! `graph_frames`: the frames of a flame graph, built in Rust from folded stacks, `perf script`
//! text or a Profile, handed to Python (which colours, lays out and writes the SVG) as flat lists.

use super::profile::Profile;
use super::{classify, progress_fn, resolve_threads, to_pyerr, with_source, Input, ParseError, Src, Stash};
use crate::error::{Error, Result, Warning};
use crate::diff::{Diff, Num};
use crate::collapse::perf::Options;
use crate::input::folded::{count_fixed, SCALE};
use crate::input::sniff::Kind;
use crate::profile::formats::FormatOptions;
use crate::output::folded::Folded;
use crate::input::source::BoxRead;
use crate::tree::{MinWidth, TreeBuilder, TreeOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Mutex;

/// The frames to draw as parallel lists (drawing order: parents first), and their name table.
#[pyclass(frozen, name = "GraphFrames", module = "flamefold._flamefold")]
pub struct GraphFrames {
    #[pyo3(get)]
    depth: Vec<u32>,
    #[pyo3(get)]
    start: Vec<f64>,
    #[pyo3(get)]
    width: Vec<f64>,
    #[pyo3(get)]
    name: Vec<u32>,
    #[pyo3(get)]
    delta: Vec<f64>,
    #[pyo3(get)]
    diff: Vec<bool>,
    /// Differential frames: the first column's samples under each frame.
    #[pyo3(get)]
    before: Vec<f64>,
    names: Vec<Vec<u8>>,
    /// The sum of the counts, exact (fixed point, see `folded::SCALE`).
    total_fixed: u128,
    /// Per frame, exact `width` and `before` (fixed point).
    count: Vec<u128>,
    before_count: Vec<u128>,
    #[pyo3(get)]
    timemax: f64,
    #[pyo3(get)]
    maxdelta: f64,
    /// Lines used.
    #[pyo3(get)]
    lines: u64,
    /// Lines ignored as not `stack count`.
    #[pyo3(get)]
    ignored: u64,
    /// `(source index, line, message)`; line 0 is not about one line.
    #[pyo3(get)]
    warnings: Vec<(usize, u64, String)>,
}

#[pymethods]
impl GraphFrames {
    /// The frame names (invalid UTF-8 shown as U+FFFD).
    #[getter]
    fn names(&self) -> Vec<String> {
        self.names.iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect()
    }

    fn __len__(&self) -> usize {
        self.depth.len()
    }

    /// The sum of the counts (of the second column of a differential input): an exact int
    /// when it is whole, else a float.
    #[getter]
    fn total<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.total_fixed;
        if t % SCALE == 0 {
            Ok((t / SCALE).into_pyobject(py)?.into_any())
        } else {
            Ok(crate::input::folded::fixed_f64(t).into_pyobject(py)?.into_any())
        }
    }

    /// Per frame, its samples as exact ints (the root's: the sum of the counts, even when a
    /// larger `total` widens it), or None when some count has a fraction (then see `width`).
    #[getter]
    fn counts(&self) -> Option<Vec<u64>> {
        whole(&self.count)
    }

    /// Like `counts`, for `before`.
    #[getter]
    fn before_counts(&self) -> Option<Vec<u64>> {
        whole(&self.before_count)
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.GraphFrames: {} frames, total {}>", self.depth.len(), crate::input::folded::fixed_f64(self.total_fixed))
    }
}

/// Fixed-point values as whole numbers, if they all are.
fn whole(v: &[u128]) -> Option<Vec<u64>> {
    v.iter().map(|&x| (x % SCALE == 0).then(|| (x / SCALE) as u64)).collect()
}

fn feed_folded(b: &mut TreeBuilder, f: &Folded, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<()> {
    for (k, (s, c)) in f.iter().enumerate() {
        if k % (1 << 16) == 0 {
            check(k as u64)?;
        }
        b.add_whole(s, c);
    }
    Ok(())
}

/// A count of a diff in fixed point: as the diff's text gives it (so a graph of a Diff and of
/// its `difffolded` text are the same); a float the text writes with an exponent, converted.
fn num_fixed(n: Num, buf: &mut Vec<u8>) -> Result<u128> {
    match n {
        Num::Int(v) => Ok(u128::from(v) * SCALE),
        Num::Float(f) => {
            buf.clear();
            n.write(buf);
            if let Ok(v) = count_fixed(buf) {
                return Ok(v);
            }
            if (0.0..18446744073709551616.0).contains(&f) {
                Ok((f * SCALE as f64) as u128)
            } else {
                Err(Error::Overflow { what: format!("the count {} of the diff", String::from_utf8_lossy(buf)) })
            }
        }
    }
}

/// A Diff, as its two-column text would be read, without writing the text.
fn feed_diff(b: &mut TreeBuilder, d: &Diff, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<()> {
    let (mut buf, mut stack) = (Vec::new(), Vec::new());
    for i in 0..d.len() {
        if i % (1 << 16) == 0 {
            check(i as u64)?;
        }
        let before = num_fixed(d.before[i], &mut buf)?;
        let after = num_fixed(d.after[i], &mut buf)?;
        stack.clear();
        d.write_stack(i, &mut stack);
        b.add_stack(&stack, Some(before), after);
    }
    Ok(())
}

/// Reads one source into the builder: folded text, or a capture (`perf script` text, DTrace
/// stacks, jstack dumps, a perf.data stream) collapsed first, told apart by its first 64 KiB;
/// other binary input is refused, naming `name`.
fn feed(b: &mut TreeBuilder, r: BoxRead<'_>, threads: usize, opts: &Options, check: &(dyn Fn(u64) -> Result<()> + Sync), name: &str) -> Result<Vec<Warning>> {
    match crate::collapse::perf_data::sniffed_capture(r, name)? {
        (Kind::Folded, joined) => {
            b.read(joined, check)?;
            Ok(b.take_warnings())
        }
        (kind, joined) => {
            let mut c = crate::profile::formats::from_read(kind, joined, &FormatOptions::perf(opts.clone()), threads, check)?;
            feed_folded(b, &Folded::take_from(&mut c), check)?;
            Ok(c.warnings)
        }
    }
}

/// How a source is named in messages: its path, a file object's `name`, or `<bytes>`.
pub(crate) fn source_name(obj: &Bound<'_, PyAny>, src: &Src) -> String {
    match src {
        Src::Path(p) if p.as_os_str() == "/dev/stdin" => "<stdin>".into(),
        Src::Path(p) => p.display().to_string(),
        Src::Bytes(_) => "<bytes>".into(),
        Src::File(_) => obj.getattr("name").ok().and_then(|n| n.extract::<String>().ok()).unwrap_or_else(|| "<input>".into()),
    }
}

/// Converts a core error about the source `name`: a parse error of a file names the file
/// (`FILE: line N: ...`); one not about a line (line 0) is its message alone.
pub(crate) fn source_err(py: Python<'_>, e: Error, src: &Src, name: &str, stash: &Stash) -> PyErr {
    if let Some(err) = stash.take() {
        return err;
    }
    match e {
        Error::Parse { line, msg } => {
            let text = match (line, src) {
                (0, _) => msg,
                (_, Src::Path(_)) => format!("{name}: line {line}: {msg}"),
                _ => format!("line {line}: {msg}"),
            };
            let err = ParseError::new_err(text);
            let _ = err.value(py).setattr("line", line);
            err
        }
        // an OS error on a file: OSError(errno, strerror, filename), so it names the file
        Error::Io(e) => match src {
            Src::Path(p) => super::io_pyerr(py, e, p),
            _ => to_pyerr(py, Error::Io(e), stash),
        },
        e => to_pyerr(py, e, stash),
    }
}

/// Runs `work` on a stream of the source with the GIL released. A path is opened here and read
/// a block at a time through a bounded buffer (never mapped: memory does not grow with the
/// file, and a file that shrinks meanwhile cannot crash the process); gzip/zstd decompressed.
pub(crate) fn with_stream<T: Send>(
    py: Python<'_>,
    src: &Src,
    name: &str,
    stash: &Stash,
    work: impl Fn(BoxRead<'_>) -> Result<T> + Send + Sync,
) -> PyResult<T> {
    let res = match src {
        Src::Path(p) => py.detach(|| {
            super::guard(|| -> Result<T> {
                let f = std::fs::File::open(p)?;
                if f.metadata()?.is_dir() {
                    return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, format!("{} is a directory", p.display())).into());
                }
                work(crate::input::source::decoding(f)?)
            })
        }),
        _ => with_source(py, src, stash, |input| {
            Ok(work(match input {
                Input::Slice(d) => Box::new(d),
                Input::Reader(r) => r,
            }))
        })?
        .0,
    };
    res.map_err(|e| source_err(py, e, src, name, stash))
}

/// Builds the frames of a flame graph from a list of sources (Profiles, paths, bytes or binary
/// files; folded stacks or `perf script` output, gzip/zstd too), merged as one input.
#[pyfunction]
#[pyo3(signature = (sources, /, *, reverse=false, flamechart=false, chain=false, minwidth=0.1, minwidth_percent=false, image_width=1180.0, total=None, threads=None, pid=false, tid=false, kernel=false, jit=false, addrs=false, event_filter=None))]
#[allow(clippy::too_many_arguments)]
pub fn graph_frames(
    py: Python<'_>,
    sources: Vec<Bound<'_, PyAny>>,
    reverse: bool,
    flamechart: bool,
    chain: bool,
    minwidth: f64,
    minwidth_percent: bool,
    image_width: f64,
    total: Option<f64>,
    threads: Option<usize>,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    event_filter: Option<String>,
) -> PyResult<GraphFrames> {
    let opts = super::perf_options(pid, tid, kernel, jit, addrs, event_filter);
    if !(minwidth >= 0.0 && minwidth.is_finite()) {
        return Err(PyValueError::new_err(format!("minwidth must be a number of pixels or a percentage, not {minwidth}")));
    }
    let threads = resolve_threads(threads)?;
    let builder = Mutex::new(TreeBuilder::new(TreeOptions { reverse, flamechart, chain, threads }));
    let mut warnings = Vec::new();
    for (k, source) in sources.iter().enumerate() {
        let stash = Stash::default();
        let check = progress_fn(None, None, &stash);
        if let Ok(p) = source.cast::<Profile>() {
            let folded = p.get().folded().clone();
            py.detach(|| super::guard(|| feed_folded(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), &folded, &check))).map_err(|e| to_pyerr(py, e, &stash))?;
            continue;
        }
        if let Ok(side) = source.cast::<super::diff::DiffSide>() {
            let side = side.get();
            py.detach(|| {
                super::guard(|| {
                    let mut b = builder.lock().unwrap_or_else(|e| e.into_inner());
                    side.for_each(|i, stack, c| {
                        if i % (1 << 16) == 0 {
                            check(i as u64)?;
                        }
                        b.add_whole(stack, c);
                        Ok(())
                    })
                })
            })
            .map_err(|e| to_pyerr(py, e, &stash))?;
            continue;
        }
        if let Ok(d) = source.cast::<super::diff::PyDiff>() {
            let d = d.get().shared();
            py.detach(|| super::guard(|| feed_diff(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), &d, &check))).map_err(|e| to_pyerr(py, e, &stash))?;
            continue;
        }
        let src = classify(source)?;
        if super::is_perf_data_src(py, &src) {
            let mut c = super::perf_profile(py, &src, &stash, &opts, threads, &check, Some(&source_name(source, &src)))?;
            let folded = Folded::take_from(&mut c);
            py.detach(|| super::guard(|| feed_folded(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), &folded, &check))).map_err(|e| to_pyerr(py, e, &stash))?;
            warnings.extend(c.warnings.into_iter().map(|w| (k, w.line, w.msg)));
            continue;
        }
        let name = source_name(source, &src);
        let w = with_stream(py, &src, &name, &stash, |r| feed(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), r, threads, &opts, &check, &name))?;
        warnings.extend(w.into_iter().map(|w| (k, w.line, w.msg)));
    }
    let builder = builder.into_inner().unwrap_or_else(|e| e.into_inner());
    let ignored = builder.warnings().1;
    let min = if minwidth_percent { MinWidth::Percent(minwidth) } else { MinWidth::Pixels { px: minwidth, image_width } };
    let stash = Stash::default();
    let check = progress_fn(None, None, &stash);
    let f = py.detach(|| super::guard(|| builder.finish_checked(min, total, &check))).map_err(|e| to_pyerr(py, e, &stash))?;
    Ok(GraphFrames {
        depth: f.depth,
        start: f.start,
        width: f.width,
        name: f.name,
        delta: f.delta,
        diff: f.diff,
        before: f.before,
        names: f.names,
        total_fixed: f.total_fixed,
        count: f.count,
        before_count: f.before_count,
        timemax: f.timemax,
        maxdelta: f.maxdelta,
        lines: f.lines,
        ignored,
        warnings,
    })
}
