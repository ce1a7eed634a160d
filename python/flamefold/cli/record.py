"""``flamefold record``: `perf record` a command (or the machine, or a process), then draw it."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from .._flamefold import Profile
    from ..options import CollapseOptions

from .._flamefold import ParseError
from ..options import DEFAULT_TITLE
from .common import Fail, add_graph_options, graph_args, os_fail, run, say, text_bytes, write_output

PROG = "flamefold record"

DESCRIPTION = """\
Profile a command with `perf record` (call graphs, 99 samples a second by default), then draw
its flame graph (or write folded stacks with --folded). The capture goes to a temporary file,
removed afterwards, unless --perf-data names a file to keep. With -a (every CPU) or -p PID and
no command, it records until Ctrl-C. The exit status is the command's."""

EPILOG = """\
examples:
  flamefold record -o build.svg -- make -j8
  flamefold record -F 999 --folded -o app.folded -- ./app --input big.json
  sudo flamefold record -a -o machine.svg -- sleep 10
  flamefold record -p 1234 --perf-data app.data -o app.svg      # Ctrl-C to stop

Java: run it with -XX:+PreserveFramePointer and write a perf map (-XX:+UnlockDiagnosticVMOptions
-XX:+DumpPerfMapAtExit) so its JIT frames get names; Node: --perf-basic-prof."""

INSTALL = "apt-get install linux-perf (Debian; linux-tools-$(uname -r) on Ubuntu, perf on Fedora)"
PARANOID = "/proc/sys/kernel/perf_event_paranoid"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``record`` command to ``flamefold``'s subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="perf record a command, then draw its flame graph",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("recording (perf record)")
    g.add_argument("-F", "--freq", metavar="HZ", type=int, default=99, help="samples a second (default 99)")
    who = g.add_mutually_exclusive_group()
    who.add_argument("-a", "--all-cpus", action="store_true", help="every process on the machine (system-wide)")
    who.add_argument("-p", dest="record_pid", metavar="PID", help="an already running process (PID, or PID,PID...)")
    g.add_argument("-g", dest="callgraph", action="store_true", default=True, help="record call graphs (the default)")
    g.add_argument("--no-g", dest="callgraph", action="store_false", help="leaf functions only, no call graphs")
    g.add_argument("-e", "--event", metavar="EVENT", help="the event to sample (perf list), e.g. cpu-clock; default perf's (cycles)")
    g.add_argument("--perf-data", metavar="FILE", help="keep the capture in FILE (read it again with flamefold graph FILE)")
    g.add_argument("--perf", metavar="PATH", default=None, help="the perf program (default: perf on PATH)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the SVG (or folded stacks) here instead of standard output")
    p.add_argument("--folded", action="store_true", help="write folded stacks instead of an SVG")
    add_graph_options(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run and profile")
    p.set_defaults(command_parser=p, command_run=run_command)
    return p


def _paranoid() -> Optional[int]:
    try:
        with open(PARANOID) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _not_permitted(system_wide: bool) -> Optional[str]:
    """Why perf_event_paranoid stops this user, or None (root and CAP_PERFMON may always)."""
    if os.geteuid() == 0:
        return None
    level = _paranoid()
    if level is None:
        return None
    need = -1 if system_wide else 2
    if level <= need:
        return None
    what = "system-wide recording (-a)" if system_wide else "recording"
    return (
        f"{what} is not permitted: {PARANOID} is {level}; as root run "
        f"`sysctl kernel.perf_event_paranoid={need}` (or record as root)"
    )


def _runnable(prog: str) -> bool:
    if "/" in prog:
        return os.path.isfile(prog) and os.access(prog, os.X_OK)
    return shutil.which(prog) is not None


def _perf_command(args: argparse.Namespace, perf: str, data: str, cmd: List[str]) -> List[str]:
    argv = [perf, "record", "-o", data, "-F", str(args.freq)] + (["-q"] if args.quiet else [])
    if args.callgraph:
        argv.append("-g")
    if args.event:
        argv += ["-e", args.event]
    if args.all_cpus:
        argv.append("-a")
    if args.record_pid:
        argv += ["-p", args.record_pid]
    if cmd:
        argv += ["--", *cmd]
    return argv


def _record(argv: List[str]) -> int:
    """Runs perf record; Ctrl-C stops the recording (perf writes what it has), not flamefold."""
    try:
        child = subprocess.Popen(argv)
    except OSError as e:
        raise os_fail(e, argv[0]) from None
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, old)


