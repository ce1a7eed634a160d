"""The plain collapse command lines, read without argparse.

argparse, with the ``re``, ``gettext`` and ``locale`` it imports, is about a third of a command's
start-up, and ``stackcollapse-perf FILE`` or ``flamefold collapse FILE`` runs on every capture
(a pipeline may run it thousands of times). So these two commands first try this reader. It
takes a command line only when every word is one it knows exactly:

- a flag of the collapse options (``--pid``, ``--threads N``, ``--event-filter=EVENT``, ...; with
  one dash too for ``stackcollapse-perf``, as the Perl takes them), ``-q``/``--quiet``, and for
  ``flamefold collapse`` also ``-o``/``--output FILE`` and ``--format FORMAT``;
- a value that does not start with ``-`` (or is ``-``), or one given with ``=``;
- input files, all in one run.

Anything else (help, an abbreviated flag, a usage error, the other options) is left to argparse,
which gives it its usual meaning and messages. What this reader returns is the namespace
argparse would make: the tests compare the two on generated command lines.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    # flag -> (dest, the value a switch stores or None, the converter of a value or None)
    Spec = Dict[str, Tuple[str, Any, Optional[Callable[[str], Any]]]]


class Namespace:
    """What argparse's Namespace is to the commands: attributes."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return f"Namespace({', '.join(f'{k}={v!r}' for k, v in sorted(self.__dict__.items()))})"


def _collapse_flags(perl: bool) -> Tuple[Spec, Dict[str, Any]]:
    """The collapse options' flags as ``add_options`` gives them to argparse, and their
    defaults."""
    from ..options import CollapseOptions
    from .common import option_flags

    spec: Spec = {}
    defaults: Dict[str, Any] = {}
    for names, f, const, conv, _ in option_flags(CollapseOptions, perl_aliases=perl):
        for name in names:
            spec[name] = (f.name, const, conv)
        defaults[f.name] = f.default
    spec["-q"] = spec["--quiet"] = ("quiet", True, None)
    defaults["quiet"] = False
    return spec, defaults


def _read(words: List[str], spec: Spec) -> Optional[Tuple[Dict[str, Any], List[str]]]:
    """The options given and the inputs, or None when a word is not one this reader knows."""
    got: Dict[str, Any] = {}
    inputs: List[str] = []
    run = 0  # input files: 0 none yet, 1 in their run, 2 after it
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "-" or not w.startswith("-"):
            if run == 2:
                return None  # argparse: "unrecognized arguments"
            run = 1
            inputs.append(w)
            continue
        if run == 1:
            run = 2
        name, eq, value = w.partition("=")
        if name not in spec:
            return None
        dest, const, conv = spec[name]
        if conv is None:
            if eq:
                return None
            got[dest] = const
            continue
        if not eq:
            if i >= len(words):
                return None
            value = words[i]
            i += 1
            if value.startswith("-") and value != "-":
                return None
        try:
            got[dest] = conv(value)
        except (TypeError, ValueError):
            return None
    return got, inputs


class _Refused(Exception):
    pass


class _Refuse:
    """Stands for the parser in ``check_collapse_args``: a usage error is left to argparse."""

    def error(self, message: str) -> None:
        raise _Refused(message)


def _namespace(words: List[str], spec: Spec, values: Dict[str, Any]) -> Optional[Namespace]:
    """``words`` read over the defaults ``values``: the namespace, when every word is known and
    ``check_collapse_args`` passes (else argparse reads the line and says what is wrong)."""
    from .common import check_collapse_args

    read = _read(words, spec)
    if read is None:
        return None
    values.update(read[0], inputs=read[1])
    args = Namespace(**values)
    try:
        check_collapse_args(_Refuse(), args)  # type: ignore[arg-type]
    except _Refused:
        return None
    return args


def perl_args(words: List[str]) -> Optional[Namespace]:
    """``stackcollapse-perf``'s arguments, or None for argparse to read."""
    spec, values = _collapse_flags(perl=True)
    return _namespace(words, spec, values)


def _format(value: str) -> str:
    from .._api import FORMATS

    if value not in FORMATS:
        raise ValueError(value)
    return value


def collapse_args(words: List[str]) -> Optional[Namespace]:
    """``flamefold collapse``'s arguments (the words after ``collapse``), or None for argparse."""
    from ..options import FormatOptions, fields

    spec, values = _collapse_flags(perl=False)
    spec["-o"] = spec["--output"] = ("output", None, str)
    spec["--format"] = ("format", None, _format)
    # the defaults of the options this reader does not take (argparse's, tested)
    values.update({f.name: f.default for f in fields(FormatOptions)})
    values.update(
        command="collapse", output=None, format="auto", weight="count", speedscope=False, top=None,
        each=False, outdir=None, scheduler=None, keep_going=False,
    )
    return _namespace(words, spec, values)
