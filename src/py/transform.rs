//! The advanced flame graphs (`crate::transform`): `transform(kind, source)` gives a
//! `Transformed` (the folded stacks, the summary counts, the warnings), `doctor(source)` a
//! `DoctorReport`. Sources, progress, the released GIL and panics are handled as for
//! `collapse_perf`.

use super::profile::{py_str, Profile};
use super::{classify, progress_fn, with_source, Input, Src, Stash};
use crate::error::{Result, Warning};
use crate::output::folded::Folded;
use crate::transform::{self as core, CpiColumns, StackOptions, TransformResult};
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::io::Read;

/// Bytes between two progress calls (each also checks for Ctrl-C).
const PROGRESS_STEP: u64 = 1 << 22;

/// A reader that reports the bytes read so far to `check` every [`PROGRESS_STEP`] bytes.
struct Counting<'a, R> {
    r: R,
    done: u64,
    next: u64,
    check: &'a (dyn Fn(u64) -> Result<()> + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(buf)?;
        self.done += n as u64;
        // every PROGRESS_STEP bytes, and once at the end (all read)
        if self.done >= self.next || (n == 0 && !buf.is_empty() && self.next != u64::MAX) {
            if n == 0 {
                self.next = u64::MAX;
            }
            self.next = self.next.max(self.done + PROGRESS_STEP);
            (self.check)(self.done).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(n)
    }
}

/// The input's size when known and uncompressed (progress's total: bytes of text).
fn text_size(src: &Src, py: Python<'_>) -> Option<u64> {
    match src {
        Src::Path(p) => {
            let mut head = [0u8; 4];
            let mut f = std::fs::File::open(p).ok()?;
            let m = f.metadata().ok().filter(|m| m.is_file())?;
            let n = f.read(&mut head).ok()?;
            (!crate::input::source::is_compressed(&head[..n])).then_some(m.len())
        }
        Src::Bytes(b) => {
            let d = b.bind(py).cast::<PyBytes>().ok()?.as_bytes();
            (!crate::input::source::is_compressed(d)).then_some(d.len() as u64)
        }
        Src::File(_) => None,
    }
}

/// Runs `work` over the source's text (decompressed), with progress and Ctrl-C checks.
fn run<T: Send>(py: Python<'_>, source: &Bound<'_, PyAny>, progress: Option<Py<PyAny>>, work: impl Fn(&mut dyn Read) -> Result<T> + Send + Sync) -> PyResult<T> {
    let src = classify(source)?;
    let stash = Stash::default();
    let total = text_size(&src, py);
    let prog = progress_fn(progress.as_ref(), total, &stash);
    // Ctrl-C or a failing callback end the work with an io error; the error converted is then
    // the one they stashed (KeyboardInterrupt, the callback's)
    let (out, _) = with_source(py, &src, &stash, |input| match input {
        Input::Slice(d) => work(&mut Counting { r: d, done: 0, next: PROGRESS_STEP, check: &prog }),
        Input::Reader(r) => work(&mut Counting { r, done: 0, next: PROGRESS_STEP, check: &prog }),
    })?;
    Ok(out)
}

/// What a transform gave: `stack count` lines (CPI: two counts), summary counts and warnings.
#[pyclass(frozen, name = "Transformed", module = "flamefold._flamefold")]
pub struct Transformed {
    kind: &'static str,
    depth: usize,
    r: TransformResult,
}

fn warnings_py(w: &[Warning]) -> Vec<(u64, String)> {
    w.iter().map(|w| (w.line, w.msg.clone())).collect()
}

fn overflow(stack: Vec<u8>) -> PyErr {
    PyOverflowError::new_err(format!("count overflow for stack {}", String::from_utf8_lossy(&stack)))
}

#[pymethods]
impl Transformed {
    /// `offcpu`, `hotcold`, `wakeup` or `cpi`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// Waker segments per stack (wakeup: 1 off-wake, more: a chain graph; 1 for the others).
    #[getter]
    fn depth(&self) -> usize {
        self.depth
    }

