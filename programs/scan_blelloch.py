"""Blelloch's work-efficient exclusive scan: an up-sweep (reduce) and a down-sweep, in place.

Up-sweep level d (d = 1, 2, 4, ... < n): each processor adds a left child into its right sibling,
keeping the partial sums of a balanced tree; one processor then clears the root a[n - 1];
down-sweep level d (from the top): each processor moves its node's value (the prefix before it)
into the left child and gives the right child that value plus the left child's sum.

Any n works: the tree is aligned to the right end of the array and the part of it past the left
end is treated as zeros without being stored or launched (programs/_prefix_scan.py, whose kernels
compact and radix_sort use too). For n = 2^m it is the textbook's tree.

In all exactly 2(n - 1) additions, with 2 ceil(log2 n) of them on the longest chain, in
2 ceil(log2 n) + 1 launches. Work Θ(n), depth Θ(log n), EREW.
"""
import numpy as np

from _prefix_scan import exclusive_scan
from pramsim.dsl import program


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    out = np.zeros(n)
    out[1:] = np.cumsum(a.astype(np.float64))[:-1]
    return out


@program(params={"n": 1024}, inputs=make_inputs, reference=reference, work="n", depth="log n",
         counts={"flop.+": "2 * (n - 1)", "depth.flop": "2 * ceil(log2(n))", "launches": "2 * ceil(log2(n)) + 1",
                 "load.hbm": "4 * (n - 1)", "store.hbm": "3 * (n - 1) + 1"},
         sweep={"n": [16, 100, 1000, 4096, 10000, 65536]})
def scan_blelloch(a, n):
    """Exclusive prefix sums of n numbers: n - 1 additions up, n - 1 down."""
    exclusive_scan(a, n)
    return a
