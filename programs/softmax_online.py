"""Online softmax (Milakov & Gimelshein 2018): one pass with a running max and rescaled sum.

One block of `threads` processors per row. Each processor scans its strided share of the row
once, keeping a running maximum m and a sum l of exp(x - m) that it rescales by exp(m_old - m_new)
whenever the maximum grows. The (m, l) pairs of the block are merged by a tree in shared memory
(log2 threads rounds), then each processor writes its share normalised. Work Θ(rows · n),
depth Θ(n / threads + log threads).
"""
import math

import numpy as np

from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros


@kernel(readonly=("x",))
def online_rows(x, out, n, threads):
    r = block_id()
    t = lane()
    ms = shared((threads,), float32)
    ls = shared((threads,), float32)
    m = -math.inf
    l = 0.0
    per = n // threads
    for it in range(per):
        v = x[r, it * threads + t]
        m_new = max(m, v)
        l = l * math.exp(m - m_new) + math.exp(v - m_new)
        m = m_new
    ms[t] = m
    ls[t] = l
    barrier()
    stride = threads // 2
    while stride > 0:
        if t < stride:
            m1 = ms[t]
            m2 = ms[t + stride]
            mm = max(m1, m2)
            ls[t] = ls[t] * math.exp(m1 - mm) + ls[t + stride] * math.exp(m2 - mm)
            ms[t] = mm
        barrier()
        stride = stride // 2
    m = ms[0]
    l = ls[0]
    for it in range(per):
        j = it * threads + t
        out[r, j] = math.exp(x[r, j] - m) / l


def make_inputs(rng, rows, n, threads):
    return {"x": (3 * rng.standard_normal((rows, n))).astype(np.float32)}


def reference(x, rows, n, threads):
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@program(params={"rows": 8, "n": 1024, "threads": 32}, inputs=make_inputs, reference=reference,
         work="rows n", depth="n",
         counts={"load.hbm": "2 * rows * n", "store.hbm": "rows * n"},
         sweep={"n": [64, 128, 256, 512, 1024, 2048]}, rtol=1e-5)
def softmax_online(x, rows, n, threads):
    """Softmax of each row with one streaming pass for max and sum (running max, rescaled sum)."""
    require(threads >= 1 and threads & (threads - 1) == 0, f"threads={threads} must be a power of two")
    require(n % threads == 0, f"n={n} must be a multiple of threads={threads}")
    out = zeros((rows, n), np.float32)
    online_rows[rows, threads](x, out, n, threads)
    return out
