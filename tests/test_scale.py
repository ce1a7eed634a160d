"""Scale: identical bytes at every thread count, bounded memory on a large pipe, batches."""

import gzip
import os
import subprocess
import sys
import threading

import pytest

import flamefold
from conftest import DATA, manifest

INPUTS = DATA / "collapse" / "inputs"
CASES = manifest(DATA / "collapse" / "manifest.tsv")


def unit() -> bytes:
    parts = []
    for p in sorted(INPUTS.iterdir()):
        if p.name.startswith(("perf-", "example", "real-")):
            b = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            parts.append(b.rstrip(b"\n") + b"\n\n")
    return b"".join(parts)


@pytest.mark.parametrize("row", CASES, ids=[r[0].split("/")[-1] + " " + r[1] for r in CASES])
def test_eight_threads_match_one(row):
    opts = {a.lstrip("-"): True for a in row[1].split()}
    if opts.pop("all", False):
        opts.update(kernel=True, jit=True)
    path = DATA / "collapse" / row[0]
    assert flamefold._flamefold.collapse_perf(path, threads=8, **opts) == flamefold._flamefold.collapse_perf(path, threads=1, **opts)


def test_large_input_same_bytes_at_1_2_8_threads(tmp_path):
    big = tmp_path / "big.txt"
    u = unit()
    with open(big, "wb") as f:
        for _ in range(6):  # ~85 MB: many chunks per worker
            f.write(u)
    outs = {n: flamefold._flamefold.collapse_perf(big, threads=n, kernel=True).to_folded() for n in (1, 2, 8)}
    assert outs[1] == outs[2] == outs[8]
    # the repeated input gives six times the counts of one copy
    once = flamefold._flamefold.collapse_perf(u, threads=1, kernel=True)
    assert flamefold.read_folded(outs[1].encode()).total == 6 * once.total


def test_memory_stays_bounded_on_a_large_pipe():
    """About 1 GiB through a pipe: peak RSS of the collapser stays far below the input size."""
    u = unit()
    copies = (1 << 30) // len(u)
    # the child reports its own peak (VmHWM belongs to its own address space, unlike the rusage
    # of a forked child, which starts from the size of this test process)
    code = (
        "import sys; from flamefold.cli import stackcollapse_perf; rc = stackcollapse_perf(); "
        "sys.stderr.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); sys.exit(rc)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, "-q"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def feed():
        try:
            for _ in range(copies):
                proc.stdin.write(u)
        finally:
            proc.stdin.close()

    t = threading.Thread(target=feed)
    t.start()
    err = proc.stderr.read().decode()
    t.join()
    assert proc.wait() == 0, err
    peak_mib = int(err.split()[-2]) / 1024  # "VmHWM:   23456 kB"
    assert peak_mib < 100, f"peak RSS {peak_mib:.0f} MiB for {copies * len(u) / 2**30:.2f} GiB piped"


def test_collapse_many_merges(tmp_path):
    files = []
    for i, name in enumerate(["perf-funcab-cmd-01.txt", "perf-funcab-pid-01.txt", "perf-dd-stacks-01.txt"]):
        files.append(INPUTS / name)
    merged = flamefold.collapse_many(files, threads=2)
    expect = flamefold._flamefold.collapse_perf(files[0])
    for f in files[1:]:
        expect = expect + flamefold._flamefold.collapse_perf(f, event_filter=expect.event)
    assert merged == expect
    with pytest.raises(ValueError):
        flamefold.collapse_many([])


def test_cli_merges_many_and_writes_each(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "flamefold")
    a, b = INPUTS / "perf-funcab-cmd-01.txt", INPUTS / "perf-dd-stacks-01.txt"
    gz = tmp_path / "in" / "dd.txt.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(b.read_bytes()))
    (tmp_path / "in" / "funcab.txt").write_bytes(a.read_bytes())
    merged = tmp_path / "merged.folded"
    subprocess.run([exe, "collapse", str(a), str(b), str(gz), "-o", str(merged)], check=True)
    expect = flamefold._flamefold.collapse_perf(a) + flamefold._flamefold.collapse_perf(b) + flamefold._flamefold.collapse_perf(b)
    assert merged.read_text() == expect.to_folded()
    out = tmp_path / "out"
    subprocess.run([exe, "collapse", "--each", str(tmp_path / "in"), "--outdir", str(out)], check=True)
    assert sorted(p.name for p in out.iterdir()) == ["dd.folded", "funcab.folded"]
    assert (out / "dd.folded").read_text() == flamefold._flamefold.collapse_perf(b).to_folded()
    r = subprocess.run([exe, "collapse", "--each", str(a)], capture_output=True)
    assert r.returncode == 2 and b"--outdir" in r.stderr


def test_ctrl_c_stops_cleanly_without_output_file(tmp_path):
    import signal
    import time

    exe = os.path.join(os.path.dirname(sys.executable), "flamefold")
    out = tmp_path / "out.folded"
    proc = subprocess.Popen([exe, "collapse", "-q", "-", "-o", str(out)], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    u = unit()
    proc.stdin.write(u * 4)  # the run is under way, waiting for more input
    proc.stdin.flush()
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_memory_stays_bounded_on_a_large_file(tmp_path):
    """A large plain file is mapped; its pages are given back as it is parsed."""
    u = unit()
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        for _ in range((400 << 20) // len(u)):
            f.write(u)
    code = (
        "import sys; from flamefold.cli import stackcollapse_perf; rc = stackcollapse_perf(); "
        "sys.stderr.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); sys.exit(rc)"
    )
    for threads in ("1", "2"):
        r = subprocess.run([sys.executable, "-c", code, "-q", "--threads", threads, str(big)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        peak_mib = int(r.stderr.decode().split()[-2]) / 1024
        assert peak_mib < 100, f"peak RSS {peak_mib:.0f} MiB for a {big.stat().st_size >> 20} MiB file at {threads} threads"


def test_progress_bar_on_a_terminal_only():
    """With stderr on a terminal a long run shows bytes and MB/s; piped stderr stays silent."""
    import pty
    import select
    import time

    exe = os.path.join(os.path.dirname(sys.executable), "stackcollapse-perf")
    u = unit()

    def run(stderr_tty):
        master, slave = pty.openpty() if stderr_tty else (None, None)
        proc = subprocess.Popen([exe, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=slave if stderr_tty else subprocess.PIPE)
        seen = b""
        end = time.time() + 2.0
        while time.time() < end:  # a slow producer: the run lasts about two seconds
            proc.stdin.write(u)
            proc.stdin.flush()
            time.sleep(0.05)
            if stderr_tty:
                while select.select([master], [], [], 0)[0]:
                    seen += os.read(master, 65536)
        proc.stdin.close()
        if stderr_tty:
            os.close(slave)
            proc.wait(timeout=30)
            try:
                while select.select([master], [], [], 0.2)[0]:
                    chunk = os.read(master, 65536)
                    if not chunk:
                        break
                    seen += chunk
            except OSError:
                pass
            os.close(master)
        else:
            seen = proc.stderr.read()
            proc.wait(timeout=30)
        assert proc.returncode == 0
        return seen

    shown = run(True)
    assert b"MB/s" in shown and b"<stdin>" in shown
    assert b"MB/s" not in run(False)
