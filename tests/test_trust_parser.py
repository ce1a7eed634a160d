"""The perf-text parser and the input chunking on truncated, mangled and hostile input:
no panic, no lost sample, the same stacks whatever the thread count or the way the input
comes (bytes, path, pipe, file object, gzip), bounded memory, safe external commands."""

import gzip
import io
import os
import resource
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flamefold

INPUTS = Path(__file__).parent / "data" / "collapse" / "inputs"
U64_MAX = 2**64 - 1


def stackcollapse(*args, stdin=None, **kw):
    exe = shutil.which("stackcollapse-perf") or str(Path(sys.executable).parent / "stackcollapse-perf")
    return subprocess.run([exe, *args], stdin=stdin, capture_output=True, **kw)


def folded(p):
    return list(p.items())


def total(p):
    return sum(c for _, c in p.items())


@pytest.mark.parametrize("text", [b"a 1 1.0: 5 cycles:", b"a 1 1.0: 5 cycles: ", b"a 1 1.0: 5 cycles:\r", b"a 1 1.0: 5 cycles:\n\tff f (/m)"])
def test_capture_cut_after_a_header(text):
    r = stackcollapse(input=text)
    assert r.returncode == 0, r.stderr.decode()
    assert b"panic" not in r.stderr.lower()
    assert sum(int(l.rsplit(b" ", 1)[1]) for l in r.stdout.splitlines()) == 5
    for threads in (1, 2, 3):
        assert total(flamefold.collapse_perf(text, threads=threads)) == 5
        assert total(flamefold.collapse_perf(io.BytesIO(text), threads=threads)) == 5


def test_block_cache_keeps_a_header_inside_a_callchain():
    # perf without callchains right-aligns the comm: an indented line that parses as a
    # header with an event is a header (carrying its frame)
    one = b"a 1 1.0: 5 cycles:\n\tff f (/m)\n    b 2 2.0: 7 cycles:  ff g (/m)\n\tff h (/m)\n\n"
    for copies in (2, 3, 40):
        text = one * copies
        for threads in (1, 2):
            p = flamefold.collapse_perf(text, threads=threads)
            assert total(p) == 12 * copies
            assert folded(p) == [("a;f", 5 * copies), ("b;h;g", 7 * copies)]
            assert not p.warnings


def srcline_capture(samples):
    # a frame whose source line perf left blank: the blank line is its source line, not the end
    # of the sample (perl reads one source line per frame, whatever it holds)
    sample = b"a 1 1.0: 1 cycles:\n\tff f (/m)\n\n\tff g (/m)\n  g.c:3\n\n"
    return sample * samples


def test_srcline_same_bytes_at_every_thread_count(tmp_path):
    text = srcline_capture(200_000)  # 9 MB: several chunks
    path = tmp_path / "src.txt"
    path.write_bytes(text)
    want = [("a;g:g.c:3;f", 200_000)]
    for threads in (1, 2, 3, 8):
        assert folded(flamefold.collapse_perf(text, srcline=True, threads=threads)) == want, threads
        assert folded(flamefold.collapse_perf(path, srcline=True, threads=threads)) == want, threads
        assert folded(flamefold.collapse_perf(io.BytesIO(text), srcline=True, threads=threads)) == want, threads


def old_perf(text):
    """Old perf output: frames unindented, no blank lines."""
    lines = [l.lstrip(b" \t") for l in text.split(b"\n")]
    return b"\n".join(l for l in lines if l.strip()) + b"\n"


