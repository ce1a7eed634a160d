//! The one chunker: cuts input (a stream, or bytes in memory) into large chunks of whole lines
//! at places where the format says a record may start, so parallel workers never share a record.
//! Where no such place is near (a record longer than the line limit, or text with no boundaries
//! at all), a stream is cut at a line end and the next chunk is marked as continuing it.
//! Independent of every format: the boundary is a predicate the format supplies.

use std::io::{self, Read};

/// Default chunk size handed to a worker: small enough that a chunk read from the page cache
/// is still in the core's L2 cache when it is parsed, beside the collapser's own caches (1 MiB
/// was 5% slower on a real capture), large enough that the reading lock is rarely contended.
pub const CHUNK: usize = 1 << 18;

/// The longest line accepted, in bytes (without its line end). perf script lines are far
/// shorter: a frame line is an address, a symbol and a module path, a few hundred bytes even for
/// long C++ or Rust symbols (the longest in the corpus is under 2 KiB); only trace data of
/// tracepoints gets long, and perf caps that too. A longer "line" means the input is not perf
/// script text (binary data, a file of NUL bytes): it is an error naming the line, and the
/// stream reader never buffers more than a chunk plus this limit.
pub const MAX_LINE: usize = 1 << 20;

/// Whether a complete line (no `\n`) is blank: spaces, tabs, `\r`, vertical tabs, form feeds.
#[inline]
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| super::is_ws(b))
}

/// Where a format's records may start: `starts(line, after_blank)` for a complete `line`
/// (without its `\n`) that follows a blank line or not (see `collapse::Format::starts_record`).
/// A place where a record starts is a place where the input may be cut: a collapser reading the
/// pieces separately gives what it gives reading the whole.
pub trait Boundary: Fn(&[u8], bool) -> bool {}
impl<B: Fn(&[u8], bool) -> bool> Boundary for B {}

/// The start of the line that ends at `end` (the position of its `\n`, or of the end).
#[inline]
fn line_start(buf: &[u8], end: usize) -> usize {
    memchr::memrchr(b'\n', &buf[..end]).map_or(0, |p| p + 1)
}

/// The last place in `buf`, after position 0, where a complete line starting in its last
/// `window` bytes starts a record.
pub fn last_boundary(buf: &[u8], window: usize, starts: &impl Boundary) -> Option<usize> {
    let floor = buf.len().saturating_sub(window);
    let mut end = memchr::memrchr(b'\n', buf)?; // the last complete line ends here
    let mut start = line_start(buf, end);
    while start >= floor && start > 0 {
        let prev_start = line_start(buf, start - 1);
        if starts(&buf[start..end], is_blank(&buf[prev_start..start - 1])) {
            return Some(start);
        }
        end = start - 1;
        start = prev_start;
    }
    None
}

/// The first place like [`last_boundary`]'s at or after `from` (complete lines only).
pub fn next_boundary(data: &[u8], from: usize, starts: &impl Boundary) -> Option<usize> {
    let mut start = if from == 0 || data.get(from - 1) == Some(&b'\n') { from } else { from + memchr::memchr(b'\n', data.get(from..)?)? + 1 };
    let mut after_blank = start > 0 && is_blank(&data[line_start(data, start - 1)..start - 1]);
    while start < data.len() {
        let end = start + memchr::memchr(b'\n', &data[start..])?;
        let line = &data[start..end];
        if start > 0 && starts(line, after_blank) {
            return Some(start);
        }
        after_blank = is_blank(line);
        start = end + 1;
    }
    None
}

/// Cuts in-memory data into chunks of about `size` bytes at record boundaries (a chunk runs on
/// until the next boundary, however far: in memory already, it costs no memory).
pub fn slice_chunks<'a>(data: &'a [u8], size: usize, starts: &'a impl Boundary) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let target = pos.saturating_add(size.max(1));
        let end = if target >= data.len() { data.len() } else { next_boundary(data, target, starts).unwrap_or(data.len()) };
        let chunk = &data[pos..end];
        pos = end;
        Some(chunk)
    })
}

/// Cuts a stream into chunks of about `size` bytes, at record boundaries when there is one near
/// the end of a chunk. When there is none (a sample longer than [`MAX_LINE`], or text with no
/// blank lines and no headers), the chunk is cut at a line end and the next one is marked as
/// continuing it: it must be parsed after it by the same worker, with the parser's state carried
/// over. The buffer never holds more than `size + max_line` bytes: a line longer than
/// `max_line` is handed over (its first `max_line + 1` bytes at least, for the parser to report)
/// and reading stops.
pub struct Chunker<R, B> {
    r: R,
    starts: B,
    tail: Vec<u8>,
    eof: bool,
    stopped: bool,
    /// Whether the next chunk continues the one before (was not cut at a record boundary).
    continues: bool,
    size: usize,
    max_line: usize,
    /// Decompressed bytes read so far.
    pub bytes: u64,
}

impl<R: Read, B: Boundary> Chunker<R, B> {
    pub fn new(r: R, size: usize, starts: B) -> Self {
        Self::with_max_line(r, size, MAX_LINE, starts)
    }

    pub fn with_max_line(r: R, size: usize, max_line: usize, starts: B) -> Self {
        Chunker { r, starts, tail: Vec::new(), eof: false, stopped: false, continues: false, size: size.max(1), max_line: max_line.max(1), bytes: 0 }
    }

