"""What numba's CUDA simulator lacks and lowered kernels use: warp shuffles.

numba-cuda's simulator (NUMBA_ENABLE_CUDASIM=1) runs each thread of a block as a Python thread but
has no `cuda.shfl_down_sync` / `cuda.shfl_xor_sync`. `install_warp_shuffles` adds them to its fake
`cuda` module, so the lowered source is the same on a GPU and under the simulator. They exchange
values through per-block scratch arrays and a `syncthreads()`, so, unlike a GPU, every live thread
of the block must reach the same shuffles (as in a warp reduction); a lane whose source is
outside its warp or block, or has exited, gets its own value (the vector engine's semantics).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

_MAX_BLOCK = 1024  # threads per block on every CUDA GPU


def install_warp_shuffles() -> None:
    """Give the simulator's fake `cuda` module shfl_down_sync and shfl_xor_sync (once)."""
    from numba.cuda.simulator import kernelapi  # noqa: PLC0415 - only under the simulator

    module = kernelapi.FakeCUDAModule
    if getattr(module, "_pramsim_shuffles", False):
        return
    module.shfl_down_sync = lambda cuda, mask, value, delta: _shuffle(cuda, value, lambda lane: lane + delta)
    module.shfl_xor_sync = lambda cuda, mask, value, lane_mask: _shuffle(cuda, value, lambda lane: lane ^ lane_mask)
    module._pramsim_shuffles = True


def _shuffle(cuda: Any, value: Any, source_of: Callable[[int], int]) -> Any:
    """One exchange, one syncthreads(): each thread's k-th shuffle writes (k, value) to its slot of
    scratch array k % 2; a thread can reuse an array only after the next shuffle's syncthreads(),
    which every reader of the previous one has passed. A slot with another k belongs to a thread
    that has exited (or is elsewhere): the reader keeps its own value."""
    me = threading.current_thread()
    k = getattr(me, "_pramsim_shuffles", 0)
    me._pramsim_shuffles = k + 1
    # two arrays: the simulator tells shared arrays apart by the line that allocates them
    even = cuda.shared.array(_MAX_BLOCK, object)
    odd = cuda.shared.array(_MAX_BLOCK, object)
    slots = odd if k % 2 else even
    t = cuda.threadIdx.x
    slots[t] = (k, value)
    cuda.syncthreads()
    lane = t % 32
    source = source_of(lane)
    got = slots[t - lane + source] if 0 <= source < 32 and t - lane + source < cuda.blockDim.x else None
    return got[1] if got is not None and got[0] == k else value
