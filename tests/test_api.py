"""The Python API: sources, Profile, errors and the behaviour that must hold beyond the Perl."""

import gzip
import io
import pathlib
import pickle
import threading
import time
import warnings

import pytest

import flamefold
from conftest import DATA

INPUTS = DATA / "collapse" / "inputs"
EXPECTED = DATA / "collapse" / "expected"
FUNCAB = INPUTS / "perf-funcab-cmd-01.txt"
FUNCAB_OUT = (EXPECTED / "perf-funcab-cmd-01-default.txt").read_text()

SAMPLE = (
    b"app 10/11 [000] 1.000: 5 cycles: \n"
    b"\tffff leaf+0x1a (/bin/app)\n"
    b"\tffff main (/bin/app)\n"
    b"\n"
    b"app 10/11 [000] 2.000: 7 cycles: \n"
    b"\tffff other (/bin/app)\n"
    b"\tffff main (/bin/app)\n"
)


def test_sources_give_the_same_profile(tmp_path):
    by_path = flamefold.collapse_perf(str(FUNCAB))
    assert by_path.to_folded() == FUNCAB_OUT
    assert flamefold.collapse_perf(FUNCAB) == by_path  # PathLike
    assert flamefold.collapse_perf(FUNCAB.read_bytes()) == by_path
    with open(FUNCAB, "rb") as f:
        assert flamefold.collapse_perf(f) == by_path
    assert flamefold.collapse_perf(io.BytesIO(FUNCAB.read_bytes())) == by_path
    gz = tmp_path / "funcab.txt.gz"
    gz.write_bytes(gzip.compress(FUNCAB.read_bytes()))
    assert flamefold.collapse_perf(gz) == by_path
    assert flamefold.collapse_perf(gz.read_bytes()) == by_path


def test_zstd_input(tmp_path):
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.skip("no zstd command to make a test file")  # the core reads zstd; making one needs the tool
    out = tmp_path / "funcab.txt.zst"
    subprocess.run(["zstd", "-q", "-o", str(out), str(FUNCAB)], check=True)
    assert flamefold.collapse_perf(out).to_folded() == FUNCAB_OUT


def test_profile_basics(tmp_path):
    p = flamefold.collapse_perf(SAMPLE)
    assert p.total == 12
    assert len(p) == 2
    assert list(p.items()) == [("app;main;leaf", 5), ("app;main;other", 7)]
    assert p.event == "cycles"
    assert p.to_folded() == "app;main;leaf 5\napp;main;other 7\n"
    dest = tmp_path / "out.folded"
    assert p.to_folded(dest) is None
    assert dest.read_text() == p.to_folded()
    buf = io.StringIO()
    p.to_folded(buf)
    assert buf.getvalue() == p.to_folded()
    raw = io.BytesIO()
    p.to_folded(raw)
    assert raw.getvalue() == p.to_folded().encode()
    assert pickle.loads(pickle.dumps(p)) == p
    with pytest.raises(AttributeError):
        p.total = 3  # type: ignore[misc]
    assert "2 stacks" in repr(p)


class _Stingy(io.RawIOBase):
    """A raw binary file that takes at most `most` bytes per write, as a pipe or socket may."""

    def __init__(self, most):
        self.most, self.got, self.writes = most, bytearray(), 0

    def writable(self):
        return True

    def write(self, b):
        n = min(len(b), self.most)
        self.got += bytes(b[:n])
        self.writes += 1
        return n


def test_to_folded_streams_to_file_objects_in_pieces(tmp_path):
    # a profile whose text spans several megabyte pieces, each line a distinct stack
    lines = b"".join(b"proc;f%07d;leaf%s %d\n" % (i, b"x" * 40, i + 1) for i in range(60_000))
    p = flamefold.read_folded(lines)
    whole = p.to_folded()
    assert len(whole) > 3 << 20
    stingy = _Stingy(100_000)
    assert p.to_folded(stingy) is None
    assert bytes(stingy.got) == whole.encode()  # nothing lost to short writes
    text = io.StringIO()
    p.to_folded(text)
    assert text.getvalue() == whole
    dest = tmp_path / "out.folded"
    p.to_folded(dest)
    assert dest.read_bytes() == whole.encode()
    d = flamefold.diff(p, flamefold.read_folded(b"proc;f0000001;leaf 5\n"))
    stingy = _Stingy(70_000)
    d.to_folded(stingy)
    assert bytes(stingy.got) == d.to_folded().encode()


