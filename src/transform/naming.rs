//! Frame and process names exactly as `flamefold collapse` gives them (stackcollapse-perf.pl's
//! rules, through [`crate::collapse::perf::tidy`]), so a stack in an off-CPU or hot/cold graph reads the
//! same as in a CPU graph of the same capture. `--inline` and `--srcline` are not offered here.

use super::events::Event;
use crate::intern::{FrameId, Interner};
use crate::collapse::perf::frame::FrameLine;
use crate::collapse::perf::tidy;
use std::collections::HashMap;

/// The naming options every transform shares (the collapser's `--pid --tid --kernel --jit
/// --addrs`).
#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    /// Process name root `comm-PID`.
    pub pid: bool,
    /// Process name root `comm-PID/TID`.
    pub tid: bool,
    /// `_[k]` on kernel frames.
    pub kernel: bool,
    /// `_[j]` on JIT frames.
    pub jit: bool,
    /// `[module <ADDR>]` for unknown symbols.
    pub addrs: bool,
}

impl From<&crate::collapse::perf::Options> for StackOptions {
    fn from(o: &crate::collapse::perf::Options) -> Self {
        StackOptions { pid: o.pid, tid: o.tid, kernel: o.kernel, jit: o.jit, addrs: o.addrs }
    }
}

/// Per name id, its replacement (see [`Namer::fixups`]).
pub type Fixups = Option<Vec<Option<Vec<u8>>>>;

/// Distinct frame lines cached before the cache is cleared (memory stays bounded).
const CACHE_LIMIT: usize = 1 << 18;

/// Names frames and interns them; one per run.
pub struct Namer {
    pub opts: StackOptions,
    pub names: Interner,
    /// Frame line -> ids, for processes named `java*` and for the others.
    cache: [HashMap<Vec<u8>, Vec<u32>>; 2],
    suffixed: HashMap<(u32, &'static [u8]), u32>,
    buf: Vec<u8>,
    tmp: Vec<u8>,
}

impl Namer {
    pub fn new(opts: StackOptions) -> Self {
        Namer { opts, names: Interner::new(), cache: Default::default(), suffixed: HashMap::new(), buf: Vec::new(), tmp: Vec::new() }
    }

    /// The id of a name given as is.
    pub fn intern(&mut self, name: &[u8]) -> u32 {
        self.names.intern(name).0
    }

    /// `id`'s name with `suffix` appended (`_[o]`, `_[w]`), interned.
    pub fn suffixed(&mut self, id: u32, suffix: &'static [u8]) -> u32 {
        if let Some(&s) = self.suffixed.get(&(id, suffix)) {
            return s;
        }
        self.buf.clear();
        self.buf.extend_from_slice(self.names.get(FrameId(id)));
        self.buf.extend_from_slice(suffix);
        let s = self.names.intern(&self.buf).0;
        self.suffixed.insert((id, suffix), s);
        s
    }

    /// The collapser's whole-capture fix of legacy Rust names perf left half demangled
    /// ([`crate::profile::rust_fixups`]): when most names are demangled and some still end in
    /// `::h<hash>`, those are finished. Decided over the names of this run as read (suffixed
    /// copies aside: they follow their frame). `None` when nothing changes.
    pub fn fixups(&self) -> Fixups {
        let derived: HashMap<u32, (u32, &[u8])> = self.suffixed.iter().map(|(&(b, suf), &id)| (id, (b, suf))).collect();
        // the names as read, in an interner of their own (`base[id]`: the id there)
        let mut read = Interner::new();
        let base: Vec<u32> = self.names.iter().map(|(id, n)| if derived.contains_key(&id.0) { u32::MAX } else { read.intern(n).0 }).collect();
        let fixed = crate::profile::rust_fixups(&read)?;
        let of = |id: u32| fixed[base[id as usize] as usize].clone();
        Some(
            self.names
                .iter()
                .map(|(id, _)| match derived.get(&id.0) {
                    Some(&(b, suffix)) => of(b).map(|mut f| {
                        f.extend_from_slice(suffix);
                        f
                    }),
                    None => of(id.0),
                })
                .collect(),
        )
    }

    /// Renders a stack of ids as `a;b;c` with the fix-ups.
    pub fn render(&self, fix: &Fixups, ids: &[u32], out: &mut Vec<u8>) {
        for (k, &id) in ids.iter().enumerate() {
            if k > 0 {
                out.push(b';');
            }
            match fix.as_ref().and_then(|f| f[id as usize].as_ref()) {
                Some(n) => out.extend_from_slice(n),
                None => out.extend_from_slice(self.names.get(FrameId(id))),
            }
        }
    }

    /// Renders stacks given as (ids, value) with the fix-ups, unsorted (equal texts may repeat
    /// when the fix-ups made two names one).
    pub fn render_all<'a, T: 'a, I: IntoIterator<Item = (&'a [u32], T)>>(&self, stacks: I) -> Vec<(Vec<u8>, T)> {
        let fix = self.fixups();
        stacks
            .into_iter()
            .map(|(k, v)| {
                let mut s = Vec::new();
                self.render(&fix, k, &mut s);
                (s, v)
            })
            .collect()
    }

    /// The process name the collapser roots a sample at: the comm (spaces made `_`), with
    /// `-PID` or `-PID/TID` as asked.
    pub fn process(&mut self, ev: &Event) -> u32 {
        self.buf.clear();
        self.buf.extend(ev.comm.iter().map(|&b| if b == b' ' { b'_' } else { b }));
        if self.opts.tid {
            self.buf.push(b'-');
            self.buf.extend_from_slice(&ev.pid_text);
            self.buf.push(b'/');
            self.buf.extend_from_slice(&ev.tid_text);
        } else if self.opts.pid {
            self.buf.push(b'-');
            self.buf.extend_from_slice(&ev.pid_text);
        }
        self.names.intern(&self.buf).0
    }

    /// Appends the sample's stack, root first: its process name, then its frames.
    pub fn stack(&mut self, ev: &Event, out: &mut Vec<u32>) {
        let root = self.process(ev);
        out.push(root);
        let java = self.names.get(FrameId(root)).starts_with(b"java");
        for i in (0..ev.depth()).rev() {
            self.frame_ids(java, ev.frame_text(i), ev.frame(i), out);
        }
    }

    /// The ids one frame line gives (several for an inline chain `a->b->c`, none for a symbol
    /// that starts with `(`), appended to `out` in root-to-leaf order.
    fn frame_ids(&mut self, java: bool, text: &[u8], fl: FrameLine<'_>, out: &mut Vec<u32>) {
        if let Some(ids) = self.cache[java as usize].get(text) {
            out.extend_from_slice(ids);
            return;
        }
        let ids = self.compute(java, fl);
        out.extend_from_slice(&ids);
        let cache = &mut self.cache[java as usize];
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.to_vec(), ids);
    }

    /// The collapser's naming of one frame line without `--inline` ([`tidy::frame_names`]).
    fn compute(&mut self, java: bool, fl: FrameLine<'_>) -> Vec<u32> {
        let mut ids = Vec::new();
        let o = &self.opts;
        let rules = tidy::NameRules { java, kernel: o.kernel, jit: o.jit, addrs: o.addrs };
        let names = &mut self.names;
        tidy::frame_names(fl.raw, fl.module, fl.addr, rules, &mut self.tmp, |n| ids.push(names.intern(n).0));
        ids
    }
}
