"""A warp's global-memory sectors (coalescing), as pramsim.cost.warp_sectors defines them, in numba
for both engines: the vector engine counts a launch's accesses per block (sectors_per_block), the
compiled engine's recording blocks each warp's (compiled.support._count). tests/test_coalescing.py
checks both against hand counts. sectors_per_block is cached by numba against this file only: a
change of SECTOR_BYTES or WARP_LANES in cost.py needs its cache cleared (the compiled engine's
kernels carry those constants in their source)."""
import numba
import numpy as np
from numba.extending import register_jitable

from .. import compiling
from ..cost import SECTOR_BYTES, WARP_LANES

compiling.install()  # every engine's numba code comes through here: its compiles announced, never interrupted


@register_jitable  # called from compiled code only (see compiled/support.py on why not njit)
def distinct(values, n):
    """The distinct values among values[:n] (a warp's sectors): counted where they change when
    they run one way (lanes in address order, the common access), else after an insertion sort of
    values[:n] in place (at most a warp's few dozen)."""
    up = True
    down = True
    for x in range(1, n):
        up = up and values[x] >= values[x - 1]
        down = down and values[x] <= values[x - 1]
        if not (up or down):
            break
    if not (up or down):
        for a in range(1, n):
            v = values[a]
            c = a - 1
            while c >= 0 and values[c] > v:
                values[c + 1] = values[c]
                c -= 1
            values[c + 1] = v
    count = 1 if n > 0 else 0
    for x in range(1, n):
        if values[x] != values[x - 1]:
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def sectors_per_block(gid, offset, itemsize, block, out):
    """Add to out[b] the sectors of block b's warps for one access by the lanes `gid` (ascending)
    to the elements `offset` (flat) of `itemsize` bytes."""
    n = len(gid)
    span = (itemsize + SECTOR_BYTES - 1) // SECTOR_BYTES + 1
    buf = np.empty(WARP_LANES * span, np.int64)
    i = 0
    while i < n:
        b = gid[i] // block
        start = b * block + (gid[i] - b * block) // WARP_LANES * WARP_LANES   # the warp's first lane
        end = min(start + WARP_LANES, (b + 1) * block)
        j = i
        m = 0
        while j < n and gid[j] < end:
            lo = offset[j] * itemsize // SECTOR_BYTES
            hi = (offset[j] * itemsize + itemsize - 1) // SECTOR_BYTES
            for sector in range(lo, hi + 1):
                buf[m] = sector
                m += 1
            j += 1
        out[b] += distinct(buf, m)
        i = j
