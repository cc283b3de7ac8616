"""The vector engine's per-processor state: which processors are active (a mask), and counters that
stay one scalar while every processor has the same value."""
from __future__ import annotations

from typing import Any

import numpy as np


class Mask:
    """The active processors: `arr` is a bool vector, or None when all are active; `n` counts them."""

    __slots__ = ("arr", "n")

    def __init__(self, arr: np.ndarray | None, n: int):
        self.arr = arr
        self.n = n

    def select(self, cond: Any, nprocs: int) -> "Mask":
        """The processors of this mask for which `cond` (scalar or vector) holds."""
        if not isinstance(cond, np.ndarray):
            return self if cond else Mask(np.zeros(nprocs, bool), 0)
        cond = _truth(cond)
        arr = cond if self.arr is None else (self.arr & cond)
        n = int(np.count_nonzero(arr))
        return Mask(None, n) if n == nprocs else Mask(arr, n)

    def minus(self, other: np.ndarray, nprocs: int) -> "Mask":
        arr = ~other if self.arr is None else (self.arr & ~other)
        n = int(np.count_nonzero(arr))
        return Mask(None, n) if n == nprocs else Mask(arr, n)


class LaneCounter:
    """A per-processor counter that stays one scalar while every processor has the same value."""

    __slots__ = ("v",)

    def __init__(self) -> None:
        self.v: int | np.ndarray = 0

    def add(self, mask: Mask, nprocs: int, amount: int = 1) -> None:
        if mask.arr is None:
            self.v = self.v + amount
            return
        if not isinstance(self.v, np.ndarray):
            self.v = np.full(nprocs, self.v, dtype=np.int64)
        self.v[mask.arr] += amount

    def lift_blocks(self, starts: np.ndarray, sizes: np.ndarray) -> None:
        if isinstance(self.v, np.ndarray):
            block_max = np.maximum.reduceat(self.v, starts)
            self.v = int(block_max[0]) if block_max.min() == block_max.max() else np.repeat(block_max, sizes)

    def max(self) -> int:
        return int(self.v.max()) if isinstance(self.v, np.ndarray) else int(self.v)

    def per_block(self, starts: np.ndarray, sizes: np.ndarray, reduce: Any) -> np.ndarray:
        if isinstance(self.v, np.ndarray):
            return reduce.reduceat(self.v, starts)
        return np.full(len(starts), self.v, dtype=np.int64) * (sizes if reduce is np.add else 1)


def _truth(v: Any) -> Any:
    return v.astype(bool) if isinstance(v, np.ndarray) and v.dtype != bool else v
