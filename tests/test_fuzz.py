"""The fuzz campaign (fuzz/): every saved failing input replayed, and a short seeded campaign.

FLAMEFOLD_FUZZ_SECONDS (default 60) and FLAMEFOLD_FUZZ_INPUTS (default 3000) bound the short
campaign; it stops at whichever comes first. The long run is `python -m fuzz.campaign`.
"""

import os
import pathlib
import random
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz import campaign, gen  # noqa: E402

SAVED = campaign.saved()


def _describe(fails):
    return "\n".join(f"  {f.check}: {f.detail[:400]}" for f in fails)


@pytest.mark.parametrize("meta", SAVED, ids=[p.stem for p in SAVED])
def test_saved_input(meta):
    case, info = campaign.load(meta)
    fails = campaign.replay(case)
    assert not fails, f"{meta.name} (first found: {info['check']}: {info['detail'][:200]}) still fails:\n{_describe(fails)}"


def test_short_campaign():
    seconds = float(os.environ.get("FLAMEFOLD_FUZZ_SECONDS", "60"))
    inputs = int(os.environ.get("FLAMEFOLD_FUZZ_INPUTS", "3000"))
    lines = []
    stats = campaign.campaign(inputs, seed=20261126, kind="all", seconds=seconds, jobs=min(2, os.cpu_count() or 1),
                              save_dir=None, cli_every=100, log=lines.append)
    assert stats["inputs"] >= min(inputs, 300), "the campaign ran too few inputs to mean anything"
    assert not stats["failures"], (
        "\n".join(lines) + "\nreproduce one with: python -m fuzz.campaign --seed 20261126 --kind all --only I"
        " (the long run saves minimised inputs to tests/data/fuzz/)"
    )


def test_inputs_are_a_function_of_seed_and_index():
    for i in (0, 7, 123):
        a, b = campaign.make_case(5, i, "all"), campaign.make_case(5, i, "all")
        assert (a.kind, a.input(), a.input2(), a.opts, a.graph) == (b.kind, b.input(), b.input2(), b.opts, b.graph)
    assert campaign.make_case(5, 1, "perf").input() != campaign.make_case(6, 1, "perf").input()


def test_the_oracles_can_fail():
    """A wrong expectation, a lost sample and an injected element are each reported."""
    rng = random.Random(3)
    data, opts, exp = gen.gen_perf(rng)
    case = campaign.Case("perf", data, opts=opts, expect=gen.Expect(exp.total + 1, exp.stacks, exp.event, exp.dropped, exp.filtered))
    assert "conservation" in {f.check for f in campaign.run_case(case)}
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"/><script>x</script><script>y</script></svg>'
    assert {f.check for f in campaign.check_svg(svg, {}, "test")} == {"svg-injection"}
    assert campaign.check_svg("<svg><g></svg>", {}, "test")[0].check == "svg-xml"


def test_generated_inputs_meet_their_expectation():
    """The grammar generator and its independent count agree with the core on plain captures
    (one copy, one thread): the oracle itself is right, so its failures mean something."""
    import warnings

    import flamefold

    for i in range(300):
        data, opts, exp = gen.gen_perf(random.Random(i))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = flamefold.collapse_perf(data, threads=1, **opts)
        assert (dict(p.items()), p.total, p.dropped, p.event) == (exp.stacks, exp.total, exp.dropped, exp.event), data[:2000]
        text, fexp = gen.gen_folded(random.Random(i))
        assert dict(flamefold.read_folded(text).items()) == fexp.stacks


def test_mutated_lines_stay_under_100_kb():
    rng = random.Random(11)
    for _ in range(300):
        d, _names = gen.mutate(rng, gen.perf_excerpt(rng), gen.PERF_MUTATORS)
        assert max(map(len, d.split(b"\n"))) < 100_000
