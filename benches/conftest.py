"""Benchmark inputs, generated once per session from the corpus captures (never committed)."""

import gzip
import os
import pathlib
import shutil

import pytest

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "collapse" / "inputs"
MB = int(os.environ.get("FLAMEFOLD_BENCH_MB", "1024"))
CAPTURES = pathlib.Path(os.environ.get("FLAMEFOLD_CAPTURES", pathlib.Path(__file__).resolve().parent / "captures"))


def real_capture(name: str) -> pathlib.Path:
    """A capture recorded by benches/record_captures.sh (`build` or `jit`): real perf output."""
    path = CAPTURES / f"{name}.perf.txt"
    if not path.exists():
        pytest.fail(f"{path} not found: record it with benches/record_captures.sh (root, linux-perf)")
    return path


def corpus_unit() -> bytes:
    """All real and FlameGraph perf captures, each ending with a blank line."""
    parts = []
    for p in sorted(DATA.iterdir()):
        if not p.name.startswith(("perf-", "example", "real-")):
            continue
        b = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        parts.append(b.rstrip(b"\n") + b"\n\n")
    return b"".join(parts)


@pytest.fixture(scope="session")
def big_capture(tmp_path_factory) -> pathlib.Path:
    """About FLAMEFOLD_BENCH_MB (default 1024) MB of perf script text: the captures repeated."""
    unit = corpus_unit()
    path = tmp_path_factory.mktemp("bench") / f"capture-{MB}MB.txt"
    with open(path, "wb") as f:
        for _ in range(max(1, MB * 2**20 // len(unit))):
            f.write(unit)
    return path


def tool(name: str) -> str:
    path = shutil.which(name) or os.path.expanduser(f"~/.cargo/bin/{name}")
    if not os.path.exists(path):
        pytest.fail(f"{name} not found: cargo install inferno")
    return path


@pytest.fixture(scope="session")
def unique_capture(tmp_path_factory) -> pathlib.Path:
    """About 256 MB where no two samples have the same callchain text (each leaf address is
    made unique), so nothing can be reused per sample: the worst case for flamefold's caches."""
    import re

    unit = corpus_unit()
    n = [0]

    def bump(m):
        n[0] += 1
        return m.group(1) + b"%x" % (0x10000000 + n[0])

    path = tmp_path_factory.mktemp("bench") / "unique-256MB.txt"
    with open(path, "wb") as f:
        for _ in range(max(1, 256 * 2**20 // len(unit))):
            f.write(re.sub(rb"(:[ \t]*\n[ \t]*)[0-9a-f]+", bump, unit))
    return path
