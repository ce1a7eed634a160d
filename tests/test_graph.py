"""flamefold.flamegraph() and `flamefold graph`: inputs, options, escaping, errors."""

import gzip
import json
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import flamefold
from flamefold import GraphWarning, flamegraph
from flamefold.palettes import drand48_first, namehash, palette_color

HERE = Path(__file__).parent
DATA = HERE / "data" / "flamegraph" / "inputs"
PERF = HERE / "data" / "collapse" / "inputs"
NS = {"s": "http://www.w3.org/2000/svg"}


def frames(svg_text):
    """[(title, rect attributes, label)] of every frame, the SVG parsed as XML."""
    root = ET.fromstring(svg_text.encode("utf-8"))
    out = []
    for g in root.find("s:g[@id='frames']", NS):
        node = g.find("s:a", NS) if g.find("s:a", NS) is not None else g
        text = node.find("s:text", NS)
        out.append((node.find("s:title", NS).text, node.find("s:rect", NS).attrib, "" if text is None else text.text))
    return out


def titles(svg_text):
    return [t for t, _, _ in frames(svg_text)]


def cli(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "flamefold", "graph", *map(str, args)], input=input,
                          capture_output=True, cwd=cwd)


SMALL = "main;a;b 60\nmain;a 20\nmain;c 20\n"


# -- inputs -----------------------------------------------------------------------------------

def test_sources_of_every_kind_give_the_same_graph(tmp_path):
    path = tmp_path / "s.folded"
    path.write_text(SMALL)
    gz = tmp_path / "s.folded.gz"
    gz.write_bytes(gzip.compress(SMALL.encode()))
    want = flamegraph(str(path))
    assert flamegraph(path) == want
    assert flamegraph(gz) == want
    assert flamegraph(SMALL.encode()) == want
    assert flamegraph(SMALL) == want  # folded text
    assert flamegraph(flamefold.read_folded(path)) == want
    with open(path, "rb") as f:
        assert flamegraph(f) == want
    assert flamegraph([SMALL.encode(), SMALL.encode()]) != want  # a list merges: twice the samples
    assert "main (200 samples, 100.00%)" in flamegraph([path, path])


def test_perf_script_input_is_collapsed_first():
    perf = PERF / "perf-vertx-stacks-01.txt"
    direct = flamegraph(perf)
    via_profile = flamegraph(flamefold.collapse_perf(perf))
    assert direct == via_profile
    assert len(frames(direct)) > 100
    gz = PERF / "example-perf-stacks.txt.gz"
    assert flamegraph(gz) == flamegraph(flamefold.collapse_perf(gz))


def test_cli_reads_stdin_and_perf_script():
    perf = (PERF / "perf-vertx-stacks-01.txt").read_bytes()
    run = cli(input=perf)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == flamegraph(PERF / "perf-vertx-stacks-01.txt")
    run = cli("-", input=SMALL.encode())
    assert run.returncode == 0 and run.stdout.decode() == flamegraph(SMALL)


def test_output_is_deterministic():
    a = cli(DATA / "vertx-all.folded").stdout
    b = cli(DATA / "vertx-all.folded").stdout
    assert a == b and len(a) > 10000


def test_output_file_is_written_atomically(tmp_path):
    out = tmp_path / "g.svg"
    run = cli(DATA / "example-perf.folded", "-o", out)
    assert run.returncode == 0 and run.stdout == b""
    assert out.read_text() == flamegraph(DATA / "example-perf.folded")
    assert os.listdir(tmp_path) == ["g.svg"]
    run = cli(DATA / "example-perf.folded", "-o", tmp_path / "missing" / "g.svg")
    assert run.returncode == 1
    assert b"error" in run.stderr and b"Traceback" not in run.stderr


def test_dest_file_objects(tmp_path):
    import io

    text = io.StringIO()
    raw = io.BytesIO()
    svg = flamegraph(SMALL, text)
    flamegraph(SMALL, raw)
    assert text.getvalue() == svg == raw.getvalue().decode()


def test_bad_lines_warn_with_their_number_and_the_rest_draws():
    data = "main;a 10\nthis line has no count\nmain;b 5\nmain;c 5 extra\n\n# comment\nmain;d 1.5\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svg = flamegraph(data)
    msgs = [str(w.message) for w in caught if issubclass(w.category, GraphWarning)]
    assert any(m.startswith("line 2:") for m in msgs), msgs
    assert any(m.startswith("line 4:") for m in msgs), msgs
    assert len(msgs) == 2
    assert "main (16.5 samples, 100.00%)" in titles(svg)
    run = cli("-", input=data.encode())
    assert run.returncode == 0
    assert b"flamefold graph: warning: <stdin>: line 2: " in run.stderr
    assert b"Traceback" not in run.stderr


