//! jstack thread dumps, read exactly as FlameGraph's `stackcollapse-jstack.pl`.
//!
//! The input: any number of `jstack PID` dumps, one after another. Each thread is a block ended
//! by an empty line: `"name" #1 prio=5 ...`, `   java.lang.Thread.State: RUNNABLE`, then its
//! frames `\tat pkg.Class.method(File.java:12)`, leaf first. Each RUNNABLE thread gives one
//! stack of weight 1: its frames from the root, the thread's name first (unless
//! `include_tname` is off; `-123` at its end dropped unless `include_tid`). Threads the Perl
//! knows idle are left out: compiler threads, `Signal Dispatcher`, `Service Thread`,
//! `Attach Listener`, and threads in `epollWait`, `EPoll.wait`, `socketAccept`,
//! `Socket...accept0` or `socketRead0`. Lines starting with `#` are skipped; `-` lines (locks),
//! timestamps, `Full thread dump` and `JNI global references:` are skipped; any other line
//! changes nothing and is warned about, as the Perl does, except the lines newer jstacks print
//! that the Perl does not know (the thread list, `JNI global refs:`, `Locked ownable
//! synchronizers:`, compiler tasks): no mistake, they are skipped silently.
//!
//! Not parallel: a thread ends at an *empty* line only, while the driver can tell a cut only
//! after a blank one (spaces count as blank there), and a line of spaces does not end a thread
//! here. jstack dumps are small (the Perl's users take a hundred of them); one collapser reads
//! them in order.
//!
//! Intended difference from the Perl: a `\r\n` line end is read as `\n` (as the Perl does on
//! Windows; on Unix it would end no thread of a CRLF file).

use super::{for_lines, Collapser, Format, Sink};
use crate::collapse::dtrace::{is_perl_space, trim_start};
use crate::intern::FrameId;

/// The jstack format and its options (those of `stackcollapse-jstack.pl`, with its defaults).
#[derive(Clone, Debug)]
pub struct Jstack {
    /// Put the thread's name first in its stacks (`--include-tname`, default on).
    pub include_tname: bool,
    /// Keep a `-123` at the end of thread names (`--include-tid`, default off).
    pub include_tid: bool,
    /// Shorten package names: `java.util.concurrent.Foo.run` -> `j.u.c.Foo.run`
    /// (`--shorten-pkgs`, default off). A method with fewer than two dots becomes an empty
    /// frame, as in the Perl.
    pub shorten_pkgs: bool,
}

impl Default for Jstack {
    fn default() -> Self {
        Jstack { include_tname: true, include_tid: false, shorten_pkgs: false }
    }
}

impl Format for Jstack {
    type C = JstackCollapser;

    fn collapser(&self) -> JstackCollapser {
        JstackCollapser { opts: self.clone(), ..JstackCollapser::default() }
    }
}

/// `$state` in the Perl: `?`, `RUNNABLE`, or anything else.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Unknown,
    Runnable,
    Other,
}

/// Reads jstack dumps in order; the thread in progress carries over from chunk to chunk.
#[derive(Default)]
pub struct JstackCollapser {
    opts: Jstack,
    state: State,
    /// The thread's (tidied) name, when there is one.
    tname: Vec<u8>,
    has_tname: bool,
    /// The thread's frames, leaf first.
    stack: Vec<FrameId>,
    /// Scratch: a stack from the root.
    root: Vec<FrameId>,
    /// Scratch: a frame's name.
    buf: Vec<u8>,
}

/// Interns `name` as frames, split at `;` (the Perl joins names with `;`, so a `;` inside one
/// is a frame boundary in its output: splitting keeps one key per output line).
fn push_split(name: &[u8], out: &mut Sink, to: &mut Vec<FrameId>) {
    for part in name.split(|&b| b == b';') {
        to.push(out.frame(part));
    }
}

