"""perf.data read directly equals `perf script -i X.data | flamefold collapse` byte for byte.

Each test records a real capture with `perf record` (skipped, with the reason, where perf is
missing or not permitted), then compares `flamefold.collapse_perf("X.data")` (the perf.data
path, chosen by the file's magic bytes) with `flamefold.collapse_perf(perf script text)`.
The Rust side has the same check without Python: tests/data/perf_data/compare.sh.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import flamefold

HERE = pathlib.Path(__file__).parent / "data" / "perf_data"
PERF = shutil.which("perf")


def _perf_usable(tmp: pathlib.Path) -> str:
    """Why perf cannot record here, or '' when it can."""
    if PERF is None:
        return "perf is not installed (apt-get install linux-perf)"
    out = tmp / "probe.data"
    r = subprocess.run([PERF, "record", "-q", "-o", str(out), "--", "true"], capture_output=True, text=True)
    if r.returncode != 0 or not out.exists():
        return f"perf record is not permitted here (perf_event_paranoid?): {r.stderr.strip()[:200]}"
    return ""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("perf_data")
    why = _perf_usable(d)
    if why:
        pytest.skip(why)
    return d


def _record(workdir: pathlib.Path, name: str, args, cmd) -> pathlib.Path:
    out = workdir / f"{name}.data"
    if not out.exists():
        subprocess.run([PERF, "record", "-q", *args, "-o", str(out), "--", *cmd], check=True, capture_output=True, cwd=workdir)
    return out


def _script_text(data: pathlib.Path) -> bytes:
    return subprocess.run([PERF, "script", "-i", str(data)], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def hot(workdir):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    exe = workdir / "hot"
    subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-o", str(exe), str(HERE / "hot.c")], check=True)
    return _record(workdir, "hot", ["-F", "999", "-g"], [str(exe), "100"])


OPTIONS = [{}, {"pid": True}, {"tid": True}, {"kernel": True}, {"addrs": True}, {"kernel": True, "jit": True}]
IDS = ["default", "pid", "tid", "kernel", "addrs", "all"]


@pytest.mark.parametrize("opts", OPTIONS, ids=IDS)
def test_user_and_kernel_frames(hot, opts):
    text = flamefold.collapse_perf(_script_text(hot), **opts).to_folded()
    assert text, "the capture has samples"
    assert flamefold.collapse_perf(str(hot), **opts).to_folded() == text


def test_magic_bytes(hot):
    assert hot.read_bytes()[:8] == b"PERFILE2"


def test_system_wide(workdir, hot):
    """`-a`: every process on the machine. Compared on the test program's own stacks (other
    processes may run binaries whose identical-code-folded aliases perf picks by its tree
    order, a known difference), and in full when FLAMEFOLD_PERF_DATA_STRICT is set."""
    exe = workdir / "hot"
    data = _record(workdir, "system", ["-a", "-g", "-F", "999"], [str(exe), "100"])
    text = flamefold.collapse_perf(_script_text(data)).to_folded()
    direct = flamefold.collapse_perf(str(data)).to_folded()
    if os.environ.get("FLAMEFOLD_PERF_DATA_STRICT"):
        assert direct == text
    mine = [line for line in direct.splitlines() if line.startswith("hot;")]
    theirs = [line for line in text.splitlines() if line.startswith("hot;")]
    assert theirs and mine == theirs


def test_node_perf_map(workdir):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = workdir / "busy.js"
    script.write_text(
        "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n"
        "const t = Date.now(); let x = 0;\n"
        "while (Date.now() - t < 1000) x += fib(20);\n"
        "console.log(x);\n"
    )
    data = _record(workdir, "node", ["-F", "999", "-g"], [node, "--perf-basic-prof", str(script)])
    for opts in ({}, {"jit": True}):
        text = flamefold.collapse_perf(_script_text(data), **opts).to_folded()
        assert "JS:" in text, "the capture has JIT frames from the perf map"
        assert flamefold.collapse_perf(str(data), **opts).to_folded() == text


def test_two_events(workdir, hot):
    """Two events at once: the first event sampled by default, either one with event_filter."""
    exe = workdir / "hot"
    data = _record(workdir, "two", ["-e", "cpu-clock,task-clock", "-F", "999", "-g"], [str(exe), "50"])
    script = _script_text(data)
    for opts in ({}, {"event_filter": "cpu-clock"}, {"event_filter": "task-clock"}):
        text = flamefold.collapse_perf(script, **opts).to_folded()
        assert text
        assert flamefold.collapse_perf(str(data), **opts).to_folded() == text


def test_fork_and_exec(workdir, hot):
    """Processes forked and exec'd during the capture: comms, inherited and replaced maps."""
    exe = workdir / "hot"
    data = _record(workdir, "fork", ["-F", "999", "-g"], ["sh", "-c", f"{exe} 20 >/dev/null; {exe} 20 >/dev/null & {exe} 20 >/dev/null; wait"])
    for opts in ({}, {"tid": True}):
        text = flamefold.collapse_perf(_script_text(data), **opts).to_folded()
        assert flamefold.collapse_perf(str(data), **opts).to_folded() == text


