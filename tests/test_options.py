"""One definition of the options (options.py) behind the API and the command line, and the
command line's consistency: flamegraph.pl's single-dash spellings, a command's own usage on an
error, diff's real default title, --inline on graph and diff, collapse --format/--speedscope."""

import dataclasses
import inspect
import json
import pathlib
import subprocess
import sys

import pytest

import flamefold
from flamefold.options import CollapseOptions, FormatOptions, GraphOptions, api_names
from conftest import DATA

from test_inline import inlined_binary, leaf_address, perf_text  # noqa: F401 (a fixture)

FOLDED = DATA / "flamegraph" / "inputs" / "example-perf.folded"
PERF = DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "flamefold", *map(str, args)], input=stdin, capture_output=True)


def keywords(func):
    return {p.name: p.default for p in inspect.signature(func).parameters.values() if p.kind is p.KEYWORD_ONLY}


def defaults(cls):
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name in api_names(cls)}


def test_api_signatures_are_the_option_classes():
    collapse = defaults(CollapseOptions)
    assert "all" not in collapse and "inline" in collapse  # --all is the command line's
    assert keywords(flamefold.collapse_perf) == {**collapse, "progress": None}
    assert keywords(flamefold.collapse) == {"format": "auto", **collapse, **defaults(FormatOptions), "progress": None}
    assert keywords(flamefold.diff) == {"normalize": False, "strip_hex": False, **collapse}
    assert keywords(flamefold.flamegraph) == {**defaults(GraphOptions), **collapse}


def test_the_core_takes_what_the_options_pass():
    from flamefold import _flamefold

    native = set(CollapseOptions().native())
    assert native <= set(keywords(_flamefold.collapse_perf))
    # graph_frames and diff take them all once the core does; until then the missing ones are
    # applied by collapsing perf inputs first (_api.collapse_first)
    for func in (_flamefold.graph_frames, _flamefold.diff):
        assert {"pid", "tid", "kernel", "jit", "addrs", "event_filter", "threads"} <= set(keywords(func))


def test_help_text_lives_in_the_options():
    text = cli("graph", "--help").stdout.decode()
    for f in dataclasses.fields(GraphOptions) + dataclasses.fields(CollapseOptions):
        for flag, _, help in f.metadata.get("flags") or ((f"--{f.name.replace('_', '-')}", None, f.metadata["help"]),):
            assert flag in text, flag
            assert help.split()[0] in text, help


def test_graph_takes_flamegraph_pl_single_dash_spellings():
    a = cli("graph", "-title", "Mine", "-width", "600", "-colors", "java", "-minwidth", "0", FOLDED)
    b = cli("graph", "--title", "Mine", "--width", "600", "--colors", "java", "--minwidth", "0", FOLDED)
    assert a.returncode == 0 and a.stdout == b.stdout
    assert b">Mine</text>" in a.stdout and b'width="600"' in a.stdout
    c = cli("graph", "-title=Mine", "-width=600", "-colors=java", "-minwidth=0", FOLDED)
    assert c.stdout == a.stdout


def test_diff_takes_single_dash_spellings_too():
    a = cli("diff", "-title", "D", "-width", "500", FOLDED, FOLDED)
    b = cli("diff", "--title", "D", "--width", "500", FOLDED, FOLDED)
    assert a.returncode == 0 and a.stdout == b.stdout and b">D</text>" in a.stdout


@pytest.mark.parametrize("command", ["graph", "diff", "collapse"])
def test_a_usage_error_shows_that_commands_usage(command):
    r = cli(command, "--bogus", FOLDED, FOLDED)
    err = r.stderr.decode()
    assert r.returncode == 2
    assert err.startswith(f"usage: flamefold {command} "), err
    assert err.rstrip().endswith(f"flamefold {command}: error: unrecognized arguments: --bogus")
    assert "Traceback" not in err


def test_diff_help_states_the_title_diff_draws():
    text = " ".join(cli("diff", "--help").stdout.decode().split())
    assert 'default "Differential Flame Graph"' in text
    assert b">Differential Flame Graph</text>" in cli("diff", FOLDED, FOLDED).stdout
    assert b">Icicle Graph</text>" in cli("diff", "--inverted", FOLDED, FOLDED).stdout
    assert b">Flame Graph</text>" in cli("diff", "--title", "Flame Graph", FOLDED, FOLDED).stdout
    assert 'default "Flame Graph"' in " ".join(cli("graph", "--help").stdout.decode().split())


