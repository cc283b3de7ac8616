"""The calibration program of the run-time estimate (pramsim.estimate): a kernel like most kernels,
whose run gives an engine's cost per unit of work."""
from __future__ import annotations

import numpy as np

from .dsl import gid, kernel, program, zeros

CALIBRATION_N = 2**16     # processors
CALIBRATION_STEPS = 8    # loop iterations each: index arithmetic, a gather, flops, the loop's own counting


@kernel
def _mix(a, b, out, n, steps):
    i = gid()
    acc = 0.0
    for j in range(steps):
        acc = acc + a[(i + j) % n] * b[i]
    out[i] = acc


@program(params={"n": CALIBRATION_N, "steps": CALIBRATION_STEPS}, work="n steps", depth="steps",
         inputs=lambda rng, n, steps: {"a": rng.random(n, dtype=np.float32), "b": rng.random(n, dtype=np.float32)},
         reference=lambda a, b, n, steps: a.astype(np.float64)[(np.arange(n)[:, None] + np.arange(steps)) % n].sum(1) * b)
def calibration(a, b, n, steps):
    """out[i] = sum_j a[(i + j) % n] * b[i]: a loop of gathers and flops, for the engine's cost per operation."""
    out = zeros(n, np.float32)
    _mix[n](a, b, out, n, steps)
    return out


