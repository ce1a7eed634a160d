"""Benchmark: `flamefold graph` against `inferno-flamegraph` on ~130 MB of folded stacks.

Not part of the default test run (testpaths is tests/). Run it on a release build:

    maturin develop -r && pytest benches/bench_graph.py -s

The input (400,000 distinct stacks of real frame names, ~130 MB, written sorted as
stackcollapse-perf writes them) is generated once by gen_folded.py into
$FLAMEFOLD_BENCH_DIR (default: the system temp folder). inferno-flamegraph must be on PATH
or in ~/.cargo/bin (`cargo install inferno`). Both draw with the same minimum width (0.01% of
the total, inferno's default). Reported: median wall time of each, their ratio, peak RSS, SVG
size and frames drawn; the CPU time (user + system, every thread) of each, whose ratio
tells what the machine's load does to the wall times (flamefold reads on two threads only when
a core is idle); and, with one thread, flamefold's peak RSS when the same stacks come
two and four times (260 and 520 MB on a pipe), which must not grow with the input. flamegraph.pl, when on PATH, is timed once too;
otherwise the figure measured for it on this kind of machine (about 9 s) stands in.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gen_folded import generate  # noqa: E402

ROUNDS = int(os.environ.get("FLAMEFOLD_BENCH_ROUNDS", "7"))
PERL_SECONDS = 9.0  # flamegraph.pl on this input, measured on a machine like this one
MINWIDTH = "0.01%"


def _inferno() -> str | None:
    found = shutil.which("inferno-flamegraph")
    home = Path.home() / ".cargo" / "bin" / "inferno-flamegraph"
    return found or (str(home) if home.exists() else None)


@pytest.fixture(scope="module", autouse=True)
def compiled_package() -> None:
    """Byte-compile flamefold as `pip install` does (an editable install under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile its modules on every start)."""
    import compileall

    import flamefold

    compileall.compile_dir(str(Path(flamefold.__file__).parent), quiet=1)


@pytest.fixture(scope="module")
def big_input() -> Path:
    folder = Path(os.environ.get("FLAMEFOLD_BENCH_DIR", tempfile.gettempdir())) / "flamefold-bench"
    path = folder / "graph-130mb-400k.folded"
    if not path.exists():
        generate(path, stacks=400_000, mb=130, seed=1)
    with open(path, "rb") as f:  # into the page cache, for every contender alike
        while f.read(1 << 24):
            pass
    return path


def run(cmd: list[str], stdout: Path, stdin: object = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of one command, its output into `stdout`."""
    elapsed, _, rss = run_cpu(cmd, stdout, stdin)
    return elapsed, rss


