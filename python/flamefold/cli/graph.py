"""``flamefold graph``: flamegraph.pl's command line, drawing with flamefold."""

from __future__ import annotations

import argparse

from .._flamefold import ParseError, Profile
from ..graph import Source, cast, draw, encode  # cast: typing's to the type checker, free at run time
from ..options import DEFAULT_TITLE
from .._recipe_cli import add_recipe_options, apply_recipe, check_weight_args, recipe_explicit
from .common import (
    STDIN, Fail, add_graph_options, add_scheduler_options, check_scheduler_args, collapse_on_cluster, graph_args, os_fail,
    run, say, stdin_source, write_output,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time
    from typing import Any, List, Optional, Sequence, Tuple

PROG = "flamefold graph"

DESCRIPTION = """\
Draw an interactive flame graph (SVG) from folded stacks (`frame;frame;... COUNT` lines, as
stackcollapse-perf writes them; two count columns, BEFORE AFTER, draw a differential graph), or
straight from a capture, collapsed first: `perf script` output, DTrace stacks or jstack thread
dumps (told apart by their start, as `flamefold collapse` tells them). Reads the files named (gzip/zstd
too), or standard input. The options are flamegraph.pl's, with the same spelling and meaning
(--title or -title). Frames are merged into a call tree: one box per call path, siblings in
byte order of their names."""

EPILOG = """\
examples:
  perf script | flamefold graph > cpu.svg
  flamefold graph --colors java --hash --title "Java CPU" out.folded -o java.svg
  flamefold graph --minwidth 0.5% --reverse big.folded.zst > callers.svg
  difffolded before.folded after.folded | flamefold graph --negate > diff.svg
  perf script -i faults.data | flamefold graph > faults.svg     (page-faults: mem, pages)
  perf script -i block.data | flamefold graph --weight bytes > io.svg

Captures of memory, I/O and TCP events get their recipe's --colors, --countname and --title
where none are given (page-faults, block:*, syscalls:sys_enter_mmap/brk, kmem:kmalloc, tcp:*,
sock:*; a note on stderr says which, -q: none); CPU captures are drawn as flamegraph.pl draws them.

In the graph: click a frame to zoom (Reset Zoom goes back), Ctrl-F or Search to highlight
frames matching a regular expression ("ic" toggles case), hover for details. Zoom and search
are kept in the URL (?x=..&y=..&s=..), so a link reopens the same view."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``graph`` command to ``flamefold``'s subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "graph",
        help="folded stacks or a capture (perf script, DTrace, jstack) -> interactive flame graph SVG",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="folded stacks or captures (perf script, DTrace, jstack); - or none: standard input")
    p.add_argument("-o", "--output", metavar="FILE", help="write the SVG here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    add_graph_options(p)
    add_recipe_options(p)
    add_scheduler_options(p, "collapse the captures (files, or folders of them) on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786; needs flamefold[dask]) and draw the merged profile; paths are read on the workers")
    p.set_defaults(command_parser=p, command_run=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Runs ``flamefold graph`` with parsed arguments."""
    p: argparse.ArgumentParser = args.command_parser
    explicit = recipe_explicit(args)
    o, c = graph_args(p, args, DEFAULT_TITLE)
    check_scheduler_args(p, args, args.inputs)
    check_weight_args(p, args)
    inputs: List[str] = args.inputs or [STDIN]
    labels = ["<stdin>" if i == STDIN else i for i in inputs]
    sources = [cast(Source, stdin_source()) if i == STDIN else i for i in inputs]
    status = 0
    if not args.scheduler:
        o, sources = apply_recipe(PROG, p, args, explicit, o, sources, labels)
    if args.scheduler:
        profile, status = _on_cluster(args, inputs)
        if profile is None:
            return status
        sources, labels = [profile], ["merged"]

    def body() -> int:
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
        written = write_output(args.output, encode(drawn.svg, o.encoding))
        return 2 if drawn.empty and written == 0 else written or status

    return run(PROG, body)


def _on_cluster(args: argparse.Namespace, inputs: Sequence[str], fmt: str = "auto") -> Tuple[Optional[Profile], int]:
    """``--scheduler``: flamefold.distributed (and Dask) imported only then; without Dask its ImportError is one line (``entry``)."""
    from .. import distributed

    return collapse_on_cluster(PROG, args, inputs, distributed.cli_collapse, fmt)
