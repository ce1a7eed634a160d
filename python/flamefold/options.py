"""The options of collapsing and drawing, defined once: name, type, default and help text.

The API functions take these as keywords; the command line builds its flags from the fields
(``cli/common.py``: ``add_options``), so a help text is written here and nowhere else. A field's
``metadata`` holds what the command line needs: ``help``, and optionally ``metavar``, ``type``
(the argparse converter), ``group`` (the help section), ``flags`` (other spellings)
and ``api`` (False: a command-line convenience that the API functions do not take).

The classes read as dataclasses (and are, to the type checker), but importing ``dataclasses``
costs start-up time (it imports ``inspect``): at run time a small decorator makes them frozen
classes with ``__slots__``. :func:`fields` and :func:`replace` are ``dataclasses``' for them, and
``dataclasses.fields`` / ``dataclasses.replace`` work on them too (their field objects are made
when first asked for).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: only the type checker needs it
    import os
    from dataclasses import dataclass, field, fields, replace
    from typing import Any, Dict, Optional, Tuple, Union
else:

    class Field:
        """A field: its name, default and metadata (as ``dataclasses.Field`` has them)."""

        __slots__ = ("name", "default", "metadata")

        def __init__(self, default, metadata):
            self.name = ""
            self.default = default
            self.metadata = metadata

        def __repr__(self):
            return f"Field(name={self.name!r}, default={self.default!r})"

    def field(*, default, metadata):
        return Field(default, metadata)

    class _DataclassFields:
        """``__dataclass_fields__``, made when first read: real ``dataclasses.Field`` objects, so
        ``dataclasses.fields`` and ``dataclasses.replace`` take these classes."""

        def __get__(self, obj, owner):
            import dataclasses

            out = {}
            for f in owner._fields:
                d = dataclasses.field(default=f.default, metadata=f.metadata)
                d.name = f.name
                d._field_type = dataclasses._FIELD
                out[f.name] = d
            type.__setattr__(owner, "__dataclass_fields__", out)
            return out

    def _frozen_init(self, **kw):
        for f in self._fields:
            object.__setattr__(self, f.name, kw.pop(f.name, f.default))
        if kw:
            name = next(iter(kw))
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument {name!r}")

    def _frozen_setattr(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}")

    def _values(self):
        return tuple(getattr(self, f.name) for f in self._fields)

    def _eq(self, other):
        if other.__class__ is self.__class__:
            return _values(self) == _values(other)
        return NotImplemented

    def _hash(self):
        return hash(_values(self))

    def _repr(self):
        return f"{type(self).__qualname__}(" + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._fields) + ")"

    def _getstate(self):
        return _values(self)

    def _setstate(self, state):
        for f, v in zip(self._fields, state):
            object.__setattr__(self, f.name, v)

    def dataclass(frozen):
        """The runtime stand-in for ``@dataclass(frozen=True)``: a class with ``__slots__``."""

        def make(cls):
            fs = []
            ns = {}
            for name, value in cls.__dict__.items():
                if isinstance(value, Field):
                    value.name = name
                    fs.append(value)
                elif name not in ("__dict__", "__weakref__"):
                    ns[name] = value
            ns.update(
                __slots__=tuple(f.name for f in fs), _fields=tuple(fs), __init__=_frozen_init,
                __setattr__=_frozen_setattr, __delattr__=_frozen_setattr, __eq__=_eq, __hash__=_hash,
                __repr__=_repr, __getstate__=_getstate, __setstate__=_setstate,
                __dataclass_fields__=_DataclassFields(), __match_args__=tuple(f.name for f in fs),
            )
            return type(cls.__name__, cls.__bases__, ns)

        return make

    def fields(class_or_instance):
        """The fields of an options class (``dataclasses.fields`` for these classes)."""
        return class_or_instance._fields

    def replace(obj, **changes):
        """A copy of ``obj`` with ``changes`` (``dataclasses.replace`` for these classes)."""
        kw = {f.name: getattr(obj, f.name) for f in obj._fields}
        kw.update(changes)
        return obj.__class__(**kw)


#: The margin left and right of a flame graph, in pixels (the layout and the width check share it).
XPAD = 10

PERF_GROUP = "perf script input (collapsed first, as stackcollapse-perf does)"


def _opt(default: Any, help: str, **cli: Any) -> Any:
    return field(default=default, metadata=dict(cli, help=help))


@dataclass(frozen=True)
class CollapseOptions:
    """stackcollapse-perf.pl's options (same names and meanings), for `perf script` input."""

    pid: bool = _opt(False, "include the PID in the process name: comm-PID")
    tid: bool = _opt(False, "include PID and TID in the process name: comm-PID/TID")
    kernel: bool = _opt(False, "annotate kernel frames with _[k]")
    jit: bool = _opt(False, "annotate JIT frames (/tmp/perf-PID.map, jitdump) with _[j]")
    all: bool = _opt(False, "all annotations (--kernel --jit)", api=False)
    addrs: bool = _opt(False, "show raw addresses of unknown frames: [module <addr>]")
    event_filter: Optional[str] = _opt(
        None,
        "keep only samples of EVENT (for example cycles, cpu-clock, sched:sched_switch); "
        "default: the first event in the input",
        metavar="EVENT",
    )
    inline: bool = _opt(False, "un-inline frames with addr2line (binutils)")
    context: bool = _opt(False, "with --inline: append :file:line to each un-inlined function")
    srcline: bool = _opt(False, "parse `perf script -F+srcline` output (a source line after each frame)")
    threads: Optional[int] = _opt(
        None,
        "worker threads (default: $FLAMEFOLD_THREADS or every core); output is identical at any count",
        metavar="N",
        type=int,
    )

    def native(self) -> Dict[str, Any]:
        """The keywords of the core's functions (``all`` is ``kernel`` and ``jit``)."""
        return dict(
            pid=self.pid, tid=self.tid, kernel=self.kernel or self.all, jit=self.jit or self.all,
            addrs=self.addrs, inline=self.inline, context=self.context, srcline=self.srcline,
            event_filter=self.event_filter, threads=self.threads,
        )


