//! `Profile`: an immutable, shareable set of folded stacks.

use crate::error::Warning;
use crate::output::folded::Folded;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Folded stacks: each distinct stack (`frame;frame;...`, root first) with its count, sorted by
/// bytes, plus what the collapse noticed (`event`, `dropped`, `warnings`). Immutable.
///
/// Get one from `flamefold.collapse(capture)` (any format), `collapse_perf`, `collapse_many`,
/// `read_folded(path_or_bytes)`, or `flamefold.distributed.collapse(paths)`.
///
/// Main methods: `items()` (the `(stack, count)` pairs), `to_folded(dest=None)` (the folded
/// text, or written to a file), `to_speedscope(dest=None, name=None)` (speedscope JSON);
/// `total`, `len(p)`. Profiles merge with `+` (counts of equal stacks add up), so
/// `sum(profiles)` works; they compare with `==`, pickle with their metadata, and a notebook
/// shows one as its flame graph.
#[pyclass(frozen, name = "Profile", module = "flamefold._flamefold")]
pub struct Profile {
    folded: Arc<Folded>,
    warnings: Vec<Warning>,
    event: Option<Vec<u8>>,
    dropped: u128,
}

/// A `str` for bytes that may not be UTF-8 (invalid bytes become surrogates, reversibly).
pub(crate) fn py_str<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyString>> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s)),
        Err(_) => PyString::from_encoded_object(&PyBytes::new(py, b), Some(c"utf-8"), Some(c"surrogateescape")),
    }
}

/// Writes what `produce` hands out, piece by piece (each ending at a line's end, so no
/// character is split), to a Python file object: a text one (it has `encoding`) gets `str`s,
/// a binary one `bytes`, and a raw one that takes part of a piece is given the rest.
pub(crate) fn write_file_object(dest: &Bound<'_, PyAny>, produce: impl FnOnce(&mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()>) -> PyResult<()> {
    let py = dest.py();
    let text_mode = dest.hasattr("encoding")?;
    let mut failed = None;
    let write = |piece: &[u8]| -> PyResult<()> {
        if text_mode {
            dest.call_method1("write", (py_str(py, piece)?,))?;
            return Ok(());
        }
        let mut rest = piece;
        while !rest.is_empty() {
            let r = dest.call_method1("write", (PyBytes::new(py, rest),))?;
            match r.extract::<usize>() {
                Ok(n) if n > 0 && n < rest.len() => rest = &rest[n..],
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the file took none of the data").into()),
                _ => break,
            }
        }
        Ok(())
    };
    let res = produce(&mut |piece| {
        write(piece).map_err(|e| {
            failed = Some(e);
            io::Error::other("write failed")
        })
    });
    match (failed, res) {
        (Some(e), _) => Err(e),
        (None, r) => Ok(r?),
    }
}

/// Follows `path` while it is a symbolic link (the last component only: a folder that is a link
/// changes nothing for a rename inside it). The result may not exist.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::from_raw_os_error(40)) // ELOOP
}

/// Writes `data` to `path` without damaging what is there. A regular file (or a new one) is
/// replaced whole: the data goes to a temporary file in the target's real folder, which takes
/// the old file's mode and owner (a new file: 0666 less the umask) and is renamed over it, so
/// readers never see half a file, a symbolic link stays a link to the new content, and an error
/// leaves the old file and no temporary behind. Anything else (a FIFO, a device such as
/// /dev/null, a socket) is opened and written through: never replaced by a regular file.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(data))
}

