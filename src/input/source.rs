//! Sources: files, pipes and in-memory bytes; gzip and zstd by magic bytes. Files are read
//! through reused buffers (see [`super::chunk::Chunker`]), never mapped: a mapping's pages count
//! against the process while it lives, buffers do not grow with the input.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
pub const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
