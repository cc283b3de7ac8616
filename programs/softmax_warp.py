"""Row-wise softmax with one warp per row, as fast GPU softmax kernels do: the 32 lanes of a warp
stride along the row, and the row maximum and the sum of exponentials are combined with register
shuffles (a butterfly: after 5 rounds of shfl_xor every lane holds the result). No shared memory,
no barriers, any row length.

Against softmax (one block per row, shared-memory trees of barrier rounds): Θ(rows · n) work
instead of Θ(rows · n log n), and depth Θ(n / 32 + log 32) instead of Θ(log n): a warp has only 32
lanes, so a long row costs a long per-lane loop, which is what the GPU's memory pipeline hides."""
import math

import numpy as np

from pramsim.dsl import gid, kernel, lane, program, require, shfl_xor, warp_size, zeros

BLOCK = 256  # threads per block: 8 warps, 8 rows


@kernel(readonly=("x",))
def softmax_warp_rows(x, out, rows, n):
    r = gid() // warp_size()
    w = lane() % warp_size()
    if r < rows:                     # the same for all lanes of a warp: every lane reaches the shuffles
        m = -math.inf
        c = w
        while c < n:
            m = max(m, x[r, c])
            c = c + warp_size()
        d = 16
        while d > 0:                 # butterfly: every lane ends with the row maximum
            m = max(m, shfl_xor(m, d))
            d = d // 2
        s = 0.0
        c = w
        while c < n:
            s = s + math.exp(x[r, c] - m)
            c = c + warp_size()
        d = 16
        while d > 0:
            s = s + shfl_xor(s, d)
            d = d // 2
        c = w
        while c < n:
            out[r, c] = math.exp(x[r, c] - m) / s
            c = c + warp_size()


def make_inputs(rng, rows, n):
    return {"x": (3 * rng.standard_normal((rows, n))).astype(np.float32)}


def reference(x, rows, n):
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@program(params={"rows": 8, "n": 256}, inputs=make_inputs, reference=reference, work="rows n", depth="n",
         counts={"load.hbm": "3 * rows * n", "store.hbm": "rows * n", "flop.exp": "2 * rows * n",
                 "flop./": "rows * n", "shfl.shfl_xor": "rows * 32 * 10"},
         sweep={"n": [100, 256, 1024, 4096]}, rtol=1e-5)
def softmax_warp(x, rows, n):
    """Softmax of each row: one warp per row, shuffles for the maximum and the sum."""
    require(rows >= 1 and n >= 1, "rows and n must be at least 1")
    out = zeros((rows, n), np.float32)
    softmax_warp_rows[-(-rows * 32 // BLOCK), BLOCK](x, out, rows, n)
    return out
