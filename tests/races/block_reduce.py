"""A block reduction in shared memory; BARRIER=False drops the barrier inside the loop (a race)."""
import numpy as np
from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, shared

BLOCK = 64


@kernel
def reduce_good(a, out):
    s = shared(BLOCK, float32)
    t = lane()
    s[t] = a[block_id() * BLOCK + t]
    barrier()
    k = BLOCK // 2
    while k > 0:
        if t < k:
            s[t] = s[t] + s[t + k]
        barrier()
        k = k // 2
    if t == 0:
        out[block_id()] = s[0]


@kernel
def reduce_racy(a, out):
    s = shared(BLOCK, float32)
    t = lane()
    s[t] = a[block_id() * BLOCK + t]
    barrier()
    k = BLOCK // 2
    while k > 0:
        if t < k:
            s[t] = s[t] + s[t + k]
        k = k // 2
    if t == 0:
        out[block_id()] = s[0]


def inputs(rng, n, racy):
    return {"a": rng.random(n).astype(np.float32)}


def reference(a, n, racy):
    return a.reshape(-1, BLOCK).astype(np.float64).sum(axis=1)


@program(params={"n": 256, "racy": 1}, inputs=inputs, reference=reference)
def block_reduce(a, n, racy):
    from pramsim.dsl import zeros
    out = zeros(n // BLOCK, np.float32)
    (reduce_racy if racy == 2 else reduce_good)[n // BLOCK, BLOCK](a, out)
    return out
