"""Command line: ``stackcollapse-perf`` (the drop-in) and ``flamefold`` (collapse, ...).

The CLI parses arguments and calls the Rust core; it never parses profile data itself.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Callable, List, NoReturn, Optional, Sequence, Union

from . import _flamefold
from ._api import _is_panic, default_threads
from ._flamefold import InternalError, ParseError, Profile, __version__

STDIN = "-"


class _Fail(Exception):
    """An error already worded for the user: printed as one line, exit status 1."""


# What must not reach a terminal raw: C0 controls (tab and newline too), DEL, C1 controls, line
# and bidi controls, and lone surrogates (undecodable bytes of a file name or input).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(m: "re.Match[str]") -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:
        return f"\\x{c - 0xDC00:02x}"  # a byte that was not UTF-8 (surrogateescape)
    return f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}"


def escape(text: object) -> str:
    """``text`` safe to print on a terminal: control characters and undecodable bytes become
    ``\\xNN`` (``\\uNNNN``) escapes, so input cannot move the cursor or set the title."""
    return _UNSAFE.sub(_escape_char, str(text))


def say(prog: str, kind: str, msg: object) -> None:
    """Prints ``PROG: KIND: MSG`` on one line of stderr, escaped (every message goes here)."""
    try:
        print(f"{prog}: {kind}: {escape(msg)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone: nowhere to say it


def os_fail(e: OSError, name: Optional[str] = None) -> _Fail:
    """A one-line ``FILE: reason`` error for an OSError (``name`` when it names no file)."""
    filename = e.filename if e.filename is not None else name
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    if filename == "/dev/stdin":
        filename = "<stdin>"
    reason = e.strerror or str(e) or type(e).__name__
    return _Fail(f"{os.fspath(filename)}: {reason}" if filename is not None else reason)


class Parser(argparse.ArgumentParser):
    """argparse, with its error messages (which quote the arguments) escaped, and help that
    cannot be written an error."""

    def error(self, message: str) -> "NoReturn":
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape(message)}\n")

    def _print_message(self, message: str, file: "Optional[Any]" = None) -> None:
        # argparse drops a failed write silently (`--help > /dev/full` "succeeds"): say it
        if not message:
            return
        out = file or sys.stderr
        try:
            out.write(message)
            out.flush()
        except OSError as e:
            if out is sys.stdout:
                _drop_stdout()
                if not isinstance(e, BrokenPipeError):
                    say(self.prog, "error", f"<stdout>: {e.strerror or e}")
                    raise SystemExit(1) from None


def _add_collapse_options(p: argparse.ArgumentParser, perl_aliases: bool) -> None:
    def flag(name: str, help: str) -> None:
        names = [f"--{name}"] + ([f"-{name}"] if perl_aliases else [])
        p.add_argument(*names, action="store_true", help=help)

    flag("pid", "include the PID in the process name: comm-PID")
    flag("tid", "include PID and TID in the process name: comm-PID/TID")
    flag("kernel", "annotate kernel frames with _[k]")
    flag("jit", "annotate JIT frames (/tmp/perf-PID.map, jitdump) with _[j]")
    flag("all", "all annotations (--kernel --jit)")
    flag("addrs", "show raw addresses of unknown frames: [module <addr>]")
    names = ["--event-filter"] + (["-event-filter"] if perl_aliases else [])
    p.add_argument(
        *names,
        metavar="EVENT",
        help="keep only samples of EVENT (for example cycles, cpu-clock, sched:sched_switch); "
        "default: the first event in the input",
    )
    flag("inline", "un-inline frames with addr2line (binutils)")
    flag("context", "with --inline: append :file:line to each un-inlined function")
    flag("srcline", "parse `perf script -F+srcline` output (a source line after each frame)")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="worker threads (default: $FLAMEFOLD_THREADS or every core); output is identical "
        "at any count",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings and no progress bar")


class _ProgressBar:
    """Bytes read, MB/s and time left on a terminal's stderr, at most ten times a second."""

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


def _collapse_options(args: argparse.Namespace) -> dict:
    """stackcollapse-perf's flags as collapse_perf() keywords (--all is --kernel --jit)."""
    return dict(
        pid=args.pid, tid=args.tid, kernel=args.kernel or args.all, jit=args.jit or args.all,
        addrs=args.addrs, inline=args.inline, context=args.context, srcline=args.srcline,
    )


def _stdin_source() -> Union[str, IO[bytes]]:
    # Reading /dev/stdin lets the core read without the GIL; fall back to the file object.
    if os.path.exists("/dev/stdin"):
        return "/dev/stdin"
    return sys.stdin.buffer


