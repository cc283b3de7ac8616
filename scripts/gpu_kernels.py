"""The kernel goals of issue 12, measured: pramsim's lowered SGEMM and attention kernels beside
their library anchors on the same GPU, in fp32, as kernel device time.

Usage (on the lent GPU, the repository on PYTHONPATH):
    python scripts/gpu_kernels.py --out OUT.json [--small] [--repeat R]
Writes OUT.json and OUT.md after every row (a timeout keeps the finished rows).

Each pramsim row runs the DSL program through pramsim.gpu_runner.run_on_gpu: lowered to
numba.cuda, checked against the program's float64 NumPy reference, timed with CUDA events around
each launch (device time = the sum over the launches; the goals are device times, as Nsight
Compute reports kernels). Anchors, timed with CUDA events after a warm-up (median):
  - SGEMM: torch.matmul with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False), else
    cupy.matmul (cuBLAS; cupy uses TF32 only when CUPY_TF32=1, which this script unsets);
  - attention: torch.nn.functional.scaled_dot_product_attention on fp32 tensors (TF32 off).
Each anchor's output is checked against float64 NumPy on a slice. An anchor whose library is
absent is skipped with a line saying so. FLOPs: 2·n³ for SGEMM, 4·B·H·N²·D for attention.
Goals: SGEMM at n = 4096 and 8192 ≥ 50% of the anchor's rate; attention_flash_regblock at
B1 H16 N4096 D64 ≥ 50% of SDPA; flash faster than attention_naive by a margin growing with N.
--small: tiny sizes (SMALL_ENTRIES), anchors skipped without a GPU: checks the script.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pramsim import gpu_runner as gpu  # noqa: E402  (before numba: numpy shim, simulator decision)
from pramsim.programs import load_program  # noqa: E402

GOAL_RATIO = 0.5
SGEMM = "matmul_regblock"
FLASH = "attention_flash_regblock"
HEADS, D = 16, 64


def attn(n: int, heads: int = HEADS, d: int = D) -> dict[str, int]:
    return {"batch": 1, "heads": heads, "n": n, "d": d}


# The tiles the goals are judged at (docs/validation/README.md section 8, and the model's predictions
# of them in docs/validation/h200-model-regblock-2026-11-30.json): not the programs' tiny defaults.
SGEMM_TILES = {"bm": 128, "bn": 128, "bk": 8, "tm": 8, "tn": 8, "pad": 4}
FLASH_TILES = {"br": 64, "bc": 32, "rm": 8, "cn": 4, "pad": 1}

# (group, program, params): the goal sizes with the goal tiles; other parameters are the defaults.
ENTRIES: list[tuple[str, str, dict[str, int]]] = [
    ("sgemm", SGEMM, {"n": 4096, **SGEMM_TILES}),
    ("sgemm", SGEMM, {"n": 8192, **SGEMM_TILES}),
    ("sgemm", "matmul_tiled", {"n": 4096, "tile": 16}),
    ("attention", FLASH, {**attn(4096), **FLASH_TILES}),
    ("attention", "attention_flash", {**attn(4096), "tile_r": 16, "tile_c": 16, "pad": 1}),
    ("attention", FLASH, {**attn(1024), **FLASH_TILES}),
    ("attention", FLASH, {**attn(2048), **FLASH_TILES}),
    ("attention", "attention_naive", attn(1024)),
    ("attention", "attention_naive", attn(2048)),
    ("attention", "attention_naive", attn(4096)),
]


def flops(group: str, p: dict[str, int]) -> int:
    if group == "sgemm":
        return 2 * p["n"] ** 3
    return 4 * p["batch"] * p["heads"] * p["n"] ** 2 * p["d"]


# --small (the dry run under numba's simulator, one OS thread per CUDA thread): the two new
# kernels at their defaults and one naive attention, tiny.
SMALL_ENTRIES: list[tuple[str, str, dict[str, int]]] = [
    ("sgemm", SGEMM, {}),
    ("attention", FLASH, {}),
    ("attention", "attention_naive", {"heads": 1, "n": 16, "d": 8}),
]


# ---- anchors --------------------------------------------------------------------------------------

def _events_median(sync: Callable[[], None], make_event: Callable[[], Any], fn: Callable[[], Any],
                   repeat: int) -> float:
    """Median seconds of fn() between two CUDA events, after one warm-up."""
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start, stop = make_event(), make_event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times)


def _rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def sgemm_anchor(n: int, repeat: int) -> dict[str, Any]:
    """cuBLAS SGEMM (TF32 off) through torch, else cupy; `skipped` says why when neither is usable."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    ref = a[:64].astype(np.float64) @ b.astype(np.float64)
    torch = _torch()
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        s = _events_median(torch.cuda.synchronize, lambda: torch.cuda.Event(enable_timing=True),
                           lambda: torch.matmul(ta, tb), repeat)
        err = _rel_err(torch.matmul(ta[:64], tb).cpu().numpy(), ref)
        return {"anchor": f"torch.matmul fp32, TF32 off (torch {torch.__version__})", "anchor_s": s, "anchor_rel_err": err}
    try:
        os.environ.pop("CUPY_TF32", None)
        import cupy
        ca, cb = cupy.asarray(a), cupy.asarray(b)
        s = _events_median(cupy.cuda.Device().synchronize, cupy.cuda.Event, lambda: cupy.matmul(ca, cb), repeat)
        err = _rel_err(cupy.asnumpy(cupy.matmul(ca[:64], cb)), ref)
        return {"anchor": f"cupy.matmul fp32 (cuBLAS SGEMM; cupy {cupy.__version__})", "anchor_s": s, "anchor_rel_err": err}
    except Exception as exc:  # ImportError, or a cupy without a usable GPU
        return {"anchor": None, "skipped": f"no SGEMM anchor: neither torch with CUDA nor cupy is usable here ({exc})"}