def test_invalid_utf8_does_not_fail():
    svg = flamegraph(b"main;caf\xe9;\xff\xfe 10\nmain;ok 5\n")
    names = [t.split(" (")[0] for t in titles(svg)]
    assert "caf\ufffd" in names and "\ufffd\ufffd" in names


def test_empty_input_gives_the_error_graph():
    with pytest.warns(GraphWarning, match="no stack counts"):
        svg = flamegraph(b"")
    assert "No valid input" in svg
    ET.fromstring(svg.encode())
    run = cli("-", input=b"garbage\n")
    assert run.returncode == 2
    assert b"No valid input" in run.stdout
    assert b"error: no stack counts found" in run.stderr


def test_missing_file_is_one_line():
    run = cli("/nonexistent/x.folded")
    assert run.returncode == 1
    assert run.stderr.decode().count("\n") == 1 and b"No such file" in run.stderr


def test_profile_shows_itself_in_a_notebook():
    html = flamefold.read_folded(SMALL.encode())._repr_html_()
    assert html.startswith("<iframe") and "data:image/svg+xml;base64," in html
    import base64

    data = re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)
    assert base64.b64decode(data).decode() == flamegraph(SMALL)


def test_fractional_counts_are_shown_as_they_are():
    svg = flamegraph("a;b 0.156\na;c 2.5\n")
    assert "b (0.156 samples, 5.87%)" in titles(svg)


def test_huge_counts():
    svg = flamegraph("a;b 240000000000000000\na;c 240000000000000000\n")
    assert "all (480,000,000,000,000,000 samples, 100%)" in titles(svg)


# -- escaping ---------------------------------------------------------------------------------

EVIL = '<script>alert("x")</script> & ]]> \'q\''


def test_everything_from_the_input_is_escaped():
    data = f"main;{EVIL};leaf\x01 10\nmain;other 10\n"
    svg = flamegraph(data, title=EVIL, subtitle=EVIL, notes=EVIL + " -- x-", countname=EVIL,
                     nametype=EVIL, fonttype='Evil"; } text { fill: red', width=3000)
    root = ET.fromstring(svg.encode())  # well-formed
    names = [t.split(" (")[0] for t in titles(svg)]
    assert EVIL in names
    assert "leaf\ufffd" in names
    assert root.find("s:text[@id='title']", NS).text == EVIL
    assert root.find("s:text[@id='subtitle']", NS).text == EVIL
    assert [t for t, _, label in frames(svg) if label == EVIL]  # the label too
    assert all(f"{EVIL})" not in t and f" {EVIL}, " in t for t in titles(svg)[1:])  # countname
    # one script element, ours; nametype is data inside it
    assert len(root.findall(".//s:script", NS)) == 1
    script = root.find(".//s:script", NS).text
    config = json.loads(re.search(r"var fg_config = (\{.*?\});", script).group(1))
    assert config["nametype"] == EVIL
    assert "<" not in script.split("\n")[1]
    # the notes comment cannot end early
    assert "<!-- NOTES: &lt;script&gt;" in svg
    assert re.search(r"<!-- NOTES: (.*?) -->", svg).group(1).count("--") == 0
    # the font cannot break out of its CSS rule
    style = root.find(".//s:style", NS).text
    assert 'text { fill: red' not in style and "font-family: \"Evil" in style


# -- options ----------------------------------------------------------------------------------

def svg_root(svg):
    return ET.fromstring(svg.encode())


def test_titles_by_mode():
    assert svg_root(flamegraph(SMALL)).find("s:text[@id='title']", NS).text == "Flame Graph"
    assert svg_root(flamegraph(SMALL, inverted=True)).find("s:text[@id='title']", NS).text == "Icicle Graph"
    assert svg_root(flamegraph(SMALL, flamechart=True, inverted=True)).find("s:text[@id='title']", NS).text == "Flame Chart"
    assert svg_root(flamegraph(SMALL, title="Mine")).find("s:text[@id='title']", NS).text == "Mine"


