//! The frame tree behind a flame graph.
//!
//! Folded stacks (`a;b;c COUNT`, or `a;b;c BEFORE AFTER` for a differential graph; counts may
//! have a fractional part) are read line by line and merged into a prefix tree of interned
//! frames: one node per call path, whatever the order of the input lines. At the end the tree is
//! pruned by the minimum drawable width and flattened, in drawing order, into [`Frames`]: flat
//! arrays over just the frames that will be drawn, plus the table of their names.
//!
//! A flame *chart* keeps the input order instead (time runs left to right): there, consecutive
//! lines that share a prefix share its boxes, and nothing else merges.
//!
//! Speed comes from the shape of real input: consecutive lines (sorted, as collapsers write
//! them) share most of their frames, so a line walks the tree only from where it leaves the
//! previous one, and a node's children arriving in byte order need no index at all. With
//! several threads, blocks of lines go to several builders in turn, merged at the end: the
//! same tree whatever the thread count; memory follows the distinct stacks (at most once per
//! builder), not the input.

use crate::error::{excerpt, Error, Result, Warning};
use crate::folded::{count_fixed, fixed_f64, fixed_f64_signed, MAX_FIXED, SCALE};
use crate::intern::{FrameId, Interner};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::sync::mpsc;

const MAX_WARNINGS: usize = 100;
const NONE: u32 = u32::MAX;

/// How stacks are turned into boxes.
#[derive(Clone, Debug, Default)]
pub struct TreeOptions {
    /// Reverse every stack: the leaf becomes the root (`--reverse`).
    pub reverse: bool,
    /// Keep the input order and merge only consecutive lines (`--flamechart`).
    pub flamechart: bool,
    /// The `chain` palette's rewrite: frames after a `--` separator are wakers (`_[w]`).
    pub chain: bool,
    /// Builders reading at once (a flame chart is always read by one).
    pub threads: usize,
}

/// How much input a reader hands out at a time.
const BLOCK: usize = 1 << 20;

/// Cuts a stream into blocks of whole lines (only the very last may lack its newline).
struct Blocks<R> {
    r: R,
    tail: Vec<u8>,
    eof: bool,
    bytes: u64,
    lineno: u64,
}

impl<R: Read> Blocks<R> {
    /// Fills `buf` with the next block; returns the number of the line before it, None at the end.
    /// A line longer than [`crate::folded::MAX_LINE`] is an error naming it.
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
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
                    None if buf.len() > crate::folded::MAX_LINE => return Err(crate::folded::line_too_long(self.lineno + 1)),
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
            self.lineno += memchr::memchr_iter(b'\n', buf).count() as u64 + u64::from(!buf.ends_with(b"\n"));
            return Ok(Some(first));
        }
    }
}

/// The narrowest frame that is drawn.
#[derive(Clone, Copy, Debug)]
pub enum MinWidth {
    /// `px` pixels when the whole graph is `image_width` pixels wide (flamegraph.pl: 0.1).
    Pixels { px: f64, image_width: f64 },
    /// A percentage of the total.
    Percent(f64),
}

/// The frames to draw, in drawing order (every frame after its parent), as parallel arrays.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Frames {
    /// 0 for the root (`all`).
    pub depth: Vec<u32>,
    /// Where the frame starts, in samples from the left edge.
    pub start: Vec<f64>,
    /// Its samples (the root: the whole x scale, see `timemax`).
    pub width: Vec<f64>,
    /// Index into `names`.
    pub name: Vec<u32>,
    /// Self delta (after − before) of a differential graph: the stacks ending at this frame.
    pub delta: Vec<f64>,
    /// Whether a two-column (differential) line went through this frame.
    pub diff: Vec<bool>,
    /// Differential frames: the first column's samples under this frame (the width is the
    /// second's), so a tooltip can show both counts.
    pub before: Vec<f64>,
    /// The names of the drawn frames, each once (the root's is empty).
    pub names: Vec<Vec<u8>>,
    /// Exact `width` and `before` (fixed point, see [`crate::folded::SCALE`]); the root's are
    /// the sums of the counts, even when `--total` widens its box.
    pub count: Vec<u128>,
    pub before_count: Vec<u128>,
    /// Sum of all counts (of the second column in a differential graph).
    pub total: f64,
    /// The same, exact: fixed point, in units of 10^-18 (see [`crate::folded::SCALE`]).
    pub total_fixed: u128,
    /// The x scale: `total`, or the requested total when that is larger.
    pub timemax: f64,
    /// The largest |after − before| of any one input line (at least 1).
    pub maxdelta: f64,
    /// Lines used.
    pub lines: u64,
}

/// What a bad line gives: a warning naming it (the first hundred), and a count.
#[derive(Default)]
struct Complaints {
    warnings: Vec<Warning>,
    ignored: u64,
}

impl Complaints {
    fn add(&mut self, line: u64, msg: impl FnOnce() -> String) {
        self.ignored += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning { line, msg: msg() });
        }
    }
}

