//! ELF symbols the way perf loads them (`tools/perf/util/symbol-elf.c`, `dso__load`): the file
//! is looked for in the build-id cache and the debug directories before its own path, the first
//! candidate with a `.symtab` gives the names (else `.dynsym`), a build-id mismatch disqualifies a
//! candidate, and addresses become file offsets through the program headers.
//!
//! Files are read, never mapped: only the ELF header, the section and program headers, the
//! build-id note and the symbol table are read (`pread` into owned buffers, the symbol table in
//! pieces), and the names of the symbols samples hit later, from the string table of the file
//! kept open. A file cut short while it is read gives fewer symbols or none, never a crash.

use super::symtab::{Demangle, StrTab, SymbolTable, Symbols};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const SHT_SYMTAB: u32 = 2;
const SHT_NOTE: u32 = 7;
const SHT_NOBITS: u32 = 8;
const SHT_DYNSYM: u32 = 11;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const SHN_UNDEF: u16 = 0;
const SHN_LORESERVE: u16 = 0xff00;
const SHN_ABS: u16 = 0xfff1;
const SHN_XINDEX: u16 = 0xffff;
/// Sizes of the 64-bit records.
const SHDR: usize = 64;
const PHDR: usize = 56;
const SYM: usize = 24;
const RELA: usize = 24;
/// Symbols are read this many bytes at a time.
const CHUNK: usize = 1 << 16;

/// A section header (the fields perf uses).
#[derive(Clone, Copy, Debug, Default)]
struct Section {
    name: u32,
    ty: u32,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    align: u64,
    entsize: u64,
}

/// An open 64-bit ELF file: its headers read, the rest read on demand.
pub struct Elf {
    file: File,
    len: u64,
    little: bool,
    phoff: u64,
    phnum: usize,
    phentsize: usize,
    sections: Vec<Section>,
    shstrtab: Vec<u8>,
}

