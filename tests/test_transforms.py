"""The advanced flame graphs from Python and the command line: offcpu, hotcold, wakeup (and
chain), cpi, doctor. The real captures of tests/data/transform (SOURCES.md there) are checked
against small computations written here from the raw `perf script` text; a fresh capture is
recorded when perf can be run as root."""

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

import flamefold
from flamefold.cli.advanced import report_text

T = Path(__file__).parent / "data" / "transform"
CPU_ONLY = Path(__file__).parent / "data" / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"


def flamefold_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "flamefold", *map(str, args)], input=stdin, capture_output=True)


def text(name):
    data = (T / name).read_bytes()
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8", "surrogateescape")


# -- an independent reading of the raw text ---------------------------------------------------

def samples(s):
    """(header, block, time in ns) per sample: blocks between blank lines, header first."""
    out = []
    for block in s.split("\n\n"):
        block = block.strip("\n")
        if not block.strip():
            continue
        header = block.split("\n", 1)[0]
        secs, frac = re.search(r" (\d+)\.(\d+): ", header).groups()
        out.append((header, block + "\n\n", int(secs) * 10**9 + int(frac.ljust(9, "0"))))
    return out


def field(header, key):
    m = re.search(rf"(?:^| ){key}=(\S+)", header)
    return m.group(1) if m else None


_stacks = {}


def stack_of(block, **opts):
    """The stack `flamefold collapse` gives one sample."""
    key = (block, tuple(sorted(opts.items())))
    if key not in _stacks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            items = list(flamefold.collapse_perf(block.encode("utf-8", "surrogateescape"), **opts).items())
        _stacks[key] = items[0][0] if items else ""
    return _stacks[key]


def floor_us(ns):
    return {k: v // 1000 for k, v in ns.items() if v >= 1000}


def offcpu_reference(s, states=None, suffix="", **opts):
    """µs per stack: each switch-out of a non-idle thread runs to the next sched_switch that
    switches that thread in, unless the thread is switched out again first."""
    evs = []
    for header, block, t in samples(s):
        if " sched:sched_switch: " in header:
            evs.append((t, int(field(header, "prev_pid")), int(field(header, "next_pid")), field(header, "prev_state"), block))
    ns = defaultdict(int)
    for i, (t0, prev, _, state, block) in enumerate(evs):
        if prev == 0 or (states and not any(c in states for c in state)):
            continue
        nxt = next((e for e in evs[i + 1:] if prev in (e[1], e[2])), None)
        if nxt is None or nxt[2] != prev:
            continue
        frames = stack_of(block, **opts).split(";")
        ns[";".join([frames[0]] + [f + suffix for f in frames[1:]])] += nxt[0] - t0
    return floor_us(ns)


def on_reference(s):
    ns = defaultdict(int)
    for header, block, _ in samples(s):
        m = re.search(r"\s(\d+)\s+cpu-clock", header)
        if m:
            ns[stack_of(block)] += int(m.group(1))
    return floor_us(ns)


def wakeup_reference(s):
    """µs per blocked stack + `--` + the waker's stack reversed, `_[w]` on each frame: from a
    switch-out to the first later event about that thread, when it is a wakeup of it."""
    evs = []  # (time, switched out, switched in, woken, block)
    for header, block, t in samples(s):
        if " sched:sched_switch: " in header:
            evs.append((t, int(field(header, "prev_pid")), int(field(header, "next_pid")), None, block))
        elif " sched:sched_wakeup: " in header:
            evs.append((t, None, None, int(field(header, "pid")), block))
    ns = defaultdict(int)
    for i, (t0, prev, _, _, block) in enumerate(evs):
        if not prev:
            continue
        nxt = next((e for e in evs[i + 1:] if prev in (e[1], e[2], e[3])), None)
        if nxt is None or nxt[3] != prev:
            continue
        waker = [f + "_[w]" for f in reversed(stack_of(nxt[4]).split(";"))]
        ns[f"{stack_of(block)};--;{';'.join(waker)}"] += nxt[0] - t0
    return floor_us(ns)


def quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **kw)


# -- the API ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["offcpu-ns.txt", "offcpu-us.txt", "offcpu-pidtid.txt", "wakeup.txt"])
def test_offcpu_microseconds_per_stack(name):
    s = text(name)
    for states, opts in [(None, {}), ("S,D", {}), (None, {"tid": True, "kernel": True})]:
        want = offcpu_reference(s, states=states, **opts)
        assert want
        p = quiet(flamefold.offcpu, T / name, states=states, **opts)
        assert dict(p.items()) == want, (name, states, opts)
        t = quiet(flamefold.transform, "offcpu", T / name, states=states, **opts)
        assert t.folded.decode() == p.to_folded()  # the core's bytes, as the Profile holds them
        assert t.summary["total_us"] == p.total == sum(want.values())
    # the workload blocks in usleep, the pipe read, the mutex and fsync
    folded = quiet(flamefold.offcpu, T / name).to_folded()
    for what in ("main;clock_nanosleep", "reader_thread;read;", "futex_wait;", "main;fsync;"):
        assert what in folded