def test_java_perf_map(workdir):
    """Java with frame pointers and the perf map the JVM writes at exit (JDK 17+)."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        pytest.skip("java/javac are not installed")
    src = workdir / "Hot.java"
    src.write_text(
        "public class Hot {\n"
        "  static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n"
        "  public static void main(String[] a) {\n"
        "    long t = System.currentTimeMillis(), x = 0;\n"
        "    while (System.currentTimeMillis() - t < 1500) x += fib(24);\n"
        "    System.out.println(x);\n"
        "  }\n"
        "}\n"
    )
    subprocess.run([javac, "-d", str(workdir), str(src)], check=True)
    flags = ["-XX:+PreserveFramePointer", "-XX:+UnlockDiagnosticVMOptions", "-XX:+DumpPerfMapAtExit"]
    data = _record(workdir, "java", ["-F", "999", "-g"], [java, *flags, "-cp", str(workdir), "Hot"])
    for opts in ({}, {"jit": True}):
        text = flamefold.collapse_perf(_script_text(data), **opts).to_folded()
        assert "Hot.fib" in text, "the capture has JIT frames from the perf map"
        assert flamefold.collapse_perf(str(data), **opts).to_folded() == text


def test_pipe_capture(workdir, hot):
    """`perf record -o -` (pipe mode) saved to a file: read as a pipe."""
    exe = workdir / "hot"
    data = workdir / "pipe.data"
    with open(data, "wb") as out:
        # the program's own output must not land in the stream
        cmd = ["sh", "-c", f"exec {exe} 30 > /dev/null"]
        subprocess.run([PERF, "record", "-q", "-F", "999", "-g", "-o", "-", "--", *cmd], check=True, stdout=out, stderr=subprocess.DEVNULL)
    text = flamefold.collapse_perf(_script_text(data)).to_folded()
    assert text
    assert flamefold.collapse_perf(str(data)).to_folded() == text


def _flamefold(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "flamefold", *args], stdin=stdin, capture_output=True, check=True).stdout


def test_pipe_into_graph_and_diff(workdir, hot):
    """`perf record -o - ... | flamefold graph -` (and `diff A -`): the stream is read as it
    comes, and draws the same bytes as the capture saved from it (tee) read as a file, and as
    `perf script` text of it."""
    exe = workdir / "hot"
    saved = workdir / "tee.data"
    svg = workdir / "pipe.svg"
    record = f"{PERF} record -q -F 999 -g -o - -- sh -c 'exec {exe} 30 > /dev/null' 2>/dev/null"
    cmd = f"{record} | tee {saved} | {sys.executable} -m flamefold graph -q - -o {svg}"
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    assert saved.read_bytes()[:8] == b"PERFILE2"
    drawn = svg.read_bytes()
    assert b"</svg>" in drawn and b"hot" in drawn
    assert drawn == _flamefold("graph", "-q", str(saved))
    with open(saved, "rb") as f:
        assert drawn == _flamefold("graph", "-q", "-", stdin=f)
    text = _script_text(saved)
    assert drawn == subprocess.run([sys.executable, "-m", "flamefold", "graph", "-q", "-"], input=text, capture_output=True, check=True).stdout
    with open(saved, "rb") as f:
        piped = _flamefold("diff", "--folded", str(hot), "-", stdin=f)
    assert piped and piped == _flamefold("diff", "--folded", str(hot), str(saved))