def run_cpu(cmd: list[str], stdout: Path, stdin: object = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak RSS (KB) of one command."""
    # GNU time, not wait4's ru_maxrss: a child forked from this big Python process keeps the
    # parent's peak across exec, so every command would seem to use the benchmark's memory
    with open(stdout, "wb") as out:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], stdout=out, stdin=stdin, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - t
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"{cmd[0]} failed: {err}"
    user, system, rss = err.strip().splitlines()[-1].split()
    return elapsed, float(user) + float(system), int(rss)


def flamefold_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flamefold", "graph", "--minwidth", MINWIDTH, *args]


def test_graph_vs_inferno(benchmark, big_input: Path, tmp_path: Path) -> None:
    inferno = _inferno()
    if inferno is None:
        pytest.skip("inferno-flamegraph not found: cargo install inferno")
    ff_svg, inf_svg = tmp_path / "flamefold.svg", tmp_path / "inferno.svg"
    ff_runs: list[tuple[float, float, int]] = []
    inf_runs: list[tuple[float, float, int]] = []
    for _ in range(ROUNDS):  # interleaved, so both see the same machine
        ff_runs.append(run_cpu(flamefold_cmd(str(big_input)), ff_svg))
        inf_runs.append(run_cpu([inferno, str(big_input)], inf_svg))
    benchmark.pedantic(lambda: run(flamefold_cmd(str(big_input)), ff_svg), rounds=1, iterations=1)

    ff_t = statistics.median(t for t, _, _ in ff_runs)
    inf_t = statistics.median(t for t, _, _ in inf_runs)
    ff_cpu = statistics.median(c for _, c, _ in ff_runs)
    inf_cpu = statistics.median(c for _, c, _ in inf_runs)
    ff_rss = max(r for _, _, r in ff_runs)
    inf_rss = max(r for _, _, r in inf_runs)
    ff_size, inf_size = ff_svg.stat().st_size, inf_svg.stat().st_size
    ff_frames = ff_svg.read_text().count("<title>")
    inf_frames = inf_svg.read_text(errors="replace").count("<title>")

    # the same stacks n times on a pipe, one builder: memory follows the distinct stacks (the
    # tree, and from the second pass on the index of its children), not the input. (With N
    # threads each builder holds a tree of the stacks it saw: at most N times this.)
    once_t, once_rss = run(flamefold_cmd("--threads", "1", str(big_input)), tmp_path / "once.svg")
    piped = {}
    for n in (2, 4):
        with subprocess.Popen(["cat", *[str(big_input)] * n], stdout=subprocess.PIPE) as cat:
            piped[n] = run(flamefold_cmd("--threads", "1", "-"), tmp_path / f"x{n}.svg", stdin=cat.stdout)

    perl = shutil.which("flamegraph.pl")
    perl_t = run([perl, str(big_input)], tmp_path / "perl.svg")[0] if perl else PERL_SECONDS

    size_mb = big_input.stat().st_size / 1e6
    info = {
        "input_mb": round(size_mb, 1),
        "flamefold_s": round(ff_t, 3),
        "inferno_s": round(inf_t, 3),
        "speedup_vs_inferno": round(inf_t / ff_t, 2),
        "flamefold_cpu_s": round(ff_cpu, 3),
        "inferno_cpu_s": round(inf_cpu, 3),
        "cpu_ratio_vs_inferno": round(inf_cpu / ff_cpu, 2),
        "rounds": ROUNDS,
        "load_average": round(os.getloadavg()[0], 2),
        "speedup_vs_flamegraph_pl": round(perl_t / ff_t, 1),
        "flamegraph_pl_s": round(perl_t, 2),
        "flamegraph_pl_measured": bool(perl),
        "flamefold_rss_mb": round(ff_rss / 1024, 1),
        "inferno_rss_mb": round(inf_rss / 1024, 1),
        "flamefold_1thread_s": round(once_t, 3),
        "flamefold_1thread_rss_mb": round(once_rss / 1024, 1),
        "flamefold_1thread_2x_input_pipe_s": round(piped[2][0], 3),
        "flamefold_1thread_2x_input_rss_mb": round(piped[2][1] / 1024, 1),
        "flamefold_1thread_4x_input_pipe_s": round(piped[4][0], 3),
        "flamefold_1thread_4x_input_rss_mb": round(piped[4][1] / 1024, 1),
        "flamefold_svg_bytes": ff_size,
        "inferno_svg_bytes": inf_size,
        "flamefold_frames": ff_frames,
        "inferno_frames": inf_frames,
    }
    benchmark.extra_info.update(info)
    print()
    for k, v in info.items():
        print(f"  {k:32} {v}")

    assert inf_t / ff_t >= 3, info
    assert perl_t / ff_t >= 10, info
    assert ff_size < inf_size, info
    assert ff_rss < inf_rss, info
    assert piped[4][1] < piped[2][1] * 1.05, info
    assert piped[2][1] < once_rss * 1.3, info


def captures() -> list[Path]:
    folder = os.environ.get("FLAMEFOLD_BENCH_CAPTURES")
    return sorted(Path(folder).glob("*.perf.txt")) if folder else []


@pytest.mark.parametrize("capture", captures() or [None], ids=lambda c: c.name if c else "none")
def test_graph_real_capture_vs_inferno(capture: "Path | None", tmp_path: Path) -> None:
    """A real capture's folded stacks (`perf script` text in $FLAMEFOLD_BENCH_CAPTURES, e.g. the
    ones benches/record_captures.sh records, collapsed by flamefold first), drawn by both. Such
    files are small next to the 130 MB above (a few MB of folded stacks): start-up counts."""
    inferno = _inferno()
    if capture is None or inferno is None:
        pytest.skip("set FLAMEFOLD_BENCH_CAPTURES to a folder of *.perf.txt, and cargo install inferno")
    folded = tmp_path / "capture.folded"
    subprocess.run([sys.executable, "-m", "flamefold", "collapse", str(capture), "-o", str(folded)], check=True)
    ff_runs, inf_runs = [], []
    for _ in range(ROUNDS):
        ff_runs.append(run_cpu(flamefold_cmd(str(folded)), tmp_path / "ff.svg"))
        inf_runs.append(run_cpu([inferno, str(folded)], tmp_path / "inf.svg"))
    ff_t, inf_t = (statistics.median(t for t, _, _ in r) for r in (ff_runs, inf_runs))
    ff_cpu, inf_cpu = (statistics.median(c for _, c, _ in r) for r in (ff_runs, inf_runs))
    ff_frames = (tmp_path / "ff.svg").read_text().count("<title>")
    inf_frames = (tmp_path / "inf.svg").read_text(errors="replace").count("<title>")
    print(f"\n  {capture.name}: {folded.stat().st_size / 1e6:.1f} MB folded, flamefold {ff_t:.3f} s "
          f"(cpu {ff_cpu:.3f}), inferno {inf_t:.3f} s (cpu {inf_cpu:.3f}), ratio {inf_t / ff_t:.2f}, "
          f"frames {ff_frames} / {inf_frames}, load {os.getloadavg()[0]:.2f}")
    assert abs(ff_frames - inf_frames) <= max(10, inf_frames // 100)
