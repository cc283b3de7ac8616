"""Outer product C = a bᵀ (n×n) from two n-vectors with n² processors, one per entry.

Processor k computes C[k // n, k % n] = a[k // n] * b[k % n]: exactly n² multiplications,
2n² HBM loads (each a[i] and b[j] is read concurrently by n processors: CREW) and n² stores.
Work Θ(n²), depth Θ(1): the same few steps for every n.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("a", "b"))
def outer(a, b, c, n):
    k = gid()
    i = k // n
    j = k % n
    c[i, j] = a[i] * b[j]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32),
            "b": rng.standard_normal(n).astype(np.float32)}


def reference(a, b, n):
    return np.outer(a.astype(np.float64), b.astype(np.float64))


@program(params={"n": 64}, inputs=make_inputs, reference=reference, work="n^2", depth="1",
         counts={"flop": "n**2", "flop.*": "n**2", "load.hbm": "2 * n**2", "store.hbm": "n**2",
                 "depth.flop": "1"},
         sweep={"n": [4, 16, 64, 256, 512]})
def outer_product(a, b, n):
    """C = a bᵀ with n² processors in constant depth."""
    c = zeros((n, n), np.float32)
    outer[n * n](a, b, c, n)
    return c
