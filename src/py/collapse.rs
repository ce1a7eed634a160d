//! `collapse` (every text format, sniffed or forced) and `collapse_perf` (perf script only).

use super::profile::Profile;
use super::{classify, progress_fn, resolve_threads, with_source, Input, Src, Stash};
use crate::collapse::dtrace::Dtrace;
use crate::collapse::jstack::Jstack;
use crate::collapse::perf::Options;
use crate::input::sniff::{Kind, SNIFF};
use crate::output::folded::Folded;
use crate::profile::formats::{self, FormatOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// What `format=` names: a kind, or `None` for `auto`.
fn parse_format(format: &str) -> PyResult<Option<Kind>> {
    Ok(Some(match format {
        "auto" => return Ok(None),
        "perf" => Kind::PerfScript,
        "perf-data" => Kind::PerfData,
        "dtrace" => Kind::Dtrace,
        "jstack" => Kind::Jstack,
        "folded" => Kind::Folded,
        _ => return Err(PyValueError::new_err(format!("unknown format {format:?} (one of auto, perf, perf-data, dtrace, jstack, folded)"))),
    }))
}

/// What a run gives: a collapsed profile, or folded stacks read.
enum Out {
    Collapsed(crate::profile::Profile),
    Folded(Folded, Vec<crate::Warning>),
}

impl Out {
    fn into_py(self) -> Profile {
        match self {
            Out::Collapsed(mut c) => Profile::new(Folded::take_from(&mut c), std::mem::take(&mut c.warnings), c.kept_event.take(), c.dropped),
            Out::Folded(f, w) => Profile::new(f, w, None, 0),
        }
    }
}

/// Collapses `source` as `kind` (`None`: told from its first 64 KiB) into a Python Profile.
fn run(py: Python<'_>, source: &Bound<'_, PyAny>, kind: Option<Kind>, opts: &FormatOptions, threads: Option<usize>, progress: Option<Py<PyAny>>) -> PyResult<Profile> {
    let threads = resolve_threads(threads)?;
    let src = classify(source)?;
    if kind == Some(Kind::Folded) {
        return super::read_folded_src(py, src);
    }
    let stash = Stash::default();
    let total = match &src {
        Src::Path(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
        _ => None,
    };
    let prog = progress_fn(progress.as_ref(), total, &stash);
    // perf.data (its magic bytes) is read directly, `collapse_perf`'s forced `perf` too: a file
    // by seeking in it, bytes in memory
    if matches!(kind, None | Some(Kind::PerfData | Kind::PerfScript)) && super::is_perf_data_src(py, &src) {
        return Ok(Out::Collapsed(super::perf_profile(py, &src, &stash, &opts.perf, threads, &prog, None)?).into_py());
    }
    let (out, _) = with_source(py, &src, &stash, |input| match input {
        Input::Slice(d) => match kind.unwrap_or_else(|| crate::collapse::sniff(&d[..d.len().min(SNIFF)])) {
            Kind::Folded => crate::output::folded::read_folded(d).map(|(f, w)| Out::Folded(f, w)),
            k => formats::from_slice(k, d, opts, threads, &prog).map(Out::Collapsed),
        },
        Input::Reader(r) => {
            let (k, r) = match kind {
                // a stream from `perf record -o -` where `perf` text was asked for
                Some(Kind::PerfScript) => {
                    let (k, joined) = crate::collapse::sniff_read(r)?;
                    (if k == Kind::PerfData { k } else { Kind::PerfScript }, Box::new(joined) as crate::input::source::BoxRead<'_>)
                }
                Some(k) => (k, r),
                None => {
                    let (k, joined) = crate::collapse::sniff_read(r)?;
                    (k, Box::new(joined) as crate::input::source::BoxRead<'_>)
                }
            };
            match k {
                Kind::Folded => crate::output::folded::read_folded(r).map(|(f, w)| Out::Folded(f, w)),
                k => formats::from_read(k, r, opts, threads, &prog).map(Out::Collapsed),
            }
        }
    })?;
    Ok(out.into_py())
}

/// Collapses a capture of any text format into folded stacks: `perf script` text
/// (stackcollapse-perf.pl's rules and options), DTrace stacks (stackcollapse.pl's, with
/// `includeoffset`), jstack thread dumps (stackcollapse-jstack.pl's, with `include_tname`,
/// `include_tid`, `shorten_pkgs`) or folded stacks (read and merged). `format="auto"` tells
/// them apart by the first 64 KiB; `perf`, `dtrace`, `jstack`, `folded` force one. A binary
/// perf.data file (`perf-data`, found by its magic bytes under `auto` and `perf` too) is read
/// directly, symbols resolved on this machine as `perf script` resolves them.
#[pyfunction]
#[pyo3(signature = (source, /, *, format="auto", threads=None, progress=None, pid=false, tid=false, kernel=false, jit=false, addrs=false, inline=false, context=false, srcline=false, event_filter=None, includeoffset=false, include_tname=true, include_tid=false, shorten_pkgs=false))]
#[allow(clippy::too_many_arguments)]
pub fn collapse(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    format: &str,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    inline: bool,
    context: bool,
    srcline: bool,
    event_filter: Option<String>,
    includeoffset: bool,
    include_tname: bool,
    include_tid: bool,
    shorten_pkgs: bool,
) -> PyResult<Profile> {
    let kind = parse_format(format)?;
    let opts = FormatOptions {
        perf: Options { pid, tid, kernel, jit, addrs, inline, context, srcline, event_filter: event_filter.map(String::into_bytes) },
        dtrace: Dtrace { includeoffset },
        jstack: Jstack { include_tname, include_tid, shorten_pkgs },
    };
    run(py, source, kind, &opts, threads, progress)
}

/// Collapses `perf script` output into folded stacks (stackcollapse-perf.pl's rules).
#[pyfunction]
#[pyo3(signature = (source, /, *, pid=false, tid=false, kernel=false, jit=false, addrs=false, inline=false, context=false, srcline=false, event_filter=None, threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn collapse_perf(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    pid: bool,
    tid: bool,
    kernel: bool,
    jit: bool,
    addrs: bool,
    inline: bool,
    context: bool,
    srcline: bool,
    event_filter: Option<String>,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Profile> {
    // `collapse` with the format forced (its DTrace and jstack options unused)
    collapse(py, source, "perf", threads, progress, pid, tid, kernel, jit, addrs, inline, context, srcline, event_filter, false, true, false, false)
}
