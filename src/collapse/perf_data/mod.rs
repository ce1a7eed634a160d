//! perf.data read directly: records streamed with `linux-perf-data`, symbols resolved in-process
//! the way `perf script` resolves them (see [`machine`], [`elf`], [`symtab`]), and each sample's
//! frames named by the same rules as the `perf script` text path, so that the stacks equal
//! those of `perf script -i FILE | flamefold collapse`.
//!
//! The stacks go to a [`Sink`] keyed as the text worker keys them: `[event, comm root, frames
//! from the root...]`.
//!
//! Where the time goes: the records are read and each sample's addresses named on the calling
//! thread, with caches (an address of a process, a kernel address in any process, an address
//! of a DSO in any process, a symbol's names); symbol tables load on [`loader`]'s threads
//! meanwhile (the kernel's first, then the DSOs the header lists), each read from its file
//! without mapping it and kept compact (see [`symtab`]): a 20 s system-wide capture at 2999 Hz
//! (119,589 samples, 745k frames) takes about 0.3 s on two cores, 55 MiB.

pub mod elf;
pub mod loader;
pub mod machine;
pub mod symtab;
mod demangle;
mod render;
pub use render::folded;
#[cfg(test)]
mod live_tests;

use crate::collapse::{Collapsed, EventId, Sink, MAX_WARNINGS, NO_EVENT};
use crate::error::{Error, Result, Warning};
use crate::intern::FrameId;
use crate::collapse::perf::{frame, header, tidy, Options};
use linux_perf_data::linux_perf_event_reader::{CpuMode, EventRecord, Mmap2FileId};
use linux_perf_data::{PerfFileReader, PerfFileRecord};
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
/// are read in order on the calling thread); the result is the same at any count.
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
/// records are read.
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

/// [`collapse_pipe`] with symbol tables loaded on `threads` other threads.
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

fn event_names(perf_file: &linux_perf_data::PerfFile) -> Vec<Vec<u8>> {
    perf_file.event_attributes().iter().map(|a| a.name().unwrap_or("").as_bytes().to_vec()).collect()
}

/// Samples (or callchain words) a [`Batch`] holds before it is handed on: batches stay small
/// (about 200 KiB) and few (see [`BATCHES`]), so memory stays bounded whatever the file's size.
const BATCH_ITEMS: usize = 2048;
const BATCH_IPS: usize = 16 * 1024;
/// Full batches waiting for the naming thread.
const BATCHES: usize = 4;

/// A range of a [`Batch`]'s `bytes` or `ips`.
type Span = (u32, u32);

/// One record, as much of it as the collapse uses, with its variable parts in its batch.
enum Item {
    Sample { attr: u32, pid: i32, tid: i32, cpumode: u8, ip: Option<u64>, period: u64, chain: Option<Span> },
    Comm { pid: i32, tid: i32, name: Span },
    Fork { pid: i32, ppid: i32, tid: i32, ptid: i32 },
    Mmap { pid: i32, kernel: bool, start: u64, len: u64, pgoff: u64, exec: bool, path: Span, build_id: Option<Span> },
    Warn(String),
    /// The event names by attribute index (at the start; in a pipe, again when they arrive).
    Events(Vec<Vec<u8>>),
}

/// Records read and parsed, in order: what the reading thread hands to the naming one.
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    ips: Vec<u64>,
    bytes: Vec<u8>,
}

impl Batch {
    fn full(&self) -> bool {
        self.items.len() >= BATCH_ITEMS || self.ips.len() >= BATCH_IPS
    }

    fn clear(&mut self) {
        self.items.clear();
        self.ips.clear();
        self.bytes.clear();
    }

    fn span(&mut self, b: &[u8]) -> Span {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        (start, b.len() as u32)
    }

    fn bytes(&self, (start, len): Span) -> &[u8] {
        &self.bytes[start as usize..(start + len) as usize]
    }
}