def test_offcpu_notes_and_sources():
    data = (T / "offcpu-ns.txt").read_bytes()
    with pytest.warns(flamefold.ParseWarning, match=r"^10 threads were still off-CPU when the capture ended"):
        p = flamefold.offcpu(data)
    t = quiet(flamefold.transform, "offcpu", data)
    assert t.summary["unclosed"] == 10 and t.summary["intervals"] == 38
    assert (0, "10 threads were still off-CPU when the capture ended: those intervals count nothing") in t.warnings
    # gzip bytes, a binary file object, min_us
    assert quiet(flamefold.offcpu, gzip.compress(data)) == p
    assert quiet(flamefold.offcpu, io.BytesIO(data)) == p
    big = quiet(flamefold.offcpu, data, min_us=10000)
    assert 0 < big.total < p.total
    seen = []
    quiet(flamefold.offcpu, data, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (len(data), len(data))


def test_a_capture_without_switches_says_what_to_record():
    with pytest.warns(flamefold.ParseWarning, match=r"no sched:sched_switch samples \(record them: perf record -e sched:sched_switch -a -g"):
        p = flamefold.offcpu(CPU_ONLY)
    assert len(p) == 0
    with pytest.raises(ValueError, match="offcpu does not take depth"):
        flamefold.transform("offcpu", CPU_ONLY, depth=2)
    with pytest.raises(ValueError, match="unknown transform"):
        flamefold.transform("oncpu", CPU_ONLY)
    with pytest.raises(FileNotFoundError):
        flamefold.offcpu(T / "missing.txt")


def test_hotcold_is_on_plus_off():
    s = text("hotcold.txt.gz")
    on, off = on_reference(s), offcpu_reference(s, suffix="_[o]")
    assert on and off
    want = dict(on)
    for k, v in off.items():
        want[k] = want.get(k, 0) + v
    p = quiet(flamefold.hotcold, T / "hotcold.txt.gz")
    assert dict(p.items()) == want
    t = quiet(flamefold.transform, "hotcold", T / "hotcold.txt.gz")
    summ = t.summary
    assert (summ["on_us"], summ["off_us"]) == (sum(on.values()), sum(off.values()))
    assert p.total == summ["total_us"] == summ["on_us"] + summ["off_us"]
    assert summ["off_us"] == quiet(flamefold.transform, "offcpu", T / "hotcold.txt.gz").summary["total_us"]
    assert t.folded.decode() == p.to_folded()


def test_wakeup_joins_the_right_waker():
    s = text("wakeup.txt")
    want = wakeup_reference(s)
    p = quiet(flamefold.wakeup, T / "wakeup.txt")
    assert dict(p.items()) == want
    # the pipe reader is woken by the main thread's write(), usleep by the timer interrupt
    folded = p.to_folded()
    assert re.search(r"reader_thread;read;.*;--;.*anon_pipe_write_\[w\];.*__GI___libc_write_\[w\];main_\[w\];.*workload_\[w\] ", folded)
    assert re.search(r";main;clock_nanosleep@GLIBC_2.2.5;.*;--;.*hrtimer_wakeup_\[w\];", folded)
    # a chain graph extends each off-wake stack with the waker's waker
    chain = quiet(flamefold.wakeup, T / "wakeup.txt", chain=True)
    assert any(k.count(";--;") > 1 for k, _ in chain.items())
    offwake = {k.split(";--;")[0] + ";--;" + k.split(";--;")[1] for k, _ in p.items()}
    assert all(";--;".join(k.split(";--;")[:2]) in offwake for k, v in chain.items() if v > 1)
    assert quiet(flamefold.transform, "wakeup", T / "wakeup.txt", depth=4).depth == 4


CPI = """\
app 10 [0] 1.000000: 3000 cycles: \n\tff spin (/app)\n\tff main (/app)\n
app 10 [0] 1.000100: 9000 instructions: \n\tff spin (/app)\n\tff main (/app)\n
app 10 [0] 1.000200: 8000 cycles: \n\tff stall (/app)\n\tff main (/app)\n
app 10 [0] 1.000300: 2000 instructions: \n\tff stall (/app)\n\tff main (/app)\n
app 10 [0] 1.000400: 1000 cycles:u: \n\tff even (/app)\n\tff main (/app)\n
app 10 [0] 1.000500: 1000 instructions:u: \n\tff even (/app)\n\tff main (/app)\n
"""


def test_cpi_is_a_diff_of_instructions_and_cycles(tmp_path):
    d = quiet(flamefold.cpi, CPI.encode())
    assert isinstance(d, flamefold.Diff)
    assert d.items() == [("app;main;even", 1000, 1000), ("app;main;spin", 9000, 3000), ("app;main;stall", 2000, 8000)]
    assert d.totals == (12000, 12000)
    t = quiet(flamefold.transform, "cpi", CPI.encode(), columns="instructions-cycles")
    assert t.folded == b"app;main;even 1000 1000\napp;main;spin 9000 3000\napp;main;stall 2000 8000\n"
    assert t.summary == {"cycles_samples": 3, "instructions_samples": 3, "cycles": 12000, "instructions": 12000, "other_events": 0}
    svg = flamefold.transforms.flamegraph(t)
    fill = dict(re.findall(r"<title>(\w+) \([^<]*</title><rect [^>]*fill=\"(rgb\([0-9,]+\))\"", svg))
    r, g, b = map(int, fill["spin"][4:-1].split(","))
    assert r == 255 and b < 255  # instruction-heavy: red
    r, g, b = map(int, fill["stall"][4:-1].split(","))
    assert b == 255 and r < 255  # cycle-heavy: blue
    assert fill["even"] == "rgb(255,255,255)"
    assert ">CPI Flame Graph</text>" in svg and "3,000 cycles" in svg
    with pytest.warns(flamefold.ParseWarning, match="no instructions samples"):
        flamefold.cpi(CPI.replace("instructions", "branches").encode())


DOCTOR = """\
app 10 [0] 1.0: 1 cycles: \n\tff work (/app)\n\tff main (/app)\n\tff __libc_start_call_main (/lib/libc.so.6)\n
app 10 [0] 1.1: 1 cycles: \n\tff work (/app)\n\tff main (/app)\n
app 10 [0] 1.2: 1 cycles: \n\tff [unknown] (/usr/lib/libstripped.so)\n\tff main (/app)\n\tff _start (/app)\n
java 20 [0] 1.3: 1 cycles: \n\tff [unknown] ([unknown])\n\tff thread_native_entry (/usr/lib/jvm/lib/server/libjvm.so)\n\tff start_thread (/lib/libc.so.6)\n
"""


def test_doctor_finds_and_fixes():
    r = flamefold.doctor(DOCTOR.encode())
    assert r.samples == 4 and r.broken == 1 and r.with_unknown == 2
    kinds = {f.kind: f for f in r.findings}
    assert set(kinds) == {"missing_symbols", "jit_without_map", "broken_stacks"}
    assert "-dbgsym" in kinds["missing_symbols"].fix and "/usr/lib/libstripped.so" in kinds["missing_symbols"].what
    assert "perf-map-agent" in kinds["jit_without_map"].fix
    assert "-fno-omit-frame-pointer" in kinds["broken_stacks"].fix
    assert r.missing_symbols == [("/usr/lib/libstripped.so", 1, 1)]
    assert r.text == r.render(10) and "fix: " in r.text
    assert flamefold.doctor(DOCTOR.encode(), max_stack=3).at_limit == 3
    # the terminal text: a paragraph per finding, control characters escaped
    out = report_text("findings:\n- a (1): x\x1b[31m\n  fix: y\n- b (2): z\n  fix: w\n")
    assert out == "findings:\n- a (1): x\\x1b[31m\n  fix: y\n\n- b (2): z\n  fix: w\n"


# -- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind, capture, title, colors", [
    ("offcpu", "offcpu-ns.txt", "Off-CPU Time Flame Graph", "io"),
    ("hotcold", "hotcold.txt.gz", "Hot/Cold Flame Graph", "hotcold"),
    ("wakeup", "wakeup.txt", "Off-Wake Time Flame Graph", "wakeup"),
])
def test_commands_draw_and_fold(kind, capture, title, colors, tmp_path):
    out = tmp_path / "g.svg"
    r = flamefold_cli(kind, T / capture, "-o", out)
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    assert f">{title}</text>" in svg and " us, " in svg
    err = r.stderr.decode()
    assert re.search(rf"^flamefold {kind}: note: [0-9]+ threads were still off-CPU when the capture ended", err, re.M)
    assert all(line.startswith(f"flamefold {kind}: ") for line in err.splitlines())
    folded = flamefold_cli(kind, "--folded", T / capture)
    assert folded.stdout == quiet(flamefold.transform, kind, T / capture).folded
    assert flamefold_cli(kind, "-q", "--folded", T / capture).stderr == b""
    # the graph is flamefold.flamegraph's of the Profile with the command's defaults
    t = quiet(flamefold.transform, kind, T / capture)
    assert svg == quiet(flamefold.flamegraph, t.profile(), title=title, colors=colors, countname="us")


