"""Benchmark of --counts-only (docs/benchmarks.md): whole-process times of `pramsim run`, one
command each, as a user types them, each timed on its second run (numba's disk cache warm).

Part 1 compares a counts-only run with the full run (--engine compiled, the fastest engine that
executes every operation) at a size where both run, and prints the ratio. Part 2 times the
issue's production-size goals, which only counts-only can reach (hours of execution otherwise).

    python scripts/bench_counts_only.py            # both parts
    python scripts/bench_counts_only.py --goals    # part 2 only
    python scripts/bench_counts_only.py --compare  # part 1 only
"""
from __future__ import annotations

import subprocess
import sys
import time

# (program and parameters, machine): sizes where the full compiled run takes tens of seconds
COMPARE = [
    ("attention_flash batch=1 heads=16 n=4096 d=64", "h100"),  # the size of issue 3
    ("matmul_tiled n=1024", "h100"),
    ("tree_sum n=67108864", "pram"),
    ("attention_layer batch=1 n=512 d=512 heads=8 kv_heads=2", "h100"),
]
GOALS = [  # (command, goal in seconds)
    ("run attention_flash batch=1 heads=32 n=32768 d=128 --machine h100 --counts-only", 60),
    ("run matmul_tiled n=16384 --machine h100 --counts-only", 10),
    ("run tree_sum n=1073741824 --counts-only", 10),
    ("run attention_layer batch=1 n=4096 d=4096 heads=32 kv_heads=8 --machine h100 --counts-only", 60),
    ("sweep attention_flash n=1024..65536 --machine h100 --counts-only --plot /tmp/bench_counts_only.png", 300),
]


def timed(args: str) -> tuple[float, str]:
    """Seconds of one pramsim command (whole process) and its T_p / predicted lines: the second
    of two runs, so that numba's disk cache is warm (the first compiles the kernels)."""
    subprocess.run([sys.executable, "-m", "pramsim.cli", *args.split()], check=False, capture_output=True, text=True)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pramsim.cli", *args.split()], check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode not in (0,):
        raise SystemExit(f"`pramsim {args}` failed ({out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    keep = [line for line in out.stdout.splitlines() if line.startswith(("work W", "T_p", "predicted"))]
    return seconds, " | ".join(line.split("   ")[0] for line in keep)


def compare() -> None:
    print(f"{'program':<60}{'full (compiled)':>16}{'counts-only':>13}{'ratio':>8}  same figures")
    for params, machine in COMPARE:
        base = f"run {params} --machine {machine} --max-time 0"
        full, full_figs = timed(base + " --engine compiled")
        fast, fast_figs = timed(base + " --counts-only")
        print(f"{params:<60}{full:>14.1f} s{fast:>11.1f} s{full / fast:>7.1f}x  {full_figs == fast_figs}")


def goals() -> None:
    for args, goal in GOALS:
        seconds, _ = timed(args)
        print(f"pramsim {args}\n    {seconds:.1f} s (goal {goal} s): {'met' if seconds < goal else 'NOT met'}")


if __name__ == "__main__":
    if "--goals" not in sys.argv:
        compare()
    if "--compare" not in sys.argv:
        goals()
