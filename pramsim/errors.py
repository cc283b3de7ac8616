"""Errors a user can act on: each says what is wrong, where (file:line:col), and what to do.

The CLI prints these without a traceback (unless --debug) and exits with `exit_code`.
Anything else that escapes is a bug in pramsim and is reported as one.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Loc:
    """A position in the user's source: 1-based line, 0-based column (as Python's ast)."""

    file: str
    line: int
    col: int = 0
    # For code inlined from a @device function: the calls it came through, innermost first
    # ("device function f, called at file:line"); not part of the position.
    via: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def source_line(self) -> str:
        return linecache.getline(self.file, self.line).rstrip("\n")


def offset_loc(file: str, data: bytes | str, offset: int) -> Loc:
    """The line and column of position `offset` in a file's bytes or text (for an error that gives
    only an offset: a byte that does not decode, a number too long to read)."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line_start = data.rfind(newline, 0, offset) + 1
    return Loc(file, data.count(newline, 0, offset) + 1, offset - line_start)


def path_exists(path: Path, error: type["PramsimError"], what: str) -> bool:
    """Path.exists(), with the OSErrors it raises for names the file system refuses (ENAMETOOLONG:
    a long parameter value typed where a program or profile goes) turned into `error`."""
    try:
        return path.exists()
    except OSError as exc:
        name = str(path) if len(str(path)) <= 60 else f"{str(path)[:40]}... ({len(str(path))} characters)"
        raise error(f"cannot use {name!r} as a {what}: {exc.strerror or exc}") from None


class PramsimError(Exception):
    """Base class: a message, an optional location and an optional hint (what to do)."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, loc: Loc | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.loc}: {self.kind}: {self.message}" if self.loc else f"{self.kind}: {self.message}"
        lines = [head]
        if self.loc:
            src = self.loc.source_line()
            if src.strip():
                lines.append(f"    {src}")
                lines.append("    " + " " * self.loc.col + "^")
        if self.loc:
            lines += [f"  in {call}" for call in self.loc.via]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class DSLError(PramsimError):
    """The kernel source uses something the DSL does not support (found before anything runs)."""

    kind = "DSL error"


class ExecutionError(PramsimError):
    """A kernel did something invalid while running (out of bounds, divergent barrier, ...)."""

    kind = "execution error"


class ProgramError(PramsimError):
    """A program module is malformed, or its parameters are invalid."""

    kind = "program error"


class MachineError(PramsimError):
    """A machine profile is malformed, or a program does not fit on the machine."""

    kind = "machine error"


class ResourceError(PramsimError):
    """A run refused before it starts: its estimated time exceeds the limit the user set."""

    kind = "refused"


class LimitExceeded(ResourceError):
    """A run stopped while it ran: it passed --max-time, --max-launches or --max-steps (pramsim.limits)."""

    kind = "stopped"


class RequirementError(ProgramError):
    """A program's `require(...)` refused its parameters (the time estimate skips such probe sizes)."""


class BrentViolation(PramsimError):
    """The simulated T_p left Brent's bounds: a bug in pramsim's accounting, never silence."""

    kind = "Brent violation"


class LoweringError(PramsimError):
    """A construct the CUDA backend cannot lower."""

    kind = "lowering error"


class FileError(PramsimError):
    """An output file or pramsim's cache folder cannot be written or used safely (the path, the
    OS's reason, what to do)."""

    kind = "file error"


class ParameterError(ProgramError):
    """A malformed parameter on the command line (n=abc, n=-4): a usage error, exit code 2."""

    exit_code = 2
    kind = "usage error"


def caller_loc(depth: int = 2) -> Loc:
    """The user's line that called into pramsim: the first frame from `depth` up that is not in the
    pramsim package (a backend's zeros() is called through dsl.zeros, and must not point at it)."""
    import linecache
    import os
    import sys
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    f = first = sys._getframe(depth)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(package):
        f = f.f_back
    f = f or first
    line = linecache.getline(f.f_code.co_filename, f.f_lineno)
    return Loc(f.f_code.co_filename, f.f_lineno, len(line) - len(line.lstrip()))
