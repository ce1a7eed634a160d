//! The stack doctor: what is broken in a capture's stacks and symbols, and the fix for each (the
//! talk's second part as a report).
//!
//! Per sample (of every event, or of one):
//! - **unknown frames**: a frame whose symbol is `[unknown]` (perf could not name it), counted by
//!   module as printed.
//! - **missing symbols**: unknown frames in a file-backed module (`/usr/bin/perf`,
//!   `/usr/lib/libfoo.so`): that DSO has no symbol table (stripped) nor debug info installed.
//! - **JIT without a perf map**: unknown frames whose module is `[unknown]`, `//anon`, `[anon…]`,
//!   or `memfd:…` in a JIT process (its comm starts with `java` or `node`, or one of its frames
//!   is in `libjvm.so`, `libnode.so` or a module named `node`), and unknown frames in a
//!   `/tmp/perf-PID.map` or jitdump module (a map without that code: written too early).
//! - **garbage frames**: the other unknown frames with module `[unknown]`: return addresses read
//!   through a broken frame-pointer chain.
//! - **broken stacks**: the outermost frame is not a thread root. Roots, by their symbol with
//!   any `+0x..` offset removed: see [`is_root`]. Stacks with no frame at all are counted apart.
//! - **truncated stacks**: at least `max_stack` frames (perf's `kernel.perf_event_max_stack`,
//!   127 by default).

use super::events::{EventReader, MAX_WARNINGS};
use super::finish_warnings;
use crate::error::{Result, Warning};
use crate::collapse::perf::tidy::strip_offset;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;

/// Options of [`doctor`].
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// Stacks with this many frames or more are at the limit (`kernel.perf_event_max_stack`).
    pub max_stack: usize,
    /// Only samples of this event (base name, modifiers ignored); all events when `None`.
    pub event: Option<Vec<u8>>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions { max_stack: 127, event: None }
    }
}

/// One problem found, with the fix the talk gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `missing_symbols`, `jit_without_map`, `garbage_frames`, `broken_stacks`, `truncated_stacks`,
    /// `no_stacks`.
    pub kind: &'static str,
    /// Samples concerned.
    pub samples: u64,
    pub what: String,
    pub fix: String,
}

/// The doctor's report. Tables are sorted by count, largest first, then by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoctorReport {
    pub samples: u64,
    /// Samples with no frame at all.
    pub no_stack: u64,
    /// Samples with at least one `[unknown]` frame.
    pub with_unknown: u64,
    /// Module -> (unknown frames, samples with one there).
    pub unknown_by_module: Vec<(Vec<u8>, u64, u64)>,
    /// File-backed module -> (unknown frames, samples): symbols missing.
    pub missing_symbols: Vec<(Vec<u8>, u64, u64)>,
    /// Samples with a frame counted in `missing_symbols`.
    pub with_missing_symbols: u64,
    /// Samples with JIT frames lacking a perf map, and per process name (frames, samples).
    pub jit_unmapped: u64,
    pub jit_by_process: Vec<(Vec<u8>, u64, u64)>,
    /// Samples with `[unknown]` frames in module `[unknown]` outside JIT processes.
    pub garbage: u64,
    /// Samples whose outermost frame is no thread root, and per outermost frame (samples).
    pub broken: u64,
    pub broken_by_outermost: Vec<(Vec<u8>, u64)>,
    /// Samples whose outermost frame is a kernel entry (`entry_SYSCALL_64…`, `asm_…`): counted
    /// as rooted, but they hold no user-space frame.
    pub kernel_entry_roots: u64,
    /// Samples with `max_stack` frames or more.
    pub at_limit: u64,
    pub max_stack: usize,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
}

