"""Public functions: the native ones, with problems in the input reported as Python warnings."""

from __future__ import annotations

import os
import warnings

from . import _flamefold
from ._flamefold import Diff, InternalError, ParseError, Profile

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing (and options' dataclasses) cost ms at start-up: only the type checker needs them here
    from typing import IO, Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

    from .options import CollapseOptions, FormatOptions

    Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


def default_threads() -> int:
    """$FLAMEFOLD_THREADS when it is a positive whole number, else every core."""
    env = os.environ.get("FLAMEFOLD_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def _is_panic(e: BaseException) -> bool:
    """A Rust panic outside the bindings' guard: PyO3's PanicException, a BaseException that
    ``except Exception`` misses (raised again as an InternalError)."""
    return type(e).__name__ == "PanicException"


class ParseWarning(UserWarning):
    """A line of the input could not be used; the rest of the input still counts."""


def _warn(profile: Profile) -> Profile:
    for line, msg in profile.warnings:
        text = f"line {line}: {msg}" if line else msg
        warnings.warn(text, ParseWarning, stacklevel=3)
    return profile


def native_options(func: Any, c: CollapseOptions) -> Tuple[Dict[str, Any], bool]:
    """``c`` as keywords of the core's ``func``, without those this build of the core does not
    take yet; and whether one of those is set (then :func:`collapse_first` must run first)."""
    kw = c.native()
    sig = getattr(func, "__text_signature__", None)
    if not sig:  # no signature to read: assume it takes them all
        return kw, False
    takes = {p.split("=")[0].strip() for p in sig.strip("()").split(",")}
    missing = [k for k in kw if k not in takes]
    return {k: v for k, v in kw.items() if k not in missing}, any(kw[k] for k in missing)


def collapse_first(sources: List[Any], c: CollapseOptions, warn: Callable[[int, int, str], object]) -> List[Any]:
    """The `perf script` inputs among ``sources`` collapsed here with ``c`` (for a core whose
    graph and diff functions lack one of its options); folded inputs as they are. As one stream,
    the first event of the first capture is kept in all of them. ``warn(index, line, message)``
    gets the warnings of the captures collapsed here."""
    kw = c.native()
    out: List[Any] = []
    for k, s in enumerate(sources):
        if hasattr(s, "read"):
            s = s.read()  # a file object cannot be read twice
        if isinstance(s, (Profile, Diff)) or not isinstance(s, (str, os.PathLike, bytes)):
            out.append(s)
            continue
        try:
            p = _flamefold.collapse_perf(s, **kw)
        except ParseError as e:
            if e.line == 1 and "no `perf script` sample header" in str(e) and s != "/dev/stdin":
                out.append(s)  # folded stacks: read as they are
                continue
            raise
        if kw["event_filter"] is None:
            kw["event_filter"] = p.event
        for line, msg in p.warnings:
            warn(k, line, msg)
        out.append(p)
    return out


def _collapse(source: Source, format: str, c: CollapseOptions, progress: Any = None, f: Optional[FormatOptions] = None) -> Profile:
    """``collapse()`` without the warnings (the command line reports them itself)."""
    kw = f.native() if f is not None else {}
    return _flamefold.collapse(source, format=format, progress=progress, **c.native(), **kw)


FORMATS = ("auto", "perf", "perf-data", "dtrace", "jstack", "folded")


def collapse(
    source: Source,
    *,
    format: str = "auto",
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
    includeoffset: bool = False,
    include_tname: bool = True,
    include_tid: bool = False,
    shorten_pkgs: bool = False,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Profile:
    """Collapse a capture of any supported profiler into folded stacks.

    ``format`` is one of ``auto`` (told from the first 64 KiB), ``perf`` (`perf script` text),
    ``dtrace`` (DTrace stacks, stackcollapse.pl's input), ``jstack`` (Java thread dumps,
    stackcollapse-jstack.pl's input), ``folded`` (folded stacks, read) or ``perf-data`` (a
    perf.data file: not read yet, a ValueError). ``pid``…``srcline`` are :func:`collapse_perf`'s
    options, for `perf script` input; ``includeoffset`` is stackcollapse.pl's (DTrace);
    ``include_tname``, ``include_tid`` and ``shorten_pkgs`` are stackcollapse-jstack.pl's
    (:class:`flamefold.options.FormatOptions`). DTrace and jstack output is byte-identical to the
    Perl scripts'. ``threads`` and ``progress`` as in :func:`collapse_perf`.
    """
    given = dict(locals())
    del given["source"], given["format"], given["progress"]
    from .options import CollapseOptions, FormatOptions

    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (one of {', '.join(FORMATS)})")
    f = FormatOptions(**{k: given.pop(k) for k in ("includeoffset", "include_tname", "include_tid", "shorten_pkgs")})
    return _warn(_collapse(source, format, CollapseOptions(**given), progress, f))


def collapse_perf(
    source: Source,
    *,
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
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Profile:
    """Collapse `perf script` output into folded stacks, as stackcollapse-perf.pl does.

    ``source`` is a path (str or PathLike), ``bytes``, or a binary file object; gzip and zstd
    input is decompressed on the fly. The options mean what stackcollapse-perf.pl's do
    (:class:`flamefold.options.CollapseOptions`).
    ``threads`` defaults to ``$FLAMEFOLD_THREADS`` or every core; the result is the same at any
    thread count. ``progress(bytes_done, total_or_None)`` is called as the input is read.
    The GIL is released while the input is parsed.
    """
    given = dict(locals())
    del given["source"], given["progress"]
    from .options import CollapseOptions

    return _warn(_flamefold.collapse_perf(source, progress=progress, **CollapseOptions(**given).native()))


def read_folded(source: Source) -> Profile:
    """Read folded stacks (``frame;frame;... count`` lines) from a path, bytes or binary file."""
    return _warn(_flamefold.read_folded(source))


def collapse_many(sources: Iterable[Source], *, threads: Optional[int] = None, **options: Any) -> Profile:
    """Collapse many captures into one merged Profile, several at a time.

    The captures are read as one stream would be: unless ``event_filter`` is given, the first
    event of the first capture is kept in all of them. The first capture is collapsed with every
    thread; the others run side by side, one thread each, as many at once as ``threads``.
    """
    items = list(sources)
    if not items:
        raise ValueError("collapse_many needs at least one source")
    if threads is None:
        threads = default_threads()
    if threads < 1:
        raise ValueError("threads must be at least 1")
    first = _warn(_flamefold.collapse_perf(items[0], threads=threads, **options))
    rest = items[1:]
    if not rest:
        return first
    if options.get("event_filter") is None and first.event is not None:
        options = dict(options, event_filter=first.event)
    from concurrent.futures import ThreadPoolExecutor

    one = threads if len(rest) == 1 else 1
    with ThreadPoolExecutor(max_workers=min(threads, len(rest))) as pool:
        profiles = list(pool.map(lambda src: _flamefold.collapse_perf(src, threads=one, **options), rest))
    merged = first
    for p in profiles:
        merged = merged + _warn(p)
    return merged


def diff(
    before: Union[Profile, Source],
    after: Union[Profile, Source],
    *,
    normalize: bool = False,
    strip_hex: bool = False,
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
) -> Diff:
    """Compare two profiles, as difffolded.pl does: every stack of either with both counts.

    ``before``/``after`` are Profiles, or paths/bytes/binary files holding folded stacks or
    ``perf script`` text (told apart by their first line; perf text is collapsed first).
    ``normalize`` scales the before counts to the after total; ``strip_hex`` turns ``0x1234``
    into ``0x...`` so stacks that differ only in addresses match. ``pid``…``threads`` are
    :func:`collapse_perf`'s options, for ``perf script`` inputs.
    """
    given = dict(locals())
    for k in ("before", "after", "normalize", "strip_hex"):
        del given[k]
    from .options import CollapseOptions

    try:
        d = diff_sides(before, after, CollapseOptions(**given), _warn_side, normalize=normalize, strip_hex=strip_hex)
    except BaseException as e:
        if _is_panic(e):
            raise InternalError(f"internal error: {e} (please report)") from None
        raise
    for line, msg in d.warnings:
        warnings.warn(f"line {line}: {msg}" if line else msg, ParseWarning, stacklevel=2)
    return d


def _warn_side(side: str, line: int, msg: str) -> None:
    warnings.warn(f"line {line}: {side}: {msg}" if line else f"{side}: {msg}", ParseWarning, stacklevel=6)


def diff_sides(before: Any, after: Any, c: CollapseOptions, warn: Callable[[str, int, str], object], **kw: Any) -> Diff:
    """The core's diff of two inputs (Profiles, paths, bytes or files) with ``c`` for the
    `perf script` ones; ``kw``: the core's other keywords. The caller reports ``d.warnings``;
    ``warn(side, line, message)`` ("before" or "after") gets those of captures collapsed first."""
    perf, first = native_options(_flamefold.diff, c)
    if first:
        before, after = collapse_first([before, after], c, lambda k, line, msg: warn(("before", "after")[k], line, msg))
    return _flamefold.diff(before, after, **kw, **perf)
