//! Symbol tables with perf's rules (`tools/perf/util/symbol.c`): one symbol per address (the
//! best alias by `choose_best_symbol`), zero-size symbols extended to the next one
//! (`symbols__fixup_end`), lookups over `[start, end)`.
//!
//! A table is compact: a sorted `Vec` of (start, end, name offset). The names of an ELF file's
//! symbols stay in the file and are read (`pread`) only for the symbols samples hit, as are the
//! names that decide between aliases at one address: most of a large library's symbols are
//! never named at all.

use foldhash::HashMap;
use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

pub use super::kallsyms::load_kallsyms;

/// ELF symbol bindings, as perf keeps them.
pub const BIND_LOCAL: u8 = 0;
pub const BIND_GLOBAL: u8 = 1;
pub const BIND_WEAK: u8 = 2;

/// Where a symbol's name is: the table's own bytes, or one of its string tables in a file.
const SRC_OWN: u8 = 0;
/// A PLT entry: the name read from a file's string table, demangled, then `@plt`.
const FLAG_PLT: u8 = 1;
/// The file gave the symbol a size (else its end was fixed up to the next symbol).
const FLAG_SIZED: u8 = 2;
/// Aliases at this address not chosen yet: `name` indexes [`SymbolTable::groups`].
const FLAG_PENDING: u8 = 4;
/// A kallsyms name holding a `[` (perf's sign of a module's symbol, where it fixes ends).
const FLAG_BRACKET: u8 = 8;

/// A symbol: 32 bytes, its name found through `src` and `name`.
#[derive(Clone, Copy, Debug)]
pub struct Symbol {
    pub start: u64,
    pub end: u64,
    /// Offset of the name in its source (or a group index when pending).
    name: u32,
    /// Length of an own name (names in files end at their NUL).
    len: u32,
    pub bind: u8,
    src: u8,
    flags: u8,
}

impl Symbol {
    fn sized(&self) -> bool {
        self.flags & FLAG_SIZED != 0
    }
}

/// A string table in an open file: names are read from it when asked for.
#[derive(Debug)]
pub struct StrTab {
    pub file: File,
    pub offset: u64,
    pub size: u64,
}

/// The longest name read from a file (C++ names run to a few KiB).
const MAX_NAME: usize = 64 << 10;

impl StrTab {
    fn read(&self, at: u32) -> Option<Vec<u8>> {
        let at = at as u64;
        if at >= self.size {
            return None;
        }
        let mut out = Vec::new();
        let mut chunk = 256usize;
        let mut pos = at;
        loop {
            let want = chunk.min((self.size - pos) as usize);
            if want == 0 || out.len() >= MAX_NAME {
                return None;
            }
            let start = out.len();
            out.resize(start + want, 0);
            // a file cut short since it was opened reads short: no name, never a crash
            self.file.read_exact_at(&mut out[start..], self.offset + pos).ok()?;
            if let Some(i) = memchr::memchr(0, &out[start..]) {
                out.truncate(start + i);
                return Some(out);
            }
            pos += want as u64;
            chunk = chunk.saturating_mul(4);
        }
    }
}

/// Where names are: bytes of their own, and string tables in files (`src` 1, 2, ...).
#[derive(Default, Debug)]
pub struct Names {
    own: Vec<u8>,
    pub files: Vec<StrTab>,
}

impl Names {
    fn get(&self, s: &Symbol) -> Option<Cow<'_, [u8]>> {
        if s.src == SRC_OWN {
            let r = s.name as usize..s.name as usize + s.len as usize;
            return self.own.get(r).map(Cow::Borrowed);
        }
        self.files.get(s.src as usize - 1)?.read(s.name).map(Cow::Owned)
    }
}

/// Symbols being collected, their own names in one buffer (no allocation per symbol).
#[derive(Default, Debug)]
pub struct Symbols {
    syms: Vec<Symbol>,
    pub names: Names,
}

impl Symbols {
    pub fn with_capacity(n: usize) -> Self {
        Symbols { syms: Vec::with_capacity(n), names: Names::default() }
    }

    /// Room for `n` symbols and `bytes` of their own names.
    pub fn with_room(n: usize, bytes: usize) -> Self {
        Symbols { syms: Vec::with_capacity(n), names: Names { own: Vec::with_capacity(bytes), files: Vec::new() } }
    }

    pub fn push(&mut self, start: u64, end: u64, bind: u8, name: &[u8]) {
        let len = name.len().min(u32::MAX as usize);
        let at = self.names.own.len();
        if at.checked_add(len).is_none_or(|e| e > u32::MAX as usize) {
            return; // 4 GiB of names: not a real symbol table
        }
        self.syms.push(Symbol { start, end, name: at as u32, len: len as u32, bind, src: SRC_OWN, flags: if end > start { FLAG_SIZED } else { 0 } });
        self.names.own.extend_from_slice(&name[..len]);
    }

