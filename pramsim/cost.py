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


# Global-memory sectors (docs/cost-model.md, "Global-memory sectors (coalescing)"): the memory
# system serves a warp's global loads and stores in SECTOR_BYTES-byte sectors; one warp-wide access
# costs one sector per distinct aligned 32-byte piece its active lanes touch, so 32 lanes reading
# consecutive 4-byte words take 4 sectors and 32 lanes at a stride of 8 or more words take 32
# (CUDA C++ Best Practices Guide, "Coalesced Access to Global Memory"). Arrays are taken to start
# on a sector (cudaMalloc aligns to 256 bytes).
SECTOR_BYTES = 32


def _warp_units(warp: np.ndarray, offset: np.ndarray, itemsize: int, unit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The units (`unit`-byte words or sectors) of one access, per warp: lane i is in warp `warp[i]`
    and touches element `offset[i]` (itemsize bytes); lanes are listed warp by warp.

    Returns (warps, units, distinct): each warp that took part once; a matrix with a row per warp
    of its lanes' units, sorted, -1 where no lane is; and a mask of the first of each distinct unit.
    An element covers the units offset*itemsize // unit onwards, ceil(itemsize / unit) of them."""
    warp = np.asarray(warp, np.int64)
    first = np.asarray(offset, np.int64) * itemsize // unit
    span = max(1, -(-itemsize // unit))
    new = np.r_[True, warp[1:] != warp[:-1]]
    starts = np.flatnonzero(new)
    row = np.cumsum(new) - 1
    slot = np.arange(len(warp)) - starts[row]          # the lane's place among its warp's lanes
    units = np.full((len(starts), (int(slot.max()) + 1) * span), -1, np.int64)
    for j in range(span):
        units[row, slot * span + j] = first + j
    units.sort(axis=1)
    distinct = units >= 0                               # -1: no lane there
    distinct[:, 1:] &= units[:, 1:] != units[:, :-1]
    return warp[starts], units, distinct


def warp_wavefronts(warp: np.ndarray, offset: np.ndarray, itemsize: int) -> tuple[np.ndarray, np.ndarray]:
    """Wavefronts of one shared-memory access, per warp: lane i is in warp `warp[i]` and reads or
    writes element `offset[i]`; lanes are listed warp by warp (warp ids non-decreasing, as processor
    order gives).

    Returns (warps, wavefronts): each warp that took part once, with its degree, the largest count
    of distinct words in one bank. Linear in the lanes but for sorting each warp's few words: this
    runs on every shared access of the vector engine.
    """
    warps, words, distinct = _warp_units(warp, offset, itemsize, BANK_BYTES)
    banks = np.arange(len(warps))[:, None] * BANKS + words % BANKS
    per_bank = np.bincount(banks.ravel(), distinct.ravel(), len(warps) * BANKS).reshape(-1, BANKS)
    return warps, per_bank.max(axis=1).astype(np.int64)


def warp_sectors(warp: np.ndarray, offset: np.ndarray, itemsize: int) -> tuple[np.ndarray, np.ndarray]:
    """Global-memory sectors of one access, per warp (arguments as warp_wavefronts): each warp that
    took part once, with the number of distinct SECTOR_BYTES sectors its lanes' elements cover.
    The definition, in plain NumPy; the vector engine counts the same in one compiled pass
    (pramsim.engines.sectors), the compiled engine in its recording function."""
    warps, _, distinct = _warp_units(warp, offset, itemsize, SECTOR_BYTES)
    return warps, distinct.sum(axis=1).astype(np.int64)


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
    # Global-memory sectors per block: for each global load, store or atomic by a warp, the distinct
    # SECTOR_BYTES sectors its active lanes' elements cover, summed (coalescing; warp_sectors).
    block_hbm_sectors: np.ndarray | None = None
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

