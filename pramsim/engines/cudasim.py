"""What numba's CUDA simulator lacks and lowered kernels use: warp shuffles.

numba-cuda's simulator (NUMBA_ENABLE_CUDASIM=1) runs each thread of a block as a Python thread but
has no `cuda.shfl_down_sync` / `cuda.shfl_xor_sync`. `install_warp_shuffles` adds them to its fake
`cuda` module, so the lowered source is the same on a GPU and under the simulator. The lanes of one
warp meet at each shuffle (the n-th execution of one line of the lowered kernel): a lane waits
until every other live lane of its warp has arrived there, has passed it, or waits at a later
barrier (then it took another path and never comes). A lane whose source is outside its warp or
block, exited, or did not come keeps its own value, as in the vector engine (a GPU leaves an
inactive source undefined). Lanes of a warp waiting at different shuffles are an error.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from ..errors import ExecutionError

_registry_lock = threading.Lock()


def install_warp_shuffles() -> None:
    """Give the simulator's fake `cuda` module shfl_down_sync and shfl_xor_sync (once)."""
    from numba.cuda.simulator import kernel, kernelapi  # noqa: PLC0415 - only under the simulator

    module = kernelapi.FakeCUDAModule
    if getattr(module, "_pramsim_shuffles", False):
        return
    original_init = kernel.BlockThread.__init__

    def init(thread, f, manager, blockIdx, threadIdx, debug):  # noqa: N803 - numba's names
        original_init(thread, f, manager, blockIdx, threadIdx, debug)
        manager.__dict__.setdefault("_pramsim_threads", {})[thread.threadIdx.x] = thread  # its block's threads

    original_sync = kernel.BlockThread.syncthreads

    def syncthreads(thread):
        thread._pramsim_barriers = getattr(thread, "_pramsim_barriers", 0) + 1  # which barrier it waits at
        original_sync(thread)

    kernel.BlockThread.__init__ = init
    kernel.BlockThread.syncthreads = syncthreads
    module.shfl_down_sync = lambda cuda, mask, value, delta: _shuffle(cuda, value, lambda lane: lane + delta)
    module.shfl_xor_sync = lambda cuda, mask, value, lane_mask: _shuffle(cuda, value, lambda lane: lane ^ lane_mask)
    module._pramsim_shuffles = True


class _Warp:
    """The values the lanes of one warp brought to each of their shuffles."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.values: dict[int, dict[int, Any]] = {}  # shuffle number -> lane -> value


def _shuffle(cuda: Any, value: Any, source_of: Callable[[int], int]) -> Any:
    me = threading.current_thread()
    site = sys._getframe(2).f_lineno  # the lowered kernel's line (frames: this, the lambda, the kernel)
    done = me.__dict__.setdefault("_pramsim_sites", {})
    key = (site, done.get(site, 0))  # the lanes of a warp meet at the n-th shuffle of one line
    t = cuda.threadIdx.x
    lane, first = t % 32, t - t % 32
    lanes = range(first, min(first + 32, cuda.blockDim.x))
    with _registry_lock:
        warp = me._manager.__dict__.setdefault(f"_pramsim_warp{first}", _Warp())
    with warp.cond:
        here = warp.values.setdefault(key, {})
        here[lane] = value
        done[site] = key[1] + 1
        me._pramsim_waiting = key
        warp.cond.notify_all()
        while not _all_came(me, lanes, key, here):
            warp.cond.wait(0.002)
        me._pramsim_waiting = None
    source = source_of(lane)
    if 0 <= source < 32 and first + source < cuda.blockDim.x and source in here:
        return here[source]
    return value


def _all_came(me: Any, lanes: range, key: tuple[int, int], here: dict[int, Any]) -> bool:
    """Whether every other lane of the warp has brought its value to this shuffle, has passed it, has
    exited, or waits at a later barrier than this lane has passed (it took another path and will not
    come). A lane not started yet, still being released from the barrier this lane passed, or
    waiting at a shuffle this lane has passed, is waited for; one waiting at another shuffle is an
    error (the lanes of a warp diverged at shuffles)."""
    threads = me._manager.__dict__.get("_pramsim_threads", {})
    passed = getattr(me, "_pramsim_barriers", 0)
    mine = me.__dict__.get("_pramsim_sites", {})
    for t in lanes:
        peer = threads.get(t)
        if peer is None or peer.ident is None:
            return False  # not created or started yet: it will come
        if peer is me or t % 32 in here or peer.__dict__.get("_pramsim_sites", {}).get(key[0], 0) > key[1]:
            continue
        if not peer.is_alive() or peer.syncthreads_blocked and getattr(peer, "_pramsim_barriers", 0) > passed:
            continue
        waiting = peer.__dict__.get("_pramsim_waiting")
        if waiting is not None and waiting != key and mine.get(waiting[0], 0) <= waiting[1]:
            raise ExecutionError(
                f"the lanes of a warp (threads {lanes.start}-{lanes.stop - 1} of block {me.blockIdx.x}) reached "
                f"different warp shuffles (lines {key[0]} and {waiting[0]} of the lowered kernel): numba's CUDA "
                f"simulator, like a GPU (the lowered shuffles name all 32 lanes), needs every lane of a warp at the "
                f"same shuffle", hint="make the condition around a shuffle the same for the whole warp (the vector "
                                      "engine gives a lane whose source is inactive its own value)")
        return False
    return True
