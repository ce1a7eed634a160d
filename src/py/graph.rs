//! `graph_frames`: the frames of a flame graph, built in Rust from folded stacks, `perf script`
//! text or a Profile, handed to Python as flat lists; `GraphFrames.svg_frames` writes their SVG
//! elements (svg.py writes the document around them).

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
use crate::tree::svg::{write_frames, Attrs, Colors, Style};
use crate::tree::{Frames, MinWidth, TreeBuilder, TreeOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Mutex;

/// `--nameattr` of one name as svg.py hands it over: opening `<g ...>`, title, link.
type AttrTuple = (String, Option<String>, Option<String>);

/// The frames to draw as parallel lists (drawing order: parents first), and their name table.
#[pyclass(frozen, name = "GraphFrames", module = "flamefold._flamefold")]
pub struct GraphFrames {
    f: Frames,
    /// Lines ignored as not `stack count`.
    #[pyo3(get)]
    ignored: u64,
    /// `(source index, line, message)`; line 0 is not about one line.
    #[pyo3(get)]
    warnings: Vec<(usize, u64, String)>,
}

#[pymethods]
impl GraphFrames {
    #[getter]
    fn depth(&self) -> Vec<u32> {
        self.f.depth.clone()
    }

    #[getter]
    fn start(&self) -> Vec<f64> {
        self.f.start.clone()
    }

    #[getter]
    fn width(&self) -> Vec<f64> {
        self.f.width.clone()
    }

    #[getter]
    fn name(&self) -> Vec<u32> {
        self.f.name.clone()
    }

    #[getter]
    fn delta(&self) -> Vec<f64> {
        self.f.delta.clone()
    }

    #[getter]
    fn diff(&self) -> Vec<bool> {
        self.f.diff.clone()
    }

    /// Differential frames: the first column's samples under each frame.
    #[getter]
    fn before(&self) -> Vec<f64> {
        self.f.before.clone()
    }

    #[getter]
    fn timemax(&self) -> f64 {
        self.f.timemax
    }

    #[getter]
    fn maxdelta(&self) -> f64 {
        self.f.maxdelta
    }

    /// Lines used.
    #[getter]
    fn lines(&self) -> u64 {
        self.f.lines
    }

    /// The deepest frame's depth (0 when only the root is drawn).
    #[getter]
    fn depthmax(&self) -> u32 {
        self.f.depth.iter().copied().max().unwrap_or(0)
    }

    /// The frame names (invalid UTF-8 shown as U+FFFD).
    #[getter]
    fn names(&self) -> Vec<String> {
        self.f.names.iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect()
    }

    fn __len__(&self) -> usize {
        self.f.depth.len()
    }

    /// The sum of the counts (of the second column of a differential input): an exact int
    /// when it is whole, else a float.
    #[getter]
    fn total<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.f.total_fixed;
        if t.is_multiple_of(SCALE) {
            Ok((t / SCALE).into_pyobject(py)?.into_any())
        } else {
            Ok(crate::input::folded::fixed_f64(t).into_pyobject(py)?.into_any())
        }
    }

    /// Per frame, its samples as exact ints (the root's: the sum of the counts, even when a
    /// larger `total` widens it), or None when some count has a fraction (then see `width`).
    #[getter]
    fn counts(&self) -> Option<Vec<u64>> {
        whole(&self.f.count)
    }

    /// Like `counts`, for `before`.
    #[getter]
    fn before_counts(&self) -> Option<Vec<u64>> {
        whole(&self.f.before_count)
    }

    /// The `<g>` elements of all frames, as svg.py lays them out (see `tree::svg::Style`):
    /// coloured by `palette` (with `hash`), or by `colors` (one per name, or per frame when
    /// `per_frame`); `attrs`: per name, `--nameattr`'s (opening `<g ...>`, title, link).
    #[pyo3(signature = (*, xpad, wpt, factor, charw, truncate_left, ys, tys, hs, unit, pct, total_given, negate, palette, hash, colors=None, per_frame=false, attrs=None))]
    #[allow(clippy::too_many_arguments)]
    fn svg_frames(
        &self,
        py: Python<'_>,
        xpad: f64,
        wpt: f64,
        factor: f64,
        charw: f64,
        truncate_left: bool,
        ys: Vec<String>,
        tys: Vec<String>,
        hs: String,
        unit: String,
        pct: f64,
        total_given: bool,
        negate: bool,
        palette: String,
        hash: bool,
        colors: Option<Vec<String>>,
        per_frame: bool,
        attrs: Option<Vec<Option<AttrTuple>>>,
    ) -> String {
        let style = Style { xpad, wpt, factor, charw, truncate_left, ys, tys, hs, unit, pct, total_given, negate };
        let colors = match colors {
            None => Colors::Palette { palette, hash },
            Some(v) if per_frame => Colors::PerFrame(v),
            Some(v) => Colors::PerName(v),
        };
        let attrs: Vec<Option<Attrs>> = attrs.unwrap_or_default().into_iter().map(|a| a.map(|(g, title, link)| Attrs { g, title, link })).collect();
        py.detach(|| {
            let mut out = String::with_capacity(self.f.depth.len() * 160);
            write_frames(&self.f, &style, &colors, &attrs, &mut out);
            out
        })
    }

    /// A frame's colour by `palette` (flamegraph.pl's, as palettes.frame_color computes it
    /// without palette.map or random colours): `(r, g, b)`, or None for an unknown palette.
    #[staticmethod]
    #[pyo3(signature = (palette, name, hash=false))]
    fn frame_color(palette: &str, name: &str, hash: bool) -> Option<(u32, u32, u32)> {
        crate::tree::colors::frame_color(palette, name, hash)
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.GraphFrames: {} frames, total {}>", self.f.depth.len(), crate::input::folded::fixed_f64(self.f.total_fixed))
    }
}

/// Fixed-point values as whole numbers, if they all are.
fn whole(v: &[u128]) -> Option<Vec<u64>> {
    v.iter().map(|&x| x.is_multiple_of(SCALE).then_some((x / SCALE) as u64)).collect()
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

/// Cores not busy with other tasks right now (at least 1, at most `cores`): the running tasks
/// of /proc/loadavg, less this one.
fn idle_cores(cores: usize) -> usize {
    let Ok(text) = std::fs::read_to_string("/proc/loadavg") else { return cores };
    let running = text.split_whitespace().nth(3).and_then(|f| f.split('/').next()).and_then(|r| r.parse::<usize>().ok());
    running.map_or(cores, |r| cores.saturating_sub(r.saturating_sub(1)).clamp(1, cores))
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
    let auto = threads.is_none() && std::env::var_os("FLAMEFOLD_THREADS").is_none_or(|v| v.is_empty());
    let threads = resolve_threads(threads)?;
    // the tree's builder gets a reading thread only when a core is free for it (the output is
    // the same either way; on a busy machine the second thread costs more than it gives)
    let tree_threads = if auto { threads.min(idle_cores(threads)) } else { threads };
    let builder = Mutex::new(TreeBuilder::new(TreeOptions { reverse, flamechart, chain, threads: tree_threads }));
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
    Ok(GraphFrames { f, ignored, warnings })
}
