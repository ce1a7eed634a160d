//! What perf keeps while it reads records (`tools/perf/util/machine.c`, `thread.c`, `maps.c`):
//! threads with their comm, processes with their memory maps (threads of a process share them,
//! a fork copies them), DSOs with their symbols loaded on first use, and the kernel's map.

use super::loader::{Done, Job, Loader};
use super::symtab::{self, SymbolTable};
use foldhash::HashMap;
use std::collections::BTreeMap;

/// A DSO as perf names it in `perf script` (its long name: the mapped path, `[vdso]`,
/// `[kernel.kallsyms]`, `/tmp/perf-PID.map`).
pub struct Dso {
    pub name: Vec<u8>,
    pub build_id: Option<Vec<u8>>,
    kind: DsoKind,
    table: Option<SymbolTable>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DsoKind {
    Elf,
    Kernel,
    PerfMap,
    /// Mapped memory without a file (`[heap]`, `[stack]`, `//anon` without exec): no symbols.
    None,
}

#[derive(Clone, Copy, Debug)]
pub struct Map {
    pub end: u64,
    pub pgoff: u64,
    pub dso: u32,
    /// Anonymous and JIT maps: addresses are not relative to the map (`identity__map_ip`).
    pub identity: bool,
}

#[derive(Default, Clone)]
pub struct Maps {
    /// start -> map; no two overlap.
    maps: BTreeMap<u64, Map>,
}

impl Maps {
    /// perf's `maps__fixup_overlappings` then insert: what the new map covers is cut out of the
    /// maps already there.
    pub fn insert(&mut self, start: u64, m: Map) {
        let end = m.end;
        let hit: Vec<(u64, Map)> = self.maps.range(..end).rev().take_while(|(_, o)| o.end > start).map(|(&s, &o)| (s, o)).collect();
        for (s, o) in hit {
            self.maps.remove(&s);
            if s < start {
                self.maps.insert(s, Map { end: start, ..o });
            }
            if o.end > end {
                let pgoff = if o.identity { o.pgoff } else { o.pgoff + (end - s) };
                self.maps.insert(end, Map { pgoff, ..o });
            }
        }
        self.maps.insert(start, m);
    }

    pub fn find(&self, addr: u64) -> Option<(u64, Map)> {
        let (&s, &m) = self.maps.range(..=addr).next_back()?;
        (addr < m.end).then_some((s, m))
    }
}

pub struct Thread {
    pub pid: i32,
    pub comm: Vec<u8>,
    /// Bumped on each comm change: caches keyed by it go stale.
    pub comm_gen: u32,
    pub process: usize,
}

/// Where an address resolved: the DSO (or none), the symbol index in it (or none), and the
/// address as `perf script` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resolved {
    pub dso: Option<u32>,
    pub sym: Option<u32>,
    pub addr: u64,
}

pub const CPU_KERNEL: u8 = 1;
pub const CPU_USER: u8 = 2;

/// Where the kernel's symbols come from.
#[derive(Default)]
pub enum Kallsyms {
    /// `/proc/kallsyms`, read on another thread once the capture shows kernel code.
    #[default]
    Proc,
    /// This text (`/proc/kallsyms` as read before).
    Text(Vec<u8>),
    /// None: kernel frames are `[unknown]`.
    None,
}

#[derive(Default)]
pub struct Machine {
    pub threads: HashMap<i32, Thread>,
    processes: Vec<Maps>,
    /// Per process, bumped when its maps change (caches keyed by it go stale).
    gens: Vec<u32>,
    process_of: HashMap<i32, usize>,
    pub dsos: Vec<Dso>,
    dso_index: HashMap<(Vec<u8>, Option<Vec<u8>>), u32>,
    /// Build ids from the file's header, by path.
    pub build_ids: HashMap<Vec<u8>, Vec<u8>>,
    kernel: Option<(u64, Map)>,
    pub problems: Vec<String>,
    kallsyms: Kallsyms,
    pub demangle: Option<symtab::Demangle>,
    /// Tables loading on other threads: ELF ones by (path, build id), the kernel's.
    loader: Option<Loader>,
    jobs: HashMap<(Vec<u8>, Vec<u8>), usize>,
    kernel_job: Option<usize>,
    workers: usize,
    /// (DSO, address in it) -> its symbol: lookups shared by every process mapping the DSO.
    syms: HashMap<(u32, u64), Option<u32>>,
}

fn is_anon(name: &[u8]) -> bool {
    name == b"//anon" || name.starts_with(b"/dev/zero") || name.starts_with(b"/anon_hugepage")
}

fn is_no_dso(name: &[u8]) -> bool {
    name.starts_with(b"[stack") || name.starts_with(b"/SYSV") || name == b"[heap]"
}

impl Machine {
    /// A machine whose symbol tables load on up to `threads` other threads.
    pub fn new(kallsyms: Kallsyms, threads: usize) -> Self {
        let mut m = Machine { kallsyms, workers: threads, ..Default::default() };
        // a capture's first lookups: grown from there without rehashing from a few entries
        m.syms.reserve(1 << 16);
        // perf's `machine__idle_thread`: the idle task is `swapper` from the start
        m.comm(0, 0, b"swapper");
        m
    }

