"""The plain collapse command lines are read without argparse (cli/quick.py): the same namespace
as argparse for every command line the quick reader takes, argparse for the rest, and the
installed scripts start without argparse and `re`."""

import os
import random
import shutil
import subprocess
import sys

import pytest

from conftest import DATA
from flamefold.cli import collapse, quick
from flamefold.cli.parser import Parser

FUNCAB = DATA / "collapse" / "inputs" / "perf-funcab-cmd-01.txt"
FUNCAB_OUT = (DATA / "collapse" / "expected" / "perf-funcab-cmd-01-default.txt").read_bytes()

# words a user types, good and bad: flags (exact, abbreviated, one dash, with =), values, files
WORDS = [
    "--pid", "--tid", "--kernel", "--jit", "--all", "--addrs", "--inline", "--context", "--srcline",
    "-pid", "-all", "-q", "--quiet", "--pi", "--al", "-qq", "--pid=1", "--", "-h", "--help", "--bogus",
    "--threads", "2", "0", "-1", "x", "--threads=3", "--threads=", "--event-filter", "cycles",
    "--event-filter=cpu-clock", "--event-filter=", "-event-filter", "-threads", "-", "a.txt", "b.txt",
    "", "-o", "--output", "out.folded", "--output=-", "--format", "perf", "dtrace", "--format=bogus",
    "--speedscope", "--weight", "bytes", "--top", "--each", "-x", "-1.5",
]


def argparse_namespace(parser, words):
    """argparse's namespace for ``words``, or None where it exits (usage error, help)."""
    try:
        ns = parser.parse_args(words)
    except SystemExit:
        return None
    return {k: v for k, v in vars(ns).items() if k not in ("command_parser", "command_run")}


def perl_parser():
    return collapse._perl_parser("stackcollapse-perf")


def flamefold_collapse_parser():
    p = Parser(prog="flamefold")
    collapse.add_parser(p.add_subparsers(dest="command"))
    return p


def command_lines(n, seed):
    rnd = random.Random(seed)
    for _ in range(n):
        yield [rnd.choice(WORDS) for _ in range(rnd.randint(0, 6))]


@pytest.fixture
def quiet_stderr(monkeypatch):
    """argparse prints usage errors: keep them out of the test output."""
    monkeypatch.setattr(sys, "stderr", open(os.devnull, "w"))


@pytest.mark.parametrize("read, make_parser, command, seed", [
    (quick.perl_args, perl_parser, [], 1),
    (quick.collapse_args, flamefold_collapse_parser, ["collapse"], 2),
], ids=["stackcollapse-perf", "flamefold collapse"])
def test_quick_namespace_is_argparse_s(read, make_parser, command, seed, quiet_stderr):
    from flamefold.cli.common import check_collapse_args

    parser = make_parser()
    taken = 0
    for words in command_lines(3000, seed):
        got = read(words)
        if got is None:
            continue  # argparse reads it
        taken += 1
        want = argparse_namespace(parser, command + words)
        assert want is not None, f"{words}: argparse refuses it, the quick reader took it"
        assert vars(got) == want, words
        check_collapse_args(parser, got)  # the checks the quick reader made pass
    assert taken > 300, taken


def test_what_the_quick_reader_leaves_to_argparse():
    for words in (["--pi", "f"], ["-h"], ["f", "--pid", "g"], ["--threads", "0"], ["--context"], ["--pid=1"], ["--", "f"], ["--threads", "-1"]):
        assert quick.perl_args(words) is None, words
    for words in (["--format=bogus"], ["--speedscope"], ["--each"], ["--top", "3"], ["-ofile"]):
        assert quick.collapse_args(words) is None, words
    assert vars(quick.perl_args(["-pid", "--threads=2", "a", "-"])) == dict(
        pid=True, tid=False, kernel=False, jit=False, all=False, addrs=False, event_filter=None,
        inline=False, context=False, srcline=False, threads=2, quiet=False, inputs=["a", "-"],
    )


def script(name):
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    assert os.path.exists(path), f"{name} is not installed (pip install .)"
    return path


@pytest.mark.parametrize("command", [["stackcollapse-perf"], ["flamefold", "collapse"]])
def test_installed_scripts_start_without_argparse_and_re(command, tmp_path):
    """What the plain commands import (python -X importtime, through the installed script):
    neither argparse nor re; and the output is the Perl's."""
    out = tmp_path / "out.folded"
    exe = script(command[0])
    with open(out, "wb") as f:
        r = subprocess.run([sys.executable, "-X", "importtime", exe, *command[1:], str(FUNCAB)], stdout=f, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == FUNCAB_OUT
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "flamefold.cli.quick" in imported
    assert not imported & {"argparse", "re", "gettext", "enum"}, sorted(imported & {"argparse", "re", "gettext", "enum"})


def test_help_and_errors_still_come_from_argparse():
    r = subprocess.run([script("stackcollapse-perf"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--event-filter" in r.stdout
    r = subprocess.run([script("flamefold"), "collapse", "--threads", "0", str(FUNCAB)], capture_output=True, text=True)
    assert r.returncode == 2 and "--threads must be at least 1" in r.stderr
    r = subprocess.run([script("stackcollapse-perf"), str(FUNCAB), "--pid", str(FUNCAB)], capture_output=True, text=True)
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr


def test_escape_without_re_escapes_what_the_regex_did():
    """``escape`` (a translation table, no regex at start-up) against the pattern it replaced,
    on every code point."""
    import re

    from flamefold.cli.common import escape

    unsafe = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

    def by_regex(m):
        c = ord(m.group())
        if 0xDC80 <= c <= 0xDCFF:
            return f"\\x{c - 0xDC00:02x}"
        return f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}"

    text = "".join(map(chr, range(0x110000)))
    assert escape(text) == unsafe.sub(by_regex, text)
    assert escape(b"caf\xc3\xa9 \xff\n".decode("utf-8", "surrogateescape")) == "café \\xff\\x0a"
