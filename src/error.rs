//! The one error type of the core. No PyO3 here: `py/` converts it.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum Error {
    /// Reading the input (or writing the output) failed.
    Io(io::Error),
    /// The input cannot be read as the expected format; `line` is 1-based.
    Parse { line: u64, msg: String },
    /// A count no longer fits in 64 bits.
    Overflow { what: String },
    /// A bad option value (unknown event, bad thread count, ...).
    Usage(String),
    /// The caller asked to stop (Ctrl-C).
    Cancelled,
    /// A bug: a panic caught at the binding boundary (the message of the panic).
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Parse { line, msg } => write!(f, "line {line}: {msg}"),
            Error::Overflow { what } => write!(f, "count overflow: {what} exceeds 2^64-1"),
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Cancelled => write!(f, "cancelled"),
            Error::Internal(msg) => write!(f, "internal error: {msg} (please report)"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// A problem in one line that did not stop the run: the rest of the input still counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line number in the (decompressed) input; 0 when the warning is not about a line.
    pub line: u64,
    pub msg: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.msg)
        } else {
            write!(f, "{}", self.msg)
        }
    }
}

/// Renders at most `max` bytes of a line for a message, lossily as UTF-8.
pub fn excerpt(line: &[u8], max: usize) -> String {
    let cut = &line[..line.len().min(max)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if line.len() > max {
        s.push('…');
    }
    s
}
