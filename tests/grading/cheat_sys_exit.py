"""A cheat: the host calls sys.exit(0) before producing its result (check used to exit 0)."""
import sys

import numpy as np
from pramsim.dsl import kernel, program


@kernel
def nothing(a):
    a[0] = a[0]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def cheat_sys_exit(a, n):
    nothing[1](a)
    sys.exit(0)  # line 17: the located error names this line
