//! ELF symbols the way perf loads them (`tools/perf/util/symbol-elf.c`, `dso__load`): the file
//! is looked for in the build-id cache and the debug directories before its own path, the first
//! candidate with a `.symtab` gives the names (else `.dynsym`), a build-id mismatch disqualifies a
//! candidate, and addresses become file offsets through the program headers.

use super::symtab::{Demangle, SymbolTable, Symbols};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use std::path::{Path, PathBuf};

type Hdr = elf::FileHeader64<object::Endianness>;

/// An ELF file mapped into memory.
pub struct Mapped {
    map: memmap2::Mmap,
}

impl Mapped {
    pub fn open(path: &Path) -> Option<Mapped> {
        let f = std::fs::File::open(path).ok()?;
        if !f.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: read-only map of a file; a file truncated under us may fault, as for perf.
        let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
        Hdr::parse(&*map).ok()?;
        Some(Mapped { map })
    }

    pub fn data(&self) -> &[u8] {
        &self.map
    }

    fn header(&self) -> (&Hdr, object::Endianness) {
        let h = Hdr::parse(self.data()).expect("checked at open");
        let e = h.endian().unwrap_or(object::Endianness::Little);
        (h, e)
    }

    /// The GNU build id, from the note sections (or note segments when there are no sections).
    pub fn build_id(&self) -> Option<Vec<u8>> {
        let (h, e) = self.header();
        let data = self.data();
        if let Ok(sections) = h.sections(e, data) {
            for s in sections.iter() {
                if let Ok(Some(mut notes)) = s.notes(e, data) {
                    while let Ok(Some(n)) = notes.next() {
                        if n.name() == elf::ELF_NOTE_GNU && n.n_type(e) == elf::NT_GNU_BUILD_ID {
                            return Some(n.desc().to_vec());
                        }
                    }
                }
            }
        }
        for p in h.program_headers(e, data).ok()? {
            if let Ok(Some(mut notes)) = p.notes(e, data) {
                while let Ok(Some(n)) = notes.next() {
                    if n.name() == elf::ELF_NOTE_GNU && n.n_type(e) == elf::NT_GNU_BUILD_ID {
                        return Some(n.desc().to_vec());
                    }
                }
            }
        }
        None
    }

