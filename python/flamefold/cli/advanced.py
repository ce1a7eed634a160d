"""``flamefold offcpu | hotcold | wakeup | cpi | doctor``: the talk's advanced flame graphs of a
`perf script` capture, and the stack doctor (``flamefold.transforms``)."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import _flamefold
from .._flamefold import ParseError
from .._io import write_atomic
from ..transforms import RECORD, graph_defaults, graph_source, missing_events
from .common import STDIN, Fail, ProgressBar, add_options, escape, from_args, os_fail, run, say, stdin_source, write_stdout

GRAPHS = {
    "offcpu": (
        "off-CPU time flame graph (sched_switch): where threads block, in microseconds",
        "Draw where threads wait off-CPU: each sched:sched_switch sample is the stack of the "
        "thread switched out, weighed by the time until that thread is switched back in "
        "(microseconds; nanoseconds summed per stack when perf printed them, then floored). The "
        "idle task is left out; intervals still open when the capture ends count nothing (a note "
        "says how many).",
    ),
    "hotcold": (
        "hot/cold flame graph (cpu-clock + sched_switch): on-CPU and off-CPU time in one",
        "Draw on-CPU and off-CPU time of one capture in one graph, in microseconds: each on-CPU "
        "sample (cpu-clock) weighs its period, each off-CPU interval its length (as offcpu). "
        "Off-CPU frames are marked _[o] and drawn blue (the hotcold palette), on-CPU frames in "
        "hot colours; the total is on-CPU plus off-CPU time.",
    ),
    "wakeup": (
        "off-wake (or --chain) flame graph (sched_switch + sched_wakeup): who woke the blocked",
        "Draw why threads waited: each blocked stack (as offcpu), a -- frame, then the stack of "
        "the thread that woke it (reversed: its leaf next to the --), weighed by the "
        "microseconds from the switch-out to the wakeup. --chain follows the waker's own "
        "waker, and so on (a chain graph).",
    ),
    "cpi": (
        "CPI flame graph (cycles + instructions): widths by cycles, colour by cycles per instruction",
        "Draw cycles per stack (the widths) coloured by cycles per instruction: red where a "
        "stack ran more instructions than cycles (CPI < 1, instruction-heavy), blue where it "
        "spent more cycles (CPI > 1, stalled on memory or the like), white where they are "
        "even. The sample periods of both events are summed per stack; a differential graph "
        "(two counts a line with --folded: STACK INSTRUCTIONS CYCLES).",
    ),
}

STACK_FLAGS = ("pid", "tid", "kernel", "jit", "all", "addrs")


def _states(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z]+(?:[,|][A-Za-z]+)*", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not prev_state letters such as S,D")
    return text.strip()


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _stack_flags(p: argparse.ArgumentParser) -> None:
    """The collapse options that name the stacks (their help from ``CollapseOptions``)."""
    from dataclasses import fields

    from ..options import CollapseOptions

    g = p.add_argument_group("stack names (as flamefold collapse names them)")
    for f in fields(CollapseOptions):
        if f.name in STACK_FLAGS:
            g.add_argument(f"--{f.name}", f"-{f.name}", dest=f.name, action="store_true", help=f.metadata["help"])


def _epilog(kind: str) -> str:
    record = RECORD[kind]
    cmd = {"wakeup": "wakeup --chain --depth 3", "doctor": "doctor"}.get(kind, kind)
    out = "out.txt" if kind == "doctor" else "out.svg"
    redirect = "" if kind == "doctor" else " -o " + out
    return f"record and draw:\n  {record}\n  perf script > capture.txt\n  flamefold {cmd} capture.txt{redirect}"


def add_parser(subparsers: Any) -> None:
    """Adds ``offcpu``, ``hotcold``, ``wakeup``, ``cpi`` and ``doctor`` to ``flamefold``."""
    from ..options import GraphOptions

    for kind, (summary, description) in GRAPHS.items():
        p = subparsers.add_parser(kind, help=summary, description=textwrap.fill(description, 90), epilog=_epilog(kind), formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("capture", metavar="CAPTURE", help="`perf script` output (gzip/zstd too); -: standard input")
        p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output (a file is replaced whole, never half-written)")
        p.add_argument("--folded", action="store_true", help="write the folded stacks instead of the graph")
        g = p.add_argument_group(f"{kind} options")
        if kind != "cpi":
            g.add_argument("--state", metavar="S,D", type=_states, help="only switch-outs in these prev_state letters (S sleeping, D uninterruptible, R preempted, ...)")
            g.add_argument("--min-us", metavar="N", type=_count, default=0, help="leave out blocked intervals shorter than N microseconds")
        if kind == "hotcold":
            g.add_argument("--on-event", metavar="EVENT", default="cpu-clock", help="the on-CPU event; its period must be nanoseconds (default cpu-clock; or task-clock)")
        if kind == "wakeup":
            g.add_argument("--chain", action="store_true", help="a chain graph: follow wakers of wakers (--depth segments)")
            g.add_argument("--depth", metavar="N", type=_count, help="waker stacks per stack (default 1; 4 with --chain)")
        if kind == "cpi":
            g.add_argument("--cycles-event", metavar="EVENT", default="cycles", help="the cycles event (default cycles; cpu-cycles too)")
            g.add_argument("--instructions-event", metavar="EVENT", default="instructions", help="the instructions event (default instructions)")
        _stack_flags(p)
        d = graph_defaults(kind, 2 if kind == "wakeup" else 1)
        helps = {"title": f'title (default "{graph_defaults(kind)["title"]}"' + ('; "Chain Graph" with --chain' if kind == "wakeup" else "") + ")"}
        if kind == "cpi":
            helps["negate"] = "swap red and blue: red where cycles outnumber instructions"
            helps["countname"] = 'what the counts are, in tooltips (default "cycles")'
        else:
            helps["countname"] = 'what the counts are, in tooltips (default "us": microseconds)'
            first = graph_defaults(kind)["colors"]
            helps["colors"] = f"palette (default {first}" + (f", {d['colors']} with --chain" if kind == "wakeup" else "") + "; any of flamefold graph's, or hotcold)"
        add_options(p, GraphOptions, perl_aliases=True, help=helps)
        p.add_argument("-q", "--quiet", action="store_true", help="no warnings, notes or progress bar")
        p.set_defaults(colors=None, countname=None, command_parser=p, command_run=_run_graph, kind=kind)

    p = subparsers.add_parser(
        "doctor", help="what is broken in a capture's stacks and symbols, and the fix for each",
        description=textwrap.fill(
            "Examine a capture's stacks: [unknown] frames by module, DSOs without symbols, JIT "
            "frames without a perf map, stacks that stop short of a thread root (broken frame-pointer "
            "walks), stacks at the kernel.perf_event_max_stack limit; each finding with its fix.", 90),
        epilog=_epilog("doctor"), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", metavar="CAPTURE", help="`perf script` output (gzip/zstd too); -: standard input")
    p.add_argument("--max-stack", metavar="N", type=_count, default=127, help="the kernel.perf_event_max_stack the capture was recorded with (default 127)")
    p.add_argument("--event", metavar="EVENT", help="only the samples of EVENT (default: every event)")
    p.add_argument("--top", metavar="N", type=_count, default=10, help="rows per table (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings and no progress bar")
    p.set_defaults(command_parser=p, command_run=_run_doctor, kind="doctor")


def _source(capture: str) -> Tuple[Any, str]:
    return (stdin_source(), "<stdin>") if capture == STDIN else (capture, capture)


def _read(label: str, quiet: bool, call: Callable[[Any], Any]) -> Any:
    """Runs the core on the capture with a progress bar on a terminal; errors name the file."""
    bar = ProgressBar(label) if sys.stderr.isatty() and not quiet else None
    try:
        return call(bar)
    except ParseError as e:
        raise Fail(f"{label}: {e}") from None
    except OSError as e:
        raise os_fail(e, label) from None
    finally:
        if bar is not None:
            bar.close()


def _warnings(prog: str, label: str, items: List[Tuple[int, str]]) -> None:
    """The core's warnings, one line per message (its first line, and how many more say the
    same), then its notes (line 0)."""
    lines: Dict[str, List[int]] = {}
    for line, msg in items:
        if line:
            lines.setdefault(msg, []).append(line)
    for msg, at in lines.items():
        more = f" (and {len(at) - 1} more lines like it)" if len(at) > 1 else ""
        say(prog, "warning", f"{label}: line {at[0]}: {msg}{more}")
    for line, msg in items:
        if not line:
            say(prog, "note", msg)


#: Summary counts worth a note when not zero: (key, text with {n}).
NOTES = (
    ("state_filtered", "{n} switch-outs in other states left out (--state)"),
    ("below_min_us", "{n} intervals shorter than --min-us left out"),
    ("reopened", "{n} switch-outs of a thread already off-CPU (its switch-in unrecorded): the earlier interval counted nothing"),
    ("no_waker", "{n} blocked intervals ended with no wakeup seen (preempted, or the waker unrecorded): they count nothing"),
    ("under_1us_stacks", "{n} stacks under 1 us in total left out"),
)


def _summary_line(kind: str, s: Dict[str, int]) -> str:
    if kind == "cpi":
        cpi = s["cycles"] / s["instructions"] if s.get("instructions") else float("nan")
        return f"{s['cycles']:,} cycles, {s['instructions']:,} instructions: CPI {cpi:.2f}"
    if kind == "hotcold":
        return f"{s['on_us']:,} us on-CPU + {s['off_us']:,} us off-CPU = {s['total_us']:,} us"
    if kind == "wakeup":
        return f"{s['woken_blocked']:,} wakeups of blocked threads: {s['total_us']:,} us"
    return f"{s['intervals']:,} off-CPU intervals: {s['total_us']:,} us"


def _run_graph(args: argparse.Namespace) -> int:
    from ..options import GraphOptions

    p: argparse.ArgumentParser = args.command_parser
    kind: str = args.kind
    prog = f"flamefold {kind}"
    depth = 1
    if kind == "wakeup":
        if args.depth is not None and args.depth < 1:
            p.error("--depth must be at least 1")
        if args.depth is not None and args.depth > 1 and not args.chain:
            p.error("--depth goes with --chain")
        depth = (args.depth or 4) if args.chain else 1
    defaults = graph_defaults(kind, depth)
    for name in ("colors", "countname"):
        if getattr(args, name) is None:
            setattr(args, name, defaults.get(name, "hot" if name == "colors" else "samples"))
    if kind == "cpi":
        args.negate = not args.negate
        if not args.subtitle:
            args.subtitle = defaults["subtitle"]
    try:
        o = from_args(GraphOptions, args).check(defaults["title"])
    except ValueError as e:
        p.error(str(e))
    kw: Dict[str, Any] = {f: getattr(args, f) for f in ("pid", "tid", "kernel", "jit", "addrs")}
    kw["kernel"] |= args.all
    kw["jit"] |= args.all
    if kind != "cpi":
        kw.update(states=args.state, min_us=args.min_us)
    if kind == "hotcold":
        kw["on_event"] = args.on_event
    if kind == "wakeup":
        kw["depth"] = depth
    if kind == "cpi":
        kw.update(cycles_event=args.cycles_event, instructions_event=args.instructions_event, columns="instructions-cycles")

    def body() -> int:
        src, label = _source(args.capture)
        t = _read(label, args.quiet, lambda bar: _flamefold.transform(kind, src, progress=bar, **kw))
        why = missing_events(t)
        if why is not None:
            raise Fail(f"{label}: {why}")
        if not args.quiet:
            _warnings(prog, label, t.warnings)
            s = t.summary
            for key, text in NOTES:
                if s.get(key):
                    say(prog, "note", text.format(n=f"{s[key]:,}"))
            say(prog, "note", _summary_line(kind, s))
        empty = False
        if args.folded:
            data: bytes = t.folded
        else:
            from ..graph import draw, encode

            drawn = draw(graph_source(t, o.colors), o)
            empty = drawn.empty
            if not args.quiet or drawn.empty:
                for _, line, msg in drawn.warnings:
                    say(prog, "error" if drawn.empty else "warning", f"line {line}: {msg}" if line else msg)
            data = encode(drawn.svg, o.encoding)
        status = _write(args.output, data)
        return 2 if empty and status == 0 else status

    return run(prog, body)


def _write(output: Optional[str], data: bytes) -> int:
    if output and output != "-":
        try:
            write_atomic(output, data)
        except OSError as e:
            raise os_fail(e, output) from None
        return 0
    return write_stdout(data)


def report_text(text: str, width: int = 100) -> str:
    """The doctor's report for a terminal: every line escaped, a blank line before each
    finding (a paragraph each), findings and fixes wrapped under their indent."""
    out: List[str] = []
    for line in text.splitlines():
        if line.startswith("- ") and out and out[-1] != "findings:":
            out.append("")
        if line.startswith("- ") or line.startswith("  fix: "):
            indent = "       " if line.startswith("  fix: ") else "  "
            out.extend(textwrap.wrap(escape(line), width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False))
        else:
            out.append(escape(line))
    return "\n".join(out) + "\n"


def _run_doctor(args: argparse.Namespace) -> int:
    p: argparse.ArgumentParser = args.command_parser
    if args.max_stack < 1:
        p.error("--max-stack must be at least 1")
    prog = "flamefold doctor"

    def body() -> int:
        src, label = _source(args.capture)
        r = _read(label, args.quiet, lambda bar: _flamefold.doctor(src, max_stack=args.max_stack, event=args.event, progress=bar))
        if r.samples == 0:
            what = f"no {args.event} samples" if args.event else "no samples"
            raise Fail(f"{label}: {what} (is it `perf script` output? record with: {RECORD['doctor']})")
        if not args.quiet:
            _warnings(prog, label, r.warnings)
        return write_stdout(report_text(r.render(args.top)).encode("utf-8", "surrogateescape"))

    return run(prog, body)


__all__ = ["GRAPHS", "add_parser", "report_text"]