FORMAT_GROUP = "DTrace and jstack input (stackcollapse.pl's and stackcollapse-jstack.pl's options)"


@dataclass(frozen=True)
class FormatOptions:
    """The options of the other formats' Perl collapsers (same names and meanings): DTrace stacks
    (stackcollapse.pl) and jstack thread dumps (stackcollapse-jstack.pl)."""

    includeoffset: bool = _opt(False, "DTrace: keep each frame's +offset (but the leaf's), as stackcollapse.pl's $includeoffset", group=FORMAT_GROUP)
    include_tname: bool = _opt(
        True, "", group=FORMAT_GROUP,
        flags=(
            ("--include-tname", True, "jstack: put the thread's name first in its stacks (the default)"),
            ("--no-include-tname", False, "jstack: leave the thread's name out"),
        ),
    )
    include_tid: bool = _opt(False, "jstack: keep the thread id (-123) at the end of thread names", group=FORMAT_GROUP)
    shorten_pkgs: bool = _opt(False, "jstack: shorten package names (java.util.concurrent.Foo.run -> j.u.c.Foo.run)", group=FORMAT_GROUP)

    def native(self) -> Dict[str, Any]:
        """The keywords of the core's ``collapse``."""
        return dict(includeoffset=self.includeoffset, include_tname=self.include_tname, include_tid=self.include_tid, shorten_pkgs=self.shorten_pkgs)


#: What the default title becomes (``GraphOptions.title`` None).
DEFAULT_TITLE = "Flame Graph"


