"""Lesson 7 solution: softmax of each row in one streaming pass for max and sum (the online softmax).

Each processor keeps a running max m and a running sum s of exp(x - m); when m grows, s is rescaled
by exp(m_old - m_new). A second pass writes the outputs. W = Θ(n²), D = Θ(n) with n processors.
"""
import math

import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel
def online_row_softmax(x, y, n):
    i = gid()
    m = x[i, 0]
    s = 1.0
    for j in range(1, n):
        v = x[i, j]
        m_new = max(m, v)
        s = s * math.exp(m - m_new) + math.exp(v - m_new)
        m = m_new
    for j in range(n):
        y[i, j] = math.exp(x[i, j] - m) / s


def reference(x, n):
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@program(params={"n": 16}, inputs=lambda rng, n: {"x": rng.standard_normal((n, n)).astype(np.float32)},
         reference=reference, sweep={"n": [4, 8, 16, 32, 64]})
def online_softmax_rows(x, n):
    y = zeros((n, n), np.float32)
    online_row_softmax[n](x, y, n)
    return y