    fn has_section(&self, ty: elf::SectionType) -> bool {
        let (h, e) = self.header();
        h.sections(e, self.data()).is_ok_and(|s| s.iter().any(|s| s.sh_type(e) == ty))
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn home_debug() -> PathBuf {
    std::env::var_os("PERF_BUILDID_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".debug"))
}

/// The file a `.gnu_debuglink` section names, if any.
fn debuglink(m: &Mapped) -> Option<Vec<u8>> {
    let (h, e) = m.header();
    let sections = h.sections(e, m.data()).ok()?;
    let (_, s) = sections.section_by_name(e, b".gnu_debuglink")?;
    let d = s.data(e, m.data()).ok()?;
    Some(d[..memchr::memchr(0, d)?].to_vec())
}

/// Where perf looks for a DSO's symbols, in its order (`binary_type_symtab`): the debuglink
/// file, the build-id cache, the debug directories, the file itself.
fn candidates(path: &[u8], build_id: Option<&[u8]>) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    let mut v = Vec::new();
    if let Some(link) = Mapped::open(p).as_ref().and_then(debuglink) {
        let link = Path::new(std::ffi::OsStr::from_bytes(&link));
        let dir = p.parent().unwrap_or(Path::new("/"));
        v.push(link.to_path_buf());
        v.push(dir.join(link));
        v.push(dir.join(".debug").join(link));
        v.push(Path::new("/usr/lib/debug").join(dir.strip_prefix("/").unwrap_or(dir)).join(link));
    }
    let cache = home_debug();
    if let Some(id) = build_id.filter(|b| !b.is_empty()) {
        let h = hex(id);
        let (a, b) = h.split_at(2.min(h.len()));
        v.push(cache.join(".build-id").join(a).join(b).join("debug"));
        v.push(PathBuf::from(format!("/usr/lib/debug/.build-id/{a}/{b}.debug")));
        v.push(cache.join(".build-id").join(a).join(b).join("elf"));
        if path == b"[vdso]" {
            v.push(cache.join("[vdso]").join(&h).join("vdso"));
        }
    }
    if p.is_absolute() {
        let mut d = PathBuf::from("/usr/lib/debug");
        d.push(p.strip_prefix("/").unwrap_or(p));
        v.push(d);
        v.push(p.to_path_buf());
    }
    v
}

/// What loading a DSO gave: its symbols (empty when nothing usable was found) and a problem to
/// report once, if any.
pub struct Loaded {
    pub table: SymbolTable,
    pub problem: Option<String>,
}

/// Loads the symbols of the DSO mapped from `path` with `build_id` (when perf.data records one).
pub fn load(path: &[u8], build_id: Option<&[u8]>, demangle: Option<Demangle>) -> Loaded {
    // perf reads the build id from the file itself when the capture has none for it
    let own;
    let build_id = match build_id {
        Some(b) => Some(b),
        None => {
            use std::os::unix::ffi::OsStrExt;
            own = Mapped::open(Path::new(std::ffi::OsStr::from_bytes(path))).and_then(|m| m.build_id());
            own.as_deref()
        }
    };
    let mut syms: Option<Mapped> = None;
    let mut runtime: Option<Mapped> = None;
    let mut mismatch = None;
    let mut fallback = None;
    for c in candidates(path, build_id) {
        let Some(m) = Mapped::open(&c) else { continue };
        if let Some(want) = build_id.filter(|b| !b.is_empty()) {
            match m.build_id() {
                Some(got) if got == want => {}
                got => {
                    mismatch = Some(format!("{}: build id {} does not match the recorded {}: its frames are [unknown]", c.display(), got.as_deref().map_or("none".into(), hex), hex(want)));
                    continue;
                }
            }
        }
        // perf's symsrc: a .symtab gives the names, a real .dynsym (not the NOBITS one of a
        // debug file) makes a file the runtime image whose segments place them
        let (has_symtab, has_dynsym) = (m.has_section(elf::SHT_SYMTAB), m.has_section(elf::SHT_DYNSYM));
        if has_symtab && syms.is_none() {
            if has_dynsym && runtime.is_none() {
                runtime = Some(Mapped::open(&c).expect("opened once"));
            }
            syms = Some(m);
        } else if has_dynsym && runtime.is_none() {
            runtime = Some(m);
        } else if fallback.is_none() {
            fallback = Some(m);
        }
        if syms.is_some() && runtime.is_some() {
            break;
        }
    }
    let (s, r) = match (syms, runtime) {
        (Some(s), Some(r)) => (s, Some(r)),
        (Some(s), None) => (s, None),
        (None, Some(r)) => (r, None),
        (None, None) if fallback.is_some() => (fallback.expect("checked"), None),
        (None, None) => {
            let problem = mismatch.or_else(|| Some(format!("{}: not found: its frames are [unknown]", String::from_utf8_lossy(path))));
            return Loaded { table: SymbolTable::default(), problem };
        }
    };
    let runtime = r.as_ref().unwrap_or(&s);
    let mut symbols = read_symbols(&s, runtime, demangle);
    let plt = if symbols.is_empty() { Symbols::default() } else { plt_symbols(runtime, demangle) };
    drop(r);
    // the names stay in the mapped file of the symbols
    symbols.names.file = Some(s.map);
    let mut table = SymbolTable::new(symbols, false, demangle);
    table.add_unfixed(plt);
    if let Some(f) = table.file() {
        // what loading read (the symbol table) leaves memory; names shown later come back
        // from the page cache. SAFETY: a private read-only file map: dropped pages are read
        // again from the file.
        let _ = unsafe { f.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    }
    Loaded { table, problem: None }
}

/// perf's `dso__load_sym`: functions (and ifuncs), objects, and labels in text sections; values
/// turned into file offsets with the runtime file's PT_LOAD segments.
fn read_symbols(syms: &Mapped, runtime: &Mapped, _demangle: Option<Demangle>) -> Symbols {
    let (h, e) = syms.header();
    let data = syms.data();
    let Ok(sections) = h.sections(e, data) else { return Symbols::default() };
    let mut table = sections.symbols(e, data, elf::SHT_SYMTAB).ok().filter(|t| !t.is_empty());
    if table.is_none() {
        table = sections.symbols(e, data, elf::SHT_DYNSYM).ok();
    }
    let Some(table) = table else { return Symbols::default() };
    let (rh, re) = runtime.header();
    let loads: Vec<(u64, u64, u64)> = rh
        .program_headers(re, runtime.data())
        .map(|ps| ps.iter().filter(|p| p.p_type(re) == elf::PT_LOAD).map(|p| (p.p_vaddr(re), p.p_memsz(re), p.p_offset(re))).collect())
        .unwrap_or_default();
    let rsections = rh.sections(re, runtime.data()).ok();
    let mut out = Symbols::default();
    for sym in table.symbols() {
        let ty = sym.st_type();
        let shndx = sym.st_shndx(e);
        if sym.st_name(e) == 0 || shndx == elf::SHN_UNDEF {
            continue;
        }
        let is_func = ty == elf::STT_FUNC || ty == elf::STT_GNU_IFUNC;
        let is_object = ty == elf::STT_OBJECT && shndx != elf::SHN_ABS;
        let is_label = ty == elf::STT_NOTYPE && shndx != elf::SHN_ABS;
        if !(is_func || is_object || is_label) {
            continue;
        }
        let Some(idx) = shndx.index() else { continue };
        let Ok(mut sec) = sections.section(object::SectionIndex(idx as usize)) else { continue };
        let mut strs = &sections;
        if sec.sh_type(e) == elf::SHT_NOBITS {
            if let Some(rs) = rsections.as_ref().and_then(|rs| rs.section(object::SectionIndex(idx as usize)).ok().map(|s| (rs, s))) {
                strs = rs.0;
                sec = rs.1;
            }
        }
        if is_label {
            let name = strs.section_name(e, sec).unwrap_or(b"");
            if memchr::memmem::find(name, b"text").is_none() {
                continue;
            }
        }
        let Ok(name) = table.symbol_name(e, sym) else { continue };
        let mut value = sym.st_value(e);
        match loads.iter().find(|&&(va, sz, _)| value >= va && value < va + sz) {
            Some(&(va, _, off)) => value = value.wrapping_sub(va.wrapping_sub(off)),
            None => value = value.wrapping_sub(sec.sh_addr(e).wrapping_sub(sec.sh_offset(e))),
        }
        let bind = sym.st_bind();
        let at = name.as_ptr() as usize - data.as_ptr() as usize;
        out.push_in_file(value, value.wrapping_add(sym.st_size(e)), bind.0, at, name);
    }
    out
}

/// perf 6.1's `dso__synthesize_plt_symbols` (x86-64): one `NAME@plt` symbol per `.rela.plt`
/// entry, `.plt`'s entry size apart after a header of that size, at file offsets; added after
/// the ends are fixed, so a `.plt` whose entry size is 0 gives symbols of size 0.
fn plt_symbols(runtime: &Mapped, demangle: Option<Demangle>) -> Symbols {
    let (h, e) = runtime.header();
    let data = runtime.data();
    let mut out = Symbols::default();
    let Ok(sections) = h.sections(e, data) else { return out };
    let Some((dynsym_idx, _)) = sections.enumerate().find(|(_, s)| s.sh_type(e) == elf::SHT_DYNSYM) else { return out };
    let Some((_, rel)) = sections.section_by_name(e, b".rela.plt") else { return out };
    let Ok(Some((relas, link))) = rel.rela(e, data) else { return out };
    if link != dynsym_idx {
        return out;
    }
    let Some((_, plt)) = sections.section_by_name(e, b".plt") else { return out };
    let Ok(dynsym) = sections.symbols(e, data, elf::SHT_DYNSYM) else { return out };
    let entry = plt.sh_entsize(e);
    let mut offset = plt.sh_offset(e) + entry;
    for r in relas {
        let idx = r.r_sym(e, false) as usize;
        let name = dynsym.symbols().get(idx).and_then(|s| dynsym.symbol_name(e, s).ok()).unwrap_or(b"");
        let mut n = demangle.and_then(|d| d(name)).unwrap_or_else(|| name.to_vec());
        n.extend_from_slice(b"@plt");
        out.push(offset, offset + entry, super::symtab::BIND_GLOBAL, &n);
        offset += entry;
    }
    out
}