/// Thread roots: `_start`, `__libc_start_main`, `__libc_start_main_impl`,
/// `__libc_start_call_main` (glibc ≥ 2.34: the outermost frame a frame-pointer walk reaches),
/// `_dl_start`, `_dl_start_user`, `start_thread`, `clone`, `clone3`, `__clone`, `__clone3`,
/// `__clone_internal`, Go's `runtime.goexit`, `runtime.rt0_go`, `runtime.mstart` (with or without
/// `.abi0`); kernel `ret_from_fork`, `ret_from_fork_asm`, the boot/idle roots
/// (`secondary_startup_64…`, `common_startup_64`, `x86_64_start_kernel`,
/// `x86_64_start_reservations`, `start_kernel`, arm64 `__primary_switched`,
/// `__secondary_switched`); kernel entry points (see [`is_kernel_entry`]). Not roots: `main`,
/// `std::rt::lang_start` and any other function: a stack ending there lost its callers.
pub fn is_root(sym: &[u8]) -> bool {
    const ROOTS: &[&[u8]] = &[
        b"_start", b"__libc_start_main", b"__libc_start_main_impl", b"__libc_start_call_main", b"_dl_start", b"_dl_start_user",
        b"start_thread", b"clone", b"clone3", b"__clone", b"__clone3", b"__clone_internal", b"runtime.goexit", b"runtime.rt0_go",
        b"runtime.mstart", b"runtime.goexit.abi0", b"runtime.rt0_go.abi0", b"runtime.mstart.abi0", b"ret_from_fork",
        b"ret_from_fork_asm", b"common_startup_64", b"x86_64_start_kernel", b"x86_64_start_reservations", b"start_kernel",
        b"__primary_switched", b"__secondary_switched",
    ];
    ROOTS.contains(&sym) || sym.starts_with(b"secondary_startup_64") || is_kernel_entry(sym)
}

/// Kernel entry points: `entry_SYSCALL_64…`, `entry_SYSCALL_compat…`, `entry_SYSENTER_compat…`,
/// `entry_INT80_compat…`, and the interrupt and exception entries `asm_…` (x86), `el0t_…` (arm64).
pub fn is_kernel_entry(sym: &[u8]) -> bool {
    [&b"entry_SYSCALL_64"[..], b"entry_SYSCALL_compat", b"entry_SYSENTER_compat", b"entry_INT80_compat", b"asm_", b"el0t_"].iter().any(|p| sym.starts_with(p))
}

/// The module of a frame perf could not name, `None` when it has a name. A module printed with
/// ` (deleted)` ends the symbol at its own parenthesis (`[unknown] (/lib/x.so (deleted))` reads
/// as symbol `[unknown] (/lib/x.so`): the module is then taken from the symbol.
fn unknown_module<'a>(f: &crate::collapse::perf::frame::FrameLine<'a>) -> Option<&'a [u8]> {
    let sym = strip_offset(f.raw);
    if sym == b"[unknown]" {
        Some(f.module)
    } else {
        sym.strip_prefix(b"[unknown] (")
    }
}

fn is_jit_runtime_module(m: &[u8]) -> bool {
    m.ends_with(b"/libjvm.so") || m.ends_with(b"/libnode.so") || m.ends_with(b"/node") || m.contains_str(b"/libnode.so.")
}

fn is_anon_module(m: &[u8]) -> bool {
    m == b"[unknown]" || m == b"//anon" || m.starts_with(b"[anon") || m.contains_str(b"memfd:")
}

trait ContainsStr {
    fn contains_str(&self, n: &[u8]) -> bool;
}
impl ContainsStr for [u8] {
    fn contains_str(&self, n: &[u8]) -> bool {
        memchr::memmem::find(self, n).is_some()
    }
}

/// Per key: (frames, samples), with the sample of the last count to count each sample once.
#[derive(Default)]
struct Tally(HashMap<Vec<u8>, (u64, u64, u64)>);

impl Tally {
    fn add(&mut self, key: &[u8], sample: u64) {
        let e = self.0.entry(key.to_vec()).or_insert((0, 0, u64::MAX));
        e.0 += 1;
        if e.2 != sample {
            e.2 = sample;
            e.1 += 1;
        }
    }

