"""Type stubs for the native module (Rust, PyO3)."""

import os
from typing import IO, Any, Callable, Iterator, Optional, Tuple, Union, final


__all__ = ["ParseError", "Profile", "ProfileItems", "collapse_perf", "read_folded"]

__version__: str

_Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]

class ParseError(ValueError):
    line: int

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
    def __add__(self, other: Profile, /) -> Profile: ...
    def __radd__(self, other: Profile, /) -> Profile: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]: ...

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
def read_folded(source: _Source, /) -> Profile: ...
