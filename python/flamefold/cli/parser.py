"""The commands' argparse parser (imported only by commands that parse with argparse: the plain
collapse commands start without argparse, see ``quick.py``)."""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

from .. import _io
from .common import escape, say


def _help_width() -> int:
    """The width argparse gives help text: ``shutil.get_terminal_size().columns - 2``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class Parser(argparse.ArgumentParser):
    """argparse, with its error messages (which quote the arguments) escaped, and help that
    cannot be written an error."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse asks `shutil` for the terminal's width, and so imports it (with bz2, lzma
        # and more: 3 ms of each command's start-up) for every argument it adds
        formatter: Any = self.formatter_class  # every HelpFormatter takes `width`
        return formatter(prog=self.prog, width=_help_width())

    def error(self, message: str) -> "NoReturn":
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape(message)}\n")

    def _print_message(self, message: str, file: "Optional[Any]" = None) -> None:
        # argparse drops a failed write silently (`--help > /dev/full` "succeeds"): say it
        if not message:
            return
        out = file or sys.stderr
        try:
            out.write(message)
            out.flush()
        except OSError as e:
            if out is sys.stdout:
                _io.drop_stdout()
                if not isinstance(e, BrokenPipeError):
                    say(self.prog, "error", f"<stdout>: {e.strerror or e}")
                    raise SystemExit(1) from None


