"""Hillis–Steele inclusive scan: prefix sums in ceil(log2 n) rounds, Θ(n log n) work.

Round k (offset 2^k, k = 0 .. K-1, K = ceil(log2 n)) has n processors: processor i >= 2^k writes
src[i] + src[i - 2^k] to dst, processor i < 2^k copies src[i]. Every round reads one buffer and
writes the other (double buffering, swapped between launches), so no cell is both read and written
in one round and the result does not depend on the order processors run in. It runs under
--model erew: processors i and i + 2^k read src[i] in different steps of the round.

Round k does n - 2^k additions, so the exact total is Σ_{k<K} (n - 2^k) = n·K - (2^K - 1), with K
additions on the longest chain (depth.flop = K). Work Θ(n log n), depth Θ(log n): not
work-efficient (compare scan_blelloch), but half the rounds.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("src",))
def scan_round(src, dst, offset, n):
    i = gid()
    if i < n:
        if i >= offset:
            dst[i] = src[i] + src[i - offset]
        else:
            dst[i] = src[i]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.cumsum(a.astype(np.float64))


@program(params={"n": 1024}, inputs=make_inputs, reference=reference, work="n log n", depth="log n",
         counts={"flop": "n * ceil(log2(n)) - (2**ceil(log2(n)) - 1)",
                 "flop.+": "n * ceil(log2(n)) - (2**ceil(log2(n)) - 1)",
                 "depth.flop": "ceil(log2(n))"},
         sweep={"n": [16, 64, 256, 1000, 4096, 16384]})
def scan_hillis_steele(a, n):
    """Inclusive prefix sums of n numbers, n processors per round, double-buffered."""
    src = a
    dst = zeros(n, np.float32)
    offset = 1
    while offset < n:
        scan_round[n](src, dst, offset, n)
        src, dst = dst, src
        offset *= 2
    return src