def test_chain_and_cpi_commands(tmp_path):
    r = flamefold_cli("wakeup", "--chain", "--depth", "3", T / "wakeup.txt", "-o", tmp_path / "c.svg")
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "c.svg").read_text()
    assert ">Chain Graph</text>" in svg and "_[w]" not in svg  # waker marks drive the colours only
    assert flamefold_cli("wakeup", "--depth", "3", T / "wakeup.txt").returncode == 2  # --depth goes with --chain
    cap = tmp_path / "cpi.txt"
    cap.write_text(CPI)
    r = flamefold_cli("cpi", cap)
    assert r.returncode == 0 and b">CPI Flame Graph</text>" in r.stdout
    assert "CPI 1.00" in r.stderr.decode()
    assert flamefold_cli("cpi", "--folded", cap).stdout == b"app;main;even 1000 1000\napp;main;spin 9000 3000\napp;main;stall 2000 8000\n"


def test_command_errors_are_one_line(tmp_path):
    r = flamefold_cli("offcpu", CPU_ONLY)
    assert r.returncode == 1
    assert r.stderr.decode() == f"flamefold offcpu: error: {CPU_ONLY}: no sched:sched_switch samples (record them: perf record -e sched:sched_switch -a -g -- sleep 10)\n"
    r = flamefold_cli("wakeup", T / "offcpu-ns.txt")
    assert r.returncode == 1 and "no sched:sched_wakeup samples" in r.stderr.decode() and "-e sched:sched_wakeup" in r.stderr.decode()
    r = flamefold_cli("offcpu", tmp_path / "nope.txt")
    assert r.returncode == 1 and r.stderr.decode() == f"flamefold offcpu: error: {tmp_path / 'nope.txt'}: No such file or directory\n"
    r = flamefold_cli("offcpu", "--state", "S;D", T / "offcpu-ns.txt")
    assert r.returncode == 2 and "prev_state letters" in r.stderr.decode()
    binary = tmp_path / "perf.data"
    binary.write_bytes(b"PERFILE2" + bytes(range(256)) * 8)
    r = flamefold_cli("doctor", binary)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and str(binary) in r.stderr.decode()