def test_geometry_options():
    base = svg_root(flamegraph(SMALL))
    # 4 levels * 16 + 36 + 34
    assert base.get("height") == "134" and base.get("width") == "1200"
    sub = svg_root(flamegraph(SMALL, subtitle="s"))
    assert sub.get("height") == "158"
    big = svg_root(flamegraph(SMALL, width=700, height=20, fontsize=10))
    assert big.get("width") == "700" and big.get("height") == str(4 * 20 + 30 + 30)
    rects = [r for _, r, _ in frames(flamegraph(SMALL, width=700, height=20))]
    assert {r["height"] for r in rects} == {"19.0"}
    assert rects[0]["width"] == "680.0"
    inv = frames(flamegraph(SMALL, inverted=True))
    assert float(inv[0][1]["y"]) < float(inv[1][1]["y"])  # the root on top


def test_minwidth_pixels_and_percent():
    data = "a;big 10000\na;small 1\n"
    assert any(t.startswith("small") for t in titles(flamegraph(data)))
    assert not any(t.startswith("small") for t in titles(flamegraph(data, minwidth=1)))
    assert not any(t.startswith("small") for t in titles(flamegraph(data, minwidth="0.5%")))
    assert "a (10,001 samples, 100.00%)" in titles(flamegraph(data, minwidth="0.5%"))
    with pytest.raises(ValueError):
        flamegraph(data, minwidth="abc")
    assert cli("--minwidth", "x%", "-", input=data.encode()).returncode == 2


def test_countname_factor_total():
    t = titles(flamegraph(SMALL, countname="bytes", factor=2.5))
    assert "all (250 bytes, 100%)" in t and "b (150 bytes, 60.00%)" in t
    with pytest.warns(GraphWarning, match="less than the actual total"):
        flamegraph(SMALL, total=50)
    fr = frames(flamegraph(SMALL, total=200))
    assert fr[0][0] == "all (200 samples, 100%)" and fr[0][1]["width"] == "1180.0"
    assert fr[1][0] == "main (100 samples, 50.00%)" and fr[1][1]["width"] == "590.0"


def test_differential_tooltips_and_colours():
    data = "a;b 10 30\na;c 30 10\na 5 5\n"
    fr = {t.split(" (")[0]: (t, r["fill"]) for t, r, _ in frames(flamegraph(data))}
    # both counts and the change under each frame
    assert fr["b"] == ("b (30 samples, 66.67%; before 10: +20, +44.44%)", "rgb(255,0,0)")
    assert fr["c"] == ("c (10 samples, 22.22%; before 30: -20, -44.44%)", "rgb(0,0,255)")
    assert fr["a"] == ("a (45 samples, 100.00%; before 45: 0, 0.00%)", "rgb(255,255,255)")
    neg = {t.split(" (")[0]: r["fill"] for t, r, _ in frames(flamegraph(data, negate=True))}
    assert neg["b"] == "rgb(0,0,255)" and neg["c"] == "rgb(255,0,0)"


def test_default_colours_are_flamegraph_pls():
    assert drand48_first(98) == pytest.approx(0.50945, abs=1e-4)
    assert palette_color("hot", "b") == (230, 117, 28)
    assert palette_color("hot", "") == (213, 39, 9)
    assert namehash("genunix`close") == namehash("close")
    fills = {t.split(" (")[0]: r["fill"] for t, r, _ in frames(flamegraph("x;b 1\nx;-- 1\nx;- 1\n"))}
    assert fills == {"all": "rgb(213,39,9)", "x": "rgb(" + ",".join(map(str, palette_color("hot", "x"))) + ")",
                     "b": "rgb(230,117,28)", "--": "rgb(160,160,160)", "-": "rgb(200,200,200)"}


