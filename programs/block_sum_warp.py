"""Reduction as GPUs do it: each thread sums a grid-stride slice, each warp combines its 32 sums
with register shuffles (no shared memory, no barriers), one shared word per warp, and the first
warp combines those; a second launch of one block sums the blocks' partials.

Against block_sum (a shared-memory tree of barrier rounds): the same Θ(n) work, far fewer barriers
(one per block instead of log2 1024 = 10) and shared-memory accesses, and each thread reads
several elements, which is what it takes to reach a GPU's copy bandwidth."""
import numpy as np

from pramsim.dsl import (barrier, block_dim, block_id, float32, gid, kernel, lane, num_procs, program, require,
                         shared, shfl_down, warp_size, zeros)

BLOCK = 256      # threads per block
PER_THREAD = 4   # elements each thread sums at least, before the shuffles (grid size caps at 1024 blocks)


@kernel(readonly=("a",))
def reduce_warps(a, out, n):
    warp_sums = shared(32, float32)  # one word per warp: up to 1024 threads
    t = lane()
    v = 0.0
    j = gid()
    while j < n:                            # grid-stride: consecutive threads read consecutive words
        v = v + a[j]
        j = j + num_procs()
    d = 16
    while d > 0:                            # a warp's 32 sums in 5 shuffle rounds
        v = v + shfl_down(v, d)
        d = d // 2
    if t % warp_size() == 0:
        warp_sums[t // warp_size()] = v
    barrier()
    if t < warp_size():                     # the first warp combines the block's warps
        v = warp_sums[t] if t < block_dim() // warp_size() else 0.0
        d = 16
        while d > 0:
            v = v + shfl_down(v, d)
            d = d // 2
        if t == 0:
            out[block_id()] = v


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.array([a.astype(np.float64).sum()])


@program(params={"n": 4096}, inputs=make_inputs, reference=reference,
         # depth: constant while the grid grows with n (to n = 2**20: 1024 blocks); past it the grid-stride
         # loop grows as n / 2**18, and the per-thread overhead shrinks
         work="n", depth="1",
         counts={"launches": "2", "store.hbm": "min(1024, ceil(n / 1024)) + 1",
                 "load.hbm": "n + min(1024, ceil(n / 1024))"},
         sweep={"n": [4096, 65536, 2**20]})
def block_sum_warp(a, n):
    """Sum n numbers: grid-stride sums, warp shuffles, one shared word per warp; then the partials."""
    require(n >= 1, "n must be at least 1")
    blocks = min(1024, -(-n // (BLOCK * PER_THREAD)))
    partial = zeros(blocks, np.float32)
    reduce_warps[blocks, BLOCK](a, partial, n)
    total = zeros(1, np.float32)
    reduce_warps[1, -(-blocks // 32) * 32](partial, total, blocks)  # one thread per partial, whole warps
    return total
