"""``flamefold graph``: flamegraph.pl's command line, drawing with flamefold."""

from __future__ import annotations

import argparse

from .._flamefold import ParseError
from .._io import write_atomic
from ..graph import Source, cast, draw, encode  # cast: typing's to the type checker, free at run time
from ..options import DEFAULT_TITLE
from .common import STDIN, Fail, add_graph_options, graph_args, os_fail, run, say, stdin_source, write_stdout

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time
    from typing import Any, List

PROG = "flamefold graph"

DESCRIPTION = """\
Draw an interactive flame graph (SVG) from folded stacks (`frame;frame;... COUNT` lines, as
stackcollapse-perf writes them; two count columns, BEFORE AFTER, draw a differential graph), or
straight from `perf script` output, which is collapsed first. Reads the files named (gzip/zstd
too), or standard input. The options are flamegraph.pl's, with the same spelling and meaning
(--title or -title). Frames are merged into a call tree: one box per call path, siblings in
byte order of their names."""

EPILOG = """\
examples:
  perf script | flamefold graph > cpu.svg
  flamefold graph --colors java --hash --title "Java CPU" out.folded -o java.svg
  flamefold graph --minwidth 0.5% --reverse big.folded.zst > callers.svg
  difffolded before.folded after.folded | flamefold graph --negate > diff.svg

In the graph: click a frame to zoom (Reset Zoom goes back), Ctrl-F or Search to highlight
frames matching a regular expression ("ic" toggles case), hover for details. Zoom and search
are kept in the URL (?x=..&y=..&s=..), so a link reopens the same view."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``graph`` command to ``flamefold``'s subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "graph",
        help="folded stacks or perf script output -> interactive flame graph SVG",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="folded stacks or perf script output; - or none: standard input")
    p.add_argument("-o", "--output", metavar="FILE", help="write the SVG here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    add_graph_options(p)
    p.set_defaults(command_parser=p, command_run=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Runs ``flamefold graph`` with parsed arguments."""
    p: argparse.ArgumentParser = args.command_parser
    o, c = graph_args(p, args, DEFAULT_TITLE)
    inputs: List[str] = args.inputs or [STDIN]
    labels = ["<stdin>" if i == STDIN else i for i in inputs]

    def body() -> int:
        sources = [cast(Source, stdin_source()) if i == STDIN else i for i in inputs]
        try:
            drawn = draw(sources, o, c)
        except ParseError as e:
            raise Fail(f"{e}") from None
        except OSError as e:
            raise os_fail(e) from None
        if not args.quiet or drawn.empty:
            for k, line, msg in drawn.warnings:
                where = f"{labels[k]}: " if k >= 0 and (len(inputs) > 1 or line) else ""
                where += f"line {line}: " if line else ""
                kind = "error" if drawn.empty and msg == "no stack counts found" else "warning"
                say(PROG, kind, f"{where}{msg}")
        data = encode(drawn.svg, o.encoding)
        if args.output and args.output != "-":
            try:
                write_atomic(args.output, data)
            except OSError as e:
                raise os_fail(e, args.output) from None
            status = 0
        else:
            status = write_stdout(data)
        return 2 if drawn.empty and status == 0 else status

    return run(PROG, body)
