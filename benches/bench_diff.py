"""Two ~1 GiB perf captures -> differential flame graph: `flamefold diff` against collapsing twice,
diffing and drawing with inferno (inferno-collapse-perf x2 | inferno-diff-folded | inferno-flamegraph),
in one run. Peak RSS of flamefold's run is bounded by the distinct stacks, not the input size.

    python -m pytest benches/bench_diff.py -s
"""

import subprocess
import time

from conftest import DATA, MB, tool
from bench_collapse import timed


def captures(tmp_path):
    import gzip

    parts = {}
    for p in sorted(DATA.iterdir()):
        if p.name.startswith(("perf-", "example", "real-")):
            b = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            parts[p.name] = b.rstrip(b"\n") + b"\n\n"
    before = b"".join(parts.values())
    # after: the same workload with some captures gone and one weighing double
    after = b"".join(v for k, v in parts.items() if "vertx" not in k and "numa" not in k) + parts["example-perf-stacks.txt.gz"]
    paths = []
    for name, unit in (("before", before), ("after", after)):
        path = tmp_path / f"{name}.txt"
        with open(path, "wb") as f:
            for _ in range(max(1, MB * 2**20 // len(unit))):
                f.write(unit)
        paths.append(path)
    return paths


def test_diff_vs_inferno_pipeline(tmp_path, benchmark):
    a, b = captures(tmp_path)
    ff = tool("flamefold")
    for t in ("inferno-collapse-perf", "inferno-diff-folded", "inferno-flamegraph"):
        tool(t)
    inferno = (
        f"inferno-collapse-perf -q {a} > {tmp_path}/a.folded && inferno-collapse-perf -q {b} > {tmp_path}/b.folded && "
        f"inferno-diff-folded {tmp_path}/a.folded {tmp_path}/b.folded | inferno-flamegraph > {tmp_path}/inferno.svg"
    )
    rows = {
        "flamefold diff -> svg": timed([ff, "diff", "-q", str(a), str(b), "-o", str(tmp_path / "ff.svg")], repeat=2),
        "flamefold diff --html": timed([ff, "diff", "-q", "--html", str(a), str(b), "-o", str(tmp_path / "ff.html")], repeat=2),
        "inferno collapse x2 + diff + graph": timed(["bash", "-c", inferno], repeat=2),
    }
    benchmark.pedantic(lambda: None, rounds=1)
    size = a.stat().st_size + b.stat().st_size
    print(f"\ninputs: {a.stat().st_size / 1e6:,.0f} MB + {b.stat().st_size / 1e6:,.0f} MB")
    for name, (t, rss) in rows.items():
        print(f"  {name:36s} {t:7.2f} s  {size / t / 1e6:7,.0f} MB/s  peak RSS {rss / 1024:6.1f} MiB")
    print(f"  flamefold vs inferno pipeline: {rows['inferno collapse x2 + diff + graph'][0] / rows['flamefold diff -> svg'][0]:.1f}x faster")
    print(f"  SVG sizes: flamefold {(tmp_path / 'ff.svg').stat().st_size:,} B, inferno {(tmp_path / 'inferno.svg').stat().st_size:,} B")
    assert rows["flamefold diff -> svg"][1] < 100 * 1024
