"""The command lines as a user runs them: stackcollapse-perf, flamefold, python -m flamefold."""

import gzip
import os
import shutil
import subprocess
import sys

import pytest

from conftest import DATA

INPUTS = DATA / "collapse" / "inputs"
EXPECTED = DATA / "collapse" / "expected"
FUNCAB = INPUTS / "perf-funcab-cmd-01.txt"
FUNCAB_OUT = (EXPECTED / "perf-funcab-cmd-01-default.txt").read_bytes()


def script(name):
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    assert os.path.exists(path), f"{name} is not installed (pip install .)"
    return path


def run(*args, stdin=None, check=True):
    return subprocess.run(list(args), input=stdin, capture_output=True, check=check)


def test_stackcollapse_perf_reads_stdin_and_dash():
    data = FUNCAB.read_bytes()
    assert run(script("stackcollapse-perf"), stdin=data).stdout == FUNCAB_OUT
    assert run(script("stackcollapse-perf"), "-", stdin=data).stdout == FUNCAB_OUT


def test_perl_option_spellings():
    exp = (EXPECTED / "perf-funcab-cmd-01-all.txt").read_bytes()
    for opt in ("--all", "-all", "--al"):
        assert run(script("stackcollapse-perf"), opt, str(FUNCAB)).stdout == exp
    cyc = INPUTS / "perf-cycles-instructions-01.txt"
    a = run(script("stackcollapse-perf"), "--event-filter=cycles", str(cyc)).stdout
    b = run(script("stackcollapse-perf"), "--event-filter", "cycles", str(cyc)).stdout
    assert a == b and a and a != run(script("stackcollapse-perf"), str(cyc)).stdout


def test_help_and_bad_options():
    out = run(script("stackcollapse-perf"), "--help").stdout.decode()
    for opt in ("--pid", "--tid", "--kernel", "--jit", "--all", "--addrs", "--event-filter", "--inline", "--context", "--srcline", "--threads"):
        assert opt in out
    r = run(script("stackcollapse-perf"), "--bogus", check=False)
    assert r.returncode != 0 and b"unrecognized arguments" in r.stderr and b"Traceback" not in r.stderr


def test_several_inputs_are_one_profile(tmp_path):
    gz = tmp_path / "funcab.txt.gz"
    gz.write_bytes(gzip.compress(FUNCAB.read_bytes()))
    out = run(script("stackcollapse-perf"), str(FUNCAB), str(gz)).stdout
    doubled = b"".join(
        line.rsplit(b" ", 1)[0] + b" " + str(2 * int(line.rsplit(b" ", 1)[1])).encode() + b"\n"
        for line in FUNCAB_OUT.splitlines()
    )
    assert out == doubled


def test_missing_file_is_one_line_error():
    r = run(script("stackcollapse-perf"), "/nonexistent.txt", check=False)
    assert r.returncode == 1
    assert r.stderr.decode().strip().count("\n") == 0
    assert "nonexistent.txt" in r.stderr.decode() and "Traceback" not in r.stderr.decode()


def test_warnings_name_the_line():
    r = run(script("stackcollapse-perf"), str(INPUTS / "inferno-weird-stack-line.txt"))
    assert b"line 5: unrecognized line" in r.stderr
    assert r.stdout == b"inline-counter 250000\ninline-counter;main 250000\n"
    q = run(script("stackcollapse-perf"), "-q", str(INPUTS / "inferno-weird-stack-line.txt"))
    assert q.stderr == b""


def test_flamefold_collapse_output_file_is_atomic(tmp_path):
    out = tmp_path / "out.folded"
    run(script("flamefold"), "collapse", str(FUNCAB), "-o", str(out))
    assert out.read_bytes() == FUNCAB_OUT
    bad = tmp_path / "bad.folded"
    r = run(script("flamefold"), "collapse", "/nonexistent.txt", "-o", str(bad), check=False)
    assert r.returncode == 1 and not bad.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.folded"]  # no temp file left behind


def test_flamefold_version_help_and_module():
    from flamefold import __version__

    assert run(script("flamefold"), "--version").stdout.decode().strip() == f"flamefold {__version__}"
    assert b"collapse" in run(script("flamefold"), "--help").stdout
    assert run(sys.executable, "-m", "flamefold", "collapse", str(FUNCAB)).stdout == FUNCAB_OUT
    r = run(script("flamefold"), check=False)
    assert r.returncode == 2 and b"collapse" in r.stderr


def test_top_lists_heaviest_stacks():
    src = INPUTS / "example-perf-stacks.txt.gz"
    ref = (EXPECTED / "example-perf-stacks-default.txt").read_bytes().splitlines()
    out = run(script("flamefold"), "collapse", "--top", "3", str(src)).stdout.decode().splitlines()
    assert len(out) == 3
    counts = [int(line.split()[1].replace(",", "")) for line in out]
    heaviest = sorted((int(l.rsplit(b" ", 1)[1]) for l in ref), reverse=True)[:3]
    assert counts == heaviest
    total = sum(int(l.rsplit(b" ", 1)[1]) for l in ref)
    assert float(out[0].split("%")[0]) == pytest.approx(100 * counts[0] / total, abs=0.01)


def test_broken_pipe_is_quiet():
    data = gzip.decompress((INPUTS / "example-perf-stacks.txt.gz").read_bytes())
    p = subprocess.run(
        f"{script('stackcollapse-perf')} | head -c 10",
        shell=True, input=data, capture_output=True, executable="/bin/bash",
    )
    assert len(p.stdout) == 10
    assert b"Traceback" not in p.stderr and b"BrokenPipe" not in p.stderr
