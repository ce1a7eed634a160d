"""``flamefold diff``: two captures (perf script or folded) -> a differential flame graph,
the two-column folded diff, or a three-panel linked page."""

from __future__ import annotations

import argparse
import os
from typing import IO, Any, Union

from . import _flamefold
from .cli import STDIN, _Fail, _run, _stdin_source, _write_stdout, os_fail, say
from .cli_graph import add_graph_options, graph_options
from .graph import draw, encode, write_atomic
from ._flamefold import ParseError

PROG = "flamefold diff"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "diff",
        help="two profiles -> differential flame graph (or --html: before/after/diff page)",
        description="Compare two profiles (perf script output or folded stacks, gzip/zstd too) "
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
    add_graph_options(p)
    p.set_defaults(diff_parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    p: argparse.ArgumentParser = args.diff_parser
    if args.before == STDIN and args.after == STDIN:
        p.error("standard input (-) can be only one of BEFORE and AFTER")
    o = graph_options(args, p)

    def src(name: str) -> Union[str, IO[bytes]]:
        return _stdin_source() if name == STDIN else name

    perf = {k: getattr(o, k) for k in ("pid", "tid", "kernel", "jit", "addrs", "event_filter")}

    def body() -> int:
        try:
            if args.html:
                from .compare import compare_html

                opts = {k: getattr(o, k) for k in ("width", "height", "minwidth", "fonttype", "fontsize", "fontwidth", "countname", "nametype", "colors", "hash", "search_color", "truncate")}
                opts.update(perf)
                text = compare_html(
                    src(args.before), src(args.after), normalize=args.normalize, strip_hex=args.strip_hex,
                    names=(os.path.basename(args.before), os.path.basename(args.after)), threads=o.threads, **opts,
                )
                data = text.encode("utf-8")
            else:
                first, second = (args.after, args.before) if args.negate else (args.before, args.after)
                d = _flamefold.diff(src(first), src(second), normalize=args.normalize, strip_hex=args.strip_hex, threads=o.threads, **perf)
                if not args.quiet:
                    for line, msg in d.warnings:
                        side, _, rest = msg.partition(": ")
                        name = first if side == "before" else second
                        say(PROG, "warning", f"{name}: {'line %d: ' % line if line else ''}{rest}")
                if args.folded and not (args.output and args.output != "-"):
                    # to standard output a megabyte at a time (never all in memory), as difffolded
                    return _write_stdout(lambda out: d.to_folded(out))
                if args.folded:
                    data = (d.to_folded() or "").encode("utf-8", "surrogateescape")
                else:
                    if o.title == "Flame Graph":
                        o.title = "Differential Flame Graph"
                    data = encode(draw(d, o).svg, o.encoding)
        except ParseError as e:
            raise _Fail(str(e)) from None
        except OSError as e:
            raise os_fail(e) from None
        if args.output and args.output != "-":
            try:
                write_atomic(args.output, data)
            except OSError as e:
                raise os_fail(e, args.output) from None
            return 0
        return _write_stdout(data)

    return _run(PROG, body)
