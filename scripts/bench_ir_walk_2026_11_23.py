#!/usr/bin/env python3
"""The per-launch host work of the CUDA backend as it was when the H100 rows were measured
(commit 44778b3, 2026-11-23): `specialize` (which walked the kernel's IR) and `_device_args`, timed
per validate-size program on this machine (docs/validation/README.md, section 10).

    git worktree add /tmp/pramsim-44778b3 44778b3
    python scripts/bench_ir_walk_2026_11_23.py /tmp/pramsim-44778b3

Prints per program its launches and the mean µs of that work per launch (first three launches,
best of 5 x 200), beside the measured time of the committed row.
"""
from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

ROWS = Path(__file__).resolve().parents[1] / "docs/validation/h100-2026-11-23-validate.json"


def main(old: str) -> int:
    sys.path.insert(0, old)  # the old checkout's pramsim, not this one
    from pramsim.backends import cuda as backend
    from pramsim.programs import load_program
    from pramsim.runner import execute, make_inputs

    for row in json.loads(ROWS.read_text())["rows"]:
        prog = load_program(row["program"])
        params = {**prog.params, **row["params"]}
        recorder = backend.RecordingBackend()
        calls = []
        launch = recorder.launch

        def record(kernel, nprocs, block, args, loc, launch=launch):
            calls.append((kernel, nprocs, block, args, loc))
            return launch(kernel, nprocs, block, args, loc)
        recorder.launch = record
        execute(prog, params, make_inputs(prog, params, 0), recorder)
        per = []
        for kernel, nprocs, block, args, loc in calls[:3]:
            work = lambda: (backend.specialize(kernel, nprocs, block, args, loc), backend._device_args(kernel, args, loc))  # noqa: E731
            per.append(min(timeit.repeat(work, number=200, repeat=5)) / 200 * 1e6)
        print(f"{row['program']:<22} launches {len(calls):>4}   {sum(per) / len(per):7.1f} µs a launch   "
              f"measured {row['measured_s'] * 1e6:10.1f} µs")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
