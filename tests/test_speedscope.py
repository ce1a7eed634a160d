"""speedscope output: ``Profile.to_speedscope(dest=None)`` and ``flamefold collapse --speedscope``.

The document must validate against speedscope's own schema (tests/data/speedscope, see SOURCES.md)
and hold exactly the Profile: its samples times their weights, expanded back into `;`-joined
stacks, are ``profile.items()`` (frame names that are not UTF-8 read as ``from_utf8_lossy`` does).
The ``check`` and ``expected`` helpers are tested on hand-built documents too.
"""

import json
import pathlib
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest

import flamefold
from conftest import DATA

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
SCHEMA = json.loads((DATA / "speedscope" / "file-format-schema.json").read_text())
UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}
INPUTS = sorted((DATA / "collapse" / "inputs").iterdir())

try:
    import jsonschema
except ImportError:  # the test extra has it; without it the hand checks below still run
    jsonschema = None
INVALID = (AssertionError,) if jsonschema is None else (AssertionError, jsonschema.ValidationError)


def lossy(stack: str) -> str:
    """A stack from ``items()`` (invalid UTF-8 as surrogates) as speedscope gets it."""
    return stack.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def expected(items: Iterable[Tuple[str, int]]) -> List[Tuple[str, int]]:
    """``profile.items()`` as the sorted pairs ``check`` returns."""
    return sorted((lossy(s), c) for s, c in items)


def check(data: bytes) -> List[Tuple[str, int]]:
    """Checks a speedscope document by hand (and by the schema when jsonschema is there);
    returns its samples expanded into sorted (`;`-joined stack, weight) pairs."""
    assert isinstance(data, bytes)
    text = data.decode("utf-8")  # strict: the writer never emits invalid UTF-8
    assert not any(ord(ch) < 0x20 for ch in text.rstrip("\n")), "raw control character"
    doc = json.loads(text)
    if jsonschema is not None:
        jsonschema.Draft7Validator(SCHEMA).validate(doc)
    assert doc["$schema"] == SCHEMA_URL
    assert isinstance(doc.get("name", ""), str) and isinstance(doc.get("exporter", ""), str)
    assert doc.get("exporter", "flamefold").startswith("flamefold")
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list) and all(isinstance(f, dict) and isinstance(f["name"], str) for f in frames)
    names = [f["name"] for f in frames]
    assert len(doc["profiles"]) == 1 and doc.get("activeProfileIndex", 0) == 0
    p = doc["profiles"][0]
    assert p["type"] == "sampled" and p["unit"] in UNITS and isinstance(p["name"], str)
    samples, weights = p["samples"], p["weights"]
    assert len(samples) == len(weights)
    assert all(type(w) is int and w >= 0 for w in weights)  # integers, written exactly
    assert p["startValue"] == 0 and type(p["endValue"]) is int
    assert p["endValue"] == sum(weights)
    # frames are numbered densely in order of first use, and every frame is used
    first_use: Dict[int, None] = {}
    for s in samples:
        assert isinstance(s, list)
        for i in s:
            assert type(i) is int and 0 <= i < len(frames)
            first_use.setdefault(i)
    assert list(first_use) == list(range(len(frames)))
    return sorted((";".join(names[i] for i in s), w) for s, w in zip(samples, weights))


def doc_bytes(frames: List[str], samples: List[List[int]], weights: List[int], over: Optional[Dict[str, Any]] = None) -> bytes:
    doc: Dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "shared": {"frames": [{"name": n} for n in frames]},
        "profiles": [{"type": "sampled", "name": "x", "unit": "none", "startValue": 0, "endValue": sum(weights), "samples": samples, "weights": weights}],
        "name": "x",
        "activeProfileIndex": 0,
        "exporter": "flamefold 0.1.0",
    }
    for k, v in (over or {}).items():
        (doc["profiles"][0] if k in doc["profiles"][0] else doc)[k] = v
    return json.dumps(doc, ensure_ascii=False).encode()


# --- the helpers, on hand-built documents (these pass without the binding) ---


def test_check_expands_a_hand_built_document():
    data = doc_bytes(["main", 'say "hi"', "C:\\x", "caf\ufffd"], [[0, 1], [0, 2, 3], [0, 1]], [2**53 + 1, 3, 4])
    assert check(data) == [("main;C:\\x;caf\ufffd", 3), ('main;say "hi"', 4), ('main;say "hi"', 2**53 + 1)]
    assert check(doc_bytes([], [], [])) == []


@pytest.mark.parametrize(
    "bad",
    [
        dict(samples=[[0], [5]]),  # index out of range
        dict(weights=[1]),  # fewer weights than samples
        dict(endValue=99),  # not the total
        dict(unit="samples"),  # not a speedscope unit
        dict(type="evented"),
        dict(samples=[[1], [0]]),  # not numbered in order of first use
        dict(weights=[1.5, 2]),  # not an integer
    ],
)
def test_check_rejects_bad_documents(bad):
    with pytest.raises(INVALID):
        check(doc_bytes(["a", "b"], [[0], [1]], [1, 2], bad))


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
def test_schema_copy_rejects_what_speedscope_rejects():
    validator = jsonschema.Draft7Validator(SCHEMA)
    good = json.loads(doc_bytes(["a"], [[0]], [1]))
    assert validator.is_valid(good)
    for key in ("$schema", "shared", "profiles"):
        assert not validator.is_valid({k: v for k, v in good.items() if k != key})
    assert not validator.is_valid(dict(good, profiles=[dict(good["profiles"][0], unit="samples")]))


