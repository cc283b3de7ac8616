"""Standard attention with the N×N scores in HBM and blocked (shared-memory) matrix products.

Dao et al. (2022), Algorithm 0, with IO-aware matmuls: Θ(N d + N²) HBM accesses when tile ≥ d.
Inputs q, k, v have shape (batch·heads, n, d). Three launches:
1. S = Q Kᵀ / √d: one block of tile×tile processors per (bh, tile of S); the block loads its
   tile rows of Q and of K (tile×d each) into shared memory once, then each processor takes one
   score; S is written to an HBM array of batch·heads·n² floats.
2. Row softmax in place, one processor per row (max, exp-sum, normalise loops over n): the
   N×N matrix is read 3 times and written twice.
3. O = P V: one block of `tile·tile` processors per (bh, tile of rows of O); per key tile it loads
   the P tile (tile×tile) and the V tile (tile×d) into shared memory; processors own cells of
   the tile×d O tile.
HBM reads: 2·n·d·ceil(n/tile) (Q, K) + 3·n² (softmax) + n² (P) + n·d·ceil(n/tile) (V) floats per
(batch, head); writes n² + 2·n² + n·d. That is Θ(n² (1 + d/tile) + n d): Θ(N d + N²) with tile ≥ d
(the SRAM holds Θ(d²)), Θ(N² d / tile) otherwise. Tiles need not divide n. Work Θ(B H n² d),
depth Θ(n + d). Limits: the softmax is not blocked (one processor per row, as in attention_naive).
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, gid, kernel, lane, program, require, shared, zeros


@kernel(readonly=("q", "k"))
def scores_blocked(q, k, s, n, d, tile, scale):
    ntiles = (n + tile - 1) // tile
    bh = block_id() // (ntiles * ntiles)
    i0 = (block_id() // ntiles) % ntiles * tile
    j0 = block_id() % ntiles * tile
    rows = min(tile, n - i0)
    cols = min(tile, n - j0)
    t = lane()
    nthreads = tile * tile
    Qs = shared((tile, d), float32)
    Ks = shared((tile, d), float32)
    for it in range((tile * d + nthreads - 1) // nthreads):
        e = it * nthreads + t
        r = e // d
        x = e % d
        if r < rows:
            Qs[r, x] = q[bh, i0 + r, x]
        if r < cols:
            Ks[r, x] = k[bh, j0 + r, x]
    barrier()
    r = t // tile
    c = t % tile
    if r < rows and c < cols:
        acc = 0.0
        for x in range(d):
            acc = acc + Qs[r, x] * Ks[c, x]
        s[bh, i0 + r, j0 + c] = acc * scale


@kernel
def softmax_rows(s, n):
    t = gid()
    bh = t // n
    i = t % n
    m = -math.inf
    for j in range(n):
        m = max(m, s[bh, i, j])
    total = 0.0
    for j in range(n):
        e = math.exp(s[bh, i, j] - m)
        s[bh, i, j] = e
        total = total + e
    for j in range(n):
        s[bh, i, j] = s[bh, i, j] / total


@kernel(readonly=("p", "v"))
def weighted_blocked(p, v, o, n, d, tile):
    ntiles = (n + tile - 1) // tile
    bh = block_id() // ntiles
    i0 = block_id() % ntiles * tile
    rows = min(tile, n - i0)
    t = lane()
    nthreads = tile * tile
    Ps = shared((tile, tile), float32)
    Vs = shared((tile, d), float32)
    Os = shared((tile, d), float32)
    ocells = rows * d
    for it in range((ocells + nthreads - 1) // nthreads):
        e = it * nthreads + t
        if e < ocells:
            Os[e // d, e % d] = 0.0
    for jt in range(ntiles):
        j0 = jt * tile
        cols = min(tile, n - j0)
        r = t // tile
        c = t % tile
        if r < rows and c < cols:
            Ps[r, c] = p[bh, i0 + r, j0 + c]
        for it in range((cols * d + nthreads - 1) // nthreads):
            e = it * nthreads + t
            if e < cols * d:
                Vs[e // d, e % d] = v[bh, j0 + e // d, e % d]
        barrier()
        for it in range((ocells + nthreads - 1) // nthreads):
            e = it * nthreads + t
            if e < ocells:
                r = e // d
                x = e % d
                acc = 0.0
                for y in range(cols):
                    acc = acc + Ps[r, y] * Vs[y, x]
                Os[r, x] = Os[r, x] + acc
        barrier()
    for it in range((ocells + nthreads - 1) // nthreads):
        e = it * nthreads + t
        if e < ocells:
            o[bh, i0 + e // d, e % d] = Os[e // d, e % d]


def make_inputs(rng, batch, heads, n, d, tile):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d, tile):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 64, "d": 16, "tile": 16}, inputs=make_inputs, reference=reference,
         work="batch heads n^2 d", depth="n + d",
         counts={"flop.exp": "batch * heads * n * n",
                 "load.hbm": "batch * heads * (3 * n * d * ceil(n / tile) + 4 * n * n)",
                 "store.hbm": "batch * heads * (3 * n * n + n * d)"},
         sweep={"n": [8, 16, 40, 64, 100]}, rtol=1e-4)
def attention_naive_blocked(q, k, v, batch, heads, n, d, tile):
    """Standard attention, S in HBM, with shared-memory tiles for Q Kᵀ and P V: HBM Θ(N d + N²) for tile ≥ d."""
    require(1 <= tile <= 32, f"tile={tile} must be between 1 and 32 (blocks of tile² ≤ 1,024 threads)")
    bh = batch * heads
    nt = (n + tile - 1) // tile
    s = zeros((bh, n, n), np.float32)
    o = zeros((bh, n, d), np.float32)
    scores_blocked[bh * nt * nt, tile * tile](q, k, s, n, d, tile, 1.0 / math.sqrt(d))
    softmax_rows[bh * n](s, n)
    weighted_blocked[bh * nt, tile * tile](s, v, o, n, d, tile)
    return o
