"""A correct but sequential submission: one processor adds everything, D = Θ(n)."""
import numpy as np
from pramsim.dsl import kernel, program


@kernel
def add_all(a, n):
    for i in range(1, n):
        a[0] = a[0] + a[i]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def sequential(a, n):
    add_all[1](a, n)
    return a[:1]
