"""Elementwise product c[i] = a[i] * b[i]: n processors, one multiplication each.

Every processor loads a[i] and b[i], multiplies, and stores c[i]: exactly n multiplications,
2n HBM loads and n HBM stores. Work Θ(n); the depth is the same constant for every n (one load,
one multiply, one store on each processor's chain), so D = Θ(1): the embarrassingly parallel case.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("a", "b"))
def mul(a, b, c, n):
    i = gid()
    if i < n:
        c[i] = a[i] * b[i]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32),
            "b": rng.standard_normal(n).astype(np.float32)}


def reference(a, b, n):
    return a.astype(np.float64) * b.astype(np.float64)


@program(params={"n": 1024}, inputs=make_inputs, reference=reference, work="n", depth="1",
         counts={"flop": "n", "flop.*": "n", "load.hbm": "2 * n", "store.hbm": "n", "depth.flop": "1"},
         sweep={"n": [16, 100, 1024, 4096, 65536]})
def vector_mul(a, b, n):
    """c = a ∘ b (elementwise) with n processors, in constant depth."""
    c = zeros(n, np.float32)
    mul[n](a, b, c, n)
    return c
