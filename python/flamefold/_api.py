"""Public functions: the native ones, with problems in the input reported as Python warnings."""

from __future__ import annotations

import os
import warnings

from . import _flamefold
from ._flamefold import Diff, InternalError, Profile

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~10 ms at start-up: only the type checker needs it here
    from typing import IO, Any, Callable, Iterable, Optional, Union

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


def collapse_perf(
    source: Source,
    *,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    event_filter: Optional[str] = None,
    threads: Optional[int] = None,
    inline: bool = False,
    context: bool = False,
    srcline: bool = False,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Profile:
    """Collapse `perf script` output into folded stacks, as stackcollapse-perf.pl does.

    ``source`` is a path (str or PathLike), ``bytes``, or a binary file object; gzip and zstd
    input is decompressed on the fly. The options mean what stackcollapse-perf.pl's do.
    ``threads`` defaults to ``$FLAMEFOLD_THREADS`` or every core; the result is the same at any
    thread count. ``progress(bytes_done, total_or_None)`` is called as the input is read.
    The GIL is released while the input is parsed.
    """
    return _warn(
        _flamefold.collapse_perf(
            source,
            pid=pid,
            tid=tid,
            kernel=kernel,
            jit=jit,
            addrs=addrs,
            event_filter=event_filter,
            threads=threads,
            inline=inline,
            context=context,
            srcline=srcline,
            progress=progress,
        )
    )


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
    threads: Optional[int] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    event_filter: Optional[str] = None,
) -> Diff:
    """Compare two profiles, as difffolded.pl does: every stack of either with both counts.

    ``before``/``after`` are Profiles, or paths/bytes/binary files holding folded stacks or
    ``perf script`` text (told apart by their first line; perf text is collapsed first).
    ``normalize`` scales the before counts to the after total; ``strip_hex`` turns ``0x1234``
    into ``0x...`` so stacks that differ only in addresses match. ``pid``…``event_filter`` are
    :func:`collapse_perf`'s options, for ``perf script`` inputs.
    """
    try:
        d = _flamefold.diff(
            before, after, normalize=normalize, strip_hex=strip_hex, threads=threads,
            pid=pid, tid=tid, kernel=kernel, jit=jit, addrs=addrs, event_filter=event_filter,
        )
    except BaseException as e:
        if _is_panic(e):
            raise InternalError(f"internal error: {e} (please report)") from None
        raise
    for line, msg in d.warnings:
        warnings.warn(f"line {line}: {msg}" if line else msg, ParseWarning, stacklevel=2)
    return d
