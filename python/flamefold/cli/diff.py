"""``flamefold diff`` and the ``difffolded`` drop-in: two captures (perf script or folded) ->
a differential flame graph, the two-column folded diff, or a three-panel linked page."""

from __future__ import annotations

import argparse
import os
from typing import IO, Any, List, Optional, Sequence, Tuple, Union

from .._api import diff_sides
from .._flamefold import Diff, ParseError, Profile
from .._io import write_atomic
from ..options import CollapseOptions
from .parser import Parser
from .common import (
    STDIN, Fail, add_graph_options, add_scheduler_options, check_scheduler_args, collapse_on_cluster, entry,
    graph_args, os_fail, run, say, stdin_source, write_stdout,
)

PROG = "flamefold diff"
#: the title of the differential graph (``--title`` unset; the icicle and chart titles still apply)
DIFF_TITLE = "Differential Flame Graph"


def difffolded(argv: Optional[List[str]] = None) -> int:
    """The drop-in for difffolded.pl: `stack before after` for every stack of either input."""
    return entry("difffolded", lambda: _difffolded(argv))


def _difffolded(argv: Optional[List[str]]) -> int:
    p = Parser(
        prog="difffolded",
        description="Compare two profiles: print `stack count1 count2` for every stack found in "
        "either (0 where absent), sorted by stack, as difffolded.pl does. Inputs are folded "
        "stacks or `perf script` output (collapsed first), gzip/zstd too.",
        epilog="example: difffolded before.folded after.folded | flamefold graph > diff.svg",
    )
    p.add_argument("-n", "--normalize", action="store_true", help="scale BEFORE's counts to AFTER's total")
    p.add_argument("-s", "--strip-hex", action="store_true", help="turn hexadecimal addresses (0x1234) into 0x... before matching stacks")
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings")
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER")
    args = p.parse_args(argv)

    def body() -> int:
        d = _diff(p.prog, args.before, args.after, args.quiet, CollapseOptions(), normalize=args.normalize, strip_hex=args.strip_hex)
        return write_stdout(lambda out: d.to_folded(out))  # a megabyte at a time

    return run(p.prog, body)


def _src(name: Union[str, Profile]) -> Union[str, IO[bytes], Profile]:
    return stdin_source() if name == STDIN else name


def _diff(prog: str, before: Union[str, Profile], after: Union[str, Profile], quiet: bool, c: CollapseOptions, **kw: Any) -> Diff:
    """The diff of two named inputs, its warnings said under the input's name."""

    def warn(side: str, line: int, msg: str) -> None:
        if not quiet:
            where = f"line {line}: " if line else ""
            name = before if side == "before" else after
            say(prog, "warning", f"{name if isinstance(name, str) else side}: {where}{msg}")

    try:
        d = diff_sides(_src(before), _src(after), c, warn, **kw)
    except ParseError as e:
        raise Fail(str(e)) from None
    except OSError as e:
        raise os_fail(e) from None
    for line, msg in d.warnings:
        side, _, rest = msg.partition(": ")
        warn(side, line, rest)
    return d


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``diff`` command to ``flamefold``'s subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="two profiles -> differential flame graph (or --html: before/after/diff page)",
        description="Compare two profiles (folded stacks, or captures: perf script output, DTrace stacks, jstack dumps; gzip/zstd too) "
        "and draw the differential flame graph: widths from AFTER, red where AFTER grew, blue "
        "where it shrank; each tooltip gives the after count and the change. --negate draws the "
        "view with BEFORE's widths. --html writes one offline page with the BEFORE, AFTER and "
        "differential graphs, linked: zoom, search and hover follow across them.",
        epilog="examples:\n  flamefold diff before.perf.txt after.perf.txt -o diff.svg\n"
        "  flamefold diff --html -n before.folded after.folded -o compare.html\n"
        "  flamefold diff --folded before.folded after.folded > diff.folded",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    p.add_argument("-n", "--normalize", action="store_true", help="scale BEFORE's counts to AFTER's total (difffolded -n)")
    p.add_argument("-s", "--strip-hex", action="store_true", help="turn hex addresses (0x1234) into 0x... before matching stacks (difffolded -s)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--html", action="store_true", help="write the three-panel linked HTML page instead of one SVG")
    mode.add_argument("--folded", action="store_true", help="print the two-column folded diff (stack before after) instead of a graph")
    title = (f'title of the graph (default "{DIFF_TITLE}"; "Icicle Graph" with --inverted, "Flame Chart" with '
             '--flamechart); with --html the page is titled "flamefold: BEFORE vs AFTER" and the panels '
             '"Before: BEFORE", "After: AFTER" and "Differential: after vs before"')
    add_graph_options(p, help={"title": title})
    add_scheduler_options(p, "collapse BEFORE and AFTER (each a capture or a folder of them) on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786; needs flamefold[dask]), each side merged there; paths are read on the workers")
    p.set_defaults(command_parser=p, command_run=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Runs ``flamefold diff`` with parsed arguments."""
    p: argparse.ArgumentParser = args.command_parser
    if args.before == STDIN and args.after == STDIN:
        p.error("standard input (-) can be only one of BEFORE and AFTER")
    o, c = graph_args(p, args, DIFF_TITLE)
    check_scheduler_args(p, args, [args.before, args.after])
    before: Union[str, Profile] = args.before
    after: Union[str, Profile] = args.after
    status = 0
    if args.scheduler:
        sides = []
        for name in (args.before, args.after):
            profile, status_side = _on_cluster(args, [name])
            if profile is None:
                return status_side
            status = status or status_side
            sides.append(profile)
        before, after = sides

    def body() -> int:
        from ..graph import draw, encode  # not needed by difffolded: loaded here

        try:
            if args.html:
                from ..compare import compare_html

                keep = ("width", "height", "minwidth", "fonttype", "fontsize", "fontwidth", "countname", "nametype", "colors", "hash", "search_color", "truncate")
                text = compare_html(
                    _src(before), _src(after), normalize=args.normalize, strip_hex=args.strip_hex,
                    names=(os.path.basename(args.before), os.path.basename(args.after)), collapse=c,
                    **{k: getattr(o, k) for k in keep},
                )
                data = text.encode("utf-8")
            else:
                first, second = (after, before) if args.negate else (before, after)
                d = _diff(PROG, first, second, args.quiet, c, normalize=args.normalize, strip_hex=args.strip_hex)
                if args.folded and not (args.output and args.output != "-"):
                    # to standard output a megabyte at a time (never all in memory), as difffolded
                    return write_stdout(lambda out: d.to_folded(out)) or status
                if args.folded:
                    data = (d.to_folded() or "").encode("utf-8", "surrogateescape")
                else:
                    data = encode(draw(d, o).svg, o.encoding)
        except ParseError as e:
            raise Fail(str(e)) from None
        except OSError as e:
            raise os_fail(e) from None
        if args.output and args.output != "-":
            try:
                write_atomic(args.output, data)
            except OSError as e:
                raise os_fail(e, args.output) from None
            return status
        return write_stdout(data) or status

    return run(PROG, body)


def _on_cluster(args: argparse.Namespace, inputs: Sequence[str], fmt: str = "auto") -> Tuple[Optional[Profile], int]:
    """``--scheduler``: flamefold.distributed (and Dask) imported only then; without Dask its ImportError is one line (``entry``)."""
    from .. import distributed

    return collapse_on_cluster(PROG, args, inputs, distributed.cli_collapse, fmt)
