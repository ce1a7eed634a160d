"""Recipes: the palette, count name and title a flame graph of a memory, I/O or network event
gets from the event itself (the talk's "other targets"), and ``--weight bytes`` for the events
whose trace data holds a size.

==========================================  ======  =================  ====================================
event (as ``perf script`` prints it)        colors  countname          title
==========================================  ======  =================  ====================================
``page-faults``, ``faults``,                mem     pages              Page Fault Flame Graph
``major-faults``, ``minor-faults``
``block:*`` (``block:block_rq_insert``)     io      I/O requests       Block I/O Flame Graph
                                                    (bytes: bytes)
``syscalls:sys_enter_mmap``/``munmap``/     mem     calls              Memory (mmap/brk) Flame Graph
``mremap``/``brk``                                  (bytes: bytes;
                                                    brk has no size)
``kmem:kmalloc``, ``kmem:kmem_cache_alloc``  mem     allocations        Kernel Memory Allocation Flame Graph
``kmem:mm_page_alloc``                              (bytes: bytes)
``tcp:*``, ``sock:*``                       io      events             TCP Flame Graph
                                                    (bytes: bytes for
                                                    sock_send_length,
                                                    sock_recv_length,
                                                    tcp_probe)
``sched:sched_switch``                      —       —                  — (a note: ``flamefold offcpu``)
anything else (cpu-clock, cycles, ...)      hot     samples            Flame Graph (unchanged)
==========================================  ======  =================  ====================================

A recipe only fills in what the user left unset (``--colors``, ``--countname``, ``--title``);
CPU captures get no recipe, so their graphs are byte for byte what they were.
"""

from __future__ import annotations

import io
import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: `flamefold graph` imports this module
    from typing import IO, Any, Dict, NamedTuple, Optional, Tuple, Union

__all__ = ["RECORD", "Recipe", "event_base", "flamegraph", "recipe_for", "sized", "sniff_event", "weighted"]

#: The `perf record` line that feeds each recipe.
RECORD = {
    "page-faults": "perf record -e page-faults -a -g -- sleep 10",
    "block": "perf record -e block:block_rq_insert -a -g -- sleep 10",
    "mmap": "perf record -e syscalls:sys_enter_mmap -e syscalls:sys_enter_brk -a -g -- sleep 10",
    "kmalloc": "perf record -e kmem:kmalloc -a -g -- sleep 10",
    "tcp": "perf record -e sock:sock_send_length -a -g -- sleep 10",
}


_RECIPE_DOC = """What a graph of one event gets: ``colors``, ``countname`` and ``title`` (None: left as
is) and a ``note`` for the user (None: none)."""

if TYPE_CHECKING:

    class Recipe(NamedTuple):
        name: str
        colors: Optional[str]
        countname: Optional[str]
        title: Optional[str]
        note: Optional[str] = None

else:
    import collections

    Recipe = collections.namedtuple("Recipe", ["name", "colors", "countname", "title", "note"], defaults=(None,))
    Recipe.__doc__ = _RECIPE_DOC
    Recipe.__module__ = __name__


_MODIFIERS = set("ukhIGHppPSDWe")


def event_base(event: str) -> str:
    """``cycles:u`` -> ``cycles``, ``page-faults:ppp`` -> ``page-faults``; a tracepoint
    (``block:block_rq_insert``) stays whole (as the core's ``event_base``)."""
    while True:
        i = event.rfind(":")
        if i > 0 and all(c in _MODIFIERS for c in event[i + 1:]):
            event = event[:i]
            continue
        return event


_FAULTS = {"page-faults", "faults", "major-faults", "minor-faults"}
_MMAP = {"syscalls:sys_enter_mmap", "syscalls:sys_enter_munmap", "syscalls:sys_enter_mremap", "syscalls:sys_enter_brk"}
_KMEM = {"kmem:kmalloc", "kmem:kmalloc_node", "kmem:kmem_cache_alloc", "kmem:kmem_cache_alloc_node", "kmem:__kmalloc", "kmem:mm_page_alloc"}
_NET_SIZED = {"sock:sock_send_length", "sock:sock_recv_length", "tcp:tcp_probe"}


def sized(event: str) -> bool:
    """Whether ``--weight bytes`` reads a size from this event's trace data (else each sample
    counts 1). Mirrors the core's rules (``src/transform/weighted.rs``) for the recipe events."""
    e = event_base(event)
    if e.startswith("block:") or e.startswith("net:") or e in _KMEM or e in _NET_SIZED:
        return True
    return e in _MMAP and e != "syscalls:sys_enter_brk"


def recipe_for(event: Optional[str], weight: str = "count") -> Optional[Recipe]:
    """The recipe of an event (``Profile.event``, or as ``perf script`` prints it), or None
    (CPU and other events: flamegraph.pl's defaults). ``weight``: ``"bytes"`` makes the count
    name ``bytes`` for the events that have a size."""
    if not event:
        return None
    e = event_base(event)
    b = weight == "bytes" and sized(e)
    if e in _FAULTS:
        return Recipe("page-faults", "mem", "pages", "Page Fault Flame Graph")
    if e.startswith("block:"):
        return Recipe("block", "io", "bytes" if b else "I/O requests", "Block I/O Flame Graph")
    if e in _MMAP:
        return Recipe("mmap", "mem", "bytes" if b else "calls", "Memory (mmap/brk) Flame Graph")
    if e in _KMEM:
        return Recipe("kmalloc", "mem", "bytes" if b else "allocations", "Kernel Memory Allocation Flame Graph")
    if e.startswith("tcp:") or e.startswith("sock:"):
        return Recipe("tcp", "io", "bytes" if b else "events", "TCP Flame Graph")
    if e == "sched:sched_switch":
        return Recipe(
            "sched_switch", None, None, None,
            "sched:sched_switch samples count context switches, not time blocked: `flamefold offcpu` draws the off-CPU time",
        )
    return None


