"""perf.data read directly against `perf script | flamefold` and `perf script | inferno`, in one run.

    pip install '.[bench]' && cargo install inferno
    benches/record_captures.sh          # or: FLAMEFOLD_PERF_DATA=/path/to/X.data
    python -m pytest benches/bench_perf_data.py -s

The capture: `wide.data` of benches/record_captures.sh, a system-wide `perf record -F 2999 -a -g`
of 20 s over a release build (or any perf.data named by $FLAMEFOLD_PERF_DATA). Symbols are
resolved on this machine, so the capture must be recorded here. The commands run round-robin
($FLAMEFOLD_BENCH_ROUNDS rounds, default 7) so that load from elsewhere falls on all of them
alike; the figures are medians of wall time, and the largest peak RSS by GNU time (of the
collapser, for the pipelines); the page cache is warm.
"""

import os
import pathlib
import statistics
import subprocess
import sys
import time

import pytest

from conftest import CAPTURES, tool

BASH = "/bin/bash"
ROUNDS = int(os.environ.get("FLAMEFOLD_BENCH_ROUNDS", "7"))


def capture() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("FLAMEFOLD_PERF_DATA", CAPTURES / "wide.data"))
    if not path.exists():
        pytest.fail(f"{path} not found: record it with benches/record_captures.sh (root, linux-perf) or set FLAMEFOLD_PERF_DATA")
    return path


def run(script, rss_file):
    """Wall seconds of a bash pipeline, and the peak RSS (KiB) GNU time wrote to $RSS."""
    t = time.perf_counter()
    subprocess.run([BASH, "-o", "pipefail", "-c", script], env={**os.environ, "RSS": str(rss_file)}, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    return wall, int(rss_file.read_text().split()[-1])


def test_perf_data_vs_perf_script(benchmark):
    data = capture()
    size = data.stat().st_size
    ff = tool("flamefold")
    inferno = tool("inferno-collapse-perf")
    perf = tool("perf")
    gnu_time = "/usr/bin/time -f %M -o $RSS"
    text = subprocess.run([perf, "script", "-i", str(data)], capture_output=True, check=True).stdout
    samples = sum(1 for line in text.splitlines() if line and not line[:1].isspace())
    direct_out = subprocess.run([ff, "collapse", "-q", str(data)], capture_output=True, check=True).stdout
    script_out = subprocess.run([ff, "collapse", "-q", "-"], input=text, capture_output=True, check=True).stdout
    commands = {
        "perf.data direct": f"{gnu_time} {ff} collapse -q {data} -o /dev/null",
        "perf script | flamefold": f"{perf} script -i {data} 2>/dev/null | {gnu_time} {ff} collapse -q - -o /dev/null",
        "perf script | inferno": f"{perf} script -i {data} 2>/dev/null | {gnu_time} {inferno} >/dev/null",
        "perf script > /dev/null": f"{gnu_time} {perf} script -i {data} 2>/dev/null >/dev/null",
    }
    walls = {name: [] for name in commands}
    rss = dict.fromkeys(commands, 0)
    rss_file = pathlib.Path(f"/tmp/flamefold-bench-rss-{os.getpid()}")
    for _ in range(ROUNDS):
        for name, script in commands.items():
            wall, kib = run(script, rss_file)
            walls[name].append(wall)
            rss[name] = max(rss[name], kib)
    rss_file.unlink()
    benchmark.pedantic(lambda: subprocess.run([ff, "collapse", "-q", str(data), "-o", "/dev/null"], check=True), rounds=1, iterations=1)
    ours, theirs = set(direct_out.splitlines()), set(script_out.splitlines())
    print(f"\ninput: {data} ({size / 1e6:,.1f} MB perf.data, {samples:,} samples, {len(text) / 1e6:,.0f} MB of perf script text)")
    print(f"  {ROUNDS} rounds, round-robin; median wall, min-max, largest peak RSS")
    for name in commands:
        w = walls[name]
        print(f"  {name:26s} {statistics.median(w):7.3f} s  ({min(w):.3f}-{max(w):.3f})  peak RSS {rss[name] / 1024:7.1f} MiB")
    direct = statistics.median(walls["perf.data direct"])
    for other in ("perf script | flamefold", "perf script | inferno"):
        ratios = sorted(b / a for a, b in zip(walls["perf.data direct"], walls[other]))
        print(f"  direct vs {other}: {statistics.median(walls[other]) / direct:5.1f}x faster (per round {ratios[0]:.1f}x-{ratios[-1]:.1f}x)")
    print(f"  folded lines the same as perf script | flamefold: {len(ours & theirs)} of {len(theirs)} ({len(ours)} direct)")
    print(f"  python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    assert rss["perf.data direct"] < 100 * 1024, f"peak RSS {rss['perf.data direct'] / 1024:.0f} MiB, over 100 MiB"
