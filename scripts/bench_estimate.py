"""The time estimate (pramsim.estimate) against the real time, case by case.

    python scripts/bench_estimate.py                  # every case, warm caches, as the machine is
    python scripts/bench_estimate.py --cold           # fresh numba and pramsim caches for each case
    python scripts/bench_estimate.py --busy 2         # beside two busy processes (one per core here)
    python scripts/bench_estimate.py --fit            # fit pramsim.estimate.COSTS to the even cases
    python scripts/bench_estimate.py --reprice F.json # a saved run's rows at the current COSTS
    python scripts/bench_estimate.py --fit --reprice F.json   # fit to a saved run, nothing run
    python scripts/bench_estimate.py --cases 0-9      # a few cases (indices, ranges)

Each case runs in a fresh Python process, as a user's command does: the estimate exactly as
`pramsim run`/`check` make it (runner.time_estimate; on the compiled engine the
compiling run before the run), then the run itself, timed (wall clock, imports and the estimate
not included: the estimate is of the run that follows it). Prints one row per case, the ratio
estimate / real, and the worst ratio either way; `--out F.json` keeps the rows.

`--fit` fits the costs of each way of running (vector, compiled, check: pramsim.estimate.EngineCost)
to the rows of the cases with an even index; the table then reports the odd ones apart: in sample
and out of sample. `--reprice ROWS.json` prints a saved run's table at the current COSTS without
running anything (the counts at the target are the estimate's, the same on every run).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (command, program, parameters, engine, machine): the shipped programs over sizes whose runs take
# from a tenth of a second to a few tens of seconds on 2 cores.
CASES = [
    ("run", "tree_sum", "n=2**20", "vector", "pram"),
    ("run", "tree_sum", "n=2**23", "vector", "pram"),
    ("run", "tree_max", "n=2**21", "vector", "pram"),
    ("run", "vector_mul", "n=2**22", "vector", "pram"),
    ("run", "vector_mul_gridstride", "n=2**16", "vector", "pram"),
    ("run", "outer_product", "n=1024", "vector", "pram"),
    ("run", "max_crcw", "n=512", "vector", "pram"),
    ("run", "block_sum", "n=2**21", "vector", "h100"),
    ("run", "scan_blelloch", "n=2**20", "vector", "pram"),
    ("run", "scan_hillis_steele", "n=2**18", "vector", "pram"),
    ("run", "segmented_scan", "n=2**18", "vector", "pram"),
    ("run", "compact", "n=2**18", "vector", "pram"),
    ("run", "bitonic_sort", "n=2**14", "vector", "pram"),
    ("run", "bitonic_sort", "n=2**17", "vector", "pram"),
    ("run", "merge_sort", "n=2**13", "vector", "pram"),
    ("run", "radix_sort", "n=2**14", "vector", "pram"),
    ("run", "histogram", "n=2**16", "vector", "pram"),
    ("run", "histogram_shared", "n=2**20", "vector", "pram"),
    ("run", "matvec", "n=2048", "vector", "pram"),
    ("run", "matmul_naive", "n=256", "vector", "pram"),
    ("run", "matmul_tiled", "n=256 tile=16", "vector", "h100"),
    ("run", "spmv", "n=2**16", "vector", "pram"),
    ("run", "list_rank", "n=2**14", "vector", "pram"),
    ("run", "list_rank_splice", "n=2**13", "vector", "pram"),
    ("run", "softmax", "rows=64 n=1024", "vector", "h100"),
    ("run", "softmax_online", "rows=64 n=2048", "vector", "pram"),
    ("run", "attention_naive", "n=256", "vector", "h100"),
    ("run", "attention_flash", "n=512", "vector", "h100"),
    ("run", "attention_chunked", "n=128", "vector", "h100"),
    ("run", "attention_layer", "n=128", "vector", "pram"),
    ("run", "connected_components", "n=2048", "vector", "pram"),
    ("check", "tree_sum", "", "vector", "pram"),
    ("check", "bitonic_sort", "", "vector", "pram"),
    ("check", "histogram_shared", "", "vector", "pram"),
    ("check", "scan_blelloch", "", "vector", "pram"),
    ("check", "matmul_tiled", "", "vector", "pram"),
    ("check", "merge_sort", "", "vector", "pram"),
    ("check", "radix_sort", "", "vector", "pram"),
    ("check", "attention_flash", "", "vector", "pram"),
    ("check", "list_rank", "", "vector", "pram"),
    ("run", "tree_sum", "n=2**24", "compiled", "pram"),
    ("run", "matmul_tiled", "n=512 tile=16", "compiled", "pram"),
    ("run", "attention_flash", "n=1024", "compiled", "h100"),
    ("run", "bitonic_sort", "n=2**18", "compiled", "pram"),
    ("run", "scan_blelloch", "n=2**22", "compiled", "pram"),
    ("run", "matmul_naive", "n=512", "compiled", "pram"),
    ("run", "softmax", "rows=512 n=1024", "compiled", "h100"),
    ("run", "merge_sort", "n=2**16", "compiled", "pram"),
]


def one(case: tuple[str, str, str, str, str]) -> dict:
    """Run one case in this process: the estimate, then the run, timed."""
    from pramsim import limits
    from pramsim.machine import load_machine
    from pramsim.programs import load_program
    from pramsim.runner import (_compile_first, check_program, parse_params, time_estimate,
                                run_program, sweep_points)
    command, name, params, engine, machine_name = case
    prog = load_program(name)
    values = parse_params(prog, params.split())
    machine = load_machine(machine_name)
    lim = limits.Limits()
    t0 = time.perf_counter()
    if command == "check":
        est = time_estimate(prog, sweep_points(prog), machine, 0, "crcw-arbitrary", "check", lim)
    else:
        est = time_estimate(prog, [values], machine, 0, "crcw-arbitrary", engine, lim)
        if engine == "compiled" and est.probes:
            est.compile_s = _compile_first(prog, values, est, lim, machine, 0, "crcw-arbitrary")
    t1 = time.perf_counter()
    if command == "check":
        check_program(prog, machine)
    else:
        run_program(prog, values, machine, engine=engine)
    real = time.perf_counter() - t1
    return {"case": list(case), "estimate_s": est.seconds, "low_s": est.low, "high_s": est.high,
            "estimating_s": t1 - t0, "compile_s": est.compile_s, "real_s": real,
            "at_target": list(est.at_target), "reason": est.reason}


def run_case(index: int, cold: bool, cache: Path) -> dict:
    """One case in a fresh process: cold (empty caches of its own) or warm (the shared ones, run once first)."""
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory())) if cold else cache
        for var in ("NUMBA_CACHE_DIR", "PRAMSIM_COMPILED_CACHE"):
            (folder / var).mkdir(mode=0o700, exist_ok=True)
            env[var] = str(folder / var)
        cmd = [sys.executable, __file__, "--one", str(index)]
        if not cold:  # warm: the caches filled by a first run of the same case
            subprocess.run(cmd, env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"case": list(CASES[index]), "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def busy(n: int):
    """n processes spinning on a core each, for the length of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def ratio(row: dict) -> float:
    return row["estimate_s"] / row["real_s"]


