"""flamefold: collapse huge `perf script` captures into folded stacks, fast and exactly.

The heavy lifting is in the Rust extension :mod:`flamefold._flamefold`; this package re-exports
it and adds the warning plumbing.
"""

from ._flamefold import Diff, InternalError, ParseError, Profile, __version__
from ._api import ParseWarning, collapse, collapse_many, collapse_perf, diff, read_folded
from .transforms import DoctorReport, Transformed, cpi, doctor, hotcold, offcpu, transform, wakeup

# The graph code loads on first use (the collapse commands start faster without it); it is
# still listed by dir() and tab completion.
_LAZY = ("GraphWarning", "flamegraph")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import graph

        return getattr(graph, name)
    raise AttributeError(f"module 'flamefold' has no attribute {name!r}")


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Diff",
    "ParseError",
    "GraphWarning",
    "InternalError",
    "ParseWarning",
    "Profile",
    "__version__",
    "collapse",
    "collapse_many",
    "collapse_perf",
    "diff",
    "flamegraph",
    "read_folded",
]
__all__ += ["DoctorReport", "Transformed", "cpi", "doctor", "hotcold", "offcpu", "transform", "wakeup"]
