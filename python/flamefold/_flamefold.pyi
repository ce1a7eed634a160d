"""Type stubs for the native module (Rust, PyO3)."""

import os
from typing import IO, Any, Callable, Iterator, Literal, Optional, Tuple, Union, final, overload


__all__ = ["Diff", "GraphFrames", "InternalError", "ParseError", "Profile", "ProfileItems", "collapse", "collapse_perf", "diff", "graph_frames", "load_profile", "read_folded"]

__version__: str
PERF_DATA: bool  # collapse_perf, graph_frames and diff read perf.data (its magic bytes) directly

_Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]

class ParseError(ValueError):
    line: int

class InternalError(RuntimeError):
    """A bug in flamefold (a Rust panic, caught): the message says where; please report it."""

@final
class ProfileItems(Iterator[Tuple[str, int]]):
    def __iter__(self) -> ProfileItems: ...
    def __next__(self) -> Tuple[str, int]: ...
    def __len__(self) -> int: ...

@final
class Profile:
    @property
    def total(self) -> int: ...
    @property
    def event(self) -> Optional[str]: ...
    @property
    def dropped(self) -> int: ...
    @property
    def warnings(self) -> list[Tuple[int, str]]: ...
    def __len__(self) -> int: ...
    def items(self) -> ProfileItems: ...
    def to_folded(self, dest: Union[None, str, os.PathLike[str], IO[Any]] = None) -> Optional[str]: ...
    @overload
    def to_speedscope(self, dest: None = None, *, name: Optional[str] = None) -> bytes: ...
    @overload
    def to_speedscope(self, dest: Union[str, os.PathLike[str], IO[Any]], *, name: Optional[str] = None) -> None: ...
    def __add__(self, other: Profile, /) -> Profile: ...
    def __radd__(self, other: Union[Profile, Literal[0]], /) -> Profile: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, Tuple[bytes, list[Tuple[int, str]], Optional[bytes], int]]: ...

def _profile_from_parts(data: bytes, warnings: list[Tuple[int, str]], event: Optional[bytes], dropped: int, /) -> Profile: ...

def collapse(
    source: _Source,
    /,
    *,
    format: str = "auto",
    threads: Optional[int] = None,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    inline: bool = False,
    context: bool = False,
    srcline: bool = False,
    event_filter: Optional[str] = None,
    includeoffset: bool = False,
    include_tname: bool = True,
    include_tid: bool = False,
    shorten_pkgs: bool = False,
) -> Profile: ...