    fn process(&mut self, pid: i32) -> usize {
        if let Some(&p) = self.process_of.get(&pid) {
            return p;
        }
        self.processes.push(Maps::default());
        self.gens.push(0);
        let p = self.processes.len() - 1;
        self.process_of.insert(pid, p);
        p
    }

    /// perf's `machine__findnew_thread`: a thread seen first here is named `:TID`.
    pub fn thread(&mut self, pid: i32, tid: i32) -> &mut Thread {
        if !self.threads.contains_key(&tid) {
            let pid = if pid == -1 { tid } else { pid };
            let process = self.process(pid);
            self.threads.insert(tid, Thread { pid, comm: format!(":{tid}").into_bytes(), comm_gen: 0, process });
        }
        self.threads.get_mut(&tid).expect("inserted")
    }

    pub fn comm(&mut self, pid: i32, tid: i32, comm: &[u8]) {
        let t = self.thread(pid, tid);
        t.comm = comm.to_vec();
        t.comm_gen += 1;
    }

    /// perf's fork: the child takes its parent's comm; a new process copies the parent's maps,
    /// a new thread shares its process's.
    pub fn fork(&mut self, pid: i32, ppid: i32, tid: i32, ptid: i32) {
        let parent_comm = self.thread(ppid, ptid).comm.clone();
        let parent_proc = self.threads[&ptid].process;
        let process = if pid != ppid {
            let maps = self.processes[parent_proc].clone();
            self.processes.push(maps);
            self.gens.push(0);
            let p = self.processes.len() - 1;
            self.process_of.insert(pid, p);
            p
        } else {
            self.process(pid)
        };
        let gen = self.threads.get(&tid).map_or(0, |t| t.comm_gen + 1);
        self.threads.insert(tid, Thread { pid, comm: parent_comm, comm_gen: gen, process });
    }

    fn dso(&mut self, name: &[u8], build_id: Option<Vec<u8>>, kind: DsoKind) -> u32 {
        let build_id = build_id.or_else(|| self.build_ids.get(name).cloned());
        let key = (name.to_vec(), build_id.clone());
        if let Some(&d) = self.dso_index.get(&key) {
            return d;
        }
        self.dsos.push(Dso { name: name.to_vec(), build_id, kind, table: None });
        let d = (self.dsos.len() - 1) as u32;
        self.dso_index.insert(key, d);
        d
    }

    /// An MMAP or MMAP2 record.
    #[allow(clippy::too_many_arguments)]
    pub fn mmap(&mut self, pid: i32, kernel: bool, start: u64, len: u64, pgoff: u64, prot_exec: bool, name: &[u8], build_id: Option<Vec<u8>>) {
        if kernel {
            if name.starts_with(b"[kernel.kallsyms]") {
                let d = self.dso(b"[kernel.kallsyms]", None, DsoKind::Kernel);
                if self.kernel.is_none() && self.kernel_job.is_none() && matches!(self.kallsyms, Kallsyms::Proc) {
                    // the map's page offset is where `_text` is (perf's ref_reloc_sym)
                    let build_id = self.build_ids.iter().find(|(p, _)| p.starts_with(b"[kernel.kallsyms]")).map(|(_, b)| b.clone());
                    self.kernel_job = Some(self.loader().submit(Job::Kernel { build_id, text: pgoff }, true));
                }
                let end = if start == 0 && len == 0 { u64::MAX } else { start.saturating_add(len) };
                self.kernel = Some((start, Map { end, pgoff, dso: d, identity: false }));
            }
            return; // kernel modules: their symbols are not read (yet)
        }
        let (dso, identity) = if (is_anon(name) || is_no_dso(name)) && prot_exec {
            let n = format!("/tmp/perf-{pid}.map").into_bytes();
            (self.dso(&n, None, DsoKind::PerfMap), true)
        } else if is_anon(name) || is_no_dso(name) {
            (self.dso(name, None, DsoKind::None), true)
        } else {
            let known = self.dsos.len();
            let d = self.dso(name, build_id, DsoKind::Elf);
            if d as usize == known && prot_exec && self.dsos[known].build_id.is_none() && name.starts_with(b"/") {
                // code from a file the header has no build id for: perf lists the files its
                // samples hit that have one, so this one has none or was not hit
                let j = self.loader().submit(Job::Unlisted { path: name.to_vec() }, false);
                self.jobs.insert((name.to_vec(), Vec::new()), j);
            }
            (d, false)
        };
        let p = self.process(pid);
        self.processes[p].insert(start, Map { end: start.saturating_add(len), pgoff, dso, identity });
        self.gens[p] = self.gens[p].wrapping_add(1);
    }

    fn loader(&mut self) -> &mut Loader {
        let (threads, demangle) = (self.workers, self.demangle);
        self.loader.get_or_insert_with(|| Loader::new(threads, demangle))
    }

