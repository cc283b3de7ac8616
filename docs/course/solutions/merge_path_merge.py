"""Lesson 12 solution: merge two sorted arrays of n keys, one processor per output, each finding its
split on the cross diagonal by binary search (merge path). W = Θ(n log n), D = Θ(log n)."""
import numpy as np
from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("a", "b"))
def merge_one(a, b, out, n):
    k = gid()                       # output position: on cross diagonal i + j = k
    lo = max(0, k - n)
    hi = min(k, n)
    while lo < hi:                  # the first i with a[i] > b[k - 1 - i]
        mid = (lo + hi) // 2
        if a[mid] <= b[k - 1 - mid]:
            lo = mid + 1
        else:
            hi = mid
    i = lo
    j = k - lo
    if j >= n or (i < n and a[i] <= b[j]):
        out[k] = a[i]
    else:
        out[k] = b[j]


def make_inputs(rng, n):
    return {"a": np.sort(rng.integers(0, n, n)).astype(np.float32),
            "b": np.sort(rng.integers(0, n, n)).astype(np.float32)}


@program(params={"n": 100}, inputs=make_inputs, reference=lambda a, b, n: np.sort(np.concatenate([a, b])),
         sweep={"n": [10, 100, 1000, 5000]}, rtol=0.0)
def merge_path_merge(a, b, n):
    out = zeros(2 * n, np.float32)
    merge_one[2 * n](a, b, out, n)
    return out