/// [`write_atomic`] with the data written by `write` (to a file: it may write piece by piece).
pub(crate) fn write_atomic_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let real = follow_links(path)?;
    let old = match std::fs::metadata(&real) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(m) = &old {
        if m.is_dir() {
            return Err(io::Error::from_raw_os_error(21)); // EISDIR
        }
        if !m.is_file() {
            let mut f = std::fs::OpenOptions::new().write(true).open(&real)?;
            return write(&mut f).and_then(|()| f.flush());
        }
    }
    let dir = real.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    // a new file gets 0666 less the umask from the kernel; a replacement starts private
    let mode = if old.is_some() { 0o600 } else { 0o666 };
    let mut tmp = PathBuf::new();
    let mut file = None;
    for n in 0..100u32 {
        tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp) {
            Ok(f) => {
                file = Some(f);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    let Some(mut f) = file else { return Err(io::Error::from_raw_os_error(17)) }; // EEXIST
    let res = (|| {
        write(&mut f)?;
        f.flush()?;
        if let Some(m) = &old {
            // as root the owner is kept too (chown clears set-id bits: the mode comes after)
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
        drop(f);
        std::fs::rename(&tmp, &real)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

impl Profile {
    pub fn new(folded: Folded, warnings: Vec<Warning>, event: Option<Vec<u8>>, dropped: u128) -> Self {
        Profile { folded: Arc::new(folded), warnings, event, dropped }
    }

    pub fn folded(&self) -> &Arc<Folded> {
        &self.folded
    }
}

#[pymethods]
impl Profile {
    /// Sum of all counts.
    #[getter]
    fn total(&self) -> u128 {
        self.folded.total()
    }

    /// The event whose samples were kept (`None` when the input named no event).
    #[getter]
    fn event<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.event.as_deref().map(|e| py_str(py, e)).transpose()
    }

    /// Summed weight of the samples of other events, left out by the event filter.
    #[getter]
    fn dropped(&self) -> u128 {
        self.dropped
    }

    /// Problems noticed while reading: a list of `(line, message)`; line 0 is not about a line.
    #[getter]
    fn warnings(&self) -> Vec<(u64, String)> {
        self.warnings.iter().map(|w| (w.line, w.msg.clone())).collect()
    }

    fn __len__(&self) -> usize {
        self.folded.len()
    }

    /// `(stack, count)` pairs in output order (stacks sorted by their bytes).
    fn items(&self) -> ProfileItems {
        ProfileItems { folded: self.folded.clone(), next: 0 }
    }

    /// The folded text (`stack count` lines). With `dest` (a path, or a file object) it is
    /// written there instead (a path is replaced whole, or written through if it is a FIFO or device) and `None` is returned.
    #[pyo3(signature = (dest=None))]
    fn to_folded<'py>(&self, py: Python<'py>, dest: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let folded = &self.folded;
        let Some(dest) = dest else {
            let text = py.detach(|| super::guard(|| Ok(folded.to_text()))).map_err(|e| super::to_pyerr(py, e, &super::Stash::default()))?;
            return Ok(Some(py_str(py, &text)?.into_any()));
        };
        if dest.is_instance_of::<PyString>() || dest.hasattr("__fspath__")? {
            let path: PathBuf = dest.extract()?;
            // streamed into the file a megabyte at a time: the text is never all in memory
            py.detach(|| write_atomic_with(&path, |w| folded.write_pieces(crate::output::folded::PIECE, &mut |piece| w.write_all(piece)))).map_err(|e| super::io_pyerr(py, e, &path))?;
            return Ok(None);
        }
        // a file object: a megabyte at a time, so the text is never all in memory
        write_file_object(dest, |out| folded.write_pieces(crate::output::folded::PIECE, out))?;
        Ok(None)
    }

    fn __add__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<Profile>() else { return Ok(py.NotImplemented().into_bound(py)) };
        let other = other.get();
        let merged = self.folded.merge(&other.folded).map_err(|s| PyOverflowError::new_err(format!("count overflow when merging stack {}", String::from_utf8_lossy(&s))))?;
        let mut warnings = self.warnings.clone();
        warnings.extend(other.warnings.iter().cloned());
        let event = if self.event == other.event { self.event.clone() } else { None };
        Ok(Bound::new(py, Profile::new(merged, warnings, event, self.dropped + other.dropped))?.into_any())
    }

    /// `0 + profile` is the profile, so `sum(profiles)` works.
    fn __radd__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let zero = other.extract::<i64>().is_ok_and(|v| v == 0) && !other.is_instance_of::<pyo3::types::PyBool>();
        if zero {
            return Ok(slf.clone().into_any());
        }
        match other.cast::<Profile>() {
            Ok(o) => Profile::__add__(o.get(), slf.as_any()),
            Err(_) => Ok(py.NotImplemented().into_bound(py)),
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<Profile>() {
            Ok(o) => *self.folded == *o.get().folded,
            Err(_) => false,
        }
    }

    /// Pickles the stacks (zstd-compressed, level 1, the GIL released) with `event`, `dropped`
    /// and `warnings`, through `_profile_from_parts`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let f = py.import("flamefold._flamefold")?.getattr("_profile_from_parts")?;
        let folded = self.folded.clone();
        let data = py.detach(move || encode_parts(&folded)).map_err(|e| super::to_pyerr(py, e.into(), &super::Stash::default()))?;
        let event = self.event.as_deref().map(|e| PyBytes::new(py, e));
        let args = (PyBytes::new(py, &data), self.warnings(), event, self.dropped);
        Ok((f, args.into_pyobject(py)?))
    }

    /// The stacks as speedscope JSON (`bytes`): one "sampled" profile, each stack a sample
    /// weighted by its count, frames shared (https://www.speedscope.app/file-format-schema.json).
    /// `name` names the profile (the input file, say). With `dest` (a path, or a binary file
    /// object) it is written there instead (a path is replaced whole, or written through if it
    /// is a FIFO or device) and `None` is returned. The GIL is released while rendering.
    #[pyo3(signature = (dest=None, *, name=None))]
    fn to_speedscope<'py>(&self, py: Python<'py>, dest: Option<&Bound<'py, PyAny>>, name: Option<String>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let folded = self.folded.clone();
        let opts = crate::output::speedscope::SpeedscopeOptions { name: name.unwrap_or_default(), ..Default::default() };
        let stash = super::Stash::default();
        let data = py
            .detach(move || {
                super::guard(|| {
                    let p = folded.to_profile();
                    let mut out = Vec::with_capacity(folded.len() * 16 + 256);
                    crate::output::speedscope::write_speedscope(&mut out, p.frames(), p.stacks(), &opts)?;
                    Ok(out)
                })
            })
            .map_err(|e| super::to_pyerr(py, e, &stash))?;
        let Some(dest) = dest else {
            return Ok(Some(PyBytes::new(py, &data)));
        };
        if dest.is_instance_of::<PyString>() || dest.hasattr("__fspath__")? {
            let path: PathBuf = dest.extract()?;
            py.detach(|| write_atomic(&path, &data)).map_err(|e| super::io_pyerr(py, e, &path))?;
        } else if dest.hasattr("encoding")? {
            dest.call_method1("write", (py_str(py, &data)?,))?;
        } else {
            dest.call_method1("write", (PyBytes::new(py, &data),))?;
        }
        Ok(None)
    }

    /// A notebook shows a Profile as its flame graph (drawn by `flamefold.graph`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.py().import("flamefold.graph")?.getattr("_repr_html")?.call1((slf,))?.extract()
    }

    fn __repr__(&self) -> String {
        format!("<flamefold.Profile: {} stacks, total {}>", self.folded.len(), self.folded.total())
    }
}