def sdpa_anchor(p: dict[str, int], repeat: int) -> dict[str, Any]:
    """torch's scaled_dot_product_attention on fp32 tensors (TF32 off)."""
    torch = _torch()
    if torch is None:
        return {"anchor": None, "skipped": "no attention anchor: torch with CUDA is not installed here"}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rng = np.random.default_rng(0)
    shape = (p["batch"], p["heads"], p["n"], p["d"])
    q, k, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    tq, tk, tv = (torch.from_numpy(x).cuda() for x in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    s = _events_median(torch.cuda.synchronize, lambda: torch.cuda.Event(enable_timing=True),
                       lambda: sdpa(tq, tk, tv), repeat)
    q0, k0, v0 = (x[0, 0].astype(np.float64) for x in (q, k, v))  # one head, checked in float64
    sc = q0 @ k0.T / np.sqrt(p["d"])
    w = np.exp(sc - sc.max(axis=1, keepdims=True))
    ref = (w / w.sum(axis=1, keepdims=True)) @ v0
    err = _rel_err(sdpa(tq, tk, tv)[0, 0].cpu().numpy(), ref)
    return {"anchor": f"torch SDPA fp32 (torch {torch.__version__})", "anchor_s": s, "anchor_rel_err": err}


# ---- rows and goals --------------------------------------------------------------------------------

def measure_row(group: str, name: str, params: dict[str, int], repeat: int) -> dict[str, Any]:
    """One pramsim kernel, run and checked by run_on_gpu, with its rate."""
    prog = load_program(name)
    values = {**prog.params, **params}
    t0 = time.perf_counter()
    r = gpu.run_on_gpu(prog, values, repeat=repeat)
    device_s = r.get("measured_device_s")
    timed = device_s if device_s else r["measured_s"]  # the simulator has no per-launch events
    f = flops(group, values)
    return {"group": group, "program": name, "params": values, "correct": r["correct"],
            "max_rel_error": r["max_rel_error"], "measured_s": r["measured_s"], "measured_device_s": device_s,
            "timed": "device" if device_s else "whole program (no per-launch events)",
            "launches": r["launches"], "flops": f, "tflop_per_s": f / timed / 1e12, "wall_s": time.perf_counter() - t0,
            "per_launch": r.get("per_launch")}


def anchor_for(row: dict[str, Any], repeat: int, simulated: bool) -> dict[str, Any]:
    """The library anchor at the row's size; a failing anchor is recorded, and keeps the row."""
    if simulated:
        return {"anchor": None, "skipped": "no anchor on numba's CUDA simulator (no GPU)"}
    p = row["params"]
    try:
        return sgemm_anchor(p["n"], repeat) if row["group"] == "sgemm" else sdpa_anchor(p, repeat)
    except Exception as exc:  # out of memory, a library error: the pramsim row still counts
        return {"anchor": None, "skipped": f"anchor failed: {type(exc).__name__}: {exc}"}


def with_anchor(row: dict[str, Any], anchor: dict[str, Any]) -> dict[str, Any]:
    row = {**row, **anchor}
    if anchor.get("anchor_s"):
        row["anchor_tflop_per_s"] = row["flops"] / anchor["anchor_s"] / 1e12
        row["share_of_anchor"] = row["tflop_per_s"] / row["anchor_tflop_per_s"]
    return row


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's kernel goals, each met / not met / not measured, from the rows."""
    def find(name: str, **p: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["program"] == name and all(r["params"].get(k) == v for k, v in p.items())), None)

    out = []
    for what, row in (("SGEMM n=4096 >= 50% of cuBLAS", find(SGEMM, n=4096)),
                      ("SGEMM n=8192 >= 50% of cuBLAS", find(SGEMM, n=8192)),
                      ("flash B1 H16 N4096 D64 >= 50% of SDPA fp32", find(FLASH, n=4096, heads=HEADS))):
        share = row.get("share_of_anchor") if row else None
        out.append({"goal": what, "share_of_anchor": share, "met": None if share is None else share >= GOAL_RATIO})
    speedups = []
    for n in (1024, 2048, 4096):
        f, nv = find(FLASH, n=n, heads=HEADS), find("attention_naive", n=n, heads=HEADS)
        if f and nv:
            speedups.append({"n": n, "naive_over_flash": (nv["measured_device_s"] or nv["measured_s"])
                             / (f["measured_device_s"] or f["measured_s"])})
    grows = (len(speedups) == 3 and speedups[0]["naive_over_flash"] > 1
             and all(a["naive_over_flash"] < b["naive_over_flash"] for a, b in zip(speedups, speedups[1:])))
    out.append({"goal": "flash faster than attention_naive by a margin growing with N", "speedups": speedups,
                "met": grows if len(speedups) == 3 else None})
    return out


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [f"# Kernel goals on {meta['device']} ({meta['date']})", "",
             f"Command: `{meta['command']}`. Times: kernel device time (CUDA events per launch), median of "
             f"{meta['repeat']}; rates from 2·n³ (SGEMM) and 4·B·H·N²·D (attention) FLOPs.", ""]
    if meta["simulated"]:
        lines += ["**Simulated** (numba's CUDA simulator): the times mean nothing; this checks the script.", ""]
    lines += ["| program | params | correct | device ms | TFLOP/s | anchor | anchor TFLOP/s | share |",
              "|---|---|---|---:|---:|---|---:|---:|"]
    for r in result["rows"]:
        params = " ".join(f"{k}={v}" for k, v in r.get("params", {}).items())
        if "error" in r:
            lines.append(f"| {r['program']} | {params} | ERROR: {r['error'][:80]} | | | | | |")
            continue
        timed = r["measured_device_s"] or r["measured_s"]
        anchor = r.get("anchor") or r.get("skipped", "–")
        at = f"{r['anchor_tflop_per_s']:.2f}" if r.get("anchor_tflop_per_s") else "–"
        share = f"{r['share_of_anchor']:.0%}" if r.get("share_of_anchor") else "–"
        lines.append(f"| {r['program']} | {params} | {r['correct']} | {timed * 1e3:,.3f} | {r['tflop_per_s']:.2f} | "
                     f"{anchor} | {at} | {share} |")
    lines += ["", "Goals:", ""]
    for g in result["goals"]:
        state = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        extra = f" ({g['share_of_anchor']:.0%} of the anchor)" if g.get("share_of_anchor") else ""
        if g.get("speedups"):
            extra = " (naive/flash: " + ", ".join(f"N={s['n']}: {s['naive_over_flash']:.2f}x" for s in g["speedups"]) + ")"
        lines.append(f"- {g['goal']}: **{state}**{extra}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="OUT.json (OUT.md beside it)")
    ap.add_argument("--small", action="store_true", help="tiny sizes: checks the script")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    simulated = gpu.using_simulator()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": gpu.device_name(), "simulated": simulated, "repeat": args.repeat,
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
    result: dict[str, Any] = {"meta": meta, "rows": [], "goals": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for group, name, params in (SMALL_ENTRIES if args.small else ENTRIES):
        t0 = time.perf_counter()
        try:
            row = measure_row(group, name, params, args.repeat)
            row = with_anchor(row, anchor_for(row, args.repeat, simulated))
        except Exception as exc:  # record and go on: one broken row must not hide the others
            row = {"group": group, "program": name, "params": params, "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc()}
        result["rows"].append(row)
        result["goals"] = goals([r for r in result["rows"] if "error" not in r])
        args.out.write_text(json.dumps(result, indent=2, default=str))
        args.out.with_suffix(".md").write_text(markdown(result))
        msg = row.get("error") or (f"{row['tflop_per_s']:.3f} TFLOP/s, correct {row['correct']}; "
                                   + (f"anchor {row['anchor_tflop_per_s']:.2f} TFLOP/s" if row.get("anchor_tflop_per_s")
                                      else row.get("skipped", "")))
        print(f"{name} {params}: {msg} ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0 if all(r.get("correct") for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
