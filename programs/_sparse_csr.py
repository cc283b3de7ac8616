"""The sparse matrices of spmv and spmv_rowblock: a seeded generator in CSR form and the reference
(a leading _ keeps this file out of `pramsim list`).

An n×n matrix whose row lengths are the numbers 0, 1, ..., 2·deg, repeated and shuffled among the
rows (so rows differ in length, as in real matrices, while their total and their maximum are
functions of n and deg alone, which lets the programs declare exact counts): row i holds
(its share of that pattern) distinct random columns, sorted, with standard normal values.
"""
import numpy as np


def row_lengths(rng, n, deg):
    """The lengths i mod (2 deg + 1), i < n, in a random order."""
    return rng.permutation(np.arange(n) % (2 * deg + 1))


def nnz_formula(n="n", deg="deg"):
    """The number of nonzeros as a counts formula: Σ_{i<n} i mod m, m = 2 deg + 1."""
    m = f"(2 * {deg} + 1)"
    return f"({n} // {m}) * {m} * ({m} - 1) // 2 + ({n} % {m}) * ({n} % {m} - 1) // 2"


def make_csr(rng, n, deg):
    """{rowptr, cols, vals, x}: a random CSR matrix (see the module docstring) and a vector x."""
    lengths = row_lengths(rng, n, deg)
    rowptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    cols = np.concatenate([np.sort(rng.choice(n, size=k, replace=False)) for k in lengths] + [np.zeros(0)])
    return {"rowptr": rowptr, "cols": cols.astype(np.int32),
            "vals": rng.standard_normal(int(rowptr[-1])).astype(np.float32),
            "x": rng.standard_normal(n).astype(np.float32)}


def dense_product(rowptr, cols, vals, x, n):
    """y = A x with A built dense from the CSR arrays, in float64."""
    a = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(rowptr))
    a[rows, cols] = vals
    return a @ x.astype(np.float64)
