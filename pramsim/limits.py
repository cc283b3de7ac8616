"""Limits a run is held to while it runs: wall time, launches, steps per launch, memory.

The time estimate (pramsim.estimate) refuses runs that look too long before they start; these
limits stop the ones that turn out to be, or never end:

- `--max-time S`: a deadline for the run (kernels, host code, reference, simulation), starting
  after the time estimate, whose counting runs have a limit of their own (PROBE_TIME_LIMIT_S). It is
  checked at every launch, in the vector engine's loops, between the compiled engine's chunks of
  blocks, and by a SIGALRM timer (main thread only) that interrupts host code that never
  launches. Inside a launch the alarm first lets the engine stop at its next check (which names
  the kernel's loop); if the launch is still running a second later it interrupts it anyway.
- `--max-launches N` launches per run, `--max-steps N` steps (depth) per launch.
- `--max-memory`: every allocation counts against it before it is made: the inputs (the host
  arrays `inputs()` returned, and their device copies), `zeros()`, and each launch's `shared()`
  arrays (bytes per block x blocks) and `local()` arrays (bytes per processor x processors).
  Both engines are held to these logical sizes, so a run is refused alike on either.

A stop is raised as `Stop`, a BaseException, so that a program's own `except Exception` cannot
swallow it (as with KeyboardInterrupt); the scope that owns the limit turns it into a
LimitExceeded error at the user's line; a program that catches even that (`except BaseException`)
is ended (os._exit, the error on stderr) when the alarm finds it running a grace period later.
Scopes nest: a check's points run inside the check's scope; a time-estimate probe runs, before
the run's own scope starts, in a scope of its own with a small limit (PROBE_TIME_LIMIT_S).

The alarm never raises while numba compiles (pramsim.compiling): an exception inside numba's
compiler breaks every later compile of the process. It looks again every DEFER_S and stops the
run once the compile is over. A counting run of the time estimate leaves compiling out of its
limit altogether (exclude_compile).

Limits: the alarm cannot interrupt numba-compiled code or a C call mid-way; it takes effect when
control returns to Python (a compiled chunk of blocks, whose loops are capped at MAX_ITERATIONS).
Outside the main thread (a Dask worker thread) there is no alarm: host code that never launches
is not stopped there.
"""
from __future__ import annotations

import contextlib
import contextvars
import linecache
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import compiling, progress
from .lang import ir
from .errors import Loc, LimitExceeded, MachineError, PramsimError, caller_loc
from .runtime import DeviceArray

DEFAULT_MAX_LAUNCHES = 100_000  # the shipped programs launch at most a few hundred times
DEFAULT_MAX_STEPS = 5_000_000  # steps (depth) per launch; attention_flash_looped n=4096 d=64 takes 760,000
PROBE_TIME_LIMIT_S = 5.0        # the counting runs together are predicted under half a second; compiling not counted
DEFER_S = 0.1                   # how often the alarm looks again while numba compiles (it never interrupts a compile)
POLL_STEPS_EVERY = 256          # kernel-loop iterations between step counts (a count costs a pass over lanes)
GRACE_S = 1.0                   # how long the alarm lets a launch stop by itself before interrupting it

_PKG = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class Limits:
    """What one run may use. max_time None: no deadline (nor time estimate)."""

    max_time: float | None = None
    max_launches: int = DEFAULT_MAX_LAUNCHES
    max_steps: int = DEFAULT_MAX_STEPS
    max_memory: int = 8 * 2**30


class Stop(BaseException):
    """Raised to stop a run; carries the error to report and the scope whose limit it was."""

    def __init__(self, scope: "Scope", error: PramsimError):
        super().__init__(error.message)
        self.scope = scope
        self.error = error


