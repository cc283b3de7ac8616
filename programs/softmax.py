"""Row-wise softmax of a rows×n matrix in three phases: max, exp-sum, normalise.

One block of n processors per row (n a power of two). The row maximum and the sum of
exponentials are tree reductions in shared memory: log2 n halving rounds separated by barriers.
Every lane runs the round loop (idle lanes still test the guard and step the loop), so the work
is Θ(rows · n log n) and the depth Θ(log n).
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("x",))
def softmax_rows(x, out, n):
    r = block_id()
    c = lane()
    buf = shared((n,), float32)
    v = x[r, c]
    buf[c] = v
    barrier()
    stride = n // 2
    while stride > 0:
        if c < stride:
            buf[c] = max(buf[c], buf[c + stride])
        barrier()
        stride = stride // 2
    m = buf[0]
    barrier()
    e = math.exp(v - m)
    buf[c] = e
    barrier()
    stride = n // 2
    while stride > 0:
        if c < stride:
            buf[c] = buf[c] + buf[c + stride]
        barrier()
        stride = stride // 2
    out[r, c] = e / buf[0]


def make_inputs(rng, rows, n):
    return {"x": (3 * rng.standard_normal((rows, n))).astype(np.float32)}


def reference(x, rows, n):
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@program(params={"rows": 8, "n": 256}, inputs=make_inputs, reference=reference, work="rows n log n", depth="log n",
         counts={"load.hbm": "rows * n", "store.hbm": "rows * n", "flop.exp": "rows * n",
                 "flop.max": "rows * (n - 1)", "flop./": "rows * n"},
         sweep={"n": [4, 16, 64, 256, 1024]}, rtol=1e-5)
def softmax(x, rows, n):
    """Softmax of each row: one block per row, tree max and tree sum in shared memory."""
    require(n >= 1 and n & (n - 1) == 0, f"n={n} must be a power of two")
    out = zeros((rows, n), np.float32)
    softmax_rows[rows, n](x, out, n)
    return out
