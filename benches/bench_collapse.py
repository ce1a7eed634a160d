"""Collapse throughput against inferno-collapse-perf and `wc -l`, measured in one run.

    pip install '.[bench]' && cargo install inferno
    python -m pytest benches/bench_collapse.py -s --benchmark-disable-gc
    FLAMEFOLD_BASELINE=/path/to/old/stackcollapse-perf python -m pytest benches/bench_collapse.py -s

Inputs: the real captures of benches/record_captures.sh (a release build; Java, Node and CPython
side by side; both system-wide), then the corpus captures repeated to size, then the same with
every callchain made unique. Every command runs FLAMEFOLD_BENCH_ROUNDS times (default 7),
round-robin, and the medians are reported (the machines are shared and noisy): wall and CPU time,
peak RSS. FLAMEFOLD_CAPTURES names the folder of the real captures.
"""

import os
import statistics
import subprocess
import time

import pytest

import flamefold
from conftest import corpus_unit, real_capture, tool

RESULTS = []


ROUNDS = int(os.environ.get("FLAMEFOLD_BENCH_ROUNDS", "7"))


def run_once(cmd):
    """Wall seconds, CPU seconds (user + system) and peak RSS in KiB (GNU time) of one run."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - t
    rss, user, sys_ = r.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(sys_), int(rss)


def interleaved(rows, rounds=ROUNDS):
    """Each command `rounds` times, round-robin (so all see the same machine): per command the
    median wall time, the median CPU time and the largest peak RSS."""
    runs = {name: [] for name in rows}
    for _ in range(rounds):
        for name, cmd in rows.items():
            runs[name].append(run_once(cmd))
    return {name: (statistics.median(w for w, _, _ in r), statistics.median(c for _, c, _ in r), max(m for _, _, m in r)) for name, r in runs.items()}


def count_samples(path):
    """Samples in a capture: header lines (a line in column 0 that is not a comment)."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if line[:1] not in (b"\t", b" ", b"\n", b"#", b"\r", b""):
                n += 1
    return n


@pytest.mark.parametrize("which", ["real:build", "real:jit", "big_capture", "unique_capture"])
def test_collapse_vs_inferno(which, request, benchmark):
    if which.startswith("real:"):
        big_capture = real_capture(which[5:])
    else:
        big_capture = request.getfixturevalue(which)
    size = big_capture.stat().st_size
    ff = tool("stackcollapse-perf")
    inferno = tool("inferno-collapse-perf")
    subprocess.run(["cat", str(big_capture)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    cmds = {
        "wc -l": ["wc", "-l", str(big_capture)],
        "flamefold 1 thread": [ff, "-q", "--threads", "1", str(big_capture)],
        "flamefold all cores": [ff, "-q", str(big_capture)],
        "inferno -n 1": [inferno, "-q", "-n", "1", str(big_capture)],
        "inferno all cores": [inferno, "-q", str(big_capture)],
    }
    base = os.environ.get("FLAMEFOLD_BASELINE")  # another build's stackcollapse-perf, to compare
    if base:
        cmds["baseline 1 thread"] = [base, "-q", "--threads", "1", str(big_capture)]
        cmds["baseline all cores"] = [base, "-q", str(big_capture)]
        for args in (["--threads", "1"], []):
            new_out = subprocess.run([ff, "-q", *args, str(big_capture)], capture_output=True, check=True).stdout
            old_out = subprocess.run([base, "-q", *args, str(big_capture)], capture_output=True, check=True).stdout
            print(f"\n  output {'same as' if new_out == old_out else 'DIFFERS from'} the baseline's ({' '.join(args) or 'all cores'})")
    rows = interleaved(cmds)
    benchmark.pedantic(lambda: flamefold.collapse_perf(big_capture, threads=1), rounds=1, iterations=1)
    print(f"\ninput: {which} ({big_capture}), {size / 1e6:,.0f} MB, {count_samples(big_capture):,} samples; "
          f"medians of {ROUNDS} interleaved runs, load {os.getloadavg()[0]:.1f}")
    for name, (t, cpu, rss) in rows.items():
        print(f"  {name:22s} {t:7.3f} s  cpu {cpu:6.2f} s  {size / t / 1e6:8,.0f} MB/s  peak RSS {rss / 1024:7.1f} MiB")
    one, allc = rows["flamefold 1 thread"][0], rows["flamefold all cores"][0]
    print(f"  1 thread vs inferno -n 1:      {rows['inferno -n 1'][0] / one:5.2f}x faster (CPU {rows['inferno -n 1'][1] / max(rows['flamefold 1 thread'][1], 1e-3):5.2f}x)")
    print(f"  all cores vs inferno:          {rows['inferno all cores'][0] / allc:5.2f}x faster")
    print(f"  all cores vs own 1 thread:     {one / allc:5.2f}x")
    print(f"  1 thread vs wc -l:             {one / rows['wc -l'][0]:5.2f}x the time")
    assert one < rows["inferno -n 1"][0] and allc < rows["inferno all cores"][0]


def test_corpus_cases_time(benchmark):
    """All collapse corpus cases in-process (what the Perl takes roughly 114 x 50 ms for)."""
    import conftest

    cases = []
    manifest = conftest.DATA.parent.parent / "collapse" / "manifest.tsv"
    for line in manifest.read_text().splitlines():
        if line and not line.startswith("#"):
            inp, args, _exp, _src = line.split("\t")
            cases.append((conftest.DATA.parent / inp, args.split()))

    def run_all():
        for path, args in cases:
            opts = {a.lstrip("-"): True for a in args if a != "--all"}
            if "--all" in args:
                opts.update(kernel=True, jit=True)
            flamefold._flamefold.collapse_perf(path, **opts)

    benchmark.pedantic(run_all, rounds=5, iterations=1)
    print(f"\n114 corpus cases: {benchmark.stats['min'] * 1000:.0f} ms in all")


def test_bounded_memory_from_pipe(benchmark):
    """4 GiB of perf script text from a pipe: peak RSS stays flat (it depends on distinct stacks)."""
    unit = corpus_unit()
    n = 4 * 2**30 // len(unit)
    ff = tool("stackcollapse-perf")
    py = f"import sys\nu=open(sys.argv[1],'rb').read()\nw=sys.stdout.buffer\nfor _ in range({n}): w.write(u)"
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".txt") as f:
        f.write(unit)
        f.flush()
        t = time.perf_counter()
        out = subprocess.run(
            f"python3 -c \"{py}\" {f.name} | /usr/bin/time -f %M {ff} -q > /dev/null",
            shell=True, capture_output=True, text=True, check=True, executable="/bin/bash",
        )
        elapsed = time.perf_counter() - t
    rss_kib = int(out.stderr.strip().splitlines()[-1])
    benchmark.extra_info["peak_rss_mib"] = rss_kib / 1024
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n4 GiB from a pipe: {elapsed:.1f} s, peak RSS {rss_kib / 1024:.1f} MiB")
    assert rss_kib < 100 * 1024
