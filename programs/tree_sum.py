"""Tree reduction: the sum of n numbers in ceil(log2 n) rounds of pairwise additions (n - 1 in all)."""
import numpy as np

from pramsim.dsl import gid, kernel, program


@kernel
def add_pairs(a, stride, n):
    i = gid() * 2 * stride
    if i + stride < n:
        a[i] = a[i] + a[i + stride]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.array([a.astype(np.float64).sum()])


@program(params={"n": 1024}, inputs=make_inputs, reference=reference,
         work="n", depth="log n",
         counts={"flop": "n - 1", "flop.+": "n - 1", "depth.flop": "ceil(log2(n))"},
         sweep={"n": [2**k for k in range(6, 17, 2)] + [1000, 3000]})
def tree_sum(a, n):
    """Sum n numbers by a balanced tree of pairwise additions, one launch per level."""
    stride = 1
    while stride < n:
        add_pairs[-(-n // (2 * stride))](a, stride, n)
        stride *= 2
    return a[:1]