    /// Reads into `buf[len..target]` until `target` bytes are there or the input ends; returns
    /// the new length.
    fn fill(&mut self, buf: &mut [u8], mut len: usize, target: usize) -> io::Result<usize> {
        while len < target && !self.eof {
            match self.r.read(&mut buf[len..target]) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    len += k;
                    self.bytes += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(len)
    }

    /// Puts the next chunk in `buf[..n]` and returns `n` and whether the chunk continues the
    /// previous one (see [`Chunker`]); `None` at the end. `buf` is grown to chunk size (plus the
    /// line limit only when a chunk needs it) and then reused as it is (its old bytes are
    /// overwritten, never zeroed): memory touched stays about a chunk per buffer.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, bool)>> {
        if self.stopped {
            return Ok(None);
        }
        let cap = self.size.saturating_add(self.max_line);
        let mut len = self.tail.len();
        let mut target = self.size.max(len);
        if buf.len() < target {
            buf.resize(target, 0);
        }
        buf[..len].copy_from_slice(&self.tail);
        self.tail.clear();
        let continues = self.continues;
        loop {
            if buf.len() < target {
                buf.resize(target, 0); // the line limit's room, only when a chunk needs it
            }
            len = self.fill(buf, len, target)?;
            let data = &buf[..len];
            if self.eof {
                self.stopped = true;
                return Ok(if len == 0 { None } else { Some((len, continues)) });
            }
            if let Some(cut) = last_boundary(data, self.max_line, &self.starts) {
                self.tail.extend_from_slice(&data[cut..]);
                self.continues = false;
                return Ok(Some((cut, continues)));
            }
            if len < cap {
                target = cap;
                continue;
            }
            // no record boundary near the end: cut at the last line end, if the line after it
            // is not too long already
            return Ok(Some(match memchr::memrchr(b'\n', data) {
                Some(nl) if len - (nl + 1) <= self.max_line => {
                    self.tail.extend_from_slice(&data[nl + 1..]);
                    self.continues = true;
                    (nl + 1, continues)
                }
                _ => {
                    self.stopped = true;
                    (len, continues)
                }
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A perf-like toy: records start after a blank line, or at a header (`x: y`) in column 0.
    fn toy(line: &[u8], after_blank: bool) -> bool {
        after_blank || (line.first().is_some_and(|&c| !is_blank(&[c]) && c != b'#') && line.windows(2).any(|w| w == b": "))
    }

    #[test]
    fn chunks_keep_samples_whole() {
        let mut data = Vec::new();
        for i in 0..500 {
            data.extend_from_slice(format!("comm {i} 1.0: 1 cycles:\n\tffff f{i} (m)\n\tffff g (m)\n\n").as_bytes());
        }
        let pieces: Vec<&[u8]> = slice_chunks(&data, 100, &toy).collect();
        assert!(pieces.len() > 10);
        assert_eq!(pieces.concat(), data);
        assert!(pieces.iter().all(|p| p.starts_with(b"comm ")));
        let mut ch = Chunker::new(&data[..], 100, toy);
        let mut buf = Vec::new();
        let mut all = Vec::new();
        let mut chunks = 0;
        while let Some((n, continues)) = ch.next_into(&mut buf).unwrap() {
            assert!(!continues);
            assert!(buf[..n].starts_with(b"comm "));
            all.extend_from_slice(&buf[..n]);
            chunks += 1;
        }
        assert!(chunks > 10);
        assert_eq!(all, data);
    }

    #[test]
    fn boundaries() {
        let w = usize::MAX;
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\n\nx\nh 2", w, &toy), Some(20));
        assert_eq!(last_boundary(b"h 1 1.0: c:\r\n\tf (m)\r\n\r\nx\r\nh 2", w, &toy), Some(23));
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\nh 2 2.0: c:\n\tg", w, &toy), Some(19));
        assert_eq!(last_boundary(b"\tf (m)\n\tg", w, &toy), None);
        // unindented frames (old perf, no blank lines) are no boundary; nor is a partial line
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nffff g (m)\n", w, &toy), None);
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\n", w, &toy), None);
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", w, &toy), Some(23));
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", 20, &toy), None);
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", 1, &toy), Some(23));
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\n#h 2 2.0: c:\n \t\nh 3\n", 1, &toy), Some(39));
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\n \t\nh 3\n", 25, &toy), Some(26));
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\nffff g (m)", 1, &toy), None);
    }

    /// The buffer stays within chunk + max line, and a too long line stops the reading.
    #[test]
    fn chunker_memory_is_bounded() {
        // no boundary at all: cut at line ends, marked as continuing
        let data: Vec<u8> = b"ffff f (m)\n".repeat(10_000);
        let mut ch = Chunker::with_max_line(&data[..], 1000, 500, toy);
        let mut buf = Vec::new();
        let mut all = Vec::new();
        let mut first = true;
        while let Some((n, continues)) = ch.next_into(&mut buf).unwrap() {
            assert_eq!(continues, !first);
            first = false;
            assert!(n <= 1500 && buf[..n].ends_with(b"\n") && buf.len() <= 1500);
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, data);
        // no line end at all: one chunk (holding more than max_line of the line), then the end
        let zeros = vec![0u8; 100_000];
        let mut ch = Chunker::with_max_line(&zeros[..], 1000, 500, toy);
        let (n, continues) = ch.next_into(&mut buf).unwrap().unwrap();
        assert!(!continues && n > 500 && n <= 1500);
        assert_eq!(ch.next_into(&mut buf).unwrap(), None);
        assert!(ch.bytes <= 1500);
    }
}