/// The token of `java.lang.Thread.State: (\S+)` (each `.` of the pattern matches any byte).
fn thread_state(line: &[u8]) -> Option<&[u8]> {
    const P: usize = 24; // "java.lang.Thread.State: "
    for q in memchr::memmem::find_iter(line, b"Thread") {
        let Some(p) = q.checked_sub(10) else { continue };
        let ok = line.len() > p + P
            && &line[p..p + 4] == b"java"
            && &line[p + 5..p + 9] == b"lang"
            && &line[p + 17..p + 24] == b"State: "
            && !is_perl_space(line[p + P]);
        if ok {
            let tok = &line[p + P..];
            let n = tok.iter().position(|&b| is_perl_space(b)).unwrap_or(tok.len());
            return Some(&tok[..n]);
        }
    }
    None
}

/// Perl's `\w` on bytes.
#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Whether a thread name is one the Perl takes for a background thread.
fn background(name: &[u8]) -> bool {
    // /C. CompilerThread/
    let compiler = memchr::memmem::find_iter(name, b"CompilerThread").any(|q| q >= 3 && name[q - 1] == b' ' && name[q - 3] == b'C');
    compiler || contains(name, b"Signal Dispatcher") || contains(name, b"Service Thread") || contains(name, b"Attach Listener")
}

/// Whether a frame tells the thread is not running (epoll, socket accept or read).
fn idle_frame(f: &[u8]) -> bool {
    contains(f, b"epollWait")
        || contains(f, b"EPoll.wait")
        || f.ends_with(b"socketAccept")
        || f.ends_with(b"socketRead0")
        || (f.ends_with(b"accept0") && memchr::memmem::find(f, b"Socket").is_some_and(|s| s + 6 <= f.len() - 7))
}

/// Whether a line is one the Perl skips silently: `^\s*-`, `^2\d\d\d-`, `^Full thread dump`,
/// `^JNI global references:`.
fn skipped(line: &[u8]) -> bool {
    trim_start(line).first() == Some(&b'-')
        || (line.len() >= 5 && line[0] == b'2' && line[1..4].iter().all(u8::is_ascii_digit) && line[4] == b'-')
        || line.starts_with(b"Full thread dump")
        || line.starts_with(b"JNI global references:")
}

/// `--shorten-pkgs`: `a.b.C.m` -> `a.b.` with each word cut to its first letter, then `C.m`,
/// into `buf`; a name without `pkg.Class.method` shape gives an empty name (the Perl's undefined
/// values).
fn shorten(func: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    let last = memchr::memrchr(b'.', func);
    let second = last.and_then(|l| memchr::memrchr(b'.', &func[..l]).map(|s| (s, l)));
    if let Some((s, l)) = second {
        if l + 1 < func.len() && s + 1 < l {
            let mut prev_word = false;
            for &b in &func[..=s] {
                let w = is_word(b);
                if !(w && prev_word) {
                    buf.push(b);
                }
                prev_word = w;
            }
            buf.extend_from_slice(&func[s + 1..]);
        }
    }
}

/// Whether a line the Perl does not know (it warns, and goes on unchanged) is one jstack prints
/// since Java 9: the thread list (`Threads class SMR info:`, `_java_thread_list=...`, address
/// lines, `}`), `JNI global refs:`, `Locked ownable synchronizers:` (`-l`), a compiler thread's
/// task. Not warned about: they are no mistake, and a dump has a dozen of them.
fn known(line: &[u8]) -> bool {
    let t = trim_start(line);
    line.starts_with(b"Threads class SMR info:")
        || line.starts_with(b"_java_thread_list=")
        || line.starts_with(b"JNI global refs:")
        || line == b"}"
        || (t.starts_with(b"0x") && t.iter().all(|&b| b.is_ascii_hexdigit() || matches!(b, b'x' | b',' | b' ')))
        || t.starts_with(b"Locked ownable synchronizers:")
        || t == b"No compile task"
        || t.starts_with(b"Compiling:")
}