/// Merges folded stacks into a frame tree (or, for a flame chart, a sequence of boxes).
pub struct TreeBuilder {
    opts: TreeOptions,
    names: Interner,
    // the tree, one entry per node; node 0 is the root, a child always comes after its parent
    nodes: Vec<Node>,
    /// Per node, only once a differential line came: self delta, and whether such a line
    /// went through the node (at its leaf; propagated up at the end)
    delta: Vec<i128>,
    diff: Vec<bool>,
    /// Per node: its children are in `children` (they did not come in order)
    indexed: Vec<bool>,
    /// (parent, name, child) entries of indexed nodes' children
    children: HashTable<[u32; 3]>,
    hasher: FixedState,
    // the previous stack (not reversed) and its path, to skip the lookups of a shared prefix
    prev: Vec<u8>,
    prev_ends: Vec<usize>,
    prev_path: Vec<u32>,
    // scratch for one stack
    frames: Vec<(usize, usize)>,
    ids: Vec<u32>,
    buf: Vec<u8>,
    chart: Option<Chart>,
    // counts in fixed point (exact, so the same sums whatever the order of the additions)
    total: u128,
    before_total: u128,
    maxdelta: u128,
    lines: u64,
    complaints: Complaints,
}

/// A node of the tree. Its children form a list (newest first): while they come in increasing
/// byte order of their names (sorted input) a new name is known to be new without a lookup;
/// otherwise they go into the index.
#[derive(Clone, Copy, Debug)]
struct Node {
    parent: u32,
    name: u32,
    last_child: u32,
    prev_sibling: u32,
    /// Samples of the stacks that end here (fixed point).
    selfc: u128,
}

/// A flame chart under construction: the open boxes (the current path) and the closed ones.
#[derive(Default)]
struct Chart {
    open: Vec<ChartBox>,
    closed: Vec<(u32, ChartBox, u128)>,
}

#[derive(Clone, Copy)]
struct ChartBox {
    name: u32,
    start: u128,
    delta: i128,
    diff: bool,
}

/// A name as a graph shows it: without a trailing `_[k]`, `_[w]`, `_[i]` or `_[j]` annotation.
/// Siblings are ordered by it, so they read in byte order whatever their annotations.
pub fn shown_name(name: &[u8]) -> &[u8] {
    match name {
        [rest @ .., b'_', b'[', b'k' | b'w' | b'i' | b'j', b']'] => rest,
        _ => name,
    }
}

/// How many leading bytes `a` and `b` share, eight at a time.
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes")) ^ u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Parses one folded line (without its line end): (stack, first count if two columns, count),
/// the counts in fixed point; or why it is not a folded line.
pub fn parse_line(line: &[u8]) -> std::result::Result<(&[u8], Option<u128>, u128), String> {
    let (stack, first, last) = crate::folded::split_columns(line).ok_or_else(|| format!("ignored, not `stack count`: {}", excerpt(line, 100)))?;
    let first = first.map(count_fixed).transpose()?;
    Ok((stack, first, count_fixed(last)?))
}

impl TreeBuilder {
    pub fn new(opts: TreeOptions) -> Self {
        let mut names = Interner::new();
        let root_name = names.intern(b"").0;
        let chart = opts.flamechart.then(|| Chart { open: vec![ChartBox { name: root_name, start: 0, delta: 0, diff: false }], closed: Vec::new() });
        TreeBuilder {
            opts,
            names,
            nodes: vec![Node { parent: NONE, name: root_name, last_child: NONE, prev_sibling: NONE, selfc: 0 }],
            delta: Vec::new(),
            diff: Vec::new(),
            indexed: vec![false],
            children: HashTable::new(),
            hasher: FixedState::with_seed(0x7ee),
            prev: Vec::new(),
            prev_ends: Vec::new(),
            prev_path: Vec::new(),
            frames: Vec::new(),
            ids: Vec::new(),
            buf: Vec::new(),
            chart,
            total: 0,
            before_total: 0,
            maxdelta: 0,
            lines: 0,
            complaints: Complaints::default(),
        }
    }

    /// Warnings about bad lines so far (at most a hundred), and how many lines were ignored.
    pub fn warnings(&self) -> (&[Warning], u64) {
        (&self.complaints.warnings, self.complaints.ignored)
    }