def collapse_perf(
    source: _Source,
    /,
    *,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    inline: bool = False,
    context: bool = False,
    srcline: bool = False,
    event_filter: Optional[str] = None,
    threads: Optional[int] = None,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Profile: ...
_Num = Union[int, float]

@final
class Diff:
    def __len__(self) -> int: ...
    def items(self) -> list[Tuple[str, _Num, _Num]]: ...
    @property
    def totals(self) -> Tuple[_Num, _Num]: ...
    @property
    def warnings(self) -> list[Tuple[int, str]]: ...
    def to_folded(self, dest: Union[None, str, os.PathLike[str], IO[Any]] = None) -> Optional[str]: ...
    def top(self, n: int = 10, *, by: str = "delta") -> list[Tuple[str, _Num, _Num]]: ...
    # internal (compare_html)
    def _rediff(self, *, normalize: bool = False, strip_hex: bool = False) -> Diff: ...
    def _side(self, k: int) -> _DiffSide: ...

@final
class _DiffSide: ...

def diff(
    before: Union[Profile, _Source],
    after: Union[Profile, _Source],
    /,
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
    _whole: bool = False,
) -> Diff: ...
def read_folded(source: _Source, /) -> Profile: ...

@final
class GraphFrames:
    depth: list[int]
    start: list[float]
    width: list[float]
    name: list[int]
    delta: list[float]
    diff: list[bool]
    before: list[float]
    total: Union[int, float]  # an exact int when the counts are whole
    timemax: float
    maxdelta: float
    lines: int
    ignored: int
    warnings: list[Tuple[int, int, str]]
    @property
    def names(self) -> list[str]: ...
    @property
    def counts(self) -> Optional[list[int]]: ...
    @property
    def before_counts(self) -> Optional[list[int]]: ...
    @property
    def depthmax(self) -> int: ...
    def __len__(self) -> int: ...
    def svg_frames(
        self,
        *,
        xpad: float,
        wpt: float,
        factor: float,
        charw: float,
        truncate_left: bool,
        ys: list[str],
        tys: list[str],
        hs: str,
        unit: str,
        pct: float,
        total_given: bool,
        negate: bool,
        palette: str,
        hash: bool,
        colors: Optional[list[str]] = None,
        per_frame: bool = False,
        attrs: Optional[list[Optional[Tuple[str, Optional[str], Optional[str]]]]] = None,
    ) -> str: ...
    @staticmethod
    def frame_color(palette: str, name: str, hash: bool = False) -> Optional[Tuple[int, int, int]]: ...

def graph_frames(
    sources: list[Any],
    /,
    *,
    reverse: bool = False,
    flamechart: bool = False,
    chain: bool = False,
    minwidth: float = 0.1,
    minwidth_percent: bool = False,
    image_width: float = 1180.0,
    total: Optional[float] = None,
    threads: Optional[int] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    event_filter: Optional[str] = None,
) -> GraphFrames: ...

def load_profile(
    source: Union[Profile, _Source],
    /,
    *,
    threads: Optional[int] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    event_filter: Optional[str] = None,
) -> Profile: ...

# the advanced flame graphs (src/py/transform.rs)
__all__ += ["DoctorReport", "Finding", "Transformed", "doctor", "transform", "weighted"]

@final
class Transformed:
    @property
    def kind(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def folded(self) -> bytes: ...
    @property
    def summary(self) -> dict[str, int]: ...
    @property
    def warnings(self) -> list[Tuple[int, str]]: ...
    @property
    def two_counts(self) -> bool: ...
    @property
    def total(self) -> int: ...
    def profile(self) -> Profile: ...
    def columns(self) -> Tuple[Profile, Profile]: ...

def transform(
    kind: str,
    source: _Source,
    /,
    *,
    states: Optional[str] = None,
    min_us: int = 0,
    depth: int = 1,
    on_event: str = "cpu-clock",
    cycles_event: str = "cycles",
    instructions_event: str = "instructions",
    columns: str = "cycles-instructions",
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Transformed: ...

def weighted(
    source: _Source,
    /,
    *,
    weight: str = "bytes",
    event: Optional[str] = None,
    pid: bool = False,
    tid: bool = False,
    kernel: bool = False,
    jit: bool = False,
    addrs: bool = False,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> Transformed: ...

@final
class Finding:
    @property
    def kind(self) -> str: ...
    @property
    def samples(self) -> int: ...
    @property
    def what(self) -> str: ...
    @property
    def fix(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class DoctorReport:
    @property
    def samples(self) -> int: ...
    @property
    def no_stack(self) -> int: ...
    @property
    def with_unknown(self) -> int: ...
    @property
    def unknown_by_module(self) -> list[Tuple[str, int, int]]: ...
    @property
    def missing_symbols(self) -> list[Tuple[str, int, int]]: ...
    @property
    def with_missing_symbols(self) -> int: ...
    @property
    def jit_unmapped(self) -> int: ...
    @property
    def jit_by_process(self) -> list[Tuple[str, int, int]]: ...
    @property
    def garbage(self) -> int: ...
    @property
    def broken(self) -> int: ...
    @property
    def broken_by_outermost(self) -> list[Tuple[str, int]]: ...
    @property
    def kernel_entry_roots(self) -> int: ...
    @property
    def at_limit(self) -> int: ...
    @property
    def max_stack(self) -> int: ...
    @property
    def findings(self) -> list[Finding]: ...
    @property
    def warnings(self) -> list[Tuple[int, str]]: ...
    @property
    def text(self) -> str: ...
    def render(self, top: int = 10) -> str: ...

def doctor(
    source: _Source,
    /,
    *,
    max_stack: int = 127,
    event: Optional[str] = None,
    progress: Optional[Callable[[int, Optional[int]], object]] = None,
) -> DoctorReport: ...