class Scope:
    """One run's limits while it runs: its deadline, launch count and current launch."""

    def __init__(self, limits: Limits, program_file: str, parent: "Scope | None", label: str = "",
                 exclude_compile: bool = False):
        self.limits = limits
        self.program_file = str(Path(program_file).resolve()) if program_file else ""
        self.parent = parent
        self.label = label  # e.g. "a probe run of the time estimate at n=2"
        own = time.monotonic() + limits.max_time if limits.max_time else math.inf
        self.own_deadline = own
        self.deadline = min(own, parent.deadline if parent else math.inf)  # the nearest of the chain's
        self.launches = 0
        self.launch: tuple[int, str, Loc] | None = None  # (number, kernel, host line) of the launch running
        self.polls = 0
        self.alarmed_at: float | None = None
        self.stopped_at: float | None = None  # when the alarm raised its Stop (see _on_alarm)
        self.note = ""  # said with a time stop: e.g. why the time estimate made no estimate
        self.active = True  # until the scope is left: its alarm handler stops nothing after
        # a counting run's limit is for the run, not for numba compiling what it runs (pramsim.compiling)
        self.exclude_compile = exclude_compile
        self.compiled_s = compiling.compile_seconds()

    # ---- checks ------------------------------------------------------------------------------

    def check_time(self, loc: Loc | None = None, what: str = "") -> None:
        """Stop if the deadline (this scope's or an enclosing one's) has passed."""
        if time.monotonic() >= self.deadline and not self.extend_for_compiles():
            raise self.time_stop(loc, what)

    def extend_for_compiles(self) -> bool:
        """For a scope that leaves compiling out: move the deadline on by the time numba spent
        compiling since it was last moved. True if it moved."""
        if not self.exclude_compile:
            return False
        now = compiling.compile_seconds()
        spent, self.compiled_s = now - self.compiled_s, now
        if spent <= 0:
            return False
        self.own_deadline += spent
        self.deadline = min(self.own_deadline, self.parent.deadline if self.parent else math.inf)
        return True

    def poll(self, loc: Loc, steps: Callable[[], int], what: str = "loop") -> None:
        """A kernel loop's iteration (vector engine): the deadline, and every few hundred
        iterations the launch's steps so far."""
        self.polls += 1
        self.check_time(loc, f"in this {what}")
        if self.polls % POLL_STEPS_EVERY == 0:
            self.check_steps(steps(), loc, f"in this {what}")

    def check_steps(self, depth: int, loc: Loc, where: str) -> None:
        if depth > self.limits.max_steps and self.launch is not None:
            n, kernel, at = self.launch
            raise Stop(self, LimitExceeded(
                f"launch {n:,} of kernel {kernel} (at {_short(at)}) passed {self.limits.max_steps:,} steps "
                f"(--max-steps){' ' + where if where else ''}", loc=loc,
                hint="check that every processor's loop condition eventually becomes false, or raise the "
                     "limit with --max-steps N"))

    def begin_launch(self, kernel: str, loc: Loc) -> None:
        self.check_time(loc, f"before launch {self.launches + 1:,} of kernel {kernel}")
        if self.launches >= self.limits.max_launches:
            raise Stop(self, LimitExceeded(
                f"the program launched kernels {self.launches:,} times (--max-launches {self.limits.max_launches:,}); "
                f"launch {self.launches + 1:,} is of kernel {kernel}", loc=loc,
                hint="look for a host loop that does not end, or raise the limit with --max-launches N"))
        self.launches += 1
        self.launch = (self.launches, kernel, loc)

    def end_launch(self) -> None:
        self.launch = None

    # ---- the time stop, located --------------------------------------------------------------

    def time_stop(self, loc: Loc | None, what: str, frame: Any = None) -> Stop:
        """The Stop for a passed deadline: of the outermost scope whose own deadline passed, so
        that a probe's scope does not swallow the run's stop."""
        owner, now = self, time.monotonic()
        s: Scope | None = self
        while s is not None:
            if s.own_deadline <= now:
                owner = s
            s = s.parent
        if self.stopped_at is None:
            self.stopped_at = now  # the first stop is the one reported (see _on_alarm)
        limit = owner.limits.max_time or 0.0
        where, at = self._where(loc, what, frame)
        if owner.label:  # a probe's own limit
            message = f"{owner.label} took longer than its limit of {limit:g} s, {where}"
        else:
            during = f", during {self.label}" if self.label else ""
            note = f". {owner.note[:1].upper()}{owner.note[1:]}" if owner.note else ""
            message = f"the run took longer than {limit:g} s (--max-time), {where}{during}{note}"
        return Stop(owner, LimitExceeded(
            message, loc=at, hint="look for a loop that does not end, or allow more with --max-time SECONDS "
                                  "(0: no limit)"))

    def _where(self, loc: Loc | None, what: str, frame: Any) -> tuple[str, Loc | None]:
        if self.launch is not None:
            n, kernel, at = self.launch
            if loc is not None:  # a kernel's own line (a loop): name the launch too
                return f"{what} of kernel {kernel} (launch {n:,}, at {_short(at)})", loc
            return f"in launch {n:,} of kernel {kernel}", at
        if loc is not None:
            return what, loc
        host = self._host_frame(frame)
        if host is not None:
            return f"in host code (function {host[0]})", host[1]
        return "outside the program's code (in pramsim, checking or simulating the run)", None

    def _host_frame(self, frame: Any) -> tuple[str, Loc] | None:
        """The innermost frame in the program's file (host code, inputs or reference), else the
        innermost outside pramsim."""
        outside = None
        f = frame
        while f is not None:
            name = str(Path(f.f_code.co_filename).resolve()) if f.f_code.co_filename[:1] != "<" else ""
            if name and name == self.program_file:
                return f.f_code.co_name, _loc(f)
            if outside is None and name and not name.startswith(_PKG) and "site-packages" not in name \
                    and not name.startswith(sys.prefix):
                outside = (f.f_code.co_name, _loc(f))
            f = f.f_back
        return outside


