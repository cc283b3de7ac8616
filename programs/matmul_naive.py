"""Naive matrix product C = A·B (n×n): one processor per output element, each looping over k.

Processor (r, c) does n iterations of two HBM loads, a multiply and an add: work Θ(n³),
depth Θ(n) (the k loop is sequential within a processor). Exactly 2n³ flops and 2n³ HBM loads.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("a", "b"))
def matmul_row_col(a, b, out, n):
    i = gid()
    r = i // n
    c = i % n
    s = 0.0
    for k in range(n):
        s = s + a[r, k] * b[k, c]
    out[r, c] = s


def make_inputs(rng, n):
    return {"a": rng.standard_normal((n, n)).astype(np.float32),
            "b": rng.standard_normal((n, n)).astype(np.float32)}


def reference(a, b, n):
    return a.astype(np.float64) @ b.astype(np.float64)


@program(params={"n": 32}, inputs=make_inputs, reference=reference, work="n^3", depth="n",
         counts={"flop": "2 * n**3", "flop.*": "n**3", "load.hbm": "2 * n**3", "store.hbm": "n**2",
                 "bytes.hbm.read": "8 * n**3"},
         sweep={"n": [4, 8, 16, 32, 48]}, rtol=1e-4)
def matmul_naive(a, b, n):
    """C = A·B with n² processors, one per output, each an n-step dot product."""
    out = zeros((n, n), np.float32)
    matmul_row_col[n * n](a, b, out, n)
    return out
