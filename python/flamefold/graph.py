"""Flame graphs: ``flamegraph()`` and what the ``graph`` command shares with it.

The Rust core reads the input (folded stacks with one or two count columns, `perf script`
output, or a Profile), merges it into a frame tree and keeps only the frames wide enough to
draw; this module checks the options, then has the SVG written (``svg.py``; the frames' own
elements are written by the core).
"""

from __future__ import annotations

import os
import re
import warnings

from . import _api, _flamefold, palettes, svg
from ._flamefold import Profile
from ._io import write_atomic
from .options import XPAD, CollapseOptions, GraphOptions, split

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: only the type checker needs it
    from typing import IO, Dict, List, Optional, Sequence, Tuple, Union, cast

    Source = Union[Profile, "_flamefold.Diff", str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
else:
    Source = object  # what the command line names in its (type-checked) casts

    def cast(_type, value):
        return value

__all__ = ["GraphWarning", "Source", "draw", "encode", "flamegraph"]


class GraphWarning(UserWarning):
    """Something in the input or the options that the graph was drawn without."""


def _looks_folded(text: str) -> bool:
    return "\n" in text or bool(re.search(r"[ \t][0-9]+(\.[0-9]*)?\s*$", text))


def _sources(source: Union[Source, Sequence[Source]]) -> List[object]:
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    out: List[object] = []
    for s in items:
        if isinstance(s, str) and not os.path.exists(s) and _looks_folded(s):
            out.append(s.encode("utf-8", "surrogateescape"))  # folded text itself
        elif isinstance(s, (bytearray, memoryview)):
            out.append(bytes(s))
        elif isinstance(s, _flamefold.Diff):
            out.append(s)  # read as its two-column text would be, without writing the text
        else:
            out.append(s)
    if not out:
        raise ValueError("no input given")
    return out


def read_nameattr(path: "str | os.PathLike[str]") -> Tuple[Dict[str, Dict[str, str]], List[str]]:
    """``--nameattr FILE``: ``NAME<TAB>key=value<TAB>...`` lines -> {name: {key: value}}."""
    attrs: Dict[str, Dict[str, str]] = {}
    problems: List[str] = []
    known = {"title", "id", "class", "g_extra", "href", "target", "a_extra"}
    extra = re.compile(r"""\s*(?:[A-Za-z_:][-A-Za-z0-9_:.]*\s*=\s*(?:"[^"<&]*"|'[^'<&]*')\s*)*""")
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            name, *pairs = line.split("\t")
            if not pairs:
                problems.append(f"{os.fspath(path)}: line {lineno}: no tab, ignored")
                continue
            entry = attrs.setdefault(name, {})
            for pair in pairs:
                key, sep, value = pair.partition("=")
                if not sep or key not in known:
                    problems.append(f"{os.fspath(path)}: line {lineno}: ignored attribute {pair!r}")
                elif key.endswith("_extra") and not extra.fullmatch(value):
                    problems.append(f"{os.fspath(path)}: line {lineno}: {key} is not name=\"value\" attributes, ignored")
                else:
                    entry[key] = value
    return attrs, problems


class Drawn:
    """A graph and what was noticed drawing it."""

    __slots__ = ("svg", "warnings", "empty", "frames")

    def __init__(self, svg: str, warnings: "List[Tuple[int, int, str]]", empty: bool, frames: int) -> None:
        self.svg = svg
        self.warnings = warnings  # (source index or -1, line (0: none), message)
        self.empty = empty
        self.frames = frames


def draw(source: Union[Source, Sequence[Source]], o: GraphOptions, c: Optional[CollapseOptions] = None) -> Drawn:
    """Reads the input and writes the SVG (``o`` already checked; ``c``: how `perf script`
    input is collapsed)."""
    srcs = _sources(source)
    perf, first = _api.native_options(_flamefold.graph_frames, c or CollapseOptions())
    early: List[Tuple[int, int, str]] = []
    if first:
        srcs = _api.collapse_first(srcs, c or CollapseOptions(), lambda k, line, msg: early.append((k, line, msg)))
    minwidth, percent = o.minwidth_px
    fr = _flamefold.graph_frames(
        srcs,
        reverse=o.reverse,
        flamechart=o.flamechart,
        chain=o.colors == "chain",
        minwidth=minwidth,
        minwidth_percent=percent,
        image_width=float(o.width) - 2 * XPAD,
        total=cast("Optional[float]", o.total),
        **perf,
    )
    notes: List[Tuple[int, int, str]] = early + list(fr.warnings)
    shown = sum(1 for w in notes if w[1])
    if fr.ignored > shown:
        notes.append((-1, 0, f"{fr.ignored - shown} more lines with invalid format ignored"))
    if o.total is not None and o.total < fr.total and fr.total > 0 and o.total / fr.total > 0.02:
        notes.append((-1, 0, f"specified total {svg.count(o.total)} is less than the actual total {svg.count(fr.total)}, so ignored"))
    if fr.total <= 0:
        notes.append((-1, 0, "no stack counts found"))
        return Drawn(svg.error_svg(o, "ERROR: No valid input provided to flamegraph."), notes, True, 0)
    cp = None
    if o.cp:
        cp = palettes.PaletteMap("palette.map" if o.cp is True else o.cp)
        if cp.ignored:
            notes.append((-1, 0, f"{cp.path}: {cp.ignored} lines that are not NAME->rgb(r,g,b) ignored"))
    attrs = None
    if o.nameattr is not None:
        attrs, problems = read_nameattr(o.nameattr)
        notes.extend((-1, 0, p) for p in problems)
    text = svg.render(fr, o, cp, attrs)
    if cp is not None:
        cp.save()
    return Drawn(text, notes, False, len(fr))


def encode(text: str, encoding: Optional[str]) -> bytes:
    """The SVG as bytes: UTF-8, or ``--encoding`` with characters it lacks as references."""
    return text.encode(encoding or "utf-8", "xmlcharrefreplace")


def flamegraph(
    source: Union[Source, Sequence[Source]],
    dest: "Union[str, os.PathLike[str], IO[str], IO[bytes], None]" = None,
    *,
    title: Optional[str] = None,
    subtitle: str = "",
    countname: str = "samples",
    nametype: str = "Function:",
    notes: str = "",
    fonttype: str = "Verdana",
    fontsize: float = 12,
    fontwidth: float = 0.59,
    truncate: str = "right",
    width: float = 1200,
    height: float = 16,
    minwidth: Union[float, str] = 0.1,
    reverse: bool = False,
    inverted: bool = False,
    flamechart: bool = False,
    factor: float = 1.0,
    total: Optional[float] = None,
    colors: str = "hot",
    bgcolors: Optional[str] = None,
    hash: bool = False,
    random: bool = False,
    cp: Union[bool, str, "os.PathLike[str]"] = False,
    negate: bool = False,
    search_color: str = "rgb(230,0,230)",
    stroke_color: Optional[str] = None,
    nameattr: Optional[Union[str, "os.PathLike[str]"]] = None,
    encoding: Optional[str] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    event_filter: Optional[str] = None,
    inline: bool = False,
    context: bool = False,
    srcline: bool = False,
    threads: Optional[int] = None,
) -> str:
    """Draw a flame graph; returns the SVG text.

    ``source``: a Profile, a path (folded stacks or ``perf script`` output, gzip/zstd too),
    bytes, folded text, a binary file object, or a list of these (merged). ``dest``: also write
    the SVG there (a path: replaced atomically, see :func:`flamefold._io.write_atomic`; or a
    file object). The options are flamegraph.pl's, by the same names (see
    :class:`flamefold.options.GraphOptions`; minwidth is pixels, or "N%"), plus search_color,
    stroke_color and truncate ("right", the default, or "left"); and for ``perf script`` input,
    :func:`flamefold.collapse_perf`'s (:class:`flamefold.options.CollapseOptions`).
    Lines that cannot be read are skipped with a :class:`GraphWarning`.
    """
    given = dict(locals())
    del given["source"], given["dest"]
    o, c = split(given, GraphOptions, CollapseOptions, what="flamegraph()")
    o = o.check()
    drawn = draw(source, o, c)
    for k, line, msg in drawn.warnings:
        warnings.warn(f"line {line}: {msg}" if line else msg, GraphWarning, stacklevel=2)
    if dest is not None:
        if isinstance(dest, (str, os.PathLike)):
            write_atomic(dest, encode(drawn.svg, o.encoding))
        elif hasattr(dest, "encoding"):
            cast("IO[str]", dest).write(drawn.svg)
        else:
            cast("IO[bytes]", dest).write(encode(drawn.svg, o.encoding))
    return drawn.svg


def _repr_html(profile: Profile) -> str:
    """A Profile in a notebook: its flame graph, interactive, in an iframe."""
    import base64

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = flamegraph(profile)
    m = re.search(r'height="([0-9.]+)"', text)
    height = float(m.group(1)) if m else 400
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (f'<iframe src="data:image/svg+xml;base64,{data}" style="width:100%;max-width:1220px;'
            f'height:{height + 8:.0f}px;border:0" title="flame graph"></iframe>')
