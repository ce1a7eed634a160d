//! `diff()` and the `Diff` class.

use super::profile::{py_str, Profile};
use super::graph::{source_name, with_stream};
use super::{classify, perf_options, progress_fn, resolve_threads, Stash};
use crate::collapse::perf::Options;
use crate::diff::{self as core_diff, Num, Sides};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use std::sync::Arc;

fn num_py<'py>(py: Python<'py>, n: Num) -> PyResult<Bound<'py, PyAny>> {
    Ok(match n {
        Num::Int(v) => v.into_pyobject(py)?.into_any(),
        Num::Float(v) => v.into_pyobject(py)?.into_any(),
    })
}

/// Reads `obj` into side `k` of `sides`.
fn side(py: Python<'_>, sides: &mut Sides, k: usize, obj: &Bound<'_, PyAny>, threads: usize, opts: &Options) -> PyResult<()> {
    if let Ok(p) = obj.cast::<Profile>() {
        sides.add_folded(k, p.get().folded());
        return Ok(());
    }
    let src = classify(obj)?;
    let name = source_name(obj, &src);
    let stash = Stash::default();
    let check = progress_fn(None, None, &stash);
    if super::is_perf_data_src(py, &src) {
        let mut c = super::perf_profile(py, &src, &stash, opts, threads, &check, Some(&name))?;
        sides.add_folded(k, &crate::output::folded::Folded::take_from(&mut c));
        sides.sides[k].warnings.extend(c.warnings);
        return Ok(());
    }
    let sides = std::sync::Mutex::new(sides);
    with_stream(py, &src, &name, &stash, |r| sides.lock().unwrap_or_else(|e| e.into_inner()).read_auto(k, r, threads, opts, &name, &check))
}

/// Two profiles compared: every stack found in either, with its count before and after (0 where
/// absent), sorted by bytes: difffolded.pl's output. Immutable.
///
/// Get one from `flamefold.diff(before, after, normalize=False, strip_hex=False)`, where each
/// side is a Profile or a path/bytes/file of folded stacks or a capture (`perf script`, DTrace,
/// jstack: collapsed first).
///
/// Main methods: `items()` (the `(stack, before, after)` triples), `top(n, by="delta")` (the
/// stacks that changed most), `to_folded(dest=None)` (the two-column text flamegraph.pl draws
/// as a differential graph), `totals`, `warnings`, `len(d)`; `flamefold.flamegraph(d)` draws it.
#[pyclass(frozen, name = "Diff", module = "flamefold._flamefold")]
pub struct PyDiff {
    d: Arc<core_diff::Diff>,
    warnings: Vec<(u64, String)>,
}

impl PyDiff {
    pub fn inner(&self) -> &core_diff::Diff {
        &self.d
    }

    pub fn shared(&self) -> Arc<core_diff::Diff> {
        self.d.clone()
    }
}

#[pymethods]
impl PyDiff {
    fn __len__(&self) -> usize {
        self.d.len()
    }