# `comm pid/tid [cpu] secs.frac: [period] event: ...` (the cpu, time stamp and period optional):
# the event is the word ending in `:` after them
_HEADER = re.compile(rb"^\S.*?\s(?:-?\d+/)?-?\d+\s+(?:\[\d+\]\s+)?(?:\d+\.\d+:\s+)?(?:\d+\s+)?([^\s:]\S*?):(?:\s|$)", re.M)
_HEAD = 1 << 16


def _head_event(head: bytes) -> Optional[str]:
    for m in _HEADER.finditer(head):
        return m.group(1).decode("utf-8", "replace")
    return None


def _decoded_head(head: bytes, f: "IO[bytes]") -> Optional[bytes]:
    """The first bytes of text of a (maybe compressed) file ``f`` (at its start)."""
    if head.startswith(b"\x1f\x8b"):
        try:
            import gzip

            return gzip.GzipFile(fileobj=f).read(_HEAD)
        except (OSError, EOFError):
            return None
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            import zstandard  # type: ignore[import-not-found]

            return bytes(zstandard.ZstdDecompressor().stream_reader(f).read(_HEAD))
        except Exception:
            return None
    if head.startswith(b"PERFILE"):
        return None
    return head


def sniff_event(source: Any) -> Optional[str]:
    """The event of the first sample of a ``perf script`` capture (a path, bytes, or a Profile:
    its ``event``), read from its first 64 KiB; None for folded stacks, perf.data, streams."""
    if hasattr(source, "event") and not isinstance(source, (bytes, str)):
        return source.event  # type: ignore[no-any-return]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _head_event(bytes(source[:_HEAD]))
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                if not os.path.isfile(source):
                    return None
                head = f.read(_HEAD)
                f.seek(0)
                text = _decoded_head(head, f)
        except OSError:
            return None
        return _head_event(text) if text else None
    return None


class _Prefixed(io.RawIOBase):
    """A pipe whose first bytes were read to sniff its event: those bytes, then the rest."""

    name = "<stdin>"  # how the core names the input in its errors

    def __init__(self, head: bytes, fd: int) -> None:
        self.head, self.fd = head, fd

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = os.read(self.fd, len(b))
        b[: len(data)] = data
        return len(data)


def sniff_stream(fd: int = 0) -> Tuple[Optional[str], "IO[bytes]"]:
    """A pipe's event (its first 64 KiB read) and a stream that gives the whole input."""
    chunks, n = [], 0
    while n < _HEAD:
        d = os.read(fd, _HEAD - n)
        if not d:
            break
        chunks.append(d)
        n += len(d)
    head = b"".join(chunks)
    stream = io.BufferedReader(_Prefixed(head, fd), 1 << 20)
    text = head if not head.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PERFILE")) else b""
    return (_head_event(text) if text else None), stream


def weighted(source: Any, weight: str = "bytes", event: Optional[str] = None, **stack_options: Any) -> Any:
    """:func:`flamefold._flamefold.weighted`: folded stacks of one event (``event``, else the
    first) weighed by the size in their trace data (``weight="bytes"``) or 1 a sample
    (``"count"``), as a :class:`flamefold.Transformed` (``.profile()`` for a Profile); its
    warnings as :class:`flamefold.ParseWarning`. A sample of a sized event without its size
    counts 0 (the summary's ``unsized`` says how many); events without sizes
    (``sys_enter_brk``, ``page-faults``) count 1 a sample, with a warning."""
    from . import _flamefold
    from .transforms import _warn

    t = _flamefold.weighted(source, weight=weight, event=event, **stack_options)
    _warn(t.warnings, 2)
    return t


def apply(options: Dict[str, Any], recipe: Optional[Recipe]) -> Tuple[Dict[str, Any], bool]:
    """``options`` (flamefold.flamegraph's keywords) with the recipe filling in those left out
    (``colors``, ``countname``, ``title``); and whether it changed any."""
    if recipe is None:
        return options, False
    out = dict(options)
    changed = False
    for k in ("colors", "countname", "title"):
        v = getattr(recipe, k)
        if v is not None and out.get(k) is None:
            out[k] = v
            changed = True
    return out, changed


def flamegraph(
    source: Any, dest: "Union[str, os.PathLike[str], IO[str], IO[bytes], None]" = None, *, weight: str = "count", **options: Any
) -> str:
    """:func:`flamefold.flamegraph` with the event's recipe: the palette, count name and title
    not given in ``options`` come from the capture's event (:func:`recipe_for`); ``weight="bytes"``
    weighs each sample by the size in its trace data (:func:`weighted`). CPU captures and folded
    stacks are drawn exactly as :func:`flamefold.flamegraph` draws them."""
    from .graph import flamegraph as draw

    event = options.get("event_filter") or sniff_event(source)
    if weight not in ("count", "bytes"):
        raise ValueError(f'weight must be "count" or "bytes", not {weight!r}')
    if weight == "bytes":
        if event is None:
            raise ValueError("weight=\"bytes\" needs `perf script` text of a tracepoint capture")
        keep = {k: options.pop(k) for k in ("pid", "tid", "kernel", "jit", "addrs") if k in options}
        options.pop("event_filter", None)
        source = weighted(source, "bytes", event=event, **keep).profile()
    kw, _ = apply(options, recipe_for(event, weight))
    return draw(source, dest, **kw)
