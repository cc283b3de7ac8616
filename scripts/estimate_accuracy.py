"""How close `pramsim run`'s time estimate (pramsim.estimate) comes to the real run time.

For each case: the estimate made with a limit too low to stop early (every probe the budget
allows runs), its range (low..high, equal when the fit measured both terms), the probes' own wall
time, and the measured time of the run itself (executor + reference + schedule, one run).
The figures move with the machine's load: run it on an otherwise idle machine.

    python scripts/estimate_accuracy.py            # about 3 minutes on 2 cores
    python scripts/estimate_accuracy.py --quick    # the three fastest cases
"""
from __future__ import annotations

import argparse
import time

from pramsim import estimate, runner
from pramsim.machine import load_machine
from pramsim.programs import load_program

CASES = [
    ("tree_sum", {"n": 2**22}), ("tree_sum", {"n": 2**25}),
    ("vector_mul", {"n": 2**24}),
    ("scan_hillis_steele", {"n": 2**21}),
    ("scan_blelloch", {"n": 2**22}),
    ("bitonic_sort", {"n": 2**19}),
    ("matmul_naive", {"n": 256}),
    ("matmul_tiled", {"n": 256, "tile": 16}),
    ("matvec", {"n": 4096}),
    ("softmax", {"rows": 8, "n": 2**16}),
    ("attention_naive", {"n": 512, "d": 64}),
    ("attention_flash", {"n": 1024, "d": 64}),
    ("attention_chunked", {"n": 1024, "d": 16}),
    ("attention_logdepth", {"n": 256, "d": 32}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    machine = load_machine("pram")
    print(f"{'program':<20} {'params':<22} {'probes':>6} {'probe_s':>8} {'estimate_s':>10} {'low..high':>16} "
          f"{'actual_s':>9} {'est/actual':>10}")
    for name, override in CASES[:3] if args.quick else CASES:
        prog = load_program(name)
        params = {**prog.params, **override}

        def probe(program, small):
            t0 = time.perf_counter()
            r = runner.run_program(program, small, machine)
            return estimate.Probe(small, time.perf_counter() - t0, r.trace.work, r.trace.depth)

        t0 = time.perf_counter()
        full = estimate.estimate_time(prog, [params], probe, limit_s=1e-9)
        probe_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        runner.run_program(prog, params, machine)
        actual = time.perf_counter() - t0
        shown = " ".join(f"{k}={v}" for k, v in override.items())
        print(f"{name:<20} {shown:<22} {len(full.probes):>6} {probe_s:>8.2f} {full.seconds:>10.2f} "
              f"{f'{full.low:.2f}..{full.high:.2f}':>16} {actual:>9.2f} {full.seconds / actual:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