    /// Starts loading, on other threads, the symbols of the DSOs the capture's header has
    /// build ids for (perf records them for the DSOs its samples hit): the records are read
    /// meanwhile, and a sample that needs a table not loaded yet waits for it.
    pub fn preload(&mut self) {
        let mut jobs: Vec<(Vec<u8>, Vec<u8>)> = self.build_ids.iter().filter(|(p, _)| p.starts_with(b"/")).map(|(p, b)| (p.clone(), b.clone())).collect();
        jobs.sort(); // the same order on every run
        for (path, id) in jobs {
            let j = self.loader().submit(Job::Elf { path: path.clone(), build_id: Some(id.clone()) }, false);
            self.jobs.insert((path, id), j);
        }
    }

    fn kernel_table(&mut self) -> SymbolTable {
        let from_job = match self.kernel_job.take() {
            Some(j) => match self.loader.as_mut().and_then(|l| l.take(j)) {
                Some(Done::Kernel(t)) => Some(t),
                _ => None,
            },
            None => None,
        };
        let t = match from_job {
            Some(t) => t,
            None => match std::mem::replace(&mut self.kallsyms, Kallsyms::None) {
                Kallsyms::Proc => std::fs::read("/proc/kallsyms").ok().map(|t| symtab::load_kallsyms(&t)),
                Kallsyms::Text(t) => Some(symtab::load_kallsyms(&t)),
                Kallsyms::None => None,
            },
        };
        t.unwrap_or_else(|| {
            self.problems.push("/proc/kallsyms could not be read: kernel frames are [unknown]".into());
            SymbolTable::default()
        })
    }

    fn table(&mut self, d: u32) -> &mut SymbolTable {
        if self.dsos[d as usize].table.is_none() {
            let dso = &self.dsos[d as usize];
            let t = match dso.kind {
                DsoKind::Kernel => self.kernel_table(),
                DsoKind::PerfMap => {
                    let path = std::path::Path::new(std::str::from_utf8(&dso.name).unwrap_or(""));
                    match std::fs::read(path) {
                        Ok(text) => symtab::load_perf_map(&text),
                        Err(_) => {
                            self.problems.push(format!("{}: not found: its JIT frames are [unknown]", path.display()));
                            SymbolTable::default()
                        }
                    }
                }
                DsoKind::None => SymbolTable::default(),
                DsoKind::Elf => {
                    let job = self.jobs.remove(&(dso.name.clone(), dso.build_id.clone().unwrap_or_default()));
                    let loaded = match job.and_then(|j| self.loader.as_mut().and_then(|l| l.take(j))) {
                        Some(Done::Elf(l)) => l,
                        _ => super::elf::load(&dso.name, dso.build_id.as_deref(), self.demangle),
                    };
                    self.problems.extend(loaded.problem);
                    loaded.table
                }
            };
            self.dsos[d as usize].table = Some(t);
        }
        self.dsos[d as usize].table.as_mut().expect("loaded")
    }

    /// perf's `thread__find_symbol` for one address in `cpumode` (kernel or user), with perf's
    /// fallback of user addresses outside every map to the kernel's.
    pub fn resolve(&mut self, process: usize, cpumode: u8, ip: u64) -> Resolved {
        let user = if cpumode == CPU_USER { self.processes[process].find(ip) } else { None };
        let found = match user {
            Some(m) => Some(m),
            // the kernel's map reaches past this record's `_etext` to its last symbol (init
            // text, data), as perf's does once kallsyms is loaded
            None => match self.kernel {
                Some((s, k)) if ip >= s => (ip < k.end || ip < self.table(k.dso).end()).then_some((s, k)),
                _ => None,
            },
        };
        let Some((start, m)) = found else {
            return Resolved { dso: None, sym: None, addr: ip };
        };
        let addr = if m.identity { ip } else { ip.wrapping_sub(start).wrapping_add(m.pgoff) };
        // one lookup per address of a DSO, whichever process it was hit in
        let sym = match self.syms.get(&(m.dso, addr)) {
            Some(&s) => s,
            None => {
                let s = self.table(m.dso).find(addr);
                if self.syms.len() >= 1 << 20 {
                    self.syms.clear();
                }
                self.syms.insert((m.dso, addr), s);
                s
            }
        };
        Resolved { dso: Some(m.dso), sym, addr }
    }

    /// A process and the version of its maps: what caches of resolved addresses are keyed by.
    pub fn version(&self, process: usize) -> (usize, u32) {
        (process, self.gens[process])
    }

    /// A resolved symbol's name as perf prints it (`None`: its file can no longer be read).
    pub fn symbol_name(&self, d: u32, s: u32) -> Option<Vec<u8>> {
        self.dsos[d as usize].table.as_ref()?.name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_maps() {
        let mut m = Maps::default();
        let map = |end, pgoff, dso| Map { end, pgoff, dso, identity: false };
        m.insert(0x1000, map(0x5000, 0, 1));
        m.insert(0x2000, map(0x3000, 0x100, 2));
        assert_eq!(m.find(0x1500).unwrap().1.dso, 1);
        assert_eq!(m.find(0x2500).unwrap().1.dso, 2);
        let (s, r) = m.find(0x4000).unwrap();
        assert_eq!((s, r.dso, r.pgoff), (0x3000, 1, 0x2000));
        assert!(m.find(0x5000).is_none());
    }
}
