"""Elementwise product c[i] = a[i] * b[i] with a fixed grid: each processor walks the array.

A grid-stride loop (the CUDA idiom for memory-bound kernels): the launch has P = blocks · threads
processors, at most enough to cover n; processor g handles elements g, g + P, g + 2P, ... So a
launch sized to the GPU (e.g. blocks = 8 per SM) covers any n, and each processor issues several
independent loads. Same counts as vector_mul: n multiplications, 2n HBM loads, n stores; depth
Θ(n / P) for a fixed grid. Not measured on a GPU yet: nothing is claimed about its speed.
"""
import numpy as np

from pramsim.dsl import gid, kernel, num_procs, program, require, zeros


@kernel(readonly=("a", "b"))
def mul_strided(a, b, c, n):
    i = gid()
    stride = num_procs()
    while i < n:
        c[i] = a[i] * b[i]
        i = i + stride


def make_inputs(rng, n, blocks, threads):
    return {"a": rng.standard_normal(n).astype(np.float32),
            "b": rng.standard_normal(n).astype(np.float32)}


def reference(a, b, n, blocks, threads):
    return a.astype(np.float64) * b.astype(np.float64)


@program(params={"n": 4096, "blocks": 4, "threads": 32}, inputs=make_inputs, reference=reference,
         work="n", depth="n",
         counts={"flop": "n", "flop.*": "n", "load.hbm": "2 * n", "store.hbm": "n",
                 "depth.flop": "ceil(n / min(blocks * threads, threads * ceil(n / threads)))"},
         sweep={"n": [256, 1000, 4096, 16384]})
def vector_mul_gridstride(a, b, n, blocks, threads):
    """c = a ∘ b with at most blocks × threads processors, each looping over the array."""
    require(threads <= 1024, f"threads={threads} must be at most 1024")
    grid = min(blocks, -(-n // threads))   # never more blocks than it takes to cover n once
    c = zeros(n, np.float32)
    mul_strided[grid, threads](a, b, c, n)
    return c