def _loc(frame: Any) -> Loc:
    """A frame's line, the column at its first non-blank character."""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    return Loc(frame.f_code.co_filename, frame.f_lineno, len(line) - len(line.lstrip()))


def _short(loc: Loc) -> str:
    return f"{Path(loc.file).name}:{loc.line}"


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("pramsim_limits", default=None)


def current() -> Scope | None:
    """The scope of the run in progress in this thread (None outside a run)."""
    return _current.get()


def poll(loc: Loc, steps: Callable[[], int], what: str = "loop") -> None:
    """Called at each iteration of a kernel loop by the vector engine."""
    scope = _current.get()
    if scope is not None:
        scope.poll(loc, steps, what)


# ---- entering and leaving a scope: the alarm ---------------------------------------------------------


@contextlib.contextmanager
def enforce(limits: Limits, program_file: str, label: str = "", exclude_compile: bool = False) -> Iterator[Scope]:
    """Hold the code inside to `limits`; a Stop for this scope leaves it as LimitExceeded.
    `exclude_compile`: numba's compiling does not count against the time limit."""
    parent = _current.get()
    scope = Scope(limits, program_file, parent, label, exclude_compile)
    token = _current.set(scope)
    alarm = _Alarm.start(scope, parent)
    try:
        yield scope
    except Stop as stop:
        _leave(scope, alarm)
        if stop.scope is scope:
            raise stop.error from None
        raise
    finally:
        _leave(scope, alarm)
        _current.reset(token)


def _leave(scope: Scope, alarm: "_Alarm | None") -> None:
    """Disarm the scope's alarm, once. An alarm that arrives while this runs (a Python signal
    handler can run between any two bytecodes) must not leave the timer armed: retry."""
    while scope.active:
        try:
            scope.active = False  # from here on its handler does nothing
            if alarm is not None:
                alarm.stop()
        except Stop:
            scope.active = True