/// Reads every record in order (linux-perf-data sorts them by time within perf's rounds, as
/// perf's ordered events do) into batches, each given to `done` when full (it gives back an
/// empty one): memory stays bounded whatever the file's size.
fn read_records<R: Read>(perf_file: &mut linux_perf_data::PerfFile, record_iter: &mut linux_perf_data::PerfRecordIter<R>, mut done: impl FnMut(Batch) -> Batch) -> Result<()> {
    let mut b = Batch::default();
    b.items.push(Item::Events(event_names(perf_file)));
    let mut dwarf_warned = false;
    loop {
        if b.full() {
            b = done(b);
        }
        let rec = match record_iter.next_record(perf_file) {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                done(b);
                return Err(parse_err(e));
            }
        };
        let (attr_index, record) = match rec {
            PerfFileRecord::EventRecord { attr_index, record } => (attr_index, record),
            PerfFileRecord::UserRecord(_) => {
                // in a pipe, event attributes and names arrive as records
                b.items.push(Item::Events(event_names(perf_file)));
                continue;
            }
        };
        let parsed = match record.parse() {
            Ok(p) => p,
            Err(e) => {
                b.items.push(Item::Warn(format!("a record could not be read: {e}")));
                continue;
            }
        };
        let item = match parsed {
            EventRecord::Sample(s) => {
                if s.user_stack.is_some() && !dwarf_warned {
                    dwarf_warned = true;
                    b.items.push(Item::Warn("this capture has DWARF call graphs (--call-graph dwarf): only the frame-pointer part of its stacks is read; use `perf script` for the rest".into()));
                }
                let chain = s.callchain.map(|c| {
                    let start = b.ips.len() as u32;
                    b.ips.extend((0..c.len()).map(|i| c.get(i).unwrap_or(0)));
                    (start, b.ips.len() as u32 - start)
                });
                let cpumode = match s.cpu_mode {
                    CpuMode::Kernel | CpuMode::GuestKernel => CPU_KERNEL,
                    CpuMode::User | CpuMode::GuestUser => CPU_USER,
                    _ => 0,
                };
                let period = match s.period {
                    Some(0) | None => 1,
                    Some(p) => p,
                };
                Item::Sample { attr: attr_index as u32, pid: s.pid.unwrap_or(-1), tid: s.tid.unwrap_or(-1), cpumode, ip: s.ip, period, chain }
            }
            EventRecord::Comm(c) => Item::Comm { pid: c.pid, tid: c.tid, name: b.span(&c.name.as_slice()) },
            EventRecord::Fork(f) => Item::Fork { pid: f.pid, ppid: f.ppid, tid: f.tid, ptid: f.ptid },
            EventRecord::Mmap(m) => {
                let kernel = matches!(m.cpu_mode, CpuMode::Kernel | CpuMode::GuestKernel);
                Item::Mmap { pid: m.pid, kernel, start: m.address, len: m.length, pgoff: m.page_offset, exec: m.is_executable, path: b.span(&m.path.as_slice()), build_id: None }
            }
            EventRecord::Mmap2(m) => {
                let kernel = matches!(m.cpu_mode, CpuMode::Kernel | CpuMode::GuestKernel);
                let build_id = match &m.file_id {
                    Mmap2FileId::BuildId(id) => Some(b.span(id)),
                    _ => None,
                };
                Item::Mmap { pid: m.pid, kernel, start: m.address, len: m.length, pgoff: m.page_offset, exec: m.protection & 4 != 0, path: b.span(&m.path.as_slice()), build_id }
            }
            _ => continue,
        };
        b.items.push(item);
    }
    done(b);
    Ok(())
}

