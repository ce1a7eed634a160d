//! Input: files, pipes and in-memory bytes; gzip and zstd by magic bytes; and the cutting of a
//! stream into large chunks at sample boundaries (blank lines), so workers never share a sample.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

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
    let size = if meta.is_file() { Some(meta.len()) } else { None };
    Ok((decoding(f)?, size))
}

/// Maps a large plain (not compressed) regular file, so it is parsed in place with no copy;
/// `None` for small, compressed or special files, which are read instead.
pub fn map_file(path: &Path) -> io::Result<Option<memmap2::Mmap>> {
    let f = File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.len() < (8 << 20) {
        return Ok(None);
    }
    // SAFETY: the map is read-only; like every reader of a file, the run assumes nobody
    // truncates the file under it.
    let m = unsafe { memmap2::Mmap::map(&f)? };
    if is_compressed(&m[..4]) {
        return Ok(None);
    }
    let _ = m.advise(memmap2::Advice::Sequential);
    Ok(Some(m))
}

/// Gives back the pages of `part` (a piece of `map` already parsed): they leave this process's
/// resident memory (the kernel's page cache keeps them), so memory does not grow with the file.
pub fn release(map: &memmap2::Mmap, part: &[u8]) {
    const PAGE: usize = 4096;
    let base = map.as_ptr() as usize;
    let start = part.as_ptr() as usize - base;
    let end = start + part.len();
    let (a, b) = (start.div_ceil(PAGE) * PAGE, end / PAGE * PAGE);
    if b > a {
        // SAFETY: the map is private and read-only; a page touched again is read back from the
        // file, so dropping pages can never change what is read.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, a, b - a) };
    }
}

/// Whether in-memory data is compressed.
pub fn is_compressed(data: &[u8]) -> bool {
    data.starts_with(GZIP_MAGIC) || data.starts_with(ZSTD_MAGIC)
}

/// Where the last complete sample of `buf` ends: just after its last blank line, or failing
/// that, before its last header line (a line starting in column 0). `None` if neither exists.
pub fn last_boundary(buf: &[u8]) -> Option<usize> {
    // walk back line by line: the last blank (or whitespace-only) complete line ends a sample
    let mut next_nl = memchr::memrchr(b'\n', buf)?;
    let mut end = next_nl;
    while let Some(p) = memchr::memrchr(b'\n', &buf[..end]) {
        if buf[p + 1..next_nl].iter().all(|b| b.is_ascii_whitespace()) {
            return Some(next_nl + 1);
        }
        next_nl = p;
        end = p;
        if buf.len() - p > (1 << 16) {
            break; // no blank line near the end: fall back to a header line
        }
    }
    let mut end = buf.len();
    while let Some(p) = memchr::memrchr(b'\n', &buf[..end]) {
        if let Some(&c) = buf.get(p + 1) {
            if !c.is_ascii_whitespace() && c != b'#' {
                return Some(p + 1);
            }
        }
        end = p;
    }
    None
}

/// The first sample boundary at or after `from`: looked for in a window that doubles until one
/// is found, so each call reads only about as far as the boundary.
fn next_boundary(data: &[u8], from: usize) -> Option<usize> {
    let mut window = 1 << 16;
    loop {
        let end = data.len().min(from.saturating_add(window));
        let hay = &data[from..end];
        let a = memchr::memmem::find(hay, b"\n\n").map(|p| from + p + 2);
        let limit = a.map_or(hay.len(), |x| x - from);
        let b = memchr::memmem::find(&hay[..limit], b"\n\r\n").map(|p| from + p + 3);
        match (a, b) {
            (Some(x), Some(y)) => return Some(x.min(y)),
            (Some(x), None) => return Some(x),
            (None, Some(y)) => return Some(y),
            (None, None) if end == data.len() => return None,
            (None, None) => window *= 2,
        }
    }
}

/// Cuts in-memory data into chunks of about `size` bytes at sample boundaries.
pub fn slice_chunks(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let target = pos + size;
        let end = if target >= data.len() { data.len() } else { next_boundary(data, target).unwrap_or(data.len()) };
        let chunk = &data[pos..end];
        pos = end;
        Some(chunk)
    })
}

/// Cuts a stream into chunks of about `size` bytes at sample boundaries.
pub struct Chunker<R> {
    r: R,
    tail: Vec<u8>,
    eof: bool,
    size: usize,
    /// Decompressed bytes read so far.
    pub bytes: u64,
}

impl<R: Read> Chunker<R> {
    pub fn new(r: R, size: usize) -> Self {
        Chunker { r, tail: Vec::new(), eof: false, size, bytes: 0 }
    }

    /// Fills `buf` (its old content is dropped) with the next chunk; `false` at the end.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        buf.append(&mut self.tail);
        let mut target = self.size.max(buf.len() + self.size / 2);
        loop {
            while buf.len() < target && !self.eof {
                let want = (target - buf.len()) as u64;
                let before = buf.len();
                match (&mut self.r).take(want).read_to_end(buf) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                let got = buf.len() - before;
                self.bytes += got as u64;
                if got == 0 {
                    self.eof = true;
                }
            }
            if self.eof {
                return Ok(!buf.is_empty());
            }
            if let Some(cut) = last_boundary(buf).filter(|&c| c > 0) {
                self.tail.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                return Ok(true);
            }
            target = buf.len() * 2;
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
        let mut n = 0;
        while ch.next_into(&mut buf).unwrap() {
            assert!(buf.starts_with(b"comm "));
            all.extend_from_slice(&buf);
            n += 1;
        }
        assert!(n > 10);
        assert_eq!(all, data);
    }

    #[test]
    fn boundaries() {
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\n\nh 2"), Some(20));
        assert_eq!(last_boundary(b"h 1 1.0: c:\r\n\tf (m)\r\n\r\nh 2"), Some(23));
        assert_eq!(last_boundary(b"h 1 1.0: c:\n\tf (m)\nh 2 2.0: c:\n\tg"), Some(19));
        assert_eq!(last_boundary(b"\tf (m)\n\tg"), None);
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