    fn sorted(self) -> Vec<(Vec<u8>, u64, u64)> {
        let mut v: Vec<_> = self.0.into_iter().map(|(k, (f, s, _))| (k, f, s)).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
        v
    }
}

/// Examines a capture's stacks.
pub fn doctor<R: Read>(r: R, opts: &DoctorOptions) -> Result<DoctorReport> {
    let mut rd = EventReader::new(r);
    let mut rep = DoctorReport { max_stack: opts.max_stack, ..Default::default() };
    let (mut unknown, mut missing, mut jit) = (Tally::default(), Tally::default(), Tally::default());
    let mut outermost: HashMap<Vec<u8>, u64> = HashMap::new();
    while let Some(ev) = rd.next()? {
        if opts.event.as_deref().is_some_and(|e| ev.event_base() != e) {
            continue;
        }
        let n = rep.samples;
        rep.samples += 1;
        let depth = ev.depth();
        if depth == 0 {
            rep.no_stack += 1;
            continue;
        }
        if depth >= opts.max_stack {
            rep.at_limit += 1;
        }
        let jit_process = ev.comm.starts_with(b"java") || ev.comm.starts_with(b"node") || ev.frames().any(|f| is_jit_runtime_module(f.module));
        let (mut any_unknown, mut any_jit, mut any_garbage, mut any_missing) = (false, false, false, false);
        for f in ev.frames() {
            let Some(module) = unknown_module(&f) else { continue };
            any_unknown = true;
            unknown.add(module, n);
            if (jit_process && is_anon_module(module)) || crate::collapse::perf::tidy::is_jit(module) {
                any_jit = true;
                jit.add(&ev.comm, n);
            } else if module == b"[unknown]" {
                any_garbage = true;
            } else if module.starts_with(b"/") && !crate::collapse::perf::tidy::is_jit(module) && !is_anon_module(module) {
                any_missing = true;
                missing.add(module, n);
            }
        }
        rep.with_unknown += any_unknown as u64;
        rep.jit_unmapped += any_jit as u64;
        rep.garbage += any_garbage as u64;
        rep.with_missing_symbols += any_missing as u64;
        let last = ev.frame(depth - 1);
        let sym = strip_offset(last.raw);
        if !is_root(sym) {
            rep.broken += 1;
            let name = if sym == b"[unknown]" { [&b"[unknown] ("[..], last.module, b")"].concat() } else { sym.to_vec() };
            *outermost.entry(name).or_default() += 1;
        } else if is_kernel_entry(sym) {
            rep.kernel_entry_roots += 1;
        }
    }
    rep.unknown_by_module = unknown.sorted();
    rep.missing_symbols = missing.sorted();
    rep.jit_by_process = jit.sorted();
    let mut o: Vec<_> = outermost.into_iter().collect();
    o.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rep.broken_by_outermost = o;
    let (w, more) = rd.take_warnings();
    rep.warnings = finish_warnings(w, more);
    rep.findings = findings(&rep);
    Ok(rep)
}

