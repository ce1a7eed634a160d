//! Symbol tables with perf's rules (`tools/perf/util/symbol.c`): one symbol per address (the
//! best alias by `choose_best_symbol`), zero-size symbols extended to the next one
//! (`symbols__fixup_end`), lookups over `[start, end)`.

/// ELF symbol bindings, as perf keeps them.
pub const BIND_LOCAL: u8 = 0;
pub const BIND_GLOBAL: u8 = 1;
pub const BIND_WEAK: u8 = 2;

/// A symbol; its name is in its table's name bytes or in the mapped file it came from.
#[derive(Clone, Copy, Debug)]
pub struct Symbol {
    pub start: u64,
    pub end: u64,
    name: u32,
    len: u32,
    pub bind: u8,
    /// Whether the file gave it a size (else its end was fixed up to the next symbol).
    sized: bool,
    /// The name is in the mapped file (its string table), not in the table's own bytes.
    in_file: bool,
}

/// Where names are: bytes of their own, and the mapped ELF file whose string table holds
/// most of them (mapped pages cost memory only once read, and only names shown are read).
#[derive(Default)]
pub struct Names {
    own: Vec<u8>,
    pub file: Option<memmap2::Mmap>,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Names({} bytes, file: {})", self.own.len(), self.file.is_some())
    }
}

impl Names {
    fn get(&self, s: &Symbol) -> &[u8] {
        let r = s.name as usize..(s.name + s.len) as usize;
        match (&self.file, s.in_file) {
            (Some(f), true) => &f[r],
            _ => &self.own[r],
        }
    }
}

/// Symbols being collected, their names in one buffer (no allocation per symbol).
#[derive(Default, Debug)]
pub struct Symbols {
    syms: Vec<Symbol>,
    pub names: Names,
}

impl Symbols {
    pub fn push(&mut self, start: u64, end: u64, bind: u8, name: &[u8]) {
        let len = name.len().min(u32::MAX as usize);
        self.syms.push(Symbol { start, end, name: self.names.own.len() as u32, len: len as u32, bind, sized: end > start, in_file: false });
        self.names.own.extend_from_slice(&name[..len]);
    }

    /// A symbol whose name is at `at` in the file that [`Names::file`] will map.
    pub fn push_in_file(&mut self, start: u64, end: u64, bind: u8, at: usize, name: &[u8]) {
        match (u32::try_from(at), u32::try_from(name.len())) {
            (Ok(at), Ok(len)) if at.checked_add(len).is_some() => self.syms.push(Symbol { start, end, name: at, len, bind, sized: end > start, in_file: true }),
            _ => self.push(start, end, bind, name),
        }
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
/// for (perf demangles them all at load; only aliases need it then).
#[derive(Default, Debug)]
pub struct SymbolTable {
    syms: Vec<Symbol>,
    names: Names,
    demangle: Option<Demangle>,
}

fn name_of<'a>(names: &'a Names, s: &Symbol) -> &'a [u8] {
    names.get(s)
}

fn underscores(name: &[u8]) -> usize {
    name.iter().take_while(|&&c| c == b'_').count()
}

/// perf's `choose_best_symbol`: whether `b` beats `a` (two symbols at one address), on the
/// names perf stores (demangled: C++ with its parameters).
fn better(names: &Names, a: &Symbol, b: &Symbol, demangle: Option<Demangle>) -> bool {
    let (la, lb) = (a.end - a.start, b.end - b.start);
    if lb == 0 && la > 0 {
        return false;
    }
    if la == 0 && lb > 0 {
        return true;
    }
    let (wa, wb) = (a.bind == BIND_WEAK, b.bind == BIND_WEAK);
    if wb != wa {
        return wa;
    }
    let (ga, gb) = (a.bind == BIND_GLOBAL, b.bind == BIND_GLOBAL);
    if ga != gb {
        return gb;
    }
    let shown = |s: &Symbol| {
        let n = name_of(names, s);
        demangle.and_then(|d| d(n)).unwrap_or_else(|| n.to_vec())
    };
    let (na, nb) = (shown(a), shown(b));
    let (ua, ub) = (underscores(&na), underscores(&nb));
    if ua != ub {
        return ub < ua;
    }
    nb.len() > na.len()
}

