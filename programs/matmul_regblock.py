"""Register-blocked tiled matrix product C = A·B (n×n): each processor computes a 2×2 sub-tile.

One block of t² processors per 2t×2t output tile; processor (tr, tc) owns the four outputs at
tile rows tr, tr + t and columns tc, tc + t, accumulated in four scalars (registers). For each of
the n/t phases the block stages a 2t×t tile of A and a t×2t tile of B in shared memory (four
elements per processor), synchronises, and each processor runs t steps of: two loads from each
tile, four multiply-adds. Against matmul_tiled's one load per multiply-add, that is two
multiply-adds per shared load and half the HBM reads: n³/t elements (4·n³/t bytes). Work Θ(n³),
depth Θ(n) for a fixed tile. Not measured on a GPU yet: nothing is claimed about its speed.
"""
import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("a", "b"))
def matmul_2x2(a, b, out, n, t):
    tiles = n // (2 * t)
    row = (block_id() // tiles) * 2 * t + lane() // t     # first of the processor's two rows
    col = (block_id() % tiles) * 2 * t + lane() % t       # first of its two columns
    tr = lane() // t
    tc = lane() % t
    As = shared((2 * t, t), float32)
    Bs = shared((t, 2 * t), float32)
    s00 = 0.0
    s01 = 0.0
    s10 = 0.0
    s11 = 0.0
    for p in range(n // t):
        As[tr, tc] = a[row, p * t + tc]
        As[tr + t, tc] = a[row + t, p * t + tc]
        Bs[tr, tc] = b[p * t + tr, col]
        Bs[tr, tc + t] = b[p * t + tr, col + t]
        barrier()
        for k in range(t):
            a0 = As[tr, k]
            a1 = As[tr + t, k]
            b0 = Bs[k, tc]
            b1 = Bs[k, tc + t]
            s00 = s00 + a0 * b0
            s01 = s01 + a0 * b1
            s10 = s10 + a1 * b0
            s11 = s11 + a1 * b1
        barrier()
    out[row, col] = s00
    out[row, col + t] = s01
    out[row + t, col] = s10
    out[row + t, col + t] = s11


def make_inputs(rng, n, tile):
    return {"a": rng.standard_normal((n, n)).astype(np.float32),
            "b": rng.standard_normal((n, n)).astype(np.float32)}


def reference(a, b, n, tile):
    return a.astype(np.float64) @ b.astype(np.float64)


@program(params={"n": 32, "tile": 8}, inputs=make_inputs, reference=reference, work="n^3", depth="n",
         counts={"flop": "2 * n**3", "load.hbm": "n**3 // tile", "bytes.hbm.read": "4 * n**3 // tile",
                 "store.hbm": "n**2", "load.sram": "n**3", "store.sram": "n**3 // tile"},
         sweep={"n": [16, 32, 48, 64]}, rtol=1e-4)
def matmul_regblock(a, b, n, tile):
    """C = A·B: blocks of tile² processors, each computing a 2×2 sub-tile of a 2·tile square."""
    require(n % (2 * tile) == 0, f"n={n} must be a multiple of 2·tile={2 * tile}")
    out = zeros((n, n), np.float32)
    tiles = n // (2 * tile)
    matmul_2x2[tiles * tiles, tile * tile](a, b, out, n, tile)
    return out
