"""Progress on stderr: bars with elapsed time and ETA (sweeps, `check`, `gpu --repeat`), a status
line for one long run (`run`: launches so far, the kernel running, elapsed time, ETA from the time
estimate), and one-line notes (a kernel the compiled engine compiles for the first time).

Shown only when stderr is a terminal, or when the environment variable PRAMSIM_PROGRESS=1 forces
it (PRAMSIM_PROGRESS=0 turns it off). Never on stdout: a pipe, a test or `--json` output gets only
the results. The bars are click's (click.progressbar), which draws on a terminal only; a forced
bar on a file or pipe is drawn as on a terminal (carriage returns, one line rewritten).
"""
from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

ENV = "PRAMSIM_PROGRESS"


def enabled() -> bool:
    """Progress is shown: PRAMSIM_PROGRESS=1 or 0 decides, else whether stderr is a terminal."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr is not None and sys.stderr.isatty()


def note(message: str) -> None:
    """Print `message` on stderr when progress is shown (it says what a pause is, e.g. a compile)."""
    if enabled():
        click.echo(message, err=True)


@contextmanager
def bar(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of `total` steps on stderr, with position, elapsed time and ETA; yields the
    update(done, total) callback that runner.check_program, sweep.run_sweep and gpu.run_on_gpu take.
    update(0, total) restarts the clock: work before it (a warm-up compile, the time estimate's
    probes) counts neither in the elapsed time nor in the ETA's time per step. When progress is not
    shown the callback does nothing."""
    if not enabled():
        yield lambda done, total: None
        return
    stream = sys.stderr if sys.stderr.isatty() else _Terminal(sys.stderr)
    progress: Any = click.progressbar(length=total, label=label, file=stream, show_pos=True, show_eta=False,
                                      show_percent=False, item_show_func=lambda _: _times(progress))
    def update(done: int, total: int) -> None:
        if done == 0:
            progress.start = progress.last_eta = time.time()
        progress.update(done - progress.pos)

    with progress:
        yield update


class _RunStatus:
    """The status line of one run, redrawn every second by a thread of its own (a launch can take
    minutes, and draws nothing while it runs)."""

    def __init__(self, label: str):
        self.label = label
        self.start = time.time()
        self.launches = 0
        self.kernel = ""
        self.estimate_s: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._redraw, daemon=True)
        self.thread.start()

    def _redraw(self) -> None:
        while not self.stop.wait(1.0):
            self.draw()

    def draw(self) -> None:
        elapsed = time.time() - self.start
        text = f"{self.label}: launch {self.launches:,}" + (f" ({self.kernel})" if self.kernel else "")
        text += f"  elapsed {clock(elapsed)}"
        if self.estimate_s is not None and self.estimate_s > elapsed:
            text += f"  ETA {clock(self.estimate_s - elapsed)} (estimated)"
        sys.stderr.write("\r" + text + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        if self.launches:
            self.draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


_run_status: contextvars.ContextVar[_RunStatus | None] = contextvars.ContextVar("pramsim_run_status", default=None)


@contextmanager
def run_status(label: str) -> Iterator[None]:
    """A status line on stderr while one run runs (when progress is shown): launched() and
    estimated() feed it. For `pramsim run`; sweeps and checks have their bars."""
    if not enabled():
        yield
        return
    state = _RunStatus(label)
    token = _run_status.set(state)
    try:
        yield
    finally:
        _run_status.reset(token)
        state.close()


def launched(kernel: str) -> None:
    """A launch of `kernel` starts (pramsim.limits calls this for every launch of a run)."""
    state = _run_status.get()
    if state is not None:
        state.launches += 1
        state.kernel = kernel


def estimated(seconds: float | None) -> None:
    """The time estimate of the run, made before it (pramsim.runner): the ETA counts down from it,
    and the launch count starts again (the estimate's probe runs launched too)."""
    state = _run_status.get()
    if state is not None:
        state.launches, state.kernel = 0, ""
        if seconds is not None:
            state.estimate_s = seconds + (time.time() - state.start)


def _times(progress: Any) -> str:
    """'elapsed 0:07  ETA 0:21' (the ETA once click has timed a step, and until the bar is full)."""
    text = f"elapsed {clock(time.time() - progress.start)}"
    if progress.eta_known and not progress.finished:
        text += f"  ETA {clock(progress.eta)}"
    return text


def clock(seconds: float) -> str:
    """65 -> '1:05'; 3725 -> '1:02:05'."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class _Terminal:
    """stderr presented as a terminal, so that click draws a forced bar on a file or pipe."""

    def __init__(self, stream: Any):
        self._stream = stream

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def note_compile(kernel: str, dispatcher: Any) -> None:
    """Before the compiled engine first calls `dispatcher` (a numba function generated from `kernel`):
    say that numba is about to compile it, unless numba has it already, in this process or in its
    disk cache. The disk cache is read through numba's private API (the index its Cache keeps);
    should that change, the note says "preparing" instead of guessing. Limit: the generated module
    already compiled for other argument types counts as cached (numba then compiles silently)."""
    if not enabled():
        return
    try:
        cached = bool(dispatcher.overloads) or bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # not a caching numba dispatcher, or numba's internals moved
        note(f"preparing kernel {kernel} for the compiled engine (compiled on first use; cached afterwards)")
        return
    if not cached:
        note(f"compiling kernel {kernel} for the compiled engine (first time; cached afterwards)")