#[pyclass(name = "ProfileItems", module = "flamefold._flamefold")]
pub struct ProfileItems {
    folded: Arc<Folded>,
    next: usize,
}

#[pymethods]
impl ProfileItems {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyString>, u64)>> {
        if self.next >= self.folded.len() {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        Ok(Some((py_str(py, self.folded.stack(i))?, self.folded.count(i))))
    }

    fn __len__(&self) -> usize {
        self.folded.len() - self.next
    }
}

/// A Folded as the bytes `__reduce__` ships: zstd (level 1) of the stack count, the stacks'
/// ends and counts (u64 little-endian each) and the stacks' text.
fn encode_parts(f: &Folded) -> io::Result<Vec<u8>> {
    let (text, ends, counts) = f.parts();
    let mut raw = Vec::with_capacity(8 + ends.len() * 16 + text.len());
    raw.extend_from_slice(&(ends.len() as u64).to_le_bytes());
    for &e in ends {
        raw.extend_from_slice(&(e as u64).to_le_bytes());
    }
    for &c in counts {
        raw.extend_from_slice(&c.to_le_bytes());
    }
    raw.extend_from_slice(text);
    zstd::bulk::compress(&raw, 1)
}

/// The inverse of [`encode_parts`]; `None` for bytes it did not make.
fn decode_parts(data: &[u8]) -> Option<Folded> {
    let raw = zstd::stream::decode_all(data).ok()?;
    let word = |i: usize| -> Option<u64> { Some(u64::from_le_bytes(raw.get(i * 8..i * 8 + 8)?.try_into().ok()?)) };
    let n = usize::try_from(word(0)?).ok()?;
    let body = n.checked_mul(16)?.checked_add(8)?;
    if body > raw.len() {
        return None;
    }
    let ends = (0..n).map(|i| word(1 + i).and_then(|e| usize::try_from(e).ok())).collect::<Option<Vec<usize>>>()?;
    let counts = (0..n).map(|i| word(1 + n + i)).collect::<Option<Vec<u64>>>()?;
    Folded::from_parts(raw[body..].to_vec(), ends, counts)
}

/// Rebuilds a pickled Profile (see `Profile.__reduce__`): private.
#[pyfunction]
#[pyo3(signature = (data, warnings, event, dropped, /))]
pub fn _profile_from_parts(py: Python<'_>, data: &[u8], warnings: Vec<(u64, String)>, event: Option<Vec<u8>>, dropped: u128) -> PyResult<Profile> {
    let folded = py.detach(|| decode_parts(data)).ok_or_else(|| pyo3::exceptions::PyValueError::new_err("not a pickled flamefold Profile"))?;
    let warnings = warnings.into_iter().map(|(line, msg)| Warning { line, msg }).collect();
    Ok(Profile::new(folded, warnings, event, dropped))
}