@pytest.mark.parametrize("palette,name,hue", [
    ("java", "java/lang/Thread.run_[j]", "green"), ("java", "Interpreter_[i]", "aqua"),
    ("java", "JavaThread::run", "yellow"), ("java", "sys_write_[k]", "orange"), ("java", "start_thread", "red"),
    ("java", "Lcom/foo/Bar;.x", "green"),
    ("js", "LazyCompile:*foo /app/x.js:1_[j]", "green"), ("js", "Builtin:A_[j]", "aqua"),
    ("js", "node::Start", "yellow"), ("js", "read_[k]", "orange"), ("js", "main", "red"),
    ("perl", "Foo::bar", "yellow"), ("perl", "Perl_pp_entersub", "green"), ("perl", "x_[k]", "orange"),
    ("python", "run (/usr/lib/python3/dist-packages/foo.py:3)", "aqua"),
    ("python", "loads (/usr/lib/python3.11/json/__init__.py:346)", "yellow"),
    ("python", "<frozen importlib._bootstrap>", "yellow"), ("python", "main (app.py:1)", "red"),
    ("rust", "core::ptr::drop_in_place", "orange"), ("rust", "<alloc::vec::Vec<T> as core::ops::Drop>::drop", "orange"),
    ("rust", "myapp::main", "aqua"), ("rust", "myapp`myapp::main", "aqua"), ("rust", "malloc", "yellow"),
    ("chain", "foo_[w]", "aqua"), ("chain", "foo", "blue"), ("wakeup", "foo", "aqua"),
])
def test_mixed_palettes(palette, name, hue):
    assert palette_color(palette, name) == palette_color(hue, name)


def test_chain_palette_marks_wakers():
    t = titles(flamegraph("a;--;b 5\n", colors="chain"))
    assert "b (5 samples, 100.00%)" in t  # shown without its _[w]
    fills = {tt.split(" (")[0]: r["fill"] for tt, r, _ in frames(flamegraph("a;--;b 5\n", colors="chain"))}
    assert fills["b"] == "rgb(%d,%d,%d)" % palette_color("aqua", "b_[w]")


def test_backgrounds():
    svg = flamegraph(SMALL)
    assert 'stop-color="#eeeeb0"' in svg
    assert 'stop-color="#e0ffe0"' in flamegraph(SMALL, colors="mem")
    assert 'stop-color="#e0e0ff"' in flamegraph(SMALL, bgcolors="blue")
    assert 'fill="#123456"' in flamegraph(SMALL, bgcolors="#123456")
    run = cli("--bgcolors", "pink", "-", input=SMALL.encode())
    assert run.returncode == 2 and b"bgcolor" in run.stderr


def test_hash_and_random():
    h = {t.split(" (")[0]: r["fill"] for t, r, _ in frames(flamegraph(SMALL, hash=True))}
    v1, v2 = namehash("main"), namehash("niam")
    assert h["main"] == f"rgb({205 + int(50 * v2)},{int(230 * v1)},{int(55 * v2)})"
    ET.fromstring(flamegraph(SMALL, random=True).encode())
    assert cli("--colors", "nope", "-", input=SMALL.encode()).returncode == 2


def test_consistent_palette_file(tmp_path):
    run = cli("--cp", "-", input=SMALL.encode(), cwd=tmp_path)
    assert run.returncode == 0
    lines = (tmp_path / "palette.map").read_text().splitlines()
    assert lines == sorted(lines) and "->rgb(213,39,9)" in lines and any(l.startswith("main->rgb(") for l in lines)
    (tmp_path / "palette.map").write_text("main->rgb(1,2,3)\n")
    out = cli("--cp", "-", input=SMALL.encode(), cwd=tmp_path).stdout.decode()
    assert {t.split(" (")[0]: r["fill"] for t, r, _ in frames(out)}["main"] == "rgb(1,2,3)"
    assert len((tmp_path / "palette.map").read_text().splitlines()) == 5


