"""Lesson 1 solution: c = a + b with n processors, W = Θ(n), D = Θ(1)."""
import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel
def add(a, b, c, n):
    i = gid()
    if i < n:
        c[i] = a[i] + b[i]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32), "b": rng.standard_normal(n).astype(np.float32)}


@program(params={"n": 64}, inputs=make_inputs, reference=lambda a, b, n: a.astype(np.float64) + b)
def vector_add(a, b, n):
    c = zeros(n, np.float32)
    add[n](a, b, c, n)
    return c
