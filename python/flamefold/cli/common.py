"""What every command shares: messages, argument parsing, running a command, standard output.
(argparse itself is imported by ``parser.py`` only: the plain collapse commands start without it.)

Every message goes through :func:`say` (one escaped line on stderr); a command runs inside
:func:`run`, so whatever goes wrong is one line, never a traceback; the options' flags are made
from the option classes' fields (:func:`add_options`), where their help text lives.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import IO, Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple, Union

    from .._flamefold import Profile
    from ..options import CollapseOptions, GraphOptions

from .. import _io
from .._api import _is_panic
from .._flamefold import InternalError, ParseError
from .._io import write_stdout

__all__ = [
    "STDIN", "Fail", "ProgressBar", "add_graph_options", "add_options", "add_scheduler_options",
    "check_collapse_args", "check_scheduler_args", "collapse_on_cluster", "entry", "escape", "expand_inputs",
    "from_args", "graph_args", "option_flags", "os_fail", "run", "say", "stdin_source", "text_bytes", "write_output", "write_stdout",
]

STDIN = "-"


class Fail(Exception):
    """An error already worded for the user: printed as one line, exit status 1."""


# What must not reach a terminal raw: C0 controls (tab and newline too), DEL, C1 controls, line
# and bidi controls, and lone surrogates (undecodable bytes of a file name or input).
_UNSAFE = (
    (0x00, 0x1F), (0x7F, 0x9F), (0x200E, 0x200F), (0x2028, 0x202E), (0x2066, 0x2069), (0xD800, 0xDFFF),
)
_ESCAPES: Optional[Dict[int, str]] = None


def _escape_char(c: int) -> str:
    if 0xDC80 <= c <= 0xDCFF:
        return f"\\x{c - 0xDC00:02x}"  # a byte that was not UTF-8 (surrogateescape)
    return f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}"


def escape(text: object) -> str:
    """``text`` safe to print on a terminal: control characters and undecodable bytes become
    ``\\xNN`` (``\\uNNNN``) escapes, so input cannot move the cursor or set the title."""
    global _ESCAPES
    if _ESCAPES is None:  # a translation table, made on first use (a regex costs start-up time)
        _ESCAPES = {c: _escape_char(c) for lo, hi in _UNSAFE for c in range(lo, hi + 1)}
    return str(text).translate(_ESCAPES)


def say(prog: str, kind: str, msg: object) -> None:
    """Prints ``PROG: KIND: MSG`` on one line of stderr, escaped (every message goes here)."""
    try:
        print(f"{prog}: {kind}: {escape(msg)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone: nowhere to say it


def os_fail(e: OSError, name: Optional[str] = None) -> Fail:
    """A one-line ``FILE: reason`` error for an OSError (``name`` when it names no file)."""
    filename = e.filename if e.filename is not None else name
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    if filename == "/dev/stdin":
        filename = "<stdin>"
    reason = e.strerror or str(e) or type(e).__name__
    return Fail(f"{os.fspath(filename)}: {reason}" if filename is not None else reason)


class ProgressBar:
    """Bytes read, MB/s and time left on a terminal's stderr, at most ten times a second."""

    label: str
    start: float
    last: float
    shown: bool

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 or now - self.start < 0.5:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        text = f"{escape(self.label)}: {done / 1e6:,.0f} MB  {rate / 1e6:,.0f} MB/s"
        if total and rate > 0 and total >= done:
            text += f"  {100 * done / total:3.0f}%  {max(total - done, 0) / rate:,.0f}s left"
        sys.stderr.write("\r" + text.ljust(70))
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def stdin_source() -> Union[str, IO[bytes]]:
    # Reading /dev/stdin lets the core read without the GIL; fall back to the file object.
    if os.path.exists("/dev/stdin"):
        return "/dev/stdin"
    return sys.stdin.buffer


def write_output(output: Optional[str], data: bytes) -> int:
    """Writes a command's result to ``output`` (a file is replaced whole, never half-written)
    or, for None or ``-``, to standard output: the status to exit with."""
    if output and output != STDIN:
        try:
            _io.write_atomic(output, data)
        except OSError as e:
            raise os_fail(e, output) from None
        return 0
    return write_stdout(data)


