"""graph, diff, difffolded and read_folded: exact counts, bounded memory, binary input refused,
folded-vs-perf sniffing, Ctrl-C, and one folded grammar for all of them."""

import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

import flamefold
from flamefold import _flamefold
from flamefold.graph import GraphWarning, flamegraph

PY = sys.executable


def cli(*args, stdin=None):
    return subprocess.run([PY, "-m", "flamefold", *args], input=stdin, capture_output=True)


def difffolded(*args):
    code = "import sys; from flamefold.cli import difffolded; sys.exit(difffolded(sys.argv[1:]))"
    return subprocess.run([PY, "-c", code, *args], capture_output=True)


def frames(src, **kw):
    return _flamefold.graph_frames([src], **kw)


# 1. exact integer arithmetic ------------------------------------------------------------------


def big_counts_text(lines=120_000):
    # counts near 2^45, odd: their running sum passes 2^53, where floats lose the last digits;
    # more than a megabyte, so two and three threads split the lines into blocks
    out = []
    for i in range(lines):
        out.append(f"root;f{i % 97};g{i % 1013} {2**45 + 2 * i + 1}\n")
    return "".join(out).encode()


def test_graph_total_is_exact_and_thread_independent():
    text = big_counts_text()
    exact = sum(2**45 + 2 * i + 1 for i in range(120_000))
    assert exact > 2**53
    results = [frames(text, threads=t, minwidth=0.0) for t in (1, 2, 3)]
    for fr in results:
        assert fr.total == exact and isinstance(fr.total, int)
        assert fr.counts[0] == exact and fr.counts[1] == exact  # `all` and `root`
    assert results[0].counts == results[1].counts == results[2].counts
    assert results[0].width == results[1].width == results[2].width
    assert results[0].start == results[1].start == results[2].start
    svgs = {flamegraph(text, threads=t) for t in (1, 2, 3)}
    assert len(svgs) == 1


def test_fractional_counts_same_at_every_thread_count():
    text = "".join(f"a;b{i % 31};c{i % 7} {i % 10}.{i % 997:03d}\n" for i in range(150_000)).encode()
    fr = [frames(text, threads=t, minwidth=0.0) for t in (1, 2, 3)]
    assert fr[0].total == fr[1].total == fr[2].total
    assert fr[0].width == fr[1].width == fr[2].width
    assert fr[0].total == pytest.approx(sum(i % 10 + (i % 997) / 1000 for i in range(150_000)))


def test_count_past_64_bits_is_a_warning_naming_the_line_everywhere(tmp_path):
    p = tmp_path / "big.folded"
    p.write_bytes(b"a;b 18446744073709551616\nc 3\n")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        flamegraph(str(p))
    assert any("line 1:" in str(x.message) and "64 bits" in str(x.message) for x in w), [str(x.message) for x in w]
    assert frames(str(p)).total == 3
    with pytest.warns(flamefold.ParseWarning, match="line 1: .*64 bits"):
        prof = flamefold.read_folded(str(p))
    assert prof.total == 3
    d = _flamefold.diff(str(p), str(p))
    assert d.items() == [("c", 3, 3)]
    assert d.warnings and d.warnings[0][0] == 1 and "64 bits" in d.warnings[0][1]
    r = difffolded(str(p), str(p))
    assert r.returncode == 0 and r.stdout == b"c 3 3\n"
    assert b"line 1:" in r.stderr


def test_sum_past_64_bits_is_count_overflow(tmp_path):
    p = tmp_path / "over.folded"
    p.write_bytes(b"a 18446744073709551615\nb 1\n")
    with pytest.raises(OverflowError, match="count overflow"):
        frames(str(p))
    r = cli("graph", str(p), "-o", str(tmp_path / "o.svg"))
    assert r.returncode == 1 and b"count overflow" in r.stderr and not (tmp_path / "o.svg").exists()
    fr = frames(b"a 18446744073709551615\n")
    assert fr.total == 2**64 - 1 and fr.counts == [2**64 - 1, 2**64 - 1]
    fr = frames(b"a;b 9007199254740993 9007199254740995\na 1\n")
    assert fr.counts == [9007199254740996] * 2 + [9007199254740995]
    assert fr.before_counts == [9007199254740994] * 2 + [9007199254740993]
    assert frames(b"a .5\n").counts is None


# 2. memory bounded by the distinct stacks, not by the file --------------------------------------