impl SymbolTable {
    /// Builds a table from symbols in any order. `kallsyms`: the kernel's list, where the last
    /// symbol of the kernel or of a module ends at the next page.
    pub fn new(symbols: Symbols, kallsyms: bool, demangle: Option<Demangle>) -> Self {
        let Symbols { mut syms, names } = symbols;
        // stable: symbols at one address stay in file order, as in perf's tree
        syms.sort_by_key(|s| s.start);
        // perf fixes the ends before removing aliases: of zero-size symbols at one address,
        // only the last gets a size, and a sized symbol beats unsized ones
        for i in 1..syms.len() {
            let (prev, cur) = syms.split_at_mut(i);
            let (p, c) = (&mut prev[i - 1], &cur[0]);
            if p.end == p.start {
                let pm = memchr::memchr(b'[', name_of(&names, p)).is_some();
                let cm = memchr::memchr(b'[', name_of(&names, c)).is_some();
                p.end = if kallsyms && pm != cm { (p.end + 4096).div_ceil(4096) * 4096 } else { c.start };
            }
        }
        if let Some(l) = syms.last_mut() {
            if l.end == l.start {
                l.end = l.start.div_ceil(4096) * 4096 + 4096;
            }
        }
        let mut out: Vec<Symbol> = Vec::with_capacity(syms.len());
        for s in syms {
            match out.last_mut() {
                Some(last) if last.start == s.start => {
                    if better(&names, last, &s, demangle) {
                        *last = s;
                    }
                }
                _ => out.push(s),
            }
        }
        let mut names = names;
        names.own.shrink_to_fit();
        out.shrink_to_fit();
        SymbolTable { syms: out, names, demangle }
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

    /// A symbol's name as perf prints it.
    pub fn name(&self, i: u32) -> std::borrow::Cow<'_, [u8]> {
        let raw = self.raw_name(i);
        match self.demangle.and_then(|d| d(raw)) {
            Some(n) => n.into(),
            None => raw.into(),
        }
    }

    /// Where the last symbol ends (0 when there is none).
    pub fn end(&self) -> u64 {
        self.syms.iter().map(|s| s.end).max().unwrap_or(0)
    }

    /// The mapped file holding the names, if any.
    pub fn file(&self) -> Option<&memmap2::Mmap> {
        self.names.file.as_ref()
    }

    /// A symbol's name as in the file.
    pub fn raw_name(&self, i: u32) -> &[u8] {
        name_of(&self.names, &self.syms[i as usize])
    }

    /// Symbols added after the ends were fixed and the aliases removed (perf's PLT symbols).
    pub fn add_unfixed(&mut self, more: Symbols) {
        if !more.is_empty() {
            let base = self.names.own.len() as u32;
            self.names.own.extend_from_slice(&more.names.own);
            self.syms.extend(more.syms.into_iter().map(|s| Symbol { name: s.name + base, in_file: false, ..s }));
            self.syms.sort_by_key(|s| s.start);
        }
    }

    /// The index of the symbol holding `addr`. perf walks a tree where symbols may overlap
    /// (zero-size symbols extended to the next one, labels inside functions, PLT entries added
    /// last); which one it meets first is approximated as: the nearest symbol at or below
    /// `addr` if the file gave it a size and it holds `addr`; else a sized symbol shortly below
    /// that holds it (a function around a label); else the nearest one if its extended range
    /// holds it; else none (a zero-size PLT entry hides an extended symbol below it).
    pub fn find(&self, addr: u64) -> Option<u32> {
        let i = self.syms.partition_point(|s| s.start <= addr).checked_sub(1)?;
        let holds = |s: &Symbol| addr < s.end || addr == s.start;
        let s = &self.syms[i];
        if s.sized && holds(s) {
            return Some(i as u32);
        }
        for j in (i.saturating_sub(16)..i).rev() {
            let t = &self.syms[j];
            if t.sized && holds(t) {
                return Some(j as u32);
            }
        }
        holds(s).then_some(i as u32)
    }
}

