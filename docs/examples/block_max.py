"""Per-block maximum in shared memory: k[blocks, threads], shared(), barrier(), for-range, max()."""
import numpy as np

from pramsim.dsl import barrier, block_dim, block_id, float32, kernel, lane, program, shared, zeros

THREADS = 64


@kernel
def block_max_kernel(a, out):
    s = shared(THREADS, float32)
    t = lane()
    s[t] = a[block_id() * block_dim() + t]
    barrier()
    for level in range(5, -1, -1):       # strides 32, 16, ..., 1
        k = 1 << level
        if t < k:
            s[t] = max(s[t], s[t + k])
        barrier()
    if t == 0:
        out[block_id()] = s[0]


def make_inputs(rng, blocks):
    return {"a": rng.standard_normal(blocks * THREADS).astype(np.float32)}


def reference(a, blocks):
    return a.reshape(blocks, THREADS).max(axis=1)


@program(params={"blocks": 4}, inputs=make_inputs, reference=reference,
         work="blocks", depth="1",
         counts={"flop.max": "63*blocks", "load.hbm": "64*blocks", "store.hbm": "blocks"},
         sweep={"blocks": [1, 4, 16, 64]})
def block_max(a, blocks):
    """The maximum of each block of 64 numbers, by a barrier-synchronised tree in shared memory."""
    out = zeros(blocks, np.float32)
    block_max_kernel[blocks, THREADS](a, out)
    return out
