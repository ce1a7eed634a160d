//! perf.data read directly: records streamed with `linux-perf-data`, symbols resolved in-process
//! the way `perf script` resolves them (see [`machine`], [`elf`], [`symtab`]), and each sample's
//! frames named by the same rules as the `perf script` text path, so that the stacks equal
//! those of `perf script -i FILE | flamefold collapse`.
//!
//! The stacks go to a [`Sink`] keyed as the text worker keys them: `[event, comm root, frames
//! from the root...]`.
//!
//! Where the time goes: the records are read and parsed on the calling thread and handed in
//! batches to a second thread that names each sample's addresses (see [`records`]; with one
//! thread, both on the calling one), with caches (an address of a process, a kernel address
//! in any process, an address of a DSO in any process, a symbol's names); symbol tables load
//! on [`loader`]'s threads meanwhile (the kernel's first, then the DSOs the header lists),
//! each read from its file without mapping it and kept compact (see [`symtab`]).

pub mod elf;
pub mod loader;
pub mod machine;
pub mod symtab;
mod demangle;
mod kallsyms;
mod records;
mod render;
pub use render::folded;
#[cfg(test)]
mod live_tests;

use crate::collapse::{Collapsed, EventId, Sink, MAX_WARNINGS, NO_EVENT};
use records::run_records;
use crate::error::{Error, Result, Warning};
use crate::intern::FrameId;
use crate::collapse::perf::{frame, header, tidy, Options};
use linux_perf_data::PerfFileReader;
use demangle::demangle;
pub use machine::Kallsyms;
use machine::{Machine, Resolved, CPU_KERNEL, CPU_USER};
use foldhash::HashMap;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// The magic bytes of a perf.data file (version 2).
pub const MAGIC: &[u8; 8] = b"PERFILE2";

/// Whether `head` (the first bytes of an input) is a perf.data file.
pub fn is_perf_data(head: &[u8]) -> bool {
    head.starts_with(MAGIC) || head.starts_with(b"2ELIFREP")
}

/// perf's callchain context markers (`PERF_CONTEXT_*`): `ip >= PERF_CONTEXT_MAX` is no frame.
const CONTEXT_MAX: u64 = -4095i64 as u64;
const CONTEXT_HV: u64 = -32i64 as u64;
const CONTEXT_KERNEL: u64 = -128i64 as u64;
const CONTEXT_USER: u64 = -512i64 as u64;
/// `perf script`'s callchain depth limit (`PERF_MAX_STACK_DEPTH`), markers not counted.
const MAX_STACK: usize = 127;

/// Collapses a perf.data file: the stacks `perf script -i path | flamefold collapse` gives,
/// before the event filter and rendering. Symbol tables load on every core.
pub fn collapse_perf_data(path: &Path, opts: &Options) -> Result<Collapsed> {
    collapse_perf_data_threads(path, opts, cores())
}

/// [`collapse_perf_data`] loading symbol tables on `threads` threads (the records themselves
/// are read in order on the calling thread, and named on one other if `threads > 1`); the
/// result is the same at any count.
pub fn collapse_perf_data_threads(path: &Path, opts: &Options, threads: usize) -> Result<Collapsed> {
    let mut f = std::fs::File::open(path)?;
    let bytes = f.metadata()?.len();
    // a capture saved from a pipe (`perf record -o - > file`) has a 16-byte header
    let mut head = [0u8; 16];
    let pipe = f.read_exact(&mut head).is_ok() && is_perf_data(&head) && (head[8..16] == 16u64.to_le_bytes() || head[8..16] == 16u64.to_be_bytes());
    f.seek(std::io::SeekFrom::Start(0))?;
    let r = BufReader::with_capacity(1 << 20, f);
    let mut c = if pipe { collapse_pipe_threads(r, opts, read_kallsyms(), threads) } else { collapse_reader(r, opts, read_kallsyms(), threads) }?;
    c.bytes = bytes;
    Ok(c)
}

/// [`crate::collapse::sniffed`] for readers that collapse what they read (`graph`, `diff`): a
/// perf.data stream (`perf record -o - | flamefold graph -`) comes through as
/// [`Kind::PerfData`](crate::input::sniff::Kind::PerfData); other binary input is refused,
/// naming `name`.
pub fn sniffed_capture<R: Read>(r: R, name: &str) -> Result<(crate::input::sniff::Kind, impl Read)> {
    use crate::input::sniff::{binary_error, sniff_read, Kind};
    match sniff_read(r, &crate::collapse::SNIFF_RULES)? {
        (Kind::Binary, _) => Err(binary_error(Kind::Binary, name)),
        found => Ok(found),
    }
}

