"""Writing output: files replaced atomically, and standard output.

Every file flamefold writes for the user (``-o FILE``, ``palette.map``, ``flamegraph(dest=path)``)
goes through :func:`write_atomic`; every command writes standard output through
:func:`write_stdout`.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Callable, Optional, Union


class StdoutError(OSError):
    """Standard output failed (not a closed pipe): ``<stdout>: reason``, already worded."""


def write_atomic(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Writes ``data`` to ``path`` without damaging what is there.

    A regular file (or a new one) is replaced whole: the data goes to a temporary file in the
    target's real folder (symbolic links followed), which takes the old file's mode and owner
    (a new file: 0666 less the umask) and is renamed over it. Readers never see half a file, a
    symbolic link stays a link (to the new content), and an error or Ctrl-C leaves the old file
    and no temporary behind. Anything else (a FIFO, a device such as /dev/null, a socket) is
    opened and written through, never replaced. An error is an ``OSError`` naming ``path``.
    """
    path = os.fspath(path)
    try:
        _write_to(os.path.realpath(path), data)
    except OSError as e:
        if e.errno is None or e.filename == path:
            raise
        raise type(e)(e.errno, e.strerror, path) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_to(real: str, data: bytes) -> None:
    try:
        old: Optional[os.stat_result] = os.stat(real)
    except FileNotFoundError:
        old = None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), real)
    if old is not None and not stat.S_ISREG(old.st_mode):
        fd = os.open(real, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return
    folder, name = os.path.split(real)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    for n in range(100):
        tmp = os.path.join(folder or ".", f".{name}.{os.getpid()}.{n}.tmp")
        try:
            # a new file gets 0666 less the umask from the kernel; a replacement starts private
            fd = os.open(tmp, flags, 0o600 if old is not None else 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), tmp)
    try:
        try:
            _write_all(fd, data)
            if old is not None:
                try:  # kept as root; chown clears set-id bits, so the mode comes after
                    os.fchown(fd, old.st_uid, old.st_gid)
                except OSError:
                    pass
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def drop_stdout() -> None:
    # what is still buffered would fail again at exit (a second, uncatchable report): let it
    # go to /dev/null instead
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def write_stdout(data: Union[bytes, Callable[[IO[bytes]], object]]) -> int:
    """Writes bytes (or lets ``data(out)`` write) to standard output; 141 if the reader left.
    Another write error (a full disk) is a one-line ``<stdout>: reason`` error."""
    try:
        out = sys.stdout.buffer
        if callable(data):
            data(out)
        else:
            # a signal can cut a big write short: write the rest (a closed pipe then raises)
            view = memoryview(data)
            while view:
                n = out.write(view)
                if not n:
                    break
                view = view[n:]
        out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, like the Perl tools
        drop_stdout()
        return 141
    except OSError as e:
        drop_stdout()
        raise StdoutError(f"<stdout>: {e.strerror or e}") from None
    return 0
