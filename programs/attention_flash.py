"""FlashAttention (Dao et al. 2022): tiles of Q and K/V in shared memory with an online softmax.

Inputs q, k, v have shape (batch·heads, n, d). One block per (bh, Q tile of tile_r rows), with
tile_r·tile_c processors: lane -> (r, c) in the tile_r×tile_c score tile. The block keeps its Q
tile, the output accumulator O (tile_r×d), the running row max m and row sum l in shared memory
and walks the n/tile_c K/V tiles in order. Per K/V tile: load K and V tiles (cooperatively) into
SRAM; processor (r, c) computes s = q_r·k_c / √d (d steps); row max and row sum of exp(s - m_new)
by tree reductions over c in SRAM (log tile_c rounds); O rows rescaled by exp(m_old - m_new) and
the P·V tile added (processor (r, c) owns columns c, c + tile_c, ... of O). Nothing of size n²
is ever written to HBM: peak HBM is the 4·B·H·n·d floats of q, k, v, o. Reads of HBM: Q once,
K and V once per Q tile: Θ(B H n² d / tile_r). Work Θ(B H n² d), depth Θ(n/tile_c · (d + log tile_c)).
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("q", "k", "v"))
def flash_tiles(q, k, v, o, n, d, tile_r, tile_c, half_c, scale, pad):
    qtiles = n // tile_r
    bh = block_id() // qtiles
    i0 = (block_id() % qtiles) * tile_r
    t = lane()
    r = t // tile_c
    c = t % tile_c
    nthreads = tile_r * tile_c
    # Rows of Qs and Ks are d + pad words long: in q_r·k_c the lanes of a warp read one column
    # of Ks (and of Qs), so with pad = 0 and d a multiple of 32 they all hit one bank.
    Qs = shared((tile_r, d + pad), float32)
    Ks = shared((tile_c, d + pad), float32)
    Vs = shared((tile_c, d), float32)
    Os = shared((tile_r, d), float32)
    red = shared((tile_r, tile_c), float32)
    ms = shared((tile_r,), float32)
    ls = shared((tile_r,), float32)
    # Q tile and accumulators, loaded / cleared cooperatively
    qelems = tile_r * d
    for it in range((qelems + nthreads - 1) // nthreads):
        e = it * nthreads + t
        if e < qelems:
            er = e // d
            ec = e % d
            Qs[er, ec] = q[bh, i0 + er, ec]
            Os[er, ec] = 0.0
    if c == 0:
        ms[r] = -math.inf
        ls[r] = 0.0
    kelems = tile_c * d
    kcount = (kelems + nthreads - 1) // nthreads
    ccount = (d + tile_c - 1) // tile_c
    for jt in range(n // tile_c):
        j0 = jt * tile_c
        for it in range(kcount):
            e = it * nthreads + t
            if e < kelems:
                er = e // d
                ec = e % d
                Ks[er, ec] = k[bh, j0 + er, ec]
                Vs[er, ec] = v[bh, j0 + er, ec]
        barrier()
        s = 0.0
        for x in range(d):
            s = s + Qs[r, x] * Ks[c, x]
        s = s * scale
        red[r, c] = s
        barrier()
        stride = half_c
        while stride > 0:
            if c < stride and c + stride < tile_c:
                red[r, c] = max(red[r, c], red[r, c + stride])
            barrier()
            stride = stride // 2
        m_old = ms[r]
        m_new = max(m_old, red[r, 0])
        barrier()
        p = math.exp(s - m_new)
        red[r, c] = p
        barrier()
        stride = half_c
        while stride > 0:
            if c < stride and c + stride < tile_c:
                red[r, c] = red[r, c] + red[r, c + stride]
            barrier()
            stride = stride // 2
        alpha = math.exp(m_old - m_new)
        barrier()
        if c == 0:
            ls[r] = ls[r] * alpha + red[r, 0]
            ms[r] = m_new
        barrier()
        red[r, c] = p  # the P tile, for P·V
        barrier()
        for ci in range(ccount):
            col = ci * tile_c + c
            if col < d:
                acc = 0.0
                for y in range(tile_c):
                    acc = acc + red[r, y] * Vs[y, col]
                Os[r, col] = Os[r, col] * alpha + acc
        barrier()
    for ci in range(ccount):
        col = ci * tile_c + c
        if col < d:
            o[bh, i0 + r, col] = Os[r, col] / ls[r]


def make_inputs(rng, batch, heads, n, d, tile_r, tile_c, pad):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d, tile_r, tile_c, pad):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 64, "d": 16, "tile_r": 16, "tile_c": 16, "pad": 0},
         inputs=make_inputs, reference=reference, work="batch heads n^2 d", depth="n",
         counts={"load.hbm": "batch * heads * (n * d + 2 * n * d * (n // tile_r))",
                 "store.hbm": "batch * heads * n * d", "flop.exp": "2 * batch * heads * n * n"},
         sweep={"n": [16, 32, 64, 128, 192]}, rtol=1e-4, ranges={"pad": (0, None)})
def attention_flash(q, k, v, batch, heads, n, d, tile_r, tile_c, pad):
    """FlashAttention: one block per Q tile per (batch, head), online softmax over K/V tiles in SRAM.

    pad = 1 pads the rows of the Q and K tiles by one word, which removes their bank conflicts."""
    require(n % tile_r == 0 and n % tile_c == 0, f"n={n} must be a multiple of tile_r={tile_r} and tile_c={tile_c}")
    half = 1
    while half < tile_c:
        half *= 2
    o = zeros((batch * heads, n, d), np.float32)
    flash_tiles[batch * heads * (n // tile_r), tile_r * tile_c](q, k, v, o, n, d, tile_r, tile_c, half // 2,
                                                                 1.0 / math.sqrt(d), pad)
    return o
