#!/usr/bin/env python3
"""What counting global-memory sectors costs the vector engine: each program run with the count on
and off (Transactions.add skips global accesses), interleaved in one process, median of 7.

    python scripts/bench_sectors.py

Prints per program the median wall time on and off and their ratio. The first run of each
program (numba's compile or cache load of the counter) is not timed.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pramsim.engines import coalescing  # noqa: E402
from pramsim.engines.vector import Executor  # noqa: E402
from pramsim.programs import load_program  # noqa: E402
from pramsim.runner import execute, make_inputs  # noqa: E402

CASES = [("vector_mul", {"n": 1 << 20}), ("matmul_naive", {"n": 128}), ("list_rank", {"n": 1 << 14}),
         ("attention_flash", {})]
REPEAT = 7


def main() -> int:
    counting = coalescing.Transactions.add

    def without_sectors(self, level, *args, **kwargs):
        if level != "hbm":
            counting(self, level, *args, **kwargs)

    print(f"{'program':<16}{'on (ms)':>10}{'off (ms)':>10}{'ratio':>8}")
    try:
        for name, params in CASES:
            prog = load_program(name)
            p = {**prog.params, **params}
            inputs = make_inputs(prog, p, 0)
            execute(prog, p, inputs, Executor())  # warm-up: the counter's compile
            times: dict[str, list[float]] = {"on": [], "off": []}
            for mode in ("on", "off") * REPEAT:
                coalescing.Transactions.add = counting if mode == "on" else without_sectors
                t0 = time.perf_counter()
                execute(prog, p, inputs, Executor())
                times[mode].append(time.perf_counter() - t0)
            on, off = statistics.median(times["on"]), statistics.median(times["off"])
            print(f"{name:<16}{on * 1e3:>10.1f}{off * 1e3:>10.1f}{on / off:>8.2f}")
    finally:
        coalescing.Transactions.add = counting
    return 0


if __name__ == "__main__":
    sys.exit(main())