@dataclass(frozen=True)
class GraphOptions:
    """flamegraph.pl's options (same names and meanings), plus inferno's search and stroke
    colours and the side labels are truncated on (``truncate``: "right" or "left")."""

    title: Optional[str] = _opt(
        None, f'title (default "{DEFAULT_TITLE}"; "Icicle Graph" with --inverted, "Flame Chart" with --flamechart)',
        metavar="TEXT", group="text",
    )
    subtitle: str = _opt("", "second line under the title", metavar="TEXT", group="text")
    countname: str = _opt("samples", 'what the counts are, in tooltips (default "samples")', metavar="TEXT", group="text")
    nametype: str = _opt("Function:", 'what a frame is, in the details line (default "Function:")', metavar="TEXT", group="text")
    notes: str = _opt("", "text for the NOTES comment in the SVG", metavar="TEXT", group="text")
    fonttype: str = _opt("Verdana", "font family (default Verdana)", metavar="FONT", group="text")
    fontsize: float = _opt(12, "font size (default 12)", metavar="SIZE", type=float, group="text")
    fontwidth: float = _opt(
        0.59, "average glyph width as a fraction of the font size, to fit labels (default 0.59)",
        metavar="RATIO", type=float, group="text",
    )
    truncate: str = _opt(
        "right", "", group="text",
        flags=(
            ("--truncate-text-right", "right", "cut long labels on the right, keeping the start of the name "
             "(the default, as flamegraph.pl; the option is inferno's)"),
            ("--truncate-text-left", "left", "cut long labels on the left, keeping the end of the name"),
        ),
    )
    width: float = _opt(1200, "image width in pixels (default 1200)", metavar="PX", type=float, group="size and layout")
    height: float = _opt(16, "frame height in pixels (default 16)", metavar="PX", type=float, group="size and layout")
    minwidth: Union[float, str] = _opt(
        0.1, "leave out frames narrower than this many pixels, or this percentage of the total with a %% "
        "sign (default 0.1); their samples still count in their parents",
        metavar="PX|N%", type=str, group="size and layout",
    )
    reverse: bool = _opt(False, "reverse every stack: merge from the leaves (callers of the hottest functions)", group="size and layout")
    inverted: bool = _opt(False, "icicle graph: the root at the top, growing downwards", group="size and layout")
    flamechart: bool = _opt(False, "flame chart: keep the input order (time) instead of merging into a tree", group="size and layout")
    factor: float = _opt(1.0, "multiply the counts shown in tooltips by F (widths do not change)", metavar="F", type=float, group="size and layout")
    total: Optional[float] = _opt(
        None, "the total for the x scale, when larger than the sum of the counts (a partial profile "
        "drawn to the scale of the whole)", metavar="N", type=str, group="size and layout",
    )
    colors: str = _opt(
        "hot", "hot (default), mem, io, wakeup, chain, java, js, perl, python, rust, red, green, blue, "
        "aqua, yellow, purple, orange", metavar="PALETTE", group="colours",
    )
    bgcolors: Optional[str] = _opt(None, "background: yellow, blue, green, grey or #rrggbb (default chosen by the palette)", metavar="COLOR", group="colours")
    hash: bool = _opt(False, "colours from flamegraph.pl's name hash (similar names, similar colours)", group="colours")
    random: bool = _opt(False, "random colours (not reproducible; ignored with --hash)", group="colours")
    cp: Union[bool, str, "os.PathLike[str]"] = _opt(False, "consistent palette: reuse and extend the colours in ./palette.map", group="colours")
    negate: bool = _opt(False, "differential graph: swap red and blue (and the sign of the delta)", group="colours")
    search_color: str = _opt("rgb(230,0,230)", "colour of frames matched by a search (default rgb(230,0,230))", metavar="COLOR", group="colours")
    stroke_color: Optional[str] = _opt(None, "outline the frames in this colour", metavar="COLOR", group="colours")
    nameattr: Optional[Union[str, "os.PathLike[str]"]] = _opt(
        None, "per-function SVG attributes: NAME<TAB>key=value<TAB>... (title, id, class, href, target, g_extra, a_extra)",
        metavar="FILE", group="other",
    )
    encoding: Optional[str] = _opt(None, "write the SVG in this encoding, declared in its XML header (default UTF-8)", metavar="ENC", group="other")

    @property
    def minwidth_px(self) -> Tuple[float, bool]:
        """``minwidth`` as a number, and whether it is a percentage (after :meth:`check`)."""
        mw = self.minwidth
        if isinstance(mw, str):
            mw = mw.strip()
            return float(mw.rstrip("%")), mw.endswith("%")
        return float(mw), False

    def check(self, default_title: str = DEFAULT_TITLE) -> "GraphOptions":
        """A copy with the values validated (ValueError with a one-line message) and the
        defaults that depend on others filled in (the title)."""
        from . import palettes  # only a graph needs it: the collapse commands start without it

        changes: Dict[str, Any] = {}
        if self.title is None:
            changes["title"] = "Flame Chart" if self.flamechart else "Icicle Graph" if self.inverted else default_title
        for name in ("width", "height", "fontsize", "fontwidth", "factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v != v or v == float("inf"):
                raise ValueError(f"{name} must be a positive number, not {v!r}")
        if self.width <= 2 * XPAD:
            raise ValueError(f"width must be more than {2 * XPAD} pixels, not {self.width!r}")
        mw = self.minwidth
        if isinstance(mw, str):
            import re  # here: the collapse commands start without it

            if not re.fullmatch(r"[0-9]*\.?[0-9]+%?|[0-9]+\.%?", mw.strip()):
                raise ValueError(f"minwidth {mw!r} is invalid: expected pixels (0.1) or a percentage (0.5%)")
        elif not (isinstance(mw, (int, float)) and not isinstance(mw, bool) and mw >= 0):
            raise ValueError(f"minwidth must be pixels (0.1) or a percentage ('0.5%'), not {mw!r}")
        if self.total is not None:
            try:
                changes["total"] = float(self.total)
            except (TypeError, ValueError):
                raise ValueError(f"total must be a number, not {self.total!r}") from None
        palettes.check_palette(self.colors)
        if self.bgcolors is not None:
            palettes.check_background(self.bgcolors)
        palettes.check_color(self.search_color, "search color")
        if self.stroke_color is not None:
            palettes.check_color(self.stroke_color, "stroke color")
        if self.truncate not in ("right", "left"):
            raise ValueError(f"truncate must be 'right' or 'left', not {self.truncate!r}")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"unknown encoding {self.encoding!r}") from None
            import re

            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", self.encoding):
                raise ValueError(f"encoding name {self.encoding!r} cannot go into an XML declaration")
        for name in ("title", "subtitle", "notes", "countname", "nametype", "fonttype"):
            v = changes.get(name, getattr(self, name))
            if v is not None:
                changes[name] = clean(str(v))
        if self.hash and self.random:
            changes["random"] = False  # the hash decides
        return replace(self, **changes)


def clean(s: str) -> str:
    """Text from the command line that may hold undecodable bytes (surrogate escapes)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def api_names(cls: type) -> Tuple[str, ...]:
    """The keywords the API functions take for ``cls``'s options."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("api", True))


def split(options: Dict[str, Any], *classes: type, what: str) -> Tuple[Any, ...]:
    """Keywords -> one instance of each of ``classes`` (a TypeError names unknown ones)."""
    known = [set(api_names(c)) for c in classes]
    unknown = sorted(set(options).difference(*known))
    if unknown:
        raise TypeError(f"{what} got unknown options: {', '.join(unknown)}")
    return tuple(c(**{k: v for k, v in options.items() if k in names}) for c, names in zip(classes, known))