    /// The folded text as the transform wrote it (sorted by bytes).
    #[getter]
    fn folded<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.r.folded)
    }

    /// Named counts (µs totals, intervals, unclosed ...), in the transform's order.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.r.summary {
            d.set_item(*k, *v)?;
        }
        Ok(d)
    }

    /// `(line, message)` pairs; line 0: a note about the whole capture.
    #[getter]
    fn warnings(&self) -> Vec<(u64, String)> {
        warnings_py(&self.r.warnings)
    }

    /// Whether each line has two counts (CPI).
    #[getter]
    fn two_counts(&self) -> bool {
        self.r.two_counts
    }

    /// The sum of the last column.
    #[getter]
    fn total(&self) -> u128 {
        self.r.total()
    }

    /// The stacks as a Profile (one-count transforms), with the warnings.
    fn profile(&self) -> PyResult<Profile> {
        if self.r.two_counts {
            return Err(PyValueError::new_err("two counts a line: see columns()"));
        }
        let f = self.r.to_folded().ok_or_else(|| PyOverflowError::new_err("a count does not fit in 64 bits"))?;
        Ok(Profile::new(f, self.r.warnings.clone(), None, 0))
    }

    /// Each count column as a Profile (stacks with a zero count there left out): CPI's
    /// `(first, second)` as ordered by its `columns`.
    fn columns(&self) -> PyResult<(Profile, Profile)> {
        let mut cols: [Vec<(&[u8], u64)>; 2] = Default::default();
        for l in self.r.folded.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let mut it = l.rsplitn(3, |&b| b == b' ');
            let (b, a) = (it.next(), it.next());
            let (Some(b), Some(a), Some(stack)) = (b, a, it.next()) else { return Err(PyValueError::new_err("one count a line: see profile()")) };
            for (k, c) in [a, b].into_iter().enumerate() {
                let c: u64 = std::str::from_utf8(c).ok().and_then(|c| c.parse().ok()).ok_or_else(|| PyValueError::new_err("a count is not a whole number"))?;
                if c > 0 {
                    cols[k].push((stack, c));
                }
            }
        }
        let [a, b] = cols;
        let a = Folded::from_pairs(a).map_err(overflow)?;
        let b = Folded::from_pairs(b).map_err(overflow)?;
        Ok((Profile::new(a, self.r.warnings.clone(), None, 0), Profile::new(b, Vec::new(), None, 0)))
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.Transformed {}: {} stacks, total {}>", self.kind, self.r.folded.iter().filter(|&&b| b == b'\n').count(), self.r.total())
    }
}

fn states_bytes(states: Option<String>) -> PyResult<Option<Vec<u8>>> {
    let Some(s) = states else { return Ok(None) };
    let letters: Vec<u8> = s.bytes().filter(|c| !matches!(c, b',' | b' ' | b'|')).collect();
    if letters.is_empty() || !letters.iter().all(u8::is_ascii_alphabetic) {
        return Err(PyValueError::new_err(format!("states must be prev_state letters such as \"S,D\", not {s:?}")));
    }
    Ok(Some(letters))
}

const KINDS: [&str; 4] = ["offcpu", "hotcold", "wakeup", "cpi"];

