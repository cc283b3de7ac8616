"""Reverses each block of 64 through shared memory with no barrier() between the write and the
read: the lockstep executor gets the right answer, and the race check must find the race."""
import numpy as np
from pramsim.dsl import float32, gid, kernel, lane, program, shared, zeros

BLOCK = 64


@kernel
def reverse(a, out):
    s = shared(BLOCK, float32)
    t = lane()
    s[t] = a[gid()]
    out[gid()] = s[BLOCK - 1 - t]  # line 14: lane t reads what lane 63 - t wrote, no barrier between


@program(params={"n": 256}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: a.reshape(-1, BLOCK)[:, ::-1].reshape(-1).astype(np.float64),
         work="n", depth="1", sweep={"n": [64, 256, 1024, 4096]})
def race_reverse(a, n):
    out = zeros(n, np.float32)
    reverse[n // BLOCK, BLOCK](a, out)
    return out