def test_nameattr(tmp_path):
    attrs = tmp_path / "attrs.txt"
    attrs.write_text('b\thref=https://example.com/?a=1&b=2\tclass=hot\tg_extra=data-x="1"\n'
                     'c\ttitle=custom <c>\nno tab here\nmain\tbogus=1\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svg = flamegraph(SMALL, nameattr=attrs)
    assert len([w for w in caught if "line 3" in str(w.message) or "bogus" in str(w.message)]) == 2
    root = ET.fromstring(svg.encode())
    g = root.find(".//s:g[@class='hot']", NS)
    assert g.get("data-x") == "1"
    a = g.find("s:a", NS)
    assert a.get("{http://www.w3.org/1999/xlink}href") == "https://example.com/?a=1&b=2"
    assert a.get("target") == "_top"
    assert "custom <c>" in titles(svg)


def test_encoding(tmp_path):
    out = tmp_path / "g.svg"
    run = cli("--encoding", "ISO-8859-1", "--title", "caf\u00e9 \u2603", "-o", out, "-", input=SMALL.encode())
    assert run.returncode == 0
    data = out.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"')
    assert b"caf\xe9 &#9731;" in data
    assert ET.fromstring(data).find("s:text[@id='title']", NS).text == "caf\u00e9 \u2603"
    assert cli("--encoding", "nonesuch", "-", input=SMALL.encode()).returncode == 2


def test_search_and_stroke_colour_and_truncation():
    svg = flamegraph(SMALL, search_color="#00ff00", stroke_color="rgb(1,2,3)")
    assert '"searchcolor": "#00ff00"' in svg and "stroke: rgb(1,2,3)" in svg
    with pytest.raises(ValueError):
        flamegraph(SMALL, search_color="red;}")
    long = "main;" + "x" * 300 + "_end 10\n"
    right = [lbl for _, _, lbl in frames(flamegraph(long, width=400))][2]
    left = [lbl for _, _, lbl in frames(flamegraph(long, width=400, truncate="left"))][2]
    assert right.startswith("xxx") and right.endswith("..")
    assert left.startswith("..") and left.endswith("_end")
    run = cli("--truncate-text-left", "--width", "400", "-", input=long.encode())
    assert [lbl for _, _, lbl in frames(run.stdout.decode())][2] == left
    assert cli("--truncate-text-right", "-", input=long.encode()).returncode == 0


def test_labels_fit_like_flamegraph_pl():
    fr = frames(flamegraph("main;" + "f" * 50 + "_[k] 1\nmain;x 1000\n"))
    # the annotation never shows; a box too narrow for 3 characters has no label
    assert all("_[k]" not in (t or "") for t, _, _ in fr)
    assert all(lbl == "" or len(lbl) * 12 * 0.59 <= float(r["width"]) + 0.1 for _, r, lbl in fr)


def test_unknown_option_and_bad_values():
    with pytest.raises(TypeError, match="colour"):
        flamegraph(SMALL, colour="hot")
    for bad in ({"width": 0}, {"fontsize": -1}, {"colors": "nope"}, {"truncate": "middle"}, {"total": "x"}):
        with pytest.raises(ValueError):
            flamegraph(SMALL, **bad)


def test_help_documents_every_option():
    text = cli("--help").stdout.decode()
    for opt in ("--title", "--subtitle", "--width", "--height", "--minwidth", "--fonttype", "--fontsize",
                "--fontwidth", "--countname", "--nametype", "--colors", "--bgcolors", "--hash", "--random",
                "--cp", "--reverse", "--inverted", "--flamechart", "--negate", "--notes", "--factor",
                "--total", "--nameattr", "--encoding", "--search-color", "--stroke-color",
                "--truncate-text-right", "-o"):
        assert re.search(rf"(^|\s){re.escape(opt)}[\s,=]", text), opt


def test_reader_going_away_is_quiet():
    """`flamefold graph big | head -c 10`: no traceback, the status of a broken pipe (141)."""
    p = subprocess.Popen([sys.executable, "-m", "flamefold", "graph", str(DATA / "example-perf.folded"), "--minwidth", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(10) == b"<?xml vers"
    p.stdout.close()
    assert p.wait() == 141
    assert p.stderr.read() == b""


def test_slow_reader_gets_everything():
    p = subprocess.Popen([sys.executable, "-m", "flamefold", "graph", str(DATA / "example-perf.folded"), "--minwidth", "0"],
                         stdout=subprocess.PIPE)
    import time

    time.sleep(0.5)
    data = p.stdout.read()
    assert p.wait() == 0
    assert data.decode() == flamegraph(DATA / "example-perf.folded", minwidth=0)


@pytest.mark.parametrize("name", ["vertx-all.folded", "example-perf.folded", "async-profiler-java.folded"])
def test_same_graph_at_any_thread_count_and_line_order(tmp_path, name):
    # several 1 MB blocks, so that several builders read and their trees are merged
    lines = (DATA / name).read_text().splitlines()
    base = "".join(f"{a};{line}\n" for a in ("p1", "p0", "p2", "p1") for line in lines)
    text = base * (2_100_000 // len(base) + 1)
    path = tmp_path / "big.folded"
    path.write_text(text)
    assert path.stat().st_size > 2_000_000
    want = flamegraph(path, threads=1, minwidth=0)
    assert flamegraph(path, threads=2, minwidth=0) == want
    assert flamegraph(path, threads=3, minwidth=0) == want
    shuffled = "\n".join(sorted(text.splitlines(), key=lambda l: hash(l) % 1000)) + "\n"
    assert flamegraph(shuffled, threads=2, minwidth=0) == want
    assert flamegraph(shuffled.encode(), threads=1, minwidth=0) == want
