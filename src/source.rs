//! Input: files, pipes and in-memory bytes; gzip and zstd by magic bytes; and the cutting of a
//! stream into large chunks at sample boundaries (blank lines), so workers never share a sample.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::perf::header::{is_ws, parse_header};

pub const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
pub const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Default chunk size handed to a worker.
pub const CHUNK: usize = 1 << 20;

pub type BoxRead<'a> = Box<dyn Read + Send + 'a>;

/// Wraps `r` in a decompressor when its first bytes are a gzip or zstd magic number.
pub fn decoding<'a, R: Read + Send + 'a>(mut r: R) -> io::Result<BoxRead<'a>> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = head[..n].to_vec();
    let is_gz = head.starts_with(GZIP_MAGIC);
    let is_zst = head.starts_with(ZSTD_MAGIC);
    let joined = io::Cursor::new(head).chain(r);
    Ok(if is_gz {
        Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, joined)))
    } else if is_zst {
        Box::new(zstd::stream::read::Decoder::new(joined)?)
    } else {
        Box::new(joined)
    })
}

/// Opens a file (decompressing when needed); also returns its size on disk.
pub fn open_path(path: &Path) -> io::Result<(BoxRead<'static>, Option<u64>)> {
    let f = File::open(path)?;
    let meta = f.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(io::ErrorKind::IsADirectory, format!("{} is a directory", path.display())));
    }
    if meta.is_file() {
        let size = meta.len();
        return Ok((decoding(Shrinking { f, size, read: 0 })?, Some(size)));
    }
    Ok((decoding(f)?, None))
}

/// A regular file that must not end before the size it had when opened: a file truncated
/// while it is read is an error, not a silently shorter input.
struct Shrinking {
    f: File,
    size: u64,
    read: u64,
}

impl Read for Shrinking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.f.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() && self.read < self.size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the file shrank while it was read: it ended after {} of its {} bytes", self.read, self.size)));
        }
        Ok(n)
    }
}

/// Whether in-memory data is compressed.
pub fn is_compressed(data: &[u8]) -> bool {
    data.starts_with(GZIP_MAGIC) || data.starts_with(ZSTD_MAGIC)
}

/// The longest line accepted, in bytes (without its line end). perf script lines are far
/// shorter: a frame line is an address, a symbol and a module path, a few hundred bytes even for
/// long C++ or Rust symbols (the longest in the corpus is under 2 KiB); only trace data of
/// tracepoints gets long, and perf caps that too. A longer "line" means the input is not perf
/// script text (binary data, a file of NUL bytes): it is an error naming the line, and the
/// stream reader never buffers more than a chunk plus this limit.
pub const MAX_LINE: usize = 1 << 20;

/// The message of the error for a line longer than [`MAX_LINE`].
pub const LONG_LINE: &str = "line longer than 1 MiB (is this a perf script capture?)";

/// Whether the parser reads this complete line (no `\n`) as a blank line, which ends a sample.
#[inline]
pub fn is_blank_line(line: &[u8]) -> bool {
    line.first() != Some(&b'#') && line.iter().all(|&b| is_ws(b))
}

/// Whether the parser reads this complete line (no `\n`) as a sample header in column 0, which
/// ends the sample before it whatever came before (outside `--srcline`).
#[inline]
pub fn starts_sample(line: &[u8]) -> bool {
    if line.first() == Some(&b'#') {
        return false;
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.first() {
        Some(&c) if !is_ws(c) => parse_header(line).is_some(),
        _ => false,
    }
}

/// A place where the parser, reading the input from its start, is between samples exactly as
/// at the start of the input: just after a blank line, or just before a header line in column
/// 0. Cutting the input there and parsing the pieces separately gives what parsing it whole
/// gives (except under `--srcline`, where a blank line may be read as a source line; that mode
/// is parsed by one worker that carries its state across chunks).
///
/// The last such place in `buf` among lines starting in its last `window` bytes (only complete
/// lines are looked at), if after position 0.
pub fn last_boundary(buf: &[u8], window: usize) -> Option<usize> {
    let floor = buf.len().saturating_sub(window);
    let mut line_end = memchr::memrchr(b'\n', buf)?; // the last complete line ends here
    loop {
        let start = memchr::memrchr(b'\n', &buf[..line_end]).map_or(0, |p| p + 1);
        if start < floor {
            return None;
        }
        let line = &buf[start..line_end];
        if is_blank_line(line) {
            return Some(line_end + 1);
        }
        if start > 0 && starts_sample(line) {
            return Some(start);
        }
        if start == 0 {
            return None;
        }
        line_end = start - 1;
    }
}

/// The first place like [`last_boundary`]'s at or after `from` (complete lines only).
pub fn next_boundary(data: &[u8], from: usize) -> Option<usize> {
    let mut start = if from == 0 || data.get(from - 1) == Some(&b'\n') { from } else { from + memchr::memchr(b'\n', data.get(from..)?)? + 1 };
    while start < data.len() {
        let end = start + memchr::memchr(b'\n', &data[start..])?;
        let line = &data[start..end];
        if is_blank_line(line) {
            return Some(end + 1);
        }
        if start > 0 && starts_sample(line) {
            return Some(start);
        }
        start = end + 1;
    }
    None
}

/// Cuts in-memory data into chunks of about `size` bytes at sample boundaries (a chunk runs on
/// until the next boundary, however far: in memory already, it costs no memory).
pub fn slice_chunks(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let target = pos.saturating_add(size.max(1));
        let end = if target >= data.len() { data.len() } else { next_boundary(data, target).unwrap_or(data.len()) };
        let chunk = &data[pos..end];
        pos = end;
        Some(chunk)
    })
}

