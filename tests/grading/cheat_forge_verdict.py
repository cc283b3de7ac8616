"""A cheat: writes a passing verdict into check's --json-out file, signed with any nonce it can
find, and leaves with os._exit(0) before the checker can overwrite it."""
import json
import os
import sys

import numpy as np
from pramsim.dsl import program
from pramsim.verdict import signature


def steal_nonce() -> str:
    """What a cheap cheat can reach: the environment, /proc/self/environ, the nonce pipe's fd."""
    found = os.environ.get("PRAMSIM_NONCE_FD", "")
    with open("/proc/self/environ", "rb") as f:
        found = found or f.read().decode(errors="replace")
    try:
        found = os.read(int(found.split("PRAMSIM_NONCE_FD=")[-1].split("\0")[0] or -1), 256).decode()
    except (OSError, ValueError):
        pass
    return found


out = sys.argv[sys.argv.index("--json-out") + 1] if "--json-out" in sys.argv else "verdict.json"
forged = {"program": "cheat_forge_verdict", "pass": True, "work_fit": None, "depth_fit": None, "points": []}
with open(out, "w") as f:
    json.dump({**forged, "mac": signature(forged, steal_nonce())}, f)
os._exit(0)


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def cheat_forge_verdict(a, n):
    return a[:1]