/// The running kernel's symbols, as perf reads them for the kernel's frames: `/proc/kallsyms`,
/// read on another thread when the capture turns out to have kernel code.
pub fn read_kallsyms() -> Kallsyms {
    Kallsyms::Proc
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn parse_err(e: impl std::fmt::Display) -> Error {
    Error::Parse { line: 0, msg: format!("perf.data: {e}") }
}

/// Collapses perf.data from a seekable reader, with the kernel's symbols given (`None`: kernel
/// frames stay `[unknown]`), the DSOs with samples loaded on `threads` other threads while the
/// records are read (and named on one more if `threads > 1`).
pub fn collapse_reader<R: Read + Seek>(r: R, opts: &Options, kallsyms: Kallsyms, threads: usize) -> Result<Collapsed> {
    supported(opts)?;
    let PerfFileReader { mut perf_file, mut record_iter } = PerfFileReader::parse_file(r).map_err(parse_err)?;
    let mut st = State::new(opts, kallsyms, threads);
    if let Some(section) = perf_file.feature_section_data(linux_perf_data::Feature::BUILD_ID) {
        let little = perf_file.endian() == linux_perf_data::Endianness::LittleEndian;
        for (path, id) in build_id_section(section, little) {
            st.machine.build_ids.insert(path, id);
        }
    }
    st.machine.preload();
    run_records(&mut perf_file, &mut record_iter, &mut st, threads)?;
    Ok(st.finish())
}

/// Collapses perf.data streamed from a pipe (`perf record -o -`): the same records, without
/// the header's build ids (each DSO's own is read from its file, as perf does when none was
/// recorded).
pub fn collapse_pipe<R: Read>(r: R, opts: &Options, kallsyms: Kallsyms) -> Result<Collapsed> {
    collapse_pipe_threads(r, opts, kallsyms, cores())
}

/// [`collapse_pipe`] with symbol tables loaded on `threads` other threads (and the records
/// named on one more if `threads > 1`).
pub fn collapse_pipe_threads<R: Read>(r: R, opts: &Options, kallsyms: Kallsyms, threads: usize) -> Result<Collapsed> {
    supported(opts)?;
    let PerfFileReader { mut perf_file, mut record_iter } = PerfFileReader::parse_pipe(r).map_err(parse_err)?;
    let mut st = State::new(opts, kallsyms, threads);
    run_records(&mut perf_file, &mut record_iter, &mut st, threads)?;
    Ok(st.finish())
}

/// `--inline`, `--context` and `--srcline` read what `perf script` prints with addr2line's
/// help; perf.data does not have it.
fn supported(opts: &Options) -> Result<()> {
    if opts.inline || opts.context || opts.srcline {
        // about this input with these options (the text path takes them): a ParseError (a
        // ValueError), one line in every command
        return Err(Error::Parse { line: 0, msg: "--inline, --context and --srcline need `perf script` text: run `perf script -F+srcline` (or plain `perf script`) on the perf.data file and collapse that".into() });
    }
    Ok(())
}

/// The build ids perf recorded (`HEADER_BUILD_ID`: one `perf_record_header_build_id` per DSO
/// with samples): (path, build id). Read here rather than with `PerfFile::build_ids`, which
/// stops at the first entry it cannot key and so loses the entries after it.
fn build_id_section(mut d: &[u8], little: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let u16_at = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1]];
        if little { u16::from_le_bytes(v) } else { u16::from_be_bytes(v) }
    };
    let mut out = Vec::new();
    // header (type u32, misc u16, size u16), pid i32, build_id [u8; 24], file name (NUL padded)
    while d.len() >= 36 {
        let (misc, size) = (u16_at(d, 4), u16_at(d, 6) as usize);
        if size < 36 || size > d.len() {
            break;
        }
        let id = &d[12..36];
        let n = if misc & (1 << 15) != 0 { (id[20] as usize).min(20) } else { 20 };
        let name = &d[36..size];
        let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
        out.push((name.to_vec(), id[..n].to_vec()));
        d = &d[size..];
    }
    out
}

/// A sample's event, comm root frame, and whether the comm is a java process.
type Root = (Option<EventId>, FrameId, bool);

