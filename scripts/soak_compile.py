"""Cold compiles under load and under concurrency: do any fail? (issue 22, goal 4)

    python scripts/soak_compile.py --runs 200 --busy 2     # cold runs, one after another
    python scripts/soak_compile.py --runs 40 --parallel 4  # four processes at a time, one shared cold cache

Each run is `pramsim run PROGRAM --engine compiled --max-time 30` (a --max-time alarm armed while
numba compiles: what used to break numba's registries) of a shipped program at its defaults, in a
fresh process. With --parallel, the runs share one numba and pramsim cache, emptied at the start
(the first of each program compiles while the others load or compile the same files). Prints
each failure's last lines and the count: the goal is none.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_estimate import busy  # noqa: E402

PROGRAMS = ["tree_sum", "block_sum", "scan_blelloch", "bitonic_sort", "matmul_tiled", "softmax",
            "attention_flash", "histogram_shared", "merge_sort", "compact"]


def run(program: str, cache: Path) -> tuple[str, int, str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"), PRAMSIM_COMPILED_CACHE=str(cache / "cpu"))
    r = subprocess.run([sys.executable, "-m", "pramsim", "run", program, "--engine", "compiled", "--max-time", "30"],
                       env=env, capture_output=True, text=True, check=False)
    return program, r.returncode, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--busy", type=int, default=0, help="busy processes beside the runs")
    ap.add_argument("--parallel", type=int, default=1, help="runs at a time, sharing one cache")
    args = ap.parse_args()
    programs = list(itertools.islice(itertools.cycle(PROGRAMS), args.runs))
    failures = 0
    with tempfile.TemporaryDirectory() as shared, busy(args.busy):
        def one(program: str) -> tuple[str, int, str]:
            if args.parallel > 1:
                cache = Path(shared)
            else:  # cold: a cache of its own
                cache = Path(tempfile.mkdtemp(dir=shared))
            for sub in ("numba", "cpu"):
                (cache / sub).mkdir(mode=0o700, exist_ok=True)
            return run(program, cache)
        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            for k, (program, code, err) in enumerate(pool.map(one, programs), 1):
                if code != 0:
                    failures += 1
                    print(f"FAILED {program} (exit {code}):\n  " + "\n  ".join(err.strip().splitlines()[-4:]))
                print(f"[{k}/{len(programs)}] {program}: exit {code}", file=sys.stderr, flush=True)
    print(f"{args.runs} runs (busy {args.busy}, parallel {args.parallel}): {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
