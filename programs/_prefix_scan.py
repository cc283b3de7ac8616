"""Blelloch's work-efficient exclusive scan of any length n, in place: the kernels and the host loop
that scan_blelloch, compact and radix_sort share (a leading _ keeps this file out of `pramsim list`).

The tree is aligned to the right end of the array: at level d (d = 1, 2, 4, ... < n) processor t
owns the node stored at r = n - 1 - 2dt, whose left child is stored at r - d. A node whose range
reaches past the left end of the array is a truncated one (the missing elements are the identity,
0), and a node whose left child is empty (r - d < 0) needs no processor: so only
(n + d - 1) // (2d) processors are launched, every one adds, and no index needs clamping. That is
n - 1 additions up and n - 1 down for every n, on 2·ceil(log2 n) levels (for n = 2^m the tree is
the textbook's). The up-sweep keeps the partial sums; the root is cleared; the down-sweep gives
each left child its parent's prefix and each right child parent + left sum.
"""
from pramsim.dsl import gid, kernel


@kernel
def up_sweep(a, d, n):
    r = n - 1 - gid() * 2 * d
    a[r] = a[r] + a[r - d]


@kernel
def clear_last(a, n):
    a[n - 1] = 0


@kernel
def down_sweep(a, d, n):
    r = n - 1 - gid() * 2 * d
    left = a[r - d]
    parent = a[r]
    a[r - d] = parent
    a[r] = parent + left


def top_level(n):
    """The largest level d = 2^k < n (0 for n = 1): where the down-sweep starts."""
    d = 1
    while d < n:
        d *= 2
    return d // 2


def exclusive_scan(a, n):
    """Replace a[0 .. n-1] by its exclusive prefix sums: 2(n - 1) additions, 2·ceil(log2 n) + 1 launches."""
    d = 1
    while d < n:
        up_sweep[(n + d - 1) // (2 * d)](a, d, n)
        d *= 2
    clear_last[1](a, n)
    d = top_level(n)
    while d >= 1:
        down_sweep[(n + d - 1) // (2 * d)](a, d, n)
        d //= 2
