"""Command line: ``flamefold COMMAND`` and the drop-ins ``stackcollapse-perf`` and ``difffolded``.

``common`` holds what every command shares; each command is one module (``collapse``,
``graph``, ``diff``) that imports only ``common`` and the library. The CLI parses arguments and
calls the core; it never parses profile data itself.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

from .._flamefold import __version__
from .common import entry, escape

__all__ = ["difffolded", "escape", "main", "stackcollapse_perf"]


def main(argv: Optional[List[str]] = None) -> int:
    """``flamefold COMMAND ...``."""
    return entry("flamefold", lambda: _main(argv))


def stackcollapse_perf(argv: Optional[List[str]] = None) -> int:
    """The drop-in for stackcollapse-perf.pl (``cli/collapse.py``: loaded when run, so that the
    other commands start without it)."""
    from . import collapse

    return collapse.stackcollapse_perf(argv)


def difffolded(argv: Optional[List[str]] = None) -> int:
    """The drop-in for difffolded.pl (``cli/diff.py``: loaded when run, so that
    ``stackcollapse-perf`` starts without it)."""
    from . import diff

    return diff.difffolded(argv)


#: The commands of ``flamefold`` and the module of ``flamefold.cli`` that defines each.
_COMMANDS = {
    "collapse": "collapse", "graph": "graph", "diff": "diff", "record": "record",
    "offcpu": "advanced", "hotcold": "advanced", "wakeup": "advanced", "cpi": "advanced", "doctor": "advanced",
}


def _main(argv: Optional[List[str]]) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] == "collapse":
        # the usual command lines without argparse (start-up time, see quick.py)
        from . import collapse, quick

        plain = quick.collapse_args(words[1:])
        if plain is not None:
            return collapse.run_plain(plain)
    import importlib

    from .parser import Parser

    p = Parser(
        prog="flamefold",
        description="Fast, exact tools for huge CPU profiles: collapse `perf script` output into "
        "folded stacks (a drop-in for stackcollapse-perf.pl), draw flame graphs (flamegraph.pl's "
        "options) and compare profiles, from the shell or Python.",
    )
    p.add_argument("--version", action="version", version=f"flamefold {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # argparse builds a parser in about a millisecond per option: a command names its module,
    # and only that parser is built (all of them for help, errors and anything else)
    first = words[0] if words else None
    if first in _COMMANDS:
        modules = [_COMMANDS[first]]
    elif first == "--version":  # no command's parser needed (they import subprocess, dataclasses...)
        modules = []
    else:
        modules = list(dict.fromkeys(_COMMANDS.values()))
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    args, extra = p.parse_known_args(argv)
    if args.command is None:
        if extra:
            p.error(f"unrecognized arguments: {' '.join(extra)}")
        p.print_help(sys.stderr)
        return 2
    if extra:  # said with the usage of the command they were given to
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    status: int = args.command_run(args)
    return status
