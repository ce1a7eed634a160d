"""flamefold's fuzz campaign: seeded mutation and grammar fuzzing, with sound checks.

    python -m fuzz.campaign --inputs 100000 --seed 1            # the long run (2 processes)
    python -m fuzz.campaign --inputs 3000 --seed 7 --kind perf  # a short one

Input ``i`` of seed ``S`` is a pure function of (S, i): a failure is reproduced by its seed and
index (``--only I``). Failing inputs are minimised (greedy line deletion, bounded time) and saved
to ``tests/data/fuzz/<kind>-<sha>.txt`` with a ``.json`` beside it; ``tests/test_fuzz.py`` replays
them. See fuzz/README.md for what is checked.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

if __package__ in (None, ""):  # `python fuzz/campaign.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flamefold
from flamefold import _flamefold

from fuzz import gen
from fuzz.gen import BIG, Expect

SAVE_DIR = gen.DATA / "fuzz"
KINDS = ("perf", "folded", "diff")
SOUND_ERRORS = (ValueError, OSError, OverflowError)
U64 = 2**64 - 1


@dataclass
class Case:
    kind: str  # perf | folded | diff
    data: bytes  # the input (diff: BEFORE)
    data2: bytes = b""  # diff: AFTER
    opts: Dict[str, Any] = field(default_factory=dict)
    expect: Optional[Expect] = None  # valid generated input: what it must give
    expect2: Optional[Expect] = None  # diff: AFTER's
    tile_to: int = 0  # the input is `data` repeated to at least this many bytes
    origin: str = ""
    cli: bool = False  # also run through the command line
    graph: Dict[str, Any] = field(default_factory=dict)  # flame graph options (folded)
    repeat: int = 1  # replays: run this many times (for failures that depend on thread timing)

    def _sep(self, data: bytes) -> bytes:
        # a valid input repeated stays valid: its last line keeps its end
        return b"\n" if self.expect is not None and not data.endswith(b"\n") else b""

    def input(self) -> bytes:
        return gen.tile(self.data, self.tile_to, self._sep(self.data)) if self.tile_to else self.data

    def input2(self) -> bytes:
        return gen.tile(self.data2, self.tile_to, self._sep(self.data2)) if self.tile_to else self.data2

    def reps(self, second: bool = False) -> int:
        """How many times the input repeats ``data`` (``data2`` if ``second``)."""
        d = self.data2 if second else self.data
        return -(-self.tile_to // (len(d) + len(self._sep(d)))) if self.tile_to and d else 1


@dataclass
class Failure:
    check: str
    detail: str

    def key(self) -> str:
        """What makes two failures the same bug, roughly: the check, and for crashes the message
        with its numbers blotted out."""
        if self.check in ("crash", "bad-exception", "cli-crash"):
            return self.check + ":" + re.sub(r"\d+", "N", self.detail.partition(": ")[2])[:120]
        return self.check


# ---------------------------------------------------------------------------------------------
# running the API


Outcome = Tuple[str, Any]  # ("ok", value) or ("err", (type name, message, exception))


def call(fn: Any, *args: Any, **kw: Any) -> Outcome:
    try:
        return ("ok", fn(*args, **kw))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a PanicException is a BaseException
        return ("err", (type(e).__name__, str(e).splitlines()[0][:300] if str(e) else "", e))


def timed(fn: Any, *args: Any, **kw: Any) -> Tuple[Outcome, float]:
    t0 = time.perf_counter()
    out = call(fn, *args, **kw)
    return out, time.perf_counter() - t0


def crash_failures(o: Outcome, what: str) -> List[Failure]:
    if o[0] == "ok":
        return []
    name, msg, e = o[1]
    if not isinstance(e, Exception) or "Panic" in name:
        return [Failure("crash", f"{what}: {name}: {msg}")]
    if not isinstance(e, SOUND_ERRORS):
        return [Failure("bad-exception", f"{what}: {name}: {msg}")]
    return []


FLAKY_TRIES = 10
SLOW_BASE = 0.3  # seconds: a collapse runs at hundreds of MB/s, these inputs are small


def slow_failures(seconds: float, size: int, what: str) -> List[Failure]:
    """Linear time: an input of a few KB that takes a third of a second is quadratic somewhere."""
    limit = SLOW_BASE + size / 20e6
    if seconds > limit:
        return [Failure("slow", f"{what} takes {seconds:.2f} s for {size} bytes (limit {limit:.2f} s)")]
    return []


def profile_sig(o: Outcome) -> Any:
    if o[0] == "err":
        return ("err", o[1][0])
    p = o[1]
    return ("ok", p.to_folded(), p.total, p.event, p.dropped)


def profile_warn_sig(o: Outcome) -> Any:
    return ("ok", tuple(o[1].warnings)) if o[0] == "ok" else ("err", o[1][0])


def _show(sig: Any) -> str:
    s = repr(sig)
    return s if len(s) < 300 else s[:300] + "..."


def compare(check: str, base: Outcome, other: Outcome, what: str) -> List[Failure]:
    out = []
    if profile_sig(base) != profile_sig(other):
        out.append(Failure(check, f"{what}: {_show(profile_sig(other))} != {_show(profile_sig(base))}"))
    elif profile_warn_sig(base) != profile_warn_sig(other):
        out.append(Failure(check + "-warnings", f"{what}: {_show(profile_warn_sig(other))} != {_show(profile_warn_sig(base))}"))
    return out


@contextlib.contextmanager
def temp_file(data: bytes, suffix: str = ".txt") -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="flamefold-fuzz-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)


def _numbers_bound(data: bytes) -> int:
    """An upper bound on the weight a perf input can hold: a sample starts at a line and weighs
    its period (a whole number on that line) or 1."""
    bound = 0
    for line in data.split(b"\n"):
        best = 1
        for m in re.finditer(rb"\d+", line):
            v = int(m.group()) if len(m.group()) <= 20 else U64  # a period past 2^64-1 counts 1
            if v > best:
                best = v
        bound += best
    return bound


# ---------------------------------------------------------------------------------------------
# the checks


def check_perf(case: Case, rng: random.Random) -> List[Failure]:
    data = case.input()
    o = dict(case.opts)
    fails: List[Failure] = []
    base, took = timed(flamefold.collapse_perf, data, threads=1, **o)
    crashed = crash_failures(base, "bytes, threads=1")
    if not crashed and slow_failures(took, len(data), "collapse_perf"):
        took = min(took, timed(flamefold.collapse_perf, data, threads=1, **o)[1])  # a busy machine?
        fails += slow_failures(took, len(data), "collapse_perf")
    fails += crashed
    for t in (2, 3):
        r = call(flamefold.collapse_perf, data, threads=t, **o)
        fails += crash_failures(r, f"bytes, threads={t}")
        fails += compare("threads", base, r, f"threads={t} vs 1")
    t = rng.choice([1, 2, 3])
    r = call(flamefold.collapse_perf, io.BytesIO(data), threads=t, **o)
    fails += crash_failures(r, "BytesIO")
    fails += compare("source-stream", base, r, f"io.BytesIO, threads={t} vs bytes")
    if rng.random() < 0.3 or case.tile_to:
        with temp_file(data) as path:
            r = call(flamefold.collapse_perf, path, threads=rng.choice([1, 2]), **o)
        fails += crash_failures(r, "path")
        fails += compare("source-path", base, r, "path vs bytes")
    if rng.random() < 0.3:
        r = call(flamefold.collapse_perf, gzip.compress(data, 1), threads=rng.choice([1, 2]), **o)
        fails += crash_failures(r, "gzip")
        fails += compare("source-gzip", base, r, "gzip bytes vs bytes")
    if base[0] == "ok":
        p = base[1]
        if case.expect is not None:
            e, k = case.expect, case.reps()
            want = {s: c * k for s, c in e.stacks.items()}
            got = dict(p.items())
            if got != want or p.total != e.total * k or p.dropped != e.dropped * k or p.event != e.event:
                diff = {s: (got.get(s), want.get(s)) for s in set(got) | set(want) if got.get(s) != want.get(s)}
                fails.append(Failure("conservation", f"total {p.total} (expected {e.total * k}), dropped {p.dropped} "
                                     f"(expected {e.dropped * k}), event {p.event!r} (expected {e.event!r}); "
                                     f"stacks got/expected: {_show(dict(list(diff.items())[:4]))}"))
            unexpected = [w for w in p.warnings if not (e.filtered and w[0] == 0 and "Filtering for events" in w[1])]
            if unexpected:
                fails.append(Failure("valid-input-warns", _show(unexpected[:3])))
        else:
            bound = _numbers_bound(data)
            if p.total + p.dropped > bound:
                fails.append(Failure("weight-bound", f"total {p.total} + dropped {p.dropped} > {bound}, the most the input's lines can hold"))
            if sum(c for _, c in p.items()) != p.total:
                fails.append(Failure("total-sum", f"total {p.total} != sum of the stacks"))
        # doubling: the input twice (blank lines between) weighs twice as much, stack by stack
        if len(data) < 300_000:
            twice = data + b"\n\n\n" + data
            r2 = call(flamefold.collapse_perf, twice, threads=1, **o)
            fails += crash_failures(r2, "input twice")
            big = max((c for _, c in p.items()), default=0) * 2 > U64 or p.dropped * 2 > U64
            if r2[0] == "ok":
                q = r2[1]
                want = {s: 2 * c for s, c in p.items()}
                got = dict(q.items())
                if got != want or q.dropped != 2 * p.dropped:
                    diff = {s: (got.get(s), want.get(s)) for s in set(got) | set(want) if got.get(s) != want.get(s)}
                    fails.append(Failure("doubling", f"the input twice: total {q.total} (expected {2 * p.total}); "
                                         f"stacks got/expected: {_show(dict(list(diff.items())[:4]))}"))
            elif not big:
                fails.append(Failure("doubling", f"the input twice fails ({r2[1][0]}: {r2[1][1]}) where once it does not"))
    if case.cli:
        fails += cli_perf(case, data, base, rng)
    return fails


def check_folded(case: Case, rng: random.Random) -> List[Failure]:
    data = case.input()
    fails: List[Failure] = []
    base, took = timed(flamefold.read_folded, data)
    if slow_failures(took, len(data), "read_folded"):
        took = min(took, timed(flamefold.read_folded, data)[1])  # a busy machine?
        fails += slow_failures(took, len(data), "read_folded")
    fails += crash_failures(base, "read_folded(bytes)")
    r = call(flamefold.read_folded, io.BytesIO(data))
    fails += crash_failures(r, "read_folded(BytesIO)")
    fails += compare("source-stream", base, r, "read_folded(BytesIO) vs bytes")
    if rng.random() < 0.2:
        r = call(flamefold.read_folded, gzip.compress(data, 1))
        fails += compare("source-gzip", base, r, "read_folded(gzip) vs bytes")
    e, k = case.expect, case.reps()
    overflow = e is not None and max(e.stacks.values(), default=0) * k > U64
    if overflow:
        if base[0] != "err" or base[1][0] != "OverflowError":
            fails.append(Failure("conservation", f"a stack's count is past 2^64-1 but read_folded gives {_show(profile_sig(base))[:100]}"))
    elif e is not None and base[0] == "ok":
        p = base[1]
        want = {s: c * k for s, c in e.stacks.items()}
        if dict(p.items()) != want or p.total != e.total * k:
            fails.append(Failure("conservation", f"read_folded total {p.total}, expected {e.total * k}"))
        if p.warnings:
            fails.append(Failure("valid-input-warns", _show(p.warnings[:3])))
    elif e is not None:
        fails.append(Failure("conservation", f"read_folded fails on valid input: {base[1][0]}: {base[1][1]}"))
    fails += check_graph(case, data, rng)
    if case.cli:
        fails += cli_graph(case, data, rng)
    return fails


SVG_NS = "{http://www.w3.org/2000/svg}"
_reference: Dict[str, Dict[str, set]] = {}


def _svg_shape(svg: str) -> Dict[str, set]:
    """Tag -> attribute names, and the `on*` attribute values, of an SVG."""
    root = ET.fromstring(svg)
    shape: Dict[str, set] = {"@on": set()}
    scripts = 0
    for el in root.iter():
        tag = el.tag.replace(SVG_NS, "")
        scripts += tag == "script"
        shape.setdefault(tag, set()).update(el.attrib)
        for a, v in el.attrib.items():
            if a[:2].lower() == "on":
                shape["@on"].add((tag, a, v))
    shape["@scripts"] = {scripts}
    return shape


def reference_shape(opts_key: str, opts: Dict[str, Any]) -> Dict[str, set]:
    """The elements and attributes a graph drawn with these options has for benign input."""
    if opts_key not in _reference:
        shape: Dict[str, set] = {}
        benign = [b"main;a;b 5\nmain;c 3\nmain;a 2\nother 1\n", b"main;a;b 5 6\nmain;c 3 1\nx 0 2\n", b"",
                  b"".join(b"m;f%d;g%d;h 1\n" % (i, i % 7) for i in range(300)) + b"m;" + b"x;" * 200 + b"y 1000\n"]
        for src in benign:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for k, v in _svg_shape(flamefold.flamegraph(src, **opts)).items():
                    shape.setdefault(k, set()).update(v)
        _reference[opts_key] = shape
    return _reference[opts_key]


_TITLE_COUNT = re.compile(r"\(([0-9,]+(?:\.[0-9]+)?) samples, [0-9.]+%")


def check_svg(svg: str, opts: Dict[str, Any], what: str) -> List[Failure]:
    try:
        shape = _svg_shape(svg)
    except ET.ParseError as e:
        return [Failure("svg-xml", f"{what}: not well-formed XML: {e}")]
    ref = reference_shape(json.dumps(opts, sort_keys=True), opts)
    out = []
    for tag, attrs in shape.items():
        if tag.startswith("@"):
            continue
        if tag not in ref:
            out.append(Failure("svg-injection", f"{what}: unexpected element <{tag}>"))
        elif not attrs <= ref[tag]:
            out.append(Failure("svg-injection", f"{what}: unexpected attributes {sorted(attrs - ref[tag])} on <{tag}>"))
    if not shape["@on"] <= ref["@on"]:
        out.append(Failure("svg-injection", f"{what}: event handler attributes {sorted(shape['@on'] - ref['@on'])[:3]}"))
    if not shape["@scripts"] <= ref["@scripts"]:
        out.append(Failure("svg-injection", f"{what}: {shape['@scripts']} <script> elements"))
    return out


def graph_counts(svg: str) -> List[float]:
    """The sample counts of the frames' tooltips, root ("all") first."""
    out = []
    for m in re.finditer(r"<title>(.*?)</title>", svg, re.S):
        found = _TITLE_COUNT.findall(m.group(1))
        if found:
            out.append(float(found[-1].replace(",", "")))
    return out


