"""Sparse matrix times vector, y = A x (CSR), one block of `threads` processors per row.

The lanes of row i's block stride through its nonzeros (lane t takes rowptr[i] + t,
rowptr[i] + t + threads, ...), each summing its products; the block then adds its lanes' sums by a
tree in shared memory (log2 threads halving rounds between barriers) and lane 0 writes y[i]. No
warp shuffles: the reduction is the shared-memory one of block_sum. Same matrices as spmv
(programs/_sparse_csr.py).

A long row is no longer one processor's chain: the depth is 2 ceil(L / threads) multiply-adds for
the longest row L = 2·deg, plus log2 threads additions; the price is threads - 1 more additions
per row (counted exactly) and idle lanes on short rows. Work Θ(n · (deg + threads)), depth Θ(1) in
n. CREW (rows share entries of x).
"""
import numpy as np

from _sparse_csr import dense_product, make_csr, nnz_formula
from pramsim.dsl import barrier, block_id, float32, kernel, lane, program, require, shared, zeros

NNZ = nnz_formula()


@kernel(readonly=("rowptr", "cols", "vals", "x"))
def spmv_block_row(rowptr, cols, vals, x, y, threads):
    i = block_id()
    t = lane()
    sums = shared((threads,), float32)
    acc = 0.0
    j = rowptr[i] + t
    end = rowptr[i + 1]
    while j < end:
        acc = acc + vals[j] * x[cols[j]]
        j += threads
    sums[t] = acc
    barrier()
    stride = threads // 2
    while stride > 0:
        if t < stride:
            sums[t] = sums[t] + sums[t + stride]
        barrier()
        stride = stride // 2
    if t == 0:
        y[i] = sums[0]


def make_inputs(rng, n, deg, threads):
    return make_csr(rng, n, deg)


def reference(rowptr, cols, vals, x, n, deg, threads):
    return dense_product(rowptr, cols, vals, x, n)


@program(params={"n": 100, "deg": 4, "threads": 4}, inputs=make_inputs, reference=reference,
         work="n deg + n threads", depth="1",
         counts={"flop.*": NNZ, "flop.+": f"{NNZ} + n * (threads - 1)", "store.hbm": "n",
                 "depth.flop": "2 * ceil(min(2 * deg, n - 1) / threads) + log2(threads)"},
         sweep={"n": [16, 100, 1000, 3000]}, rtol=1e-4)
def spmv_rowblock(rowptr, cols, vals, x, n, deg, threads):
    """y = A x for a CSR matrix A, one block per row reducing in shared memory."""
    require(threads & (threads - 1) == 0, f"threads={threads} must be a power of two (the reduction tree halves)")
    y = zeros(n, np.float32)
    spmv_block_row[n, threads](rowptr, cols, vals, x, y, threads)
    return y
