"""numba's compiles, seen from pramsim: announced when they take long, never interrupted.

numba compiles a function the first time it is called (or loads it from its disk cache), holding
its global compiler lock. Two things follow for pramsim:

- *Never interrupt it.* A Python exception raised inside numba's compiler (pramsim's --max-time
  alarm, a KeyboardInterrupt) can leave numba's type registries half built; the next compile in
  the process then fails with errors such as `KeyError: duplicate registration`. pramsim.limits
  asks `in_compile()` before raising from its alarm, and defers the stop until the compile ends.
- *Say so when it takes long.* The first run of a kernel can compile for tens of seconds in
  silence. A listener on numba's compile events starts a timer with each outermost compile; one
  still running after ANNOUNCE_AFTER_S says so once on stderr (terminal or not), and says how
  long it took when it ends. `compile_seconds()` is the time this process spent compiling, which
  the time estimate reports apart (pramsim.estimate) and a counting run's time limit leaves out.

`install()` is called by the modules that import numba (pramsim.engines); before numba is
imported nothing compiles, and `in_compile()` is False without importing it.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

ANNOUNCE_AFTER_S = 2.0

_lock = threading.Lock()
_installed = False
_total_s = 0.0                  # finished outermost compiles, all threads
_local = threading.local()      # per thread: depth of nested compile events, the outermost one's announcer


def in_compile() -> bool:
    """Whether the calling thread is inside numba's compiler (holds its global compiler lock)."""
    module = sys.modules.get("numba.core.compiler_lock")
    if module is None:
        return False
    try:
        return bool(module.global_compiler_lock.is_locked())
    except Exception:  # numba's internals moved: assume not, as before this check existed
        return False


def compile_seconds() -> float:
    """Seconds this process has spent in finished numba compiles, plus the time so far of one in
    progress in the calling thread. A load from numba's disk cache is not counted: numba fires no
    compile event for it."""
    running = getattr(_local, "announcer", None)
    return _total_s + (time.perf_counter() - running.start if running is not None else 0.0)


def install() -> None:
    """Listen to numba's compile events (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        from numba.core import event  # noqa: PLC0415 - only once numba is in use
        event.register("numba:compile", _make_listener())
        _installed = True


def _name(data: Any) -> str:
    dispatcher = data.get("dispatcher") if isinstance(data, dict) else None
    fn = getattr(dispatcher, "py_func", None)
    return getattr(fn, "__name__", None) or "a function"


def _say(text: str) -> None:
    """One line on stderr; a closed or full stderr is not the compile's problem."""
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class _Announcer:
    """The timer of one outermost compile: says it is compiling after ANNOUNCE_AFTER_S, and how
    long it took if it said anything."""

    def __init__(self, name: str):
        self.name = name
        self.start = time.perf_counter()
        self.said = False
        self.timer = threading.Timer(ANNOUNCE_AFTER_S, self._announce)
        self.timer.daemon = True
        self.timer.start()

    def _announce(self) -> None:
        with _lock:  # the timer's thread, or done() when the timer was late: once
            if self.said:
                return
            self.said = True
        _say(f"compiling {self.name} with numba (once: later runs load it from the cache) ...")

    def done(self) -> float:
        self.timer.cancel()
        took = time.perf_counter() - self.start
        if took >= ANNOUNCE_AFTER_S:  # a busy machine can start the timer's thread late: said all the same
            self._announce()
            _say(f"compiled {self.name} in {took:.1f} s")
        return took


def _make_listener() -> Any:
    """numba's Listener class exists only once numba is imported: the class is made here."""
    from numba.core import event  # noqa: PLC0415

    class Listener(event.Listener):
        def on_start(self, ev: Any) -> None:
            depth = getattr(_local, "depth", 0)
            _local.depth = depth + 1
            if depth == 0:
                _local.announcer = _Announcer(_name(ev.data))

        def on_end(self, ev: Any) -> None:
            global _total_s
            _local.depth = max(getattr(_local, "depth", 1) - 1, 0)
            if _local.depth == 0 and getattr(_local, "announcer", None) is not None:
                took = _local.announcer.done()
                _local.announcer = None
                with _lock:
                    _total_s += took

    return Listener()