/// `/proc/kallsyms` as perf reads it (`map__process_kallsym_symbol`): text, weak, data and bss
/// symbols, module symbols (`name\t[module]`) left out.
pub fn load_kallsyms(text: &[u8]) -> SymbolTable {
    let mut syms = Symbols::default();
    for line in text.split(|&c| c == b'\n') {
        let mut it = line.splitn(3, |&c| c == b' ');
        let (Some(addr), Some(ty), Some(rest)) = (it.next(), it.next(), it.next()) else { continue };
        let Some(&t) = ty.first() else { continue };
        if !matches!(t.to_ascii_uppercase(), b'T' | b'W' | b'D' | b'B') {
            continue;
        }
        if memchr::memchr(b'\t', rest).is_some() || rest.first() == Some(&b'$') {
            continue; // a module's symbol
        }
        let Ok(start) = u64::from_str_radix(std::str::from_utf8(addr).unwrap_or(""), 16) else { continue };
        let bind = if t == b'W' || t == b'w' {
            BIND_WEAK
        } else if t.is_ascii_uppercase() {
            BIND_GLOBAL
        } else {
            BIND_LOCAL
        };
        syms.push(start, start, bind, rest);
    }
    SymbolTable::new(syms, true, None)
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
mod tests {
    use super::*;

    fn table(syms: &[(u64, u64, u8, &str)]) -> SymbolTable {
        let mut b = Symbols::default();
        for &(start, size, bind, name) in syms {
            b.push(start, start + size, bind, name.as_bytes());
        }
        SymbolTable::new(b, false, None)
    }

    #[test]
    fn aliases_and_ends() {
        let t = table(&[(0x10, 0, BIND_GLOBAL, "b"), (0x10, 8, BIND_WEAK, "__a"), (0x10, 8, BIND_GLOBAL, "__x"), (0x40, 0, BIND_LOCAL, "z")]);
        // zero-size aliases: the last one gets the size up to the next symbol, and wins
        let k = load_kallsyms(b"0000000000001000 T __ia32_sys_f\n0000000000001000 T __x64_sys_f\n0000000000001010 T g\n");
        assert_eq!(k.raw_name(k.find(0x1004).unwrap()), b"__x64_sys_f");
        assert_eq!(t.raw_name(t.find(0x12).unwrap()), b"__x");
        assert!(t.find(0x20).is_none());
        assert_eq!(t.raw_name(t.find(0x40).unwrap()), b"z");
        assert_eq!(t.get(t.find(0x40).unwrap()).end, 0x2000);
        let t = table(&[(0x10, 0, BIND_GLOBAL, "a"), (0x30, 4, BIND_GLOBAL, "b")]);
        assert_eq!(t.raw_name(t.find(0x2f).unwrap()), b"a");
    }

    #[test]
    fn overlaps() {
        // a label inside a function: the function
        let t = table(&[(0x100, 0x40, BIND_LOCAL, "f"), (0x110, 0, BIND_LOCAL, "label"), (0x200, 0x10, BIND_LOCAL, "g")]);
        assert_eq!(t.raw_name(t.find(0x120).unwrap()), b"f");
        // past the function, the label's extended range
        assert_eq!(t.raw_name(t.find(0x150).unwrap()), b"label");
        // a zero-size PLT entry added last hides the extended symbol below it
        let mut t = table(&[(0x100, 0, BIND_LOCAL, "_fini"), (0x2000, 0x10, BIND_LOCAL, "g")]);
        let mut plt = Symbols::default();
        plt.push(0x110, 0x110, BIND_GLOBAL, b"a@plt");
        t.add_unfixed(plt);
        assert!(t.find(0x120).is_none());
        assert_eq!(t.raw_name(t.find(0x110).unwrap()), b"a@plt");
    }

    #[test]
    fn kallsyms() {
        let t = load_kallsyms(b"ffffffff81000000 T _text\nffffffff81000010 t foo\nffffffff81000020 r rodata\nffffffffc0000000 t m\t[mod]\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t.raw_name(t.find(0xffffffff81000015).unwrap()), b"foo");
    }
}
