#!/usr/bin/env python3
"""Benchmark: pramsim's executor against numba's CUDA simulator on the same block reduction.

1. Executor throughput: simulated processor-steps per second (work W / wall time of the run,
   in-process, after import) for tree_sum and block_sum at a few sizes.
2. The same kernel, 4,096 elements = 4 blocks x 1024 threads, shared-memory tree reduction with
   cuda.syncthreads(), whole process (interpreter start and imports included):
   numba's simulator (NUMBA_ENABLE_CUDASIM=1, one OS thread per CUDA thread) versus
   `pramsim run programs/block_sum.py n=4096 --p 1024`.
3. The goal of issue 2: `pramsim run tree_sum n=4096000 --p 1024` (whole process) against numba's
   simulator on 4,096 elements.

Usage: python scripts/bench_executor.py [--repeat R] [--skip-numba]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NUMBA_SCRIPT = r'''
import numpy as np
from numba import cuda, float32

BLOCK = 1024

@cuda.jit
def block_reduce(a, out):
    s = cuda.shared.array(BLOCK, float32)
    t = cuda.threadIdx.x
    s[t] = a[cuda.blockIdx.x * BLOCK + t]
    cuda.syncthreads()
    k = BLOCK // 2
    while k > 0:
        if t < k:
            s[t] = s[t] + s[t + k]
        cuda.syncthreads()
        k //= 2
    if t == 0:
        out[cuda.blockIdx.x] = s[0]

n = 4096
a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
out = np.zeros(n // BLOCK, np.float32)
block_reduce[n // BLOCK, BLOCK](a, out)
total = float(out.astype(np.float64).sum())
assert abs(total - a.astype(np.float64).sum()) < 1e-3, total
print(total)
'''


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return wall


def best_of(repeat: int, cmd: list[str], env: dict[str, str] | None = None) -> float:
    return min(timed(cmd, env) for _ in range(repeat))


def throughput(rows: list[tuple[str, dict[str, int], int]]) -> list[tuple[str, int, float, float]]:
    """In-process, after a warm-up run: (label, work W, executor seconds, W / executor seconds).

    Executor seconds are the time to make the inputs and execute the program (runner's
    "execute_s"), not the NumPy reference or the simpy schedule."""
    from pramsim.machine import load_machine
    from pramsim.programs import load_program
    from pramsim.runner import run_program
    out = []
    for prog, params, p in rows:
        program = load_program(prog)
        machine = load_machine("pram").with_processors(p)
        run_program(program, params, machine)  # warm-up
        res = run_program(program, params, machine)
        wall = res.timings["execute_s"]
        label = f"{program.name} " + " ".join(f"{k}={v:,}" for k, v in params.items())
        out.append((label, res.trace.work, wall, res.trace.work / wall))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="whole-process timings: best of R (default 3)")
    ap.add_argument("--skip-numba", action="store_true", help="do not run numba's simulator")
    args = ap.parse_args()
    pramsim = [sys.executable, "-m", "pramsim.cli"] if not _which("pramsim") else ["pramsim"]

    print("1. executor throughput (in-process, after warm-up)")
    tp = throughput([("tree_sum", {"n": 2**16}, 1024), ("tree_sum", {"n": 4_096_000}, 1024),
                     (str(ROOT / "programs" / "block_sum.py"), {"n": 4096}, 1024),
                     (str(ROOT / "programs" / "block_sum.py"), {"n": 2**20}, 1024)])
    for label, work, wall, rate in tp:
        print(f"   {label:28s} W = {work:>12,}   {wall:8.3f} s   {rate:14,.0f} processor-steps/s")

    print(f"\n2. block reduction, 4,096 elements = 4 blocks x 1024 threads, whole process, best of {args.repeat}")
    numba_s = None
    if not args.skip_numba:
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
        numba_s = best_of(args.repeat, [sys.executable, "-c", NUMBA_SCRIPT], env)
        print(f"   numba CUDA simulator : {numba_s:8.3f} s")
    block_s = best_of(args.repeat, [*pramsim, "run", "programs/block_sum.py", "n=4096", "--p", "1024"])
    print(f"   pramsim block_sum    : {block_s:8.3f} s")
    if numba_s:
        print(f"   ratio numba / pramsim: {numba_s / block_s:8.1f}x")

    print(f"\n3. goal: pramsim tree_sum n=4,096,000 --p 1024 (whole process) vs numba on 4,096, best of {args.repeat}")
    tree_s = best_of(args.repeat, [*pramsim, "run", "tree_sum", "n=4096000", "--p", "1024"])
    print(f"   pramsim tree_sum n=4096000: {tree_s:8.3f} s")
    if numba_s:
        print(f"   ratio numba(4,096) / pramsim(4,096,000): {numba_s / tree_s:8.2f}x   "
              f"goal (< numba's time): {'MET' if tree_s < numba_s else 'NOT MET'}")
        print(f"   elements per second, pramsim / numba: {(4_096_000 / tree_s) / (4096 / numba_s):,.0f}x  (goal >= 1,000x)")

    print("\nsummary")
    print(f"   {'what':44s} {'wall s':>9s} {'vs numba sim':>13s}")
    rows = [("numba CUDA sim, block reduce n=4,096", numba_s),
            ("pramsim run block_sum n=4,096 --p 1024", block_s),
            ("pramsim run tree_sum n=4,096,000 --p 1024", tree_s)]
    for what, s in rows:
        if s is None:
            continue
        ratio = f"{numba_s / s:12.1f}x" if numba_s else "           -"
        print(f"   {what:44s} {s:9.3f} {ratio:>13s}")
    best = max(tp, key=lambda r: r[3])
    print(f"   executor throughput (best, {best[0]}): {best[3]:,.0f} processor-steps/s")


def _which(name: str) -> bool:
    from shutil import which
    return which(name) is not None


if __name__ == "__main__":
    main()
