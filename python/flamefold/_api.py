"""Public functions: the native ones, with problems in the input reported as Python warnings."""

from __future__ import annotations

import os
import warnings
from typing import IO, Callable, Optional, Union

from . import _flamefold
from ._flamefold import Profile

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


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
