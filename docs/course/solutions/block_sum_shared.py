"""Lesson 8 solution: per-block sums in shared memory (SRAM), then a tree over the block sums in HBM.

Each block of t = 32 threads loads its slice once from HBM into SRAM and reduces it there with
barriers, so HBM traffic is n loads + n/t stores instead of the ~2n loads + n stores of tree_sum.
W = Θ(n), D = Θ(log n).
"""
import numpy as np
from pramsim.dsl import barrier, block_dim, block_id, float32, gid, kernel, lane, program, shared, zeros

T = 32


@kernel
def block_reduce(a, partial, n):
    buf = shared((32,), float32)
    t = lane()
    i = gid()
    buf[t] = 0.0
    if i < n:
        buf[t] = a[i]
    barrier()
    stride = 1
    while stride < block_dim():
        if t % (2 * stride) == 0 and t + stride < block_dim():
            buf[t] = buf[t] + buf[t + stride]
        barrier()
        stride *= 2
    if t == 0:
        partial[block_id()] = buf[0]


@kernel
def add_pairs(a, stride, m):
    i = gid() * 2 * stride
    if i + stride < m:
        a[i] = a[i] + a[i + stride]


@program(params={"n": 256}, inputs=lambda rng, n: {"a": rng.standard_normal(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]),
         sweep={"n": [64, 256, 1024, 4096, 16384]})
def block_sum_shared(a, n):
    m = -(-n // T)
    partial = zeros(m, np.float32)
    block_reduce[m, T](a, partial, n)
    stride = 1
    while stride < m:
        add_pairs[-(-m // (2 * stride))](partial, stride, m)
        stride *= 2
    return partial[:1]
