"""Sparse matrix times vector, y = A x, with A in CSR form: one processor per row.

Processor i walks its row, rowptr[i] .. rowptr[i+1] - 1, accumulating vals[j] · x[cols[j]].
The matrices come from programs/_sparse_csr.py: rows of 0 .. 2·deg nonzeros (mean about deg),
so the work is Θ(nnz) = Θ(n · deg) and the depth that of the longest row, 2·deg multiply-adds,
whatever n (once n > 2·deg). Rows of unequal length leave processors idle: spmv_rowblock gives
each row a block instead. Exact: nnz multiplications and additions, 2n + 3 nnz loads (rowptr
twice, then vals, cols and x per nonzero), n stores. CREW (rows share entries of x).
"""
import numpy as np

from _sparse_csr import dense_product, make_csr, nnz_formula
from pramsim.dsl import gid, kernel, program, zeros

NNZ = nnz_formula()


@kernel(readonly=("rowptr", "cols", "vals", "x"))
def spmv_rows(rowptr, cols, vals, x, y, n):
    i = gid()
    if i < n:
        acc = 0.0
        for j in range(rowptr[i], rowptr[i + 1]):
            acc = acc + vals[j] * x[cols[j]]
        y[i] = acc


def make_inputs(rng, n, deg):
    return make_csr(rng, n, deg)


def reference(rowptr, cols, vals, x, n, deg):
    return dense_product(rowptr, cols, vals, x, n)


@program(params={"n": 200, "deg": 4}, inputs=make_inputs, reference=reference, work="n deg", depth="1",
         counts={"flop.*": NNZ, "flop.+": NNZ, "load.hbm": f"2 * n + 3 * ({NNZ})", "store.hbm": "n",
                 "depth.flop": "2 * min(2 * deg, n - 1)"},
         sweep={"n": [16, 100, 1000, 3000, 10000]}, rtol=1e-4)
def spmv(rowptr, cols, vals, x, n, deg):
    """y = A x for a CSR matrix A, one processor per row."""
    y = zeros(n, np.float32)
    spmv_rows[n](rowptr, cols, vals, x, y, n)
    return y