/// Runs one of the folded-stack transforms: `offcpu`, `hotcold`, `wakeup` (`depth` waker
/// segments: 1 off-wake, more: a chain graph) or `cpi`. Options a kind does not take must stay
/// at their defaults.
#[pyfunction]
#[pyo3(signature = (kind, source, /, *, states=None, min_us=0, depth=1, on_event="cpu-clock", cycles_event="cycles", instructions_event="instructions", columns="cycles-instructions", pid=false, tid=false, kernel=false, jit=false, addrs=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn transform(
    py: Python<'_>,
    kind: &str,
    source: &Bound<'_, PyAny>,
    states: Option<String>,
    min_us: u64,
    depth: usize,
    on_event: &str,
    cycles_event: &str,
    instructions_event: &str,
    columns: &str,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Transformed> {
    let stacks = StackOptions { pid, tid, kernel, jit, addrs };
    let states = states_bytes(states)?;
    let mut unused = Vec::new();
    let mut not_for = |name: &str, default: bool| {
        if !default {
            unused.push(name.to_string());
        }
    };
    let Some(kind) = KINDS.into_iter().find(|k| *k == kind) else {
        return Err(PyValueError::new_err(format!("unknown transform {kind:?} (offcpu, hotcold, wakeup or cpi)")));
    };
    not_for("depth", depth == 1 || kind == "wakeup");
    not_for("on_event", on_event == "cpu-clock" || kind == "hotcold");
    for (n, v, d) in [("cycles_event", cycles_event, "cycles"), ("instructions_event", instructions_event, "instructions"), ("columns", columns, "cycles-instructions")] {
        not_for(n, v == d || kind == "cpi");
    }
    not_for("states", states.is_none() || kind != "cpi");
    not_for("min_us", min_us == 0 || kind != "cpi");
    if !unused.is_empty() {
        return Err(PyValueError::new_err(format!("{kind} does not take {}", unused.join(", "))));
    }
    if depth == 0 {
        return Err(PyValueError::new_err("depth must be at least 1"));
    }
    let columns = match columns {
        "cycles-instructions" => CpiColumns::CyclesInstructions,
        "instructions-cycles" => CpiColumns::InstructionsCycles,
        _ => return Err(PyValueError::new_err(format!("columns must be \"cycles-instructions\" or \"instructions-cycles\", not {columns:?}"))),
    };
    let r = match kind {
        "offcpu" => {
            let o = core::OffcpuOptions { stacks, states, min_us };
            run(py, source, progress, |r| core::offcpu(r, &o))?
        }
        "hotcold" => {
            let o = core::HotcoldOptions { stacks, on_event: on_event.as_bytes().to_vec(), states, min_us };
            run(py, source, progress, |r| core::hotcold(r, &o))?
        }
        "wakeup" => {
            let o = core::WakeupOptions { stacks, depth, states, min_us };
            run(py, source, progress, |r| core::wakeup(r, &o))?
        }
        _ => {
            let o = core::CpiOptions { stacks, cycles_event: cycles_event.as_bytes().to_vec(), instructions_event: instructions_event.as_bytes().to_vec(), columns };
            run(py, source, progress, |r| core::cpi(r, &o))?
        }
    };
    Ok(Transformed { kind, depth, r })
}

/// The stack doctor's report (see `crate::transform::doctor`).
#[pyclass(frozen, name = "DoctorReport", module = "flamefold._flamefold")]
pub struct DoctorReport {
    r: core::DoctorReport,
}

fn table<'py>(py: Python<'py>, v: &[(Vec<u8>, u64, u64)]) -> PyResult<Vec<(Bound<'py, pyo3::types::PyString>, u64, u64)>> {
    v.iter().map(|(k, f, s)| Ok((py_str(py, k)?, *f, *s))).collect()
}

#[pymethods]
impl DoctorReport {
    /// Samples examined.
    #[getter]
    fn samples(&self) -> u64 {
        self.r.samples
    }

    /// Samples with no frame at all.
    #[getter]
    fn no_stack(&self) -> u64 {
        self.r.no_stack
    }

    /// Samples with at least one `[unknown]` frame.
    #[getter]
    fn with_unknown(&self) -> u64 {
        self.r.with_unknown
    }

    /// `(module, unknown frames, samples)`, most samples first.
    #[getter]
    fn unknown_by_module<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, pyo3::types::PyString>, u64, u64)>> {
        table(py, &self.r.unknown_by_module)
    }

    /// File-backed modules with unnamed frames: `(module, frames, samples)`.
    #[getter]
    fn missing_symbols<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, pyo3::types::PyString>, u64, u64)>> {
        table(py, &self.r.missing_symbols)
    }

    /// Samples with a frame counted in `missing_symbols`.
    #[getter]
    fn with_missing_symbols(&self) -> u64 {
        self.r.with_missing_symbols
    }

    /// Samples with JIT frames lacking a perf map.
    #[getter]
    fn jit_unmapped(&self) -> u64 {
        self.r.jit_unmapped
    }

    /// `(process, frames, samples)` of the JIT frames lacking a perf map.
    #[getter]
    fn jit_by_process<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, pyo3::types::PyString>, u64, u64)>> {
        table(py, &self.r.jit_by_process)
    }

    /// Samples with `[unknown]` frames in no module outside JIT processes.
    #[getter]
    fn garbage(&self) -> u64 {
        self.r.garbage
    }

    /// Samples whose outermost frame is no thread root.
    #[getter]
    fn broken(&self) -> u64 {
        self.r.broken
    }

    /// `(outermost frame, samples)` of the broken stacks.
    #[getter]
    fn broken_by_outermost<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, pyo3::types::PyString>, u64)>> {
        self.r.broken_by_outermost.iter().map(|(k, n)| Ok((py_str(py, k)?, *n))).collect()
    }

    /// Samples whose outermost frame is a kernel entry (no user-space frame).
    #[getter]
    fn kernel_entry_roots(&self) -> u64 {
        self.r.kernel_entry_roots
    }

    /// Samples with `max_stack` frames or more.
    #[getter]
    fn at_limit(&self) -> u64 {
        self.r.at_limit
    }

    #[getter]
    fn max_stack(&self) -> usize {
        self.r.max_stack
    }

    /// The problems found, each with its fix.
    #[getter]
    fn findings(&self) -> Vec<Finding> {
        self.r.findings.iter().map(|f| Finding { kind: f.kind.to_string(), samples: f.samples, what: f.what.clone(), fix: f.fix.clone() }).collect()
    }

    /// The report as text (`render(10)`).
    #[getter]
    fn text(&self) -> String {
        self.r.render(10)
    }

    /// Lines that could not be read: `(line, message)`.
    #[getter]
    fn warnings(&self) -> Vec<(u64, String)> {
        warnings_py(&self.r.warnings)
    }

    /// The report as text, `top` rows per table.
    #[pyo3(signature = (top=10))]
    fn render(&self, top: usize) -> String {
        self.r.render(top)
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.DoctorReport: {} samples, {} findings>", self.r.samples, self.r.findings.len())
    }
}

