"""Flame graphs: ``flamegraph()`` and what the ``graph`` command shares with it.

The Rust core reads the input (folded stacks with one or two count columns, `perf script`
output, or a Profile), merges it into a frame tree and keeps only the frames wide enough to
draw; this module checks the options, then colours, lays out and writes the SVG (``svg.py``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from typing import IO, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union, cast

from . import _flamefold, palettes, svg
from ._flamefold import Profile

Source = Union[Profile, "_flamefold.Diff", str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


class GraphWarning(UserWarning):
    """Something in the input or the options that the graph was drawn without."""


_DEFAULTS: Dict[str, object] = {
    "title": None,
    "subtitle": "",
    "width": 1200,
    "height": 16,
    "minwidth": 0.1,
    "fonttype": "Verdana",
    "fontsize": 12,
    "fontwidth": 0.59,
    "countname": "samples",
    "nametype": "Function:",
    "colors": "hot",
    "bgcolors": None,
    "hash": False,
    "random": False,
    "cp": False,
    "reverse": False,
    "inverted": False,
    "flamechart": False,
    "negate": False,
    "notes": "",
    "factor": 1.0,
    "total": None,
    "nameattr": None,
    "encoding": None,
    "search_color": "rgb(230,0,230)",
    "stroke_color": None,
    "truncate": "right",
    "threads": None,
    # for `perf script` input, collapsed first: stackcollapse-perf's options
    "pid": False,
    "tid": False,
    "kernel": False,
    "jit": False,
    "addrs": False,
    "event_filter": None,
}
OPTION_NAMES = tuple(_DEFAULTS)


class GraphOptions:
    """flamegraph.pl's options (same names and meanings), plus inferno's search and stroke
    colours and the side labels are truncated on (``truncate``: "right" or "left")."""

    title: Optional[str]
    subtitle: str
    width: float
    height: float
    minwidth: Union[float, str]
    fonttype: str
    fontsize: float
    fontwidth: float
    countname: str
    nametype: str
    colors: str
    bgcolors: Optional[str]
    hash: bool
    random: bool
    cp: Union[bool, str, "os.PathLike[str]"]
    reverse: bool
    inverted: bool
    flamechart: bool
    negate: bool
    notes: str
    factor: float
    total: Optional[float]
    nameattr: Optional[Union[str, "os.PathLike[str]"]]
    encoding: Optional[str]
    search_color: str
    stroke_color: Optional[str]
    truncate: str
    threads: Optional[int]
    pid: bool
    tid: bool
    kernel: bool
    jit: bool
    addrs: bool
    event_filter: Optional[str]

    def __init__(self, **options: object) -> None:
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown options: {', '.join(unknown)}")
        for name, default in _DEFAULTS.items():
            setattr(self, name, options.get(name, default))
        # set by check(): minwidth as a number and whether it is a percentage
        self._minwidth = 0.1
        self._minwidth_pct = False

    def __repr__(self) -> str:
        return "GraphOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in _DEFAULTS) + ")"

    def check(self) -> "GraphOptions":
        """Validates the values (ValueError with a one-line message) and fills in defaults."""
        if self.title is None:
            self.title = "Flame Chart" if self.flamechart else "Icicle Graph" if self.inverted else "Flame Graph"
        for name in ("width", "height", "fontsize", "fontwidth", "factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v != v or v == float("inf"):
                raise ValueError(f"{name} must be a positive number, not {v!r}")
        if self.width <= 2 * svg.XPAD:
            raise ValueError(f"width must be more than {2 * svg.XPAD} pixels, not {self.width!r}")
        mw = self.minwidth
        if isinstance(mw, str):
            if not re.fullmatch(r"[0-9]*\.?[0-9]+%?|[0-9]+\.%?", mw.strip()):
                raise ValueError(f"minwidth {mw!r} is invalid: expected pixels (0.1) or a percentage (0.5%)")
            mw = mw.strip()
            self._minwidth_pct = mw.endswith("%")
            self._minwidth = float(mw.rstrip("%"))
        elif isinstance(mw, (int, float)) and not isinstance(mw, bool) and mw >= 0:
            self._minwidth, self._minwidth_pct = float(mw), False
        else:
            raise ValueError(f"minwidth must be pixels (0.1) or a percentage ('0.5%'), not {mw!r}")
        if self.total is not None:
            try:
                self.total = float(self.total)
            except (TypeError, ValueError):
                raise ValueError(f"total must be a number, not {self.total!r}") from None
        palettes.check_palette(self.colors)
        if self.bgcolors is not None:
            palettes.check_background(self.bgcolors)
        svg.check_color(self.search_color, "search color")
        if self.stroke_color is not None:
            svg.check_color(self.stroke_color, "stroke color")
        if self.truncate not in ("right", "left"):
            raise ValueError(f"truncate must be 'right' or 'left', not {self.truncate!r}")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"unknown encoding {self.encoding!r}") from None
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", self.encoding):
                raise ValueError(f"encoding name {self.encoding!r} cannot go into an XML declaration")
        for name in ("title", "subtitle", "notes", "countname", "nametype", "fonttype"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, _clean(str(v)))
        return self


def _clean(s: str) -> str:
    """Text from the command line that may hold undecodable bytes (surrogate escapes)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


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


