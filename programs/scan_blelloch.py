"""Blelloch's work-efficient exclusive scan: an up-sweep (reduce) and a down-sweep, in place.

n must be a power of two (checked with require; pad the input with zeros to the next power of two
for other sizes — the program does not pad, so that the textbook counts stay exact). Up-sweep
level d (d = 0 .. log n - 1) has n / 2^(d+1) processors, each adding a[i + 2^d - 1] into
a[i + 2^(d+1) - 1]: n - 1 additions. One processor then clears the root a[n - 1]. Down-sweep
level d (d = log n - 1 .. 0): each processor swaps the left child into the right and adds:
left <- right, right <- right + old left: again n - 1 additions.

In all exactly 2(n - 1) additions and 2 log2 n of them on the longest chain (the declared bounds
are the textbook's W <= 2(n-1), D <= 2 log n; for n a power of two they are met with equality).
Work Θ(n), depth Θ(log n), EREW.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, require


@kernel
def up_sweep(a, d):
    i = gid() * 2 * d
    a[i + 2 * d - 1] = a[i + 2 * d - 1] + a[i + d - 1]


@kernel
def clear_last(a, n):
    a[n - 1] = 0.0


@kernel
def down_sweep(a, d):
    i = gid() * 2 * d
    t = a[i + d - 1]
    a[i + d - 1] = a[i + 2 * d - 1]
    a[i + 2 * d - 1] = a[i + 2 * d - 1] + t


def make_inputs(rng, n):
    require(n >= 1 and n & (n - 1) == 0, f"n={n} must be a power of two; pad the input with zeros to "
                                         f"{1 << (n - 1).bit_length()} for this size")
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    out = np.zeros(n)
    out[1:] = np.cumsum(a.astype(np.float64))[:-1]
    return out


@program(params={"n": 1024}, inputs=make_inputs, reference=reference, work="n", depth="log n",
         counts={"flop.+": "2 * (n - 1)", "depth.flop": "2 * log2(n)", "launches": "2 * log2(n) + 1"},
         at_most={"flop": "2 * (n - 1)", "depth.flop": "2 * ceil(log2(n))"},
         sweep={"n": [2**k for k in range(4, 17, 2)]})
def scan_blelloch(a, n):
    """Exclusive prefix sums of n = 2^m numbers: n - 1 additions up, n - 1 down."""
    require(n >= 1 and n & (n - 1) == 0, f"n={n} must be a power of two")
    d = 1
    while d < n:
        up_sweep[n // (2 * d)](a, d)
        d *= 2
    clear_last[1](a, n)
    d = n // 2
    while d >= 1:
        down_sweep[n // (2 * d)](a, d)
        d //= 2
    return a
