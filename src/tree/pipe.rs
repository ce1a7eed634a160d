//! Reading a tree on two threads as a pipeline: one thread reads the blocks and cuts them
//! into stacks and counts (the line ends, the count columns, bad lines); the builder takes the
//! stacks in order into its tree. The tree is the one a single builder makes, step for step:
//! the same output at any thread count, one tree in memory, no merge, and little more work
//! than one thread does (on a busy machine the second thread may not get a core at all).

use super::read::{Blocks, BLOCK};
use super::*;

/// Blocks cut ahead of the builder at most (it may not get a core at once on a busy machine).
const QUEUE: usize = 6;

/// One line, cut: where its stack is in the block, and its counts.
#[derive(Clone, Copy)]
struct Cut {
    pos: u32,
    len: u32,
    before: Option<u128>,
    count: u128,
}

/// A block and its cuts.
struct Batch {
    buf: Vec<u8>,
    cuts: Vec<Cut>,
}

/// Cuts the lines of `b.buf` (numbered from `lineno + 1`), bad ones into `complaints`;
/// returns the last line's number.
fn cut(b: &mut Batch, mut lineno: u64, complaints: &mut Complaints) -> u64 {
    let Batch { buf, cuts } = b;
    cuts.clear();
    let data = &buf[..];
    let mut pos = 0;
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |p| pos + p);
        lineno += 1;
        let line = &data[pos..end];
        pos = end + 1;
        let Some(line) = crate::input::folded::content(line) else { continue };
        match parse_line(line) {
            Ok((stack, before, count)) => {
                let at = stack.as_ptr() as usize - data.as_ptr() as usize;
                cuts.push(Cut { pos: at as u32, len: stack.len() as u32, before, count });
            }
            Err(msg) => complaints.add(lineno, || msg),
        }
    }
    lineno
}

impl TreeBuilder {
    /// Reads `blocks` with a second thread cutting them (see the module's doc).
    pub(super) fn read_piped<R: Read>(&mut self, blocks: &mut Blocks<R>, check: &dyn Fn(u64) -> Result<()>) -> Result<()> {
        let mut complaints = Complaints::default();
        let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE);
        let (free_tx, free_rx) = mpsc::channel::<Batch>();
        let read = std::thread::scope(|s| {
            let builder = &mut *self;
            let h = s.spawn(move || {
                for batch in rx {
                    for c in &batch.cuts {
                        let (at, len) = (c.pos as usize, c.len as usize);
                        builder.add_stack(&batch.buf[at..at + len], c.before, c.count);
                    }
                    let _ = free_tx.send(batch);
                }
            });
            let read = (|| -> Result<()> {
                loop {
                    let mut batch = free_rx.try_recv().unwrap_or_else(|_| Batch { buf: Vec::with_capacity(BLOCK * 2), cuts: Vec::new() });
                    let Some(first) = blocks.next_into(&mut batch.buf)? else { return Ok(()) };
                    if batch.buf.len() > u32::MAX as usize {
                        return Err(crate::input::folded::line_too_long(first + 1));
                    }
                    blocks.lineno = cut(&mut batch, first, &mut complaints);
                    if tx.send(batch).is_err() {
                        return Ok(());
                    }
                    check(blocks.bytes)?;
                }
            })();
            drop(tx);
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
            read
        });
        let c = &mut self.complaints;
        c.ignored += complaints.ignored;
        c.warnings.extend(complaints.warnings);
        c.warnings.truncate(MAX_WARNINGS);
        read
    }
}
