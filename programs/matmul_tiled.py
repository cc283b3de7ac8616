"""Tiled matrix product C = A·B (n×n) with t×t tiles staged in shared memory (SRAM).

One block of t² processors per t×t output tile; lane -> (row, col) in the tile. For each of the
n/t phases every processor loads one element of A's tile and one of B's into shared memory,
the block synchronises, and each processor does t multiply-adds from SRAM. Each element of A
and B is read from HBM n/t times, so HBM reads are exactly 2·n³/t elements = 8·n³/t bytes
(against 2·n³ elements for the naive product). Work Θ(n³), depth Θ(n) for a fixed tile.
"""
import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("a", "b"))
def matmul_tiles(a, b, out, n, t):
    tiles = n // t
    br = block_id() // tiles
    bc = block_id() % tiles
    tr = lane() // t
    tc = lane() % t
    row = br * t + tr
    col = bc * t + tc
    As = shared((t, t), float32)
    Bs = shared((t, t), float32)
    s = 0.0
    for p in range(tiles):
        As[tr, tc] = a[row, p * t + tc]
        Bs[tr, tc] = b[p * t + tr, col]
        barrier()
        for k in range(t):
            s = s + As[tr, k] * Bs[k, tc]
        barrier()
    out[row, col] = s


def make_inputs(rng, n, tile):
    return {"a": rng.standard_normal((n, n)).astype(np.float32),
            "b": rng.standard_normal((n, n)).astype(np.float32)}


def reference(a, b, n, tile):
    return a.astype(np.float64) @ b.astype(np.float64)


@program(params={"n": 32, "tile": 8}, inputs=make_inputs, reference=reference, work="n^3", depth="n",
         counts={"flop": "2 * n**3", "load.hbm": "2 * n**3 // tile", "bytes.hbm.read": "8 * n**3 // tile",
                 "store.hbm": "n**2", "load.sram": "2 * n**3", "store.sram": "2 * n**2 * (n // tile)"},
         sweep={"n": [8, 16, 32, 48, 64]}, rtol=1e-4)
def matmul_tiled(a, b, n, tile):
    """C = A·B by t×t shared-memory tiles: one block per output tile, n/t phases with barriers."""
    require(n % tile == 0, f"n={n} must be a multiple of tile={tile}")
    out = zeros((n, n), np.float32)
    tiles = n // tile
    matmul_tiles[tiles * tiles, tile * tile](a, b, out, n, tile)
    return out