TERMS = ("step_s", "op_s", "launch_s", "memory_s", "block_s")


def _columns(row: dict) -> list[float]:
    """The estimate's counts at the target, as EngineCost.seconds weighs them (TERMS' order)."""
    work, depth, launches, memory, blocks = row["at_target"]
    return [depth, work - memory, launches, memory, blocks]


def fit(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Non-negative costs (TERMS) per way of running: least squares on the relative error over
    every subset of the terms, the best, then scaled so that the geometric mean of the ratios is 1
    (the middle of a range that is symmetric in ratio)."""
    import numpy as np
    out = {}
    for kind in ("vector", "compiled", "check"):
        sel = [r for r in rows if _kind(r) == kind and "error" not in r and r["estimate_s"] is not None]
        if not sel:
            continue
        x = np.array([_columns(r) for r in sel], float) / np.array([r["real_s"] for r in sel])[:, None]
        best = None
        for k in range(1, len(TERMS) + 1):
            for cols in itertools.combinations(range(len(TERMS)), k):
                coef, *_ = np.linalg.lstsq(x[:, cols], np.ones(len(sel)), rcond=None)
                if (coef < 0).any():
                    continue
                full = np.zeros(len(TERMS))
                full[list(cols)] = coef
                pred = x @ full
                if (pred <= 0).any():
                    continue
                err = float(np.sum(np.log(pred) ** 2))  # ratios, both ways alike
                if best is None or err < best[0]:
                    best = (err, full)
        full = best[1] * math.exp(-float(np.mean(np.log(x @ best[1]))))
        out[kind] = dict(zip(TERMS, (float(v) for v in full)))
    return out


def reprice(rows: list[dict]) -> list[dict]:
    """The rows' estimates at the current pramsim.estimate.COSTS (counts and real times as measured)."""
    from pramsim.estimate import COSTS, SPREAD
    out = []
    for r in rows:
        if "error" in r or r["estimate_s"] is None:
            out.append(r)
            continue
        seconds = COSTS[_kind(r)].seconds(*r["at_target"])
        out.append({**r, "estimate_s": seconds, "low_s": seconds / SPREAD, "high_s": seconds * SPREAD})
    return out


def _kind(row: dict) -> str:
    return "check" if row["case"][0] == "check" else row["case"][3]


def table(rows: list[dict]) -> None:
    print(f"{'case':<58} {'estimate':>9} {'range':>17} {'real':>8} {'ratio':>6}")
    for r in rows:
        label = " ".join(x for x in (r["case"][0], r["case"][1], r["case"][2], r["case"][3], "-m " + r["case"][4]) if x)
        if "error" in r:
            print(f"{label:<58} error: {r['error']}")
            continue
        rng = f"{r['low_s']:.2g}-{r['high_s']:.2g} s" if r["estimate_s"] is not None else "none"
        est = f"{r['estimate_s']:.3g} s" if r["estimate_s"] is not None else "none"
        rat = f"{ratio(r):.2f}" if r["estimate_s"] is not None else ""
        print(f"{label:<58} {est:>9} {rng:>17} {r['real_s']:>6.3g} s {rat:>6}")
    print()
    for label, keep in (("all", lambda i: True), ("in sample (even: COSTS fitted to them)", lambda i: i % 2 == 0),
                        ("out of sample (odd)", lambda i: i % 2 == 1)):
        ratios = [ratio(r) for r in rows if "error" not in r and r["estimate_s"] is not None and keep(r["index"])]
        if ratios:
            print(f"{label}: {len(ratios)} cases, median ratio {statistics.median(ratios):.2f}, lowest "
                  f"{min(ratios):.2f}, highest {max(ratios):.2f}; within 3x both ways: "
                  f"{sum(1 / 3 <= x <= 3 for x in ratios)} of {len(ratios)}")


def _indices(text: str | None) -> list[int]:
    if not text:
        return list(range(len(CASES)))
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cold", action="store_true", help="fresh numba and pramsim caches for each case")
    ap.add_argument("--busy", type=int, default=0, help="this many busy processes beside the cases")
    ap.add_argument("--fit", action="store_true", help="fit the costs on the even cases, report the odd apart")
    ap.add_argument("--cases", help="indices to run, e.g. 0-9,40")
    ap.add_argument("--out", type=Path, help="write the rows as JSON")
    ap.add_argument("--reprice", type=Path, help="no runs: the rows of this JSON at the current COSTS")
    args = ap.parse_args()
    if args.reprice:
        saved = json.loads(args.reprice.read_text())
        if args.fit:
            _print_fit(saved)
        else:
            table(reprice(saved))
        return
    if args.one is not None:
        print(json.dumps(one(CASES[args.one])))
        return
    rows = []
    with tempfile.TemporaryDirectory() as cache, busy(args.busy):
        for i in _indices(args.cases):
            rows.append(run_case(i, args.cold, Path(cache)))
            rows[-1]["index"] = i
            print(f"[{len(rows)}/{len(_indices(args.cases))}] {' '.join(CASES[i])}: "
                  f"{rows[-1].get('real_s', 0):.3g} s", file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    if args.fit:
        _print_fit(rows)
        return
    table(rows)


def _print_fit(rows: list[dict]) -> None:
    """COSTS fitted to the even-numbered rows, as pramsim/estimate.py writes them."""
    for kind, terms in fit([r for r in rows if r["index"] % 2 == 0]).items():
        print(f'"{kind}": EngineCost(' + ", ".join(f"{k}={v:.2g}" for k, v in terms.items()) + "),")


if __name__ == "__main__":
    main()