/// Cuts a stream into chunks of about `size` bytes, at sample boundaries when there is one near
/// the end of a chunk. When there is none (a sample longer than [`MAX_LINE`], or text with no
/// blank lines and no headers), the chunk is cut at a line end and the next one is marked as
/// continuing it: it must be parsed after it by the same worker, with the parser's state carried
/// over. The buffer never holds more than `size + max_line` bytes: a line longer than
/// `max_line` is handed over (its first `max_line + 1` bytes at least, for the parser to report)
/// and reading stops.
pub struct Chunker<R> {
    r: R,
    tail: Vec<u8>,
    eof: bool,
    stopped: bool,
    /// Whether the next chunk continues the one before (was not cut at a sample boundary).
    continues: bool,
    size: usize,
    max_line: usize,
    /// Decompressed bytes read so far.
    pub bytes: u64,
}

impl<R: Read> Chunker<R> {
    pub fn new(r: R, size: usize) -> Self {
        Self::with_max_line(r, size, MAX_LINE)
    }

    pub fn with_max_line(r: R, size: usize, max_line: usize) -> Self {
        Chunker { r, tail: Vec::new(), eof: false, stopped: false, continues: false, size: size.max(1), max_line: max_line.max(1), bytes: 0 }
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
    /// previous one (see [`Chunker`]); `None` at the end. `buf` is grown once to chunk size plus
    /// the line limit and then reused as it is (its old bytes are overwritten, never zeroed).
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, bool)>> {
        if self.stopped {
            return Ok(None);
        }
        let cap = self.size.saturating_add(self.max_line);
        if buf.len() < cap {
            buf.resize(cap, 0);
        }
        let mut len = self.tail.len();
        buf[..len].copy_from_slice(&self.tail);
        self.tail.clear();
        let continues = self.continues;
        let mut target = self.size.max(len);
        loop {
            len = self.fill(buf, len, target)?;
            let data = &buf[..len];
            if self.eof {
                self.stopped = true;
                return Ok(if len == 0 { None } else { Some((len, continues)) });
            }
            if let Some(cut) = last_boundary(data, self.max_line) {
                self.tail.extend_from_slice(&data[cut..]);
                self.continues = false;
                return Ok(Some((cut, continues)));
            }
            if len < cap {
                target = cap;
                continue;
            }
            // no sample boundary near the end: cut at the last line end, if the line after it
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

    #[test]
    fn chunks_keep_samples_whole() {
        let mut data = Vec::new();
        for i in 0..500 {
            data.extend_from_slice(format!("comm {i} 1.0: 1 cycles:\n\tffff f{i} (m)\n\tffff g (m)\n\n").as_bytes());
        }
        let pieces: Vec<&[u8]> = slice_chunks(&data, 100).collect();
        assert!(pieces.len() > 10);
        assert_eq!(pieces.concat(), data);
        assert!(pieces.iter().all(|p| p.starts_with(b"comm ")));
        let mut ch = Chunker::new(&data[..], 100);
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
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\n\nh 2", w), Some(20));
        assert_eq!(last_boundary(b"h 1 1.0: c:\r\n\tf (m)\r\n\r\nh 2", w), Some(23));
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\nh 2 2.0: c:\n\tg", w), Some(19));
        assert_eq!(last_boundary(b"\tf (m)\n\tg", w), None);
        // unindented frames (old perf, no blank lines) are no boundary; nor is a partial line
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nffff g (m)\n", w), None);
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", w), Some(23));
        assert_eq!(last_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", 20), None);
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\nh 2 2.0: c:\r\nffff g (m)\nh 3", 1), Some(23));
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\n#h 2 2.0: c:\n \t\nh 3", 1), Some(39));
        assert_eq!(next_boundary(b"h 1 1.0: c:\nffff f (m)\nffff g (m)", 1), None);
    }

    /// The buffer stays within chunk + max line, and a too long line stops the reading.
    #[test]
    fn chunker_memory_is_bounded() {
        // no boundary at all: cut at line ends, marked as continuing
        let data: Vec<u8> = b"ffff f (m)\n".repeat(10_000);
        let mut ch = Chunker::with_max_line(&data[..], 1000, 500);
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
        let mut ch = Chunker::with_max_line(&zeros[..], 1000, 500);
        let (n, continues) = ch.next_into(&mut buf).unwrap().unwrap();
        assert!(!continues && n > 500 && n <= 1500);
        assert_eq!(ch.next_into(&mut buf).unwrap(), None);
        assert!(ch.bytes <= 1500);
    }

    #[test]
    fn gzip_is_detected() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello\n").unwrap();
        let gz = enc.finish().unwrap();
        let mut s = String::new();
        decoding(&gz[..]).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\n");
        let mut s = String::new();
        decoding(&b"plain"[..]).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "plain");
    }
}