def peak_rss_mib(args):
    # VmHWM: ru_maxrss would keep the forking parent's size across exec
    code = (
        "import resource, sys\n"
        "from flamefold.cli import main, difffolded\n"
        "argv = sys.argv[1:]\n"
        "rc = difffolded(argv[1:]) if argv[0] == 'difffolded' else main(argv)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "print(int(hwm[0].split()[1]) // 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    r = subprocess.run([PY, "-c", code, *args], capture_output=True)
    assert r.returncode == 0, r.stderr
    return int(r.stderr.decode().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_folded(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    chunk = "".join(f"main;run;work{i % 50};leaf{i % 400};deep{i % 7} {i % 9 + 1}\n" for i in range(40_000)).encode()
    paths = []
    for name in ("a.folded", "b.folded"):
        p = d / name
        with open(p, "wb") as f:
            for _ in range(160_000_000 // len(chunk)):
                f.write(chunk)
        paths.append(p)
    return paths


@pytest.mark.parametrize("cmd", ["graph", "diff", "diff --html", "difffolded"])
def test_peak_memory_does_not_follow_the_file(big_folded, tmp_path, cmd):
    a, b = (str(p) for p in big_folded)
    size_mib = os.path.getsize(a) >> 20
    out = str(tmp_path / "out")
    args = {
        "graph": ["graph", a, "-o", out],
        "diff": ["diff", a, b, "-o", out],
        "diff --html": ["diff", "--html", a, b, "-o", out],
        "difffolded": ["difffolded", a, b],
    }[cmd]
    peak = peak_rss_mib(args)
    assert peak < 100 < size_mib, (cmd, peak, size_mib)


# 3. binary input --------------------------------------------------------------------------------


def perf_data(tmp_path):
    p = tmp_path / "perf.data"
    p.write_bytes(b"PERFILE2" + bytes(range(256)) * 64)
    return p


def test_graph_diff_difffolded_damaged_perf_data(tmp_path):
    """perf.data is read directly (tests/test_perf_data.py); a damaged one is one line naming
    the file, for every command that reads it."""
    p = perf_data(tmp_path)
    ok = tmp_path / "ok.folded"
    ok.write_bytes(b"a;b 1\n")
    for r in (
        cli("graph", str(p), "-o", str(tmp_path / "o.svg")),
        cli("diff", str(ok), str(p), "-o", str(tmp_path / "o.svg")),
        cli("diff", "--html", str(p), str(ok), "-o", str(tmp_path / "o.svg")),
        difffolded(str(p), str(ok)),
    ):
        err = r.stderr.decode()
        assert r.returncode == 1, err
        assert len(err.splitlines()) == 1 and f"{p}: perf.data: " in err and "truncated or damaged perf.data file" in err, err
    assert not (tmp_path / "o.svg").exists()
    # standard input is sniffed: perf.data there is read too (`perf record -o - | flamefold
    # graph -`), and a damaged one is the same one line, naming it
    r = cli("graph", "-o", str(tmp_path / "o.svg"), stdin=p.read_bytes())
    err = r.stderr.decode()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and "perf.data: " in err and "truncated or damaged perf.data file" in err, err


def test_binary_data_is_an_error_not_warnings(tmp_path):
    p = tmp_path / "blob.folded"
    p.write_bytes(b"a;b 1\n\x00\x01\x02garbage\xff\n" * 200)
    r = cli("graph", str(p), "-o", str(tmp_path / "o.svg"))
    err = r.stderr.decode()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and "binary data" in err, err
    with pytest.raises(flamefold.ParseError, match="binary"):
        _flamefold.diff(str(p), str(p))


# 4. sniffing ------------------------------------------------------------------------------------


def test_folded_with_indented_lines_is_folded():
    text = b"".join(b" lead;f%d %d\nmain;g%d 2\nmain;h 3\nmain;k;l 4\n" % (i, i + 1, i) for i in range(50))
    fr = frames(text)
    assert fr.total == sum(i + 1 for i in range(50)) + 50 * 9
    assert " lead" in fr.names
    d = _flamefold.diff(text, text)
    assert len(d) == 50 * 2 + 2


# 5. Ctrl-C --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_folded(tmp_path_factory):
    p = tmp_path_factory.mktemp("huge") / "huge.folded"
    chunk = "".join(f"s{i % 300};" + ";".join(f"f{(i + k) % 91}" for k in range(40)) + f" {i % 5 + 1}\n" for i in range(20_000)).encode()
    with open(p, "wb") as f:
        for _ in range(1_200_000_000 // len(chunk)):
            f.write(chunk)
    return p


@pytest.mark.parametrize("cmd", ["graph", "diff", "difffolded"])
def test_ctrl_c_stops_quickly(huge_folded, tmp_path, cmd):
    p = str(huge_folded)
    out = tmp_path / "out.svg"
    args = {
        "graph": ["-m", "flamefold", "graph", "--reverse", "--threads", "1", p, "-o", str(out)],
        "diff": ["-m", "flamefold", "diff", p, p, "-o", str(out)],
        "difffolded": ["-c", "import sys; from flamefold.cli import difffolded; sys.exit(difffolded(sys.argv[1:]))", p, p],
    }[cmd]
    proc = subprocess.Popen([PY, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert err.decode().strip().endswith(" interrupted") and len(err.splitlines()) == 1, err
    assert took < 2, took
    assert list(tmp_path.iterdir()) == []


# 6. one grammar ---------------------------------------------------------------------------------


def test_tab_and_leading_dot_read_the_same_everywhere(tmp_path):
    tab = tmp_path / "tab.folded"
    tab.write_bytes(b"a;b\t7\nc 1\n")
    assert frames(str(tab)).total == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dict(flamefold.read_folded(str(tab)).items()) == {"a;b": 7, "c": 1}
    assert _flamefold.diff(str(tab), str(tab)).items() == [("a;b", 7, 7), ("c", 1, 1)]
    r = difffolded(str(tab), str(tab))
    assert r.stdout == b"a;b 7 7\nc 1 1\n" and r.stderr == b""
    dot = tmp_path / "dot.folded"
    dot.write_bytes(b"a;b .5\nc 1\n")
    assert frames(str(dot)).total == 1.5
    assert _flamefold.diff(str(dot), str(dot)).items() == [("a;b", 0.5, 0.5), ("c", 1, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphWarning)
        svg = flamegraph(str(dot))
    assert "1.5 samples" in svg
    with pytest.warns(flamefold.ParseWarning, match="line 1: fractional"):
        flamefold.read_folded(str(dot))


def test_too_long_line_is_an_error_naming_it(tmp_path):
    p = tmp_path / "long.folded"
    p.write_bytes(b"a 1\nb 2\n" + b"x" * (2 << 20) + b" 1\n")
    r = cli("graph", str(p), "-o", str(tmp_path / "o.svg"))
    err = r.stderr.decode()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and f"{p}: line 3: line longer than 1 MiB" in err, err
    r = difffolded(str(p), str(p))
    assert r.returncode == 1 and "line 3" in r.stderr.decode()


def test_missing_file_is_named(tmp_path):
    p = tmp_path / "nope.folded"
    ok = tmp_path / "ok.folded"
    ok.write_bytes(b"a 1\n")
    for r, prog in (
        (cli("graph", str(p), "-o", str(tmp_path / "o.svg")), "flamefold graph"),
        (cli("diff", str(ok), str(p), "-o", str(tmp_path / "o.svg")), "flamefold diff"),
        (difffolded(str(p), str(ok)), "difffolded"),
    ):
        assert r.returncode == 1
        assert r.stderr.decode() == f"{prog}: error: {p}: No such file or directory\n"
    with pytest.raises(FileNotFoundError) as e:
        frames(str(p))
    assert e.value.filename == str(p)


def test_trailing_whitespace_and_comments_read_the_same_everywhere(tmp_path):
    p = tmp_path / "ws.folded"
    p.write_bytes(b"# a comment\na;b 5 \t\n   \nc 2\r\n")
    assert frames(str(p)).total == 7 and frames(str(p)).warnings == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dict(flamefold.read_folded(str(p)).items()) == {"a;b": 5, "c": 2}
    d = _flamefold.diff(str(p), str(p))
    assert d.items() == [("a;b", 5, 5), ("c", 2, 2)] and d.warnings == []


def test_svg_labels_show_exact_counts_past_2_53():
    """Tooltips print the exact count, not a float rounded to a neighbour (2^53 + 1 has no f64)."""
    import flamefold

    svg = flamefold.flamegraph(b"a;b 9007199254740993\na;c 2\n")
    assert "all (9,007,199,254,740,995 samples, 100%)" in svg
    assert "b (9,007,199,254,740,993 samples" in svg
    diff = flamefold.flamegraph(b"a;b 9007199254740993 9007199254740995\n")
    assert "b (9,007,199,254,740,995 samples" in diff and "before 9,007,199,254,740,993: +2," in diff
