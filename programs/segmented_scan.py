"""Segmented inclusive scan: prefix sums that restart at every segment head (heads[i] = 1).

Work-efficient, after Blelloch (1990) and Sengupta et al. (2007): the up-sweep and down-sweep of
scan_blelloch's tree (aligned to the right end, so any n works: programs/_prefix_scan.py) on
(value, flag) pairs, where a node's flag says whether its range holds a segment head.

- Up-sweep, node r with left child l = r - d: unless the right range holds a head, add the left
  sum into it (a head stops the sum); the node's flag is the or of its children's.
- Clear the root; down-sweep: the left child gets the node's value (the prefix before it, within
  its segment); the right child gets 0 if it starts with a head (original heads[l + 1]), the left
  child's sum alone if the left range holds a head, and node value + left sum otherwise.

That leaves the exclusive segmented scan; a last launch adds each element to it (inclusive).
At most 2(n - 1) additions in the sweeps (fewer where heads stop sums) and n in the last launch,
on 2 ceil(log2 n) + 1 levels: work Θ(n), depth Θ(log n). EREW: the down-sweep's read of
heads[l + 1] is its processor's alone, as are the tree's cells.
"""
import numpy as np

from _prefix_scan import top_level
from pramsim.dsl import gid, int32, kernel, program, zeros


@kernel(readonly=("x", "heads"))
def copy_in(x, heads, s, f, n):
    i = gid()
    if i < n:
        s[i] = x[i]
        f[i] = heads[i]


@kernel
def seg_up_sweep(s, f, d, n):
    r = n - 1 - gid() * 2 * d
    fr = f[r]
    if fr == 0:
        s[r] = s[r - d] + s[r]
    f[r] = fr | f[r - d]


@kernel
def seg_clear_last(s, n):
    s[n - 1] = 0


@kernel(readonly=("heads",))
def seg_down_sweep(s, f, heads, d, n):
    r = n - 1 - gid() * 2 * d
    l = r - d
    left = s[l]
    parent = s[r]
    s[l] = parent
    if heads[l + 1] == 1:
        s[r] = 0.0
    elif f[l] == 1:
        s[r] = left
    else:
        s[r] = parent + left
    f[l] = 0


@kernel(readonly=("x",))
def add_own(x, s, n):
    i = gid()
    if i < n:
        s[i] = s[i] + x[i]


def make_inputs(rng, n):
    heads = (rng.random(n) < 0.125).astype(np.int32)
    heads[0] = 1
    return {"x": rng.standard_normal(n).astype(np.float32), "heads": heads}


def reference(x, heads, n):
    sums = np.cumsum(x.astype(np.float64))
    before = np.concatenate([[0.0], sums[:-1]])
    segment = np.cumsum(heads) - 1                     # the segment each element belongs to
    return sums - before[np.flatnonzero(heads)][segment]


@program(params={"n": 1000}, inputs=make_inputs, reference=reference, work="n", depth="log n",
         counts={"launches": "2 * ceil(log2(n)) + 3"},
         at_most={"flop.+": "2 * (n - 1) + n", "depth.flop": "2 * ceil(log2(n)) + 1"},
         sweep={"n": [10, 100, 1000, 5000, 30000]}, rtol=1e-4)
def segmented_scan(x, heads, n):
    """Inclusive prefix sums within segments (heads[i] = 1 starts one), work-efficient."""
    s = zeros(n, np.float32)
    f = zeros(n, int32)
    copy_in[n](x, heads, s, f, n)
    d = 1
    while d < n:
        seg_up_sweep[(n + d - 1) // (2 * d)](s, f, d, n)
        d *= 2
    seg_clear_last[1](s, n)
    d = top_level(n)
    while d >= 1:
        seg_down_sweep[(n + d - 1) // (2 * d)](s, f, heads, d, n)
        d //= 2
    add_own[n](x, s, n)
    return s