impl JstackCollapser {
    fn line(&mut self, line: &[u8], n: u64, out: &mut Sink) {
        if line.first() == Some(&b'#') {
            return;
        }
        if line.is_empty() {
            self.end_thread(out);
            return;
        }
        if let [b'"', rest @ ..] = line {
            let name = &rest[..memchr::memchr(b'"', rest).unwrap_or(rest.len())];
            if self.opts.include_tname {
                let mut keep = name.len();
                if !self.opts.include_tid {
                    // s/-\d+$//
                    let digits = name.iter().rev().take_while(|b| b.is_ascii_digit()).count();
                    if digits > 0 && digits < name.len() && name[name.len() - digits - 1] == b'-' {
                        keep = name.len() - digits - 1;
                    }
                }
                self.tname.clear();
                self.tname.extend_from_slice(&name[..keep]);
                self.has_tname = true;
            }
            if background(name) {
                self.state = State::Other;
            }
        } else if let Some(tok) = thread_state(line) {
            if self.state == State::Unknown {
                self.state = match tok {
                    b"RUNNABLE" => State::Runnable,
                    b"?" => State::Unknown,
                    _ => State::Other,
                };
            }
        } else if let Some(at) = trim_start(line).strip_prefix(b"at ") {
            let func = &at[..memchr::memchr(b'(', at).unwrap_or(at.len())];
            let func = if self.opts.shorten_pkgs {
                shorten(func, &mut self.buf);
                &self.buf[..]
            } else {
                func
            };
            if idle_frame(func) {
                self.state = State::Other;
            }
            let from = self.stack.len();
            push_split(func, out, &mut self.stack);
            self.stack[from..].reverse();
        } else if !skipped(line) && !known(line) {
            out.warn(n, format!("unrecognized line: {}", String::from_utf8_lossy(line)));
        }
    }

    /// An empty line: the thread is done; its stack counts once if it was running.
    fn end_thread(&mut self, out: &mut Sink) {
        if self.state == State::Runnable {
            self.root.clear();
            if self.has_tname {
                push_split(&self.tname, out, &mut self.root);
            }
            self.root.extend(self.stack.iter().rev());
            if !self.root.is_empty() {
                out.add_stack(None, &self.root, 1);
            }
        }
        self.stack.clear();
        self.has_tname = false;
        self.state = State::Unknown;
    }
}

impl Collapser for JstackCollapser {
    fn chunk(&mut self, data: &[u8], fresh: bool, out: &mut Sink) -> u64 {
        if fresh {
            self.stack.clear();
            self.has_tname = false;
            self.state = State::Unknown;
        }
        for_lines(data, |line, n| self.line(line, n, out))
    }

    fn end(&mut self, out: &mut Sink) {
        if self.state == State::Runnable && (self.has_tname || !self.stack.is_empty()) {
            out.warn(0, "the input ended inside a thread (no empty line after it): that thread was not counted");
        }
        self.stack.clear();
        self.has_tname = false;
        self.state = State::Unknown;
    }
}

/// Whether `head` (the first lines of an input) is jstack output: `Some(true)` when it has a
/// `Full thread dump` line, or a thread line (`"name" ...`) with a
/// `java.lang.Thread.State:` or `at ...(` line; `Some(false)` when it has neither a thread line
/// nor a state line in at least a few non-blank lines; `None` when it cannot tell yet.
pub fn looks_like(head: &[u8]) -> Option<bool> {
    let (mut dump, mut thread, mut state, mut at, mut lines) = (false, false, false, false, 0u32);
    for_lines(head, |line, _| {
        if trim_start(line).is_empty() {
            return;
        }
        lines += 1;
        if line.starts_with(b"Full thread dump ") {
            dump = true;
        } else if line.first() == Some(&b'"') && memchr::memchr(b'"', &line[1..]).is_some() {
            thread = true;
        } else if memchr::memmem::find(line, b"java.lang.Thread.State: ").is_some() {
            state = true;
        } else if let Some(a) = trim_start(line).strip_prefix(b"at ") {
            at |= line.len() > trim_start(line).len() && memchr::memchr(b'(', a).is_some();
        }
    });
    if dump || (thread && (state || at)) {
        Some(true)
    } else if lines >= 5 && !thread && !state {
        Some(false)
    } else {
        None
    }
}