def _status_text(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def collapse_capture(perf: str, data: str, c: CollapseOptions) -> Profile:
    """The folded stacks of a perf.data file: read directly when this build of the core can
    (its magic bytes), else through `perf script`."""
    from .. import _flamefold

    kw = c.native()
    if getattr(_flamefold, "PERF_DATA", False):  # routed by magic bytes in this build
        return _flamefold.collapse_perf(data, **kw)
    script = subprocess.Popen([perf, "script", "-i", data], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert script.stdout is not None and script.stderr is not None
    try:
        profile = _flamefold.collapse_perf(script.stdout, **kw)
    finally:
        script.stdout.close()
        err = script.stderr.read().decode("utf-8", "replace").strip()
        script.stderr.close()
        script.wait()
    if script.returncode != 0:
        raise Fail(f"perf script -i {data} failed: {err.splitlines()[-1] if err else _status_text(script.returncode)}")
    return profile


_JIT = {
    "java": "run java with -XX:+PreserveFramePointer and write a perf map "
    "(-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit, JDK 17+; or perf-map-agent) "
    "so JIT-compiled frames get names",
    "node": "run node with --perf-basic-prof (and --interpreted-frames-native-stack) "
    "so JavaScript frames get names",
}


def jit_hints(profile: Profile) -> List[str]:
    """Hints for Java and Node processes whose samples are mostly unnamed frames."""
    counts: Dict[str, Tuple[int, int]] = {}
    for stack, n in profile.items():
        root, _, rest = stack.partition(";")
        comm = re.sub(r"-[0-9]+(/[0-9]+)?$", "", root)
        kind = "java" if comm == "java" or comm.startswith("java") else "node" if comm in ("node", "nodejs") else None
        if kind is None:
            continue
        unknown = "[unknown]" in rest or "/tmp/perf-" in rest
        total, bad = counts.get(kind, (0, 0))
        counts[kind] = (total + n, bad + (n if unknown else 0))
    hints = []
    for kind, (total, bad) in sorted(counts.items()):
        if total >= 20 and bad * 5 >= total:
            hints.append(f"{100 * bad // total}% of the {kind} samples have [unknown] frames: {_JIT[kind]}")
    return hints


def run_command(args: argparse.Namespace) -> int:
    """Runs ``flamefold record`` with parsed arguments."""
    p: argparse.ArgumentParser = args.command_parser
    o, c = graph_args(p, args, DEFAULT_TITLE)
    cmd: List[str] = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd and not (args.all_cpus or args.record_pid):
        p.error("no command to record: flamefold record [OPTIONS] -- CMD ... (or -a, or -p PID)")
    if args.freq < 1:
        p.error("-F must be at least 1")
    if c.inline or c.srcline:
        p.error("--inline and --srcline need `perf script`: record with --perf-data FILE, then perf script -i FILE -F+srcline | flamefold graph")

    def body() -> int:
        perf = args.perf or shutil.which("perf")
        if perf is None:
            raise Fail(f"perf is not installed: {INSTALL}")
        why = _not_permitted(bool(args.all_cpus))
        if why:
            raise Fail(why)
        if cmd and not _runnable(cmd[0]):
            raise Fail(f"{cmd[0]}: command not found" if "/" not in cmd[0] else f"{cmd[0]}: not an executable file")
        keep = args.perf_data is not None
        if keep:
            data = args.perf_data
        else:
            fd, data = tempfile.mkstemp(prefix="flamefold-", suffix=".data")
            os.close(fd)
        try:
            return _record_and_draw(args, o, c, perf, data, cmd)
        finally:
            if not keep:
                for name in (data, data + ".old"):
                    try:
                        os.unlink(name)
                    except OSError:
                        pass

    return run(PROG, body)


def _record_and_draw(args: argparse.Namespace, o: Any, c: CollapseOptions, perf: str, data: str, cmd: List[str]) -> int:
    from ..graph import draw, encode

    status = _record(_perf_command(args, perf, data, cmd))
    what = "the command" if cmd else "perf record"
    try:
        size = os.path.getsize(data)
    except OSError:
        size = 0
    if size == 0:
        why = _not_permitted(bool(args.all_cpus))
        raise Fail(f"perf record wrote no capture ({_status_text(status)})" + (f": {why}" if why else ""))
    try:
        profile = collapse_capture(perf, data, c)
    except ParseError as e:
        if status != 0:  # perf said why on stderr
            raise Fail(f"perf record failed ({_status_text(status)}): no capture to draw") from None
        raise Fail(f"{data}: {e}") from None
    if status != 0:
        say(PROG, "note", f"{what} {_status_text(status)}")
    if not args.quiet:
        for line, msg in profile.warnings:
            say(PROG, "warning", f"line {line}: {msg}" if line else msg)
        for hint in jit_hints(profile):
            say(PROG, "hint", hint)
    if args.folded:
        out = text_bytes(profile.to_folded())
    else:
        drawn = draw([profile], o)
        if not args.quiet or drawn.empty:
            for _, _, msg in drawn.warnings:
                say(PROG, "error" if drawn.empty and msg == "no stack counts found" else "warning", msg)
        out = encode(drawn.svg, o.encoding)
    written = write_output(args.output, out)
    if written != 0:
        return written
    if status < 0:
        return 128 - status
    return status
