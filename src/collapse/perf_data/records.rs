//! The records of a perf.data file, read and parsed in order into [`Batch`]es of what the
//! collapse uses, and handed to [`State`] on this thread or on a second one: the reading
//! thread (linux-perf-data's parsing and sorting, record copying) and the naming thread
//! (threads, maps, symbols, names) then run side by side, and the reading thread also sums
//! the stacks the naming thread sends back. Every batch is taken in order by one thread, so
//! the stacks, their order and the warnings are the same at any thread count.

use super::{parse_err, State};
use crate::collapse::perf_data::machine::{CPU_KERNEL, CPU_USER};
use crate::error::{Error, Result};
use crate::intern::table::StackTable;
use linux_perf_data::linux_perf_event_reader::{CpuMode, EventRecord, Mmap2FileId};
use linux_perf_data::PerfFileRecord;
use std::io::Read;

fn event_names(perf_file: &linux_perf_data::PerfFile) -> Vec<Vec<u8>> {
    perf_file.event_attributes().iter().map(|a| a.name().unwrap_or("").as_bytes().to_vec()).collect()
}

/// Samples (or callchain words) a [`Batch`] holds before it is handed on: batches stay small
/// (about 256 KiB) and few (see [`BATCHES`]), so memory stays bounded whatever the file's size.
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
    /// Whether the batch holds `1 / 2^shrink` of a full one.
    fn full(&self, shrink: u32) -> bool {
        self.items.len() >= BATCH_ITEMS >> shrink || self.ips.len() >= BATCH_IPS >> shrink
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
    // the first batches are small, so the naming thread starts early (and asks for the
    // kernel's symbols, needed by most samples, while the others load)
    let mut shrink = 4;
    let mut kernel_seen = false;
    loop {
        if b.full(shrink) {
            b = done(b);
            shrink = shrink.saturating_sub(1);
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
        let first_kernel = !kernel_seen && matches!(item, Item::Mmap { kernel: true, .. });
        b.items.push(item);
        if first_kernel {
            // handed on at once: the naming thread starts loading the kernel's symbols
            kernel_seen = true;
            b = done(b);
        }
    }
    done(b);
    Ok(())
}

/// Reads the records on this thread and names them on another (`threads > 1`; the symbol
/// tables load on yet others), or on this one (`threads == 1`). With two threads, this one
/// also sums the stacks the naming thread sends back batch by batch (see [`add_stacks`]).
/// Both take the batches in order, so the result is the same either way.
pub(super) fn run_records<R: Read>(perf_file: &mut linux_perf_data::PerfFile, record_iter: &mut linux_perf_data::PerfRecordIter<R>, st: &mut State<'_>, threads: usize) -> Result<()> {
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
fn add_stacks(table: &mut StackTable, mut stacks: &[u32]) -> bool {
    let mut ok = true;
    while let [n, lo, hi, rest @ ..] = stacks {
        let n = *n as usize;
        ok &= table.add(&rest[..n], *lo as u64 | (*hi as u64) << 32);
        stacks = &rest[n..];
    }
    ok
}

impl State<'_> {
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

}
