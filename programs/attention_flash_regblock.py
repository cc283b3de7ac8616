"""FlashAttention with register-blocked tiles: the score tile, the output and the online softmax in
registers; Q and K tiles transposed and padded in shared memory.

Inputs q, k, v have shape (batch·heads, n, d). One block per (bh, Q tile of br rows), with
(br/rm)·(bc/cn) processors; processor (ty, tx) owns rows ty + i·(br/rm) (i < rm) of the Q tile.
Per K/V tile of bc keys:
  1. the block loads K (transposed: Ks[x, c]) and V (Vs[c, x]) into shared memory;
  2. S = Q·Kᵀ, register-blocked as in matmul_regblock: the processor's rm×cn tile of scores
     (columns tx + j·(bc/cn)), from rm + cn shared loads per step of the d-long dot products;
  3. online softmax in registers: the row maxima of the processor's part, combined over the
     bc/cn processors of a row through a small shared array (no warp shuffles: read back, not
     reduced by a tree); p = exp(s − m_new); the running max m, sum l and the output rows O
     (rm × d/(bc/cn), registers) rescaled by exp(m_old − m_new);
  4. O += P·V, register-blocked again: P goes through shared memory (Ps), each processor loading
     rm values of P and d/(bc/cn) of V per key.
Q is staged once, transposed (Qs[x, r]). Rows of Qs, Ks and Ps are padded by `pad` words: the
transposed stores write one column per warp, a 32-way bank conflict when the row length is a
multiple of 32 (pad = 1 removes it). Nothing of size n² reaches HBM; HBM reads are Q once and K,
V once per Q tile: Θ(B·H·n²·d/br). Work Θ(B·H·n²·d), depth Θ(n/bc · (d + bc)) = Θ(n) for fixed tiles.

Goal size on a GPU (scripts/gpu_kernels.py): B1 H16 N4096 D64 with br = 64, bc = 32, rm = 8,
cn = 4, pad = 1 (64 processors a block, 45.5 KB of static shared memory, under CUDA's 48 KB).
The defaults are small so that the simulator tests stay fast.
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, local, program, require, shared, zeros


@kernel(readonly=("q", "k", "v"))
def flash_regblock_tiles(q, k, v, o, n, d, br, bc, rm, cn, pad, scale):
    ty_n = br // rm                  # processors along the rows of the Q tile
    tx_n = bc // cn                  # ... along the keys of a K/V tile (and the columns of O)
    dn = d // tx_n                   # columns of O per processor
    nthreads = ty_n * tx_n
    qtiles = n // br
    bh = block_id() // qtiles
    i0 = (block_id() % qtiles) * br
    t = lane()
    ty = t // tx_n
    tx = t % tx_n
    Qs = shared((d, br + pad), float32)      # Q tile, transposed: Qs[x, r]
    Ks = shared((d, bc + pad), float32)      # K tile, transposed: Ks[x, c]
    Vs = shared((bc, d), float32)
    Ps = shared((br, bc + pad), float32)     # the P tile, for P·V
    maxes = shared((br, bc // cn), float32)  # per row, each processor's partial max ...
    sums = shared((br, bc // cn), float32)   # ... and partial sum
    s = local((rm, cn), float32)             # registers: scores, output rows, softmax state, fragments
    acc = local((rm, d // (bc // cn)), float32)
    m = local((rm,), float32)
    ell = local((rm,), float32)
    rf = local((rm,), float32)
    kf = local((cn,), float32)
    vf = local((d // (bc // cn),), float32)
    for it in range(br * d // nthreads):
        e = it * nthreads + t
        r = e // d
        x = e % d
        Qs[x, r] = q[bh, i0 + r, x]
    for i in range(rm):     # set here: CUDA's local arrays start with whatever was in the registers
        m[i] = -math.inf
        ell[i] = 0.0
        for j in range(dn):
            acc[i, j] = 0.0
    for jt in range(n // bc):
        j0 = jt * bc
        for it in range(bc * d // nthreads):
            e = it * nthreads + t
            c = e // d
            x = e % d
            Ks[x, c] = k[bh, j0 + c, x]
            Vs[c, x] = v[bh, j0 + c, x]
        barrier()
        for i in range(rm):
            for j in range(cn):
                s[i, j] = 0.0
        for x in range(d):
            for i in range(rm):
                rf[i] = Qs[x, ty + i * ty_n]
            for j in range(cn):
                kf[j] = Ks[x, tx + j * tx_n]
            for i in range(rm):
                for j in range(cn):
                    s[i, j] = s[i, j] + rf[i] * kf[j]
        for i in range(rm):
            mx = -math.inf
            for j in range(cn):
                s[i, j] = s[i, j] * scale
                mx = max(mx, s[i, j])
            maxes[ty + i * ty_n, tx] = mx
        barrier()
        for i in range(rm):
            r = ty + i * ty_n
            m_new = m[i]
            for w in range(tx_n):
                m_new = max(m_new, maxes[r, w])
            alpha = math.exp(m[i] - m_new)
            m[i] = m_new
            part = 0.0
            for j in range(cn):
                p = math.exp(s[i, j] - m_new)
                Ps[r, tx + j * tx_n] = p
                part = part + p
            sums[r, tx] = part
            ell[i] = ell[i] * alpha
            for j in range(dn):
                acc[i, j] = acc[i, j] * alpha
        barrier()
        for i in range(rm):
            r = ty + i * ty_n
            for w in range(tx_n):
                ell[i] = ell[i] + sums[r, w]
        for c in range(bc):
            for i in range(rm):
                rf[i] = Ps[ty + i * ty_n, c]
            for j in range(dn):
                vf[j] = Vs[c, tx + j * tx_n]
            for i in range(rm):
                for j in range(dn):
                    acc[i, j] = acc[i, j] + rf[i] * vf[j]
        barrier()
    for i in range(rm):
        for j in range(dn):
            o[bh, i0 + ty + i * ty_n, tx + j * tx_n] = acc[i, j] / ell[i]


def make_inputs(rng, batch, heads, n, d, br, bc, rm, cn, pad):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d, br, bc, rm, cn, pad):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 32, "d": 8, "br": 8, "bc": 8, "rm": 2, "cn": 2, "pad": 1},
         inputs=make_inputs, reference=reference, work="batch heads n^2 d", depth="n",
         counts={"load.hbm": "batch * heads * (n * d + 2 * n * d * (n // br))",
                 "store.hbm": "batch * heads * n * d",
                 "flop.exp": "batch * heads * (n * n + n * n // cn)"},
         sweep={"n": [8, 16, 32, 48, 64]}, rtol=1e-4, ranges={"pad": (0, None)})
def attention_flash_regblock(q, k, v, batch, heads, n, d, br, bc, rm, cn, pad):
    """FlashAttention with register-blocked score and output tiles, online softmax in registers."""
    require(n % br == 0 and n % bc == 0, f"n={n} must be a multiple of br={br} and bc={bc}")
    require(br % rm == 0 and bc % cn == 0, f"br={br} must be a multiple of rm={rm}, bc={bc} of cn={cn}")
    threads = (br // rm) * (bc // cn)
    require(d % (bc // cn) == 0, f"d={d} must be a multiple of bc/cn={bc // cn} (the processors sharing a row of O)")
    require((br * d) % threads == 0 and (bc * d) % threads == 0,
            f"the {threads} processors of a block must evenly share the br·d={br * d} and bc·d={bc * d} tile loads")
    o = zeros((batch * heads, n, d), np.float32)
    flash_regblock_tiles[batch * heads * (n // br), threads](q, k, v, o, n, d, br, bc, rm, cn, pad, 1.0 / math.sqrt(d))
    return o