    /// `(stack, before, after)` triples, stacks sorted by bytes.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        (0..self.d.len())
            .map(|i| PyTuple::new(py, [py_str(py, &self.d.stack(i))?.into_any(), num_py(py, self.d.before[i])?, num_py(py, self.d.after[i])?]))
            .collect()
    }

    /// `(before total, after total)` (before as normalized, with `normalize=True`).
    #[getter]
    fn totals<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((num_py(py, self.d.totals.0)?, num_py(py, self.d.totals.1)?))
    }

    /// Problems noticed while reading the inputs: `(line, message)` pairs.
    #[getter]
    fn warnings(&self) -> Vec<(u64, String)> {
        self.warnings.clone()
    }

    /// The two-column folded text (`stack before after` lines) that flamegraph.pl draws.
    #[pyo3(signature = (dest=None))]
    fn to_folded<'py>(&self, py: Python<'py>, dest: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(dest) = dest else {
            return Ok(Some(py_str(py, &self.d.to_text())?.into_any()));
        };
        if dest.is_instance_of::<PyString>() || dest.hasattr("__fspath__")? {
            let path: std::path::PathBuf = dest.extract()?;
            // streamed into the file: the text is never all in memory
            let d = &self.d;
            py.detach(|| super::profile::write_atomic_with(&path, |w| d.write_text(crate::output::folded::PIECE, &mut |piece| w.write_all(piece)))).map_err(|e| super::io_pyerr(py, e, &path))?;
            return Ok(None);
        }
        // a file object: a megabyte at a time, so the text is never all in memory
        super::profile::write_file_object(dest, |out| self.d.write_text(crate::output::folded::PIECE, out))?;
        Ok(None)
    }

    /// The `n` stacks that changed most: `by="delta"` (largest growth first), `"-delta"`
    /// (largest shrink first), `"abs"` (largest change either way), `"before"` or `"after"`.
    #[pyo3(signature = (n=10, *, by="delta"))]
    fn top<'py>(&self, py: Python<'py>, n: usize, by: &str) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let d = &self.d;
        let key: Box<dyn Fn(usize) -> f64> = match by {
            "delta" => Box::new(|i| d.after[i].as_f64() - d.before[i].as_f64()),
            "-delta" => Box::new(|i| d.before[i].as_f64() - d.after[i].as_f64()),
            "abs" => Box::new(|i| (d.after[i].as_f64() - d.before[i].as_f64()).abs()),
            "before" => Box::new(|i| d.before[i].as_f64()),
            "after" => Box::new(|i| d.after[i].as_f64()),
            _ => return Err(PyValueError::new_err(format!("by must be one of delta, -delta, abs, before, after; not {by:?}"))),
        };
        let mut idx: Vec<usize> = (0..d.len()).collect();
        idx.sort_by(|&a, &b| key(b).partial_cmp(&key(a)).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
        idx.truncate(n);
        idx.into_iter().map(|i| PyTuple::new(py, [py_str(py, &d.stack(i))?.into_any(), num_py(py, d.before[i])?, num_py(py, d.after[i])?])).collect()
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.Diff: {} stacks>", self.d.len())
    }

    /// The diff of this one's two sides (it made with neither `normalize` nor `strip_hex`) as
    /// `diff()` gives it from two Profiles of those sides. Internal: `compare_html`.
    #[pyo3(signature = (*, normalize=false, strip_hex=false))]
    fn _rediff(&self, py: Python<'_>, normalize: bool, strip_hex: bool) -> PyResult<PyDiff> {
        let stash = Stash::default();
        let d = py.detach(|| super::guard(|| self.d.rediff(normalize, strip_hex))).map_err(|e| super::to_pyerr(py, e, &stash))?;
        Ok(PyDiff { d: Arc::new(d), warnings: Vec::new() })
    }

    /// Side `k` (0: before, 1: after) as a source for `graph_frames`, drawn as the Profile of
    /// that side's stacks would be (whole counts only). Internal: `compare_html`.
    fn _side(&self, k: usize) -> PyResult<DiffSide> {
        if k > 1 {
            return Err(PyValueError::new_err("side must be 0 or 1"));
        }
        if (0..self.d.len()).any(|i| self.d.has(k, i) && matches!(self.d.count(k, i), Num::Float(_))) {
            return Err(PyValueError::new_err("fractional counts: whole numbers only here"));
        }
        Ok(DiffSide { d: self.d.clone(), k })
    }
}

/// One side of a Diff, as a source for `graph_frames` (see `Diff._side`).
#[pyclass(frozen, name = "_DiffSide", module = "flamefold._flamefold")]
pub struct DiffSide {
    d: Arc<core_diff::Diff>,
    k: usize,
}

