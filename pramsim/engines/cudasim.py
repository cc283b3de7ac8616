"""What numba's CUDA simulator lacks and lowered kernels use: warp shuffles.

numba-cuda's simulator (NUMBA_ENABLE_CUDASIM=1) runs each thread of a block as a Python thread but
has no `cuda.shfl_down_sync` / `cuda.shfl_xor_sync`. `install_warp_shuffles` adds them to its fake
`cuda` module, so the lowered source is the same on a GPU and under the simulator. The lanes of one
warp meet at each shuffle (the k-th shuffle of every lane): a lane waits until every other live
lane of its warp has arrived there, has passed it, or waits at a later barrier (then it took
another path and never comes). A lane whose source is outside its warp or block, or did not come, keeps
its own value: the vector engine's semantics (a GPU leaves an inactive source undefined).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

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
    k = getattr(me, "_pramsim_shuffles", 0)
    t = cuda.threadIdx.x
    lane, first = t % 32, t - t % 32
    lanes = range(first, min(first + 32, cuda.blockDim.x))
    with _registry_lock:
        warp = me._manager.__dict__.setdefault(f"_pramsim_warp{first}", _Warp())
    with warp.cond:
        here = warp.values.setdefault(k, {})
        here[lane] = value
        me._pramsim_shuffles = k + 1
        warp.cond.notify_all()
        while not _all_came(me, lanes, k, here):
            warp.cond.wait(0.002)
        warp.values.pop(k - 2, None)  # every lane has left shuffle k - 2 by now
    source = source_of(lane)
    if 0 <= source < 32 and first + source < cuda.blockDim.x and source in here:
        return here[source]
    return value


def _all_came(me: Any, lanes: range, k: int, here: dict[int, Any]) -> bool:
    """Whether every other lane of the warp has brought its value to shuffle k, has passed it, has
    exited, or waits at a later barrier than this lane has passed (it took another path and will not
    come). A lane not started yet, or still being released from the barrier this lane passed, is
    waited for."""
    threads = me._manager.__dict__.get("_pramsim_threads", {})
    passed = getattr(me, "_pramsim_barriers", 0)
    for t in lanes:
        peer = threads.get(t)
        if peer is None or peer.ident is None:
            return False  # not created or started yet: it will come
        if peer is me or t % 32 in here or getattr(peer, "_pramsim_shuffles", 0) > k:
            continue
        if peer.is_alive() and not (peer.syncthreads_blocked and getattr(peer, "_pramsim_barriers", 0) > passed):
            return False
    return True