def text_bytes(text: Optional[str]) -> bytes:
    """Text from the core as bytes for standard output (undecodable bytes kept as they were)."""
    return (text or "").encode("utf-8", "surrogateescape")


def option_flags(cls: type, *, perl_aliases: bool = False, help: Optional[Dict[str, str]] = None) -> Iterator[Tuple[List[str], Any, Any, Any, str]]:
    """The flags of the options class ``cls`` (``options.py``): for each, its spellings, its
    field, the value it stores when given alone (a switch; else None) or else the converter of
    its argument, and its help text (its metadata's, or ``help[name]``). ``perl_aliases``: every
    long flag is taken with one dash too, as Perl's Getopt::Long takes it (``-title``, ``-pid``).
    :func:`add_options` gives them to argparse; ``quick.py`` reads them itself."""
    from ..options import fields

    help = help or {}
    for f in fields(cls):
        m = f.metadata
        flags = m.get("flags") or ((f"--{f.name.replace('_', '-')}", None, help.get(f.name, m["help"])),)
        for flag, const, text in flags:
            if const is None and isinstance(f.default, bool) and "type" not in m:
                const = True  # a switch
            yield [flag] + ([flag[1:]] if perl_aliases else []), f, const, None if const is not None else m.get("type", str), text


def add_options(
    p: argparse.ArgumentParser,
    cls: type,
    *,
    perl_aliases: bool = False,
    group: Optional[str] = None,
    help: Optional[Dict[str, str]] = None,
) -> None:
    """Adds the flags of the options class ``cls`` (:func:`option_flags`). ``group``: the help
    section of the fields that name none."""
    sections: Dict[str, Any] = {}
    for names, f, const, conv, text in option_flags(cls, perl_aliases=perl_aliases, help=help):
        title = f.metadata.get("group", group)
        target: Any = p if title is None else sections.get(title) or sections.setdefault(title, p.add_argument_group(title))
        kw: Dict[str, Any] = dict(dest=f.name, default=f.default, help=text)
        if const is not None:
            kw.update(action="store_const", const=const)  # store_true is store_const True
        else:
            kw.update(metavar=f.metadata.get("metavar"), type=conv)
        target.add_argument(*names, **kw)


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """The options of class ``cls`` from parsed arguments (made by :func:`add_options`)."""
    from ..options import fields

    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