impl DiffSide {
    /// The side's stacks (byte order), numbered from 0, with their counts (whole: checked when
    /// made).
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8], u64) -> crate::error::Result<()>) -> crate::error::Result<()> {
        let mut stack = Vec::new();
        for (n, i) in (0..self.d.len()).filter(|&i| self.d.has(self.k, i)).enumerate() {
            stack.clear();
            self.d.write_stack(i, &mut stack);
            let Num::Int(c) = self.d.count(self.k, i) else { unreachable!("checked in Diff._side") };
            f(n, &stack, c)?;
        }
        Ok(())
    }
}

/// Compares two profiles (Profiles, or paths/bytes/files of folded stacks or `perf script` text).
/// `_whole` (internal, for `compare_html`): each side is refused as `load_profile` refuses it
/// (a fractional count) as soon as it is read.
#[pyfunction]
#[pyo3(signature = (before, after, /, *, normalize=false, strip_hex=false, threads=None, pid=false, tid=false, kernel=false, jit=false, addrs=false, event_filter=None, _whole=false))]
#[allow(clippy::too_many_arguments)]
pub fn diff(
    py: Python<'_>,
    before: &Bound<'_, PyAny>,
    after: &Bound<'_, PyAny>,
    normalize: bool,
    strip_hex: bool,
    threads: Option<usize>,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    event_filter: Option<String>,
    _whole: bool,
) -> PyResult<PyDiff> {
    let threads = resolve_threads(threads)?;
    let opts = perf_options(pid, tid, kernel, jit, addrs, event_filter);
    // one table of stacks for both sides: the after side is read into the before side's
    let mut sides = Sides::new();
    for (k, src) in [before, after].into_iter().enumerate() {
        side(py, &mut sides, k, src, threads, &opts)?;
        if _whole {
            whole_counts(&sides, k)?;
        }
    }
    let mut warnings: Vec<(u64, String)> = sides.sides[0].warnings.iter().map(|w| (w.line, format!("before: {}", w.msg))).collect();
    warnings.extend(sides.sides[1].warnings.iter().map(|w| (w.line, format!("after: {}", w.msg))));
    let stash = Stash::default();
    let d = py.detach(|| super::guard(|| core_diff::diff(sides, normalize, strip_hex))).map_err(|e| super::to_pyerr(py, e, &stash))?;
    Ok(PyDiff { d: Arc::new(d), warnings })
}

/// Reads a profile from folded stacks or `perf script` text (told apart by the first line).
#[pyfunction]
#[pyo3(signature = (source, /, *, threads=None, pid=false, tid=false, kernel=false, jit=false, addrs=false, event_filter=None))]
#[allow(clippy::too_many_arguments)]
pub fn load_profile(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    threads: Option<usize>,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    event_filter: Option<String>,
) -> PyResult<Profile> {
    if let Ok(p) = source.cast::<Profile>() {
        let p = p.get();
        return Ok(Profile::new((**p.folded()).clone(), Vec::new(), None, 0));
    }
    let threads = resolve_threads(threads)?;
    let mut s = Sides::new();
    side(py, &mut s, 0, source, threads, &perf_options(pid, tid, kernel, jit, addrs, event_filter))?;
    whole_counts(&s, 0)?;
    let [s0, _] = &mut s.sides;
    let mut b = crate::output::folded::FoldedBuilder::default();
    let mut stack = Vec::new();
    for (id, n) in s0.iter() {
        stack.clear();
        s.names.write(id, &mut stack);
        if let Num::Int(v) = n {
            b.push(&stack, v);
        }
    }
    let folded = b.finish().map_err(|_| pyo3::exceptions::PyOverflowError::new_err("count overflow"))?;
    Ok(Profile::new(folded, std::mem::take(&mut s0.warnings), None, 0))
}

/// The error `load_profile` gives for side `k` when a stack's count is not whole (the first
/// such stack in the input's order).
fn whole_counts(s: &Sides, k: usize) -> PyResult<()> {
    match s.sides[k].iter().find(|(_, n)| matches!(n, Num::Float(_))) {
        Some((id, _)) => Err(super::ParseError::new_err(format!("fractional count for stack {}: whole numbers only here", String::from_utf8_lossy(&s.names.get(id))))),
        None => Ok(()),
    }
}
