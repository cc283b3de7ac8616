"""Bitonic sort of n = 2^m numbers: log n (log n + 1) / 2 compare-exchange rounds of n/2 processors.

Round (k, j) pairs element i with i + j inside blocks of 2j; the pair is sorted ascending when
bit k of i is 0, descending otherwise. Every round is one launch (a global barrier), so the depth
is Θ(log² n) and the work Θ(n log² n): n/2 compare-exchanges per round, log n(log n+1)/2 rounds.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, require


@kernel
def compare_exchange(a, k, j):
    t = gid()
    i = 2 * j * (t // j) + t % j
    l = i + j
    x = a[i]
    y = a[l]
    up = (i & k) == 0
    if (x > y) == up:
        a[i] = y
        a[l] = x


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.sort(a.astype(np.float64))


@program(params={"n": 1024}, inputs=make_inputs, reference=reference, work="n log^2 n", depth="log^2 n",
         counts={"flop.>": "n // 2 * log2(n) * (log2(n) + 1) // 2", "load.hbm": "n * log2(n) * (log2(n) + 1) // 2",
                 "launches": "log2(n) * (log2(n) + 1) // 2"},
         sweep={"n": [2**m for m in range(2, 15, 2)]}, rtol=0.0)
def bitonic_sort(a, n):
    """Sort n = 2^m floats by Batcher's bitonic network, one launch per compare-exchange round."""
    require(n >= 2 and n & (n - 1) == 0, f"n={n} must be a power of two (at least 2)")
    k = 2
    while k <= n:
        j = k // 2
        while j >= 1:
            compare_exchange[n // 2](a, k, j)
            j //= 2
        k *= 2
    return a