/// One problem the doctor found: `kind` (`missing_symbols`, `jit_without_map`,
/// `garbage_frames`, `broken_stacks`, `truncated_stacks`, `no_stacks`), the samples concerned,
/// what it is and the fix.
#[pyclass(frozen, get_all, eq, skip_from_py_object, name = "Finding", module = "flamefold._flamefold")]
#[derive(Clone, PartialEq, Eq)]
pub struct Finding {
    kind: String,
    samples: u64,
    what: String,
    fix: String,
}

#[pymethods]
impl Finding {
    fn __repr__(&self) -> String {
        format!("<flamefold.Finding {}: {} samples>", self.kind, self.samples)
    }
}

/// Examines a capture's stacks: unknown frames, missing symbols, JIT frames without a map,
/// broken and truncated stacks (`event`: only that event's samples).
#[pyfunction]
#[pyo3(signature = (source, /, *, max_stack=127, event=None, progress=None))]
pub fn doctor(py: Python<'_>, source: &Bound<'_, PyAny>, max_stack: usize, event: Option<String>, progress: Option<Py<PyAny>>) -> PyResult<DoctorReport> {
    if max_stack == 0 {
        return Err(PyValueError::new_err("max_stack must be at least 1"));
    }
    let o = core::DoctorOptions { max_stack, event: event.map(String::into_bytes) };
    let r = run(py, source, progress, |r| core::doctor(r, &o))?;
    Ok(DoctorReport { r })
}

/// Folded stacks of one event (`event`, else the first seen) weighed by `weight`: `"bytes"` (the
/// size its trace data gives, see `crate::transform::weighted`) or `"count"` (1 a sample, as
/// `collapse_perf`). A `Transformed` of kind `weighted`; summary `samples`, `weight`, `unsized`,
/// `other_events`.
#[pyfunction]
#[pyo3(signature = (source, /, *, weight="bytes", event=None, pid=false, tid=false, kernel=false, jit=false, addrs=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn weighted(py: Python<'_>, source: &Bound<'_, PyAny>, weight: &str, event: Option<String>, pid: bool, tid: bool, kernel: bool, jit: bool, addrs: bool, progress: Option<Py<PyAny>>) -> PyResult<Transformed> {
    let weight = match weight {
        "bytes" => core::Weight::Bytes,
        "count" => core::Weight::Count,
        _ => return Err(PyValueError::new_err(format!("weight must be \"bytes\" or \"count\", not {weight:?}"))),
    };
    let o = core::WeightedOptions { stacks: StackOptions { pid, tid, kernel, jit, addrs }, event: event.map(String::into_bytes), weight };
    let r = run(py, source, progress, |r| core::weighted(r, &o))?;
    Ok(Transformed { kind: "weighted", depth: 1, r })
}

/// Adds this module's names to the native module's `__all__`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let all = m.getattr("__all__")?;
    for name in ["DoctorReport", "Finding", "Transformed", "doctor", "transform", "weighted"] {
        all.call_method1("append", (name,))?;
    }
    Ok(())
}
