"""Event recipes (palette, count name, title from the event) and ``--weight bytes``."""

import gzip
import os
import re
import shutil
import subprocess
import sys

import pytest

import flamefold
from flamefold import _flamefold, recipes

from conftest import DATA

R = DATA / "recipes"


def flamefold_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "flamefold", *map(str, args)], input=stdin, capture_output=True)


# -- an independent reading of the raw trace fields -------------------------------------------

_HDR = re.compile(r"^\S.*?\s\d+\.\d+:\s+(?:\d+\s+)?(\S+?):(?:\s+(.*))?$")


def raw_events(text):
    """(event, trace data) of each sample header of `perf script` text."""
    out = []
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            m = _HDR.match(line)
            if m:
                out.append((m.group(1), m.group(2) or ""))
    return out


def raw_size(event, trace):
    """The size the test expects, read its own way (None: none)."""
    if event.startswith("block:"):
        t = trace.split()
        if len(t) > 3 and t[3].startswith("(") and t[2].isdigit():
            return int(t[2])
        i = t.index("+")
        return int(t[i + 1]) * 512
    if event in ("syscalls:sys_enter_mmap", "syscalls:sys_enter_munmap"):
        return int(re.search(r"(?:^|, )len: (0x[0-9a-f]+)", trace).group(1), 16)
    if event.startswith("sock:sock_"):
        return int(re.search(r"length = (\d+)", trace).group(1))
    return None


def folded_total(text):
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line)


# -- recipes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("event, weight, want", [
    ("page-faults", "count", ("mem", "pages", "Page Fault Flame Graph")),
    ("page-faults:u", "bytes", ("mem", "pages", "Page Fault Flame Graph")),
    ("major-faults", "count", ("mem", "pages", "Page Fault Flame Graph")),
    ("minor-faults", "count", ("mem", "pages", "Page Fault Flame Graph")),
    ("faults", "count", ("mem", "pages", "Page Fault Flame Graph")),
    ("block:block_rq_insert", "count", ("io", "I/O requests", "Block I/O Flame Graph")),
    ("block:block_rq_issue", "bytes", ("io", "bytes", "Block I/O Flame Graph")),
    ("syscalls:sys_enter_mmap", "count", ("mem", "calls", "Memory (mmap/brk) Flame Graph")),
    ("syscalls:sys_enter_mmap", "bytes", ("mem", "bytes", "Memory (mmap/brk) Flame Graph")),
    ("syscalls:sys_enter_brk", "bytes", ("mem", "calls", "Memory (mmap/brk) Flame Graph")),
    ("syscalls:sys_enter_munmap", "bytes", ("mem", "bytes", "Memory (mmap/brk) Flame Graph")),
    ("kmem:kmalloc", "bytes", ("mem", "bytes", "Kernel Memory Allocation Flame Graph")),
    ("tcp:tcp_retransmit_skb", "count", ("io", "events", "TCP Flame Graph")),
    ("tcp:tcp_sendmsg_locked", "bytes", ("io", "events", "TCP Flame Graph")),
    ("sock:sock_send_length", "bytes", ("io", "bytes", "TCP Flame Graph")),
    ("sock:inet_sock_set_state", "count", ("io", "events", "TCP Flame Graph")),
])
def test_recipe_picks(event, weight, want):
    r = recipes.recipe_for(event, weight)
    assert (r.colors, r.countname, r.title) == want and r.note is None


@pytest.mark.parametrize("event", [None, "", "cpu-clock", "cpu-clock:ppp", "cycles", "cycles:u", "task-clock", "instructions", "sched:sched_wakeup"])
def test_cpu_events_have_no_recipe(event):
    assert recipes.recipe_for(event) is None


def test_sched_switch_points_at_offcpu():
    r = recipes.recipe_for("sched:sched_switch")
    assert (r.colors, r.countname, r.title) == (None, None, None) and "flamefold offcpu" in r.note


def test_sniff_event(tmp_path):
    assert recipes.sniff_event(R / "blk.txt.gz") == "block:block_rq_insert"
    assert recipes.sniff_event(R / "pf.txt.gz") == "page-faults"
    assert recipes.sniff_event(b"a;b 3\n") is None
    assert recipes.sniff_event(b"p 1 [000] 1.000001:    syscalls:sys_enter_brk: brk: 0x00000000\n") == "syscalls:sys_enter_brk"
    assert recipes.sniff_event(b"p 1/1 12.5: 1001001 cpu-clock:ppp: \n\tffff f ([k])\n") == "cpu-clock:ppp"
    assert recipes.sniff_event(tmp_path / "missing") is None


# -- --weight bytes on constructed text -------------------------------------------------------

