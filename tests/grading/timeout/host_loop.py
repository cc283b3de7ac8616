"""A submission whose host code never ends, after starting a process of its own: grade.py must
stop both at --timeout (the whole process group). The child's pid goes to $PRAMSIM_TEST_PIDFILE
when the test sets it."""
import os
import subprocess

import numpy as np
from pramsim.dsl import kernel, program


@kernel
def nothing(a):
    a[0] = a[0]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def host_loop(a, n):
    child = subprocess.Popen(["sleep", "600"])
    if os.environ.get("PRAMSIM_TEST_PIDFILE"):
        with open(os.environ["PRAMSIM_TEST_PIDFILE"], "w") as f:
            f.write(str(child.pid))
    while True:
        pass
