//! `Profile`: an immutable, shareable set of folded stacks.

use crate::error::Warning;
use crate::fold::Folded;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::io::Write;
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

/// Writes to `path` through a temporary file in the same folder, renamed into place at the end:
/// readers never see a half-written file and an error leaves no file behind.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.flush()?;
        std::fs::rename(&tmp, path)
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
    /// written there instead (a path atomically) and `None` is returned.
    #[pyo3(signature = (dest=None))]
    fn to_folded<'py>(&self, py: Python<'py>, dest: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let folded = self.folded.clone();
        let text = py.detach(move || folded.to_text());
        let Some(dest) = dest else {
            return Ok(Some(py_str(py, &text)?.into_any()));
        };
        if dest.is_instance_of::<PyString>() || dest.hasattr("__fspath__")? {
            let path: PathBuf = dest.extract()?;
            py.detach(|| write_atomic(&path, &text))?;
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
