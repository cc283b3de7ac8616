"""Block reduction: each block sums its slice in shared memory by a barrier-synchronised tree, then
one more block reduces the per-block partials the same way (the CUDA textbook reduction)."""
import numpy as np

from pramsim.dsl import barrier, block_dim, block_id, float32, gid, kernel, lane, program, require, shared, zeros

BLOCK = 1024  # threads per block, and the shared array's length


@kernel
def block_reduce(a, out, n):
    s = shared(BLOCK, float32)
    t = lane()
    i = gid()
    s[t] = 0.0
    if i < n:
        s[t] = a[i]
    barrier()
    k = block_dim() // 2
    while k > 0:
        if t < k:
            s[t] = s[t] + s[t + k]
        barrier()
        k = k // 2
    if t == 0:
        out[block_id()] = s[0]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.array([a.astype(np.float64).sum()])


_L = "max(1, ceil(log2(n) / 10))"  # launches: ceil(log_1024 n)
_B = "ceil(n/1024) + (ceil(n/1024**2) if n > 1024 else 0) + (ceil(n/1024**3) if n > 1024**2 else 0)"


@program(params={"n": 4096}, inputs=make_inputs, reference=reference,
         work="n", depth="log n",
         # B = blocks over all launches (exact for n <= 1024**3); every block runs the full 10-level tree
         counts={"store.hbm": _B, "load.hbm": f"n + {_B} - 1", "flop.+": f"1023 * ({_B})",
                 "launches": _L, "depth.flop": f"10 * {_L}"},
         sweep={"n": [1024, 32768, 2**20 + 1024]})  # log2 n = 10, 15, 20: 1, 2, 3 launches
def block_sum(a, n):
    """Sum n numbers: a shared-memory tree per block of 1024, then the same over the partials."""
    require(n >= 1, "n must be at least 1")
    blocks = -(-n // BLOCK)
    partial = zeros(blocks, np.float32)
    block_reduce[blocks, BLOCK](a, partial, n)
    while blocks > 1:
        m = blocks
        blocks = -(-m // BLOCK)
        nxt = zeros(blocks, np.float32)
        block_reduce[blocks, BLOCK](partial, nxt, m)
        partial = nxt
    return partial
