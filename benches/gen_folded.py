"""Generates big folded-stack inputs for the graph benchmark from real frame names.

The names come from the test corpus (FlameGraph's and inferno's captures, see
tests/data/flamegraph/SOURCE.md). Stacks grow like a real call tree: each new stack is an
existing one cut at some depth and extended by a few frames, so they share prefixes as real
profiles do. Lines are written sorted, as stackcollapse-perf writes them.

    python benches/gen_folded.py OUT.folded [--mb 130] [--stacks 400000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [*(ROOT / "tests/data/flamegraph/inputs").glob("*.folded"), *(ROOT / "tests/data/collapse/expected").glob("*.txt")]


def frame_names() -> list[str]:
    names = set()
    for path in CORPUS:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack = line.rsplit(" ", 1)[0]
            names.update(f for f in stack.split(";") if f and not f[-1].isdigit())
    return sorted(names)


def generate(out: Path, stacks: int = 400_000, mb: float = 130, seed: int = 1) -> Path:
    rng = random.Random(seed)
    names = frame_names()
    target_line = mb * 1e6 / stacks  # bytes per line
    mean_name = sum(map(len, names)) / len(names) + 1
    max_depth = max(4, int(1.75 * target_line / mean_name))
    deep = 3
    seen: set[tuple[int, ...]] = set()
    pool: list[tuple[int, ...]] = []
    roots = [tuple(rng.randrange(len(names)) for _ in range(rng.randint(1, 3))) for _ in range(40)]
    for r in roots:
        seen.add(r)
        pool.append(r)
    while len(pool) < stacks:
        base = pool[rng.randrange(len(pool))] if rng.random() < 0.97 else roots[rng.randrange(len(roots))]
        cut = rng.randint(max(1, len(base) - deep), len(base))
        grow = rng.randint(1, 4)
        new = base[:cut] + tuple(rng.randrange(len(names)) for _ in range(grow))
        if len(new) > max_depth or new in seen:
            continue
        seen.add(new)
        pool.append(new)
    lines = sorted(";".join(names[i] for i in s) + " " for s in pool)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(f"{line}{rng.randint(1, 400)}\n")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--stacks", type=int, default=400_000)
    p.add_argument("--mb", type=float, default=130)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    path = generate(a.out, a.stacks, a.mb, a.seed)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {a.stacks} distinct stacks")


if __name__ == "__main__":
    main()
