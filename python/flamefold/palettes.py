"""Frame colours, the same as flamegraph.pl's.

A frame's colour depends only on its name (and the palette): by default the three "random"
values come from Perl's ``drand48`` seeded with the sum of the name's code points, so a graph
drawn by flamefold has the colours of the one flamegraph.pl draws from the same stacks.
``--hash`` uses flamegraph.pl's name hash instead, ``--random`` real random numbers.
"""

from __future__ import annotations

import os
import re
import stat

from ._io import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time, and options.py (every command) loads this module
    from typing import Callable, Dict, Optional, Tuple

    RGB = Tuple[int, int, int]

#: Palettes that choose one of the flat ones per frame from its name.
MIXED = ("java", "js", "perl", "python", "rust", "wakeup", "chain", "hotcold")
#: One hue each.
FLAT = ("hot", "mem", "io", "red", "green", "blue", "aqua", "yellow", "purple", "orange")
PALETTES = ("hot", "mem", "io", "wakeup", "chain", "java", "js", "perl", "python", "rust",
            "red", "green", "blue", "aqua", "yellow", "purple", "orange",
            "hotcold")  # flamefold's own (``flamefold hotcold``): off-CPU frames (``_[o]``) blue

BACKGROUNDS = {
    "yellow": ("#eeeeee", "#eeeeb0"),
    "blue": ("#eeeeee", "#e0e0ff"),
    "green": ("#eef2ee", "#e0ffe0"),
    "grey": ("#f8f8f8", "#e8e8e8"),
}

SEPARATOR_COLORS = {"--": (160, 160, 160), "-": (200, 200, 200)}

_ANNOTATION = re.compile(r"(?:_\[[kwij]\])?(?:_\[o\])?$")


def deannotate(name: str) -> str:
    """The name without a trailing ``_[k]``, ``_[w]``, ``_[i]`` or ``_[j]`` annotation, nor the
    ``_[o]`` of a hot/cold graph's off-CPU frames (after one of those, as in ``f_[k]_[o]``)."""
    return _ANNOTATION.sub("", name) if name.endswith("]") else name


def default_background(palette: str) -> str:
    if palette == "mem":
        return "green"
    if palette in ("io", "wakeup", "chain"):
        return "blue"
    if palette in ("red", "green", "blue", "aqua", "yellow", "purple", "orange"):
        return "grey"
    return "yellow"


def check_background(bg: str) -> str:
    if bg in BACKGROUNDS or re.fullmatch(r"#[0-9A-Fa-f]{6}", bg):
        return bg
    raise ValueError(f'unrecognized bgcolor "{bg}" (yellow, blue, green, grey or #rrggbb)')


def drand48_first(seed: int) -> float:
    """The first number Perl's ``rand()`` gives after ``srand(seed)``: drand48's first output."""
    state = (0x330E + ((seed & 0xFFFFFFFF) << 16)) & 0xFFFFFFFFFFFF
    state = (state * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF
    return state / float(1 << 48)


def namehash(name: str) -> float:
    """flamegraph.pl's name hash: the first three characters (after a DTrace ``module```
    prefix), weighted 1, 0.7, 0.49, mapped to [0, 1]."""
    tick = name.find("`")
    if tick >= 0:
        name = name[tick + 1:]
    vector, weight, top, mod = 0.0, 1.0, 1.0, 10
    for c in name[:3]:
        vector += ((ord(c) % mod) / (mod - 1)) * weight
        top += weight
        weight *= 0.7
        mod += 1
    return 1 - vector / top


def _java(name: str) -> str:
    if name.endswith("_[j]"):
        return "green"
    if name.endswith("_[i]"):
        return "aqua"
    if re.match(r"L?(?:java|javax|jdk|net|org|com|io|sun)/", name):
        return "green"
    if ":::" in name:
        return "green"
    if "::" in name:
        return "yellow"
    if name.endswith("_[k]"):
        return "orange"
    return "red"


def _js(name: str) -> str:
    if name.endswith("_[j]"):
        return "green" if "/" in name else "aqua"
    if "::" in name:
        return "yellow"
    if re.search(r"/.*\.js", name):
        return "green"
    if ":" in name:
        return "aqua"
    if name == " ":
        return "green"
    if "_[k]" in name:
        return "orange"
    return "red"


def _perl(name: str) -> str:
    if "::" in name:
        return "yellow"
    if "Perl" in name or ".pl" in name:
        return "green"
    if name.endswith("_[k]"):
        return "orange"
    return "red"


_PATH_PART = re.compile(r"[/\\]")
_STDLIB_DIR = re.compile(r"[Pp]ython[0-9.]*")


def _python(name: str) -> str:
    """Third-party packages aqua, the standard library yellow, everything else red."""
    parts = _PATH_PART.split(name)
    if "site-packages" in parts or "dist-packages" in parts:
        return "aqua"
    if any(_STDLIB_DIR.fullmatch(p) for p in parts[:-1]) or name.startswith(("<built-in", "<method", "<frozen")):
        return "yellow"
    return "red"


_RUST_SYSTEM = ("core::", "std::", "alloc::", "<core::", "<std::", "<alloc::")


def _rust(name: str) -> str:
    """Rust's standard library orange, other Rust (``::``) aqua, everything else yellow."""
    tick = name.find("`")
    if tick >= 0:
        name = name[tick + 1:]  # a binary's name before the symbol
    if name.startswith("<core::future::from_generator::GenFuture<"):
        return "aqua"  # user async fns desugar into this
    if name.startswith(_RUST_SYSTEM) or any(f" as {p}" in name for p in _RUST_SYSTEM[:3]):
        return "orange"
    if "::" in name:
        return "aqua"
    return "yellow"


_RESOLVE: Dict[str, Callable[[str], str]] = {
    "java": _java,
    "js": _js,
    "perl": _perl,
    "python": _python,
    "rust": _rust,
    "wakeup": lambda name: "aqua",
    "chain": lambda name: "aqua" if "_[w]" in name else "blue",
    "hotcold": lambda name: "blue" if name.endswith("_[o]") else "hot",
}


def _flat(palette: str, v1: float, v2: float, v3: float) -> RGB:
    if palette == "hot":
        return 205 + int(50 * v3), int(230 * v1), int(55 * v2)
    if palette == "mem":
        return 0, 190 + int(50 * v2), int(210 * v1)
    if palette == "io":
        x = 80 + int(60 * v1)
        return x, x, 190 + int(55 * v2)
    if palette == "red":
        x = 50 + int(80 * v1)
        return 200 + int(55 * v1), x, x
    if palette == "green":
        x = 50 + int(60 * v1)
        return x, 200 + int(55 * v1), x
    if palette == "blue":
        x = 80 + int(60 * v1)
        return x, x, 205 + int(50 * v1)
    if palette == "yellow":
        x = 175 + int(55 * v1)
        return x, x, 50 + int(20 * v1)
    if palette == "purple":
        x = 190 + int(65 * v1)
        return x, 80 + int(60 * v1), x
    if palette == "aqua":
        x = 165 + int(55 * v1)
        return 50 + int(60 * v1), x, x
    if palette == "orange":
        return 190 + int(65 * v1), 90 + int(65 * v1), 0
    raise ValueError(f"unknown palette {palette!r}")


_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}|[A-Za-z]+|rgba?\(\s*[0-9.]+%?\s*(?:,\s*[0-9.]+%?\s*){2,3}\)")


