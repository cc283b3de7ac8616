"""Tree reduction with max: the largest of n numbers in ceil(log2 n) rounds of pairwise maxima.

Like tree_sum: round s (stride 2^s) has ceil(n / 2^(s+1)) processors, each replacing a[i] by
max(a[i], a[i + stride]) when its partner exists. Exactly n - 1 max operations in all, and
ceil(log2 n) of them on the longest chain. Work Θ(n), depth Θ(log n), EREW.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program


@kernel
def max_pairs(a, stride, n):
    i = gid() * 2 * stride
    if i + stride < n:
        a[i] = max(a[i], a[i + stride])


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.array([a.astype(np.float64).max()])


@program(params={"n": 1024}, inputs=make_inputs, reference=reference,
         work="n", depth="log n",
         counts={"flop": "n - 1", "flop.max": "n - 1", "depth.flop": "ceil(log2(n))"},
         sweep={"n": [2**k for k in range(6, 17, 2)] + [1000, 3000]}, rtol=0.0)
def tree_max(a, n):
    """Maximum of n numbers by a balanced tree of pairwise max, one launch per level."""
    stride = 1
    while stride < n:
        max_pairs[-(-n // (2 * stride))](a, stride, n)
        stride *= 2
    return a[:1]
