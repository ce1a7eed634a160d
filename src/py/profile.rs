//! `Profile`: an immutable, shareable set of folded stacks.

use crate::error::Warning;
use crate::output::folded::Folded;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
            return f.write_all(data).and_then(|()| f.flush());
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
        f.write_all(data)?;
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
        let folded = self.folded.clone();
        let text = py.detach(move || super::guard(|| Ok(folded.to_text()))).map_err(|e| super::to_pyerr(py, e, &super::Stash::default()))?;
        let Some(dest) = dest else {
            return Ok(Some(py_str(py, &text)?.into_any()));
        };
        if dest.is_instance_of::<PyString>() || dest.hasattr("__fspath__")? {
            let path: PathBuf = dest.extract()?;
            py.detach(|| write_atomic(&path, &text)).map_err(|e| super::io_pyerr(py, e, &path))?;
            return Ok(None);
        }
        if dest.hasattr("encoding")? {
            dest.call_method1("write", (py_str(py, &text)?,))?;
        } else {
            dest.call_method1("write", (PyBytes::new(py, &text),))?;
        }
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

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<Profile>() {
            Ok(o) => *self.folded == *o.get().folded,
            Err(_) => false,
        }
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let f = py.import("flamefold._flamefold")?.getattr("read_folded")?;
        let text = PyBytes::new(py, &self.folded.to_text());
        Ok((f, PyTuple::new(py, [text])?))
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