def _collapse_inputs(prog: str, args: argparse.Namespace, inputs: Sequence[str]) -> Profile:
    """Collapses the inputs into one profile. Like the Perl's one stream, the first event of the
    first input is kept in all of them. The first input uses every thread; the others are
    collapsed side by side, one thread each."""
    names = list(inputs) or [STDIN]
    if names.count(STDIN) > 1:
        raise _Fail("standard input (-) can be named once")
    many = len(names) > 1

    def collapse(name: str, event: Optional[str], threads: Optional[int], bar: Optional[_ProgressBar]) -> Profile:
        label = "<stdin>" if name == STDIN else name
        try:
            return _flamefold.collapse_perf(
                _stdin_source() if name == STDIN else name, event_filter=event, threads=threads, progress=bar, **_collapse_options(args)
            )
        except ParseError as e:
            hint = "" if "?)" in str(e) else " (is this `perf script` output?)"  # the core may give its own
            raise _Fail(f"{label}: {e}{hint}") from None
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

    bar = _ProgressBar(names[0] if names[0] != STDIN else "<stdin>") if (sys.stderr.isatty() and not args.quiet) else None
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


def _threads_ok(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    if args.context and not args.inline:
        p.error("--context goes with --inline")


def _drop_stdout() -> None:
    # what is still buffered would fail again at exit (a second, uncatchable report): let it
    # go to /dev/null instead
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _write_stdout(data: Union[bytes, Callable[[IO[bytes]], object]]) -> int:
    """Writes bytes (or lets ``data(out)`` write) to standard output; 141 if the reader left.
    Another write error (a full disk) is a one-line ``<stdout>: reason`` error."""
    try:
        out = sys.stdout.buffer
        if callable(data):
            data(out)
        else:
            # a signal can cut a big write short: write the rest (a closed pipe then raises)
            view = memoryview(data)
            while view:
                n = out.write(view)
                if not n:
                    break
                view = view[n:]
        out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, like the Perl tools
        _drop_stdout()
        return 141
    except OSError as e:
        _drop_stdout()
        raise _Fail(f"<stdout>: {e.strerror or e}") from None
    return 0


def _text_bytes(text: Optional[str]) -> bytes:
    return (text or "").encode("utf-8", "surrogateescape")


def _run(prog: str, body: Callable[[], int]) -> int:
    """Runs a command: whatever goes wrong is one escaped line on stderr, never a traceback."""
    try:
        return body()
    except _Fail as e:
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
        _drop_stdout()
        return 141
    except OSError as e:
        _drop_stdout()
        say(prog, "error", f"<stdout>: {e.strerror or e}")
        return 1
    except ValueError:  # closed
        pass
    return 0


def _entry(prog: str, command: Callable[[], int]) -> int:
    """A console script: a command's status, with standard output flushed and Ctrl-C during
    start-up or argument parsing one line too."""
    try:
        status = command()
    except SystemExit as e:  # argparse: --help, --version, usage errors
        failed = _flush_stdout(prog)
        if failed and not e.code:
            return failed
        raise
    except KeyboardInterrupt:
        return _interrupted(prog)
    failed = _flush_stdout(prog)
    return failed if failed and status == 0 else status


def stackcollapse_perf(argv: Optional[List[str]] = None) -> int:
    """The drop-in for stackcollapse-perf.pl: same options, folded stacks on stdout."""
    return _entry("stackcollapse-perf", lambda: _stackcollapse_perf(argv))


def _stackcollapse_perf(argv: Optional[List[str]]) -> int:
    p = Parser(
        prog="stackcollapse-perf",
        description="Collapse `perf script` output into folded stacks (one `frame;frame;... count` "
        "line per distinct stack, sorted), exactly as Brendan Gregg's stackcollapse-perf.pl "
        "does, many times faster. Reads the files named (gzip/zstd too), or standard input.",
        epilog="example: perf script | stackcollapse-perf --all > out.folded",
    )
    _add_collapse_options(p, perl_aliases=True)
    p.add_argument("inputs", nargs="*", metavar="FILE", help="perf script output; - or none: standard input")
    args = p.parse_args(argv)
    _threads_ok(args, p)

    def body() -> int:
        profile = _collapse_inputs(p.prog, args, args.inputs)
        return _write_stdout(_text_bytes(profile.to_folded()))

    return _run(p.prog, body)


def _each_inputs(names: Sequence[str]) -> List[str]:
    files: List[str] = []
    for name in names:
        if os.path.isdir(name):
            for root, _dirs, fs in sorted(os.walk(name)):
                files.extend(os.path.join(root, f) for f in sorted(fs) if not f.startswith("."))
        else:
            files.append(name)
    return files


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
    files = _each_inputs(args.inputs)
    if not files:
        raise _Fail("--each: no input files")
    outs = [os.path.join(args.outdir, _folded_name(f)) for f in files]
    dupes = {o for o in outs if outs.count(o) > 1}
    if dupes:
        raise _Fail(f"--each: several inputs would write {sorted(dupes)[0]}")
    os.makedirs(args.outdir, exist_ok=True)
    threads = args.threads or default_threads()

    def one(i: int) -> Optional[str]:
        try:
            prof = _flamefold.collapse_perf(files[i], event_filter=args.event_filter, threads=1, **_collapse_options(args))
            prof.to_folded(outs[i])
        except ParseError as e:
            return f"{files[i]}: {e}"
        except OSError as e:
            return str(os_fail(e, files[i]))
        if not args.quiet:
            for line, msg in prof.warnings:
                where = f"line {line}: " if line else ""
                say("flamefold collapse", "warning", f"{files[i]}: {where}{msg}")
        return None

    with ThreadPoolExecutor(max_workers=min(threads, len(files))) as pool:
        errors = [e for e in pool.map(one, range(len(files))) if e]
    for e in errors:
        say("flamefold collapse", "error", e)
    return 1 if errors else 0


def difffolded(argv: Optional[List[str]] = None) -> int:
    """The drop-in for difffolded.pl: `stack before after` for every stack of either input."""
    return _entry("difffolded", lambda: _difffolded(argv))


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
        d = _diff_inputs(p.prog, args)
        return _write_stdout(lambda out: d.to_folded(out))  # a megabyte at a time

    return _run(p.prog, body)


def _diff_inputs(prog: str, args: argparse.Namespace) -> "_flamefold.Diff":
    try:
        d = _flamefold.diff(
            _stdin_source() if args.before == STDIN else args.before,
            _stdin_source() if args.after == STDIN else args.after,
            normalize=args.normalize,
            strip_hex=args.strip_hex,
        )
    except ParseError as e:
        raise _Fail(str(e)) from None
    except OSError as e:
        raise os_fail(e) from None
    if not args.quiet:
        for line, msg in d.warnings:
            side, _, rest = msg.partition(": ")
            name = args.before if side == "before" else args.after
            where = f"line {line}: " if line else ""
            say(prog, "warning", f"{name}: {where}{rest}")
    return d


def _cmd_collapse(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.each:
        return _cmd_each(p, args)
    if args.outdir:
        p.error("--outdir goes with --each")
    profile = _collapse_inputs("flamefold collapse", args, args.inputs)
    if args.top is not None:
        total = profile.total or 1
        top = sorted(profile.items(), key=lambda kv: (-kv[1], kv[0]))[: args.top]
        lines = "".join(f"{100 * c / total:6.2f}% {c:>14,}  {s}\n" for s, c in top)
        return _write_stdout(lines.encode("utf-8", "surrogateescape"))
    if args.output and args.output != "-":
        try:
            profile.to_folded(args.output)
        except OSError as e:
            raise os_fail(e, args.output) from None
        return 0
    return _write_stdout(_text_bytes(profile.to_folded()))


def main(argv: Optional[List[str]] = None) -> int:
    """``flamefold COMMAND ...``."""
    return _entry("flamefold", lambda: _main(argv))


def _main(argv: Optional[List[str]]) -> int:
    p = Parser(
        prog="flamefold",
        description="Fast, exact tools for huge CPU profiles: collapse `perf script` output into "
        "folded stacks (a drop-in for stackcollapse-perf.pl), draw flame graphs (flamegraph.pl's "
        "options) and compare profiles, from the shell or Python.",
    )
    p.add_argument("--version", action="version", version=f"flamefold {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser(
        "collapse",
        help="perf script output -> folded stacks",
        description="Collapse `perf script` output into folded stacks, exactly as "
        "stackcollapse-perf.pl does. Several inputs are merged into one profile.",
        epilog="example: perf script | flamefold collapse -o cpu.folded",
    )
    _add_collapse_options(c, perl_aliases=False)
    c.add_argument("inputs", nargs="*", metavar="FILE", help="perf script output (gzip/zstd too); - or none: standard input")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output (a file is replaced whole, never half-written; a FIFO or device is written to)")
    c.add_argument("--top", type=int, metavar="N", help="print only the N heaviest stacks with their share of the total")
    c.add_argument("--each", action="store_true", help="one folded file per input capture (inputs may be folders) instead of one merged profile; needs --outdir")
    c.add_argument("--outdir", metavar="DIR", help="with --each: where to write NAME.folded for each capture")
    from . import cli_graph

    cli_graph.add_parser(sub)
    from . import cli_diff

    cli_diff.add_parser(sub)
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help(sys.stderr)
        return 2
    if args.command == "graph":
        return cli_graph.run(args)
    if args.command == "diff":
        return cli_diff.run(args)
    _threads_ok(args, c)
    return _run("flamefold", lambda: _cmd_collapse(c, args))
