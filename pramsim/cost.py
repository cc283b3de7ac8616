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

# Shared-memory banks (docs/cost-model.md, "Shared-memory wavefronts"): the lanes of a block run in warps of
# WARP_LANES consecutive lanes; shared memory is BANKS banks of BANK_BYTES, word w in bank w % BANKS.
# One warp-wide access takes as many wavefronts (shared-memory cycles) as the most distinct words
# it touches in one bank; lanes reading one word share it (broadcast). Every NVIDIA GPU since
# Maxwell has these figures (CUDA C Programming Guide, compute capabilities 5.x-9.0).
WARP_LANES = 32
BANKS = 32
BANK_BYTES = 4


def warp_wavefronts(warp: np.ndarray, offset: np.ndarray, itemsize: int) -> tuple[np.ndarray, np.ndarray]:
    """Wavefronts of one access, per warp: lane i is in warp `warp[i]` and reads or writes element
    `offset[i]`; lanes are listed warp by warp (warp ids non-decreasing, as processor order gives).

    Returns (warps, wavefronts): each warp that took part once, with its degree, the largest count
    of distinct words in one bank. An element of itemsize bytes covers the words
    offset*itemsize // BANK_BYTES onwards, ceil(itemsize / BANK_BYTES) of them. Linear in the lanes
    but for sorting each warp's few words: this runs on every shared access of the vector engine.
    """
    warp = np.asarray(warp, np.int64)
    first = np.asarray(offset, np.int64) * itemsize // BANK_BYTES
    span = max(1, -(-itemsize // BANK_BYTES))
    new = np.r_[True, warp[1:] != warp[:-1]]
    starts = np.flatnonzero(new)
    row = np.cumsum(new) - 1
    slot = np.arange(len(warp)) - starts[row]          # the lane's place among its warp's lanes
    words = np.full((len(starts), (int(slot.max()) + 1) * span), -1, np.int64)
    for j in range(span):
        words[row, slot * span + j] = first + j
    words.sort(axis=1)
    distinct = words >= 0                               # -1: no lane there
    distinct[:, 1:] &= words[:, 1:] != words[:, :-1]
    banks = np.arange(len(starts))[:, None] * BANKS + words % BANKS
    per_bank = np.bincount(banks.ravel(), distinct.ravel(), len(starts) * BANKS).reshape(-1, BANKS)
    return warp[starts], per_bank.max(axis=1).astype(np.int64)


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
    block_sram_wavefronts: np.ndarray | None = None  # shared-memory wavefronts per block (bank conflicts)
    class_depth: dict[str, int] = field(default_factory=dict)  # class -> this launch's longest chain of that class
    arg_bytes: int = 0           # bytes of the global arrays passed to the launch (its footprint at most)
    read_arg_bytes: int = 0      # bytes of the global arrays the kernel loads from (its read footprint at most)
    counts: Counter = field(default_factory=Counter)  # this launch's share of CostTrace.counts
    bytes: Counter = field(default_factory=Counter)   # this launch's share of CostTrace.bytes
    runtime_divides: int = 0     # integer // and % by a divisor known only at run time (ir.runtime_divisions)

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

    @property
    def hbm_bytes(self) -> int:
        """Bytes moved to and from HBM (global arrays), read and write together."""
        return int(self.bytes[("hbm", "read")] + self.bytes[("hbm", "write")])

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

    def add(self, launch: LaunchTrace) -> None:
        """Append a finished launch and add its ledgers (counts, bytes, class depths) to the program's."""
        self.launches.append(launch)
        self.counts.update(launch.counts)
        self.bytes.update(launch.bytes)
        for c, steps in launch.class_depth.items():
            self.depth_by_class[c] += steps

    def allocate(self, nbytes: int) -> None:
        self.hbm_allocated_bytes += nbytes
        self.peak_hbm_bytes = max(self.peak_hbm_bytes, self.hbm_allocated_bytes)
