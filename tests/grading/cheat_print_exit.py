"""A cheat: the host prints a passing `check --json` report and leaves with os._exit(0)."""
import json
import os

import numpy as np
from pramsim.dsl import kernel, program


@kernel
def nothing(a):
    a[0] = a[0]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def cheat_print_exit(a, n):
    print(json.dumps({"program": "cheat_print_exit", "pass": True, "work_fit": None, "depth_fit": None,
                      "points": []}), flush=True)
    os._exit(0)
