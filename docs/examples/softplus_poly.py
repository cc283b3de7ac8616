"""local() arrays, while loops, math functions and conditional expressions (docs/dsl.md)."""
import math

import numpy as np

from pramsim.dsl import float32, gid, kernel, local, program, zeros


@kernel
def powers_kernel(x, out, n):
    i = gid()
    if i >= n:
        return
    p = local(4, float32)       # per-processor scratch: x, x^2, x^3, x^4
    p[0] = x[i]
    k = 1
    while k < 4:
        p[k] = p[k - 1] * p[0]
        k += 1
    v = p[0] + p[1] + p[2] + p[3]
    out[i] = math.log(1.0 + math.exp(v)) if v < 20.0 else v


def make_inputs(rng, n):
    return {"x": rng.uniform(-1, 1, n).astype(np.float32)}


def reference(x, n):
    x = x.astype(np.float64)
    v = x + x**2 + x**3 + x**4
    return np.where(v < 20.0, np.log1p(np.exp(v)), v)


@program(params={"n": 512}, inputs=make_inputs, reference=reference,
         work="n", depth="1", sweep={"n": [64, 512, 4096]})
def softplus_poly(x, n):
    """softplus(x + x^2 + x^3 + x^4) per element, with a local array of powers."""
    out = zeros(n, np.float32)
    powers_kernel[n](x, out, n)
    return out
