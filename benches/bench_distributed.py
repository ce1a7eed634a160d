"""flamefold.distributed on a LocalCluster against collapse_many, on 200+ captures.

    pip install '.[bench,dask]'
    python -m pytest benches/bench_distributed.py -s

Two fleets, each written to a temporary folder (never committed):

- ``corpus``: the 27 corpus captures (tests/data/collapse/inputs) copied 8 times under distinct
  names (216 captures). Copy k's sample headers are prefixed ``hK-``, so each "host" has its own
  process names and the merged profile grows with the fleet, as it does across real hosts.
- ``large``: 200 captures of 14 MB (the perf/example/real corpus captures concatenated, 2.8 GB
  in all; 20 "hosts" by header prefix): tasks long enough that Dask's own cost per task (a few
  milliseconds) stops mattering.
- ``recorded``: one system-wide ``perf record -a -g`` of a mixed workload (CPython, gzip, sort,
  sha256sum) cut into 240 captures on sample boundaries, in time order: real perf output, like
  one capture per instance per period. Needs ``perf`` and permission to record system-wide
  (root or perf_event_paranoid <= 0); skipped otherwise.

For each: the best of 3 wall times of ``collapse_many(paths, threads=W)`` and of
``flamefold.distributed.collapse`` on a ``LocalCluster(n_workers=W, threads_per_worker=1)``
(W = $FLAMEFOLD_BENCH_WORKERS, default 2; the cluster's start is timed apart), the captures each
worker collapsed, the merge tasks, and the bytes that travelled: to the client (the merged part,
zlib-compressed folded text), between the workers (every part pickled by a worker, less what went
to the client), against what the uncompressed Profile pickle would move and what gathering every
capture's profile to the client would move.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import time
import warnings

import pytest

distributed = pytest.importorskip("distributed", reason="pip install '.[dask]'")

import flamefold  # noqa: E402
from flamefold import distributed as fd  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from conftest import DATA, corpus_unit  # noqa: E402

WORKERS = int(os.environ.get("FLAMEFOLD_BENCH_WORKERS", "2"))
RESULTS: list = []


def corpus_fleet(root: pathlib.Path, copies: int = 8) -> list:
    paths = []
    for k in range(copies):
        for src in sorted(DATA.iterdir()):
            raw = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
            lines = raw.split(b"\n")
            # a header line starts a sample: not blank, not a frame (indented), not a comment
            lines = [b"h%d-" % k + ln if ln and not ln[:1].isspace() and not ln.startswith(b"#") else ln for ln in lines]
            dest = root / f"host{k:02d}-{src.name.removesuffix('.gz')}"
            dest.write_bytes(b"\n".join(lines))
            paths.append(str(dest))
    return paths


def large_fleet(root: pathlib.Path, captures: int = 200, hosts: int = 20) -> list:
    unit = corpus_unit()
    lines = unit.split(b"\n")
    paths = []
    for k in range(captures):
        h = b"h%d-" % (k % hosts)
        dest = root / f"large{k:03d}.perf.txt"
        dest.write_bytes(b"\n".join(h + ln if ln and not ln[:1].isspace() and not ln.startswith(b"#") else ln for ln in lines))
        paths.append(str(dest))
    return paths


def recorded_fleet(root: pathlib.Path, pieces: int = 240, seconds: int = 12) -> list:
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    data = root / "fleet.data"
    workload = (
        f"timeout {seconds} python3 -c 'import json,random\nwhile True: json.loads(json.dumps([random.random() for _ in range(9999)]))' & "
        f"timeout {seconds} sh -c 'while :; do head -c 20000000 /dev/urandom | gzip -1 | sha256sum >/dev/null; done' & "
        f"timeout {seconds} sh -c 'while :; do seq 1 300000 | sort -R | sort -n >/dev/null; done' & wait"
    )
    r = subprocess.run(["perf", "record", "-F", "997", "-a", "-g", "-o", str(data), "--", "sh", "-c", workload], capture_output=True)
    if r.returncode != 0 or not data.exists():
        pytest.skip(f"perf record -a failed: {r.stderr.decode(errors='replace').strip()[-200:]}")
    text = subprocess.run(["perf", "script", "-i", str(data)], capture_output=True, check=True).stdout
    samples = [s for s in text.split(b"\n\n") if s.strip()]
    cuts = [len(samples) * i // pieces for i in range(pieces + 1)]
    paths = []
    for i in range(pieces):
        dest = root / f"slice{i:03d}.perf.txt"
        dest.write_bytes(b"\n\n".join(samples[cuts[i] : cuts[i + 1]]) + b"\n\n")
        paths.append(str(dest))
    return paths


def best(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def _count_pickles():
    """Runs on each worker: count the bytes of every _Part pickled there (each transfer)."""
    from flamefold import distributed as d

    if getattr(d._Part, "_counted", False):
        d._Part._sent = 0
        return
    plain = d._Part.__reduce__

    def counted(self):
        r = plain(self)
        d._Part._sent += len(pickle.dumps(r[1], protocol=5))  # the compressed Profile and the metadata
        return r

    d._Part.__reduce__ = counted
    d._Part._counted = True
    d._Part._sent = 0


def _sent():
    from flamefold import distributed as d

    return d._Part._sent


FLEETS = {"corpus": corpus_fleet, "large": large_fleet, "recorded": recorded_fleet}


@pytest.mark.parametrize("fleet", list(FLEETS))
def test_fleet(fleet, tmp_path):
    paths = FLEETS[fleet](tmp_path)
    size = sum(os.path.getsize(p) for p in paths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_many, many = best(lambda: flamefold.collapse_many(paths, threads=WORKERS))
        each = sum(len(flamefold.collapse_perf(p, threads=1).to_folded().encode("utf-8", "surrogateescape")) for p in paths)
        t0 = time.perf_counter()
        with distributed.LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            t_start = time.perf_counter() - t0
            client.run(_count_pickles)
            t_dist, result = best(lambda: fd.collapse_detailed(paths, client=client))
            client.run(_count_pickles)  # once more, alone, for the bytes
            with distributed.get_task_stream(client) as ts:
                fd.collapse_detailed(paths, client=client)
            sent = sum(client.run(_sent).values())
    assert result.profile == many and result.event == many.event and result.dropped == many.dropped
    merges = sum(1 for t in ts.data if str(t["key"]).startswith("flamefold-merge-"))
    row = dict(
        fleet=fleet, captures=len(paths), mb=size / 1e6, stacks=len(many), many=t_many, dist=t_dist, start=t_start,
        tasks=sorted(result.tasks_per_worker.values()), merges=merges, to_client=result.bytes_to_client,
        folded=len(many.to_folded().encode("utf-8", "surrogateescape")), between=sent - result.bytes_to_client, each=each,
    )
    RESULTS.append(row)
    print(
        f"\n{fleet}: {row['captures']} captures, {row['mb']:.0f} MB of perf script text, {row['stacks']:,} merged stacks\n"
        f"  collapse_many(threads={WORKERS}): {t_many:.2f}s   distributed ({WORKERS} workers): {t_dist:.2f}s "
        f"(x{t_dist / t_many:.2f}; cluster start {t_start:.1f}s apart)\n"
        f"  captures per worker {row['tasks']}, {merges} merge tasks (split_every=8)\n"
        f"  bytes to the client {row['to_client']:,} (merged folded text {row['folded']:,}: x{row['folded'] / max(row['to_client'], 1):.0f}); "
        f"between workers {row['between']:,}; every capture's profile gathered instead: {each:,}"
    )
