"""Every text format through ``flamefold.collapse`` (the core's one entry) and the command line:
DTrace and jstack byte-identical to the Perl collapsers' outputs (tests/data/{dtrace,jstack},
see their SOURCES.md) at 1 and 2 threads, auto-detection of each format, ``--format`` forcing,
a damaged perf.data's message; graph and diff reading DTrace/jstack; and the Profile's ``sum()``
and pickling with its metadata."""

import gzip
import pathlib
import pickle
import subprocess
import sys
import warnings

import pytest

import flamefold
from conftest import DATA

PERF = DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"
DTRACE = DATA / "dtrace"
JSTACK = DATA / "jstack"
DTRACE_INPUTS = sorted(p.name for p in (DTRACE / "inputs").iterdir())
JSTACK_INPUTS = sorted(p.stem for p in (JSTACK / "inputs").iterdir())
# stackcollapse-jstack.pl's options -> the suffix of the expected file (SOURCES.md)
JSTACK_OPTIONS = {
    "": {},
    "--include-tid": {"include_tid": True},
    "--shorten-pkgs": {"shorten_pkgs": True},
    "--no-include-tname": {"include_tname": False},
    "--no-include-tname--shorten-pkgs": {"include_tname": False, "shorten_pkgs": True},
    "--include-tid--shorten-pkgs": {"include_tid": True, "shorten_pkgs": True},
}


def read(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def folded(p: flamefold.Profile) -> bytes:
    return (p.to_folded() or "").encode("utf-8", "surrogateescape")


def quiet(func, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kw)


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "flamefold", *map(str, args)], input=stdin, capture_output=True)


def dtrace_expected(name: str, offsets: bool) -> pathlib.Path:
    stem, gz = (name[: -len(".txt.gz")], ".gz") if name.endswith(".gz") else (name[: -len(".txt")], "")
    return DTRACE / "expected" / f"{stem}{'-offsets' if offsets else ''}.txt{gz}"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("offsets", [False, True])