    /// Forgets the warnings given so far (they were handed on), keeping the count.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.complaints.warnings)
    }

    /// Nodes in the tree so far (the root included).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Reads one line of folded text (`lineno` is 1-based, for warnings).
    pub fn add_line(&mut self, line: &[u8], lineno: u64) {
        let Some(line) = crate::folded::content(line) else { return };
        match parse_line(line) {
            Ok((stack, before, after)) => self.add_stack(stack, before, after),
            Err(msg) => self.complaints.add(lineno, || msg),
        }
    }

    /// Adds one stack (`a;b;c`) with its count (and, for a differential line, the count
    /// before), in fixed point ([`crate::folded::SCALE`] is 1), each at most
    /// [`crate::folded::MAX_FIXED`]. Once a total passes that, nothing more is added and
    /// [`TreeBuilder::finish`] fails.
    pub fn add_stack(&mut self, stack: &[u8], before: Option<u128>, count: u128) {
        if self.overflowed() {
            return;
        }
        let (count, before) = (count.min(MAX_FIXED), before.map(|b| b.min(MAX_FIXED)));
        self.lines += 1;
        // trailing empty frames do not count (`a;b; 5` is `a;b 5`)
        let mut stack = stack;
        while let [rest @ .., b';'] = stack {
            stack = rest;
        }
        let delta = before.map(|b| count as i128 - b as i128);
        if let Some(d) = delta {
            self.maxdelta = self.maxdelta.max(d.unsigned_abs());
        }
        self.before_total += before.unwrap_or(count);
        if self.chart.is_some() {
            self.chart_stack(stack, delta);
        } else if !self.opts.reverse && !self.opts.chain {
            let leaf = self.tree_stack_fast(stack);
            self.count_leaf(leaf, delta, count);
        } else {
            self.stack_ids(stack);
            let (mut node, mut new) = (0u32, false);
            for k in 0..self.ids.len() {
                (node, new) = self.child(node, self.ids[k], new);
            }
            self.prev_path.clear();
            self.prev.clear();
            self.prev_ends.clear();
            self.count_leaf(node, delta, count);
        }
        self.total += count;
    }

    /// Whether a total passed 2^64 (then the graph is an error).
    fn overflowed(&self) -> bool {
        self.total > MAX_FIXED || self.before_total > MAX_FIXED
    }

    /// Adds a count of whole samples (as a Profile holds them).
    pub fn add_whole(&mut self, stack: &[u8], count: u64) {
        self.add_stack(stack, None, u128::from(count) * SCALE);
    }

    fn count_leaf(&mut self, leaf: u32, delta: Option<i128>, count: u128) {
        let i = leaf as usize;
        self.nodes[i].selfc += count;
        if let Some(d) = delta {
            self.add_delta(i, d, true);
        }
    }

    fn add_delta(&mut self, i: usize, d: i128, diff: bool) {
        if self.delta.len() <= i {
            self.delta.resize(self.nodes.len(), 0);
            self.diff.resize(self.nodes.len(), false);
        }
        self.delta[i] += d;
        self.diff[i] |= diff;
    }

    /// The stack as interned frame ids, after `--reverse` and the chain rewrite.
    fn stack_ids(&mut self, stack: &[u8]) {
        self.ids.clear();
        if stack.is_empty() {
            return;
        }
        let mut start = 0;
        self.frames.clear();
        for p in memchr::memchr_iter(b';', stack) {
            self.frames.push((start, p));
            start = p + 1;
        }
        self.frames.push((start, stack.len()));
        if self.opts.reverse {
            self.frames.reverse();
        }
        if self.opts.chain {
            let mut waker = false;
            let n = self.frames.len();
            for k in 0..n {
                let (s, e) = self.frames[k];
                let f = &stack[s..e];
                if f == b"--" && k > 0 && k + 1 < n {
                    waker = true;
                    self.ids.push(self.names.intern(f).0);
                } else {
                    self.buf.clear();
                    self.buf.extend_from_slice(f);
                    if waker {
                        self.buf.extend_from_slice(b"_[w]");
                    }
                    self.ids.push(self.names.intern(&self.buf).0);
                }
            }
            if !waker {
                self.ids.push(self.names.intern(b"--").0);
            }
        } else {
            for k in 0..self.frames.len() {
                let (s, e) = self.frames[k];
                self.ids.push(self.names.intern(&stack[s..e]).0);
            }
        }
    }

    /// The child of `parent` named `name`, created when new (then the flag is true). A node
    /// created by this stack has no children yet: `parent_is_new` skips the lookup.
    #[inline]
    fn child(&mut self, parent: u32, name: u32, parent_is_new: bool) -> (u32, bool) {
        let p = parent as usize;
        if !parent_is_new {
            let last = self.nodes[p].last_child;
            if last != NONE && self.nodes[last as usize].name == name {
                return (last, false);
            }
            if !self.indexed[p] && last != NONE && self.names.get(FrameId(name)) < self.names.get(FrameId(self.nodes[last as usize].name)) {
                // out of order: index the children seen so far
                self.indexed[p] = true;
                let mut c = last;
                while c != NONE {
                    let node = self.nodes[c as usize];
                    self.index(parent, node.name, c);
                    c = node.prev_sibling;
                }
            }
            if self.indexed[p] {
                let hash = self.hasher.hash_one(((parent as u64) << 32) | name as u64);
                if let Some(&[_, _, n]) = self.children.find(hash, |&[q, m, _]| q == parent && m == name) {
                    return (n, false);
                }
            }
        }
        let n = self.nodes.len() as u32;
        self.nodes.push(Node { parent, name, last_child: NONE, prev_sibling: self.nodes[p].last_child, selfc: 0 });
        self.nodes[p].last_child = n;
        self.indexed.push(false);
        if self.indexed[p] {
            self.index(parent, name, n);
        }
        (n, true)
    }

    fn index(&mut self, parent: u32, name: u32, child: u32) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(((parent as u64) << 32) | name as u64);
        self.children.insert_unique(hash, [parent, name, child], |&[q, m, _]| hasher.hash_one(((q as u64) << 32) | m as u64));
    }

    /// Walks a stack from the root, reusing the path of the previous stack for the frames the
    /// two share (consecutive lines of sorted input share most of their frames).
    fn tree_stack_fast(&mut self, stack: &[u8]) -> u32 {
        if stack.is_empty() {
            // no frames at all (not one empty frame): the count is the root's own
            self.prev.clear();
            self.prev_ends.clear();
            self.prev_path.clear();
            return 0;
        }
        let common = common_prefix(stack, &self.prev);
        let mut shared = 0;
        while shared < self.prev_ends.len() {
            let end = self.prev_ends[shared];
            // frame `shared` of the previous stack is shared if the new one has the same bytes up
            // to its end and a frame boundary there
            if end > common || (end < stack.len() && stack[end] != b';') {
                break;
            }
            shared += 1;
        }
        self.prev_ends.truncate(shared);
        self.prev_path.truncate(shared);
        let mut node = self.prev_path.last().copied().unwrap_or(0);
        let mut pos = self.prev_ends.last().map_or(0, |&e| e + 1);
        if !(shared > 0 && self.prev_ends[shared - 1] == stack.len()) {
            let mut new = false;
            loop {
                let end = memchr::memchr(b';', &stack[pos..]).map_or(stack.len(), |p| pos + p);
                let id = self.names.intern(&stack[pos..end]).0;
                (node, new) = self.child(node, id, new);
                self.prev_ends.push(end);
                self.prev_path.push(node);
                if end == stack.len() {
                    break;
                }
                pos = end + 1;
            }
        }
        self.prev.clear();
        self.prev.extend_from_slice(stack);
        node
    }

    fn chart_stack(&mut self, stack: &[u8], delta: Option<i128>) {
        self.stack_ids(stack);
        let t = self.total;
        let chart = self.chart.as_mut().expect("flame chart mode");
        let mut same = 1;
        while same < chart.open.len() && same - 1 < self.ids.len() && chart.open[same].name == self.ids[same - 1] {
            same += 1;
        }
        while chart.open.len() > same {
            let depth = (chart.open.len() - 1) as u32;
            let b = chart.open.pop().expect("open box");
            chart.closed.push((depth, b, t));
        }
        for &id in &self.ids[same - 1..] {
            chart.open.push(ChartBox { name: id, start: t, delta: 0, diff: false });
        }
        if let Some(d) = delta {
            for b in chart.open.iter_mut() {
                b.diff = true;
            }
            chart.open.last_mut().expect("root is open").delta += d;
        }
    }

    /// Reads folded text from a stream, a block at a time (lines are never all in memory),
    /// with `threads` builders at once when there are more than one (merged at the end).
    /// `check` runs after each block with the bytes read so far; its error stops the reading.
    pub fn read<R: Read>(&mut self, r: R, check: &dyn Fn(u64) -> Result<()>) -> Result<u64> {
        let mut blocks = Blocks { r, tail: Vec::new(), eof: false, bytes: 0, lineno: 0 };
        let threads = self.opts.threads.max(1);
        if threads == 1 || self.chart.is_some() {
            let mut buf = Vec::with_capacity(BLOCK * 2);
            while let Some(first) = blocks.next_into(&mut buf)? {
                self.read_lines(&buf, first);
                check(blocks.bytes)?;
            }
            return Ok(blocks.bytes);
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

    /// Prunes frames narrower than `min` and lays out the rest. `total` (flamegraph.pl's
    /// `--total`) widens the x scale when it is larger than the sum of the counts. Fails when
    /// the counts add up past 2^64 (`count overflow`).
    pub fn finish(self, min: MinWidth, total: Option<f64>) -> Result<Frames> {
        self.finish_checked(min, total, &|_| Ok(()))
    }

    /// [`TreeBuilder::finish`], calling `check` now and then (its error stops the work).
    pub fn finish_checked(self, min: MinWidth, total: Option<f64>, check: &dyn Fn(u64) -> Result<()>) -> Result<Frames> {
        if self.overflowed() {
            let what = if self.total > MAX_FIXED { "the total of the counts" } else { "the total of the first counts" };
            return Err(Error::Overflow { what: what.into() });
        }
        let sum = fixed_f64(self.total);
        let timemax = total.filter(|&t| t > sum).unwrap_or(sum);
        let min_time = match min {
            MinWidth::Pixels { px, image_width } => {
                if timemax > 0.0 && image_width > 0.0 {
                    px / (image_width / timemax)
                } else {
                    0.0
                }
            }
            MinWidth::Percent(p) => timemax * p / 100.0,
        };
        let out = Frames {
            total: sum,
            total_fixed: self.total,
            timemax,
            maxdelta: fixed_f64(self.maxdelta).max(1.0),
            lines: self.lines,
            ..Frames::default()
        };
        if self.chart.is_some() {
            Ok(self.finish_chart(min_time, out))
        } else {
            self.finish_tree(min_time, out, check)
        }
    }

    fn finish_tree(self, min_time: f64, mut out: Frames, check: &dyn Fn(u64) -> Result<()>) -> Result<Frames> {
        let n = self.nodes.len();
        let nodes = &self.nodes;
        let mut totals: Vec<u128> = nodes.iter().map(|n| n.selfc).collect();
        for i in (1..n).rev() {
            totals[nodes[i].parent as usize] += totals[i];
        }
        // differential input: a frame is differential when a two-column line went through it
        let (mut delta, mut diff) = (self.delta, self.diff);
        if !diff.is_empty() {
            delta.resize(n, 0);
            diff.resize(n, false);
            for i in (1..n).rev() {
                if diff[i] {
                    diff[nodes[i].parent as usize] = true;
                }
            }
        }
        // the first column under each frame: its samples less the deltas of the stacks below it
        let mut delta_under: Vec<i128> = delta.clone();
        for i in (1..delta_under.len()).rev() {
            let d = delta_under[i];
            delta_under[nodes[i].parent as usize] += d;
        }
        check(0)?;
        // depth-first from the root over the frames wide enough to draw: each one's samples
        // first, then its children left to right in byte order of their names (the narrow ones
        // too: they are not drawn but take their room)
        let names = &self.names;
        let order = |a: &u32, b: &u32| {
            let (a, b) = (names.get(FrameId(nodes[*a as usize].name)), names.get(FrameId(nodes[*b as usize].name)));
            shown_name(a).cmp(shown_name(b)).then(a.cmp(b))
        };
        let mut name_index = vec![NONE; names.len()];
        let mut kids: Vec<u32> = Vec::new();
        let mut stack: Vec<(u32, u32, u128)> = vec![(0, 0, 0)]; // (node, depth, start)
        while let Some((node, depth, start)) = stack.pop() {
            let i = node as usize;
            if out.depth.len() % (1 << 16) == 0 {
                check(0)?;
            }
            let ni = &mut name_index[nodes[i].name as usize];
            if *ni == NONE {
                *ni = out.names.len() as u32;
                out.names.push(names.get(FrameId(nodes[i].name)).to_vec());
            }
            out.depth.push(depth);
            out.start.push(fixed_f64(start));
            out.width.push(if i == 0 { out.timemax } else { fixed_f64(totals[i]) });
            out.name.push(*ni);
            out.delta.push(fixed_f64_signed(delta.get(i).copied().unwrap_or(0)));
            out.diff.push(diff.get(i).copied().unwrap_or(false));
            let before = totals[i] as i128 - delta_under.get(i).copied().unwrap_or(0);
            out.before.push(fixed_f64_signed(before));
            out.count.push(totals[i]);
            out.before_count.push(before.max(0) as u128);
            kids.clear();
            let mut c = nodes[i].last_child;
            while c != NONE {
                kids.push(c);
                c = nodes[c as usize].prev_sibling;
            }
            kids.sort_unstable_by(order);
            let mut cursor = start + nodes[i].selfc;
            let at = stack.len();
            for &c in &kids {
                let w = totals[c as usize];
                if fixed_f64(w) >= min_time {
                    stack.push((c, depth + 1, cursor));
                }
                cursor += w;
            }
            stack[at..].reverse();
        }
        Ok(out)
    }

    fn finish_chart(self, min_time: f64, mut out: Frames) -> Frames {
        let Some(mut chart) = self.chart else { return out };
        let t = self.total;
        while let Some(b) = chart.open.pop() {
            let depth = chart.open.len() as u32;
            chart.closed.push((depth, b, t));
        }
        let mut boxes: Vec<_> = chart.closed.into_iter().filter(|(d, b, end)| *d == 0 || fixed_f64(end - b.start) >= min_time).collect();
        boxes.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(&b.0)));
        let mut name_index = vec![NONE; self.names.len()];
        for (depth, b, end) in boxes {
            let ni = &mut name_index[b.name as usize];
            if *ni == NONE {
                *ni = out.names.len() as u32;
                out.names.push(self.names.get(FrameId(b.name)).to_vec());
            }
            let width = if depth == 0 { out.timemax } else { fixed_f64(end - b.start) };
            out.depth.push(depth);
            out.start.push(fixed_f64(b.start));
            out.width.push(width);
            out.name.push(*ni);
            out.delta.push(fixed_f64_signed(b.delta));
            out.diff.push(b.diff);
            out.before.push(if depth == 0 { width - fixed_f64_signed(b.delta) } else { fixed_f64_signed((end - b.start) as i128 - b.delta) });
            out.count.push(end - b.start);
            out.before_count.push(((end - b.start) as i128 - b.delta).max(0) as u128);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str, opts: TreeOptions, min: MinWidth) -> Frames {
        let mut b = TreeBuilder::new(opts);
        b.read_slice(text.as_bytes());
        b.finish(min, None).unwrap()
    }

    const ALL: MinWidth = MinWidth::Percent(0.0);

    /// (depth, name, start, width) rows.
    fn rows(f: &Frames) -> Vec<(u32, String, f64, f64)> {
        (0..f.depth.len()).map(|i| (f.depth[i], String::from_utf8_lossy(&f.names[f.name[i] as usize]).into_owned(), f.start[i], f.width[i])).collect()
    }

    #[test]
    fn differential_frames_know_both_counts() {
        let f = build("a;b 3 5\na;c 4 1\na 2 2\n", TreeOptions::default(), ALL);
        let got: Vec<_> = (0..f.depth.len()).map(|i| (String::from_utf8_lossy(&f.names[f.name[i] as usize]).into_owned(), f.before[i], f.width[i])).collect();
        assert_eq!(got, vec![("".into(), 9.0, 8.0), ("a".into(), 9.0, 8.0), ("b".into(), 3.0, 5.0), ("c".into(), 4.0, 1.0)]);
    }

    #[test]
    fn line_grammar() {
        const S: u128 = SCALE;
        assert_eq!(parse_line(b"a;b 5"), Ok((&b"a;b"[..], None, 5 * S)));
        assert_eq!(parse_line(b"a;b 31.5 2."), Ok((&b"a;b"[..], Some(31 * S + S / 2), 2 * S)));
        assert_eq!(parse_line(b"a;b\t7"), Ok((&b"a;b"[..], None, 7 * S)));
        assert_eq!(parse_line(b" 5"), Ok((&b""[..], None, 5 * S)));
        assert_eq!(parse_line(b"a;b  5"), Ok((&b"a;b "[..], None, 5 * S)));
        assert_eq!(parse_line(b"a;b .5"), Ok((&b"a;b"[..], None, S / 2)));
        for bad in [&b"a;b"[..], b"a;b5", b"a;b 1.2.3", b"a;b -1", b"5", b"a;b 18446744073709551616"] {
            assert!(parse_line(bad).is_err());
        }
    }

    #[test]
    fn merges_into_a_tree_in_byte_order() {
        // flamegraph.pl would split `foo` in two here (`foo2` sorts between `foo` and `foo;x`)
        let f = build("main;foo;x 5\nmain;foo2 3\nmain;foo 1\n", TreeOptions::default(), ALL);
        assert_eq!(
            rows(&f),
            vec![
                (0, "".into(), 0.0, 9.0),
                (1, "main".into(), 0.0, 9.0),
                (2, "foo".into(), 0.0, 6.0),
                (3, "x".into(), 1.0, 5.0),
                (2, "foo2".into(), 6.0, 3.0),
            ]
        );
        assert_eq!(f.total, 9.0);
    }

    #[test]
    fn same_tree_whatever_the_line_order() {
        let text = "a;b;c 1\na;b 2\nx 3\na;b;d 4\n;a 1\na 7\na;b;c 2\n";
        let mut lines: Vec<&str> = text.lines().collect();
        let f1 = build(text, TreeOptions::default(), ALL);
        lines.sort();
        let f2 = build(&(lines.join("\n") + "\n"), TreeOptions::default(), ALL);
        lines.reverse();
        let f3 = build(&lines.join("\n"), TreeOptions::default(), ALL);
        assert_eq!(rows(&f1), rows(&f2));
        assert_eq!(rows(&f1), rows(&f3));
        let names: Vec<_> = rows(&f1).into_iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(names[1], (1, "".to_string())); // `;a`: an empty first frame
    }

    #[test]
    fn prefix_reuse_is_exact() {
        // names that extend each other across the `;` boundary
        let f = build("ab;c 1\nab 1\na;bc 1\na;b;c 1\nab;c;d 1\nab;cd 1\n", TreeOptions::default(), ALL);
        let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1, r.3)).collect();
        assert_eq!(
            r,
            vec![
                (0, "".into(), 6.0),
                (1, "a".into(), 2.0),
                (2, "b".into(), 1.0),
                (3, "c".into(), 1.0),
                (2, "bc".into(), 1.0),
                (1, "ab".into(), 4.0),
                (2, "c".into(), 2.0),
                (3, "d".into(), 1.0),
                (2, "cd".into(), 1.0),
            ]
        );
    }

    #[test]
    fn trailing_empty_frames_and_bad_lines() {
        let mut b = TreeBuilder::new(TreeOptions::default());
        b.read_slice(b"a;b; 5\r\nnot a line\n\n# comment\n;; 2\na;b 1\n");
        assert_eq!(b.warnings().1, 1);
        assert_eq!(b.warnings().0[0].line, 2);
        let f = b.finish(ALL, None).unwrap();
        assert_eq!(rows(&f), vec![(0, "".into(), 0.0, 8.0), (1, "a".into(), 2.0, 6.0), (2, "b".into(), 2.0, 6.0)]);
    }

    #[test]
    fn minwidth_prunes_but_parents_keep_the_samples() {
        let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Pixels { px: 0.1, image_width: 1180.0 });
        // b is 1/1001 of 1180 px = 1.18 px: kept; at 10 px it goes
        assert_eq!(f.depth.len(), 4);
        let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Pixels { px: 10.0, image_width: 1180.0 });
        assert_eq!(rows(&f), vec![(0, "".into(), 0.0, 1001.0), (1, "a".into(), 0.0, 1001.0), (2, "c".into(), 1.0, 1000.0)]);
        let f = build("a;b 1\na;c 1000\n", TreeOptions::default(), MinWidth::Percent(0.5));
        assert_eq!(f.depth.len(), 3);
    }

    #[test]
    fn differential_delta_goes_to_the_leaf() {
        let f = build("a;b 3 5\na 4 1\na;c 1\n", TreeOptions::default(), ALL);
        let d: Vec<_> = (0..f.depth.len()).map(|i| (f.names[f.name[i] as usize].clone(), f.delta[i], f.diff[i], f.width[i])).collect();
        assert_eq!(
            d,
            vec![(b"".to_vec(), 0.0, true, 7.0), (b"a".to_vec(), -3.0, true, 7.0), (b"b".to_vec(), 2.0, true, 5.0), (b"c".to_vec(), 0.0, false, 1.0)]
        );
        assert_eq!(f.maxdelta, 3.0);
    }

    #[test]
    fn reverse_and_chain() {
        let f = build("a;b;c 2\nx;c 1\n", TreeOptions { reverse: true, ..Default::default() }, ALL);
        let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(r, vec![(0, "".into()), (1, "c".into()), (2, "b".into()), (3, "a".into()), (2, "x".into())]);
        let f = build("a;--;b 2\nc 1\n", TreeOptions { chain: true, ..Default::default() }, ALL);
        let r: Vec<_> = rows(&f).into_iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(r, vec![(0, "".into()), (1, "a".into()), (2, "--".into()), (3, "b_[w]".into()), (1, "c".into()), (2, "--".into())]);
    }

    #[test]
    fn flame_chart_keeps_input_order() {
        let f = build("b;x 1\nb;x 2\na 1\nb 1\n", TreeOptions { flamechart: true, ..Default::default() }, ALL);
        assert_eq!(
            rows(&f),
            vec![
                (0, "".into(), 0.0, 5.0),
                (1, "b".into(), 0.0, 3.0),
                (2, "x".into(), 0.0, 3.0),
                (1, "a".into(), 3.0, 1.0),
                (1, "b".into(), 4.0, 1.0),
            ]
        );
    }

    #[test]
    fn total_widens_the_scale() {
        let mut b = TreeBuilder::new(TreeOptions::default());
        b.read_slice(b"a 10\n");
        let f = b.finish(ALL, Some(40.0)).unwrap();
        assert_eq!((f.total, f.timemax, f.width[0], f.width[1]), (10.0, 40.0, 40.0, 10.0));
    }

    #[test]
    fn streaming_reader_matches_slice() {
        let mut text = Vec::new();
        for i in 0..50_000 {
            text.extend_from_slice(format!("main;f{};g{} {}\n", i % 97, i % 13, i % 5 + 1).as_bytes());
        }
        text.extend_from_slice(b"last;line 3"); // no final newline
        let mut a = TreeBuilder::new(TreeOptions::default());
        a.read_slice(&text);
        let mut b = TreeBuilder::new(TreeOptions::default());
        // a reader that hands out odd-sized pieces
        struct Odd<'a>(&'a [u8], usize);
        impl Read for Odd<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1 % 7919 + 1;
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        b.read(Odd(&text, 0), &|_| Ok(())).unwrap();
        assert_eq!(a.finish(ALL, None).unwrap(), b.finish(ALL, None).unwrap());
    }

    #[test]
    fn siblings_in_order_of_their_shown_names() {
        let f = build("a;fReadComplete_[j] 1\na;fRead_[j] 1\na;fRead 1\n", TreeOptions::default(), ALL);
        let r: Vec<_> = rows(&f).into_iter().skip(2).map(|r| r.1).collect();
        assert_eq!(r, vec!["fRead", "fRead_[j]", "fReadComplete_[j]"]);
    }

    #[test]
    fn common_prefix_lengths() {
        let a = b"0123456789abcdefghij";
        for n in 0..a.len() {
            let mut b = a.to_vec();
            b[n] = b'#';
            assert_eq!(common_prefix(a, &b), n);
            assert_eq!(common_prefix(a, &a[..n]), n);
        }
        assert_eq!(common_prefix(a, a), a.len());
    }

    #[test]
    fn same_frames_at_any_thread_count() {
        let mut text = Vec::new();
        for i in 0..200_000u32 {
            let (a, b, c) = (i.wrapping_mul(2654435761) % 31, i % 7, i % 1009);
            text.extend_from_slice(format!("r{a};m{b};x{c} {}\n", i % 9 + 1).as_bytes());
            if i % 50_000 == 7 {
                text.extend_from_slice(b"a bad line\n");
            }
        }
        let run = |threads| {
            let mut b = TreeBuilder::new(TreeOptions { threads, ..Default::default() });
            b.read(&text[..], &|_| Ok(())).unwrap();
            let w: Vec<u64> = b.warnings().0.iter().map(|w| w.line).collect();
            (b.finish(ALL, None).unwrap(), w)
        };
        let one = run(1);
        assert_eq!(one.1, vec![9, 50_010, 100_011, 150_012]);
        assert!(one.0.depth.len() > 1000);
        assert_eq!(run(2), one);
        assert_eq!(run(3), one);
    }

    #[test]
    fn children_out_of_order_are_found() {
        // sorted, then unsorted, then repeated names under the same parents
        let mut text = String::new();
        for round in 0..3 {
            for i in 0..300u32 {
                let k = if round == 1 { (i * 7919) % 300 } else { i };
                text += &format!("p{};c{k:03};d{} 1\n", k % 3, k % 5);
            }
        }
        let f = build(&text, TreeOptions::default(), ALL);
        // root, 3 p, 300 c (each under one p), 300 d
        assert_eq!(f.depth.len(), 1 + 3 + 300 + 300);
        assert_eq!(f.width[0], 900.0);
        assert!(f.width.iter().zip(&f.depth).filter(|(_, &d)| d == 3).all(|(&w, _)| w == 3.0));
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `FLAMEFOLD_TIMING_INPUT=big.folded cargo test --release --lib tree::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn phases() {
        let Ok(path) = std::env::var("FLAMEFOLD_TIMING_INPUT") else { return };
        for threads in [1, 2] {
            let t = std::time::Instant::now();
            let mut b = TreeBuilder::new(TreeOptions { threads, ..Default::default() });
            b.read(std::fs::File::open(&path).unwrap(), &|_| Ok(())).unwrap();
            let read = t.elapsed();
            let nodes = b.nodes();
            let f = b.finish(MinWidth::Percent(0.01), None).unwrap();
            eprintln!("threads {threads}: read {:?}, finish {:?}, {nodes} nodes, {} drawn", read, t.elapsed() - read, f.depth.len());
        }
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::diff::{diff, Sides};

    /// Cut, bit-flipped and spliced corpus files (and diffs of them) never panic the graph or
    /// the diff, at any thread count, and give the same frames at every thread count.
    #[test]
    fn mangled_input_never_panics() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flamegraph/inputs");
        let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
        corpus.sort();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for f in &corpus {
            let f = &f[..f.len().min(200_000)];
            inputs.push(f[..rnd(f.len())].to_vec());
            let mut flipped = f.to_vec();
            for _ in 0..50 {
                let i = rnd(flipped.len());
                flipped[i] ^= 1 << rnd(8);
            }
            inputs.push(flipped);
            let mut odd = f.to_vec();
            for _ in 0..30 {
                let i = rnd(odd.len());
                let b = [b'\n', b';', b' ', b'\t', b'.', b'0', b'9', b'\r', 0, 0xff][rnd(10)];
                odd.insert(i, b);
            }
            inputs.push(odd);
        }
        inputs.push(b"a 18446744073709551615\nb 18446744073709551615\n".to_vec());
        inputs.push(b"a 18446744073709551615 0\nb 0 18446744073709551615\nc 18446744073709551615 1\n".to_vec());
        inputs.push(b" \n;\n;;; 1\n 0 0\n.5 .5\n1. 2.\n 99999999999999999999.99999999999999999999999\n".to_vec());
        for text in &inputs {
            let mut outs = Vec::new();
            for threads in 1..=3 {
                for (reverse, flamechart, chain) in [(false, false, false), (true, false, true), (false, true, false)] {
                    let r = std::panic::catch_unwind(|| {
                        let mut b = TreeBuilder::new(TreeOptions { reverse, flamechart, chain, threads });
                        let _ = b.read(&text[..], &|_| Ok(()));
                        b.finish(MinWidth::Pixels { px: 0.1, image_width: 1180.0 }, Some(3.0)).ok()
                    });
                    let r = r.unwrap_or_else(|_| panic!("graph panicked at {threads} threads on {:?}", String::from_utf8_lossy(&text[..text.len().min(200)])));
                    if (reverse, flamechart) == (false, false) {
                        outs.push(r);
                    }
                }
            }
            assert!(outs.windows(2).all(|w| w[0] == w[1]));
            let r = std::panic::catch_unwind(|| {
                for (n, s) in [(false, false), (true, true)] {
                    if let Ok(sides) = Sides::read(&text[..], &inputs[0][..]) {
                        if let Ok(d) = diff(sides, n, s) {
                            let t = d.to_text();
                            let mut b = TreeBuilder::new(TreeOptions { threads: 2, ..Default::default() });
                            let _ = b.read(&t[..], &|_| Ok(()));
                            let _ = b.finish(MinWidth::Percent(0.0), None);
                        }
                    }
                }
            });
            assert!(r.is_ok(), "diff panicked on {:?}", String::from_utf8_lossy(&text[..text.len().min(200)]));
        }
    }
}
