"""difffolded: the same lines as difffolded.pl on the diff corpus, sorted; the Diff API."""

import gzip
import os
import subprocess
import sys

import pytest

import flamefold
from conftest import DATA, manifest

DIFF = DATA / "diff"
CASES = manifest(DIFF / "manifest.tsv")


def exe(name):
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.mark.parametrize("row", CASES, ids=[f"{r[0].split('/')[-1]}-{r[1].split('/')[-1]} {r[2]}" for r in CASES])
def test_difffolded_matches_reference(row):
    before, after, args, expected = row
    out = subprocess.run([exe("difffolded"), *args.split(), str(DIFF / before), str(DIFF / after)], capture_output=True, check=True).stdout
    want = (DIFF / expected).read_bytes()
    assert sorted(out.splitlines()) == sorted(want.splitlines())
    stacks = [line.rsplit(b" ", 2)[0] for line in out.splitlines()]
    assert stacks == sorted(stacks)  # a fixed order: byte-sorted stacks


def test_diff_api_matches_cli():
    before, after = DIFF / "inputs" / "before.txt", DIFF / "inputs" / "after.txt"
    d = flamefold.diff(before, after, normalize=True, strip_hex=True)
    want = (DIFF / "expected" / "default-n-s.txt").read_text()
    assert sorted(d.to_folded().splitlines()) == sorted(want.splitlines())
    for stack, b, a in d.items():
        assert f"{stack} {b} {a}" in want
    assert d.totals[1] == sum(int(l.rsplit(" ", 1)[1]) for l in after.read_text().splitlines() if l.strip())


def test_diff_of_profiles_and_perf_captures(tmp_path):
    cap = DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"
    p = flamefold.collapse_perf(cap)
    d = flamefold.diff(p, cap)  # a Profile against its own perf capture: no change
    assert all(b == a for _, b, a in d.items())
    assert d.totals == (p.total, p.total)
    gz = tmp_path / "x.txt.gz"
    gz.write_bytes(gzip.compress(cap.read_bytes()))
    assert flamefold.diff(gz, p).items() == d.items()


def test_top_orders_by_change():
    d = flamefold.diff(b"a 10\nb 5\nc 1\n", b"a 4\nb 9\nc 8\nd 1\n")
    assert [s for s, _, _ in d.top(2)] == ["c", "b"]
    assert [s for s, _, _ in d.top(1, by="-delta")] == ["a"]
    assert [s for s, _, _ in d.top(10, by="abs")][:2] == ["c", "a"]
    with pytest.raises(ValueError):
        d.top(1, by="nonsense")


def test_fractions_and_two_column_inputs():
    d = flamefold.diff(DIFF / "inputs" / "before_fractionals.txt", DIFF / "inputs" / "after.txt")
    assert any(isinstance(b, float) for _, b, _ in d.items())
    two = flamefold.diff(b"x;y 1 2\n", b"x;y 3\n")  # a diff file as input: its last column counts
    assert two.items() == [("x;y", 2, 3)]


def test_difffolded_usage_errors():
    r = subprocess.run([exe("difffolded"), "only-one"], capture_output=True)
    assert r.returncode == 2 and b"usage" in r.stderr
    r = subprocess.run([exe("difffolded"), "/nonexistent", "/nonexistent2"], capture_output=True)
    assert r.returncode == 1 and b"Traceback" not in r.stderr and r.stderr.count(b"\n") == 1


def test_perf_options_reach_graph_and_diff(tmp_path):
    cap = DATA / "collapse" / "inputs" / "perf-java-stacks-01.txt"
    svg = flamefold.flamegraph(cap, kernel=True, jit=True, colors="java")
    plain = flamefold.flamegraph(cap, colors="java")
    assert svg != plain
    # the java palette colours kernel frames orange only when they carry _[k]
    annotated = flamefold.collapse_perf(cap, kernel=True, jit=True)
    assert any("_[k]" in s for s, _ in annotated.items())
    d = flamefold.diff(cap, cap, kernel=True)
    assert any("_[k]" in s for s, _, _ in d.items())
    out = tmp_path / "g.svg"
    subprocess.run([exe("flamefold"), "graph", "--all", "--colors", "java", str(cap), "-o", str(out)], check=True)
    assert out.read_text() == flamefold.flamegraph(cap, kernel=True, jit=True, colors="java")
    r = subprocess.run([exe("flamefold"), "diff", "--folded", "--kernel", str(cap), str(cap)], capture_output=True, check=True)
    assert b"_[k]" in r.stdout