class Drawn(NamedTuple):
    """A graph and what was noticed drawing it."""

    svg: str
    warnings: List[Tuple[int, int, str]]  # (source index or -1, line (0: none), message)
    empty: bool
    frames: int


def draw(source: Union[Source, Sequence[Source]], o: GraphOptions) -> Drawn:
    """Reads the input and writes the SVG (``o`` already checked)."""
    srcs = _sources(source)
    fr = _flamefold.graph_frames(
        srcs,
        reverse=o.reverse,
        flamechart=o.flamechart,
        chain=o.colors == "chain",
        minwidth=o._minwidth,
        minwidth_percent=o._minwidth_pct,
        image_width=float(o.width) - 2 * svg.XPAD,
        total=o.total,
        threads=o.threads,
        pid=bool(o.pid),
        tid=bool(o.tid),
        kernel=bool(o.kernel),
        jit=bool(o.jit),
        addrs=bool(o.addrs),
        event_filter=o.event_filter,
    )
    notes: List[Tuple[int, int, str]] = list(fr.warnings)
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


def write_atomic(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Writes ``data`` to ``path`` without damaging what is there.

    A regular file (or a new one) is replaced whole: the data goes to a temporary file in the
    target's real folder (symbolic links followed), which takes the old file's mode and owner
    (a new file: 0666 less the umask) and is renamed over it. Readers never see half a file, a
    symbolic link stays a link (to the new content), and an error or Ctrl-C leaves the old file
    and no temporary behind. Anything else (a FIFO, a device such as /dev/null, a socket) is
    opened and written through, never replaced. An error is an ``OSError`` naming ``path``.
    """
    path = os.fspath(path)
    try:
        _write_to(os.path.realpath(path), data)
    except OSError as e:
        if e.errno is None or e.filename == path:
            raise
        raise type(e)(e.errno, e.strerror, path) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_to(real: str, data: bytes) -> None:
    try:
        old: Optional[os.stat_result] = os.stat(real)
    except FileNotFoundError:
        old = None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), real)
    if old is not None and not stat.S_ISREG(old.st_mode):
        fd = os.open(real, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return
    folder, name = os.path.split(real)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    for n in range(100):
        tmp = os.path.join(folder or ".", f".{name}.{os.getpid()}.{n}.tmp")
        try:
            # a new file gets 0666 less the umask from the kernel; a replacement starts private
            fd = os.open(tmp, flags, 0o600 if old is not None else 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), tmp)
    try:
        try:
            _write_all(fd, data)
            if old is not None:
                try:  # kept as root; chown clears set-id bits, so the mode comes after
                    os.fchown(fd, old.st_uid, old.st_gid)
                except OSError:
                    pass
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def encode(text: str, encoding: Optional[str]) -> bytes:
    """The SVG as bytes: UTF-8, or ``--encoding`` with characters it lacks as references."""
    return text.encode(encoding or "utf-8", "xmlcharrefreplace")


def flamegraph(source: Union[Source, Sequence[Source]], dest: "Union[str, os.PathLike[str], IO[str], IO[bytes], None]" = None, **options: object) -> str:
    """Draw a flame graph; returns the SVG text.

    ``source``: a Profile, a path (folded stacks or ``perf script`` output, gzip/zstd too),
    bytes, folded text, a binary file object, or a list of these (merged). ``dest``: also write
    the SVG there (a path: see :func:`write_atomic`; or a file object). ``options`` are flamegraph.pl's, by the
    same names: title, subtitle, width, height, minwidth (pixels, or "N%"), fonttype, fontsize,
    fontwidth, countname, nametype, colors, bgcolors, hash, random, cp, reverse, inverted,
    flamechart, negate, notes, factor, total, nameattr, encoding; and search_color,
    stroke_color, truncate ("right", the default, or "left"), threads; and for ``perf script``
    input, collapse_perf's pid, tid, kernel, jit, addrs and event_filter.
    Lines that cannot be read are skipped with a :class:`GraphWarning`.
    """
    try:
        o = GraphOptions(**options)
    except TypeError as e:
        raise TypeError(f"flamegraph() got {e}") from None
    o.check()
    drawn = draw(source, o)
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
