"""``flamefold collapse`` and the ``stackcollapse-perf`` drop-in: captures -> folded stacks."""

from __future__ import annotations

import os
import sys
from ..options import replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, List, Optional, Sequence, Tuple

from .._api import FORMATS, _collapse, default_threads
from .._flamefold import ParseError, Profile
from .._io import write_atomic
from ..options import CollapseOptions, FormatOptions
from .._recipe_cli import add_weight_option, check_weight_args, weighted_inputs
from . import quick
from .common import (
    STDIN, Fail, ProgressBar, add_options, add_scheduler_options, check_collapse_args, check_scheduler_args,
    collapse_on_cluster, entry, expand_inputs, from_args, os_fail, run, say, stdin_source, write_stdout,
)

PROG = "flamefold collapse"


def stackcollapse_perf(argv: Optional[List[str]] = None) -> int:
    """The drop-in for stackcollapse-perf.pl: same options, folded stacks on stdout."""
    return entry("stackcollapse-perf", lambda: _stackcollapse_perf(argv))


def _stackcollapse_perf(argv: Optional[List[str]]) -> int:
    prog = "stackcollapse-perf"
    # the usual command lines without argparse (start-up time, see quick.py)
    args: Any = quick.perl_args(sys.argv[1:] if argv is None else argv)
    if args is None:
        p = _perl_parser(prog)
        args = p.parse_args(argv)
        check_collapse_args(p, args)

    def body() -> int:
        profile = _collapse_inputs(prog, args, args.inputs, "perf")
        return write_stdout(profile.to_folded)  # a megabyte at a time

    return run(prog, body)


