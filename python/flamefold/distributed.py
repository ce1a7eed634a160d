"""Fleet scale: collapse many captures on a Dask cluster, merged where the workers are.

``pip install 'flamefold[dask]'`` (dask and distributed; the core install stays free of them).
Every worker needs the same flamefold installed as the client, and must be able to open the
captures: **paths are read on the workers**, not on the client. Use a filesystem that every
worker sees at the same path (NFS, a shared volume), or URLs that fsspec opens on the workers
(``s3://bucket/host1.perf.gz``; needs ``fsspec`` and its protocol package on the workers). A
relative path is made absolute against the client's working directory before it is sent.

One task per capture collapses it on a worker (``flamefold.collapse(path, format="perf",
threads=1, **options)``; ``format`` may name another); the results are merged by a tree of merge
tasks on the workers (``split_every`` at a time), so only the merged profile reaches the client. The result equals
``flamefold.collapse_many(paths, **options)``: unless ``event_filter`` is given, the first
capture's first event is kept in all of them (the first capture is collapsed first; the others
start when its event is known).

How profiles travel: a ``Profile`` pickles compactly (its stacks zstd-compressed, level 1, with
its ``event``, ``dropped`` and ``warnings``). Between tasks a private ``_Part`` carries the Profile
together with what it does not know: each warning's capture, the failures and the tasks each
worker ran. On a 20,000-stack profile (16 MB of folded text) that pickle is 2.5 MB, written in
0.2 s and read in 0.1 s, where the zlib-compressed folded text this module used to ship was 3.1 MB,
0.5 s and 0.3 s. :func:`collapse` re-emits each capture's warnings as
:class:`flamefold.ParseWarning` naming the capture, and :func:`collapse_detailed` returns them all.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field

try:
    import dask.sizeof
    import distributed
except ImportError as _e:  # pragma: no cover - the extra is missing
    raise ImportError("flamefold.distributed needs Dask's distributed scheduler: pip install 'flamefold[dask]'") from _e

from . import _flamefold
from ._api import ParseWarning, _is_panic
from ._flamefold import Profile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional, Pattern, Tuple, Union

    PathArg = Union[str, "os.PathLike[str]"]
    By = Union[None, str, "Pattern[str]", Callable[[str], Any]]

__all__ = ["CaptureError", "CaptureFailedWarning", "Collapsed", "cli_collapse", "collapse", "collapse_detailed", "run_cli"]

# flamefold.collapse's keywords a task may be given (``progress`` is the client's, not the
# workers'); ``format`` defaults to "perf" (collapse_perf, as collapse_many reads captures)
_OPTIONS = frozenset((
    "pid", "tid", "kernel", "jit", "addrs", "inline", "context", "srcline", "event_filter", "threads",
    "format", "includeoffset", "include_tname", "include_tid", "shorten_pkgs",
))
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class CaptureError(RuntimeError):
    """A capture could not be collapsed on a worker; ``str(e)`` is ``PATH: REASON`` (one line)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> Tuple[Any, Tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class CaptureFailedWarning(UserWarning):
    """With ``keep_going=True``: one per capture that failed (``PATH: REASON``); the rest merged."""


def _reason(e: BaseException) -> str:
    """One line saying why, without the path (the message puts it in front)."""
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror
    else:
        text = str(e) or type(e).__name__
    if _is_panic(e):
        text = f"internal error: {text} (please report)"
    return " ".join(text.split())


def _worker_address() -> str:
    try:
        return distributed.get_worker().address
    except ValueError:  # not in a worker (called directly)
        return f"pid {os.getpid()}"


class _Part:
    """What travels between the tasks and to the client: the Profile (pickled with its metadata,
    compressed) and what it does not know: the captures' names on their warnings, the failures
    and the tasks each worker ran. ``empty`` is the merge's identity (a capture that failed with
    keep_going, or one the lead task already covered)."""

    __slots__ = ("profile", "warnings", "failures", "workers", "lead", "empty")

    def __init__(self) -> None:
        self.profile: Optional[Profile] = None
        self.warnings: List[Tuple[str, int, str]] = []
        self.failures: List[Tuple[int, str, str]] = []  # (index, path, reason)
        self.workers: Dict[str, int] = {}  # worker address -> captures collapsed there
        self.lead = 0  # the lead task: the index of the capture whose event the others keep
        self.empty = True

    @classmethod
    def of(cls, profile: Profile, name: str) -> "_Part":
        p = cls()
        p.profile = profile
        p.warnings = [(name, line, msg) for line, msg in profile.warnings]
        p.workers = {_worker_address(): 1}
        p.empty = False
        return p

    @property
    def event(self) -> Optional[str]:
        return self.profile.event if self.profile is not None else None

    @property
    def dropped(self) -> int:
        return self.profile.dropped if self.profile is not None else 0

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return (_Part._load, (self.profile, self.warnings, self.failures, self.workers, self.lead, self.empty))

    @classmethod
    def _load(cls, profile: Optional[Profile], warnings: list, failures: list, workers: dict, lead: int, empty: bool) -> "_Part":
        p = cls()
        p.profile, p.warnings, p.failures, p.workers, p.lead, p.empty = profile, warnings, failures, workers, lead, empty
        return p


@dask.sizeof.sizeof.register(_Part)
def _sizeof_part(p: _Part) -> int:
    """What Dask's memory accounting and transfer-cost estimates see: about the pickled Profile
    (130 bytes a stack: compressed, the corpus and a 20,000-stack profile average 40-130)."""
    return (len(p.profile) * 130 if p.profile is not None else 0) + 256


def _merge(*parts: _Part) -> _Part:
    """Merges adjacent parts in input order (a task on a worker): Profile's ``+`` on the stacks,
    its rules for the rest (the event survives when all agree)."""
    out = _Part()
    for p in parts:
        out.failures.extend(p.failures)
        for w, n in p.workers.items():
            out.workers[w] = out.workers.get(w, 0) + n
    live = [p for p in parts if not p.empty and p.profile is not None]
    profiles = [p.profile for p in live if p.profile is not None]
    if profiles:
        # Profile's `+`: the event survives when all agree, dropped weights and warnings add up
        out.profile = sum(profiles[1:], profiles[0])
        out.warnings = [w for p in live for w in p.warnings]
        out.empty = False
    return out


def _open_and_collapse(target: str, name: str, options: Dict[str, Any]) -> _Part:
    """Collapses one capture where this runs (a worker): CaptureError naming it on failure."""
    try:
        if _URL.match(target):
            try:
                fsspec = importlib.import_module("fsspec")  # untyped: imported by name
            except ImportError:
                raise CaptureError(name, "reading a URL needs fsspec on the workers (pip install fsspec)") from None
            with fsspec.open(target, "rb") as f:
                profile = _flamefold.collapse(f, **options)
        else:
            profile = _flamefold.collapse(target, **options)
    except CaptureError:
        raise
    except BaseException as e:
        if not isinstance(e, Exception) and not _is_panic(e):
            raise
        raise CaptureError(name, _reason(e)) from None
    return _Part.of(profile, name)


def _failed(index: int, name: str, reason: str) -> _Part:
    p = _Part()
    p.failures = [(index, name, reason)]
    return p


def _collapse_task(entry: Tuple[int, str, str], options: Dict[str, Any], keep_going: bool, lead: Optional[Tuple[int, Optional[str]]] = None) -> _Part:
    """One capture. ``lead`` is ``(index, event)`` of the capture whose event all keep: captures up
    to it were the lead task's; the event becomes the filter when none was given."""
    index, name, target = entry
    if lead is not None:
        lead_index, event = lead
        if index <= lead_index:
            return _Part()
        if options.get("event_filter") is None and event is not None:
            options = dict(options, event_filter=event)
    try:
        return _open_and_collapse(target, name, options)
    except CaptureError as e:
        if not keep_going:
            raise
        return _failed(index, e.path, e.reason)


def _lead_task(entries: List[Tuple[int, str, str]], options: Dict[str, Any], keep_going: bool) -> _Part:
    """The first capture (with keep_going: the first that collapses), which sets the event."""
    failures: List[Tuple[int, str, str]] = []
    for index, name, target in entries:
        try:
            part = _open_and_collapse(target, name, options)
        except CaptureError as e:
            if not keep_going:
                raise
            failures.append((index, e.path, e.reason))
            continue
        part.failures = failures
        part.lead = index
        return part
    part = _Part()
    part.failures = failures
    part.lead = entries[-1][0]
    return part


def _lead_info(part: _Part) -> Tuple[int, Optional[str]]:
    return (part.lead, part.event)


@dataclass
class Collapsed:
    """One merged result of :func:`collapse_detailed` (the whole run, or one group)."""

    profile: Profile
    """The merged profile (equal to ``collapse_many``'s, its event, dropped weight and warnings too)."""
    paths: List[str]
    """The captures of this result, as given."""
    event: Optional[str] = None
    """The event kept (``collapse_many(...).event``)."""
    dropped: int = 0
    """Summed weight of the samples of other events."""
    warnings: List[Tuple[str, int, str]] = field(default_factory=list)
    """``(path, line, message)`` for every capture, in input order (line 0: not about a line)."""
    failures: List[Tuple[str, str]] = field(default_factory=list)
    """With keep_going: ``(path, reason)`` for each capture that failed, in input order."""
    tasks_per_worker: Dict[str, int] = field(default_factory=dict)
    """Worker address -> captures collapsed there."""
    bytes_to_client: int = 0
    """Bytes of the merged result that came to the client (its pickle: the compressed Profile and metadata)."""


def _label_fn(by: By) -> Optional[Callable[[str], Any]]:
    if by is None:
        return None
    if isinstance(by, (str, re.Pattern)):
        rx = re.compile(by) if isinstance(by, str) else by

        def label(path: str) -> Any:
            m = rx.search(path)
            if m is None:
                return None
            return m.group(1) if rx.groups else m.group(0)

        return label
    if callable(by):
        return by
    raise TypeError("by must be a callable (path -> label) or a regular expression")


def _default_client() -> distributed.Client:
    try:
        return distributed.get_client()
    except ValueError:
        raise RuntimeError(
            "flamefold.distributed needs a Dask client: pass client=distributed.Client('tcp://HOST:8786') "
            "(or Client(LocalCluster()) on one machine), or create one first so it is the current client"
        ) from None


def _submit_group(client: distributed.Client, entries: List[Tuple[int, str, str]], options: Dict[str, Any], keep_going: bool, split_every: int, key: str) -> Tuple[Any, List[Any]]:
    """Submits one group's capture tasks and merge tree; returns (root, capture futures)."""
    if options.get("event_filter") is not None:
        # the event is known: every capture starts at once
        leaves = [client.submit(_collapse_task, e, options, keep_going, key=f"flamefold-collapse-{key}-{e[0]}") for e in entries]
    else:
        lead = client.submit(_lead_task, entries if keep_going else entries[:1], options, keep_going, key=f"flamefold-collapse-{key}-{entries[0][0]}", priority=10)
        info = client.submit(_lead_info, lead, key=f"flamefold-event-{key}", priority=10)
        leaves = [lead] + [client.submit(_collapse_task, e, options, keep_going, info, key=f"flamefold-collapse-{key}-{e[0]}") for e in entries[1:]]
    captures = list(leaves)
    level = 0
    while len(leaves) > 1:
        leaves = [
            client.submit(_merge, *leaves[i : i + split_every], key=f"flamefold-merge-{key}-{level}-{i // split_every}")
            for i in range(0, len(leaves), split_every)
        ]
        level += 1
    return leaves[0], captures


def collapse_detailed(
    paths: Iterable[PathArg],
    *,
    client: Optional[distributed.Client] = None,
    by: By = None,
    keep_going: bool = False,
    progress: Optional[Callable[[int, int], object]] = None,
    split_every: int = 8,
    **collapse_options: Any,
) -> Union[Collapsed, Dict[Any, Collapsed]]:
    """:func:`collapse`, returning a :class:`Collapsed` (or ``{label: Collapsed}`` with ``by``)
    with the event, dropped weight, warnings and failures, tasks per worker and bytes moved.
    Warnings are not emitted here."""
    names = [os.fspath(p) for p in paths]
    if not names:
        raise ValueError("flamefold.distributed.collapse needs at least one capture")
    if any(not isinstance(n, str) for n in names):
        raise TypeError("paths must be str or os.PathLike[str]")
    unknown = sorted(set(collapse_options) - _OPTIONS)
    if unknown:
        raise TypeError(f"unknown collapse option(s): {', '.join(unknown)} (known: {', '.join(sorted(_OPTIONS))})")
    if split_every < 2:
        raise ValueError("split_every must be at least 2")
    options = dict(collapse_options)
    options.setdefault("threads", 1)
    options.setdefault("format", "perf")
    label = _label_fn(by)
    groups: Dict[Any, List[Tuple[int, str, str]]] = {}
    for i, name in enumerate(names):
        target = name if _URL.match(name) else os.path.abspath(name)
        g = label(name) if label is not None else None
        if label is not None and g is None:
            raise ValueError(f"{name}: no label (by={by!r} gives none for it)")
        groups.setdefault(g, []).append((i, name, target))
    if client is None:
        client = _default_client()

    token = uuid.uuid4().hex[:12]
    roots: Dict[Any, Any] = {}
    captures: List[Any] = []
    for n, (g, entries) in enumerate(groups.items()):
        roots[g], caps = _submit_group(client, entries, options, keep_going, split_every, f"{token}-{n}")
        captures.extend(caps)
    try:
        if progress is not None:
            done = 0
            progress(0, len(names))
            with client.as_current():  # as_completed follows the current client
                for f in distributed.as_completed(captures):
                    # a lead task with keep_going may cover several captures; it counts once here
                    done += 1
                    progress(done, len(names))
                    if f.status == "error" and not keep_going:
                        f.result()  # raises the capture's CaptureError
        parts = client.gather(list(roots.values()))
    finally:
        # dropping the futures releases their tasks: the scheduler forgets those not yet run
        # (client.cancel here trips an assertion in the scheduler on erred dependents)
        roots.clear()
        captures.clear()

    out: Dict[Any, Collapsed] = {}
    for (g, entries), part in zip(groups.items(), parts):
        wire = len(pickle.dumps(part, protocol=5))  # as it came (pickled again here: the same bytes)
        out[g] = Collapsed(
            profile=part.profile if part.profile is not None else _flamefold.read_folded(b""),
            paths=[name for _, name, _ in entries],
            event=part.event,
            dropped=part.dropped,
            warnings=list(part.warnings),
            failures=[(path, reason) for _, path, reason in sorted(part.failures)],
            tasks_per_worker=dict(sorted(part.workers.items())),
            bytes_to_client=wire,
        )
    return out[None] if label is None else out


def collapse(
    paths: Iterable[PathArg],
    *,
    client: Optional[distributed.Client] = None,
    by: By = None,
    keep_going: bool = False,
    progress: Optional[Callable[[int, int], object]] = None,
    split_every: int = 8,
    **collapse_options: Any,
) -> Union[Profile, Dict[Any, Profile]]:
    """Collapse many ``perf script`` captures on a Dask cluster into one merged Profile.

    ``paths`` are read **on the workers** (a filesystem every worker sees at the same path, or
    URLs fsspec opens there: ``s3://…``, ``gs://…``; relative paths are made absolute here). One
    task per capture runs ``flamefold.collapse(path, format="perf", threads=1, **collapse_options)`` on a
    worker; the results are merged on the workers by a tree of merge tasks (``split_every`` at a
    time), and only the merged stacks come back. The stacks equal
    ``flamefold.collapse_many(paths, **collapse_options)``'s: unless ``event_filter`` is given,
    the first capture's first event is kept in all of them.

    ``client``: a ``distributed.Client``; by default the current one (``distributed.get_client()``).
    ``by``: a callable ``path -> label``, or a regular expression searched in each path (its first
    group, or the whole match): then the result is ``{label: Profile}``, each group merged on its
    own as ``collapse_many`` of its captures would (its first capture sets its event), so
    ``flamefold.diff(groups["v1"], groups["v2"])`` compares two rollouts. A path with no label is
    an error. ``progress(done, total)`` is called here as capture tasks finish.

    A capture that fails raises :class:`CaptureError` (``PATH: REASON``) and the other tasks are
    released (the scheduler drops those not started). With ``keep_going=True`` the rest are merged (as ``collapse_many`` of the captures
    that worked would) and each failure is reported by a :class:`CaptureFailedWarning`
    (``warnings.catch_warnings(record=True)`` collects them; :func:`collapse_detailed` returns
    them as a list). Each capture's parse warnings are emitted here as
    :class:`flamefold.ParseWarning`, ``PATH: line N: message``.

    The Profile returned carries the merged ``event``, ``dropped`` and ``warnings`` (these without
    the capture's name: :func:`collapse_detailed` gives them with it).
    """
    result = collapse_detailed(paths, client=client, by=by, keep_going=keep_going, progress=progress, split_every=split_every, **collapse_options)
    results = result if isinstance(result, dict) else {None: result}
    for r in results.values():
        for path, line, msg in r.warnings:
            warnings.warn(f"{path}: line {line}: {msg}" if line else f"{path}: {msg}", ParseWarning, stacklevel=2)
        for path, reason in r.failures:
            warnings.warn(f"{path}: {reason}", CaptureFailedWarning, stacklevel=2)
    if isinstance(result, dict):
        return {g: r.profile for g, r in result.items()}
    return result.profile


def cli_collapse(
    paths: List[str],
    scheduler: str,
    keep_going: bool,
    *,
    quiet: bool = False,
    prog: str = "flamefold collapse",
    **opts: Any,
) -> Tuple[Optional[Profile], int]:
    """The CLI's ``--scheduler ADDRESS`` for any command that needs the merged profile (collapse,
    graph, diff): connects to the Dask scheduler, collapses ``paths`` there with progress on a
    terminal's stderr, prints each warning (unless ``quiet``) and each failed capture on one line
    of stderr (``PROG: warning: …`` / ``PROG: error: PATH: REASON``). Returns ``(profile, status)``:
    ``profile`` is None when there is nothing to write (the scheduler could not be reached, a
    capture failed without ``keep_going``, or every capture failed); ``status`` is the exit status,
    1 when anything failed (with keep_going the others are still merged)."""
    from .cli.common import ProgressBar as _ProgressBar, escape, say

    class Progress(_ProgressBar):
        """``collapsing on SCHEDULER: 37/200 captures`` on a terminal's stderr (the CLI's bar's
        pacing and clean-up, counting captures instead of bytes)."""

        def __call__(self, done: int, total: Optional[int]) -> None:
            now = time.monotonic()
            if now - self.last < 0.1 and done != total:
                return
            self.last = now
            sys.stderr.write("\r" + f"{escape(self.label)}: {done}/{total} captures".ljust(70))
            sys.stderr.flush()
            self.shown = True

    try:
        client = distributed.Client(scheduler, set_as_default=False)
    except Exception as e:  # refused, timed out, a malformed address...
        say(prog, "error", f"cannot connect to the Dask scheduler at {scheduler}: {_reason(e)}")
        return None, 1
    bar = Progress(f"collapsing on {scheduler}") if (sys.stderr.isatty() and not quiet) else None
    try:
        try:
            result = collapse_detailed(paths, client=client, keep_going=keep_going, progress=bar, **opts)
        finally:
            if bar is not None:
                bar.close()
    except CaptureError as e:
        say(prog, "error", str(e))
        return None, 1
    finally:
        client.close()
    assert isinstance(result, Collapsed)
    if not quiet:
        for path, line, msg in result.warnings:
            say(prog, "warning", f"{path}: line {line}: {msg}" if line else f"{path}: {msg}")
    for path, reason in result.failures:
        say(prog, "error", f"{path}: {reason}")
    if not result.failures:
        return result.profile, 0
    if len(result.failures) == len(result.paths):
        say(prog, "error", "no capture could be collapsed")
        return None, 1
    say(prog, "error", f"{len(result.failures)} of {len(result.paths)} captures failed; the others were merged")
    return result.profile, 1


def run_cli(
    paths: List[str],
    scheduler: str,
    output: Optional[str],
    keep_going: bool,
    *,
    quiet: bool = False,
    prog: str = "flamefold collapse",
    **opts: Any,
) -> int:
    """``flamefold collapse --scheduler ADDRESS CAPTURES... [-o FILE] [--keep-going]``: collapses
    the captures on the Dask cluster at ``scheduler`` (:func:`cli_collapse`) and writes the merged
    folded stacks to ``output`` (a file replaced whole; ``None`` or ``-``: standard output).
    ``opts`` are flamefold.collapse's options. Returns the exit status: 0, or 1 if a capture failed
    (with keep_going the others are still written, unless none worked) or the scheduler could
    not be reached."""
    from .cli.common import say

    profile, status = cli_collapse(paths, scheduler, keep_going, quiet=quiet, prog=prog, **opts)
    if profile is None:
        return status
    try:
        if output is None or output == "-":
            sys.stdout.flush()
            profile.to_folded(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            profile.to_folded(output)
    except OSError as e:
        say(prog, "error", f"{output if output not in (None, '-') else '<stdout>'}: {_reason(e)}")
        return 1
    return status
