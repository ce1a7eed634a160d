//! `graph_frames`: the frames of a flame graph, built in Rust from folded stacks, `perf script`
//! text or a Profile, handed to Python (which colours, lays out and writes the SVG) as flat lists.

use super::profile::Profile;
use super::{classify, progress_fn, resolve_threads, with_source, Input, Stash};
use crate::error::{Result, Warning};
use crate::fold::Folded;
use crate::perf::{self, Options};
use crate::perf::is_perf_script;
use crate::tree::{MinWidth, TreeBuilder, TreeOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::io::{Cursor, Read};
use std::sync::Mutex;

/// How much of a stream is looked at to tell `perf script` output from folded stacks.
const SNIFF: usize = 64 << 10;

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
    #[pyo3(get)]
    total: f64,
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

    fn __repr__(&self) -> String {
        format!("<flamefold.GraphFrames: {} frames, total {}>", self.depth.len(), self.total)
    }
}

fn feed_folded(b: &mut TreeBuilder, f: &Folded) {
    for (s, c) in f.iter() {
        b.add_stack(s, None, c as f64);
    }
}

/// Reads one source into the builder: folded text, or `perf script` text collapsed first.
fn feed(b: &mut TreeBuilder, input: Input<'_>, threads: usize, opts: &Options, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<Vec<Warning>> {
    let d: &[u8] = match input {
        Input::Slice(d) => d,
        Input::Mapped(m) => &m[..],
        Input::Reader(r) => return feed_reader(b, r, threads, opts, check),
    };
    if is_perf_script(&d[..d.len().min(SNIFF)]) {
        let c = perf::collapse_slice(d, opts, threads, check)?;
        feed_folded(b, &c.folded);
        Ok(c.warnings)
    } else {
        b.read_slice(d);
        Ok(b.take_warnings())
    }
}

/// A stream: its first 64 KiB tell `perf script` text from folded stacks.
fn feed_reader(b: &mut TreeBuilder, mut r: crate::source::BoxRead<'_>, threads: usize, opts: &Options, check: &(dyn Fn(u64) -> Result<()> + Sync)) -> Result<Vec<Warning>> {
    let mut head = Vec::with_capacity(SNIFF);
    (&mut r).take(SNIFF as u64).read_to_end(&mut head)?;
    let perf_text = is_perf_script(&head);
    let joined = Cursor::new(head).chain(r);
    if perf_text {
        let c = perf::collapse_read(joined, opts, threads, check)?;
        feed_folded(b, &c.folded);
        Ok(c.warnings)
    } else {
        b.read(joined, check)?;
        Ok(b.take_warnings())
    }
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
        if let Ok(p) = source.cast::<Profile>() {
            let folded = p.get().folded().clone();
            py.detach(|| feed_folded(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), &folded));
            continue;
        }
        let src = classify(source)?;
        let stash = Stash::default();
        let check = progress_fn(None, None, &stash);
        let (w, _) = with_source(py, &src, &stash, |input| feed(&mut builder.lock().unwrap_or_else(|e| e.into_inner()), input, threads, &opts, &check))?;
        warnings.extend(w.into_iter().map(|w| (k, w.line, w.msg)));
    }
    let builder = builder.into_inner().unwrap_or_else(|e| e.into_inner());
    let ignored = builder.warnings().1;
    let min = if minwidth_percent { MinWidth::Percent(minwidth) } else { MinWidth::Pixels { px: minwidth, image_width } };
    let f = py.detach(move || builder.finish(min, total));
    Ok(GraphFrames {
        depth: f.depth,
        start: f.start,
        width: f.width,
        name: f.name,
        delta: f.delta,
        diff: f.diff,
        before: f.before,
        names: f.names,
        total: f.total,
        timemax: f.timemax,
        maxdelta: f.maxdelta,
        lines: f.lines,
        ignored,
        warnings,
    })
}
