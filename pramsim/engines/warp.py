"""Warp shuffles in the vector engine: a lane reads a value of another lane of its warp, in lockstep.

A warp is 32 consecutive lanes of a block (WARP_LANES). The operation table's row gives the lane a
lane reads (`source_lane`: lane + delta for shfl_down, lane ^ mask for shfl_xor); a lane whose
source is outside its warp, outside its block (a partial warp or block), or not active in this
step gets its own value. CUDA returns the own value for a source outside the warp and leaves an
inactive source undefined: a program that reads an inactive lane computes something else on a
GPU (docs/dsl.md).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..cost import WARP_LANES
from ..lang import ops


def shuffle(row: ops.Op, value: Any, offset: Any, gid: np.ndarray, block: int, active: np.ndarray | None) -> Any:
    """Each processor's shuffled value (`gid`: every processor's id; `active`: the step's mask)."""
    if not isinstance(value, np.ndarray):
        return value  # every lane holds the same value: whichever it reads, it gets it
    lane = gid % block
    in_warp = lane % WARP_LANES
    source_in_warp = row.source_lane(in_warp, np.asarray(offset, np.int64))
    source_lane = lane - in_warp + source_in_warp
    source = gid - lane + source_lane
    ok = (source_in_warp >= 0) & (source_in_warp < WARP_LANES) & (source_lane < block) & (source < len(gid))
    safe = np.where(ok, source, gid)
    if active is not None:
        ok &= active[safe]
    return np.where(ok, value[safe], value)