def test_expected_reads_invalid_utf8_as_lossy():
    assert expected([("app;caf\udce9", 3), ("a\udcff\udcfeb", 1)]) == [("app;caf\ufffd", 3), ("a\ufffd\ufffdb", 1)]


# --- the binding: Profile.to_speedscope and the CLI ---


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_corpus_round_trips(path):
    profile = flamefold.collapse_perf(str(path))
    data = profile.to_speedscope()
    assert check(data) == expected(profile.items())
    doc = json.loads(data)
    assert doc["profiles"][0]["endValue"] == profile.total
    assert doc["profiles"][0]["unit"] == "none"
    assert profile.to_speedscope() == data  # deterministic


def test_same_document_from_bytes_and_path():
    path = DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"
    by_bytes = json.loads(flamefold.collapse_perf(path.read_bytes()).to_speedscope())
    by_path = json.loads(flamefold.collapse_perf(str(path)).to_speedscope())
    assert without_names(by_bytes) == without_names(by_path)


def test_dest_writes_a_file(tmp_path):
    profile = flamefold.collapse_perf(DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt")
    data = profile.to_speedscope()
    for dest in (tmp_path / "a.json", str(tmp_path / "b.json")):
        assert profile.to_speedscope(dest=dest) is None
        assert pathlib.Path(dest).read_bytes() == data
    assert profile.to_speedscope(tmp_path / "a.json") is None  # replaced whole
    assert (tmp_path / "a.json").read_bytes() == data


def test_non_utf8_frame_names():
    capture = b"app 10 1.0: 3 cycles:\n\tffff caf\xe9 (/bin/app)\n\tffff main (/bin/app)\n\napp 10 2.0: 2 cycles:\n\tffff bad\xff\xfe\xc0\xaf (/bin/app)\n\tffff main (/bin/app)\n"
    profile = flamefold.collapse_perf(capture)
    got = check(profile.to_speedscope())
    assert got == expected(profile.items()) == [("app;main;bad\ufffd\ufffd\ufffd\ufffd", 2), ("app;main;caf\ufffd", 3)]
    folded = flamefold.read_folded(b"x;\xed\xa0\x80 1\nx;\xe2\x82 2\n")
    assert check(folded.to_speedscope()) == [("x;\ufffd", 2), ("x;\ufffd\ufffd\ufffd", 1)]


def test_quotes_backslashes_and_controls_in_names():
    folded = b'main;say "hi";C:\\dir\\f 4\nmain;\\u0041;tab\there 1\nmain;;empty 2\nmain;\\" 8\n'
    profile = flamefold.read_folded(folded)
    data = profile.to_speedscope()
    got = check(data)
    assert got == expected(profile.items())
    assert dict(got) == {'main;say "hi";C:\\dir\\f': 4, "main;\\u0041;tab\there": 1, "main;;empty": 2, 'main;\\"': 8}
    assert b"\\u0009" in data and b"\t" not in data


def test_weights_exact_past_2_pow_53():
    profile = flamefold.read_folded(b"a %d\na;b %d\nc %d\n" % (2**53 + 1, 2**64 - 1, 2**64 - 1))
    data = profile.to_speedscope()
    assert check(data) == [("a", 2**53 + 1), ("a;b", 2**64 - 1), ("c", 2**64 - 1)]
    assert json.loads(data)["profiles"][0]["endValue"] == 2**53 + 1 + 2 * (2**64 - 1) == profile.total
    assert b"9007199254740993" in data and b"18446744073709551615" in data


def test_empty_profile():
    profile = flamefold.read_folded(b"")
    assert len(profile) == 0
    assert check(profile.to_speedscope()) == []


def without_names(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The document without its names (a file name, which the API may not know)."""
    return dict({k: v for k, v in doc.items() if k != "name"}, profiles=[{k: v for k, v in p.items() if k != "name"} for p in doc["profiles"]])


@pytest.mark.parametrize("name", ["perf-funcab-cmd-01.txt", "perf-java-stacks-01.txt", "example-perf-stacks.txt.gz"])
def test_cli_writes_the_same_document(tmp_path, name):
    capture = DATA / "collapse" / "inputs" / name
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "flamefold", "collapse", str(capture), "--speedscope", "-o", str(out)], capture_output=True)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert b"Traceback" not in run.stderr
    data = out.read_bytes()
    profile = flamefold.collapse_perf(str(capture))
    assert check(data) == expected(profile.items())
    assert without_names(json.loads(data)) == without_names(json.loads(profile.to_speedscope()))