@pytest.mark.parametrize("name", DTRACE_INPUTS)
def test_dtrace_is_stackcollapse_pl(name, offsets, threads):
    path = DTRACE / "inputs" / name
    want = read(dtrace_expected(name, offsets))
    for source in (str(path), path.read_bytes()):
        p = quiet(flamefold.collapse, source, format="dtrace", includeoffset=offsets, threads=threads)
        assert folded(p) == want
        assert (p.event, p.dropped) == (None, 0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("suffix", list(JSTACK_OPTIONS))
@pytest.mark.parametrize("name", JSTACK_INPUTS)
def test_jstack_is_stackcollapse_jstack_pl(name, suffix, threads):
    path = JSTACK / "inputs" / f"{name}.txt"
    want = (JSTACK / "expected" / f"{name}{suffix}.txt").read_bytes()
    for source in (str(path), path.read_bytes()):
        p = quiet(flamefold.collapse, source, format="jstack", threads=threads, **JSTACK_OPTIONS[suffix])
        assert folded(p) == want


@pytest.mark.parametrize(
    "path, kind",
    [(DTRACE / "inputs" / n, "dtrace") for n in DTRACE_INPUTS if "only-header" not in n]
    + [(JSTACK / "inputs" / f"{n}.txt", "jstack") for n in JSTACK_INPUTS],
    ids=lambda v: v.name if isinstance(v, pathlib.Path) else v,
)
def test_auto_detects_dtrace_and_jstack(path, kind):
    want = folded(quiet(flamefold.collapse, str(path), format=kind))
    assert folded(quiet(flamefold.collapse, str(path))) == want
    assert folded(quiet(flamefold.collapse, read(path))) == want  # bytes: sniffed in memory
    with open(path, "rb") as f:  # a file object: sniffed from a stream
        assert folded(quiet(flamefold.collapse, f)) == want


def test_auto_detects_perf_and_folded():
    perf = flamefold.collapse_perf(str(PERF))
    assert flamefold.collapse(str(PERF)) == perf and flamefold.collapse(str(PERF)).event == perf.event
    text = b"a;b 2\na 1\na;b 3\n"
    assert folded(flamefold.collapse(text)) == b"a 1\na;b 5\n"
    assert flamefold.collapse(text) == flamefold.collapse(text, format="folded") == flamefold.read_folded(text)


def test_an_input_with_only_dtrace_headers_needs_the_format_forced():
    path = DTRACE / "inputs" / "inferno-only-header-lines.txt"
    with pytest.warns(flamefold.ParseWarning, match="header"):
        p = flamefold.collapse(str(path), format="dtrace")
    assert len(p) == 0


def test_forcing_the_wrong_format_warns_and_does_not_crash():
    with pytest.warns(flamefold.ParseWarning):
        p = flamefold.collapse(str(PERF), format="dtrace")
    assert isinstance(p, flamefold.Profile)
    with pytest.warns(flamefold.ParseWarning, match="unrecognized line"):
        p = flamefold.collapse(str(PERF), format="jstack")
    assert len(p) == 0
    with pytest.raises(flamefold.ParseError):
        flamefold.collapse(JSTACK / "inputs" / "java17-5-dumps.txt", format="perf")


def test_perf_data_damaged_or_not_perf_data():
    """perf.data is read directly (tests/test_perf_data.py); a damaged one, or text forced as
    perf-data, is a ParseError saying so."""
    with pytest.raises(flamefold.ParseError, match=r"truncated or damaged perf.data file"):
        flamefold.collapse(b"PERFILE2\x00\x01binary", format="auto")
    with pytest.raises(flamefold.ParseError, match=r"^not a perf.data file \(it does not start with perf's magic bytes PERFILE2\)$"):
        flamefold.collapse(str(PERF), format="perf-data")


def test_the_core_refuses_an_unknown_format():
    from flamefold import _flamefold

    with pytest.raises(ValueError, match="unknown format"):
        _flamefold.collapse(b"a 1\n", format="nope")


# --- the command line ---


@pytest.mark.parametrize("threads", [1, 2])
def test_cli_dtrace_and_jstack(tmp_path, threads):
    name = "example-dtrace-stacks.txt.gz"
    for offsets in (False, True):
        flags = ["--includeoffset"] if offsets else []
        r = cli("collapse", "--threads", threads, *flags, DTRACE / "inputs" / name)
        assert r.returncode == 0, r.stderr
        assert r.stdout == read(dtrace_expected(name, offsets))
    for suffix in JSTACK_OPTIONS:
        flags = [f"--{f}" for f in suffix.split("--") if f]
        out = tmp_path / "out.folded"
        r = cli("collapse", "--format", "jstack", "--threads", threads, *flags, JSTACK / "inputs" / "java17-5-dumps.txt", "-o", out)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == (JSTACK / "expected" / f"java17-5-dumps{suffix}.txt").read_bytes()
    # the options are documented in the help, with flags as the Perl scripts spell them
    text = cli("collapse", "--help").stdout.decode()
    for flag in ("--includeoffset", "--include-tname", "--no-include-tname", "--include-tid", "--shorten-pkgs"):
        assert flag in text


def test_cli_format_forcing_and_errors():
    jstack = JSTACK / "inputs" / "java17-5-dumps.txt"
    r = cli("collapse", "--format", "dtrace", PERF)
    assert r.returncode == 0 and b"Traceback" not in r.stderr and b"warning" in r.stderr
    r = cli("collapse", "--format", "perf", jstack)
    assert r.returncode == 1 and r.stderr.decode().count("\n") == 1 and b"Traceback" not in r.stderr
    r = cli("collapse", "--format", "perf-data", PERF)
    assert r.returncode == 1
    assert r.stderr.decode() == f"flamefold: error: {PERF}: not a perf.data file (it does not start with perf's magic bytes PERFILE2)\n"
    r = cli("collapse", "-", stdin=b"PERFILE2\x00binary")
    assert r.returncode == 1 and r.stderr.decode().count("\n") == 1 and b"perf.data" in r.stderr
    # stdin is sniffed too
    r = cli("collapse", "-", stdin=jstack.read_bytes())
    assert r.returncode == 0 and r.stdout == (JSTACK / "expected" / "java17-5-dumps.txt").read_bytes()


def test_cli_speedscope_of_jstack(tmp_path):
    out = tmp_path / "p.json"
    path = JSTACK / "inputs" / "java17-5-dumps.txt"
    r = cli("collapse", path, "--speedscope", "-o", out)
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads(out.read_bytes())
    assert doc["name"] == path.name and doc["profiles"][0]["name"] == path.name
    assert doc["profiles"][0]["endValue"] == flamefold.collapse(str(path)).total
    r = cli("collapse", path, "--speedscope")
    assert r.returncode == 0 and json.loads(r.stdout) == doc


def test_graph_and_diff_read_dtrace_and_jstack(tmp_path):
    for path in (DTRACE / "inputs" / "example-dtrace-stacks.txt.gz", JSTACK / "inputs" / "java17-5-dumps.txt"):
        profile = quiet(flamefold.collapse, str(path))
        svg = quiet(flamefold.flamegraph, str(path))
        assert svg == quiet(flamefold.flamegraph, profile)
        d = quiet(flamefold.diff, str(path), str(path))
        assert d.items() == quiet(flamefold.diff, profile, profile).items()
        r = cli("graph", path, "-o", tmp_path / "g.svg")
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "g.svg").read_text() == svg
        r = cli("diff", "--folded", path, path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == d.to_folded()


# --- Profile: sum and pickle ---


def test_sum_of_profiles():
    a = flamefold.read_folded(b"a;b 2\nc 1\n")
    b = flamefold.read_folded(b"a;b 3\nd 4\n")
    assert sum([a, b]) == a + b
    assert folded(sum([a, b, a])) == b"a;b 7\nc 2\nd 4\n"
    assert sum([a]) is a
    with pytest.raises(TypeError):
        1 + a
    with pytest.raises(TypeError):
        True + a


def test_pickle_keeps_event_dropped_and_warnings():
    capture = DATA / "collapse" / "inputs" / "perf-cycles-instructions-01.txt"
    p = quiet(flamefold.collapse, str(capture))
    assert p.event is not None and p.dropped > 0 and p.warnings
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        q = pickle.loads(pickle.dumps(p, protocol=proto))
        assert q == p and folded(q) == folded(p)
        assert (q.event, q.dropped, q.warnings) == (p.event, p.dropped, p.warnings)
    # odd names: invalid UTF-8 frames and event, a stack of no frames, a zero count
    odd = flamefold.collapse(b"app 1 1.0: 3 caf\xe9:\n\tffff b\xff (/x)\n\napp 1 2.0: 2 caf\xe9:\n\tffff main (/x)\n")
    q = pickle.loads(pickle.dumps(odd))
    assert folded(q) == folded(odd) and q.event == odd.event and q.event.endswith("\udce9")
    dt = quiet(flamefold.collapse, str(DTRACE / "inputs" / "edge-cases.txt"))
    assert folded(pickle.loads(pickle.dumps(dt))) == folded(dt)
    empty = flamefold.read_folded(b"")
    assert len(pickle.loads(pickle.dumps(empty))) == 0


def test_pickle_is_small_and_refuses_foreign_bytes():
    p = quiet(flamefold.collapse, str(DTRACE / "inputs" / "example-dtrace-stacks.txt.gz"))
    assert len(pickle.dumps(p)) < len(folded(p)) / 3
    from flamefold import _flamefold

    with pytest.raises(ValueError, match="not a pickled flamefold Profile"):
        _flamefold._profile_from_parts(b"junk", [], None, 0)


def test_docstrings():
    for cls in (flamefold.Profile, flamefold.Diff):
        assert cls.__doc__ and len(cls.__doc__) > 200
    assert "sum(" in flamefold.Profile.__doc__ and "to_speedscope" in flamefold.Profile.__doc__
