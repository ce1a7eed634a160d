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

/// Renders at most `max` bytes of a line for a message: bytes that are not UTF-8 as `\xNN`
/// (so the message still says what they were; control characters stay, the CLI escapes them).
pub fn excerpt(line: &[u8], max: usize) -> String {
    use std::fmt::Write as _;
    let cut = &line[..line.len().min(max)];
    let mut s = String::with_capacity(cut.len() + 1);
    for chunk in cut.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    if line.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpt_shows_bytes_that_are_not_utf8() {
        assert_eq!(super::excerpt(b"caf\xc3\xa9 \xff\x1b", 10), "caf\u{e9} \\xff\x1b");
        assert_eq!(super::excerpt(b"abcdef", 3), "abc\u{2026}");
    }
}
