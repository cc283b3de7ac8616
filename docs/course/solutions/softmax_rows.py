"""Lesson 6 solution: softmax of each row of an n×n matrix, one processor per row, three passes.

W = Θ(n²), D = Θ(n): each processor finds its row max, sums exp(x - max), then writes exp(x - max)/sum.
"""
import math

import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel
def row_softmax(x, y, n):
    i = gid()
    m = x[i, 0]
    for j in range(1, n):
        m = max(m, x[i, j])
    s = 0.0
    for j in range(n):
        s = s + math.exp(x[i, j] - m)
    for j in range(n):
        y[i, j] = math.exp(x[i, j] - m) / s


def reference(x, n):
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@program(params={"n": 16}, inputs=lambda rng, n: {"x": rng.standard_normal((n, n)).astype(np.float32)},
         reference=reference, sweep={"n": [4, 8, 16, 32, 64]})
def softmax_rows(x, n):
    y = zeros((n, n), np.float32)
    row_softmax[n](x, y, n)
    return y
