"""Memory bounds on hostile and huge inputs (the trust issue), measured with GNU time.

    pip install '.[bench]'
    python -m pytest benches/bench_trust.py -s

- `graph`, `diff`, `difffolded` and `diff --html` on a 1 GiB folded file given by path
  (130 MB of generated folded stacks, 400,000 distinct, written 8 times over): peak RSS must stay
  under 150 MiB, because memory follows the distinct stacks, not the file.
- 2 GB of NUL bytes with no newline (a pipe from /dev/zero, and a file): stops with a one-line
  error under 512 MiB.

These are bounds, not timings: they hold on a noisy shared machine.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from conftest import tool  # noqa: E402
from gen_folded import generate  # noqa: E402

MiB = 1024


def peak(cmd: str) -> tuple[int, int, str]:
    """Runs a shell command under GNU time: (exit status, peak RSS KiB, stderr without time's line)."""
    r = subprocess.run(
        ["bash", "-c", f"/usr/bin/time -f 'RSS %M' {cmd}"], capture_output=True, text=True, errors="replace"
    )
    lines = r.stderr.strip().splitlines()
    rss = int(lines[-1].split()[-1])
    status = r.returncode
    return status, rss, "\n".join(lines[:-1])


@pytest.fixture(scope="module")
def gib_folded(tmp_path_factory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("trust")
    unit = generate(d / "unit.folded", stacks=400_000, mb=130, seed=3).read_bytes()
    path = d / "big.folded"
    with open(path, "wb") as f:
        for _ in range(2**30 // len(unit) + 1):
            f.write(unit)
    return path


@pytest.mark.parametrize(
    "what,cmd",
    [
        ("graph", "{ff} graph {big} -o {out}/g.svg"),
        ("diff", "{ff} diff {big} {big} -o {out}/d.svg"),
        ("difffolded", "{dfo} {big} {big} > {out}/d.folded"),
        ("diff --html", "{ff} diff --html {big} {big} -o {out}/d.html"),
    ],
)
def test_big_folded_bounded(what, cmd, gib_folded, tmp_path):
    ff, dfo = tool("flamefold"), tool("difffolded")
    status, rss, err = peak(cmd.format(ff=ff, dfo=dfo, big=gib_folded, out=tmp_path))
    size = gib_folded.stat().st_size
    print(f"\n{what:12s} {size / 2**30:.2f} GiB folded by path: peak RSS {rss / MiB:6.1f} MiB (status {status})")
    assert status == 0, err
    assert rss < 150 * MiB


@pytest.mark.parametrize("how", ["pipe", "file"])
def test_nul_stream_stops(how, tmp_path):
    sc = tool("stackcollapse-perf")
    if how == "pipe":
        cmd = f"head -c 2G /dev/zero | {sc} -"
    else:
        path = tmp_path / "zeros.txt"
        subprocess.run(["truncate", "-s", "2G", str(path)], check=True)  # sparse: reads as NULs
        cmd = f"{sc} {path}"
    status, rss, err = peak(cmd + " > /dev/null")
    print(f"\n2 GB of NUL bytes ({how}): status {status}, peak RSS {rss / MiB:.1f} MiB: {err.strip()[:120]}")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert rss < 512 * MiB
