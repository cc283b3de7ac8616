#!/usr/bin/env python3
"""Calibrate a GPU profile's time model from committed measurements (no GPU needed).

    python scripts/calibrate.py [--measured docs/validation/h100-2026-11-23-validate.json]
                                [--bench docs/validation/h100-2026-11-23-gpu_validate.json]
                                [--microbench docs/validation/h100-2026-11-23-microbench.json]
                                [--profile h100] [--write] [--cache DIR] [--skip PROGRAMS]

Two sets of measured rows (program, params, measured_s): `--measured`, from `pramsim validate
--out` on the GPU at sizes the vector executor runs in seconds (host-bound programs, mostly), and
`--bench`, from scripts/gpu_validate.py at benchmark sizes (device-bound), which the compiled
engine runs (minutes: matmul at n = 4096 takes the longest; `--cache DIR` keeps each row's
trace). The GPU model (pramsim/machine/gpu.py) predicts every row. Fixed, from the
microbenchmark file: the HBM bandwidth (numba's grid-stride copy). Fitted on both sets by least
squares on log(predicted / measured), the same three values for every program:

    program_overhead_s            host time per timed program besides its launches
    launch_overhead_s             host time to issue one launch with its arguments
    hbm_dependent_latency_cycles  cycles each HBM access of a thread waits for the one before

Printed: per row the committed prediction (`predicted_s` in the validate file: the model when it
was measured), the calibrated one, and the leave-one-out one (fitted on every other row), each
with its relative error, summarised per set; and whether the model picks the same winner as the
GPU between variants (COMPARISONS, and one program with other tiles). `--write` puts the fitted
values into the profile's TOML (the lines of those fields, and a comment citing this script and
the date). Limits: the fit is only as good as the model's mechanisms; it cannot see caches,
coalescing or per-argument launch costs (docs/validation/README.md, section 4).
"""
from __future__ import annotations

import argparse
import datetime
import json
import pickle
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pramsim.engines.vector import Executor  # noqa: E402
from pramsim.machine import load_machine  # noqa: E402
from pramsim.machine.gpu import simulate_gpu  # noqa: E402
from pramsim.machine.spec import MachineSpec, available_machines  # noqa: E402
from pramsim.programs import load_program  # noqa: E402
from pramsim.runner import execute, make_inputs  # noqa: E402

FREE = ("program_overhead_s", "launch_overhead_s", "hbm_dependent_latency_cycles")
LAT_GRID = np.arange(0.0, 801.0, 5.0)   # dependent latency (cycles) at which launches are simulated
# Pairs of variants whose winner the model must get right (rows of one set; tile variants too).
COMPARISONS = [("matmul_tiled", "matmul_naive"), ("attention_flash", "attention_naive"),
               ("attention_naive", "attention_chunked"), ("attention_flash", "attention_chunked")]


def label(row: dict) -> str:
    return row["program"] + " " + " ".join(f"{k}={v}" for k, v in row["params"].items())


def traces(rows: list[dict], cache: Path | None, engine: str = "vector") -> list:
    """The CostTrace of every row, run on `engine` (a row's trace is kept in the folder `cache`)."""
    out = []
    for r in rows:
        path = cache / (re.sub(r"[^\w=.-]+", "_", label(r)) + ".pkl") if cache else None
        if path and path.exists():
            out.append(pickle.loads(path.read_bytes()))
            continue
        prog = load_program(r["program"])
        params = {**prog.params, **r["params"]}
        ex = Executor(engine=engine)
        start = time.perf_counter()
        execute(prog, params, make_inputs(prog, params, 0), ex)
        out.append(ex.trace)
        print(f"  executed {label(r)} on the {engine} engine: {len(ex.trace.launches)} launches, "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if path:
            cache.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(ex.trace))
    return out


def device_cycles(trace, machine: MachineSpec) -> np.ndarray:
    """Cycles of each launch on the device (host overheads set to zero: they do not change them)."""
    s = simulate_gpu(trace, replace(machine, program_overhead_s=0.0, launch_overhead_s=0.0))
    return np.array([seg.end - seg.start for seg in s.segments], dtype=np.float64)


def pipeline_s(cycles: np.ndarray, clock_hz: float, program_s: float, launch_s: float) -> float:
    """What simulate_gpu computes from per-launch cycles: host issue times vs device ends."""
    host, end = program_s, 0.0
    for c in cycles / clock_hz:
        host += launch_s
        end = max(host, end) + c
    return max(end, host)


