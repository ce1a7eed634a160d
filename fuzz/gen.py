"""Inputs for the campaign: the corpus, the mutators, and grammar generators of *valid* inputs
whose expected result is computed here, independently of the Rust core.

Everything takes a ``random.Random``: an input is a pure function of (seed, index).
"""

from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MAX_LINE = 90_000  # very long lines stay under 100 KB
BIG = 1 << 20  # the core cuts inputs into 1 MiB chunks: bigger inputs exercise the threads


# ---------------------------------------------------------------------------------------------
# the corpus


def _read(p: Path) -> bytes:
    data = p.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@lru_cache(maxsize=None)
def perf_corpus() -> Tuple[bytes, ...]:
    files = sorted((DATA / "collapse" / "inputs").iterdir())
    return tuple(d for d in (_read(p) for p in files) if d)


@lru_cache(maxsize=None)
def perf_samples() -> Tuple[Tuple[bytes, ...], ...]:
    """Each capture cut at its blank lines (a sample per piece, as far as blank lines tell)."""
    return tuple(tuple(s for s in re.split(rb"\n[ \t]*\r?\n", d) if s.strip()) for d in perf_corpus())


@lru_cache(maxsize=None)
def folded_corpus() -> Tuple[Tuple[bytes, ...], ...]:
    """Folded files (flame graph and diff inputs), as lists of lines."""
    files = sorted((DATA / "flamegraph" / "inputs").iterdir()) + sorted((DATA / "diff" / "inputs").iterdir())
    return tuple(tuple(_read(p).splitlines(keepends=True)) for p in files)


def perf_excerpt(rng: random.Random, max_samples: int = 12) -> bytes:
    """A few consecutive samples of one capture (small inputs keep the campaign fast)."""
    caps = perf_samples()
    samples = caps[rng.randrange(len(caps))]
    if not samples:
        return b""
    n = min(len(samples), rng.randint(1, max_samples))
    start = rng.randrange(len(samples) - n + 1)
    return b"\n\n".join(samples[start:start + n]) + rng.choice([b"\n\n", b"\n", b""])


def folded_excerpt(rng: random.Random, max_lines: int = 40) -> bytes:
    files = folded_corpus()
    lines = files[rng.randrange(len(files))]
    n = min(len(lines), rng.randint(1, max_lines))
    start = rng.randrange(len(lines) - n + 1)
    return b"".join(lines[start:start + n])


# ---------------------------------------------------------------------------------------------
# mutators: bytes -> bytes


HUGE = [str(v).encode() for v in (2**53 - 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1, 2**64, 99999999999999999999)]
NASTY = [
    b"\x00", b"\r", b"\x1b[31m", b"\x1b]0;title\x07", b"\x7f", b"\x0b", b"\x0c", b"\x01", b"\xff", b"\xc3(",
    b"\x80", b"\xed\xa0\x80", b"\xef\xbf\xbe", b"<script>alert(1)</script>", b'"><g onload=alert(1)>', b"]]>",
    b"&amp;", b"&#0;", b"<![CDATA[", b"-->", b"'", b'"', b";", b";;", b"(", b")", b" (", b"->", b"[unknown]",
    b"\t", b"  ", b"#", b":", b"/", b"0x", b"\xe6\xbc\xa2", b"\xf0\x9f\x94\xa5",
]


def _lines(data: bytes) -> List[bytes]:
    return data.split(b"\n")


def _join(lines: List[bytes]) -> bytes:
    return b"\n".join(lines)


def _is_header(line: bytes) -> bool:
    return bool(line) and not line[:1].isspace() and re.search(rb"\s-?\d+(/-?\d+)?\s", line) is not None


def m_truncate(rng: random.Random, d: bytes) -> bytes:
    if not d:
        return d
    r = rng.random()
    if r < 0.4:  # right after a header line, with or without its newline
        ends = [m.end() for m in re.finditer(rb"(?m)^\S[^\n]*\s\d+(?:/\d+)?\s[^\n]*:[^\n]*$", d)]
        if ends:
            e = rng.choice(ends)
            return d[:e + rng.randint(0, 1)]
    if r < 0.7:  # mid-frame
        starts = [m.start() for m in re.finditer(rb"(?m)^\s+\w+ ", d)]
        if starts:
            s = rng.choice(starts)
            end = d.find(b"\n", s)
            end = len(d) if end < 0 else end
            return d[:rng.randint(s, end)]
    return d[:rng.randrange(len(d) + 1)]


