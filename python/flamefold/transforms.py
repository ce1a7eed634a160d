"""The advanced flame graphs of `perf script` captures: off-CPU time, hot/cold, off-wake and
chain graphs, CPI, and the stack doctor.

Each reads the capture once, in the Rust core (``src/transform``), with the GIL released; the
stacks are named as :func:`flamefold.collapse_perf` names them (``pid``, ``tid``, ``kernel``,
``jit``, ``addrs`` mean the same). Lines that cannot be used, and notes about the whole capture
(intervals still open at its end, ...), are reported as :class:`flamefold.ParseWarning`.

=========  =================================================================  ==============
graph      perf record                                                        counts
=========  =================================================================  ==============
offcpu     ``-e sched:sched_switch -a -g``                                    µs blocked
hotcold    ``-e cpu-clock -F 999 -e sched:sched_switch -a -g``                µs on + off CPU
wakeup     ``-e sched:sched_switch -e sched:sched_wakeup -a -g``              µs until woken
cpi        ``-e cycles -e instructions -a -g``                                cycles, instr.
doctor     any                                                                a report
=========  =================================================================  ==============
"""

from __future__ import annotations

import warnings

from . import _flamefold
from ._api import ParseWarning
from ._flamefold import Diff, DoctorReport, Profile, Transformed

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import IO, Any, Callable, Dict, Iterable, Optional, Union

    from ._api import Source

    Progress = Optional[Callable[[int, Optional[int]], object]]

__all__ = [
    "CHAIN_DEPTH", "RECORD", "DoctorReport", "Transformed", "cpi", "doctor", "flamegraph", "graph_defaults",
    "graph_source", "hotcold", "missing_events", "offcpu", "transform", "wakeup",
]

#: The `perf record` line that feeds each graph (``-a`` system-wide; or ``-p PID``, ``-- CMD``).
RECORD = {
    "offcpu": "perf record -e sched:sched_switch -a -g -- sleep 10",
    "hotcold": "perf record -e cpu-clock -F 999 -e sched:sched_switch -a -g -- sleep 10",
    "wakeup": "perf record -e sched:sched_switch -e sched:sched_wakeup -a -g -- sleep 10",
    "cpi": "perf record -e cycles -e instructions -a -g -- sleep 10",
    "doctor": "perf record -F 99 -a -g -- sleep 10",
}

#: Waker segments of a chain graph (``wakeup(chain=True)``) unless ``depth`` is given.
CHAIN_DEPTH = 4


def _warn(items: "Iterable[tuple[int, str]]", stacklevel: int) -> None:
    for line, msg in items:
        warnings.warn(f"line {line}: {msg}" if line else msg, ParseWarning, stacklevel=stacklevel + 1)


def _states(states: "Union[None, str, Iterable[str]]") -> Optional[str]:
    if states is None or isinstance(states, str):
        return states
    return ",".join(states)


def missing_events(t: Transformed) -> Optional[str]:
    """Why the capture cannot give ``t``'s graph at all (it lacks the events), with the
    `perf record` line that records them; None when it has them."""
    s = t.summary
    record = RECORD[t.kind]
    if t.kind in ("offcpu", "hotcold", "wakeup") and s.get("switches") == 0:
        return f"no sched:sched_switch samples (record them: {record})"
    if t.kind == "wakeup" and s.get("wakeups") == 0:
        return f"no sched:sched_wakeup samples (record them with the switches: {record})"
    if t.kind == "cpi" and (s.get("cycles_samples") == 0 or s.get("instructions_samples") == 0):
        lacking = " and ".join(e for e, k in (("cycles", "cycles_samples"), ("instructions", "instructions_samples")) if s.get(k) == 0)
        return f"no {lacking} samples (record both: {record})"
    return None