def check_color(value: str, what: str) -> str:
    if not _COLOR.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a colour (#rrggbb, a name such as red, or rgb(r,g,b))")
    return value


def check_palette(palette: str) -> str:
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r} (one of {', '.join(PALETTES)})")
    return palette


def palette_color(palette: str, name: str, hash: bool = False, rand: bool = False) -> RGB:
    """The colour of a frame named ``name`` (the full name, annotation included)."""
    if hash:
        v1 = namehash(name)
        v2 = v3 = namehash(name[::-1])
    elif rand:
        import random as _random

        v1, v2, v3 = _random.random(), _random.random(), _random.random()
    else:
        v1 = v2 = v3 = drand48_first(sum(map(ord, name)))
    resolve = _RESOLVE.get(palette)
    return _flat(resolve(name) if resolve else palette, v1, v2, v3)


def diff_color(delta: float, maxdelta: float, negate: bool = False) -> RGB:
    """Red for growth, blue for shrinkage, stronger as |delta| nears the largest delta."""
    value = -delta if negate else delta
    if value > 0:
        g = max(0, int(210 * (maxdelta - value) / maxdelta))
        return 255, g, g
    if value < 0:
        b = max(0, int(210 * (maxdelta + value) / maxdelta))
        return b, b, 255
    return 255, 255, 255


class PaletteMap:
    """``palette.map`` (``--cp``): a colour per name, read before drawing, rewritten after it
    (sorted by name) with the colours of the names it did not have yet."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = os.fspath(path)
        self.colors: Dict[str, RGB] = {}
        self.ignored = 0
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                raise FileNotFoundError  # a FIFO or device: written to, never read (it would block)
            with open(self.path, encoding="utf-8", errors="surrogateescape") as f:
                for line in f:
                    line = line.rstrip("\r\n")
                    name, sep, color = line.rpartition("->")
                    m = re.fullmatch(r"rgb\((\d+),\s*(\d+),\s*(\d+)\)", color.strip()) if sep else None
                    if m:
                        r, g, b = (int(x) for x in m.groups())
                        self.colors[name] = (r, g, b)
                    elif line.strip():
                        self.ignored += 1
        except FileNotFoundError:
            pass
        self.changed = False

    def color(self, name: str, compute: Callable[[], RGB]) -> RGB:
        c = self.colors.get(name)
        if c is None:
            c = self.colors[name] = compute()
            self.changed = True
        return c

    def save(self) -> None:
        if not self.changed:
            return
        text = "".join(f"{k}->rgb({r},{g},{b})\n" for k, (r, g, b) in sorted(self.colors.items()))
        write_atomic(self.path, text.encode("utf-8", "surrogateescape"))


def frame_color(palette: str, name: str, hash: bool, rand: bool, cp: Optional[PaletteMap]) -> RGB:
    """A frame's colour outside differential mode: separators grey, then palette.map, then the
    palette."""
    sep = SEPARATOR_COLORS.get(name)
    if sep is not None:
        return sep
    if cp is not None:
        return cp.color(name, lambda: palette_color(palette, name, hash, rand))
    return palette_color(palette, name, hash, rand)