def m_delete_lines(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    if len(ls) < 2:
        return d
    i = rng.randrange(len(ls))
    del ls[i:i + rng.choice([1, 1, 1, 2, 3])]
    return _join(ls)


def m_duplicate_line(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    i = rng.randrange(len(ls))
    ls[i:i] = [ls[i]] * rng.choice([1, 1, 2])
    return _join(ls)


def m_swap_lines(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    if len(ls) < 2:
        return d
    i, j = rng.randrange(len(ls)), rng.randrange(len(ls))
    ls[i], ls[j] = ls[j], ls[i]
    return _join(ls)


def m_flip_bytes(rng: random.Random, d: bytes) -> bytes:
    if not d:
        return d
    b = bytearray(d)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
    return bytes(b)


def m_insert_nasty(rng: random.Random, d: bytes) -> bytes:
    i = rng.randrange(len(d) + 1)
    return d[:i] + rng.choice(NASTY) + d[i:]


def m_remove_blank_lines(rng: random.Random, d: bytes) -> bytes:
    return re.sub(rb"\n[ \t]*(\r?\n)+", b"\n", d)


def m_insert_blank_line(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    i = rng.randrange(len(ls) + 1)
    ls.insert(i, rng.choice([b"", b"", b" ", b"\t", b"\r"]))
    return _join(ls)


def m_unindent_frames(rng: random.Random, d: bytes) -> bytes:
    allp = rng.random() < 0.5
    return re.sub(rb"(?m)^[ \t]+(?=\w)", lambda m: b"" if allp or rng.random() < 0.3 else m.group(0), d)


def m_indent_headers(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    idx = [i for i, l in enumerate(ls) if _is_header(l)]
    for i in rng.sample(idx, min(len(idx), rng.randint(1, 3))):
        ls[i] = rng.choice([b" ", b"   ", b"\t", b"          "]) + ls[i]
    return _join(ls)


def m_header_trailer(rng: random.Random, d: bytes) -> bytes:
    """Moves a frame onto the header line before it (perf without callchains), and indents that
    header (the right-aligned comm): the shapes of the callchain-cache bug."""
    ls = _lines(d)
    idx = [i for i, l in enumerate(ls[:-1]) if _is_header(l) and ls[i + 1][:1].isspace() and ls[i + 1].strip()]
    if not idx:
        return d
    i = rng.choice(idx)
    h = ls[i].rstrip()
    ls[i:i + 2] = [(b"  " if rng.random() < 0.7 else b"") + h + b"  " + ls[i + 1].strip()]
    return _join(ls)


def m_duplicate_samples(rng: random.Random, d: bytes) -> bytes:
    parts = re.split(rb"(\n[ \t]*\r?\n)", d)
    samples = parts[0::2]
    if not samples:
        return d
    i = rng.randrange(len(samples))
    if rng.random() < 0.3:  # the whole capture, twice
        sep = rng.choice([b"\n\n", b"\n", b""])
        return d + sep + d
    samples[i:i] = [samples[i]] * rng.choice([1, 2])
    return b"\n\n".join(samples)


def m_huge_number(rng: random.Random, d: bytes) -> bytes:
    runs = list(re.finditer(rb"\d+(\.\d+)?", d))
    if not runs:
        return d
    m = rng.choice(runs)
    v = rng.choice(HUGE + [b"-5", b"-1", b"1.5", b"0.5", b"0", b"00", b"1e3", b"5.", b".5", b"1.0", b"-0"])
    return d[:m.start()] + v + d[m.end():]


def m_long_line(rng: random.Random, d: bytes) -> bytes:
    ls = _lines(d)
    i = rng.randrange(len(ls) + 1)
    n = rng.choice([200, 5000, 30000, MAX_LINE // 2])
    unit = rng.choice([b"a", b"f;", b"x(", b"\t", b"0", b" "])
    body = (unit * (n // len(unit)))[:n]
    kind = rng.random()
    if kind < 0.4:
        line = b"\t ffff " + body + b" (/long)"
    elif kind < 0.7:
        line = body + b" 1"
    else:
        line = body
    ls.insert(i, line)
    return _join(ls)


def m_crlf(rng: random.Random, d: bytes) -> bytes:
    return d.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def m_concat_capture(rng: random.Random, d: bytes) -> bytes:
    return d + rng.choice([b"\n\n", b"\n", b""]) + perf_excerpt(rng, 6)


def m_splice_samples(rng: random.Random, d: bytes) -> bytes:
    parts = [p for p in re.split(rb"\n[ \t]*\r?\n", d) if p]
    other = [p for p in re.split(rb"\n[ \t]*\r?\n", perf_excerpt(rng, 6)) if p]
    if not other:
        return d
    for _ in range(rng.randint(1, 3)):
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(other))
    return b"\n\n".join(parts) + b"\n"


PERF_MUTATORS: List[Callable[[random.Random, bytes], bytes]] = [
    m_truncate, m_delete_lines, m_duplicate_line, m_swap_lines, m_flip_bytes, m_insert_nasty,
    m_remove_blank_lines, m_insert_blank_line, m_unindent_frames, m_indent_headers, m_header_trailer,
    m_duplicate_samples, m_huge_number, m_long_line, m_crlf, m_concat_capture, m_splice_samples,
]


def m_folded_frames(rng: random.Random, d: bytes) -> bytes:
    """Frame-level damage to folded lines: empty frames, names that try to escape the SVG."""
    ls = _lines(d)
    i = rng.randrange(len(ls))
    l = ls[i]
    op = rng.random()
    if op < 0.4:
        p = l.rfind(b" ")
        frame = rng.choice(NASTY)
        if p > 0:
            ls[i] = l[:p] + b";" + frame + l[p:]
        else:
            ls[i] = frame + b" 1"
    elif op < 0.55:
        ls[i] = l.replace(b" ", b"\t", 1) if rng.random() < 0.5 else l.replace(b";", b";;", 1)
    elif op < 0.7:
        p = l.rfind(b" ")
        ls[i] = l[:p] + b" " + rng.choice([b"0", b"5", b"7"]) + l[p:] if p > 0 else l  # two columns
    elif op < 0.85:
        ls[i] = l.replace(b";", b"; ", 1) + rng.choice([b" ", b"\t", b" \r"])
    else:
        ls[i] = b";" + l
    return _join(ls)


def m_concat_folded(rng: random.Random, d: bytes) -> bytes:
    return d + rng.choice([b"", b"\n"]) + folded_excerpt(rng, 10)


# where samples start and end: what the cutting of big inputs into chunks depends on
STRUCTURE_MUTATORS: List[Callable[[random.Random, bytes], bytes]] = [
    m_insert_blank_line, m_insert_blank_line, m_delete_lines, m_remove_blank_lines, m_unindent_frames,
    m_header_trailer, m_indent_headers,
]

FOLDED_MUTATORS: List[Callable[[random.Random, bytes], bytes]] = [
    m_truncate, m_delete_lines, m_duplicate_line, m_swap_lines, m_flip_bytes, m_insert_nasty,
    m_insert_blank_line, m_huge_number, m_huge_number, m_long_line, m_crlf, m_folded_frames,
    m_folded_frames, m_concat_folded,
]


def mutate(rng: random.Random, d: bytes, mutators: List[Callable[[random.Random, bytes], bytes]]) -> Tuple[bytes, List[str]]:
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        f = rng.choice(mutators)
        d = f(rng, d)
        names.append(f.__name__[2:])
    return d, names


def tile(piece: bytes, size: int, sep: bytes = b"") -> bytes:
    """``piece`` repeated (joined by ``sep``) until at least ``size`` bytes."""
    if not piece:
        return piece
    unit = piece + sep
    return unit * max(1, -(-size // len(unit)))


# ---------------------------------------------------------------------------------------------
# grammar generator of valid `perf script` captures, with the expected result computed here


@dataclass
class Expect:
    """What a valid input must give."""

    total: int
    stacks: Dict[str, int]
    event: Optional[str] = None
    dropped: int = 0
    filtered: bool = False  # samples of other events were left out (one warning says so)
    graph_total: Optional[int] = None  # folded: the total a flame graph draws (one folded grammar:
    # blanks after the count are allowed everywhere, where flamegraph.pl silently drops the line)


COMMS = ["app", "my prog", "V8 WorkerThread", "kworker/0:1", "swapper", "t", "perf-exec", "python3.11",
         "\u00e4-comm", "Web Content", "x", ":-1"]  # `:-1`: an exited task, printed with the id -1
SYMS = ["main", "leaf", "do_work", "ns::Class::method(int, char*)", "std::vector<int>::push_back(int const&)",
        "__libc_start_main", "_start", "compute_hash", "Foo::bar() const", "operator new(unsigned long)",
        "g\u00e9n\u00e9rer", "run<T>", "start_thread", "a_b_c", "xyz123",
        # a `->` inside a type is part of the name (only a `->` outside brackets splits a chain)
        "core::ops::function::FnOnce::call_once<fn() -> i32>", "Foo<fn() -> i32, fn(u8)>::f(int)",
        "std::sync::once_lock::OnceLock<unsafe fn() -> Box<dyn Fn()>>::initialize"]
KSYMS = ["do_syscall_64", "entry_SYSCALL_64", "vfs_read", "schedule", "__x64_sys_write"]
USER_MODS = ["/usr/bin/app", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/opt/my dir/libfoo.so", "/tmp/perf-4242.map",
             "/tmp/jitted-31714-42.so"]
KERNEL_MODS = ["[kernel.kallsyms]", "/lib/modules/6.1/kernel/drivers/foo.ko", "[vdso]"]
EVENTS = ["cycles", "cycles:u", "cycles:ppp", "cpu-clock", "instructions", "cpu-clock:uhH"]
MODIFIERS = set("ukhIGHpPSDWeb")


def event_base(e: str) -> str:
    i = e.rfind(":")
    if i > 0 and i + 1 < len(e) and set(e[i + 1:]) <= MODIFIERS:
        return e[:i]
    return e


def keeps(e: str, kept: str, explicit: bool) -> bool:
    if explicit and event_base(kept) != kept:
        return e == kept
    return event_base(e) == event_base(kept)


def _tidy_sym(sym: str) -> str:
    """The offset and the argument list go (the generator's symbols hold no lambdas, quotes or
    `;`, `operator` is never followed by a bracket, and a `->` is always inside a type)."""
    s = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    depth = 0
    for i, c in enumerate(s):
        if c == "<":
            depth += 1
        elif c == ">" and s[i - 1:i] != "-":  # the `>` of a return type's `->` closes nothing
            depth = max(0, depth - 1)
        elif c == "(" and depth == 0:
            return s[:i]
    return s


def _basename(m: str) -> str:
    return m.rsplit("/", 1)[-1]


def _is_kernel(m: str) -> bool:
    return (m.startswith("[") or m.endswith("vmlinux") or m.endswith(".ko")) and "unknown" not in m


def _is_jit(m: str) -> bool:
    return bool(re.search(r"/tmp/perf-\d+\.map", m) or re.fullmatch(r"jitted-\d+-\d+\.so", _basename(m)))


@dataclass
class GenFrame:
    addr: str
    sym: str
    module: str
    src: Optional[str]  # the srcline line perf prints after it (-F+srcline), or None


@dataclass
class GenSample:
    comm: str
    ids: str  # as printed: "123" or "123/456"
    period: Optional[int]
    event: str
    frames: List[GenFrame]  # leaf first, as perf prints
    trace: bool = False  # tracepoint with trace data after the event


def _frame_name(f: GenFrame, opts: Dict[str, object]) -> str:
    unknown = f.sym == "[unknown]" and f.module == "[unknown]"
    if f.sym == "[unknown]":
        name = "[" + ("unknown" if unknown else _basename(f.module))
        if opts.get("addrs"):
            name += f" <{f.addr}>"
        name += "]"
    else:
        name = _tidy_sym(f.sym)
    if opts.get("kernel") and _is_kernel(f.module):
        name += "_[k]"
    elif opts.get("jit") and _is_jit(f.module) and "_[j]" not in name:
        name += "_[j]"
    if opts.get("srcline") and not unknown and f.src is not None:
        src = re.sub(r"\[[^\]]*\]", "", f.src).strip(" \t\r\x0b\x0c")
        if src:
            name += ":" + src
    return name


def _pname(s: GenSample, opts: Dict[str, object]) -> str:
    a, _, b = s.ids.partition("/")
    pid, tid = ("?", a) if (not b or b == "0") else (a, b)
    name = s.comm.replace(" ", "_")
    if opts.get("tid"):
        name += f"-{pid}/{tid}"
    elif opts.get("pid"):
        name += f"-{pid}"
    return name


def _render_frame(rng: random.Random, f: GenFrame, unindented: bool) -> str:
    lead = "" if unindented else rng.choice(["\t", "\t    ", "        ", "\t "])
    return f"{lead}{f.addr} {f.sym} ({f.module})"


def gen_perf(rng: random.Random, srcline: Optional[bool] = None) -> Tuple[bytes, Dict[str, object], Expect]:
    """A valid capture in one of the shapes perf prints, its options and its expected profile."""
    opts: Dict[str, object] = {}
    for k in ("pid", "tid", "kernel", "jit", "addrs"):
        if rng.random() < 0.2:
            opts[k] = True
    if srcline is None:
        srcline = rng.random() < 0.2
    if srcline:
        opts["srcline"] = True
    nocallchain = rng.random() < 0.15  # one line per sample: the frame on the header line
    unindented = not nocallchain and rng.random() < 0.1  # old perf: frames at column 0
    blank = rng.choice(["always", "always", "never", "sometimes"])
    crlf = rng.random() < 0.1
    events = rng.sample(EVENTS, rng.choice([1, 1, 1, 2, 3]))
    trace_ok = not nocallchain and rng.random() < 0.1
    mixed = not nocallchain and not unindented and rng.random() < 0.15  # some headers indented, frame on the line
    comms = rng.sample(COMMS, rng.randint(1, 3))
    syms = rng.sample(SYMS, rng.randint(2, len(SYMS)))
    samples: List[GenSample] = []
    for _ in range(rng.randint(1, 25)):
        comm = rng.choice(comms)
        tid = rng.randint(1, 99999)
        ids = rng.choice([f"{tid}", f"{rng.randint(1, 99999)}/{tid}", f"{tid}/{tid}", "0/0" if comm == "swapper" else f"{tid}"])
        if comm == ":-1":
            ids = rng.choice(["-1", "-1/-1"])
        period = rng.choice([None, 1, 1, rng.randint(1, 10**6), rng.randint(1, 10**12), 0, 2**40 + 7])
        ev = rng.choice(events)
        trace = trace_ok and rng.random() < 0.3
        if trace:
            ev, period = "sched:sched_switch", None
        frames = []
        depth = 1 if nocallchain else rng.randint(0, 8)
        for _ in range(depth):
            r = rng.random()
            addr = "%x" % rng.choice([rng.randrange(1 << 12, 1 << 48), 0xFFFFFFFF81000000 + rng.randrange(1 << 20)])
            if r < 0.12:
                f = GenFrame(addr, "[unknown]", rng.choice(["[unknown]", rng.choice(USER_MODS)]), None)
            elif r < 0.35:
                f = GenFrame(addr, rng.choice(KSYMS) + rng.choice(["", "+0x1a", "+0x0"]), rng.choice(KERNEL_MODS), None)
            else:
                f = GenFrame(addr, rng.choice(syms) + rng.choice(["", "+0x1f", "+0xabc"]), rng.choice(USER_MODS), None)
            if srcline and not (f.sym == "[unknown]" and f.module == "[unknown]"):
                f.src = rng.choice([f"  file{rng.randint(1, 3)}.c:{rng.randint(1, 99)}", "  libfoo.so[1f2e]", "  ??:0", "  [kernel.kallsyms][ffff]"])
            frames.append(f)
        samples.append(GenSample(comm, ids, period, ev, frames, trace))
    # render
    out: List[str] = []
    for idx, s in enumerate(samples):
        time = f"{rng.randint(1, 9999999)}.{rng.randint(0, 999999):06d}:"
        cpu = rng.choice(["", f" [{rng.randint(0, 63):03d}]"])
        comm = s.comm
        if nocallchain and rng.random() < 0.7:
            comm = " " * rng.randint(1, 12) + comm  # right-aligned, as perf prints it without -g
        per = "" if s.period is None else f" {' ' * rng.randint(0, 8)}{s.period}"
        if s.trace:
            head = f"{comm} {s.ids}{cpu} {time} {s.event}: prev_comm=a prev_pid=1 prev_prio=120 ==> next_comm=b next_pid=2"
        else:
            head = f"{comm}{' ' * rng.randint(1, 3)}{s.ids}{cpu} {time}{per} {s.event}:" + rng.choice(["", " ", "  "])
        frames = list(s.frames)
        if mixed and frames and not s.trace and rng.random() < 0.4:
            if out and out[-1] == "" and rng.random() < 0.7:
                out.pop()  # right after the frames of the sample before
            comm = " " * rng.randint(1, 12) + comm
            head = f"{comm} {s.ids}{cpu} {time}{per} {s.event}:"
            f = frames.pop(0)
            head = head + "  " + f"{f.addr} {f.sym} ({f.module})"
            lines = [head] + ([f.src] if f.src is not None else [])
        elif nocallchain and frames:
            f = frames.pop(0)
            head = head.rstrip() + "  " + f"{f.addr} {f.sym} ({f.module})"
            lines = [head] + ([f.src] if f.src is not None else [])
        else:
            lines = [head]
        for f in frames:
            lines.append(_render_frame(rng, f, unindented))
            if f.src is not None:
                lines.append(f.src)
        out.extend(lines)
        last = idx == len(samples) - 1
        if blank == "always" or (blank == "sometimes" and rng.random() < 0.5) or (last and rng.random() < 0.5):
            if not nocallchain:
                out.append("")
    text = "\n".join(out) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    # the expected profile
    event_filter = None
    if rng.random() < 0.15:
        event_filter = rng.choice([s.event for s in samples])
        if rng.random() < 0.5:
            event_filter = event_base(event_filter)
        opts["event_filter"] = event_filter
    kept = event_filter if event_filter is not None else samples[0].event
    stacks: Dict[str, int] = {}
    dropped = 0
    for s in samples:
        w = 1 if not s.period else s.period
        if not keeps(s.event, kept, event_filter is not None):
            dropped += w
            continue
        stack = ";".join([_pname(s, opts)] + [_frame_name(f, opts) for f in reversed(s.frames)])
        stacks[stack] = stacks.get(stack, 0) + w
    exp = Expect(sum(stacks.values()), stacks, kept, dropped, filtered=dropped > 0 and event_filter is None)
    return text.encode("utf-8"), opts, exp


# ---------------------------------------------------------------------------------------------
# valid folded files


FRAMES = ["main", "a", "b", "c", "java/lang/Thread.run", "std::vector<int>::at", "[unknown]", "do_syscall_64_[k]",
          "<script>alert(1)</script>", '"><g onload=alert(1)>', "]]>", "&amp;", "a b c", "\u00e9t\u00e9", "\u6f22\u5b57",
          "{{x}}", "x' onmouseover='alert(1)", "0x7f00ab", "--", "/*", "\\", "%s%n"]


def gen_folded(rng: random.Random, huge: bool = False) -> Tuple[bytes, Expect]:
    """Valid folded text: `frame;frame count` lines (in any order, repeated stacks summed)."""
    frames = rng.sample(FRAMES, rng.randint(2, len(FRAMES)))
    stacks: Dict[str, int] = {}
    lines = []
    graph_total = 0
    for _ in range(rng.randint(1, 40)):
        st = ";".join(rng.choice(frames) for _ in range(rng.randint(1, 7)))
        if huge:
            c = rng.choice([2**53 - 1, 2**53, 2**53 + 1, 2**52 + 3, 1, 3, 2**60 + 1])
        else:
            c = rng.choice([1, 1, 2, 3, rng.randint(1, 1000), rng.randint(1, 10**9)])
        suffix = rng.choice(["", "", ".0", ".", " ", "\t"] if not huge else [""])
        lines.append(f"{st} {c}{suffix}")
        graph_total += c
        stacks[st] = stacks.get(st, 0) + c
    extra = []
    for l in lines:
        if rng.random() < 0.05:
            extra.append(rng.choice(["", "# a comment", "#"]))
        extra.append(l)
    text = "\n".join(extra) + rng.choice(["\n", "", "\n\n"])
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8"), Expect(sum(stacks.values()), stacks, graph_total=graph_total)


@dataclass
class DiffExpect:
    before: Dict[str, int] = field(default_factory=dict)
    after: Dict[str, int] = field(default_factory=dict)
