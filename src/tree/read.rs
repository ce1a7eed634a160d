//! Reading folded text into a tree: a block of whole lines at a time, with several builders at
//! once (merged at the end: the same tree whatever the thread count).

use super::*;

/// How much input a reader hands out at a time.
pub(super) const BLOCK: usize = 1 << 20;

/// Cuts a stream into blocks of whole lines (only the very last may lack its newline).
pub(super) struct Blocks<R> {
    r: R,
    tail: Vec<u8>,
    eof: bool,
    pub(super) bytes: u64,
    pub(super) lineno: u64,
    /// Count the lines of each block (several builders: each needs the number of its first)
    count: bool,
}

impl<R: Read> Blocks<R> {
    /// Fills `buf` with the next block; returns the number of the line before it, None at the end.
    /// A line longer than [`crate::input::folded::MAX_LINE`] is an error naming it.
    pub(super) fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
        buf.clear();
        buf.append(&mut self.tail);
        let mut target = BLOCK.max(buf.len() + 1);
        loop {
            while buf.len() < target && !self.eof {
                let before = buf.len();
                match (&mut self.r).take((target - before) as u64).read_to_end(buf) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
                self.bytes += (buf.len() - before) as u64;
                self.eof |= buf.len() == before;
            }
            if !self.eof {
                match memchr::memrchr(b'\n', buf) {
                    Some(nl) => {
                        self.tail.extend_from_slice(&buf[nl + 1..]);
                        buf.truncate(nl + 1);
                    }
                    None if buf.len() > crate::input::folded::MAX_LINE => return Err(crate::input::folded::line_too_long(self.lineno + 1)),
                    None => {
                        target = buf.len() * 2; // a line longer than a block
                        continue;
                    }
                }
            }
            if buf.is_empty() {
                return Ok(None);
            }
            let first = self.lineno;
            if !self.count {
                return Ok(Some(first)); // the caller sets `lineno`
            }
            self.lineno += memchr::memchr_iter(b'\n', buf).count() as u64 + u64::from(!buf.ends_with(b"\n"));
            return Ok(Some(first));
        }
    }
}

impl TreeBuilder {
    /// Reads folded text from a stream, a block at a time (lines are never all in memory). With
    /// more than one thread: a reader cutting the lines for the builder (see `pipe.rs`); with
    /// `--reverse` or the chain palette and three threads or more, `threads` builders at once
    /// (merged at the end).
    /// `check` runs after each block with the bytes read so far; its error stops the reading.
    pub fn read<R: Read>(&mut self, r: R, check: &dyn Fn(u64) -> Result<()>) -> Result<u64> {
        let threads = self.opts.threads.max(1);
        let one = threads == 1 || self.chart.is_some();
        let piped = !one && (threads == 2 || !(self.opts.reverse || self.opts.chain));
        let mut blocks = Blocks { r, tail: Vec::new(), eof: false, bytes: 0, lineno: 0, count: !one && !piped };
        if one {
            let mut buf = Vec::with_capacity(BLOCK * 2);
            while let Some(first) = blocks.next_into(&mut buf)? {
                blocks.lineno = self.read_lines(&buf, first);
                check(blocks.bytes)?;
            }
            return Ok(blocks.bytes);
        }
        if piped {
            return self.read_piped(&mut blocks, check).map(|_| blocks.bytes);
        }
        // block k goes to builder k % threads: the same split, so the same result, every run
        let mut helpers: Vec<TreeBuilder> = (1..threads).map(|_| TreeBuilder::new(self.opts.clone())).collect();
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let read = std::thread::scope(|s| {
            let mut senders = Vec::with_capacity(threads);
            let mut handles = Vec::with_capacity(threads);
            for b in std::iter::once(&mut *self).chain(helpers.iter_mut()) {
                let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, u64)>(2);
                let free = free_tx.clone();
                senders.push(tx);
                handles.push(s.spawn(move || {
                    for (buf, first) in rx {
                        b.read_lines(&buf, first);
                        let _ = free.send(buf);
                    }
                }));
            }
            let read = (|| -> Result<()> {
                let mut k = 0;
                loop {
                    let mut buf = free_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(BLOCK * 2));
                    let Some(first) = blocks.next_into(&mut buf)? else { return Ok(()) };
                    if senders[k % threads].send((buf, first)).is_err() {
                        return Ok(());
                    }
                    k += 1;
                    check(blocks.bytes)?;
                }
            })();
            drop(senders);
            for h in handles {
                if let Err(p) = h.join() {
                    std::panic::resume_unwind(p);
                }
            }
            read
        });
        for h in helpers {
            self.merge(h);
        }
        read.map(|_| blocks.bytes)
    }

    /// Reads folded text held in memory.
    pub fn read_slice(&mut self, data: &[u8]) {
        if self.opts.threads > 1 && self.chart.is_none() {
            let _ = self.read(data, &|_| Ok(())); // reading a slice cannot fail
        } else {
            self.read_lines(data, 0);
        }
    }

    /// Adds everything `other` (built with the same options) has read.
    pub fn merge(&mut self, other: TreeBuilder) {
        let names: Vec<u32> = other.names.iter().map(|(_, n)| self.names.intern(n).0).collect();
        let mut map = vec![0u32; other.nodes.len()];
        let before = self.nodes.len() as u32; // nodes from here on are new: no lookups below them
        for (i, node) in other.nodes.iter().enumerate() {
            let n = if i == 0 {
                0
            } else {
                let p = map[node.parent as usize];
                self.child(p, names[node.name as usize], p >= before).0
            };
            map[i] = n;
            self.nodes[n as usize].selfc += node.selfc;
            if i < other.delta.len() && (other.diff[i] || other.delta[i] != 0) {
                self.add_delta(n as usize, other.delta[i], other.diff[i]);
            }
        }
        self.total += other.total;
        self.before_total += other.before_total;
        self.maxdelta = self.maxdelta.max(other.maxdelta);
        self.lines += other.lines;
        let c = &mut self.complaints;
        c.ignored += other.complaints.ignored;
        c.warnings.extend(other.complaints.warnings);
        c.warnings.sort_by_key(|w| w.line);
        c.warnings.truncate(MAX_WARNINGS);
        self.prev.clear();
        self.prev_ends.clear();
        self.prev_path.clear();
    }

    fn read_lines(&mut self, data: &[u8], mut lineno: u64) -> u64 {
        let mut pos = 0;
        while pos < data.len() {
            let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |p| pos + p);
            lineno += 1;
            self.add_line(&data[pos..end], lineno);
            pos = end + 1;
        }
        lineno
    }
}