def _perl_parser(prog: str) -> argparse.ArgumentParser:
    """``stackcollapse-perf``'s argparse parser."""
    from .parser import Parser

    p = Parser(
        prog=prog,
        description="Collapse `perf script` output into folded stacks (one `frame;frame;... count` "
        "line per distinct stack, sorted), exactly as Brendan Gregg's stackcollapse-perf.pl "
        "does, many times faster. Reads the files named (gzip/zstd too), or standard input.",
        epilog="example: perf script | stackcollapse-perf --all > out.folded",
    )
    add_options(p, CollapseOptions, perl_aliases=True)
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings and no progress bar")
    p.add_argument("inputs", nargs="*", metavar="FILE", help="perf script output; - or none: standard input")
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``collapse`` command to ``flamefold``'s subparsers."""
    import argparse
    c: argparse.ArgumentParser = subparsers.add_parser(
        "collapse",
        help="perf script output (or another profiler's, see --format) -> folded stacks",
        description="Collapse `perf script` output into folded stacks, exactly as stackcollapse-perf.pl\n"
        "does (other profilers' captures: see --format). Several inputs are merged into one\n"
        "profile, written as folded stacks or, with --speedscope, as a speedscope profile.",
        epilog="examples:\n  perf script | flamefold collapse -o cpu.folded\n"
        "  flamefold collapse perf.txt --speedscope -o profile.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(c, CollapseOptions)
    c.add_argument("-q", "--quiet", action="store_true", help="no warnings and no progress bar")
    c.add_argument("inputs", nargs="*", metavar="FILE", help="captures (gzip/zstd too); - or none: standard input")
    c.add_argument(
        "--format", choices=FORMATS, default="auto", metavar="FORMAT",
        help="what the inputs are: auto (the default: told from their start), perf (`perf script` "
        "text), perf-data (a perf.data file), dtrace (DTrace stacks, stackcollapse.pl's input), jstack "
        "(Java thread dumps, stackcollapse-jstack.pl's input) or folded (folded stacks, merged)",
    )
    add_options(c, FormatOptions)
    add_weight_option(c)
    c.add_argument("--speedscope", action="store_true", help="write a speedscope JSON profile (https://www.speedscope.app) instead of folded stacks")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    c.add_argument("--top", type=int, metavar="N", help="print only the N heaviest stacks with their share of the total")
    c.add_argument("--each", action="store_true", help="one folded file per input capture (inputs may be folders) instead of one merged profile; needs --outdir")
    c.add_argument("--outdir", metavar="DIR", help="with --each: where to write NAME.folded for each capture")
    add_scheduler_options(c, "collapse the captures (files, or folders of them) on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786; needs flamefold[dask]); paths are read on the workers")
    c.set_defaults(command_parser=c, command_run=run_command)
    return c


def run_plain(args: Any) -> int:
    """Runs ``flamefold collapse`` with arguments read by ``quick.collapse_args`` (checked there;
    it takes none of the options that need the checks of :func:`run_command`)."""
    return run("flamefold", lambda: _collapse_and_write(args))


def run_command(args: argparse.Namespace) -> int:
    """Runs ``flamefold collapse`` with parsed arguments."""
    p: argparse.ArgumentParser = args.command_parser
    check_collapse_args(p, args)
    if args.speedscope and (args.each or args.top is not None):
        p.error("--speedscope goes with neither --each nor --top")
    check_scheduler_args(p, args, args.inputs, each=args.each)
    check_weight_args(p, args)
    if args.scheduler:
        return _cmd_scheduler(args)
    return run("flamefold", lambda: _cmd_collapse(p, args))


def _cmd_scheduler(args: argparse.Namespace) -> int:
    """``--scheduler``: the captures collapsed on the Dask cluster, merged, written as ``--output``
    (or ``--top``/``--speedscope``) says."""
    profile, status = _on_cluster(args, args.inputs, args.format)
    if profile is None:
        return status

    def body() -> int:
        written = _write(profile, args, args.inputs[0] if len(args.inputs) == 1 else "merged")
        return written or status

    return run(PROG, body)


def _cmd_collapse(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.each:
        return _cmd_each(p, args)
    if args.outdir:
        p.error("--outdir goes with --each")
    return _collapse_and_write(args)


def _collapse_and_write(args: argparse.Namespace) -> int:
    """The inputs collapsed into one profile, written as the options say."""
    profile = weighted_inputs(PROG, args) if args.weight == "bytes" else _collapse_inputs(PROG, args, args.inputs, args.format)
    name = args.inputs[0] if len(args.inputs) == 1 and args.inputs[0] != STDIN else "<stdin>" if not args.inputs or args.inputs == [STDIN] else "merged"
    return _write(profile, args, name)


def _write(profile: Profile, args: argparse.Namespace, name: str) -> int:
    """Writes the merged profile as the options say: ``--top``, ``--speedscope`` (named ``name``)
    or folded stacks, to ``--output`` or standard output."""
    if args.top is not None:
        total = profile.total or 1
        top = sorted(profile.items(), key=lambda kv: (-kv[1], kv[0]))[: args.top]
        lines = "".join(f"{100 * c / total:6.2f}% {c:>14,}  {s}\n" for s, c in top)
        return write_stdout(lines.encode("utf-8", "surrogateescape"))
    to_file = args.output and args.output != "-"
    if args.speedscope:
        return _speedscope(profile, args.output if to_file else None, os.path.basename(name))
    if to_file:
        try:
            profile.to_folded(args.output)
        except OSError as e:
            raise os_fail(e, args.output) from None
        return 0
    return write_stdout(profile.to_folded)  # a megabyte at a time


def _speedscope(profile: Profile, output: Optional[str], name: str) -> int:
    """``--speedscope``: the profile as speedscope JSON named ``name``, to ``output`` (replaced
    whole) or standard output."""
    if output is None:
        return write_stdout(profile.to_speedscope(name=name))
    try:
        profile.to_speedscope(output, name=name)
    except OSError as e:
        raise os_fail(e, output) from None
    return 0


def _collapse_inputs(prog: str, args: argparse.Namespace, inputs: Sequence[str], fmt: str) -> Profile:
    """Collapses the inputs into one profile. Like the Perl's one stream, the first event of the
    first input is kept in all of them. The first input uses every thread; the others are
    collapsed side by side, one thread each."""
    names = list(inputs) or [STDIN]
    if names.count(STDIN) > 1:
        raise Fail("standard input (-) can be named once")
    many = len(names) > 1
    base: CollapseOptions = from_args(CollapseOptions, args)
    formats = from_args(FormatOptions, args) if hasattr(args, "shorten_pkgs") else FormatOptions()

    def collapse(name: str, event: Optional[str], threads: Optional[int], bar: Optional[ProgressBar]) -> Profile:
        label = "<stdin>" if name == STDIN else name
        c = replace(base, event_filter=event, threads=threads)
        try:
            return _collapse(stdin_source() if name == STDIN else name, fmt, c, bar, formats)
        except ParseError as e:
            hint = "" if "?)" in str(e) or "perf.data" in str(e) or fmt not in ("perf", "auto") else " (is this `perf script` output?)"
            raise Fail(f"{label}: {e}{hint}") from None
        except ValueError as e:  # a format this build cannot read yet
            raise Fail(str(e)) from None
        except OSError as e:
            raise os_fail(e, label) from None
        finally:
            if bar is not None:
                bar.close()

    def report(name: str, profile: Profile) -> None:
        if args.quiet:
            return
        label = "<stdin>" if name == STDIN else name
        for line, msg in profile.warnings:
            where = f"{label}: " if many else ""
            where += f"line {line}: " if line else ""
            say(prog, "warning", f"{where}{msg}")

    bar = ProgressBar(names[0] if names[0] != STDIN else "<stdin>") if (sys.stderr.isatty() and not args.quiet) else None
    result = collapse(names[0], args.event_filter, args.threads, bar)
    report(names[0], result)
    rest = names[1:]
    if rest:
        from concurrent.futures import ThreadPoolExecutor

        event = args.event_filter if args.event_filter is not None else result.event
        threads = args.threads or default_threads()
        each = threads if len(rest) == 1 else 1
        with ThreadPoolExecutor(max_workers=min(threads, len(rest))) as pool:
            profiles = list(pool.map(lambda n: collapse(n, event, each, None), rest))
        for name, profile in zip(rest, profiles):
            report(name, profile)
            result = result + profile
    return result


def _folded_name(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".gz", ".zst", ".txt", ".perf", ".script"):
        if base.endswith(ext) and len(base) > len(ext):
            base = base[: -len(ext)]
    return base + ".folded"


def _cmd_each(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """One folded file per capture, several captures at a time (one thread each)."""
    from concurrent.futures import ThreadPoolExecutor

    if not args.outdir:
        p.error("--each needs --outdir")
    files = expand_inputs(args.inputs)
    if not files:
        raise Fail("--each: no input files")
    outs = [os.path.join(args.outdir, _folded_name(f)) for f in files]
    dupes = {o for o in outs if outs.count(o) > 1}
    if dupes:
        raise Fail(f"--each: several inputs would write {sorted(dupes)[0]}")
    os.makedirs(args.outdir, exist_ok=True)
    threads = args.threads or default_threads()
    c = replace(from_args(CollapseOptions, args), threads=1)
    formats = from_args(FormatOptions, args)

    def one(i: int) -> Optional[str]:
        try:
            prof = _collapse(files[i], args.format, c, None, formats)
            prof.to_folded(outs[i])
        except ValueError as e:  # ParseError, or a format this build cannot read yet
            return f"{files[i]}: {e}"
        except OSError as e:
            return str(os_fail(e, files[i]))
        if not args.quiet:
            for line, msg in prof.warnings:
                where = f"line {line}: " if line else ""
                say(PROG, "warning", f"{files[i]}: {where}{msg}")
        return None

    with ThreadPoolExecutor(max_workers=min(threads, len(files))) as pool:
        errors = [e for e in pool.map(one, range(len(files))) if e]
    for e in errors:
        say(PROG, "error", e)
    return 1 if errors else 0


def _on_cluster(args: argparse.Namespace, inputs: Sequence[str], fmt: str = "auto") -> Tuple[Optional[Profile], int]:
    """``--scheduler``: flamefold.distributed (and Dask) imported only then; without Dask its ImportError is one line (``entry``)."""
    from .. import distributed

    return collapse_on_cluster(PROG, args, inputs, distributed.cli_collapse, fmt)