def sources(text, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(text)
    gz = tmp_path / "in.txt.gz"
    gz.write_bytes(gzip.compress(text, 1))
    return {"bytes": text, "path": path, "gzip": gz, "file": lambda: io.BytesIO(text), "pipe": lambda: open(path, "rb")}


@pytest.mark.parametrize("name", ["perf-vertx-stacks-01.txt", "perf-numa-stacks-01.txt", "perf-java-stacks-01.txt", "perf-iperf-stacks-pidtid-01.txt"])
def test_streamed_old_perf_output_same_as_in_memory(name, tmp_path):
    text = old_perf((INPUTS / name).read_bytes())
    text = text * max(1, (3 << 20) // len(text) + 1)  # several 1 MiB chunks
    want = flamefold.collapse_perf(text, threads=1)
    assert total(want) > 0
    for how, src in sources(text, tmp_path).items():
        for threads in (1, 2, 3):
            got = flamefold.collapse_perf(src() if callable(src) else src, threads=threads)
            assert folded(got) == folded(want), (how, threads)


def test_streamed_old_perf_output_through_a_pipe():
    text = old_perf((INPUTS / "perf-vertx-stacks-01.txt").read_bytes()) * 4
    want = flamefold.collapse_perf(text, threads=1)
    for threads in ("1", "2", "3"):
        r = stackcollapse("--threads", threads, input=text)
        assert r.returncode == 0, r.stderr.decode()
        got = [(l.rsplit(b" ", 1)[0].decode(), int(l.rsplit(b" ", 1)[1])) for l in r.stdout.splitlines()]
        assert got == folded(want)


class Zeros(io.RawIOBase):
    """An endless stream of NUL bytes, counting what was read."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = len(b)
        b[:] = bytes(n)
        self.read_bytes += n
        return n


def test_endless_line_is_an_error_in_bounded_memory():
    z = Zeros()
    with pytest.raises(Exception, match=r"line 1: line longer than 1 MiB \(is this a perf script capture\?\)"):
        flamefold.collapse_perf(z, threads=2)
    assert z.read_bytes < 8 << 20
    with pytest.raises(Exception, match=r"line 3: line longer than 1 MiB"):
        flamefold.collapse_perf(b"a 1 1.0: 5 cycles:\n\tff f (/m)\n" + b"x" * (2 << 20) + b"\n", threads=1)


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs GNU time")
def test_two_gigabytes_of_nul_stop_early_with_little_memory():
    zeros = subprocess.Popen(["head", "-c", "2G", "/dev/zero"], stdout=subprocess.PIPE)
    exe = shutil.which("stackcollapse-perf") or str(Path(sys.executable).parent / "stackcollapse-perf")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", exe], stdin=zeros.stdout, capture_output=True, timeout=120)
    zeros.stdout.close()
    zeros.kill()
    zeros.wait()
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "line 1: line longer than 1 MiB" in err
    assert "panic" not in err.lower()
    rss_kib = int(err.strip().splitlines()[-1])
    assert rss_kib < 512 * 1024


SHRINK = textwrap.dedent(
    """
    import os, sys, flamefold
    path = sys.argv[1]
    def shrink(done, total):
        if os.path.getsize(path) > 1000:
            os.truncate(path, 1000)
    try:
        flamefold.collapse_perf(path, threads=int(sys.argv[2]), progress=shrink)
    except Exception as e:
        print("error:", e)
        sys.exit(3)
    print("ok")
    """
)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_file_truncated_while_read_is_an_error_not_a_crash(tmp_path, threads):
    one = (INPUTS / "perf-vertx-stacks-01.txt").read_bytes()
    path = tmp_path / "big.txt"
    path.write_bytes(one * 40)  # 40 MB: larger than any read-ahead
    r = subprocess.run([sys.executable, "-c", SHRINK, str(path), threads], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert "shrank while it was read" in r.stdout


def test_counts_overflow_is_an_error():
    text = f"a 1 1.0: {U64_MAX} cycles:\n\tff f (/m)\n\na 1 2.0: 1 cycles:\n\tff f (/m)\n\n".encode()
    for threads in (1, 2):
        with pytest.raises(Exception, match="overflow"):
            flamefold.collapse_perf(text, threads=threads)
        with pytest.raises(Exception, match="overflow"):
            flamefold.collapse_perf(io.BytesIO(text), threads=threads)
    assert folded(flamefold.collapse_perf(text.split(b"\n\n")[0])) == [("a;f", U64_MAX)]


FAKE_TOOL = """#!/bin/sh
printf '%s\\n' "$0" "$@" "--end--" >> "{log}"
case "$0" in
  *addr2line) printf '0x%s\\n??\\n??:0\\n' "$(echo "$@" | tr ' ' '\\n' | tail -n 1)" ;;
  *nm) printf '0000000000001000 T func\\n' ;;
esac
"""


def test_inline_never_passes_input_as_an_option(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    for tool in ("nm", "addr2line"):
        f = bin_dir / tool
        f.write_text(FAKE_TOOL.format(log=log))
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    modules = ["--plugin=./evil.so", "-e", "-", "--help", "-fevil"]
    text = b"".join(f"p 1 1.0: 1 cycles:\n\t7f00 func+0x10 ({m})\n\n".encode() for m in modules)
    flamefold.collapse_perf(text, inline=True)
    entries = [c.strip("\n").split("\n") for c in log.read_text().split("--end--") if c.strip()]
    calls = [e[1:] for e in entries]
    tools = [Path(e[0]).name for e in entries]
    assert "nm" in tools and "addr2line" in tools
    own_options = {"-a", "-i", "-f", "-s", "-C", "-e"}  # what flamefold itself passes
    for tool, argv in zip(tools, calls):
        options_end = argv.index("--") if "--" in argv else len(argv)
        # before `--`, only flamefold's own options start with `-` (not the operand of -e)
        for i, a in enumerate(argv[:options_end]):
            if a.startswith("-"):
                assert a in own_options and not (i > 0 and argv[i - 1] == "-e"), (tool, argv)
        # the module operand names the input's file: ./ in front of its leading -
        operand = argv[argv.index("-e") + 1] if tool == "addr2line" else argv[options_end + 1]
        assert operand in {f"./{m}" for m in modules}, (tool, argv)
