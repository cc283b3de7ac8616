"""Memory-efficient attention (Rabe & Staats 2021): queries one at a time, keys in chunks.

Inputs q, k, v have shape (batch·heads, n, d). For each query i (a host loop, as in the paper's
sequential processing of queries) two launches run over all batch·heads at once:
  1. one processor per key chunk (`chunk` keys; chunk=0 picks the divisor of n nearest √n from
     below): the chunk's scores go to a chunk-sized per-processor buffer, then the chunk max m,
     the exp-sum l = Σ exp(s - m) and the value summary a = Σ exp(s - m)·v (d floats) are written
     to HBM;
  2. one processor per output column: combine the n/chunk summaries with the global max,
     o = Σ a·exp(m - M) / Σ l·exp(m - M).
The only HBM temporaries are the summaries: batch·heads·(n/chunk)·(d + 2) floats, O(√n) for
chunk = √n (against n² for attention_naive). Work Θ(B H n² d); depth Θ(n (chunk·d + n/chunk)),
which is Θ(n^1.5 d) at chunk = √n: the memory is bought with sequential steps.
"""
import math

import numpy as np

from pramsim.dsl import float32, gid, kernel, local, program, require, zeros


@kernel(readonly=("q", "k", "v"))
def chunk_summaries(q, k, v, msum, lsum, asum, i, nc, d, chunk, scale):
    t = gid()
    bh = t // nc
    ch = t % nc
    j0 = ch * chunk
    sc = local((chunk,), float32)
    m = -math.inf
    for jj in range(chunk):
        s = 0.0
        for c in range(d):
            s = s + q[bh, i, c] * k[bh, j0 + jj, c]
        s = s * scale
        sc[jj] = s
        m = max(m, s)
    l = 0.0
    for jj in range(chunk):
        p = math.exp(sc[jj] - m)
        sc[jj] = p
        l = l + p
    for c in range(d):
        a = 0.0
        for jj in range(chunk):
            a = a + sc[jj] * v[bh, j0 + jj, c]
        asum[bh, ch, c] = a
    msum[bh, ch] = m
    lsum[bh, ch] = l


@kernel(readonly=("msum", "lsum", "asum"))
def combine(msum, lsum, asum, o, i, nc, d):
    t = gid()
    bh = t // d
    c = t % d
    big = -math.inf
    for ch in range(nc):
        big = max(big, msum[bh, ch])
    num = 0.0
    den = 0.0
    for ch in range(nc):
        w = math.exp(msum[bh, ch] - big)
        num = num + asum[bh, ch, c] * w
        den = den + lsum[bh, ch] * w
    o[bh, i, c] = num / den


def auto_chunk(n):
    """The largest divisor of n not above √n (√n itself when n is a perfect square)."""
    c = max(1, math.isqrt(n))
    while n % c:
        c -= 1
    return c


def make_inputs(rng, batch, heads, n, d, chunk):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d, chunk):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 64, "d": 8, "chunk": 0}, inputs=make_inputs, reference=reference,
         work="batch heads n^2 d", depth="n sqrt n",
         counts={"launches": "2 * n", "flop.exp": "batch * heads * n * n + batch * heads * n * d * (n // (chunk or floor(sqrt(n))))"},
         sweep={"n": [16, 36, 64, 100, 144]}, rtol=1e-4, ranges={"chunk": (0, None)})  # chunk=0: automatic
def attention_chunked(q, k, v, batch, heads, n, d, chunk):
    """Rabe & Staats attention: per query, key-chunk summaries (max, exp-sum, values) then a combine."""
    size = chunk or auto_chunk(n)
    require(n % size == 0, f"n={n} must be a multiple of chunk={size}")
    bh = batch * heads
    nc = n // size
    msum = zeros((bh, nc), np.float32)
    lsum = zeros((bh, nc), np.float32)
    asum = zeros((bh, nc, d), np.float32)
    o = zeros((bh, n, d), np.float32)
    scale = 1.0 / math.sqrt(d)
    for i in range(n):
        chunk_summaries[bh * nc](q, k, v, msum, lsum, asum, i, nc, d, size, scale)
        combine[bh * d](msum, lsum, asum, o, i, nc, d)
    return o
