"""The core's port of the palettes (tree/colors.rs, used when it writes the frames) gives the
colours palettes.py gives, for every palette, with and without --hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamefold import _flamefold, palettes

DATA = Path(__file__).parent / "data"

ODD = ["", "-", "--", " ", "a`b", "`xyz", "é`èx", "x`", "Lcom/x", "Ljavax/y", "javax/y", "Lfoo", "jdk/", "io/x_[k]",
       "x/y.js", "/a/b.jsx", "h:i", "c:::d", "a::b", "Perl_x", "x.pl", "/usr/lib/python3.11/os.py", "C:\\Python311\\x.py",
       "Python3./x", "/pythonX/y", "/site-packages/x", "a/dist-packages", "<built-in method>", "<frozen os>",
       "<core::future::from_generator::GenFuture<x>>", "std::x", "<alloc::y as core::z>", "x as std::y", "u`core::v",
       "f_[k]", "f_[j]", "f_[i]", "g_[w]", "h_[o]", "\U0001f600\U0001f600\U0001f600", "\ufffd\ufffd", "x" * 300]


def corpus_names() -> list[str]:
    names = set(ODD)
    for path in sorted((DATA / "flamegraph" / "inputs").glob("*.folded")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            names.update(line.rsplit(" ", 1)[0].split(";"))
    return sorted(names)


@pytest.mark.parametrize("palette", palettes.PALETTES)
def test_core_colours_are_palettes_py(palette):
    names = corpus_names()
    assert len(names) > 1000
    for hash in (False, True):
        got = [_flamefold.GraphFrames.frame_color(palette, n, hash) for n in names]
        want = [palettes.frame_color(palette, n, hash, False, None) for n in names]
        assert got == want, palette


def test_unknown_palette_is_none():
    assert _flamefold.GraphFrames.frame_color("nope", "main") is None