class _Full(io.RawIOBase):
    def writable(self):
        return True

    def write(self, b):
        return 0


def test_to_folded_says_when_a_file_takes_nothing():
    with pytest.raises(OSError, match="took none"):
        flamefold.collapse_perf(SAMPLE).to_folded(_Full())


def test_profiles_add():
    a = flamefold.collapse_perf(SAMPLE)
    b = flamefold.read_folded(b"app;main;leaf 1\nzzz 4\n")
    s = a + b
    assert list(s.items()) == [("app;main;leaf", 6), ("app;main;other", 7), ("zzz", 4)]
    assert s.total == a.total + b.total
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]


def test_read_folded_round_trip(tmp_path):
    p = flamefold.collapse_perf(FUNCAB)
    f = tmp_path / "x.folded"
    p.to_folded(f)
    assert flamefold.read_folded(f) == p
    assert flamefold.read_folded(str(f)).to_folded() == FUNCAB_OUT


def test_errors():
    with pytest.raises(FileNotFoundError):
        flamefold.collapse_perf("/nonexistent/perf.txt")
    with pytest.raises(flamefold.ParseError) as e:
        flamefold.collapse_perf(b"this is not\nperf script output\n")
    assert e.value.line == 1 and isinstance(e.value, ValueError)
    with pytest.raises(flamefold.ParseError) as e:
        flamefold.collapse_perf(b"PERFILE2\x00\x01binary")
    assert "perf script" in str(e.value)
    with pytest.raises(flamefold.ParseError) as e:
        flamefold.read_folded(b"\n\nno count here\n")
    assert e.value.line == 3
    with pytest.raises(TypeError):
        flamefold.collapse_perf(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        flamefold.collapse_perf(SAMPLE, threads=0)
    with pytest.raises(TypeError, match="binary mode"):
        flamefold.collapse_perf(io.StringIO("text"))
    with pytest.raises(IsADirectoryError):
        flamefold.collapse_perf(DATA)


def test_bad_line_warns_with_its_number_and_the_sample_still_counts():
    text = SAMPLE.replace(b"\tffff other (/bin/app)\n", b"\tffff other (/bin/app)\n\tgarbage-without-module\n")
    with pytest.warns(flamefold.ParseWarning, match="line 7: unrecognized line"):
        p = flamefold.collapse_perf(text)
    assert dict(p.items())["app;main;other"] == 7


def test_no_sample_lost_edge_cases():
    # the last sample counts without a trailing blank line (Perl drops it)
    assert flamefold.collapse_perf(SAMPLE).total == 12
    # CRLF gives the same output as LF (Perl outputs nothing)
    assert flamefold.collapse_perf(SAMPLE.replace(b"\n", b"\r\n")) == flamefold.collapse_perf(SAMPLE)
    # a frame on the event line itself counts
    p = flamefold.collapse_perf(b"app 10 1.0: 3 cycles:u:  ffff f+0x1 (/bin/app)\n")
    assert list(p.items()) == [("app;f", 3)]
    # invalid UTF-8 in a symbol does not stop the run and is kept byte for byte
    p = flamefold.collapse_perf(b"app 10 1.0: 3 cycles:\n\tffff caf\xe9 (/bin/app)\n\tffff main (/bin/app)\n")
    assert p.total == 3
    assert p.to_folded().encode("utf-8", "surrogateescape") == b"app;main;caf\xe9 3\n"
    # a period of 0 counts 1; no period counts 1
    p = flamefold.collapse_perf(b"a 1 1.0: 0 cycles:\n\tff f (m)\n\nb 2 2.0: cycles:\n\tff g (m)\n")
    assert dict(p.items()) == {"a;f": 1, "b;g": 1}


def test_periods_are_u64_and_overflow_is_an_error():
    big = 2**63
    text = f"a 1 1.0: {big} cycles:\n\tff f (m)\n\na 1 2.0: {big - 1} cycles:\n\tff f (m)\n".encode()
    assert flamefold.collapse_perf(text).total == 2**64 - 1
    text = f"a 1 1.0: {big} cycles:\n\tff f (m)\n\na 1 2.0: {big} cycles:\n\tff f (m)\n".encode()
    with pytest.raises(OverflowError):
        flamefold.collapse_perf(text)


TRACE = (
    b"perf 10 [000] 1.0: 1 sched:sched_switch: prev_comm=perf prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120\n"
    b"\tffff __schedule (/k)\n\tffff schedule (/k)\n\n"
    b"dd 20 [001] 2.0: 1 block:block_rq_insert: 8,0 WS 4096 () 1234 + 8 [dd]\n"
    b"\tffff blk_mq_insert (/k)\n\tffff submit_bio (/k)\n\n"
    b"perf 10 [000] 3.0: 1 sched:sched_switch: prev_comm=perf prev_pid=10 ==> next_comm=x next_pid=1\n"
    b"\tffff __schedule (/k)\n\tffff schedule (/k)\n\n"
)


def test_tracepoints_filter_by_event_name():
    with pytest.warns(flamefold.ParseWarning, match="Filtering for events of type: sched:sched_switch"):
        p = flamefold.collapse_perf(TRACE)
    assert list(p.items()) == [("perf;schedule;__schedule", 2)]
    assert p.event == "sched:sched_switch"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = flamefold.collapse_perf(TRACE, event_filter="block:block_rq_insert")
    assert list(p.items()) == [("dd;submit_bio;blk_mq_insert", 1)]


def test_kept_event_is_named_in_the_warning():
    path = INPUTS / "perf-cycles-instructions-01.txt"
    p = flamefold._flamefold.collapse_perf(path)
    # the first event in this capture is "instructions": it is kept, and the warning says so
    assert p.event == "instructions"
    assert any(msg.startswith("Filtering for events of type: instructions") for _, msg in p.warnings)


def test_thread_counts_give_identical_bytes(monkeypatch):
    data = gzip.decompress((INPUTS / "example-perf-stacks.txt.gz").read_bytes()) * 3
    one = flamefold.collapse_perf(data, threads=1).to_folded()
    for n in (2, 8):
        assert flamefold.collapse_perf(data, threads=n).to_folded() == one
        assert flamefold.collapse_perf(io.BytesIO(data), threads=n).to_folded() == one
    monkeypatch.setenv("FLAMEFOLD_THREADS", "3")
    assert flamefold.collapse_perf(data).to_folded() == one
    monkeypatch.setenv("FLAMEFOLD_THREADS", "zero")
    with pytest.raises(ValueError, match="FLAMEFOLD_THREADS"):
        flamefold.collapse_perf(data)


def test_progress_callback_sees_the_bytes():
    data = gzip.decompress((INPUTS / "example-perf-stacks.txt.gz").read_bytes()) * 4
    seen = []
    flamefold.collapse_perf(data, threads=2, progress=lambda done, total: seen.append(done))
    assert seen and seen[-1] == len(data) and seen == sorted(seen)


def test_gil_is_released_during_collapse():
    data = gzip.decompress((INPUTS / "example-perf-stacks.txt.gz").read_bytes()) * 40
    done = threading.Event()
    result = {}

    def work():
        result["p"] = flamefold.collapse_perf(data, threads=1)
        done.set()

    t = threading.Thread(target=work)
    ticks = 0
    t.start()
    start = time.monotonic()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    t.join()
    assert result["p"].total > 0
    # with the GIL held for the whole call this loop could not run meanwhile
    assert ticks >= 20, (ticks, elapsed)