def transform(
    kind: str,
    source: Source,
    *,
    states: "Union[None, str, Iterable[str]]" = None,
    min_us: int = 0,
    depth: int = 1,
    on_event: str = "cpu-clock",
    cycles_event: str = "cycles",
    instructions_event: str = "instructions",
    columns: str = "cycles-instructions",
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Progress = None,
) -> Transformed:
    """Runs one transform (``offcpu``, ``hotcold``, ``wakeup`` or ``cpi``) and gives all it
    found: ``.folded`` (the bytes, sorted), ``.summary`` (a dict of counts: ``total_us``,
    ``intervals``, ``unclosed``, ...; see the functions), ``.warnings``, ``.profile()``,
    ``.columns()`` (CPI). The warnings are also raised as ParseWarnings, with a note when the
    capture lacks the events the graph needs (:func:`missing_events`).

    ``source``: a path, bytes or a binary file object, gzip/zstd too. ``progress(bytes_done,
    total_or_None)`` is called as the input is read. The options a kind does not take must
    stay at their defaults (ValueError).
    """
    return _run(kind, source, 3, states=states, min_us=min_us, depth=depth, on_event=on_event, cycles_event=cycles_event,
                instructions_event=instructions_event, columns=columns, pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs,
                progress=progress)


def _run(kind: str, source: Source, level: int, states: "Union[None, str, Iterable[str]]" = None, **kw: Any) -> Transformed:
    """:func:`transform`, its warnings attributed ``level`` frames up."""
    t = _flamefold.transform(kind, source, states=_states(states), **kw)
    _warn(t.warnings, level)
    why = missing_events(t)
    if why is not None and "sched_switch" in why:  # the core's own notes cover the others
        _warn([(0, why)], level)
    return t


def offcpu(
    source: Source,
    *,
    states: "Union[None, str, Iterable[str]]" = None,
    min_us: int = 0,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Progress = None,
) -> Profile:
    """Off-CPU time per blocked stack, in microseconds, from ``perf record -e
    sched:sched_switch -a -g``: each switch-out's stack weighs the time until its thread is
    switched back in (exact nanoseconds summed per stack, floored to µs). ``states``: only
    switch-outs in these ``prev_state`` letters (``"S,D"``: sleeping and uninterruptible;
    ``R`` is preemption); ``min_us``: leave out shorter intervals. Idle (pid 0) is left out;
    intervals still open at the end count nothing (a ParseWarning says how many). Draw it with
    :func:`flamegraph` (``--colors io``, ``us``). :func:`transform` gives the summary too."""
    return _run("offcpu", source, 3, states=states, min_us=min_us, pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs, progress=progress).profile()


def hotcold(
    source: Source,
    *,
    states: "Union[None, str, Iterable[str]]" = None,
    min_us: int = 0,
    on_event: str = "cpu-clock",
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Progress = None,
) -> Profile:
    """On-CPU and off-CPU time in one profile, in microseconds, from ``perf record -e cpu-clock
    -F 999 -e sched:sched_switch -a -g``: ``on_event`` samples weigh their period (ns), the
    off-CPU intervals as :func:`offcpu` (``states``, ``min_us``: theirs). Off-CPU frames end in
    ``_[o]`` (all but the process name), which the ``hotcold`` palette draws blue; the total is
    on-CPU µs plus off-CPU µs."""
    return _run(
        "hotcold", source, 3, states=states, min_us=min_us, on_event=on_event, pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs,
        progress=progress,
    ).profile()


def wakeup(
    source: Source,
    *,
    chain: bool = False,
    depth: Optional[int] = None,
    states: "Union[None, str, Iterable[str]]" = None,
    min_us: int = 0,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Progress = None,
) -> Profile:
    """The off-wake graph, from ``perf record -e sched:sched_switch -e sched:sched_wakeup -a
    -g``: per blocked stack, a ``--`` frame and the stack of the thread that woke it (reversed:
    its leaf next to the separator; frames end in ``_[w]``), weighed by the µs from the
    switch-out to the wakeup. ``chain=True`` (or ``depth`` > 1) follows the waker's own waker,
    up to ``depth`` segments (default :data:`CHAIN_DEPTH`): a chain graph. Draw it with
    :func:`flamegraph` (the ``wakeup`` or ``chain`` palette)."""
    d = depth if depth is not None else (CHAIN_DEPTH if chain else 1)
    return _run("wakeup", source, 3, depth=d, states=states, min_us=min_us, pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs, progress=progress).profile()


