"""saxpy: y = alpha * x + y, one processor per element (docs/dsl.md, first example)."""
import numpy as np

from pramsim.dsl import gid, kernel, program


@kernel(readonly=("x",))
def saxpy_kernel(x, y, alpha, n):
    i = gid()
    if i < n:
        y[i] = alpha * x[i] + y[i]


def make_inputs(rng, n):
    return {"x": rng.standard_normal(n).astype(np.float32), "y": rng.standard_normal(n).astype(np.float32)}


def reference(x, y, n):
    return 2.0 * x.astype(np.float64) + y


@program(params={"n": 1000}, inputs=make_inputs, reference=reference,
         work="n", depth="1",
         counts={"work": "6*n", "depth": "6", "flop": "2*n", "load.hbm": "2*n", "store.hbm": "n"},
         sweep={"n": [100, 1000, 10000]})
def saxpy(x, y, n):
    """y = 2x + y elementwise: depth independent of n."""
    saxpy_kernel[n](x, y, 2.0, n)
    return y
