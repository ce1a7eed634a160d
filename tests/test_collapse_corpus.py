"""Conformance: stackcollapse-perf must print exactly the reference output for every corpus case
(tests/data/collapse, copied from shared/corpus: FlameGraph's Perl outputs, and inferno's where the
Perl loses samples)."""

import subprocess
import sys

import pytest

import flamefold
from conftest import DATA, manifest

CASES = manifest(DATA / "collapse" / "manifest.tsv")
IDS = [r[0].split("/")[-1] + (" " + r[1] if r[1] else "") for r in CASES]


def options(args: str) -> dict:
    opts = {}
    for a in args.split():
        name = a.lstrip("-").replace("-", "_")
        if name == "all":
            opts["kernel"] = opts["jit"] = True
        else:
            opts[name] = True
    return opts


@pytest.mark.parametrize("threads", [None, 1, 2])
@pytest.mark.parametrize("row", CASES, ids=IDS)
def test_api_matches_reference(row, threads):
    inp, args, expected = row[0], row[1], row[2]
    profile = flamefold._flamefold.collapse_perf(str(DATA / "collapse" / inp), threads=threads, **options(args))
    assert profile.to_folded().encode() == (DATA / "collapse" / expected).read_bytes()


@pytest.mark.parametrize("row", CASES, ids=IDS)
def test_cli_matches_reference(row):
    inp, args, expected = row[0], row[1], row[2]
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from flamefold.cli import stackcollapse_perf; sys.exit(stackcollapse_perf())", *args.split(), str(DATA / "collapse" / inp)],
        capture_output=True,
        check=True,
    )
    assert out.stdout == (DATA / "collapse" / expected).read_bytes()
    assert b"Traceback" not in out.stderr


def test_weird_stack_line_warns_and_keeps_every_sample():
    path = DATA / "collapse" / "inputs" / "inferno-weird-stack-line.txt"
    profile = flamefold._flamefold.collapse_perf(str(path))
    # two samples of 250000 each: the one with the weird line still counts
    assert profile.total == 500000
    assert dict(profile.items()) == {"inline-counter;main": 250000, "inline-counter": 250000}
    assert [line for line, _ in profile.warnings] == [5]
    assert "THIS_IS_A_WEIRD_LINE" in profile.warnings[0][1]