def cpi(
    source: Source,
    *,
    cycles_event: str = "cycles",
    instructions_event: str = "instructions",
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Progress = None,
) -> Diff:
    """Cycles and instructions per stack, from ``perf record -e cycles -e instructions -a -g``
    (sample periods summed), as a :class:`flamefold.Diff` whose before side is instructions
    and after side cycles: ``flamefold.flamegraph(d, negate=True)`` (or :func:`flamegraph`)
    draws widths by cycles, red where instructions outnumber cycles (CPI < 1) and blue where
    cycles do (CPI > 1, stalls). ``d.items()`` gives ``(stack, instructions, cycles)``."""
    t = _run(
        "cpi", source, 3, cycles_event=cycles_event, instructions_event=instructions_event, columns="instructions-cycles",
        pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs, progress=progress,
    )
    instructions, cycles = t.columns()
    return _flamefold.diff(instructions, cycles)


def doctor(source: Source, *, max_stack: int = 127, event: Optional[str] = None, progress: Progress = None) -> DoctorReport:
    """The stack doctor: what is broken in a capture's stacks and symbols, each with the fix
    (``.findings``: ``(kind, samples, what, fix)``; ``.text`` / ``.render(top)``: the report).
    ``max_stack``: ``kernel.perf_event_max_stack`` when recorded; ``event``: only its samples."""
    r = _flamefold.doctor(source, max_stack=max_stack, event=event, progress=progress)
    _warn(r.warnings, 2)
    return r


_TITLES = {"offcpu": "Off-CPU Time Flame Graph", "hotcold": "Hot/Cold Flame Graph", "wakeup": "Off-Wake Time Flame Graph", "cpi": "CPI Flame Graph"}

#: The subtitle of a CPI graph, which reads as no other differential graph does.
CPI_SUBTITLE = "widths: cycles; red: more instructions than cycles (CPI < 1), blue: more cycles (CPI > 1); tooltips' \"after\": instructions"


def graph_defaults(kind: str, depth: int = 1) -> Dict[str, Any]:
    """flamegraph options that draw ``kind`` as the talk draws it (the user's options win)."""
    if kind == "cpi":
        return dict(title=_TITLES[kind], countname="cycles", negate=True, subtitle=CPI_SUBTITLE)
    if kind == "wakeup":
        return dict(title="Chain Graph" if depth > 1 else _TITLES[kind], colors="chain" if depth > 1 else "wakeup", countname="us")
    return dict(title=_TITLES[kind], colors="io" if kind == "offcpu" else "hotcold", countname="us")


_WAKER = rb"_\[w\](?=;| [0-9]+$)"  # compiled where used: `re` costs the collapse commands start-up time


def graph_source(t: Transformed, colors: str) -> Union[Profile, Diff, bytes]:
    """What :func:`flamefold.flamegraph` draws for ``t``: its Profile; CPI's Diff; under the
    ``chain`` palette, the folded text without the ``_[w]`` marks (the graph's chain rewrite
    adds them to every frame after the first ``--``: kept, they would show twice)."""
    if t.two_counts:
        instructions, cycles = t.columns()
        return _flamefold.diff(instructions, cycles) if t.kind == "cpi" else t.folded
    if colors == "chain":
        import re

        return re.sub(_WAKER, b"", t.folded, flags=re.M)
    return t.profile()


def flamegraph(t: Transformed, dest: "Union[str, os.PathLike[str], IO[str], IO[bytes], None]" = None, **options: Any) -> str:
    """Draws a :func:`transform` result with :func:`graph_defaults` (overridden by
    ``options``, :func:`flamefold.flamegraph`'s keywords); returns the SVG text."""
    from .graph import flamegraph as draw

    kw = dict(graph_defaults(t.kind, t.depth), **options)
    return draw(graph_source(t, kw.get("colors", "hot")), dest, **kw)