def frames_sig(fr: Any) -> Any:
    return (list(fr.depth), list(fr.start), list(fr.width), list(fr.name), fr.names, list(fr.delta), list(fr.before),
            fr.total, fr.timemax, fr.maxdelta, fr.lines, fr.ignored, list(fr.warnings))


def check_graph(case: Case, data: bytes, rng: random.Random) -> List[Failure]:
    """The SVG is drawn once (threads=1) and checked; the frames the core hands to the drawing
    (all the SVG depends on) are compared at threads 1, 2 and 3."""
    opts = dict(case.graph)
    fails: List[Failure] = []
    fk = {k: bool(opts.get(k)) for k in ("reverse", "flamechart")}
    fk["chain"] = opts.get("colors") == "chain"
    sigs = []
    for t in (1, 2, 3):
        r = call(_flamefold.graph_frames, [data], threads=t, **fk)
        fails += crash_failures(r, f"graph_frames(threads={t})")
        sigs.append(("ok", frames_sig(r[1])) if r[0] == "ok" else ("err", r[1][0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = [call(flamefold.flamegraph, data, threads=1, **opts)]
        fails += crash_failures(outs[0], "flamegraph")
        for t, s in zip((2, 3), sigs[1:]):
            if s != sigs[0]:  # frames differ (float sums in another order): does the drawing?
                other = call(flamefold.flamegraph, data, threads=t, **opts)
                a = outs[0][1] if outs[0][0] == "ok" else outs[0][1][0]
                b = other[1] if other[0] == "ok" else other[1][0]
                if a != b:
                    extra = f" (total {s[1][7]!r} vs {sigs[0][1][7]!r})" if s[0] == sigs[0][0] == "ok" else ""
                    fails.append(Failure("graph-threads", f"flamegraph at threads={t} differs from threads=1{extra}"))
                    break
    if outs[0][0] != "ok":
        return fails
    svg = outs[0][1]
    fails += check_svg(svg, opts, "flamegraph")
    counts = graph_counts(svg)
    if counts and "total" not in opts and "factor" not in opts:
        root = counts[0]
        over = [c for c in counts[1:] if c > root]
        if over:
            fails.append(Failure("graph-nesting", f"a frame has {max(over):.0f} samples, more than the root's {root:.0f}"))
        e = case.expect
        if e is not None and e.graph_total is not None and e.graph_total > 0:
            exact = e.graph_total * case.reps()
            if exact <= U64 and root not in (exact, float(exact)) or int(root) not in (exact, int(float(exact))):
                fails.append(Failure("graph-total", f"the root says {root:.0f} samples; the input holds {exact}"))
    return fails


def check_diff(case: Case, rng: random.Random) -> List[Failure]:
    a, b = case.input(), case.input2()
    o = dict(case.opts)
    fails: List[Failure] = []

    def sig(r: Outcome) -> Any:
        return ("ok", r[1].to_folded(), r[1].totals) if r[0] == "ok" else ("err", r[1][0])

    base = call(flamefold.diff, a, b, threads=1, **o)
    fails += crash_failures(base, "diff(threads=1)")
    for t in (2, 3):
        r = call(flamefold.diff, a, b, threads=t, **o)
        fails += crash_failures(r, f"diff(threads={t})")
        if sig(r) != sig(base):
            fails.append(Failure("diff-threads", f"threads={t}: {_show(sig(r))} != {_show(sig(base))}"))
    r = call(flamefold.diff, io.BytesIO(a), io.BytesIO(b), threads=rng.choice([1, 2]), **o)
    fails += crash_failures(r, "diff(BytesIO)")
    if sig(r) != sig(base):
        fails.append(Failure("source-stream", f"diff of io.BytesIO: {_show(sig(r))} != {_show(sig(base))}"))
    if base[0] == "ok":
        d = base[1]
        items = d.items()
        sb, sa = sum(x[1] for x in items), sum(x[2] for x in items)
        tb, ta = d.totals
        close = lambda x, y: x == y or (isinstance(x, float) or isinstance(y, float)) and abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1)
        if not (close(sb, tb) and close(sa, ta)):
            fails.append(Failure("diff-sums", f"columns sum to ({sb}, {sa}) but totals are ({tb}, {ta})"))
        if case.expect is not None and case.expect2 is not None and not o.get("normalize") and not o.get("strip_hex"):
            k, k2 = case.reps(), case.reps(True)
            wb = {s: c * k for s, c in case.expect.stacks.items()}
            wa = {s: c * k2 for s, c in case.expect2.stacks.items()}
            want = {s: (wb.get(s, 0), wa.get(s, 0)) for s in set(wb) | set(wa)}
            got = {s: (x, y) for s, x, y in items}
            if got != want or (tb, ta) != (sum(wb.values()), sum(wa.values())):
                bad = {s: (got.get(s), want.get(s)) for s in set(got) | set(want) if got.get(s) != want.get(s)}
                fails.append(Failure("diff-conservation", f"totals {d.totals}; stacks got/expected {_show(dict(list(bad.items())[:4]))}"))
        elif case.expect is not None:
            pass
    if case.cli:
        fails += cli_diff(case, a, b, base)
    return fails


CHECKS = {"perf": check_perf, "folded": check_folded, "diff": check_diff}


# ---------------------------------------------------------------------------------------------
# the command lines, in subprocesses


def _script(name: str) -> List[str]:
    p = Path(sys.executable).parent / name
    if p.exists():
        return [str(p)]
    mod = {"stackcollapse-perf": "stackcollapse_perf", "difffolded": "difffolded", "flamefold": "main"}[name]
    return [sys.executable, "-c", f"import sys; from flamefold.cli import {mod}; sys.exit({mod}())"]


def _run_cli(argv: List[str], prog: str, what: str) -> Tuple[Optional[subprocess.CompletedProcess], List[Failure]]:
    try:
        cp = subprocess.run(argv, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, [Failure("cli-hang", f"{what}: no answer in 120 s")]
    fails = []
    err = cp.stderr.decode("utf-8", "replace")
    # flamegraph.pl exits 2 when there is nothing to draw; flamefold graph does the same
    ok = (0, 1, 2) if prog == "flamefold graph" and "no stack counts found" in err else (0, 1)
    if cp.returncode not in ok or "Traceback" in err or "panicked" in err:
        fails.append(Failure("cli-crash", f"{what}: exit {cp.returncode}: {err.strip().splitlines()[-1][:200] if err.strip() else ''}"))
    lines = [l for l in err.split("\n") if l]
    prefixes = (prog + ":",) + (("flamefold collapse:",) if prog == "flamefold" else ())
    stray = [l for l in lines if not l.startswith(prefixes)]
    if stray and not fails:
        fails.append(Failure("cli-stderr-lines", f"{what}: stderr line not from {prog}: {stray[0][:160]!r}"))
    ctl = [l for l in lines if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", l)]
    if ctl and not fails:
        fails.append(Failure("cli-stderr-control", f"{what}: control characters from the input reach the terminal: {ctl[0][:160]!r}"))
    return cp, fails


def _perf_flags(opts: Dict[str, Any]) -> List[str]:
    flags = []
    for k in ("pid", "tid", "kernel", "jit", "addrs", "srcline"):
        if opts.get(k):
            flags.append("--" + k)
    if opts.get("event_filter"):
        flags.append("--event-filter=" + opts["event_filter"])
    return flags


def cli_perf(case: Case, data: bytes, base: Outcome, rng: random.Random) -> List[Failure]:
    t = rng.choice([1, 2, 3])
    # the drop-in, or the project's command (its errors say "flamefold:", its warnings "flamefold collapse:")
    cmd, prog = (["stackcollapse-perf"], "stackcollapse-perf") if rng.random() < 0.7 else (["flamefold", "collapse"], "flamefold")
    with temp_file(data) as path:
        cp, fails = _run_cli(_script(cmd[0]) + cmd[1:] + _perf_flags(case.opts) + ["--threads", str(t), path], prog, " ".join(cmd))
    name = " ".join(cmd)
    if cp is not None and not fails:
        if base[0] == "ok" and cp.returncode != 0:
            fails.append(Failure("cli-output", f"{name} exits {cp.returncode} where the API succeeds"))
        elif base[0] == "ok" and cp.stdout != (base[1].to_folded() or "").encode("utf-8", "surrogateescape"):
            fails.append(Failure("cli-output", f"{name} prints other stacks than collapse_perf() gives"))
        elif base[0] == "err" and cp.returncode != 1:
            fails.append(Failure("cli-output", f"{name} exits {cp.returncode} where the API raises {base[1][0]}"))
    return fails


def cli_graph(case: Case, data: bytes, rng: random.Random) -> List[Failure]:
    with temp_file(data, ".folded") as path:
        cp, fails = _run_cli(_script("flamefold") + ["graph", "--threads", str(rng.choice([1, 2])), path], "flamefold graph", "flamefold graph")
    if cp is not None and not fails and cp.returncode == 0:
        fails += check_svg(cp.stdout.decode("utf-8"), {}, "flamefold graph")
    return fails


def cli_diff(case: Case, a: bytes, b: bytes, base: Outcome) -> List[Failure]:
    with temp_file(a) as pa, temp_file(b) as pb:
        flags = (["-n"] if case.opts.get("normalize") else []) + (["-s"] if case.opts.get("strip_hex") else [])
        if len(a) % 3:  # the drop-in, or the project's command printing the same two-column text
            cmd, prog = ["difffolded"], "difffolded"
        else:
            cmd, prog = ["flamefold", "diff", "--folded"], "flamefold diff"
        cp, fails = _run_cli(_script(cmd[0]) + cmd[1:] + flags + [pa, pb], prog, " ".join(cmd))
    if cp is not None and not fails:
        if base[0] == "ok" and cp.stdout != (base[1].to_folded() or "").encode("utf-8", "surrogateescape"):
            fails.append(Failure("cli-output", f"{' '.join(cmd)} (exit {cp.returncode}) prints other lines than diff() gives"))
    return fails


# ---------------------------------------------------------------------------------------------
# making the inputs


def make_case(seed: int, i: int, kind: str, cli_every: int = 0) -> Case:
    """Input ``i`` of the campaign ``seed``: a pure function of its arguments."""
    rng = random.Random(f"{seed}:{i}:{kind}")
    if kind == "all":
        kind = KINDS[rng.randrange(3)]
    big = rng.random() < 0.03
    cli = bool(cli_every) and rng.randrange(cli_every) == 0
    if kind == "perf":
        if rng.random() < 0.35:
            data, opts, exp = gen.gen_perf(rng)
            case = Case("perf", data, opts=opts, expect=exp, origin="generated")
            if rng.random() < 0.3:
                case.tile_to = len(data) * rng.choice([2, 3])  # the capture several times over
            if rng.random() < 0.3:
                case.data, names = gen.mutate(rng, data, gen.PERF_MUTATORS)
                case.expect, case.origin = None, "generated+" + "+".join(names)
        else:
            data, names = gen.mutate(rng, gen.perf_excerpt(rng), gen.PERF_MUTATORS)
            opts = {k: True for k in ("pid", "tid", "kernel", "jit", "addrs", "srcline") if rng.random() < 0.12}
            if rng.random() < 0.05:
                opts["event_filter"] = rng.choice(["cycles", "cpu-clock", "cycles:u", "sched:sched_switch", "nope"])
            case = Case("perf", data, opts=opts, origin="corpus+" + "+".join(names))
        if big:
            case.tile_to = BIG + rng.randrange(BIG * 2)
            if rng.random() < 0.5:  # sample boundaries damaged, then cut into chunks
                data, opts, _ = gen.gen_perf(rng, srcline=rng.random() < 0.6)
                names = [f.__name__[2:] for f in rng.choices(gen.STRUCTURE_MUTATORS, k=rng.randint(1, 2))]
                for name in names:
                    data = getattr(gen, "m_" + name)(rng, data)
                case = Case("perf", data, opts=opts, tile_to=case.tile_to, origin="generated+" + "+".join(names))
    elif kind == "folded":
        if rng.random() < 0.4:
            data, exp = gen.gen_folded(rng, huge=rng.random() < 0.2)
            case = Case("folded", data, expect=exp, origin="generated")
            if rng.random() < 0.3:
                case.data, names = gen.mutate(rng, data, gen.FOLDED_MUTATORS)
                case.expect, case.origin = None, "generated+" + "+".join(names)
        else:
            data, names = gen.mutate(rng, gen.folded_excerpt(rng), gen.FOLDED_MUTATORS)
            case = Case("folded", data, origin="corpus+" + "+".join(names))
        g: Dict[str, Any] = {}
        for k in ("reverse", "inverted", "flamechart", "hash"):
            if rng.random() < 0.1:
                g[k] = True
        if rng.random() < 0.2:
            g["minwidth"] = rng.choice([0, "0.5%", 3])
        if rng.random() < 0.1:
            g["colors"] = rng.choice(["java", "js", "mem", "chain"])
        case.graph = g
        if big:
            case.tile_to = BIG + rng.randrange(BIG)
    else:
        if rng.random() < 0.5:
            a, ea = gen.gen_folded(rng)
            b, eb = gen.gen_folded(rng)
            case = Case("diff", a, b, expect=ea, expect2=eb, origin="generated")
            if rng.random() < 0.3:
                case.data, names = gen.mutate(rng, a, gen.FOLDED_MUTATORS)
                case.expect, case.origin = None, "generated+" + "+".join(names)
        else:
            pick = rng.random()
            if pick < 0.2:  # perf text on one or both sides
                a, n1 = gen.mutate(rng, gen.perf_excerpt(rng), gen.PERF_MUTATORS) if rng.random() < 0.5 else (gen.perf_excerpt(rng), [])
                b = gen.folded_excerpt(rng) if rng.random() < 0.5 else gen.perf_excerpt(rng)
                names = n1
            else:
                a, names = gen.mutate(rng, gen.folded_excerpt(rng), gen.FOLDED_MUTATORS)
                b = gen.folded_excerpt(rng)
            if rng.random() < 0.5:
                a, b = b, a
            case = Case("diff", a, b, origin="corpus+" + "+".join(names))
        if rng.random() < 0.2:
            case.opts["normalize"] = True
        if rng.random() < 0.2:
            case.opts["strip_hex"] = True
        if big:
            case.tile_to = BIG + rng.randrange(BIG)
    case.cli = cli and not case.tile_to
    return case


def run_case(case: Case, seed: int = 0, i: int = 0) -> List[Failure]:
    rng = random.Random(f"{seed}:{i}:check")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CHECKS[case.kind](case, rng)


def replay(case: Case) -> List[Failure]:
    """A saved input's checks, ``case.repeat`` times over (until one run fails)."""
    for _ in range(max(1, case.repeat)):
        fails = run_case(case)
        if fails:
            return fails
    return []


# ---------------------------------------------------------------------------------------------
# minimising, saving, replaying


def _still_fails(case: Case, key: str) -> bool:
    return any(f.key() == key for f in run_case(case))


def minimise(case: Case, failure: Failure, budget: float = 8.0) -> Case:
    """Greedy line deletion (chunks, then single lines) while the same failure remains, for at
    most ``budget`` seconds. Inputs with an expectation are kept whole (the expectation would
    no longer hold), unless the failure does not depend on it."""
    key = failure.key()
    deadline = time.monotonic() + budget
    cur = Case(**{**case.__dict__})
    if cur.expect is not None:
        trial = Case(**{**cur.__dict__, "expect": None, "expect2": None})
        if not _still_fails(trial, key):
            return cur
        cur = trial
    cur.cli = case.cli and failure.check.startswith("cli")
    for attr in ("data", "data2"):
        lines = getattr(cur, attr).split(b"\n")
        if len(lines) < 2:
            continue
        n = max(1, len(lines) // 2)
        while n >= 1 and time.monotonic() < deadline:
            i = 0
            changed = False
            while i < len(lines) and time.monotonic() < deadline:
                trial_lines = lines[:i] + lines[i + n:]
                trial = Case(**{**cur.__dict__, attr: b"\n".join(trial_lines)})
                if trial_lines and _still_fails(trial, key):
                    lines, cur, changed = trial_lines, trial, True
                else:
                    i += n
            if not changed:
                n //= 2
    return cur


def save(case: Case, failure: Failure, save_dir: Path, found_by: str) -> Path:
    save_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(case.data + b"\0" + case.data2 + json.dumps(case.opts, sort_keys=True).encode()).hexdigest()[:10]
    path = save_dir / f"{case.kind}-{sha}.txt"
    if path.with_suffix(".json").exists():
        return path  # the same input already shows another failure: one file, its first check
    path.write_bytes(case.data)
    meta: Dict[str, Any] = {
        "kind": case.kind,
        "check": failure.check,
        "key": failure.key(),
        "detail": failure.detail,
        "opts": case.opts,
        "graph": case.graph,
        "tile_to": case.tile_to,
        "cli": case.cli,
        "repeat": case.repeat,
        "origin": case.origin,
        "found_by": found_by,
    }
    if case.data2:
        meta["after"] = f"{case.kind}-{sha}.after.txt"
        (save_dir / meta["after"]).write_bytes(case.data2)
    if case.expect is not None:
        meta["expect"] = case.expect.__dict__
    if case.expect2 is not None:
        meta["expect2"] = case.expect2.__dict__
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=True) + "\n")
    return path


def load(json_path: Path) -> Tuple[Case, Dict[str, Any]]:
    meta = json.loads(json_path.read_text())
    data = json_path.with_suffix(".txt").read_bytes()
    data2 = (json_path.parent / meta["after"]).read_bytes() if meta.get("after") else b""
    case = Case(
        meta["kind"], data, data2, opts=meta.get("opts", {}), graph=meta.get("graph", {}),
        expect=Expect(**meta["expect"]) if meta.get("expect") else None,
        expect2=Expect(**meta["expect2"]) if meta.get("expect2") else None,
        tile_to=meta.get("tile_to", 0), origin=meta.get("origin", ""), cli=meta.get("cli", False),
        repeat=meta.get("repeat", 1),
    )
    return case, meta


def saved(save_dir: Path = SAVE_DIR) -> List[Path]:
    return sorted(save_dir.glob("*.json")) if save_dir.is_dir() else []


# ---------------------------------------------------------------------------------------------
# the campaign


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Rust panics print to fd 2 before they become exceptions: keep the run's output readable."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)


def _worker(args: Tuple[int, int, int, int, str, float, int]) -> Dict[str, Any]:
    seed, start, step, n, kind, seconds, cli_every = args
    os.environ["RUST_BACKTRACE"] = "0"  # a panic's backtrace costs a third of a second
    stats: Dict[str, Any] = {"inputs": 0, "bytes": 0, "failures": {}, "first": {}}
    t0 = time.monotonic()
    with quiet_stderr():
        for i in range(start, n, step):
            if seconds and time.monotonic() - t0 > seconds:
                break
            case = make_case(seed, i, kind, cli_every)
            fails = run_case(case, seed, i)
            stats["inputs"] += 1
            stats["bytes"] += len(case.input()) + len(case.input2())
            for f in fails:
                k = f.key()
                stats["failures"][k] = stats["failures"].get(k, 0) + 1
                if k not in stats["first"]:
                    stats["first"][k] = (i, time.monotonic() - t0, f.check, f.detail[:300])
    return stats


def campaign(inputs: int, seed: int, kind: str = "all", seconds: float = 0, jobs: int = 1,
             save_dir: Optional[Path] = SAVE_DIR, cli_every: int = 100, per_key: int = 1,
             log: Any = print) -> Dict[str, Any]:
    """Runs inputs 0..inputs-1 of ``seed`` (stopping after ``seconds`` if given); returns the
    statistics and, when ``save_dir`` is given, saves a minimised input per new kind of failure."""
    t0 = time.monotonic()
    parts = [(seed, j, jobs, inputs, kind, seconds, cli_every) for j in range(jobs)]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            results = pool.map(_worker, parts)
    else:
        results = [_worker(parts[0])]
    elapsed = time.monotonic() - t0
    stats: Dict[str, Any] = {"inputs": 0, "bytes": 0, "failures": {}, "first": {}, "seconds": elapsed, "saved": []}
    for r in results:
        stats["inputs"] += r["inputs"]
        stats["bytes"] += r["bytes"]
        for k, c in r["failures"].items():
            stats["failures"][k] = stats["failures"].get(k, 0) + c
        for k, v in r["first"].items():
            if k not in stats["first"] or v[0] < stats["first"][k][0]:
                stats["first"][k] = v
    stats["rate"] = stats["inputs"] / max(elapsed, 1e-9)
    log(f"{stats['inputs']} inputs ({stats['bytes'] / 1e6:.1f} MB) in {elapsed:.1f} s: {stats['rate']:.0f} inputs/s, {len(stats['failures'])} kinds of failure")
    known = {json.loads(p.read_text()).get("key") for p in saved(save_dir)} if save_dir else set()
    for k, (i, at, check, detail) in sorted(stats["first"].items(), key=lambda kv: kv[1][0]):
        n = stats["failures"][k]
        log(f"  {check}: {n} inputs ({100 * n / max(stats['inputs'], 1):.2f}%), first: input {i} after {at:.1f} s: {detail[:200]}")
        if save_dir is None or (k in known and per_key <= 1):
            continue
        case = make_case(seed, i, kind, cli_every)
        with quiet_stderr():
            for attempt in range(FLAKY_TRIES):
                fails = [f for f in run_case(case, seed, i) if f.key() == k]
                if fails:
                    break
            if not fails:
                log(f"    not saved: input {i} did not fail again in {FLAKY_TRIES} runs")
                continue
            if attempt == 0:
                small = minimise(case, fails[0])
                final = [f for f in run_case(small) if f.key() == k] or fails
            else:  # it fails now and then (threads racing): kept whole, replayed many times
                small, final = case, fails
                small.repeat = FLAKY_TRIES
        path = save(small, final[0], save_dir, f"python -m fuzz.campaign --seed {seed} --kind {kind} --only {i}")
        stats["saved"].append(str(path))
        log(f"    saved {path} ({len(small.data) + len(small.data2)} bytes)")
    return stats


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz.campaign", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=3000, help="inputs to run (default 3000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind", choices=KINDS + ("all",), default="all")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: no limit)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    ap.add_argument("--save-dir", type=Path, default=SAVE_DIR, help=f"where failing inputs go (default {SAVE_DIR})")
    ap.add_argument("--no-save", action="store_true", help="report only")
    ap.add_argument("--cli-every", type=int, default=100, help="one input in N also runs through the command lines (0: none)")
    ap.add_argument("--only", type=int, help="run input I alone and print its failures")
    args = ap.parse_args(argv)
    if args.only is not None:
        case = make_case(args.seed, args.only, args.kind, args.cli_every)
        print(f"input {args.only}: {case.kind}, {case.origin}, {len(case.input())} bytes, opts {case.opts}")
        fails = run_case(case, args.seed, args.only)
        for f in fails:
            print(f"  {f.check}: {f.detail}")
        return 1 if fails else 0
    stats = campaign(args.inputs, args.seed, args.kind, args.seconds, args.jobs, None if args.no_save else args.save_dir, args.cli_every)
    return 1 if stats["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
