"""Lesson 2 solution: sum with about n / log n processors.

Phase 1: processor i adds its own block of k = ceil(log2 n) elements sequentially (depth Θ(log n)).
Phase 2: a tree sum over the n / k partial sums (depth Θ(log n)). W = Θ(n), D = Θ(log n),
but only n / log n processors are ever busy at once, so by Brent T_p = O(n/p + log n) needs no more.
"""
import math

import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel
def block_sums(a, partial, k, n):
    i = gid()
    s = 0.0
    for j in range(i * k, min(i * k + k, n)):
        s = s + a[j]
    partial[i] = s


@kernel
def add_pairs(a, stride, m):
    i = gid() * 2 * stride
    if i + stride < m:
        a[i] = a[i] + a[i + stride]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.standard_normal(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def blocked_sum(a, n):
    k = max(1, math.ceil(math.log2(n)))
    m = -(-n // k)
    partial = zeros(m, np.float32)
    block_sums[m](a, partial, k, n)
    stride = 1
    while stride < m:
        add_pairs[-(-m // (2 * stride))](partial, stride, m)
        stride *= 2
    return partial[:1]
