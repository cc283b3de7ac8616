"""Lesson 4 solution: odd-even transposition sort, n rounds of compare-exchange. W = Θ(n²), D = Θ(n)."""
import numpy as np
from pramsim.dsl import gid, kernel, program


@kernel
def exchange(a, parity, n):
    i = 2 * gid() + parity
    if i + 1 < n:
        x = a[i]
        y = a[i + 1]
        if x > y:
            a[i] = y
            a[i + 1] = x


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.standard_normal(n).astype(np.float32)},
         reference=lambda a, n: np.sort(a), sweep={"n": [8, 16, 32, 64, 128]})
def odd_even_sort(a, n):
    for r in range(n):
        exchange[n // 2](a, r % 2, n)
    return a
