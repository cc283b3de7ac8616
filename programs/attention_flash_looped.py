"""FlashAttention with a fixed block of `threads` processors that loop over the tiles.

Inputs q, k, v have shape (batch·heads, n, d). One block per (bh, Q tile of tile_r rows), as in
`attention_flash`, but with `threads` processors (not tile_r·tile_c), so any tile shape fits in a
CUDA block: the 45×90 and 120×120 tiles of the seed work-depth-flash-attention run here. The tiles
need not divide n: the last Q tile has rows = n - i0 < tile_r rows, the last K/V tile
cols = n - j0 < tile_c columns, and every loop runs over the valid part only.

Per block, in shared memory: the Q tile, the output accumulator O (tile_r×d), the K and V tiles
(tile_c×d), one score tile S (tile_r×tile_c, overwritten in place by P = exp(S - m)), and per row
the running max m, the running sum l and the rescale factor alpha: 4·(2·tile_r·d + 2·tile_c·d +
tile_r·tile_c + 3·tile_r) bytes. Per K/V tile: cooperative load of K and V; the processors take
the rows·cols score cells in turn (cell e -> (e // cols, e % cols)), each a d-step dot product;
then one processor per row (rows t, t + threads, ...) takes the row's max and sum of exp over the
cols columns sequentially (no tree: depth Θ(tile_c) per tile); then the rows·d cells of O are
rescaled by alpha and get their P·V sum (tile_c steps each). HBM: Q read once, K and V once per Q
tile, O written once. Work Θ(B H n² d); depth Θ(ceil(n/tile_c) · (tile_r·tile_c·d/threads +
tile_c · (tile_r/threads + tile_r·d/threads))), i.e. Θ(n) with the tiles and threads fixed.
Limits: no tree reductions inside a row; float32 throughout (no fp16 tiles).
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("q", "k", "v"))
def flash_looped(q, k, v, o, n, d, tile_r, tile_c, threads, scale):
    qtiles = (n + tile_r - 1) // tile_r
    bh = block_id() // qtiles
    i0 = (block_id() % qtiles) * tile_r
    rows = min(tile_r, n - i0)
    t = lane()
    Qs = shared((tile_r, d), float32)
    Os = shared((tile_r, d), float32)
    Ks = shared((tile_c, d), float32)
    Vs = shared((tile_c, d), float32)
    S = shared((tile_r, tile_c), float32)
    ms = shared((tile_r,), float32)
    ls = shared((tile_r,), float32)
    al = shared((tile_r,), float32)
    # Q tile in, accumulators cleared (shared memory is not zeroed on a GPU)
    qcells = rows * d
    for it in range((qcells + threads - 1) // threads):
        e = it * threads + t
        if e < qcells:
            r = e // d
            x = e % d
            Qs[r, x] = q[bh, i0 + r, x]
            Os[r, x] = 0.0
    rcount = (rows + threads - 1) // threads
    for it in range(rcount):
        r = it * threads + t
        if r < rows:
            ms[r] = -math.inf
            ls[r] = 0.0
    for jt in range((n + tile_c - 1) // tile_c):
        j0 = jt * tile_c
        cols = min(tile_c, n - j0)
        kcells = cols * d
        for it in range((kcells + threads - 1) // threads):
            e = it * threads + t
            if e < kcells:
                y = e // d
                x = e % d
                Ks[y, x] = k[bh, j0 + y, x]
                Vs[y, x] = v[bh, j0 + y, x]
        barrier()
        # scores: processors take the rows x cols cells in turn
        scells = rows * cols
        for it in range((scells + threads - 1) // threads):
            e = it * threads + t
            if e < scells:
                r = e // cols
                c = e % cols
                s = 0.0
                for x in range(d):
                    s = s + Qs[r, x] * Ks[c, x]
                S[r, c] = s * scale
        barrier()
        # online softmax: one processor per row
        for it in range(rcount):
            r = it * threads + t
            if r < rows:
                m_old = ms[r]
                m_new = m_old
                for c in range(cols):
                    m_new = max(m_new, S[r, c])
                total = 0.0
                for c in range(cols):
                    p = math.exp(S[r, c] - m_new)
                    S[r, c] = p
                    total = total + p
                alpha = math.exp(m_old - m_new)
                ls[r] = ls[r] * alpha + total
                ms[r] = m_new
                al[r] = alpha
        barrier()
        # O = alpha * O + P V, over the rows x d cells of O
        for it in range((qcells + threads - 1) // threads):
            e = it * threads + t
            if e < qcells:
                r = e // d
                x = e % d
                acc = 0.0
                for y in range(cols):
                    acc = acc + S[r, y] * Vs[y, x]
                Os[r, x] = Os[r, x] * al[r] + acc
        barrier()
    for it in range((qcells + threads - 1) // threads):
        e = it * threads + t
        if e < qcells:
            r = e // d
            x = e % d
            o[bh, i0 + r, x] = Os[r, x] / ls[r]


def make_inputs(rng, batch, heads, n, d, tile_r, tile_c, threads):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d, tile_r, tile_c, threads):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 90, "d": 16, "tile_r": 12, "tile_c": 20, "threads": 64},
         inputs=make_inputs, reference=reference, work="batch heads n^2 d", depth="n",
         counts={"load.hbm": "batch * heads * (n * d + 2 * n * d * ceil(n / tile_r))",
                 "store.hbm": "batch * heads * n * d",
                 "flop.exp": "batch * heads * (n * n + n * ceil(n / tile_c))"},
         sweep={"n": [30, 50, 90, 150, 250]}, rtol=1e-4)
def attention_flash_looped(q, k, v, batch, heads, n, d, tile_r, tile_c, threads):
    """FlashAttention with `threads` processors per block looping over tile_r×tile_c tiles; tiles need not divide n."""
    require(tile_r >= 1 and tile_c >= 1 and threads >= 1 and d >= 1,
            f"tile_r={tile_r}, tile_c={tile_c}, threads={threads} and d={d} must be positive")
    o = zeros((batch * heads, n, d), np.float32)
    flash_looped[batch * heads * ((n + tile_r - 1) // tile_r), threads](q, k, v, o, n, d, tile_r, tile_c, threads,
                                                                       1.0 / math.sqrt(d))
    return o