def check_collapse_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The usage errors of the collapse options."""
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    if args.context and not args.inline:
        p.error("--context goes with --inline")


def run(prog: str, body: Callable[[], int]) -> int:
    """Runs a command: whatever goes wrong is one escaped line on stderr, never a traceback."""
    try:
        return body()
    except Fail as e:
        say(prog, "error", e)
        return 1
    except KeyboardInterrupt:
        return _interrupted(prog)
    except (OverflowError, ParseError) as e:
        say(prog, "error", e)
        return 1
    except OSError as e:
        say(prog, "error", os_fail(e))
        return 1
    except InternalError as e:
        say(prog, "error", e)
        return 70
    except BaseException as e:
        if isinstance(e, SystemExit):
            raise
        # a bug: a PanicException from a binding without a guard, or a Python error
        what = str(e) if _is_panic(e) else f"{type(e).__name__}: {e}"
        say(prog, "error", f"internal error: {what} (please report)")
        return 70


def _interrupted(prog: str) -> int:
    try:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    return 130


def _flush_stdout(prog: str) -> int:
    """Flushes what print() left on standard output (help, version): 0, or the status of a
    failure already reported on one line (rather than Python's report at exit)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _io.drop_stdout()
        return 141
    except OSError as e:
        _io.drop_stdout()
        say(prog, "error", f"<stdout>: {e.strerror or e}")
        return 1
    except ValueError:  # closed
        pass
    return 0


def entry(prog: str, command: Callable[[], int]) -> int:
    """A console script: a command's status, with standard output flushed and Ctrl-C during
    start-up or argument parsing one line too."""
    try:
        status = command()
    except ImportError as e:  # an optional dependency missing (Dask for --scheduler): one line
        say(prog, "error", e)
        return 1
    except SystemExit as e:  # argparse: --help, --version, usage errors
        failed = _flush_stdout(prog)
        if failed and not e.code:
            return failed
        raise
    except KeyboardInterrupt:
        return _interrupted(prog)
    failed = _flush_stdout(prog)
    return failed if failed and status == 0 else status


def add_graph_options(p: argparse.ArgumentParser, help: Optional[Dict[str, str]] = None) -> None:
    """flamegraph.pl's options (``--title`` or ``-title``), the collapse options for `perf script`
    input, and ``--quiet``: the flags of every command that draws."""
    from ..options import PERF_GROUP, CollapseOptions, GraphOptions  # noqa: F811

    add_options(p, GraphOptions, perl_aliases=True, help=help)
    add_options(p, CollapseOptions, perl_aliases=True, group=PERF_GROUP)
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings")


def graph_args(p: argparse.ArgumentParser, args: argparse.Namespace, default_title: str) -> Tuple[GraphOptions, CollapseOptions]:
    """The checked (GraphOptions, CollapseOptions) of a command that draws (a bad value is a
    usage error)."""
    from ..options import CollapseOptions, GraphOptions  # noqa: F811 (at run time here)

    try:
        o = from_args(GraphOptions, args).check(default_title)
    except ValueError as e:
        p.error(str(e))
    check_collapse_args(p, args)
    return o, from_args(CollapseOptions, args)


def expand_inputs(names: Sequence[str]) -> List[str]:
    """The files named, a folder standing for the files under it (sorted, hidden ones left out)."""
    files: List[str] = []
    for name in names:
        if os.path.isdir(name):
            for root, _dirs, fs in sorted(os.walk(name)):
                files.extend(os.path.join(root, f) for f in sorted(fs) if not f.startswith("."))
        else:
            files.append(name)
    return files


def add_scheduler_options(p: argparse.ArgumentParser, help: str) -> None:
    """``--scheduler ADDRESS`` and ``--keep-going``: collapsing on a Dask cluster (issue 13)."""
    g = p.add_argument_group("fleet scale (a Dask cluster; pip install 'flamefold[dask]')")
    g.add_argument("--scheduler", metavar="ADDRESS", help=help)
    g.add_argument(
        "--keep-going", action="store_true",
        help="with --scheduler: when captures fail, merge the others (each failure is one line; exit status 1)",
    )


def check_scheduler_args(p: argparse.ArgumentParser, args: argparse.Namespace, inputs: Sequence[str], each: bool = False) -> None:
    """The usage errors of ``--scheduler``: the workers read named files, one thread each."""
    if not args.scheduler:
        if args.keep_going:
            p.error("--keep-going goes with --scheduler")
        return
    if not inputs or STDIN in inputs:
        p.error("--scheduler: the workers read named captures, not standard input")
    if each:
        p.error("--scheduler goes with neither --each nor --outdir")
    if args.threads is not None:
        p.error("--scheduler: each capture runs on one worker thread; --threads does not apply")


def collapse_on_cluster(
    prog: str, args: argparse.Namespace, inputs: Sequence[str], cli_collapse: Callable[..., Tuple[Optional[Profile], int]], fmt: str = "auto",
) -> Tuple[Optional[Profile], int]:
    """The captures ``inputs`` (folders: their files) collapsed on the Dask cluster at
    ``args.scheduler`` with the command's collapse options, merged: ``(profile, status)`` as
    ``cli_collapse`` (:func:`flamefold.distributed.cli_collapse`, which the command imports only
    with ``--scheduler``; it reports progress, warnings and failures) gives them."""
    from dataclasses import fields

    from ..options import CollapseOptions, FormatOptions  # noqa: F811 (at run time here)

    opts = from_args(CollapseOptions, args).native()
    del opts["threads"]  # one thread a task, on the workers
    if all(hasattr(args, f.name) for f in fields(FormatOptions)):
        opts.update(from_args(FormatOptions, args).native())
    paths = expand_inputs(inputs)
    if not paths:
        say(prog, "error", "--scheduler: no input files")
        return None, 1
    return cli_collapse(paths, args.scheduler, args.keep_going, quiet=args.quiet, prog=prog, format=fmt, **opts)