    /// A kallsyms symbol (zero size), marked when its name holds a `[` (see [`SymbolTable::new`]).
    pub fn push_kallsyms(&mut self, start: u64, bind: u8, name: &[u8], bracket: bool) {
        let n = self.syms.len();
        self.push(start, start, bind, name);
        if bracket && self.syms.len() > n {
            self.syms[n].flags |= FLAG_BRACKET;
        }
    }

    /// A symbol whose name is at `at` in the string table `names.files[src - 1]`.
    pub fn push_in_file(&mut self, start: u64, end: u64, bind: u8, src: u8, at: u32) {
        self.syms.push(Symbol { start, end, name: at, len: 0, bind, src, flags: if end > start { FLAG_SIZED } else { 0 } });
    }

    /// A PLT entry named after `at` in `names.files[src - 1]` (demangled, then `@plt`).
    pub fn push_plt(&mut self, start: u64, end: u64, src: u8, at: u32) {
        self.syms.push(Symbol { start, end, name: at, len: 0, bind: BIND_GLOBAL, src, flags: FLAG_PLT | if end > start { FLAG_SIZED } else { 0 } });
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// How a DSO's names are demangled (perf demangles ELF symbols, not kernel or JIT map ones).
pub type Demangle = fn(&[u8]) -> Option<Vec<u8>>;

/// A DSO's symbols, sorted by start. Names are kept as in the file and demangled when asked
/// for (perf demangles them all at load; only the names shown and aliases need it).
#[derive(Default, Debug)]
pub struct SymbolTable {
    syms: Vec<Symbol>,
    names: Names,
    demangle: Option<Demangle>,
    /// Aliases at one address whose choice needs their names, in file order, by group.
    groups: Vec<Vec<Symbol>>,
    /// Where the last symbol ends.
    end: u64,
    /// Every [`BLOCK`]th symbol's start: a lookup searches this (it stays in cache), then one
    /// block of `syms`.
    index: Vec<u64>,
    /// The names (demangled) of aliases chosen on lookup, by index: read and demangled to
    /// choose, so not again to print.
    chosen: HashMap<u32, Vec<u8>>,
}

const BLOCK: usize = 32;

/// A stable sort by start: a radix sort of the starts' span in 11-bit digits (three passes
/// for a DSO up to 8 GiB), a comparison sort for short lists. The passes move 8-byte keys
/// (the start's offset above the lowest, then the symbol's index), the symbols are moved
/// once at the end.
fn sort_by_start(v: Vec<Symbol>) -> Vec<Symbol> {
    const BITS: u32 = 11;
    if v.is_sorted_by_key(|s| s.start) {
        // kallsyms is listed in order
        return v;
    }
    let mut v = v;
    if v.len() < 256 {
        v.sort_by_key(|s| s.start);
        return v;
    }
    let min = v.iter().map(|s| s.start).min().unwrap_or(0);
    let span = v.iter().map(|s| s.start - min).max().unwrap_or(0);
    let idx_bits = usize::BITS - v.len().leading_zeros();
    let span_bits = 64 - span.leading_zeros();
    if span_bits + idx_bits > 64 || v.len() > u32::MAX as usize {
        v.sort_by_key(|s| s.start);
        return v;
    }
    // the index below the offset: equal starts keep their order whatever the passes do
    let mut keys: Vec<u64> = v.iter().enumerate().map(|(i, s)| (s.start - min) << idx_bits | i as u64).collect();
    let mut other = vec![0u64; keys.len()];
    let passes = span_bits.div_ceil(BITS);
    let mut counts = vec![0usize; 1 << BITS];
    for p in 0..passes {
        let shift = idx_bits + BITS * p;
        let digit = |k: u64| (k >> shift & ((1 << BITS) - 1)) as usize;
        counts.iter_mut().for_each(|c| *c = 0);
        for &k in &keys {
            counts[digit(k)] += 1;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &k in &keys {
            let d = digit(k);
            other[counts[d]] = k;
            counts[d] += 1;
        }
        std::mem::swap(&mut keys, &mut other);
    }
    drop(other);
    // the symbols moved along the permutation's cycles, in place (no second list of them)
    let mask = (1u64 << idx_bits) - 1;
    let mut from: Vec<u32> = keys.iter().map(|&k| (k & mask) as u32).collect();
    drop(keys);
    for i in 0..from.len() {
        if from[i] as usize == i {
            continue;
        }
        let held = v[i];
        let mut j = i;
        loop {
            let k = from[j] as usize;
            from[j] = j as u32;
            if k == i {
                v[j] = held;
                break;
            }
            v[j] = v[k];
            j = k;
        }
    }
    v
}

fn underscores(name: &[u8]) -> usize {
    name.iter().take_while(|&&c| c == b'_').count()
}

/// perf's `choose_best_symbol` without the names: whether `b` beats `a`, or `None` when only
/// their names can tell.
fn better_by_kind(a: &Symbol, b: &Symbol) -> Option<bool> {
    let (la, lb) = (a.end - a.start, b.end - b.start);
    if lb == 0 && la > 0 {
        return Some(false);
    }
    if la == 0 && lb > 0 {
        return Some(true);
    }
    let (wa, wb) = (a.bind == BIND_WEAK, b.bind == BIND_WEAK);
    if wb != wa {
        return Some(wa);
    }
    let (ga, gb) = (a.bind == BIND_GLOBAL, b.bind == BIND_GLOBAL);
    if ga != gb {
        return Some(gb);
    }
    None
}

impl SymbolTable {
    /// Builds a table from symbols in any order. `kallsyms`: the kernel's list, where the last
    /// symbol of the kernel or of a module ends at the next page.
    pub fn new(symbols: Symbols, kallsyms: bool, demangle: Option<Demangle>) -> Self {
        let Symbols { syms, names } = symbols;
        // stable: symbols at one address stay in file order, as in perf's tree
        let mut syms = sort_by_start(syms);
        // perf fixes the ends before removing aliases: of zero-size symbols at one address,
        // only the last gets a size, and a sized symbol beats unsized ones
        let module = |s: &Symbol| s.flags & FLAG_BRACKET != 0;
        for i in 1..syms.len() {
            let (prev, cur) = syms.split_at_mut(i);
            let (p, c) = (&mut prev[i - 1], &cur[0]);
            if p.end == p.start {
                p.end = if kallsyms && module(p) != module(c) { (p.end + 4096).div_ceil(4096) * 4096 } else { c.start };
            }
        }
        if let Some(l) = syms.last_mut() {
            if l.end == l.start {
                l.end = l.start.div_ceil(4096) * 4096 + 4096;
            }
        }
        let end = syms.iter().map(|s| s.end).max().unwrap_or(0);
        let mut groups = Vec::new();
        // one symbol per address, written over the sorted list in place
        let (mut i, mut w) = (0, 0);
        while i < syms.len() {
            let n = syms[i..].iter().take_while(|s| s.start == syms[i].start).count();
            let group = &syms[i..i + n];
            let mut best = Some(group[0]);
            for s in &group[1..] {
                match best.map(|b| (b, better_by_kind(&b, s))) {
                    Some((_, Some(true))) => best = Some(*s),
                    Some((_, Some(false))) => {}
                    _ => {
                        best = None;
                        break;
                    }
                }
            }
            syms[w] = match best {
                Some(b) => b,
                None => {
                    // decided when a sample first lands here (names read and demangled then)
                    groups.push(group.to_vec());
                    Symbol { name: groups.len() as u32 - 1, flags: FLAG_PENDING, ..group[0] }
                }
            };
            w += 1;
            i += n;
        }
        syms.truncate(w);
        let mut t = SymbolTable { syms, names, demangle, groups, end, index: Vec::new(), chosen: HashMap::default() };
        if kallsyms || demangle.is_none() {
            // names in memory and nothing to demangle: cheap to settle now
            for i in 0..t.syms.len() {
                t.settle(i);
            }
            t.end = t.syms.iter().map(|s| s.end).max().unwrap_or(0);
        }
        t.syms.shrink_to_fit();
        t.reindex();
        t
    }

    fn reindex(&mut self) {
        self.index = self.syms.iter().step_by(BLOCK).map(|s| s.start).collect();
    }

    /// Chooses among the aliases at `syms[i]` (perf's fold over its tree's order).
    fn settle(&mut self, i: usize) {
        if self.syms[i].flags & FLAG_PENDING == 0 {
            return;
        }
        let group = std::mem::take(&mut self.groups[self.syms[i].name as usize]);
        // each alias's name read and demangled at most once (a group can hold a hundred)
        let mut shown: Vec<Option<Option<Vec<u8>>>> = vec![None; group.len()];
        let (names, demangle) = (&self.names, self.demangle);
        let mut name_of = |k: usize| -> Vec<u8> {
            shown[k]
                .get_or_insert_with(|| {
                    let n = names.get(&group[k])?;
                    Some(demangle.and_then(|d| d(&n)).unwrap_or_else(|| n.into_owned()))
                })
                .clone()
                .unwrap_or_default()
        };
        let mut best = 0;
        for k in 1..group.len() {
            let b = better_by_kind(&group[best], &group[k]).unwrap_or_else(|| {
                let (na, nb) = (name_of(best), name_of(k));
                let (ua, ub) = (underscores(&na), underscores(&nb));
                if ua != ub { ub < ua } else { nb.len() > na.len() }
            });
            if b {
                best = k;
            }
        }
        if let (Some(Some(n)), Some(_)) = (shown[best].take(), self.demangle) {
            self.chosen.insert(i as u32, n);
        }
        self.syms[i] = group[best];
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    pub fn get(&self, i: u32) -> &Symbol {
        &self.syms[i as usize]
    }

    /// A symbol's name as perf prints it (`None`: its file can no longer be read).
    pub fn name(&self, i: u32) -> Option<Vec<u8>> {
        let s = &self.syms[i as usize];
        let mut n = match self.chosen.get(&i) {
            Some(n) => n.clone(),
            None => {
                let raw = self.names.get(s)?;
                match self.demangle.and_then(|d| d(&raw)) {
                    Some(n) => n,
                    None => raw.into_owned(),
                }
            }
        };
        if s.flags & FLAG_PLT != 0 {
            n.extend_from_slice(b"@plt");
        }
        Some(n)
    }

    /// Where the last symbol ends (0 when there is none; of a table whose aliases are chosen
    /// on lookup, the end of the furthest alias).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// A symbol's name as in the file.
    pub fn raw_name(&self, i: u32) -> Vec<u8> {
        self.names.get(&self.syms[i as usize]).map(Cow::into_owned).unwrap_or_default()
    }

    /// Symbols added after the ends were fixed and the aliases removed (perf's PLT symbols),
    /// with their string tables.
    pub fn add_unfixed(&mut self, more: Symbols) {
        if !more.is_empty() {
            let base = self.names.own.len() as u32;
            let files = self.names.files.len() as u8;
            self.end = self.end.max(more.syms.iter().map(|s| s.end).max().unwrap_or(0));
            self.names.own.extend_from_slice(&more.names.own);
            self.names.files.extend(more.names.files);
            self.syms.extend(more.syms.into_iter().map(|s| if s.src == SRC_OWN { Symbol { name: s.name + base, ..s } } else { Symbol { src: s.src + files, ..s } }));
            // pending groups keep their index: a stable sort keeps them apart from the new ones
            self.syms.sort_by_key(|s| s.start);
            self.reindex();
            // indexes moved
            self.chosen.clear();
        }
    }

    /// The index of the symbol holding `addr`. perf walks a tree where symbols may overlap
    /// (zero-size symbols extended to the next one, labels inside functions, PLT entries added
    /// last); which one it meets first is approximated as: the nearest symbol at or below
    /// `addr` if the file gave it a size and it holds `addr`; else a sized symbol shortly below
    /// that holds it (a function around a label); else the nearest one if its extended range
    /// holds it; else none (a zero-size PLT entry hides an extended symbol below it).
    pub fn find(&mut self, addr: u64) -> Option<u32> {
        let b = self.index.partition_point(|&s| s <= addr).checked_sub(1)?;
        let block = &self.syms[b * BLOCK..((b + 1) * BLOCK).min(self.syms.len())];
        let i = b * BLOCK + block.partition_point(|s| s.start <= addr) - 1;
        let holds = |s: &Symbol| addr < s.end || addr == s.start;
        self.settle(i);
        let s = self.syms[i];
        if s.sized() && holds(&s) {
            return Some(i as u32);
        }
        for j in (i.saturating_sub(16)..i).rev() {
            self.settle(j);
            let t = &self.syms[j];
            if t.sized() && holds(t) {
                return Some(j as u32);
            }
        }
        holds(&s).then_some(i as u32)
    }
}

/// A JIT's `/tmp/perf-PID.map`: `START SIZE name` per line, hex.
pub fn load_perf_map(text: &[u8]) -> SymbolTable {
    let mut syms = Symbols::default();
    for line in text.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut it = line.splitn(3, |&c| c == b' ');
        let (Some(a), Some(l), Some(name)) = (it.next(), it.next(), it.next()) else { continue };
        let hex = |b: &[u8]| {
            let s = std::str::from_utf8(b).ok()?;
            u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
        };
        let (Some(start), Some(len)) = (hex(a), hex(l)) else { continue };
        syms.push(start, start.saturating_add(len), BIND_GLOBAL, name);
    }
    SymbolTable::new(syms, false, None)
}

#[cfg(test)]
#[path = "symtab_tests.rs"]
mod tests;
