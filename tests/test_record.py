"""`flamefold record`: perf record a command, then its flame graph or folded stacks.

The recording tests run where `perf record` works (skipped with the reason elsewhere); the
messages for a missing perf, a missing command and Java/Node hints run everywhere."""

import os
import pathlib
import shutil
import subprocess

import pytest

import flamefold
from flamefold.cli import main
from flamefold.cli.record import jit_hints

PERF = shutil.which("perf")
SH = shutil.which("sh") or "/bin/sh"
# a second or so of shell arithmetic: comm "sh"
BUSY = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"


@pytest.fixture(scope="module")
def perf_ok(tmp_path_factory):
    if PERF is None:
        pytest.skip("perf not available: not installed (apt-get install linux-perf)")
    out = tmp_path_factory.mktemp("record") / "probe.data"
    r = subprocess.run([PERF, "record", "-q", "-o", str(out), "--", "true"], capture_output=True, text=True)
    if r.returncode != 0 or not out.exists():
        pytest.skip(f"perf not available: perf record is not permitted here: {r.stderr.strip()[:200]}")


def test_svg(perf_ok, tmp_path, capsys):
    svg = tmp_path / "out.svg"
    assert main(["record", "-F", "999", "-q", "-o", str(svg), "--", SH, "-c", BUSY]) == 0
    text = svg.read_text()
    assert text.startswith("<?xml") and "</svg>" in text
    assert ">sh (" in text or "sh (" in text


def test_folded_and_kept_capture(perf_ok, tmp_path):
    out, data = tmp_path / "out.folded", tmp_path / "kept.data"
    assert main(["record", "-F", "999", "-q", "--folded", "--perf-data", str(data), "-o", str(out), "--", SH, "-c", BUSY]) == 0
    lines = out.read_text().splitlines()
    assert any(line.startswith("sh;") for line in lines), lines[:5]
    assert data.read_bytes()[:8] == b"PERFILE2"
    # the kept capture reads back to the same stacks
    assert flamefold.collapse_perf(str(data)).to_folded().splitlines() == lines


def test_exit_status_of_the_command(perf_ok, tmp_path, capsys):
    out = tmp_path / "out.folded"
    assert main(["record", "-F", "999", "--folded", "-o", str(out), "--", SH, "-c", BUSY + "; exit 3"]) == 3
    assert "exited with status 3" in capsys.readouterr().err
    assert out.read_text()


def test_no_perf(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["record", "--", "true"]) == 1
    err = capsys.readouterr().err
    assert "perf is not installed" in err and "linux-perf" in err and len(err.splitlines()) == 1


def test_command_not_found(tmp_path, capsys):
    if PERF is None:
        pytest.skip("perf not available")
    assert main(["record", "--", "no-such-command-here"]) == 1
    assert "no-such-command-here: command not found" in capsys.readouterr().err


def test_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["record"])
    assert e.value.code == 2
    assert "no command to record" in capsys.readouterr().err


def test_jit_hints():
    java = flamefold.read_folded(b"java;[unknown];[unknown] 80\njava;Interpreter 20\ncc1;main 500\n")
    (hint,) = jit_hints(java)
    assert "-XX:+PreserveFramePointer" in hint and "DumpPerfMapAtExit" in hint
    node = flamefold.read_folded(b"node-42;[unknown];uv_run 50\n")
    (hint,) = jit_hints(node)
    assert "--perf-basic-prof" in hint
    named = flamefold.read_folded(b"java;Hot.fib;Hot.fib 100\n")
    assert jit_hints(named) == []


def test_perf_data_refuses_text_only_options(perf_ok, tmp_path):
    """--inline/--context/--srcline need `perf script` text: one line (exit 1) in every command
    that reads perf.data, a ParseError (a ValueError) from the API."""
    import subprocess as sp
    import sys

    data = tmp_path / "t.data"
    sp.run([PERF, "record", "-q", "-F", "999", "-g", "-o", str(data), "--", SH, "-c", BUSY], check=True, capture_output=True)
    for args in (["collapse", "--inline", str(data)], ["graph", "--srcline", str(data), "-o", str(tmp_path / "o.svg")], ["diff", "--inline", "--context", str(data), str(data)]):
        r = sp.run([sys.executable, "-m", "flamefold", *args], capture_output=True, text=True)
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "need `perf script` text" in r.stderr, (args, r.stderr)
    with pytest.raises(flamefold.ParseError, match="need `perf script` text"):
        flamefold.collapse_perf(str(data), srcline=True)
