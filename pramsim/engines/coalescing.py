"""Per-warp memory transactions of one launch, per block, for the vector engine: shared-memory
wavefronts (bank conflicts) and global-memory sectors (coalescing), as pramsim.cost defines them
(warp_wavefronts, warp_sectors; docs/cost-model.md)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..cost import BANK_BYTES, WARP_LANES, warp_wavefronts


class Transactions:
    """The wavefronts and sectors of a launch's blocks so far (`per_block[level]`, "sram" or "hbm")."""

    def __init__(self, block: int, nblocks: int) -> None:
        self.B = block
        self.nblocks = nblocks
        self.per_block = {level: np.zeros(nblocks, np.int64) for level in ("sram", "hbm")}
        self._last: dict[tuple, tuple] = {}  # (place, item size) -> (offsets, mask, per-block wavefronts)

    def add(self, level: str, gid: np.ndarray, offset: np.ndarray, mask: Any, place: Any, itemsize: int) -> None:
        """Add one access by the active lanes `gid` (ascending) to elements `offset` (flat, in the
        lane's array); `mask` is the lanes' mask array (None: all), `place` the access's site.

        Global sectors are counted in one compiled pass. Wavefronts do not change when every lane's
        word moves by one whole number of bank words, which is what a loop like `for k: ... As[ty, k]`
        does from one iteration to the next: a shared access at the same place, by the same lanes,
        whose offsets all moved so, reuses the last count (checking that is one pass over the lanes;
        counting is several)."""
        if level == "hbm":
            from .sectors import sectors_per_block  # noqa: PLC0415 - only runs that touch global memory pay numba's import
            sectors_per_block(np.ascontiguousarray(gid, np.int64), np.ascontiguousarray(offset, np.int64),
                              itemsize, self.B, self.per_block["hbm"])  # adds to it in place
            return
        key = (place, itemsize)
        last = self._last.get(key)
        if last is not None and len(last[0]) == len(offset) and (last[1] is mask or np.array_equal(last[1], mask)):
            shift = offset[0] - last[0][0]
            if shift * itemsize % BANK_BYTES == 0 and np.array_equal(offset - shift, last[0]):
                self.per_block["sram"] += last[2]
                self._last[key] = (offset, mask, last[2])
                return
        per_block = -(-self.B // WARP_LANES)
        warps, amount = warp_wavefronts(gid // self.B * per_block + gid % self.B // WARP_LANES, offset, itemsize)
        counted = np.bincount(warps // per_block, amount, self.nblocks).astype(np.int64)
        self.per_block["sram"] += counted
        self._last[key] = (offset, mask, counted)
