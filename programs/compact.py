"""Stream compaction by scan: keep the positive elements of a, in order, at the front of the output.

Three steps, the textbook's (Blelloch 1990): every processor flags its element (1.0 if a[i] > 0,
else 0.0); an exclusive scan of the flags gives each kept element its place in the output (the
number of kept elements before it); every processor with a kept element scatters it to that
place. The output has length n: the k kept elements, then zeros.

The flags are float32 so that the scan's additions are the program's only flops, counted apart
from index arithmetic: flop.+ = 2(n - 1) exactly, as the scan's (programs/_prefix_scan.py), and
flop.> = 2n (the test, made again by the scatter rather than stored). Float32 counts up to 2^24
are exact, hence n <= 2^24. Work Θ(n), depth Θ(log n), in 2 ceil(log2 n) + 3 launches; EREW (each
kept element goes to its own place).
"""
import numpy as np

from _prefix_scan import exclusive_scan
from pramsim.dsl import float32, gid, kernel, program, require, zeros


@kernel(readonly=("a",))
def flag_positive(a, flags, n):
    i = gid()
    if i < n:
        flags[i] = float32(a[i] > 0.0)


@kernel(readonly=("a", "place"))
def scatter_kept(a, place, out, n):
    i = gid()
    if i < n:
        v = a[i]
        if v > 0.0:
            out[int(place[i])] = v


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    kept = a[a > 0].astype(np.float64)
    return np.concatenate([kept, np.zeros(n - len(kept))])


@program(params={"n": 1000}, inputs=make_inputs, reference=reference, work="n", depth="log n",
         counts={"flop.+": "2 * (n - 1)", "flop.>": "2 * n", "depth.flop": "2 * ceil(log2(n)) + 2",
                 "launches": "2 * ceil(log2(n)) + 3"},
         at_most={"store.hbm": "n + 3 * (n - 1) + 1 + n"},
         sweep={"n": [10, 100, 1000, 5000, 30000]}, rtol=0.0)
def compact(a, n):
    """Keep the positive elements, in order: flags, exclusive scan, scatter."""
    require(n <= 2**24, f"n={n}: the float32 scan of the flags is exact up to 2^24 elements")
    flags = zeros(n, np.float32)
    flag_positive[n](a, flags, n)
    exclusive_scan(flags, n)
    out = zeros(n, np.float32)
    scatter_kept[n](a, flags, out, n)
    return out
