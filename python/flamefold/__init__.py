"""flamefold: collapse huge `perf script` captures into folded stacks, fast and exactly.

The heavy lifting is in the Rust extension :mod:`flamefold._flamefold`; this package re-exports
it and adds the warning plumbing.
"""

from ._flamefold import Diff, InternalError, ParseError, Profile, __version__
from ._api import ParseWarning, collapse_many, collapse_perf, diff, read_folded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .graph import GraphWarning, flamegraph


def __getattr__(name: str) -> object:
    # the graph code loads on first use: the collapse commands start faster without it
    if name in ("flamegraph", "GraphWarning"):
        from . import graph

        return getattr(graph, name)
    raise AttributeError(f"module 'flamefold' has no attribute {name!r}")

__all__ = [
    "Diff",
    "ParseError",
    "GraphWarning",
    "InternalError",
    "ParseWarning",
    "Profile",
    "__version__",
    "collapse_many",
    "collapse_perf",
    "diff",
    "flamegraph",
    "read_folded",
]