BLOCK = """\
dd 31634 [001] 14221.805837: block:block_rq_insert: 254,0 RA 16384 () 12581432 + 32 0x2,0,4 [dd]
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])
\t        101a07 __write+0x7 (/usr/lib/x86_64-linux-gnu/libc.so.6)

dd 31634 [001] 14221.805880: block:block_rq_insert: 254,0 W () 12581472 + 8 [dd]
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])
\t        101a07 __write+0x7 (/usr/lib/x86_64-linux-gnu/libc.so.6)

kworker/0:1 12 [000] 14221.805890: block:block_rq_insert: 8,0 WS 524288 () 100 + 1024 [kworker/0:1]
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])

kworker/0:1 12 [000] 14221.805891: block:block_rq_insert: nothing to read
\t    ffffffff8167a0c1 blk_mq_insert_request+0x1 ([kernel.kallsyms])

"""


def test_weight_bytes_constructed():
    t = _flamefold.weighted(BLOCK.encode(), weight="bytes")
    assert t.folded == b"dd;__write;blk_mq_insert_request 20480\nkworker/0:1;blk_mq_insert_request 524288\n"
    assert dict(t.summary) == {"samples": 4, "weight": 544768, "unsized": 1, "other_events": 0}
    assert any("1 block:block_rq_insert samples without a size" in m and "counted 0 bytes" in m for _, m in t.warnings)
    c = _flamefold.weighted(BLOCK.encode(), weight="count")
    assert c.folded == flamefold.collapse_perf(BLOCK.encode()).to_folded().encode()
    with pytest.raises(ValueError, match="weight must be"):
        _flamefold.weighted(BLOCK.encode(), weight="pages")


def test_weight_bytes_brk_counts_calls():
    text = b"p 1 [000] 1.000001:    syscalls:sys_enter_brk: brk: 0x00000000\n\t  101a07 __brk+0x7 (/lib/libc.so.6)\n\n" * 3
    t = _flamefold.weighted(text, weight="bytes")
    assert t.folded == b"p;__brk 3\n"
    assert [m for _, m in t.warnings] == ["syscalls:sys_enter_brk has no size in its trace data: --weight bytes counts its samples (1 each)"]


# -- real captures ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, event", [
    ("blk", None),
    ("mm", "syscalls:sys_enter_mmap"),
    ("mm", "syscalls:sys_enter_munmap"),
    ("tcp", "sock:sock_send_length"),
    ("tcp", "sock:sock_recv_length"),
])
def test_weight_bytes_equals_raw_fields(name, event):
    path = R / f"{name}.txt.gz"
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    evs = raw_events(text)
    kept = event or evs[0][0]
    want = sum(raw_size(e, tr) for e, tr in evs if e == kept)
    args = ["collapse", "--weight", "bytes", path] + (["--event-filter", event] if event else [])
    r = flamefold_cli(*args)
    assert r.returncode == 0, r.stderr
    assert folded_total(r.stdout.decode()) == want > 0
    if name == "tcp" and event == "sock:sock_send_length":
        assert want == sum(1000 + 37 * i for i in range(200))  # what the workload sent
    # --weight count: the collapser's output, byte for byte
    plain = flamefold_cli("collapse", path, *(["--event-filter", event] if event else []))
    count = flamefold_cli("collapse", "--weight", "count", path, *(["--event-filter", event] if event else []))
    assert count.stdout == plain.stdout
    w = _flamefold.weighted(str(path), weight="count", event=kept)
    assert w.folded == plain.stdout


def test_graph_recipe_page_faults():
    r = flamefold_cli("graph", R / "pf.txt.gz")
    assert r.returncode == 0, r.stderr
    svg = r.stdout.decode()
    assert "Page Fault Flame Graph" in svg and " pages, " in svg
    assert "page-faults: the page-faults recipe: --colors mem --countname pages --title 'Page Fault Flame Graph'" in r.stderr.decode()
    q = flamefold_cli("graph", "-q", R / "pf.txt.gz")
    assert q.stdout == r.stdout and q.stderr == b""
    same = flamefold.flamegraph(str(R / "pf.txt.gz"), colors="mem", countname="pages", title="Page Fault Flame Graph")
    assert svg == same
    # a choice of the user's is kept, and not noted
    mine = flamefold_cli("graph", "--colors", "hot", "--countname", "samples", "--title", "Flame Graph", R / "pf.txt.gz")
    assert mine.stdout.decode() == flamefold.flamegraph(str(R / "pf.txt.gz")) and b" recipe: " not in mine.stderr
    part = flamefold_cli("graph", "--title", "Mine", R / "pf.txt.gz")
    assert "Mine" in part.stdout.decode() and "Page Fault" not in part.stdout.decode()
    assert b"--colors mem --countname pages (" in part.stderr