def test_dir_lists_the_lazy_graph_names():
    names = dir(flamefold)
    assert "flamegraph" in names and "GraphWarning" in names and "collapse" in names
    assert set(flamefold.__all__) <= set(names)
    init = pathlib.Path(flamefold.__file__).read_text()
    assert "TYPE_CHECKING" not in init
    # still loaded on first use only: the collapse command starts without it
    r = subprocess.run([sys.executable, "-c", "import sys, flamefold; print('flamefold.graph' in sys.modules)"], capture_output=True, text=True)
    assert r.stdout.strip() == "False"


def test_graph_and_diff_take_inline(inlined_binary, tmp_path):
    perf = tmp_path / "inl.perf"
    perf.write_bytes(perf_text(inlined_binary, leaf_address(inlined_binary)))
    svg = cli("graph", "--inline", perf).stdout.decode()
    assert ">leaf<" in svg or "leaf (" in svg
    assert "leaf" not in cli("graph", perf).stdout.decode()
    assert flamefold.flamegraph(str(perf), inline=True) == svg
    folded = cli("diff", "--folded", "--inline", perf, perf).stdout
    assert folded == b"inl;main;mid;leaf 1 1\n"
    d = flamefold.diff(str(perf), str(perf), inline=True)
    assert d.items() == [("inl;main;mid;leaf", 1, 1)]
    # folded inputs next to perf ones are read as they are
    assert cli("diff", "--folded", "--inline", FOLDED, perf).returncode == 0


def test_context_needs_inline_everywhere():
    for command in (("graph",), ("diff", FOLDED)):
        r = cli(*command, "--context", FOLDED)
        assert r.returncode == 2 and b"--context goes with --inline" in r.stderr


def test_collapse_format():
    want = cli("collapse", PERF).stdout
    assert cli("collapse", "--format", "perf", PERF).stdout == want
    assert cli("collapse", "--format", "auto", PERF).stdout == want
    folded = cli("collapse", "--format", "folded", "-", stdin=b"a;b 2\na 1\na;b 3\n")
    assert folded.returncode == 0 and folded.stdout == b"a 1\na;b 5\n"
    assert flamefold.collapse(b"a;b 2\n", format="folded").total == 2
    assert flamefold.collapse(str(PERF)).to_folded().encode() == want
    with pytest.raises(ValueError, match="unknown format"):
        flamefold.collapse(str(PERF), format="nope")
    r = cli("collapse", "--format", "nope", PERF)
    assert r.returncode == 2 and r.stderr.startswith(b"usage: flamefold collapse")
    # a format the core cannot read yet is one line, status 1; once it can, it is read
    r = cli("collapse", "--format", "jstack", PERF)
    assert r.returncode in (0, 1) and b"Traceback" not in r.stderr
    if r.returncode == 1:
        assert r.stderr.decode().count("\n") == 1 and b"jstack" in r.stderr
    text = cli("collapse", "--help").stdout.decode()
    for word in ("--format", "auto", "perf-data", "dtrace", "jstack", "folded", "--speedscope"):
        assert word in text


def test_collapse_speedscope(tmp_path):
    out = tmp_path / "p.json"
    r = cli("collapse", PERF, "--speedscope", "-o", out)
    if not hasattr(flamefold.Profile, "to_speedscope"):
        # until the core writes speedscope: one line, no file, no traceback
        assert r.returncode == 1 and r.stderr.decode().count("\n") == 1 and b"speedscope" in r.stderr
        assert not out.exists()
        return
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc == json.loads(cli("collapse", PERF, "--speedscope").stdout)
    assert "speedscope" in doc.get("$schema", "")
    r = cli("collapse", PERF, "--speedscope", "--top", "3")
    assert r.returncode == 2


def test_inline_keeps_the_warnings():
    weird = DATA / "collapse" / "inputs" / "inferno-weird-stack-line.txt"
    for args in (("graph", weird), ("diff", "--folded", weird, weird)):
        plain = cli(*args).stderr.decode()
        inline = cli(args[0], "--inline", *args[1:]).stderr.decode()
        assert "line 5: unrecognized line" in plain
        assert inline.count("line 5: unrecognized line") == plain.count("line 5: unrecognized line")