fn names(v: &[(Vec<u8>, u64, u64)], top: usize) -> String {
    v.iter().take(top).map(|(k, _, _)| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>().join(", ")
}

fn findings(r: &DoctorReport) -> Vec<Finding> {
    let mut f = Vec::new();
    if r.no_stack > 0 {
        f.push(Finding { kind: "no_stacks", samples: r.no_stack, what: "samples without any frame".into(), fix: "record call stacks: perf record -g (or --call-graph dwarf)".into() });
    }
    if !r.missing_symbols.is_empty() {
        f.push(Finding {
            kind: "missing_symbols",
            samples: r.with_missing_symbols,
            what: format!("frames without a symbol in {} files: {}", r.missing_symbols.len(), names(&r.missing_symbols, 5)),
            fix: "install their debug symbols (the distribution's -dbgsym / -dbg / -debuginfo packages), or build them without stripping (keep the symbol table)".into(),
        });
    }
    if r.jit_unmapped > 0 {
        f.push(Finding {
            kind: "jit_without_map",
            samples: r.jit_unmapped,
            what: format!("JIT-compiled frames without symbols (no /tmp/perf-PID.map) in {}", names(&r.jit_by_process, 5)),
            fix: "Java: run with -XX:+PreserveFramePointer and write a map with perf-map-agent (or jcmd PID Compiler.perfmap on JDK 17+) at the end of the recording; Node.js: node --perf-basic-prof (or --perf-prof with jitdump)".into(),
        });
    }
    if r.garbage > 0 {
        f.push(Finding {
            kind: "garbage_frames",
            samples: r.garbage,
            what: "[unknown] frames in no module: addresses read through a broken frame-pointer chain".into(),
            fix: "build with -fno-omit-frame-pointer (and libraries too), or record with --call-graph dwarf (or lbr)".into(),
        });
    }
    if r.broken > 0 {
        let top: Vec<String> = r.broken_by_outermost.iter().take(5).map(|(k, n)| format!("{} ({n})", String::from_utf8_lossy(k))).collect();
        f.push(Finding {
            kind: "broken_stacks",
            samples: r.broken,
            what: format!("stacks that stop short of a thread root; they end in {}", top.join(", ")),
            fix: "compile with -fno-omit-frame-pointer (C, C++, Rust: -C force-frame-pointers=yes), Java with -XX:+PreserveFramePointer; or record with --call-graph dwarf".into(),
        });
    }
    if r.at_limit > 0 {
        f.push(Finding {
            kind: "truncated_stacks",
            samples: r.at_limit,
            what: format!("stacks at the {}-frame limit: their outer frames are cut off", r.max_stack),
            fix: "raise the limit before recording: sysctl -w kernel.perf_event_max_stack=1024 (and perf record --max-stack 1024)".into(),
        });
    }
    f
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        return "0%".into();
    }
    format!("{:.1}%", n as f64 * 100.0 / d as f64)
}

impl DoctorReport {
    /// The report as text for a terminal, `top` rows per table.
    pub fn render(&self, top: usize) -> String {
        let mut s = String::new();
        let n = self.samples;
        let _ = writeln!(s, "samples: {n}");
        let _ = writeln!(s, "with [unknown] frames: {} ({})", self.with_unknown, pct(self.with_unknown, n));
        for (m, frames, samples) in self.unknown_by_module.iter().take(top) {
            let _ = writeln!(s, "  {:>7} samples {:>7} frames  {}", samples, frames, String::from_utf8_lossy(m));
        }
        let _ = writeln!(s, "stopping short of a thread root: {} ({})", self.broken, pct(self.broken, n));
        for (k, c) in self.broken_by_outermost.iter().take(top) {
            let _ = writeln!(s, "  {:>7} samples end in {}", c, String::from_utf8_lossy(k));
        }
        let _ = writeln!(s, "ending at a kernel entry (no user frames): {} ({})", self.kernel_entry_roots, pct(self.kernel_entry_roots, n));
        let _ = writeln!(s, "at the {}-frame limit: {} ({})", self.max_stack, self.at_limit, pct(self.at_limit, n));
        let _ = writeln!(s, "without any frame: {} ({})", self.no_stack, pct(self.no_stack, n));
        if self.findings.is_empty() {
            let _ = writeln!(s, "\nno problem found");
        } else {
            let _ = writeln!(s, "\nfindings:");
            for f in &self.findings {
                let _ = writeln!(s, "- {} ({} samples, {}): {}\n  fix: {}", f.kind, f.samples, pct(f.samples, n), f.what, f.fix);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\n{} lines could not be read (first: {})", self.warnings.len().min(MAX_WARNINGS), self.warnings[0]);
        }
        s
    }
}