def test_doctor_command(tmp_path):
    cap = tmp_path / "d.txt"
    cap.write_text(DOCTOR)
    r = flamefold_cli("doctor", cap)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("samples: 4\n") and "\n\n- jit_without_map" in out and "  fix: " in out
    assert out == report_text(flamefold.doctor(DOCTOR.encode()).render(10))


# -- a fresh capture ----------------------------------------------------------------------------

def test_fresh_capture_shows_sleep_off_cpu(tmp_path):
    perf = shutil.which("perf")
    if perf is None or os.geteuid() != 0:
        pytest.skip("perf is missing or not root: a fresh sched_switch capture needs `perf record -a` as root")
    data = tmp_path / "perf.data"
    cap = tmp_path / "cap.txt"
    # A system-wide capture of a live machine: on a busy one perf may lose the events of the
    # sleep's switches (its buffers overflow), so it gets three tries; a fault of flamefold's
    # fails all three.
    for attempt in range(3):
        rec = subprocess.run([perf, "record", "-m", "1024", "-e", "sched:sched_switch", "-a", "-g", "-o", data, "--", "sleep", "0.3"], capture_output=True)
        if rec.returncode != 0:
            pytest.skip(f"perf record cannot record sched_switch here: {rec.stderr.decode()[-200:]}")
        script = subprocess.run([perf, "script", "-i", data], capture_output=True, check=True).stdout
        cap.write_bytes(script)
        r = flamefold_cli("offcpu", "--folded", cap)
        assert r.returncode == 0, r.stderr
        sleeping = [line for line in r.stdout.decode().splitlines() if line.startswith("sleep;")]
        if sleeping and max(int(line.rsplit(" ", 1)[1]) for line in sleeping) > 200_000:  # the 0.3 s sleep, in µs
            break
    else:
        raise AssertionError(f"no 0.3 s off-CPU stack of sleep in 3 captures; the last: {sleeping!r}, perf said {rec.stderr.decode()[-300:]!r}")
    svg = flamefold_cli("offcpu", cap)
    assert svg.returncode == 0 and b"<title>sleep (" in svg.stdout
