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
        cond = truth(cond)
        arr = cond if self.arr is None else (self.arr & cond)
        n = int(np.count_nonzero(arr))
        return Mask(None, n) if n == nprocs else Mask(arr, n)

    def minus(self, other: np.ndarray, nprocs: int) -> "Mask":
        arr = ~other if self.arr is None else (self.arr & ~other)
        n = int(np.count_nonzero(arr))
        return Mask(None, n) if n == nprocs else Mask(arr, n)


class Jumps:
    """The processors that left the innermost loop with `break` (out until that loop ends) and those
    that skip the rest of its current iteration (`continue`, and `break`). Each loop has its own."""

    __slots__ = ("broken", "skipped")

    def __init__(self) -> None:
        self.broken: np.ndarray | None = None
        self.skipped: np.ndarray | None = None

    def add(self, mask: Mask, nprocs: int, leave: bool) -> None:
        """The processors of `mask` jump: out of the loop (leave=True) or to its next iteration."""
        arr = np.ones(nprocs, bool) if mask.arr is None else mask.arr
        self.skipped = arr.copy() if self.skipped is None else (self.skipped | arr)
        if leave:
            self.broken = arr.copy() if self.broken is None else (self.broken | arr)

    def next_iteration(self, mask: Mask, nprocs: int) -> Mask:
        """The processors of `mask` that go round again: those that continued rejoin."""
        self.skipped = None
        return mask if self.broken is None else mask.minus(self.broken, nprocs)


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

    def at(self, mask: Mask) -> Any:
        """The active processors' values (one number while they all share it)."""
        return self.v[mask.arr] if isinstance(self.v, np.ndarray) and mask.arr is not None else self.v

    def add_each(self, mask: Mask, nprocs: int, amounts: np.ndarray) -> None:
        """Add amounts[i] to the i-th active processor's counter."""
        if not isinstance(self.v, np.ndarray):
            self.v = np.full(nprocs, self.v, dtype=np.int64)
        if mask.arr is None:
            self.v += amounts
        else:
            self.v[mask.arr] += amounts

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


def truth(v: Any) -> Any:
    """A condition as bools (a per-processor vector of numbers becomes nonzero-is-true)."""
    return v.astype(bool) if isinstance(v, np.ndarray) and v.dtype != bool else v


def lane_ranges(idx: np.ndarray) -> str:
    """[0,1,2,5,7,8] -> '0-2, 5, 7-8' (at most a few groups)."""
    groups: list[str] = []
    start = prev = None
    for i in map(int, idx):
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            groups.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = i
    if start is not None:
        groups.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(groups[:6]) + (" ..." if len(groups) > 6 else "")