def test_graph_recipe_from_a_pipe():
    data = gzip.decompress((R / "blk.txt.gz").read_bytes())
    r = flamefold_cli("graph", "--weight", "bytes", stdin=data)
    assert r.returncode == 0, r.stderr
    svg = r.stdout.decode()
    assert "Block I/O Flame Graph" in svg and " bytes, " in svg
    f = flamefold_cli("graph", "--weight", "bytes", R / "blk.txt.gz")
    assert f.stdout == r.stdout
    want = sum(raw_size(e, tr) for e, tr in raw_events(data.decode()) if e == "block:block_rq_insert")
    assert re.search(r"<title>all \(([\d,]+) bytes, 100%\)</title>", svg).group(1).replace(",", "") == str(want)


def test_graph_sched_switch_note():
    text = (DATA / "transform" / "offcpu-us.txt").read_bytes()
    r = flamefold_cli("graph", stdin=text)
    assert r.returncode == 0, r.stderr
    assert b"flamefold offcpu" in r.stderr
    assert r.stdout == flamefold_cli("graph", "-q", DATA / "transform" / "offcpu-us.txt").stdout


def _cpu_captures():
    """The conformance corpus's CPU captures (every one with an event but page faults)."""
    out = sorted((DATA / "collapse" / "inputs").iterdir())
    return [p for p in out if recipes.sniff_event(p) is not None and recipes.recipe_for(recipes.sniff_event(p)) is None]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", _cpu_captures(), ids=lambda p: p.name)
def test_cpu_graphs_unchanged(path):
    r = flamefold_cli("graph", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == flamefold.flamegraph(str(path)) and b" recipe: " not in r.stderr
    pipe = flamefold_cli("graph", stdin=gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes())
    assert pipe.stdout == r.stdout


def test_weight_bytes_needs_a_capture(tmp_path):
    folded = tmp_path / "f.folded"
    folded.write_text("a;b 3\n")
    r = flamefold_cli("graph", "--weight", "bytes", folded)
    assert r.returncode == 1 and b"--weight bytes needs `perf script` text" in r.stderr


def test_weight_bytes_usage_errors():
    r = flamefold_cli("collapse", "--weight", "bytes", "--each", "--outdir", "x", R / "blk.txt.gz")
    assert r.returncode == 2 and b"--weight bytes does not go with --each" in r.stderr
    r = flamefold_cli("graph", "--weight", "bytes", "--scheduler", "tcp://127.0.0.1:1", R / "blk.txt.gz")
    assert r.returncode == 2 and b"--weight bytes does not go with --scheduler" in r.stderr
    r = flamefold_cli("collapse", "--weight", "bytes", "--format", "dtrace", R / "blk.txt.gz")
    assert r.returncode == 1 and b"reads `perf script` text" in r.stderr


def test_python_recipe_flamegraph():
    svg = recipes.flamegraph(str(R / "blk.txt.gz"), weight="bytes")
    assert "Block I/O Flame Graph" in svg and " bytes, " in svg
    assert recipes.flamegraph(str(R / "pf.txt.gz"), title="T") == flamefold.flamegraph(str(R / "pf.txt.gz"), title="T", colors="mem", countname="pages")


# -- a fresh capture --------------------------------------------------------------------------

def test_fresh_page_fault_and_block_captures(tmp_path):
    perf = shutil.which("perf")
    if perf is None or os.geteuid() != 0:
        pytest.skip("perf not available: page-fault and block captures need `perf record -a` as root")
    data = tmp_path / "pf.data"
    rec = subprocess.run([perf, "record", "-e", "page-faults", "-g", "-o", data, "--", sys.executable, "-c", "x = bytearray(1 << 24); x[::4096] = b'y' * 4096"], capture_output=True)
    if rec.returncode != 0:
        pytest.skip(f"perf not available: perf record -e page-faults failed: {rec.stderr.decode()[-200:]}")
    cap = tmp_path / "pf.txt"
    cap.write_bytes(subprocess.run([perf, "script", "-i", data], capture_output=True, check=True).stdout)
    r = flamefold_cli("graph", cap)
    assert r.returncode == 0 and b"Page Fault Flame Graph" in r.stdout and b" recipe: " in r.stderr
    mm = tmp_path / "mm.data"
    rec = subprocess.run([perf, "record", "-e", "syscalls:sys_enter_mmap", "-g", "-o", mm, "--", sys.executable, "-c", "import mmap; m = [mmap.mmap(-1, 1 << 20) for _ in range(20)]"], capture_output=True)
    if rec.returncode != 0:
        pytest.skip(f"perf not available: perf record -e syscalls:sys_enter_mmap failed: {rec.stderr.decode()[-200:]}")
    text = subprocess.run([perf, "script", "-i", mm], capture_output=True, check=True).stdout
    want = sum(raw_size(e, tr) for e, tr in raw_events(text.decode("utf-8", "replace")) if e == "syscalls:sys_enter_mmap")
    r = flamefold_cli("collapse", "--weight", "bytes", stdin=text)
    assert r.returncode == 0, r.stderr
    assert folded_total(r.stdout.decode()) == want >= 20 << 20