/// The reading state: the machine, the sink, and caches of names already made.
struct State<'o> {
    opts: &'o Options,
    machine: Machine,
    sink: Sink,
    /// Event names by attribute index.
    events: Vec<Vec<u8>>,
    /// (tid, comm generation, attr index) -> (event, comm root, java).
    roots: HashMap<(i32, u32, usize), Root>,
    /// A resolved frame (and the java flag) -> its names, root first, in `pool`.
    frames: HashMap<(Resolved, bool), (u32, u32)>,
    /// ((process, maps version), cpu mode, address, java) -> the same: most samples repeat
    /// addresses. Cleared when the kernel's maps change.
    addrs: HashMap<(u64, u64), (u32, u32)>,
    pool: Vec<FrameId>,
    rev: Vec<FrameId>,
    /// Stacks for another thread to sum (see [`add_stacks`]), or `None`: summed in `sink`.
    stacks_out: Option<Vec<u32>>,
    stack: Vec<FrameId>,
    line: Vec<u8>,
}

impl<'o> State<'o> {
    fn new(opts: &'o Options, kallsyms: Kallsyms, threads: usize) -> Self {
        let mut machine = Machine::new(kallsyms, threads);
        machine.demangle = Some(demangle);
        State { opts, machine, sink: Sink::new(), events: Vec::new(), roots: HashMap::default(), frames: HashMap::default(), addrs: HashMap::with_capacity_and_hasher(1 << 17, Default::default()), pool: Vec::new(), rev: Vec::new(), stacks_out: None, stack: Vec::new(), line: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn sample(&mut self, attr: usize, pid: i32, tid: i32, cpumode: u8, ip: Option<u64>, weight: u64, chain: Option<&[u64]>) {
        let t = self.machine.thread(pid, tid);
        let (process, key) = (t.process, (tid, t.comm_gen, attr));
        let process = self.machine.version(process);
        let (event, root, java) = match self.roots.get(&key) {
            Some(&r) => r,
            None => {
                let r = self.root(attr, tid);
                self.roots.insert(key, r);
                r
            }
        };
        self.rev.clear();
        match chain {
            Some(ips) => self.name_chain(ips, process, java),
            None => {
                if let Some(ip) = ip {
                    self.frame(process, cpumode, ip, java);
                }
            }
        }
        match &mut self.stacks_out {
            Some(out) => {
                out.extend_from_slice(&[self.rev.len() as u32 + 2, weight as u32, (weight >> 32) as u32, event.map_or(NO_EVENT, |e| e.0), root.0]);
                out.extend(self.rev.iter().rev().map(|f| f.0));
            }
            None => {
                self.stack.clear();
                self.stack.push(root);
                self.stack.extend(self.rev.iter().rev());
                self.sink.add_stack(event, &self.stack, weight);
            }
        }
    }

    /// Names a callchain onto `rev` (leaf first), the way perf script walks it.
    fn name_chain(&mut self, ips: &[u64], process: (usize, u32), java: bool) {
        let mut cpumode = CPU_USER;
        let mut n = 0;
        for &ip in ips {
            if ip >= CONTEXT_MAX {
                match ip {
                    CONTEXT_KERNEL => cpumode = CPU_KERNEL,
                    CONTEXT_USER => cpumode = CPU_USER,
                    CONTEXT_HV => cpumode = 0,
                    _ => {
                        // perf drops the whole callchain on an unknown marker
                        self.rev.clear();
                        break;
                    }
                }
                continue;
            }
            if n == MAX_STACK {
                break;
            }
            n += 1;
            self.frame(process, cpumode, ip, java);
        }
    }

    /// The event and comm root of a thread's samples, found as the text path finds them: from
    /// the header line `perf script` prints.
    fn root(&mut self, attr: usize, tid: i32) -> (Option<EventId>, FrameId, bool) {
        let t = &self.machine.threads[&tid];
        let l = &mut self.line;
        l.clear();
        l.extend_from_slice(&t.comm);
        l.extend_from_slice(format!(" {tid:>7} 0.000000:          1 ").as_bytes());
        l.extend_from_slice(self.events.get(attr).map_or(&b""[..], |e| e));
        l.extend_from_slice(b": ");
        let o = self.opts;
        let (comm, pid, tid_s, ev) = match header::parse_header(header::trim_start(l)) {
            Some(h) => (h.comm.to_vec(), h.pid.to_vec(), h.tid.to_vec(), h.event.map(|e| e.to_vec())),
            None => (t.comm.clone(), b"?".to_vec(), tid.to_string().into_bytes(), None),
        };
        let mut s: Vec<u8> = comm.iter().map(|&b| if b == b' ' { b'_' } else { b }).collect();
        if o.tid {
            s.push(b'-');
            s.extend_from_slice(&pid);
            s.push(b'/');
            s.extend_from_slice(&tid_s);
        } else if o.pid {
            s.push(b'-');
            s.extend_from_slice(&pid);
        }
        let java = s.starts_with(b"java");
        let event = ev.map(|e| self.sink.event(&e));
        (event, self.sink.frame(&s), java)
    }

    /// Resolves one address and pushes its names (leaf first) onto `rev`: most addresses were
    /// named before (this path stays small), the others are named by [`State::new_frame`].
    #[inline]
    fn frame(&mut self, process: (usize, u32), cpumode: u8, ip: u64, java: bool) {
        // kernel (and hypervisor) addresses name the same in every process; the key packs
        // (process, maps version, cpu mode, java) into 64 bits (no cache past 2^29 processes)
        let p = if cpumode == CPU_USER { process } else { (0, 0) };
        let key = (p.0 < 1 << 29).then_some((ip, (p.0 as u64) << 35 | (p.1 as u64) << 3 | (cpumode as u64 & 3) << 1 | java as u64));
        if let Some(&(start, len)) = key.and_then(|k| self.addrs.get(&k)) {
            self.rev.extend(self.pool[start as usize..(start + len) as usize].iter().rev());
            return;
        }
        self.new_frame(key, process, cpumode, ip, java);
    }

    /// [`State::frame`] for an address not in `addrs`.
    #[inline(never)]
    fn new_frame(&mut self, key: Option<(u64, u64)>, process: (usize, u32), cpumode: u8, ip: u64, java: bool) {
        let mut r = self.machine.resolve(process.0, cpumode, ip);
        if r.sym.is_some() || !self.opts.addrs {
            // the name does not depend on the address
            r.addr = 0;
        }
        let (start, len) = match self.frames.get(&(r, java)) {
            Some(&v) => v,
            None => {
                let start = self.pool.len() as u32;
                let mut r2 = r;
                if r.sym.is_none() && self.opts.addrs {
                    r2.addr = r.addr;
                }
                self.name_frame(r2, java);
                let v = (start, self.pool.len() as u32 - start);
                self.frames.insert((r, java), v);
                v
            }
        };
        if self.addrs.len() >= 1 << 20 {
            self.addrs.clear();
        }
        if let Some(k) = key {
            self.addrs.insert(k, (start, len));
        }
        let ids = &self.pool[start as usize..(start + len) as usize];
        self.rev.extend(ids.iter().rev());
    }

    /// The names of one frame, from the line `perf script` prints for it, by the text path's
    /// rules (`compute_group` in `crate::perf`); appended to `pool`, root first.
    fn name_frame(&mut self, r: Resolved, java: bool) {
        let l = &mut self.line;
        l.clear();
        l.extend_from_slice(format!("{:16x} ", r.addr).as_bytes());
        match r.dso.zip(r.sym).and_then(|(d, s)| self.machine.symbol_name(d, s)) {
            Some(name) => {
                l.extend_from_slice(&name);
                l.extend_from_slice(b"+0x0");
            }
            None => l.extend_from_slice(b"[unknown]"),
        }
        l.extend_from_slice(b" (");
        match r.dso {
            Some(d) if !self.machine.dsos[d as usize].name.is_empty() => l.extend_from_slice(&self.machine.dsos[d as usize].name),
            _ => l.extend_from_slice(b"[unknown]"),
        }
        l.push(b')');
        let line = std::mem::take(&mut self.line);
        match frame::parse_frame(header::trim_start(&line)) {
            Some(fl) => self.name_parts(fl, java),
            None => {
                let id = self.sink.frame(b"[unknown]");
                self.pool.push(id);
            }
        }
        self.line = line;
    }

    fn name_parts(&mut self, fl: frame::FrameLine<'_>, java: bool) {
        let o = self.opts;
        let rules = tidy::NameRules { java, kernel: o.kernel, jit: o.jit, addrs: o.addrs };
        let (sink, pool) = (&mut self.sink, &mut self.pool);
        let mut name = Vec::new();
        tidy::frame_names(fl.raw, fl.module, fl.addr, rules, &mut name, |n| pool.push(sink.frame(n)));
    }

    fn finish(mut self) -> Collapsed {
        let mut warnings: Vec<Warning> = Vec::new();
        for p in self.machine.problems.drain(..) {
            warnings.push(Warning { line: 0, msg: p });
        }
        warnings.extend(self.sink.warnings.drain(..).map(|(_, line, msg)| Warning { line, msg }));
        if self.sink.more_warnings > 0 {
            warnings.push(Warning { line: 0, msg: format!("{} more problems (only the first {MAX_WARNINGS} are shown)", self.sink.more_warnings) });
        }
        Collapsed { sink: self.sink, warnings, bytes: 0 }
    }
}
