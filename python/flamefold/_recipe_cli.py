"""The event recipes of ``flamefold graph`` and ``flamefold collapse`` (see :mod:`flamefold.recipes`): ``--weight`` and
the palette, count name and title picked from the capture's event when not given."""

from __future__ import annotations

import os

from .cli.common import Fail, say
from .options import replace

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: the CLI imports this module
    import argparse
    from typing import Any, Dict, List, Optional, Tuple

_UNSET: Dict[str, Any] = {"colors": "hot", "countname": "samples"}


def add_recipe_options(p: argparse.ArgumentParser) -> None:
    """``--weight``; ``--colors`` and ``--countname`` default to None here so that a value the
    user gave (even the default one) is told from none (then set to flamegraph.pl's default)."""
    add_weight_option(p)
    p.set_defaults(**{k: None for k in _UNSET})


def recipe_explicit(args: argparse.Namespace) -> Dict[str, bool]:
    """Which of colors/countname/title the user chose (a flame chart or icicle graph keeps its
    title); the unset ones get flamegraph.pl's defaults back."""
    out = {k: getattr(args, k) is not None for k in ("colors", "countname", "title")}
    out["title"] = out["title"] or bool(getattr(args, "flamechart", False) or getattr(args, "inverted", False))
    for k, v in _UNSET.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return out


def _event(sources: List[Any], k: int) -> Tuple[Optional[str], Any]:
    """The event of source ``k``'s first sample, and the source to read it from after (a pipe
    is read from its start again)."""
    from . import recipes

    s = sources[k]
    if isinstance(s, str) and s == "/dev/stdin" and not os.path.isfile(s):
        return recipes.sniff_stream(0)
    return recipes.sniff_event(s), s


def check_weight_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--weight bytes`` reads local `perf script` text: not with ``--scheduler`` or ``--each``."""
    if args.weight == "bytes":
        for flag in ("scheduler", "each"):
            if getattr(args, flag, None):
                p.error(f"--weight bytes does not go with --{flag}")


def first_event(args: argparse.Namespace, sources: List[Any]) -> Tuple[Optional[str], List[Any]]:
    """``--event-filter``, else the event of the first source's first sample; and the sources
    (a pipe is given back as a stream that starts again from its first byte)."""
    sources = list(sources)
    event, sources[0] = _event(sources, 0)
    return args.event_filter or event, sources


def add_weight_option(p: argparse.ArgumentParser) -> None:
    """``--weight`` alone (``flamefold collapse``)."""
    p.add_argument(
        "--weight", choices=("count", "bytes"), default="count",
        help="perf script input: what a sample counts: 1 (count, the default) or the size in bytes its trace data gives "
        "(block:*, syscalls:sys_enter_mmap/munmap, kmem:kmalloc, sock:sock_send_length ...; a sample without it counts 0, "
        "events without sizes such as sys_enter_brk count 1 each)",
    )


def weighted_profiles(prog: str, args: argparse.Namespace, event: Optional[str], sources: List[Any], labels: List[str]) -> List[Any]:
    """``--weight bytes``: each source's samples of ``event`` (None: the first source's first)
    weighed by their size, as Profiles; warnings on stderr (not with ``-q``)."""
    from . import _flamefold

    stack = {k: getattr(args, k) for k in ("pid", "tid", "kernel", "jit", "addrs")}
    out = []
    for k, s in enumerate(sources):
        try:
            t = _flamefold.weighted(s, weight="bytes", event=event, **stack)
        except _flamefold.ParseError as e:
            raise Fail(f"{labels[k]}: {e}") from None
        except OSError as e:
            raise Fail(f"{labels[k]}: {e.strerror or e}") from None
        if t.summary["samples"] == 0:
            raise Fail(f"{labels[k]}: --weight bytes needs `perf script` text of a tracepoint capture (no samples found)")
        if not args.quiet:
            for line, msg in t.warnings:
                where = f"{labels[k]}: " if len(sources) > 1 or line else ""
                say(prog, "warning", f"{where}{'line %d: ' % line if line else ''}{msg}")
        out.append(t.profile())
    return out


def weighted_inputs(prog: str, args: argparse.Namespace) -> Any:
    """``flamefold collapse --weight bytes``: the inputs weighed, merged into one Profile."""
    from .cli.common import STDIN, stdin_source

    if args.format not in ("auto", "perf"):
        raise Fail(f"--weight bytes reads `perf script` text, not --format {args.format}")
    names = list(args.inputs) or [STDIN]
    labels = ["<stdin>" if n == STDIN else n for n in names]
    event, sources = first_event(args, [stdin_source() if n == STDIN else n for n in names])
    profiles = weighted_profiles(prog, args, event, sources, labels)
    result = profiles[0]
    for more in profiles[1:]:
        result = result + more
    return result


def apply_recipe(
    prog: str, p: argparse.ArgumentParser, args: argparse.Namespace, explicit: Dict[str, bool], o: Any, sources: List[Any], labels: List[str]
) -> Tuple[Any, List[Any]]:
    """The graph options with the event's recipe filled in where the user chose nothing, and
    the sources (with ``--weight bytes``: the weighted Profiles). A one-line note on stderr
    says what was applied (not with ``-q``)."""
    from . import _flamefold, recipes

    if all(explicit.values()) and args.weight == "count":
        return o, sources
    event, sources = first_event(args, sources)
    if args.weight == "bytes":
        sources = weighted_profiles(prog, args, event, sources, labels)
    recipe = recipes.recipe_for(event, args.weight)
    if recipe is None:
        return o, sources
    changes = {k: getattr(recipe, k) for k in ("colors", "countname", "title") if getattr(recipe, k) is not None and not explicit[k]}
    if not args.quiet:
        if recipe.note:
            say(prog, "note", recipe.note)
        if changes:
            shown = " ".join(f"--{k} {v!r}" if " " in v else f"--{k} {v}" for k, v in changes.items())
            say(prog, "note", f"{event}: the {recipe.name} recipe: {shown} (give them to choose otherwise; -q: no note)")
    return replace(o, **changes), sources
