"""Benchmark: how long pramsim takes to simulate attention_flash at B=1, H=16, N=4096, D=64.

Runs the program (every operation of every virtual processor, counted) and the machine model, on
the `h100` profile when pramsim ships one, else on `pram`, and prints the wall time of the
simulation itself (engine + machine model; the NumPy float64 reference used for the correctness
check is timed separately). Goal: under 60 s on a 2-core machine.

The compiled engine (the default here) is timed after a warm-up run at n=256 that compiles the
kernel (numba caches it on disk, so later processes skip that too); `--engine vector` times the
lockstep NumPy executor instead.

    python scripts/bench_flash_sim.py                 # the full size, compiled engine
    python scripts/bench_flash_sim.py n=1024          # smaller, to extrapolate (work ∝ n²)
    python scripts/bench_flash_sim.py --engine vector n=1024
"""
from __future__ import annotations

import sys
import time

from pramsim.machine import available_machines, load_machine
from pramsim.programs import load_program
from pramsim.runner import parse_params, run_program

DEFAULTS = ["batch=1", "heads=16", "n=4096", "d=64", "tile_r=32", "tile_c=32"]


def main(argv: list[str]) -> int:
    engine = "compiled"
    if "--engine" in argv:
        i = argv.index("--engine")
        engine = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    machine_name = "h100" if "h100" in available_machines() else "pram"
    machine = load_machine(machine_name)
    prog = load_program("attention_flash")
    params = parse_params(prog, _merged(DEFAULTS, argv))
    if engine == "compiled":
        t0 = time.perf_counter()
        run_program(prog, parse_params(prog, _merged(DEFAULTS, argv, ["n=256"])), machine, engine=engine)
        print(f"warm-up (compiles the kernel unless numba's cache has it): {time.perf_counter() - t0:.1f} s")
    print(f"simulating attention_flash {' '.join(f'{k}={v}' for k, v in params.items())} on {machine_name} "
          f"with the {engine} engine ...", flush=True)
    t0 = time.perf_counter()
    result = run_program(prog, params, machine, engine=engine)
    total = time.perf_counter() - t0
    sim = result.timings["execute_s"] + result.timings["simulate_s"]
    t = result.trace
    print(f"correct:          {result.comparison.correct} ({result.comparison.message})")
    print(f"work:             {t.work:,} operations")
    print(f"depth:            {t.depth:,} steps")
    print(f"processors:       {t.launches[0].nprocs:,} in {t.launches[0].nblocks:,} blocks")
    print(f"HBM read/write:   {t.counter('bytes.hbm.read'):,} / {t.counter('bytes.hbm.write'):,} bytes")
    print(f"peak HBM:         {t.peak_hbm_bytes:,} bytes")
    if result.schedule.time_s is not None:
        print(f"predicted time:   {result.schedule.time_s:.6g} s on {machine_name}")
    else:
        print(f"T_p:              {result.schedule.steps:,} steps with p = {result.schedule.p:,}")
    print(f"engine:           {result.timings['execute_s']:.1f} s "
          f"({t.work / max(result.timings['execute_s'], 1e-9) / 1e6:.0f} M operations/s)")
    print(f"machine model:    {result.timings['simulate_s']:.2f} s")
    print(f"reference:        {result.timings['reference_s']:.1f} s (NumPy float64, not part of the simulation)")
    print(f"simulation wall time: {sim:.1f} s (total with inputs and reference {total:.1f} s; goal < 60 s)")
    return 0


def _merged(*assignments: list[str]) -> list[str]:
    """name=value lists, later ones overriding earlier ones (parse_params refuses a name given twice)."""
    out: dict[str, str] = {}
    for group in assignments:
        out.update(item.split("=", 1) for item in group)
    return [f"{k}={v}" for k, v in out.items()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
