"""`pramsim validate`: the simulator's predicted time beside the GPU's measured time.

For each (program, params) of a suite, the executor + GPU model predict the time on a profile
(h100 by default) and the CUDA backend measures it (median of CUDA-event timings). Sizes are
"executor-sized": large enough to fill the GPU for the simpler programs, small enough that the
executor, which runs every operation of every virtual processor, finishes in seconds. Writes a
markdown table and a JSON file. Without a GPU it runs on numba's CUDA simulator and says so;
then the measured times mean nothing (use `--small`). scripts/calibrate.py fits the profile's
host overheads and dependent-access latency to the JSON this writes.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any, Callable

from . import outfile
from .machine import load_machine
from .programs import load_program, shipped_programs
from .runner import run_program

SUITE: list[tuple[str, dict[str, int]]] = [
    ("vector_mul", {"n": 1 << 22}),
    ("tree_sum", {"n": 1 << 22}),
    ("tree_max", {"n": 1 << 22}),
    ("block_sum", {"n": 1 << 22}),
    ("scan_hillis_steele", {"n": 1 << 20}),
    ("scan_blelloch", {"n": 1 << 20}),
    ("outer_product", {"n": 1024}),
    ("matvec", {"n": 2048}),
    ("softmax", {"rows": 1024, "n": 1024}),
    ("softmax_online", {"rows": 1024, "n": 1024, "threads": 32}),
    ("matmul_naive", {"n": 256}),
    ("matmul_tiled", {"n": 256, "tile": 16}),
    ("attention_naive", {"batch": 1, "heads": 4, "n": 256, "d": 64}),
    ("attention_flash", {"batch": 1, "heads": 4, "n": 256, "d": 64, "tile_r": 16, "tile_c": 16}),
    ("attention_chunked", {"batch": 1, "heads": 4, "n": 256, "d": 64, "chunk": 0}),
    # Variants written for the GPU (docs/validation/README.md section 5), not measured yet:
    ("vector_mul_gridstride", {"n": 1 << 22, "blocks": 1056, "threads": 256}),
    ("matmul_regblock", {"n": 256, "bm": 64, "bn": 64, "bk": 8, "tm": 4, "tn": 4, "pad": 4}),
    ("attention_flash_regblock", {"batch": 1, "heads": 4, "n": 256, "d": 64, "br": 64, "bc": 32, "rm": 8, "cn": 4,
                                  "pad": 1}),
    # warp shuffles and atomics (issue 16 and 12), not measured yet:
    ("block_sum_warp", {"n": 1 << 22}),
    ("softmax_warp", {"rows": 1024, "n": 1024}),
    ("histogram", {"n": 1 << 20, "bins": 256}),
    ("histogram_shared", {"n": 1 << 20, "bins": 256}),
]

BENCH_N = 2**26
N, F = BENCH_N, 4  # F: bytes per float32

# scripts/gpu_validate.py's suite at benchmark sizes (device-bound):
# (program, params, compulsory HBM bytes, useful FLOPs)
BENCH: list[tuple[str, dict[str, int], int, int]] = [
    ("vector_mul", {"n": N}, 3 * F * N, N),
    ("tree_sum", {"n": N}, F * N, N - 1),
    ("tree_max", {"n": N}, F * N, N - 1),
    ("block_sum", {"n": N}, F * N, N - 1),
    ("block_sum_warp", {"n": N}, F * N, N - 1),
    ("scan_hillis_steele", {"n": N}, 2 * F * N, N - 1),
    ("scan_blelloch", {"n": N}, 2 * F * N, N - 1),
    ("outer_product", {"n": 8192}, F * (8192 * 8192 + 2 * 8192), 8192 * 8192),
    ("softmax", {"rows": 2**16, "n": 1024}, 2 * F * 2**26, 3 * 2**26),
    ("softmax_online", {"rows": 2**16, "n": 1024, "threads": 256}, 2 * F * 2**26, 3 * 2**26),
    ("softmax_warp", {"rows": 2**16, "n": 1024}, 2 * F * 2**26, 3 * 2**26),
    ("matvec", {"n": 8192}, F * (8192 * 8192 + 2 * 8192), 2 * 8192 * 8192),
    ("matmul_naive", {"n": 4096}, 3 * F * 4096**2, 2 * 4096**3),
    ("matmul_tiled", {"n": 4096, "tile": 16}, 3 * F * 4096**2, 2 * 4096**3),
    ("matmul_tiled", {"n": 4096, "tile": 32}, 3 * F * 4096**2, 2 * 4096**3),
    ("attention_naive", {"batch": 1, "heads": 16, "n": 4096, "d": 64}, 4 * F * 16 * 4096 * 64, 4 * 16 * 4096**2 * 64),
    ("attention_flash", {"batch": 1, "heads": 16, "n": 4096, "d": 64, "tile_r": 16, "tile_c": 16},
     4 * F * 16 * 4096 * 64, 4 * 16 * 4096**2 * 64),
    ("attention_flash", {"batch": 1, "heads": 16, "n": 4096, "d": 64, "tile_r": 32, "tile_c": 32},
     4 * F * 16 * 4096 * 64, 4 * 16 * 4096**2 * 64),
    ("attention_chunked", {"batch": 1, "heads": 16, "n": 4096, "d": 64, "chunk": 0},
     4 * F * 16 * 4096 * 64, 4 * 16 * 4096**2 * 64),
]

HEADER = "| program | params | predicted µs | measured µs | (pred − meas)/meas | correct |"

SMALL_SUITE: list[tuple[str, dict[str, int]]] = [
    ("vector_mul", {"n": 256}), ("tree_sum", {"n": 256}), ("matmul_tiled", {"n": 16, "tile": 8}),
]


def validate(profile: str = "h100", small: bool = False, repeat: int = 10,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from . import gpu_runner as gpu
    machine = load_machine(profile)
    shipped = shipped_programs()
    rows = []
    for name, params in (SMALL_SUITE if small else SUITE):
        if name not in shipped:
            continue
        prog = load_program(name)
        params = {**prog.params, **params}
        row: dict[str, Any] = {"program": name, "params": params}
        try:
            t0 = time.perf_counter()
            sim = run_program(prog, params, machine)
            row.update(simulate_wall_s=time.perf_counter() - t0, work=sim.trace.work, hbm_bytes=sim.trace.hbm_bytes,
                       launches=len(sim.trace.launches), bound=sim.schedule.details.get("roofline", {}).get("model_bound"))
            measured = gpu.run_on_gpu(prog, params, repeat=repeat)
            row.update(gpu.beside_prediction({k: measured[k] for k in ("measured_s", "correct", "device", "simulated")
                                              if k in measured}, sim.schedule))
        except Exception as exc:  # one broken entry must not hide the others; it is reported
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        if progress:
            progress(_line(row))
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "profile": profile, "device": gpu.device_name(), "simulated": gpu.using_simulator(),
            "repeat": repeat, "rows": rows}


def _params(p: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in p.items())


def _line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['program']} | {_params(r['params'])} | error: {r['error'][:100]} | | | |"
    return (f"| {r['program']} | {_params(r['params'])} | {r['predicted_s'] * 1e6:,.1f} | {r['measured_s'] * 1e6:,.1f} "
            f"| {format(r['relative_error'], '+.0%') if 'relative_error' in r else 'simulator'} "
            f"| {'yes' if r['correct'] else 'NO'} |")


def markdown(result: dict[str, Any]) -> str:
    head = [f"Validation on {result['device']} against the `{result['profile']}` profile, {result['date']}"
            + (" (numba CUDA simulator: measured times are not GPU times)" if result["simulated"] else ""),
            "", HEADER, "|---|---|---:|---:|---:|---|"]
    return "\n".join(head + [_line(r) for r in result["rows"]]) + "\n"


def prepare(out_dir: Path) -> None:
    """Create `out_dir` and check that the two files can be written there (FileError if not)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise outfile.output_error(out_dir, exc, "create the folder") from None
    for name in ("validation.md", "validation.json"):
        outfile.check_target(out_dir / name, "--out")


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    prepare(out_dir)
    md, js = out_dir / "validation.md", out_dir / "validation.json"
    outfile.write_text(md, markdown(result))
    outfile.write_text(js, json.dumps(result, indent=2, default=str))
    return md, js
