"""The intrinsics a kernel calls: gid(), lane(), barrier(), shared(), ...

They are placeholders: kernels are parsed, never run as Python, and the frontend recognises these
functions by identity. Calling one from host code is an error at the caller's line. The user
imports them from pramsim.dsl.
"""
from __future__ import annotations

from typing import Any

from ..errors import PramsimError, caller_loc


def _outside(name: str):
    def intrinsic(*args: Any) -> Any:
        raise PramsimError(f"{name}() can only be called inside a @kernel function", loc=caller_loc(),
                           hint="kernels are parsed, not run as Python: move this call into the kernel body")
    intrinsic.__name__ = name
    intrinsic.__qualname__ = name
    return intrinsic


gid = _outside("gid")            # global processor id: block_id() * block_dim() + lane()
lane = _outside("lane")          # index of the processor in its block (threadIdx.x)
block_id = _outside("block_id")  # index of the block (blockIdx.x)
block_dim = _outside("block_dim")  # processors per block (blockDim.x)
num_blocks = _outside("num_blocks")  # blocks in the launch (gridDim.x)
num_procs = _outside("num_procs")  # processors in the launch
barrier = _outside("barrier")    # wait for every processor of the block (cuda.syncthreads)
shared = _outside("shared")      # shared((shape), dtype): per-block array in SRAM
local = _outside("local")        # local((shape), dtype): per-processor array (registers)
warp_size = _outside("warp_size")  # lanes per warp: 32
shfl_down = _outside("shfl_down")  # shfl_down(v, d): v of the lane d places up in this warp (own v past the end)
shfl_xor = _outside("shfl_xor")    # shfl_xor(v, m): v of lane (lane ^ m) in this warp
# Atomics: atomic_<op>(array, index, value) -> the old value (cas: (array, index, expected, new)).
atomic_add = _outside("atomic_add")
atomic_min = _outside("atomic_min")
atomic_max = _outside("atomic_max")
atomic_exch = _outside("atomic_exch")
atomic_cas = _outside("atomic_cas")
