"""Lesson 3 solution: dot product = elementwise product then a tree sum. W = Θ(n), D = Θ(log n)."""
import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel
def multiply(a, b, c, n):
    i = gid()
    if i < n:
        c[i] = a[i] * b[i]


@kernel
def add_pairs(c, stride, n):
    i = gid() * 2 * stride
    if i + stride < n:
        c[i] = c[i] + c[i + stride]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32), "b": rng.standard_normal(n).astype(np.float32)}


@program(params={"n": 64}, inputs=make_inputs,
         reference=lambda a, b, n: np.array([np.dot(a.astype(np.float64), b.astype(np.float64))]))
def dot(a, b, n):
    c = zeros(n, np.float32)
    multiply[n](a, b, c, n)
    stride = 1
    while stride < n:
        add_pairs[-(-n // (2 * stride))](c, stride, n)
        stride *= 2
    return c[:1]
