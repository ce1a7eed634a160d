"""Conformance: each row of tests/data/flamegraph/manifest.tsv drawn by `flamefold graph` must
show the same call tree, samples and colours as flamegraph.pl's graph (checked by svgframes.py,
the corpus' own checker)."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
DATA = HERE / "data" / "flamegraph"
CHECKER = HERE / "tools" / "svgframes.py"


def rows():
    for line in (DATA / "manifest.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        inp, args, expected, compare = line.split("\t")
        yield pytest.param(inp, args, expected, compare, id=f"{Path(expected).stem}")


ROWS = list(rows())


def test_manifest_has_every_row():
    assert len(ROWS) == 20


@pytest.mark.parametrize("inp,args,expected,compare", ROWS)
def test_graph_matches_flamegraph_pl(tmp_path, inp, args, expected, compare):
    out = tmp_path / "graph.svg"
    run = subprocess.run(
        [sys.executable, "-m", "flamefold", "graph", *shlex.split(args), str(DATA / inp), "-o", str(out)],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    flags = ["--fills"] + (["--chart"] if compare.startswith("chart") else [])
    check = subprocess.run(
        [sys.executable, str(CHECKER), "compare", *flags, str(DATA / expected), str(out)],
        capture_output=True, text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert " 0 problems" in check.stdout


def test_checker_can_fail(tmp_path):
    """The checker notices a wrong graph: default colours against the --hash expectation."""
    out = tmp_path / "graph.svg"
    subprocess.run([sys.executable, "-m", "flamefold", "graph", str(DATA / "inputs/vertx-all.folded"), "-o", str(out)], check=True)
    check = subprocess.run([sys.executable, str(CHECKER), "compare", "--fills", str(DATA / "expected/vertx-hot-hash.tsv"), str(out)], capture_output=True, text=True)
    assert check.returncode == 1
    assert "fill" in check.stdout