/// Reads the records on this thread and names them on another (`threads > 1`; the symbol
/// tables load on yet others), or on this one (`threads == 1`). With two threads, this one
/// also sums the stacks the naming thread sends back batch by batch (see [`add_stacks`]).
/// Both take the batches in order, so the result is the same either way.
fn run_records<R: Read>(perf_file: &mut linux_perf_data::PerfFile, record_iter: &mut linux_perf_data::PerfRecordIter<R>, st: &mut State<'_>, threads: usize) -> Result<()> {
    if threads <= 1 {
        return read_records(perf_file, record_iter, |mut b| {
            st.batch(&b);
            b.clear();
            b
        });
    }
    use std::sync::mpsc::{channel, sync_channel};
    let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES);
    let (empty_tx, empty_rx) = channel::<Batch>();
    // stacks come back one buffer per batch: no more are in flight than batches
    let (stacks_tx, stacks_rx) = channel::<Vec<u32>>();
    let (spent_tx, spent_rx) = channel::<Vec<u32>>();
    let mut table = std::mem::take(&mut st.sink.stacks);
    let mut overflow = false;
    let namer_st = &mut *st;
    let read = std::thread::scope(|scope| {
        let namer = std::thread::Builder::new()
            .name("flamefold-samples".into())
            .spawn_scoped(scope, move || {
                for mut b in full_rx {
                    namer_st.stacks_out = Some(spent_rx.try_recv().unwrap_or_default());
                    namer_st.batch(&b);
                    b.clear();
                    // the reader is gone only after an error: what is sent is dropped then
                    let _ = empty_tx.send(b);
                    let _ = stacks_tx.send(namer_st.stacks_out.take().unwrap_or_default());
                }
            })
            .map_err(Error::Io)?;
        let read = read_records(perf_file, record_iter, |b| {
            // a send fails only if the naming thread panicked: the join below says so
            let _ = full_tx.send(b);
            for mut stacks in stacks_rx.try_iter() {
                overflow |= !add_stacks(&mut table, &stacks);
                stacks.clear();
                let _ = spent_tx.send(stacks);
            }
            empty_rx.try_recv().unwrap_or_default()
        });
        drop(full_tx);
        for stacks in stacks_rx.iter() {
            overflow |= !add_stacks(&mut table, &stacks);
        }
        if let Err(p) = namer.join() {
            std::panic::resume_unwind(p);
        }
        read
    });
    st.sink.stacks = table;
    if overflow {
        st.sink.fail(0, Error::Overflow { what: "the count of a stack".into() });
    }
    read
}

/// Adds stacks as [`State::sample`] writes them to `stacks_out`: (key length, weight's low
/// and high halves, key) each. False if a count overflowed.
fn add_stacks(table: &mut crate::intern::table::StackTable, mut stacks: &[u32]) -> bool {
    let mut ok = true;
    while let [n, lo, hi, rest @ ..] = stacks {
        let n = *n as usize;
        ok &= table.add(&rest[..n], *lo as u64 | (*hi as u64) << 32);
        stacks = &rest[n..];
    }
    ok
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
        State { opts, machine, sink: Sink::new(), events: Vec::new(), roots: HashMap::default(), frames: HashMap::default(), addrs: HashMap::with_capacity_and_hasher(1 << 16, Default::default()), pool: Vec::new(), rev: Vec::new(), stacks_out: None, stack: Vec::new(), line: Vec::new() }
    }

    /// Takes a batch of records, in order.
    fn batch(&mut self, b: &Batch) {
        for item in &b.items {
            match *item {
                Item::Sample { attr, pid, tid, cpumode, ip, period, chain } => {
                    let chain = chain.map(|(start, len)| &b.ips[start as usize..(start + len) as usize]);
                    self.sample(attr as usize, pid, tid, cpumode, ip, period, chain);
                }
                Item::Comm { pid, tid, name } => self.machine.comm(pid, tid, b.bytes(name)),
                Item::Fork { pid, ppid, tid, ptid } => self.machine.fork(pid, ppid, tid, ptid),
                Item::Mmap { pid, kernel, start, len, pgoff, exec, path, build_id } => {
                    if kernel {
                        self.addrs.clear();
                    }
                    self.machine.mmap(pid, kernel, start, len, pgoff, exec, b.bytes(path), build_id.map(|id| b.bytes(id).to_vec()));
                }
                Item::Warn(ref msg) => self.sink.warn(0, msg.clone()),
                Item::Events(ref names) => self.events = names.clone(),
            }
        }
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

    /// Resolves one address and pushes its names (leaf first) onto `rev`.
    fn frame(&mut self, process: (usize, u32), cpumode: u8, ip: u64, java: bool) {
        // kernel (and hypervisor) addresses name the same in every process; the key packs
        // (process, maps version, cpu mode, java) into 64 bits (no cache past 2^29 processes)
        let p = if cpumode == CPU_USER { process } else { (0, 0) };
        let key = (p.0 < 1 << 29).then(|| (ip, (p.0 as u64) << 35 | (p.1 as u64) << 3 | (cpumode as u64 & 3) << 1 | java as u64));
        if let Some(&(start, len)) = key.and_then(|k| self.addrs.get(&k)) {
            self.rev.extend(self.pool[start as usize..(start + len) as usize].iter().rev());
            return;
        }
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
