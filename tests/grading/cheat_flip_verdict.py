"""A cheat: a sequential sum (fails the depth) that, at exit, rewrites the checker's genuine
verdict file, which carries whatever proof of origin it has, into a pass, and leaves with
os._exit(0) so that the exit code matches."""
import atexit
import json
import os
import sys

import numpy as np
from pramsim.dsl import kernel, program


def flip() -> None:
    out = sys.argv[sys.argv.index("--json-out") + 1]
    with open(out) as f:
        verdict = json.load(f)
    verdict.update({"pass": True, "work_fit": None, "depth_fit": None, "points": []})
    verdict.pop("error", None)
    verdict.pop("exit_code", None)
    with open(out, "w") as f:
        json.dump(verdict, f)
    os._exit(0)


if "--json-out" in sys.argv:
    atexit.register(flip)


@kernel
def add_all(a, n):
    for i in range(1, n):
        a[0] = a[0] + a[i]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def cheat_flip_verdict(a, n):
    add_all[1](a, n)
    return a[:1]
