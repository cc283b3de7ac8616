"""Whose fault an exception is: the one place that decides.

An exception that escapes a program's code (its module, inputs, host function or reference) or
pramsim itself is one of three things, decided by where in the traceback it was raised:

- **the user's**: raised in a frame of the user's files, or in a library (NumPy, the standard
  library) that the user's code called directly (`np.zeros(2**60)` in inputs()). A ProgramError
  at the innermost user line, exit 1.
- **the environment's**: an OSError from pramsim's own files or streams (a full disk, a closed
  pipe, a file it may not write) or memory pramsim could not get on the program's behalf
  (MemoryError, NumPy's "array is too big"). An EnvironmentFault naming the path or what was being
  allocated, exit 1: nothing in the program to fix, something in the machine or the parameters.
- **pramsim's**: anything else raised inside pramsim, or inside numba or NumPy called by pramsim
  (a numba TypingError in an engine, a KeyError in numba's registries). An InternalError, exit 3,
  that says it is a bug and what to report; never located at the user's line.

`friendly_errors` reports them at the command line (every `pramsim` command is wrapped in it).

"The user's files" are files that exist and are neither pramsim's nor an installed library's nor
the standard library's (site-packages, the interpreter's prefix) nor frozen import machinery.
"""
from __future__ import annotations

import errno
import functools
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from .errors import Loc, PramsimError, ProgramError

_PKG = Path(__file__).resolve().parent
_LIBS = tuple({Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib", "stdlib", "platstdlib")})
_STDOUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}  # a write to a stream that failed
REPORT = "rerun with --debug for the traceback and report it with the command you ran"


class InternalError(PramsimError):
    """A bug in pramsim (or in a library pramsim called), never the user's program."""

    exit_code = 3
    kind = "internal error in pramsim"


class EnvironmentFault(PramsimError):
    """The machine refused what pramsim needed: a file or stream it could not write, memory."""

    kind = "environment error"


def _where(filename: str) -> str:
    """'user', 'pramsim' or 'library' for a frame's file."""
    if not filename or filename.startswith("<"):
        return "library"  # <frozen importlib._bootstrap>, <string>: not a file the user wrote
    path = Path(filename).resolve()
    if path.is_relative_to(_PKG):
        return "pramsim"
    if any(path.is_relative_to(lib) for lib in _LIBS) or not path.is_file():
        return "library"
    return "user"


def owner(exc: BaseException) -> tuple[str, traceback.FrameSummary | None]:
    """('user' | 'pramsim', the frame to report) for where `exc` was raised: its innermost frame
    if that is the user's or pramsim's; for one raised in a library, the innermost frame that is
    not a library's (who called it). A traceback with no such frame is pramsim's."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        who = _where(frame.filename)
        if who != "library":
            return who, frame
    return "pramsim", frames[-1] if frames else None


def innermost_user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _where(f.filename) == "user"]
    return frames[-1] if frames else None


def _memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (isinstance(exc, ValueError) and "array is too big" in str(exc))


def attribute(exc: BaseException, loading: Path | None = None) -> PramsimError:
    """The PramsimError to report for `exc`, an exception that is not one already, raised while
    pramsim ran a program's code (or while it loaded the file `loading`)."""
    if isinstance(exc, PramsimError):
        return exc
    who, frame = owner(exc)
    if isinstance(exc, RecursionError):
        # Too deep for Python itself: a deeply nested expression or endless recursion in the
        # program; pramsim's recursive walkers are where it shows, not what to fix.
        user = innermost_user_frame(exc)
        loc = Loc(user.filename, user.lineno or 1, 0) if user else (_longest_line(loading) if loading else None)
        return ProgramError("the program is nested too deeply (RecursionError: maximum recursion depth exceeded)",
                            loc=loc, hint="split a very long expression into several statements, or look for "
                                          "a function that calls itself without end")
    if who == "user":
        return _users(exc, frame, loading)
    return pramsims(exc, frame)


def _longest_line(path: Path) -> Loc:
    """The line with the most tokens in `path`: where Python's own compiler, which says no line
    when an expression is too deep for it, most likely gave up."""
    import io
    import tokenize
    counts: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text(errors="replace")).readline):
            counts[tok.start[0]] = counts.get(tok.start[0], 0) + 1
    except (tokenize.TokenError, SyntaxError, OSError):
        pass
    return Loc(str(path), max(counts, key=counts.get) if counts else 1, 0)


def pramsims(exc: BaseException, frame: traceback.FrameSummary | None = None) -> PramsimError:
    """An exception raised inside pramsim (or a library it called): the environment's or a bug."""
    if frame is None:
        frame = owner(exc)[1]
    if isinstance(exc, OSError):
        return environment(exc)
    if _memory(exc):
        return EnvironmentFault(f"out of memory: {type(exc).__name__}: {exc}",
                                hint="use smaller parameters, or a lower --max-memory so that pramsim refuses the "
                                     "run before allocating")
    at = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return InternalError(f"{type(exc).__name__}: {exc}{at}",
                         hint=f"this is a bug in pramsim, not in your program; {REPORT}")


def environment(exc: OSError, what: str = "") -> EnvironmentFault:
    """A file or stream pramsim could not use: the path and the system's reason."""
    path = exc.filename or what or "a file"
    reason = exc.strerror or str(exc)
    hint = {errno.ENOSPC: "free some space on that disk, or write somewhere else",
            errno.EACCES: "write somewhere you may write, or change the file's permissions",
            errno.EPIPE: "the program reading pramsim's output stopped reading",
            errno.EROFS: "write somewhere else: that file system is read-only"}.get(exc.errno or 0)
    return EnvironmentFault(f"cannot use {path}: {reason}", hint=hint)


def _users(exc: BaseException, frame: traceback.FrameSummary, loading: Path | None) -> PramsimError:
    loc = Loc(frame.filename, frame.lineno or 1, 0)
    if isinstance(exc, SystemExit):
        call = f"sys.exit({'' if exc.code is None else repr(exc.code)})"
        when = "while its file was being loaded" if loading else "before producing its result"
        return ProgramError(f"the program's Python code called {call} (raised SystemExit) {when}", loc=loc,
                            hint="a program returns its result and pramsim checks it: remove the exit, or raise "
                                 "an exception that says what is wrong")
    if _memory(exc):
        return ProgramError(f"{type(exc).__name__}: {exc}", loc=loc,
                            hint="the program's arrays need more memory than this machine has: use smaller parameters")
    return ProgramError(f"{type(exc).__name__}: {exc}", loc=loc, hint="this error was raised by the program's own Python code")


# ---- at the command line ----------------------------------------------------------------------------


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A click command's errors as the user sees them: a PramsimError as its message and exit code,
    anything else as attributed here (a file or stream that could not be written: exit 1 with its
    path; a bug in pramsim: exit 3), with no traceback unless --debug."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a full disk behind stdout shows here, not at exit
            return result
        except PramsimError as exc:
            _fail(exc, debug)
        except BrokenPipeError:  # `pramsim list | head`: the reader left; nothing to report
            _quiet_stdout()
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except OSError as exc:  # pramsim's own output: a full disk, a file it may not write
            if exc.filename is None and exc.errno in _STDOUT_ERRNOS:  # writing stdout, no path to name
                _quiet_stdout()
                _fail(environment(exc, "standard output"), debug)
            _fail(environment(exc) if exc.filename else pramsims(exc), debug)
        except Exception as exc:
            _fail(pramsims(exc), debug)
    return wrapper


def _fail(exc: PramsimError, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    click.echo(str(exc), err=True)
    sys.exit(exc.exit_code)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what could not be
    written raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