class Model:
    """Predicted seconds of every row as a function of the three free values.

    The device's one free value (`field`, the dependent latency by default) is simulated at the
    points of `grid` (evenly spaced) and interpolated linearly between them."""

    def __init__(self, trs: list, machine: MachineSpec, field: str = "hbm_dependent_latency_cycles",
                 grid: np.ndarray = LAT_GRID):
        self.clock = machine.clock_hz
        self.grid = grid
        # cycles[g][i]: launch cycles of row i with the device value grid[g]
        self.cycles = [[device_cycles(t, replace(machine, **{field: float(v)})) for t in trs] for v in grid]

    def predict(self, theta: np.ndarray, rows: list[int]) -> np.ndarray:
        program_s, launch_s, lat = theta
        grid = self.grid
        g = min(max(lat, grid[0]), grid[-1])
        j = min(int((g - grid[0]) // (grid[1] - grid[0])), len(grid) - 2)
        w = (g - grid[j]) / (grid[j + 1] - grid[j])  # linear in the device value between grid points
        return np.array([pipeline_s((1 - w) * self.cycles[j][i] + w * self.cycles[j + 1][i], self.clock,
                                    program_s, launch_s) for i in rows])


def nelder_mead(f, x0: np.ndarray, steps: np.ndarray, iters: int = 400) -> np.ndarray:
    """Minimise f from x0 (the textbook simplex method: reflect, expand, contract, shrink)."""
    pts = [x0] + [x0 + np.eye(len(x0))[k] * steps[k] for k in range(len(x0))]
    vals = [f(p) for p in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts, vals = [pts[k] for k in order], [vals[k] for k in order]
        centre = np.mean(pts[:-1], axis=0)
        refl = centre + (centre - pts[-1])
        fr = f(refl)
        if fr < vals[0]:
            exp = centre + 2 * (centre - pts[-1])
            fe = f(exp)
            pts[-1], vals[-1] = (exp, fe) if fe < fr else (refl, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = refl, fr
        else:
            con = centre + 0.5 * (pts[-1] - centre)
            fc = f(con)
            if fc < vals[-1]:
                pts[-1], vals[-1] = con, fc
            else:
                pts = [pts[0] + 0.5 * (p - pts[0]) for p in pts]
                vals = [f(p) for p in pts]
    return pts[int(np.argmin(vals))]


def fit(model: Model, measured: np.ndarray, rows: list[int]) -> np.ndarray:
    """Least squares on log(predicted / measured) over `rows`; values kept non-negative."""
    def loss(theta: np.ndarray) -> float:
        if np.any(theta < 0):
            return 1e9 + float(np.sum(np.minimum(theta, 0) ** 2))
        pred = model.predict(theta, rows)
        return float(np.sum(np.log(pred / measured[rows]) ** 2))

    best = None
    for lat0 in (20.0, 100.0, 300.0):  # a few starts: the loss is piecewise smooth in the latency
        theta = nelder_mead(loss, np.array([100e-6, 40e-6, lat0]), np.array([50e-6, 20e-6, 50.0]))
        theta = nelder_mead(loss, theta, np.array([10e-6, 5e-6, 10.0]))
        if best is None or loss(theta) < loss(best):
            best = theta
    return best


def write_profile(path: Path, values: dict[str, float], note: str) -> None:
    """Set `field = value  # note` for each field in the profile's TOML, keeping every other line."""
    lines = path.read_text().splitlines()
    for field, value in values.items():
        shown = f"{value * 1e6:.3g}e-6" if 0 < value < 1 else f"{value:.3g}".replace("e+", "e")
        text = f"{field} = {shown}".ljust(33) + f" # {note}"
        for i, line in enumerate(lines):
            if re.match(rf"\s*{re.escape(field)}\s*=", line):
                lines[i] = text
                break
        else:
            lines.append(text)
    path.write_text("\n".join(lines) + "\n")


def comparable(a: dict, b: dict) -> bool:
    """Two variants of one computation: a pair in COMPARISONS, or one program with other tiles."""
    if {a["program"], b["program"]} in [set(c) for c in COMPARISONS]:
        return True
    untiled = lambda r: {k: v for k, v in r["params"].items() if not k.startswith("tile")}
    return a["program"] == b["program"] and untiled(a) == untiled(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measured", default=str(ROOT / "docs/validation/h100-2026-11-23-validate.json"))
    ap.add_argument("--microbench", default=str(ROOT / "docs/validation/h100-2026-11-23-microbench.json"))
    ap.add_argument("--bench", default=str(ROOT / "docs/validation/h100-2026-11-23-gpu_validate.json"),
                    help="measurements at benchmark sizes (scripts/gpu_validate.py), run on the compiled engine")
    ap.add_argument("--skip", default="attention_chunked",
                    help="programs of --bench not simulated (comma-separated; default: attention_chunked, "
                         "whose 8,192 launches at N = 4096 take hours)")
    ap.add_argument("--profile", default="h100")
    ap.add_argument("--write", action="store_true", help="write the fitted values into the profile's TOML")
    ap.add_argument("--cache", default="", help="folder keeping each row's trace (reused when present)")
    ap.add_argument("--no-wavefronts", action="store_true",
                    help="charge shared memory by bytes / 128 B, as before bank conflicts were counted (comparison)")
    args = ap.parse_args()

    data = json.loads(Path(args.measured).read_text())
    rows = [r for r in data["rows"] if r.get("measured_s") and r.get("correct")]
    small = len(rows)
    bench = Path(args.bench)
    skip = set(filter(None, args.skip.split(",")))
    if bench.exists():
        rows += [r for r in json.loads(bench.read_text())["results"]
                 if r.get("correct") and r.get("measured_s") and r["program"] not in skip]
    measured = np.array([r["measured_s"] for r in rows])
    micro = json.loads(Path(args.microbench).read_text())
    profile = load_machine(args.profile)
    machine = replace(profile, hbm_bytes_per_s=float(micro["copy_bytes_per_s"]))
    print(f"measured: {args.measured} ({data['device']}, {data['date']}), {small} programs; "
          f"{bench.name}: {len(rows) - small} at benchmark sizes")
    print(f"fixed: hbm_bytes_per_s = {machine.hbm_bytes_per_s:.3g} (numba copy, {args.microbench})")

    cache = Path(args.cache) if args.cache else None
    trs = traces(rows[:small], cache) + traces(rows[small:], cache, engine="compiled")
    if args.no_wavefronts:
        for launch in (launch for t in trs for launch in t.launches):
            launch.block_sram_wavefronts = None
    old = np.array([r.get("predicted_s", np.nan) for r in rows])  # the model when it was measured
    model = Model(trs, machine)
    everyone = list(range(len(rows)))
    theta = np.array([float(f"{v:.3g}") for v in fit(model, measured, everyone)])  # as written to the profile
    pred = model.predict(theta, everyone)
    loo = np.array([model.predict(fit(model, measured, [j for j in everyone if j != i]), [i])[0] for i in everyone])
    exact = replace(machine, **dict(zip(FREE, map(float, theta))))
    check = np.array([simulate_gpu(t, exact).time_s for t in trs])  # the interpolation is faithful
    assert np.allclose(check, pred, rtol=0.02), (check, pred)

    print("fitted: " + ", ".join(f"{k} = {v:.3g}" for k, v in zip(FREE, theta)))
    print()
    print("| set | program | launches | measured µs | committed µs | err | calibrated µs | err | leave-one-out µs | err |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, r in enumerate(rows):
        e = lambda p: f"{(p - measured[i]) / measured[i]:+.0%}" if np.isfinite(p) else "—"
        shown = lambda p: f"{p * 1e6:,.1f}" if np.isfinite(p) else "—"
        print(f"| {'validate' if i < small else 'bench'} | {label(r)} | {len(trs[i].launches)} | {measured[i] * 1e6:,.1f} "
              f"| {shown(old[i])} | {e(old[i])} | {check[i] * 1e6:,.1f} | {e(check[i])} | {loo[i] * 1e6:,.1f} | {e(loo[i])} |")
    rel = lambda p: np.abs(p - measured) / measured
    for part, idx in (("validate sizes", slice(0, small)), ("benchmark sizes", slice(small, None)), ("all", slice(None))):
        for name, p in (("committed", old), ("calibrated", check), ("leave-one-out", loo)):
            r = rel(p)[idx]
            r = r[np.isfinite(r)]
            if len(r):
                print(f"{part:>16} {name:>14}: max |err| {r.max():.0%}, median {np.median(r):.0%}, "
                      f"within 25%: {int((r <= 0.25).sum())}/{len(r)}")
    print()
    for i, j in ((i, j) for i in everyone for j in everyone if i < j and (i < small) == (j < small)):
        if comparable(rows[i], rows[j]):
            win = lambda t: label(rows[i]) if t[i] < t[j] else label(rows[j])
            agree = "same" if win(measured) == win(check) == win(loo) else "DIFFERENT"
            print(f"winner {label(rows[i])} vs {label(rows[j])}: GPU {win(measured)}; calibrated {win(check)}; "
                  f"leave-one-out {win(loo)}  [{agree}]")

    if args.write:
        path = available_machines()[args.profile] if args.profile in available_machines() else Path(args.profile)
        today = datetime.date.today().isoformat()
        note = f"fitted by scripts/calibrate.py on {today} from {Path(args.measured).name}" + (
            f" and {bench.name}" if len(rows) > small else "")
        write_profile(path, {"hbm_bytes_per_s": machine.hbm_bytes_per_s}, f"measured: numba copy, {Path(args.microbench).name}")
        write_profile(path, dict(zip(FREE, (float(v) for v in theta))), note)
        print(f"\nwrote {', '.join(FREE)} and hbm_bytes_per_s into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
