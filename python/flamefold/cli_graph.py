"""``flamefold graph``: flamegraph.pl's command line, drawing with flamefold."""

from __future__ import annotations

import argparse
from typing import IO, Any, List, cast

from . import palettes
from .cli import STDIN, _Fail, _run, _stdin_source, _write_stdout, os_fail, say
from .graph import GraphOptions, Source, draw, encode, write_atomic
from ._flamefold import ParseError

PROG = "flamefold graph"

DESCRIPTION = """\
Draw an interactive flame graph (SVG) from folded stacks (`frame;frame;... COUNT` lines, as
stackcollapse-perf writes them; two count columns, BEFORE AFTER, draw a differential graph), or
straight from `perf script` output, which is collapsed first. Reads the files named (gzip/zstd
too), or standard input. The options are flamegraph.pl's, with the same spelling and meaning.
Frames are merged into a call tree: one box per call path, siblings in byte order of their names."""

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
    """Adds the ``graph`` subcommand to ``flamefold``'s subparsers."""
    p = subparsers.add_parser(
        "graph",
        help="folded stacks or perf script output -> interactive flame graph SVG",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="folded stacks or perf script output; - or none: standard input")
    p.add_argument("-o", "--output", metavar="FILE", help="write the SVG here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    add_graph_options(p)
    p.set_defaults(graph_parser=p)
    return p


def add_graph_options(p: argparse.ArgumentParser) -> None:
    """flamegraph.pl's options (shared by ``graph`` and ``diff``)."""
    d = GraphOptions()
    look = p.add_argument_group("text")
    look.add_argument("--title", metavar="TEXT", help='title (default "Flame Graph"; "Icicle Graph" with --inverted, "Flame Chart" with --flamechart)')
    look.add_argument("--subtitle", metavar="TEXT", default="", help="second line under the title")
    look.add_argument("--countname", metavar="TEXT", default=d.countname, help=f'what the counts are, in tooltips (default "{d.countname}")')
    look.add_argument("--nametype", metavar="TEXT", default=d.nametype, help=f'what a frame is, in the details line (default "{d.nametype}")')
    look.add_argument("--notes", metavar="TEXT", default="", help="text for the NOTES comment in the SVG")
    look.add_argument("--fonttype", metavar="FONT", default=d.fonttype, help=f"font family (default {d.fonttype})")
    look.add_argument("--fontsize", metavar="SIZE", type=float, default=d.fontsize, help=f"font size (default {d.fontsize:g})")
    look.add_argument("--fontwidth", metavar="RATIO", type=float, default=d.fontwidth, help=f"average glyph width as a fraction of the font size, to fit labels (default {d.fontwidth:g})")
    look.add_argument("--truncate-text-right", dest="truncate", action="store_const", const="right", default="right", help="cut long labels on the right, keeping the start of the name (the default, as flamegraph.pl; the option is inferno's)")
    look.add_argument("--truncate-text-left", dest="truncate", action="store_const", const="left", help="cut long labels on the left, keeping the end of the name")
    geo = p.add_argument_group("size and layout")
    geo.add_argument("--width", metavar="PX", type=float, default=d.width, help=f"image width in pixels (default {d.width:g})")
    geo.add_argument("--height", metavar="PX", type=float, default=d.height, help=f"frame height in pixels (default {d.height:g})")
    geo.add_argument("--minwidth", metavar="PX|N%", default="0.1", help="leave out frames narrower than this many pixels, or this percentage of the total with a %% sign (default 0.1); their samples still count in their parents")
    geo.add_argument("--reverse", action="store_true", help="reverse every stack: merge from the leaves (callers of the hottest functions)")
    geo.add_argument("--inverted", action="store_true", help="icicle graph: the root at the top, growing downwards")
    geo.add_argument("--flamechart", action="store_true", help="flame chart: keep the input order (time) instead of merging into a tree")
    geo.add_argument("--factor", metavar="F", type=float, default=d.factor, help="multiply the counts shown in tooltips by F (widths do not change)")
    geo.add_argument("--total", metavar="N", help="the total for the x scale, when larger than the sum of the counts (a partial profile drawn to the scale of the whole)")
    col = p.add_argument_group("colours")
    col.add_argument("--colors", metavar="PALETTE", default=d.colors, choices=palettes.PALETTES, help="hot (default), mem, io, wakeup, chain, java, js, perl, python, rust, red, green, blue, aqua, yellow, purple, orange")
    col.add_argument("--bgcolors", metavar="COLOR", help="background: yellow, blue, green, grey or #rrggbb (default chosen by the palette)")
    col.add_argument("--hash", action="store_true", help="colours from flamegraph.pl's name hash (similar names, similar colours)")
    col.add_argument("--random", action="store_true", help="random colours (not reproducible; ignored with --hash)")
    col.add_argument("--cp", action="store_true", help="consistent palette: reuse and extend the colours in ./palette.map")
    col.add_argument("--negate", action="store_true", help="differential graph: swap red and blue (and the sign of the delta)")
    col.add_argument("--search-color", metavar="COLOR", default=d.search_color, help=f"colour of frames matched by a search (default {d.search_color})")
    col.add_argument("--stroke-color", metavar="COLOR", help="outline the frames in this colour")
    out = p.add_argument_group("other")
    out.add_argument("--nameattr", metavar="FILE", help="per-function SVG attributes: NAME<TAB>key=value<TAB>... (title, id, class, href, target, g_extra, a_extra)")
    out.add_argument("--encoding", metavar="ENC", help="write the SVG in this encoding, declared in its XML header (default UTF-8)")
    perf = p.add_argument_group("perf script input (collapsed first, as stackcollapse-perf does)")
    perf.add_argument("--pid", action="store_true", help="process frames as comm-PID")
    perf.add_argument("--tid", action="store_true", help="process frames as comm-PID/TID")
    perf.add_argument("--kernel", action="store_true", help="annotate kernel frames with _[k] (the java palette colours them orange)")
    perf.add_argument("--jit", action="store_true", help="annotate JIT frames with _[j]")
    perf.add_argument("--all", action="store_true", help="--kernel and --jit")
    perf.add_argument("--addrs", action="store_true", help="raw addresses of unknown frames")
    perf.add_argument("--event-filter", metavar="EVENT", help="keep only samples of EVENT (default: the first event)")
    out.add_argument("--threads", type=int, metavar="N", help="threads reading the input (default: $FLAMEFOLD_THREADS or every core); the graph is the same at any count")
    out.add_argument("-q", "--quiet", action="store_true", help="no warnings")


def graph_options(args: argparse.Namespace, p: argparse.ArgumentParser) -> GraphOptions:
    """The checked GraphOptions from parsed arguments (a bad value is a usage error)."""
    try:
        o = GraphOptions(
            title=args.title,
            subtitle=args.subtitle,
            width=args.width,
            height=args.height,
            minwidth=args.minwidth,
            fonttype=args.fonttype,
            fontsize=args.fontsize,
            fontwidth=args.fontwidth,
            countname=args.countname,
            nametype=args.nametype,
            colors=args.colors,
            bgcolors=args.bgcolors,
            hash=args.hash,
            random=args.random and not args.hash,
            cp=args.cp,
            reverse=args.reverse,
            inverted=args.inverted,
            flamechart=args.flamechart,
            negate=args.negate,
            notes=args.notes,
            factor=args.factor,
            total=args.total,
            nameattr=args.nameattr,
            encoding=args.encoding,
            search_color=args.search_color,
            stroke_color=args.stroke_color,
            truncate=args.truncate,
            threads=args.threads,
            pid=args.pid,
            tid=args.tid,
            kernel=args.kernel or args.all,
            jit=args.jit or args.all,
            addrs=args.addrs,
            event_filter=args.event_filter,
        ).check()
    except ValueError as e:
        p.error(str(e))
        raise
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    return o


def run(args: argparse.Namespace) -> int:
    """Runs ``flamefold graph`` with parsed arguments."""
    p: argparse.ArgumentParser = args.graph_parser
    o = graph_options(args, p)
    inputs: List[str] = args.inputs or [STDIN]
    labels = ["<stdin>" if i == STDIN else i for i in inputs]

    def body() -> int:
        sources = [cast(Source, _stdin_source()) if i == STDIN else i for i in inputs]
        try:
            drawn = draw(sources, o)
        except ParseError as e:
            raise _Fail(f"{e}") from None
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
            status = _write_stdout(data)
        return 2 if drawn.empty and status == 0 else status

    return _run(PROG, body)