class _Alarm:
    """SIGALRM at a scope's deadline (main thread only), restoring what was there before."""

    def __init__(self, scope: Scope, parent: Scope | None, previous: Any, old_timer: tuple[float, float]):
        self.scope, self.parent, self.previous, self.old_timer = scope, parent, previous, old_timer
        self.started = time.monotonic()

    @classmethod
    def start(cls, scope: Scope, parent: Scope | None) -> "_Alarm | None":
        if not math.isfinite(scope.deadline) or not hasattr(signal, "setitimer") \
                or threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.signal(signal.SIGALRM, lambda signum, frame: _on_alarm(scope, frame))
        old = signal.setitimer(signal.ITIMER_REAL, max(scope.deadline - time.monotonic(), 1e-3), GRACE_S)
        return cls(scope, parent, previous, old)

    def stop(self) -> None:
        """Disarm, and give the enclosing scope (or whoever set a timer before) its alarm back."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        delay, interval = self.old_timer
        if delay > 0:
            signal.setitimer(signal.ITIMER_REAL, max(delay - (time.monotonic() - self.started), 1e-3), interval)


def _on_alarm(scope: Scope, frame: Any) -> None:
    """The deadline passed. In host code: stop here. In a launch: let the engine stop at its next
    check (which names the kernel's line) unless it has not within GRACE_S."""
    if not scope.active:
        return  # a scope being left
    if compiling.in_compile():
        # Never raise inside numba's compiler: it would leave numba's registries half built for
        # every later compile in this process. Look again shortly; the compile ends by itself.
        signal.setitimer(signal.ITIMER_REAL, DEFER_S, GRACE_S)
        return
    if time.monotonic() < scope.deadline:
        return  # an interval alarm of a timer re-armed for an enclosing scope
    if scope.extend_for_compiles():
        signal.setitimer(signal.ITIMER_REAL, max(scope.deadline - time.monotonic(), 1e-3), GRACE_S)
        return
    if scope.launch is not None:
        if scope.alarmed_at is None:
            scope.alarmed_at = time.monotonic()
            return
        if time.monotonic() - scope.alarmed_at < GRACE_S * 0.9:
            return
    if scope.stopped_at is None:
        raise scope.time_stop(None, "", frame)
    if time.monotonic() - scope.stopped_at > GRACE_S:
        # The Stop raised a grace period ago was caught (`except BaseException` in host code) and
        # the run went on: end the process, saying why, rather than let it run without a limit.
        stop = scope.time_stop(None, "", frame)
        sys.stderr.write(f"{stop.error}\n  (the program caught the stop and went on, so pramsim ended it)\n")
        sys.stderr.flush()
        os._exit(stop.error.exit_code)
    # else: the Stop raised moments ago is still unwinding; a second one would replace its place


# ---- a backend held to the limits ---------------------------------------------------------------------


class Limited:
    """Wraps a backend (the executor): every allocation reserved against max_memory, every launch
    counted and checked against the deadline, each launch's depth against max_steps."""

    def __init__(self, inner: Any, scope: Scope, hold_memory: bool = True):
        self.inner = inner
        self.scope = scope
        self.name = inner.name
        self.allocated = 0  # bytes: inputs (host and device), zeros()
        self.hold_memory = hold_memory  # False: the backend allocates no arrays (--counts-only)

    def __getattr__(self, name: str) -> Any:  # trace, notes, ...: the wrapped backend's
        return getattr(self.inner, name)

    def reserve(self, nbytes: int, what: str, loc: Loc | None, extra: int = 0) -> None:
        """Refuse, before it is allocated, what would take the run past max_memory. `extra` is
        transient (a launch's shared/local arrays): checked, not kept."""
        if not self.hold_memory:
            return
        limit = self.scope.limits.max_memory
        total = self.allocated + nbytes + extra
        if total > limit:
            raise MachineError(f"{what} would bring the run's arrays to {gib(total)}, over the limit of "
                               f"{gib(limit)} (--max-memory)", loc=loc,
                               hint="use smaller parameters, or raise the limit with --max-memory GIB")
        self.allocated += nbytes

    def reserve_inputs(self, inputs: dict[str, np.ndarray]) -> None:
        """The host arrays `inputs()` returned: they exist already, so this refuses the run before
        their device copies double them."""
        for name, value in inputs.items():
            self.reserve(np.asarray(value).nbytes, f"input {name!r} (as inputs() returned it)", None)

    def array(self, host: np.ndarray, name: str) -> DeviceArray:
        self.reserve(np.asarray(host).nbytes, f"the device copy of input {name!r}", None)
        return self.inner.array(host, name)

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        self.reserve(nbytes, f"zeros({shape}, {np.dtype(dtype).name})", caller_loc())
        return self.inner.zeros(shape, dtype)

    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        self.scope.begin_launch(kernel.name, loc)
        progress.launched(kernel.name)
        try:
            self.reserve_launch(kernel, nprocs, block, args, loc)
            trace = getattr(self.inner, "trace", None)
            before = len(trace.launches) if trace is not None else 0
            self.inner.launch(kernel, nprocs, block, args, loc)
            self.scope.check_time(None)
            if trace is not None and len(trace.launches) > before:  # the compiled engine cannot stop mid-launch
                self.scope.check_steps(trace.launches[-1].depth, loc, f"(its depth is {trace.launches[-1].depth:,})")
        finally:
            self.scope.end_launch()

    def reserve_launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        """A launch's shared arrays (per block x blocks) and local arrays (per processor x processors)."""
        scalars = {p.name: v for p, v in zip(kernel.params, args) if not isinstance(v, DeviceArray)}
        nblocks = -(-nprocs // block)
        parts, total = [], 0
        for name, space, per in alloc_bytes(kernel, scalars):
            copies = nblocks if space == "shared" else nprocs
            total += per * copies
            parts.append(f"{space} {name} {per:,} B x {copies:,} {'blocks' if space == 'shared' else 'processors'}")
        if total:
            self.reserve(0, f"launch of {kernel.name} ({', '.join(parts)})", loc, extra=total)

    def to_host(self, a: DeviceArray) -> np.ndarray:
        return self.inner.to_host(a)


def alloc_bytes(kernel: ir.Kernel, scalars: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(name, space, bytes per block or per processor) of each shared()/local() array, its shape
    computed from the launch's scalar arguments (shapes are constants and scalar parameters, as
    the frontend checks); one it cannot compute is left to the engine to report."""
    out, seen = [], set()
    for s in ir.walk_stmts(kernel.body):
        if isinstance(s, ir.AllocArray) and s.name not in seen:
            seen.add(s.name)
            try:
                dims = [ir.evaluate_uniform(d, scalars) for d in s.shape]
            except (KeyError, ValueError, ArithmeticError):
                continue
            if all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims):
                out.append((s.name, s.space, int(np.prod(dims, dtype=object)) * np.dtype(s.dtype).itemsize))
    return out


def gib(nbytes: int) -> str:
    """1.50 GiB."""
    return f"{nbytes / 2**30:.2f} GiB"
