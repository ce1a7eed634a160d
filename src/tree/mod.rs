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
use crate::input::folded::{count_fixed, fixed_f64, fixed_f64_signed, MAX_FIXED, SCALE};
use crate::intern::{common_prefix, FrameId, Interner};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::sync::mpsc;

const MAX_WARNINGS: usize = 100;
const NONE: u32 = u32::MAX;

/// Slots of the front cache of frame names (a power of two).
const FRONT: usize = 1 << 14;

/// A frame name's slot in the front cache: its length and its first, middle and last words.
#[inline]
fn front_slot(b: &[u8]) -> usize {
    let n = b.len();
    let (x, y, z) = if n >= 8 {
        let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        (w(0), w(n / 2 - 4), w(n - 8))
    } else {
        let mut x = 0u64;
        for &c in b {
            x = x << 8 | u64::from(c);
        }
        (x, 0, 0)
    };
    let h = (x ^ y.rotate_left(21) ^ z.rotate_left(43) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - FRONT.trailing_zeros())) as usize
}

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
    /// Exact `width` and `before` (fixed point, see [`crate::input::folded::SCALE`]); the root's are
    /// the sums of the counts, even when `--total` widens its box.
    pub count: Vec<u128>,
    pub before_count: Vec<u128>,
    /// Sum of all counts (of the second column in a differential graph).
    pub total: f64,
    /// The same, exact: fixed point, in units of 10^-18 (see [`crate::input::folded::SCALE`]).
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
    /// A direct-mapped cache in front of `names` (see [`TreeBuilder::intern`])
    front: Vec<u32>,
    // the tree, one entry per node; node 0 is the root, a child always comes after its parent
    nodes: Vec<Node>,
    /// Per node, only once a differential line came: self delta, and whether such a line
    /// went through the node (at its leaf; propagated up at the end)
    delta: Vec<i128>,
    diff: Vec<bool>,
    /// Per node: its children are in `children` (they did not come in order)
    indexed: Vec<bool>,
    /// The children of indexed nodes, by (parent, name): only the child's id is stored (4
    /// bytes an entry, not 12: its node has the rest)
    children: HashTable<u32>,
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

/// Parses one folded line (without its line end): (stack, first count if two columns, count),
/// the counts in fixed point; or why it is not a folded line.
pub fn parse_line(line: &[u8]) -> std::result::Result<(&[u8], Option<u128>, u128), String> {
    let (stack, first, last) = crate::input::folded::split_columns(line).ok_or_else(|| format!("ignored, not `stack count`: {}", excerpt(line, 100)))?;
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
            front: Vec::new(),
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
        let Some(line) = crate::input::folded::content(line) else { return };
        match parse_line(line) {
            Ok((stack, before, after)) => self.add_stack(stack, before, after),
            Err(msg) => self.complaints.add(lineno, || msg),
        }
    }

    /// Adds one stack (`a;b;c`) with its count (and, for a differential line, the count
    /// before), in fixed point ([`crate::input::folded::SCALE`] is 1), each at most
    /// [`crate::input::folded::MAX_FIXED`]. Once a total passes that, nothing more is added and
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
                    let id = self.intern(f);
                    self.ids.push(id);
                } else {
                    self.buf.clear();
                    self.buf.extend_from_slice(f);
                    if waker {
                        self.buf.extend_from_slice(b"_[w]");
                    }
                    let buf = std::mem::take(&mut self.buf);
                    let id = self.intern(&buf);
                    self.ids.push(id);
                    self.buf = buf;
                }
            }
            if !waker {
                let id = self.intern(b"--");
                self.ids.push(id);
            }
        } else {
            for k in 0..self.frames.len() {
                let (s, e) = self.frames[k];
                let id = self.intern(&stack[s..e]);
                self.ids.push(id);
            }
        }
    }

    /// The id of a frame name. A name seen lately is found in a small direct-mapped table by a
    /// cheap hash of its length and three words (checked against the name itself: never
    /// wrong), before the interner's full hash and lookup.
    #[inline]
    fn intern(&mut self, f: &[u8]) -> u32 {
        if self.front.is_empty() {
            self.front = vec![NONE; FRONT];
        }
        let slot = front_slot(f);
        let id = self.front[slot];
        if id != NONE && crate::intern::eq_bytes(self.names.get(FrameId(id)), f) {
            return id;
        }
        let id = self.names.intern(f).0;
        self.front[slot] = id;
        id
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
                let nodes = &self.nodes;
                if let Some(&n) = self.children.find(hash, |&c| {
                    let node = &nodes[c as usize];
                    node.parent == parent && node.name == name
                }) {
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
        let nodes = &self.nodes;
        self.children.insert_unique(hash, child, |&c| {
            let node = &nodes[c as usize];
            hasher.hash_one(((node.parent as u64) << 32) | node.name as u64)
        });
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
                let id = self.intern(&stack[pos..end]);
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

}

pub mod colors;
mod finish;
mod pipe;
mod read;
pub mod svg;
#[cfg(test)]
mod tests;
