"""Run the shipped programs on the GPU at benchmark sizes (fp32) and report measured time and rates.

Usage (on the lent GPU, with the repository on PYTHONPATH):
    python scripts/gpu_validate.py [--repeat 5] [--only tree_sum,matmul_tiled] [--small | --defaults]
                                   [--suite bench|validate|both] [--json PATH]

--suite: `bench` (default) the benchmark sizes below; `validate` the sizes of `pramsim validate`
(pramsim/validate.py SUITE: small, host-bound); `both`. Each row says its `set` ("benchmark" or
"validate"), as the committed predictions (docs/validation/h200-predictions-*.json) do.
--defaults: each program once, at its shipped default parameters (tiny: for a dry run under
numba's CUDA simulator, scripts/gpu_lab.sh --dry-run). The JSON is rewritten after every row, so
a run stopped by a timeout keeps the rows it finished.

For each (program, params) below that exists in programs/, `pramsim.gpu_runner.run_on_gpu` lowers the DSL
source to numba.cuda, runs the whole host program (one warm-up, then `--repeat` runs timed with CUDA
events, median), and checks the result against the program's NumPy reference. GB/s and GFLOP/s
use the *compulsory* traffic and the textbook FLOP count of each problem (given beside each entry),
not what a particular kernel happens to move: they are rates of useful work, comparable across
variants. Writes JSON to --json, else $OUT/gpu_validate.json when $OUT is set, else ./gpu_validate.json.
Programs missing from programs/ are skipped; a failing entry is recorded with its error and the
script goes on.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pramsim import gpu_runner as gpu  # noqa: E402  (imported before numba: numpy shim, simulator decision)
from pramsim.programs import load_program, shipped_programs  # noqa: E402
from pramsim import validate  # noqa: E402

BENCH = validate.BENCH  # (program, params, compulsory HBM bytes, useful FLOPs): pramsim/validate.py

SMALL = {"n": 4096}  # --small: a quick check of the script itself (sizes divided down)


def shrink(params: dict[str, int]) -> dict[str, int]:
    out = dict(params)
    if "heads" in out:
        out.update(heads=2, n=256)
    elif "rows" in out:
        out["rows"] = 64
    elif out.get("n", 0) > 4096:
        out["n"] = 4096 if out["n"] == validate.BENCH_N else 256
    elif "n" in out:
        out["n"] = 256
    return out


def entries(suite: str, defaults: bool) -> list[tuple[str, str, dict[str, int], int | None, int | None]]:
    """(set, program, params, compulsory bytes, useful FLOPs) of the chosen suite; with `defaults`,
    each program once, at its shipped default parameters (no byte or FLOP figures)."""
    out: list[tuple[str, str, dict[str, int], int | None, int | None]] = []
    if suite in ("bench", "both"):
        out += [("benchmark", name, params, nbytes, flops) for name, params, nbytes, flops in BENCH]
    if suite in ("validate", "both"):
        out += [("validate", name, params, None, None) for name, params in validate.SUITE]
    if defaults:
        shipped, seen, tiny = shipped_programs(), set(), []
        for set_, name, _, _, _ in out:
            if name in shipped and name not in seen:
                seen.add(name)
                tiny.append((set_, name, dict(load_program(name).params), None, None))
        out = tiny
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated program names")
    ap.add_argument("--small", action="store_true", help="tiny sizes: check the script, not the GPU")
    ap.add_argument("--defaults", action="store_true", help="each program at its default parameters (a dry run)")
    ap.add_argument("--suite", choices=("bench", "validate", "both"), default="bench")
    ap.add_argument("--json", default="", help="output path (default $OUT/gpu_validate.json)")
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    shipped = shipped_programs()
    rows = []
    path = Path(args.json) if args.json else Path(os.environ.get("OUT", ".")) / "gpu_validate.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = run_meta(args)
    print(f"device: {gpu.device_name()}  (simulated: {gpu.using_simulator()})", flush=True)
    header = f"{'program':<20} {'params':<52} {'ms':>10} {'GB/s':>9} {'GFLOP/s':>10} {'correct':>8}"
    print(header)
    print("-" * len(header), flush=True)
    for set_, name, params, nbytes, flops in entries(args.suite, args.defaults):
        if name not in shipped or (only and name not in only):
            continue
        if args.small and nbytes is not None:
            scale_params = shrink(params)
            ratio = 1.0
            for k in params:  # scale the useful-work figures to the shrunk sizes (rough, for the table only)
                if params[k] != scale_params[k]:
                    ratio *= scale_params[k] / params[k]
            params = scale_params
            nbytes, flops = int(nbytes * ratio), int(flops * ratio)
        params = {**load_program(name).params, **params}  # every parameter, as the predictions record them
        ptxt = " ".join(f"{k}={v}" for k, v in params.items())
        t0 = time.perf_counter()
        try:
            r = gpu.run_on_gpu(load_program(name), params, repeat=args.repeat)
        except Exception as exc:  # record and go on: one broken entry must not hide the others
            rows.append({"set": set_, "program": name, "params": params, "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()})
            print(f"{name:<20} {ptxt:<52} ERROR {type(exc).__name__}: {str(exc).splitlines()[0][:120]}", flush=True)
            save(path, meta, rows)
            continue
        s = r["measured_s"]
        r.update(set=set_, compulsory_bytes=nbytes, useful_flops=flops, wall_s=time.perf_counter() - t0,
                 gb_per_s=nbytes / s / 1e9 if nbytes else None, gflop_per_s=flops / s / 1e9 if flops else None)
        rows.append(r)
        save(path, meta, rows)
        rate = (f"{r['gb_per_s']:>9.1f} {r['gflop_per_s']:>10.1f}" if nbytes else f"{'-':>9} {'-':>10}")
        print(f"{name:<20} {ptxt:<52} {s * 1e3:>10.3f} {rate} {str(r['correct']):>8}", flush=True)
    save(path, meta, rows)
    print(f"wrote {path}")
    return 0 if all(r.get("correct") for r in rows) else 1


def save(path: Path, meta: dict, rows: list[dict]) -> None:
    """The JSON so far (rewritten after every row: a timeout keeps the finished rows)."""
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2, default=str))


def run_meta(args: argparse.Namespace) -> dict:
    """Date, device, versions and command of this run."""
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": gpu.device_name(), "simulated": gpu.using_simulator(), "repeat": args.repeat,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "host": platform.node(),
            "python": platform.python_version()}
    try:
        import numba
        import numpy
        meta.update(numba=numba.__version__, numpy=numpy.__version__)
        from numba import cuda
        if not gpu.using_simulator():
            meta["driver"] = ".".join(map(str, cuda.cudadrv.driver.driver.get_version()))
            meta["runtime"] = ".".join(map(str, cuda.runtime.get_version()))
            import importlib.metadata
            meta["numba_cuda"] = importlib.metadata.version("numba-cuda")
    except Exception as exc:  # the versions are a courtesy; never lose the results for them
        meta["version_error"] = str(exc)
    return meta


if __name__ == "__main__":
    sys.exit(main())
