"""Matrix–vector product y = A x (n×n): one processor per row, each an n-step dot product.

Processor r runs s <- s + A[r, k] * x[k] for k = 0 .. n-1 and stores y[r]: exactly n² multiplies,
n² additions (the first is 0.0 + A[r,0]·x[0]), 2n² HBM loads and n stores; x[k] is read by all n
processors at once (CREW). The loop is sequential within a processor, so the flop chain is 2n
long: work Θ(n²), depth Θ(n). (Tree sums per row would give depth Θ(log n) for the same work.)
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("a", "x"))
def row_dot(a, x, y, n):
    r = gid()
    if r < n:
        s = 0.0
        for k in range(n):
            s = s + a[r, k] * x[k]
        y[r] = s


def make_inputs(rng, n):
    return {"a": rng.standard_normal((n, n)).astype(np.float32),
            "x": rng.standard_normal(n).astype(np.float32)}


def reference(a, x, n):
    return a.astype(np.float64) @ x.astype(np.float64)


@program(params={"n": 64}, inputs=make_inputs, reference=reference, work="n^2", depth="n",
         counts={"flop": "2 * n**2", "flop.*": "n**2", "flop.+": "n**2", "load.hbm": "2 * n**2",
                 "store.hbm": "n", "depth.flop": "2 * n"},
         sweep={"n": [4, 16, 64, 200, 512]})
def matvec(a, x, n):
    """y = A x with n processors, one per row."""
    y = zeros(n, np.float32)
    row_dot[n](a, x, y, n)
    return y