impl Elf {
    pub fn open(path: &Path) -> Option<Elf> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        let mut h = [0u8; 64];
        file.read_exact_at(&mut h, 0).ok()?;
        // 64-bit ELF (perf on x86-64 and arm64), either byte order
        if &h[..4] != b"\x7fELF" || h[4] != 2 || !matches!(h[5], 1 | 2) {
            return None;
        }
        let mut e = Elf { file, len, little: h[5] == 1, phoff: 0, phnum: 0, phentsize: PHDR, sections: Vec::new(), shstrtab: Vec::new() };
        e.phoff = e.u64(&h, 32);
        e.phentsize = e.u16(&h, 54) as usize;
        e.phnum = e.u16(&h, 56) as usize;
        let (shoff, shentsize) = (e.u64(&h, 40), e.u16(&h, 58) as usize);
        let (mut shnum, mut shstrndx) = (e.u16(&h, 60) as usize, e.u16(&h, 62) as u32);
        if shoff != 0 && shentsize >= SHDR {
            // extended numbering: the counts are in section 0
            let s0 = e.section_at(shoff, shentsize, 0)?;
            if shnum == 0 {
                shnum = s0.size as usize;
            }
            if shstrndx == SHN_XINDEX as u32 {
                shstrndx = s0.link;
            }
            if shnum as u64 * shentsize as u64 > len.saturating_sub(shoff) {
                return None;
            }
            let raw = e.read(shoff, shnum * shentsize)?;
            e.sections = raw.chunks_exact(shentsize).map(|b| e.section(b)).collect();
            if let Some(s) = e.sections.get(shstrndx as usize).copied() {
                e.shstrtab = e.section_data(&s, 1 << 20).unwrap_or_default();
            }
        }
        Some(e)
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.little { u16::from_le_bytes(v) } else { u16::from_be_bytes(v) }
    }

    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let v = b[at..at + 4].try_into().expect("4 bytes");
        if self.little { u32::from_le_bytes(v) } else { u32::from_be_bytes(v) }
    }

    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let v = b[at..at + 8].try_into().expect("8 bytes");
        if self.little { u64::from_le_bytes(v) } else { u64::from_be_bytes(v) }
    }

    fn section(&self, b: &[u8]) -> Section {
        Section { name: self.u32(b, 0), ty: self.u32(b, 4), addr: self.u64(b, 16), offset: self.u64(b, 24), size: self.u64(b, 32), link: self.u32(b, 40), align: self.u64(b, 48), entsize: self.u64(b, 56) }
    }

    fn section_at(&self, shoff: u64, shentsize: usize, i: usize) -> Option<Section> {
        let b = self.read(shoff.checked_add((i * shentsize) as u64)?, SHDR)?;
        Some(self.section(&b))
    }

    /// `len` bytes at `offset`, if the file has them.
    /// `len` bytes at `offset` into `b` (replacing what it held); false if they cannot be read.
    fn read_into(&self, offset: u64, len: usize, b: &mut Vec<u8>) -> bool {
        if offset.checked_add(len as u64).is_none_or(|end| end > self.len) {
            return false;
        }
        b.resize(len, 0);
        self.file.read_exact_at(b, offset).is_ok()
    }

    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        if offset.checked_add(len as u64)? > self.len {
            return None;
        }
        let mut b = vec![0u8; len];
        self.file.read_exact_at(&mut b, offset).ok()?;
        Some(b)
    }

    /// A section's bytes, if it has some in the file and no more than `max`.
    fn section_data(&self, s: &Section, max: u64) -> Option<Vec<u8>> {
        if s.ty == SHT_NOBITS || s.size > max {
            return None;
        }
        self.read(s.offset, s.size as usize)
    }

    fn section_name(&self, s: &Section) -> &[u8] {
        let n = self.shstrtab.get(s.name as usize..).unwrap_or(b"");
        &n[..memchr::memchr(0, n).unwrap_or(n.len())]
    }

    fn section_by_name(&self, name: &[u8]) -> Option<(usize, Section)> {
        self.sections.iter().enumerate().find(|(_, s)| self.section_name(s) == name).map(|(i, s)| (i, *s))
    }

    fn has_section(&self, ty: u32) -> bool {
        self.sections.iter().any(|s| s.ty == ty)
    }

    /// The program headers' (type, offset, vaddr, memsz).
    fn segments(&self) -> Vec<(u32, u64, u64, u64, u64)> {
        if self.phoff == 0 || self.phentsize < PHDR || self.phnum > 4096 {
            return Vec::new();
        }
        let Some(raw) = self.read(self.phoff, self.phnum * self.phentsize) else { return Vec::new() };
        raw.chunks_exact(self.phentsize).map(|b| (self.u32(b, 0), self.u64(b, 8), self.u64(b, 16), self.u64(b, 32), self.u64(b, 40))).collect()
    }

    /// The GNU build id in a block of notes.
    fn note_build_id(&self, d: &[u8], align: usize) -> Option<Vec<u8>> {
        let up = |n: usize| n.div_ceil(align) * align;
        let mut at = 0;
        while at + 12 <= d.len() {
            let (namesz, descsz, ty) = (self.u32(d, at) as usize, self.u32(d, at + 4) as usize, self.u32(d, at + 8));
            let name_at = at + 12;
            let desc_at = name_at.checked_add(up(namesz))?;
            let next = desc_at.checked_add(up(descsz))?;
            if desc_at + descsz > d.len() {
                return None;
            }
            if ty == NT_GNU_BUILD_ID && &d[name_at..name_at + namesz] == b"GNU\0" {
                return Some(d[desc_at..desc_at + descsz].to_vec());
            }
            at = next;
        }
        None
    }

    /// The GNU build id, from the note sections (or note segments when there are no sections).
    pub fn build_id(&self) -> Option<Vec<u8>> {
        for s in self.sections.iter().filter(|s| s.ty == SHT_NOTE) {
            if let Some(d) = self.section_data(s, 1 << 20) {
                let align = if s.align == 8 { 8 } else { 4 };
                if let Some(id) = self.note_build_id(&d, align) {
                    return Some(id);
                }
            }
        }
        if !self.sections.is_empty() {
            return None;
        }
        for (ty, off, _, filesz, _) in self.segments() {
            if ty == PT_NOTE && filesz <= 1 << 20 {
                if let Some(id) = self.read(off, filesz as usize).and_then(|d| self.note_build_id(&d, 4)) {
                    return Some(id);
                }
            }
        }
        None
    }

    /// The file a `.gnu_debuglink` section names, if any.
    fn debuglink(&self) -> Option<Vec<u8>> {
        let (_, s) = self.section_by_name(b".gnu_debuglink")?;
        let d = self.section_data(&s, 4096)?;
        Some(d[..memchr::memchr(0, &d)?].to_vec())
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where perf's build-id cache keeps a kernel's kallsyms (`perf record` copies it there).
pub fn kallsyms_cache(build_id: &[u8]) -> PathBuf {
    let h = hex(build_id);
    let (a, b) = h.split_at(2.min(h.len()));
    home_debug().join(".build-id").join(a).join(b).join("kallsyms")
}

fn home_debug() -> PathBuf {
    std::env::var_os("PERF_BUILDID_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".debug"))
}

pub fn os_path(b: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(b))
}

/// Where perf looks for a DSO's symbols, in its order (`binary_type_symtab`): the debuglink
/// file, the build-id cache, the debug directories, the file itself.
fn candidates(path: &[u8], own: Option<&Elf>, build_id: Option<&[u8]>) -> Vec<PathBuf> {
    let p = os_path(path);
    let mut v = Vec::new();
    if let Some(link) = own.and_then(Elf::debuglink) {
        let link = os_path(&link);
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
    let own = Elf::open(os_path(path));
    // perf reads the build id from the file itself when the capture has none for it
    let own_id;
    let build_id = match build_id {
        Some(b) => Some(b),
        None => {
            own_id = own.as_ref().and_then(Elf::build_id);
            own_id.as_deref()
        }
    };
    let mut syms: Option<Elf> = None;
    let mut runtime: Option<Elf> = None;
    let mut mismatch = None;
    let mut fallback = None;
    let cands = candidates(path, own.as_ref(), build_id);
    drop(own);
    for c in cands {
        let Some(m) = Elf::open(&c) else { continue };
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
        let (has_symtab, has_dynsym) = (m.has_section(SHT_SYMTAB), m.has_section(SHT_DYNSYM));
        if has_symtab && syms.is_none() {
            if has_dynsym && runtime.is_none() {
                runtime = Elf::open(&c);
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
        (Some(s), r) => (s, r),
        (None, Some(r)) => (r, None),
        (None, None) => match fallback {
            Some(f) => (f, None),
            None => {
                let problem = mismatch.or_else(|| Some(format!("{}: not found: its frames are [unknown]", String::from_utf8_lossy(path))));
                return Loaded { table: SymbolTable::default(), problem };
            }
        },
    };
    let runtime = r.as_ref().unwrap_or(&s);
    let symbols = read_symbols(&s, runtime);
    let plt = if symbols.is_empty() { Symbols::default() } else { plt_symbols(runtime) };
    let mut table = SymbolTable::new(symbols, false, demangle);
    table.add_unfixed(plt);
    Loaded { table, problem: None }
}

/// perf's `dso__load_sym`: functions (and ifuncs), objects, and labels in text sections; values
/// turned into file offsets with the runtime file's PT_LOAD segments. The names stay in the
/// file: each symbol keeps the offset of its name in the string table.
fn read_symbols(syms: &Elf, runtime: &Elf) -> Symbols {
    let table = syms.sections.iter().copied().find(|s| s.ty == SHT_SYMTAB).filter(|s| s.size >= SYM as u64);
    let Some(table) = table.or_else(|| syms.sections.iter().copied().find(|s| s.ty == SHT_DYNSYM)) else { return Symbols::default() };
    let Some(strtab) = syms.sections.get(table.link as usize).copied().filter(|s| s.ty != SHT_NOBITS) else { return Symbols::default() };
    let Ok(file) = syms.file.try_clone() else { return Symbols::default() };
    let loads: Vec<(u64, u64, u64)> = runtime.segments().into_iter().filter(|p| p.0 == PT_LOAD).map(|p| (p.2, p.4, p.1)).collect();
    // whether a section holds text, by index (for labels), looked up once per section
    let text = |secs: &[Section], e: &Elf| -> Vec<bool> { secs.iter().map(|s| memchr::memmem::find(e.section_name(s), b"text").is_some()).collect() };
    let (stext, rtext) = (text(&syms.sections, syms), text(&runtime.sections, runtime));
    let count = (table.size / SYM as u64).min(syms.len.saturating_sub(table.offset) / SYM as u64) as usize;
    let mut out = Symbols::with_capacity(count);
    out.names.files.push(StrTab { file, offset: strtab.offset, size: strtab.size });
    let per_chunk = CHUNK / SYM;
    // one buffer for every chunk: it stays in the cache and its pages are faulted in once
    let mut raw = Vec::new();
    let mut i = 0;
    while i < count {
        let n = per_chunk.min(count - i);
        if !syms.read_into(table.offset + (i * SYM) as u64, n * SYM, &mut raw) {
            break;
        }
        i += n;
        for b in raw.chunks_exact(SYM) {
            let (name, info, shndx) = (syms.u32(b, 0), b[4], syms.u16(b, 6));
            let (ty, bind) = (info & 0xf, info >> 4);
            if name == 0 || shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || name as u64 >= strtab.size {
                continue;
            }
            let is_func = ty == STT_FUNC || ty == STT_GNU_IFUNC;
            let is_object = ty == STT_OBJECT && shndx != SHN_ABS;
            let is_label = ty == STT_NOTYPE && shndx != SHN_ABS;
            if !(is_func || is_object || is_label) {
                continue;
            }
            let idx = shndx as usize;
            let Some(mut sec) = syms.sections.get(idx).copied() else { continue };
            let mut is_text = stext[idx];
            if sec.ty == SHT_NOBITS {
                if let Some(rs) = runtime.sections.get(idx) {
                    sec = *rs;
                    is_text = rtext[idx];
                }
            }
            if is_label && !is_text {
                continue;
            }
            let (mut value, size) = (syms.u64(b, 8), syms.u64(b, 16));
            match loads.iter().find(|&&(va, sz, _)| value >= va && value < va.wrapping_add(sz)) {
                Some(&(va, _, off)) => value = value.wrapping_sub(va.wrapping_sub(off)),
                None => value = value.wrapping_sub(sec.addr.wrapping_sub(sec.offset)),
            }
            out.push_in_file(value, value.wrapping_add(size), bind, 1, name);
        }
    }
    out
}

/// perf 6.1's `dso__synthesize_plt_symbols` (x86-64): one `NAME@plt` symbol per `.rela.plt`
/// entry, `.plt`'s entry size apart after a header of that size, at file offsets; added after
/// the ends are fixed, so a `.plt` whose entry size is 0 gives symbols of size 0. Names are
/// read when shown, from `.dynstr`.
fn plt_symbols(runtime: &Elf) -> Symbols {
    let mut out = Symbols::default();
    let Some((dynsym_idx, dynsym)) = runtime.sections.iter().enumerate().find(|(_, s)| s.ty == SHT_DYNSYM).map(|(i, s)| (i, *s)) else { return out };
    let Some((_, rel)) = runtime.section_by_name(b".rela.plt") else { return out };
    if rel.link as usize != dynsym_idx {
        return out;
    }
    let Some((_, plt)) = runtime.section_by_name(b".plt") else { return out };
    let Some(dynstr) = runtime.sections.get(dynsym.link as usize).copied() else { return out };
    let (Some(relas), Some(syms)) = (runtime.section_data(&rel, 64 << 20), runtime.section_data(&dynsym, 64 << 20)) else { return out };
    let Ok(file) = runtime.file.try_clone() else { return out };
    out.names.files.push(StrTab { file, offset: dynstr.offset, size: dynstr.size });
    let entry = plt.entsize;
    let mut offset = plt.offset.wrapping_add(entry);
    for r in relas.chunks_exact(RELA) {
        let idx = (runtime.u64(r, 8) >> 32) as usize;
        let name = syms.get(idx * SYM..idx * SYM + SYM).map_or(0, |s| runtime.u32(s, 0));
        out.push_plt(offset, offset.wrapping_add(entry), 1, name);
        offset = offset.wrapping_add(entry);
    }
    out
}
