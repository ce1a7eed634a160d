"""Memory bounds on hostile and huge inputs (the trust issue), measured with GNU time.

    pip install '.[bench]'
    python -m pytest benches/bench_trust.py -s

- `graph`, `diff`, `difffolded` and `diff --html` on about 1 GiB of folded stacks given by path
  (generated stacks, 50,000 or 400,000 distinct, written over and over): peak RSS is about that
  of the distinct stacks alone, and under 150 MiB for graph, diff and difffolded with 50,000.
- 2 GB of NUL bytes with no newline (a pipe from /dev/zero, and a file): stops with a one-line
  error under 512 MiB.

These are bounds, not timings: they hold on a noisy shared machine.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from conftest import tool  # noqa: E402
from gen_folded import generate  # noqa: E402

MiB = 1024


def peak(cmd: str, feed: str = "", env: dict | None = None) -> tuple[int, int, str]:
    """Runs `cmd` (after `feed |` if given) under GNU time: (exit status, peak RSS KiB of `cmd`,
    stderr without time's lines)."""
    pipe = f"{feed} | " if feed else ""
    r = subprocess.run(
        ["bash", "-c", f"{pipe}/usr/bin/time -f 'RSS %M' {cmd}"], capture_output=True, text=True, errors="replace",
        env={**os.environ, **(env or {})},
    )
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith(("Command exited with", "Command terminated by"))]
    rss = int(lines[-1].split()[-1])
    return r.returncode, rss, "\n".join(lines[:-1])


SHAPES = {"50k stacks": (50_000, 16), "400k stacks": (400_000, 130)}  # distinct stacks, MB of them


@pytest.fixture(scope="module", params=list(SHAPES))
def folded_pair(request, tmp_path_factory) -> tuple[str, pathlib.Path, pathlib.Path]:
    """A generated folded file (the unit) and about 1 GiB of it written over and over: the same
    distinct stacks, eight to seventy times the bytes."""
    stacks, mb = SHAPES[request.param]
    d = tmp_path_factory.mktemp("trust")
    unit_path = generate(d / "unit.folded", stacks=stacks, mb=mb, seed=3)
    unit = unit_path.read_bytes()
    path = d / "big.folded"
    with open(path, "wb") as f:
        for _ in range(2**30 // len(unit) + 1):
            f.write(unit)
    return request.param, unit_path, path


@pytest.mark.parametrize(
    "what,cmd",
    [
        ("graph", "{ff} graph {big} -o {out}/g.svg"),
        ("diff", "{ff} diff {big} {big} -o {out}/d.svg"),
        ("difffolded", "{dfo} {big} {big} > {out}/d.folded"),
        ("diff --html", "{ff} diff --html {big} {big} -o {out}/d.html"),
    ],
)
def test_big_folded_bounded(what, cmd, folded_pair, tmp_path):
    """Peak RSS on ~1 GiB by path is about that on the unit alone (it follows the distinct
    stacks, not the file), and under 150 MiB for graph, diff and difffolded when the distinct
    stacks are 50,000 (16 MB of them)."""
    shape, unit, big = folded_pair
    ff, dfo = tool("flamefold"), tool("difffolded")
    rss = {}
    # one thread for the unit-vs-big comparison (graph keeps one tree per thread, each up to the
    # distinct stacks); every core for the bound a user sees
    for name, path, env in (("unit", unit, {"FLAMEFOLD_THREADS": "1"}), ("big", big, {"FLAMEFOLD_THREADS": "1"}), ("big, all cores", big, {})):
        status, rss[name], err = peak(cmd.format(ff=ff, dfo=dfo, big=path, out=tmp_path), env=env)
        assert status == 0, err
    print(f"\n{what:12s} {shape}: 1 thread: {unit.stat().st_size / 2**20:4.0f} MiB file {rss['unit'] / MiB:6.1f} MiB RSS, "
          f"{big.stat().st_size / 2**30:.2f} GiB file {rss['big'] / MiB:6.1f} MiB; all cores {rss['big, all cores'] / MiB:6.1f} MiB")
    assert rss["big"] < rss["unit"] * 1.25 + 16 * MiB
    if shape == "50k stacks" and what != "diff --html":
        assert rss["big, all cores"] < 150 * MiB


@pytest.mark.parametrize("how", ["pipe", "file"])
def test_nul_stream_stops(how, tmp_path):
    sc = tool("stackcollapse-perf")
    feed = ""
    if how == "pipe":
        feed, cmd = "head -c 2G /dev/zero", f"{sc} -"
    else:
        path = tmp_path / "zeros.txt"
        subprocess.run(["truncate", "-s", "2G", str(path)], check=True)  # sparse: reads as NULs
        cmd = f"{sc} {path}"
    status, rss, err = peak(cmd + " > /dev/null", feed)
    print(f"\n2 GB of NUL bytes ({how}): status {status}, peak RSS {rss / MiB:.1f} MiB: {err.strip()[:120]}")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert rss < 512 * MiB
