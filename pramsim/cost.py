"""Cost as a value: what the executor measured while running a program.

Unit-cost model (docs/cost-model.md): every load, store, arithmetic, comparison or math-function
operation a processor executes is one unit of work and one step of that processor's depth
counter. Reading a variable, a constant or a processor-id intrinsic, and type conversions, are
free. A barrier lifts the counters of its block to their maximum; a launch boundary lifts all.

Work is kept by category: ("flop", op) for arithmetic on floating-point values, ("int", op) for
integer/index arithmetic and logic, ("load", level) and ("store", level) for memory accesses,
level being "hbm" (global arrays), "sram" (shared arrays) or "local" (per-processor arrays).
Depth is kept in total and per class ("flop", "hbm", "sram"): the longest chain counting only
that class's operations.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import Loc

DEPTH_CLASSES = ("flop", "hbm", "sram")


@dataclass
class LaunchTrace:
    """One kernel launch: its size, work and depth, and the parallelism profile per step."""

    kernel: str
    loc: Loc
    nprocs: int
    block: int
    work: int
    depth: int
    profile: np.ndarray          # profile[t] = operations at step t+1 of this launch (sum = work)
    block_work: np.ndarray       # operations per block
    block_depth: np.ndarray      # steps per block
    block_hbm_bytes: np.ndarray  # bytes each block moves to and from HBM
    block_flops: np.ndarray      # floating-point operations per block
    sram_per_block: int          # bytes of shared arrays a block allocates
    barriers: int = 0            # barrier statements executed (per block, max)
    block_sram_bytes: np.ndarray | None = None  # bytes each block moves to and from shared memory
    sram_arrays: dict[str, int] = field(default_factory=dict)  # shared array name -> bytes per block

    @property
    def nblocks(self) -> int:
        return -(-self.nprocs // self.block)


@dataclass
class CostTrace:
    counts: Counter = field(default_factory=Counter)          # (category, op-or-level) -> operations
    bytes: Counter = field(default_factory=Counter)           # (level, "read"|"write") -> bytes
    depth_by_class: Counter = field(default_factory=Counter)  # class -> steps on its longest chain
    launches: list[LaunchTrace] = field(default_factory=list)
    hbm_allocated_bytes: int = 0
    peak_hbm_bytes: int = 0

    @property
    def work(self) -> int:
        return sum(self.counts.values())

    @property
    def depth(self) -> int:
        return sum(launch.depth for launch in self.launches)

    def category(self, cat: str) -> int:
        return sum(v for (c, _), v in self.counts.items() if c == cat)

    def counter(self, name: str) -> int:
        """A counter by name: work, depth, flop, int, load, store, flop.+, load.hbm, depth.flop, ..."""
        if name == "work":
            return self.work
        if name == "depth":
            return self.depth
        if name == "launches":
            return len(self.launches)
        if name.startswith("depth."):
            return int(self.depth_by_class[name[6:]])
        if name.startswith("bytes."):
            level, _, direction = name[6:].partition(".")
            if direction:
                return int(self.bytes[(level, direction)])
            return int(self.bytes[(level, "read")] + self.bytes[(level, "write")])
        cat, _, op = name.partition(".")
        if op:
            return int(self.counts[(cat, op)])
        return self.category(cat)

    def allocate(self, nbytes: int) -> None:
        self.hbm_allocated_bytes += nbytes
        self.peak_hbm_bytes = max(self.peak_hbm_bytes, self.hbm_allocated_bytes)
