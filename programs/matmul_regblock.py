"""Register-blocked SGEMM C = A·B (n×n, fp32): each processor computes a tm×tn tile of C in registers.

The classic shared-memory + register-tiled SGEMM. One block per bm×bn tile of C, with
(bm/tm)·(bn/tn) processors; processor (ty, tx) owns the tm×tn outputs at rows ty + i·(bm/tm) and
columns tx + j·(bn/tn) of the block tile (strided, not contiguous: the lanes of a warp then read
consecutive shared words and store consecutive columns of C). For each of the n/bk phases the
block stages a bm×bk tile of A, transposed (As[k, r]), and a bk×bn tile of B in shared memory;
then for each of the bk steps every processor loads tm values of A and tn of B into registers and
does tm·tn multiply-adds from them: tm·tn/(tm + tn) multiply-adds per shared load (4 for 8×8;
matmul_tiled does 1). The A tile's rows are bm + pad words long: the transposed store writes
one column per warp, which with pad = 0 and bm a multiple of 32 is a 32-way bank conflict
(pad = 4 with bk = 8 makes the store conflict-free). The accumulators and fragments are `local`
arrays whose every index is a compile-time constant once the shape parameters are substituted,
so the CUDA compiler can keep them in registers (the loops over tm, tn and bk have constant trip
counts). HBM reads: n³/bn + n³/bm elements. Work Θ(n³), depth Θ(n) for fixed tiles.

Goal sizes on a GPU (scripts/gpu_kernels.py): n = 4096 and 8192 with bm = bn = 128, bk = 8,
tm = tn = 8 (256 threads a block). The defaults are small so that the simulator tests stay fast.
"""
import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, local, program, require, shared, zeros


@kernel(readonly=("a", "b"))
def sgemm_tiles(a, b, out, n, bm, bn, bk, tm, tn, pad):
    ty_n = bm // tm                      # processors along the rows of the block tile
    tx_n = bn // tn                      # ... along its columns
    nthreads = ty_n * tx_n
    col_tiles = n // bn
    row0 = (block_id() // col_tiles) * bm
    col0 = (block_id() % col_tiles) * bn
    t = lane()
    ty = t // tx_n
    tx = t % tx_n
    As = shared((bk, bm + pad), float32)   # A tile, transposed: As[k, r]
    Bs = shared((bk, bn), float32)
    acc = local((tm, tn), float32)          # this processor's tile of C (registers)
    af = local((tm,), float32)
    bf = local((tn,), float32)
    for i in range(tm):     # cleared here: CUDA's local arrays start with whatever was in the registers
        for j in range(tn):
            acc[i, j] = 0.0
    for phase in range(n // bk):
        k0 = phase * bk
        for it in range(bm * bk // nthreads):    # A tile: lanes read along a row of A (coalesced)
            e = it * nthreads + t
            r = e // bk
            c = e % bk
            As[c, r] = a[row0 + r, k0 + c]
        for it in range(bk * bn // nthreads):    # B tile: lanes read along a row of B
            e = it * nthreads + t
            r = e // bn
            c = e % bn
            Bs[r, c] = b[k0 + r, col0 + c]
        barrier()
        for k in range(bk):
            for i in range(tm):
                af[i] = As[k, ty + i * ty_n]
            for j in range(tn):
                bf[j] = Bs[k, tx + j * tx_n]
            for i in range(tm):
                for j in range(tn):
                    acc[i, j] = acc[i, j] + af[i] * bf[j]
        barrier()
    for i in range(tm):
        for j in range(tn):
            out[row0 + ty + i * ty_n, col0 + tx + j * tx_n] = acc[i, j]


def make_inputs(rng, n, bm, bn, bk, tm, tn, pad):
    return {"a": rng.standard_normal((n, n)).astype(np.float32),
            "b": rng.standard_normal((n, n)).astype(np.float32)}


def reference(a, b, n, bm, bn, bk, tm, tn, pad):
    return a.astype(np.float64) @ b.astype(np.float64)


@program(params={"n": 32, "bm": 16, "bn": 16, "bk": 4, "tm": 4, "tn": 4, "pad": 4},
         inputs=make_inputs, reference=reference, work="n^3", depth="n",
         counts={"flop": "2 * n**3", "load.hbm": "n**3 // bn + n**3 // bm", "store.hbm": "n**2",
                 "load.sram": "n**3 // tn + n**3 // tm", "store.sram": "n**3 // bn + n**3 // bm"},
         sweep={"n": [16, 32, 48, 64]}, rtol=1e-4, ranges={"pad": (0, None)})
def matmul_regblock(a, b, n, bm, bn, bk, tm, tn, pad):
    """SGEMM: blocks of (bm/tm)·(bn/tn) processors, each a tm×tn tile of C in registers; shared tiles padded."""
    require(n % bm == 0 and n % bn == 0 and n % bk == 0, f"n={n} must be a multiple of bm={bm}, bn={bn} and bk={bk}")
    require(bm % tm == 0 and bn % tn == 0, f"bm={bm} must be a multiple of tm={tm}, bn={bn} of tn={tn}")
    threads = (bm // tm) * (bn // tn)
    require((bm * bk) % threads == 0 and (bk * bn) % threads == 0,
            f"the {threads} processors of a block must evenly share the bm·bk={bm * bk} and bk·bn={bk * bn} tile loads")
    out = zeros((n, n), np.float32)
    matmul_regblock_launch = sgemm_tiles[(n // bm) * (n // bn), threads]
    matmul_regblock_launch(a, b, out, n, bm, bn, bk, tm, tn, pad)
    return out
