"""`pramsim validate --predict-only`: the model's predictions for a GPU not yet measured.

For every (program, params) of the validate suite (pramsim.validate.SUITE, run on the vector
executor, as `pramsim validate` does) and of the benchmark suite (pramsim.validate.BENCH, the
sizes scripts/gpu_validate.py measures, run on the compiled engine, as scripts/calibrate.py does),
it runs the program, schedules it on the profile and records the predicted time, its device/host
split and each launch's predicted device time (report.predicted_json). No GPU is needed or used.

A row whose simulation is estimated to take longer than `max_time` seconds is counted with
--counts-only (the same figures, outputs not computed: `engine` says so) when the program is
data-oblivious, else skipped and listed with the reason; a row that fails is listed with its error. The file carries the date,
the git commit the predictions were made at and every figure of the profile, so that a later
measurement can be compared with what the model said before it.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from . import outfile, report
from .errors import ParameterError, PramsimError, ResourceError
from .machine import load_machine
from .programs import load_program, shipped_programs
from .runner import run_program
from .validate import BENCH, SMALL_SUITE, SUITE

DEFAULT_MAX_TIME = 60.0  # seconds of simulation per row before it is skipped

# (set name, engine, rows): the validate sizes on the executor, the benchmark sizes compiled
SETS: list[tuple[str, str, list[tuple[str, dict[str, int]]]]] = [
    ("validate", "vector", SUITE),
    ("benchmark", "compiled", [(name, params) for name, params, _, _ in BENCH]),
]
SMALL_SETS: list[tuple[str, str, list[tuple[str, dict[str, int]]]]] = [("validate", "vector", SMALL_SUITE)]


def git_commit(where: Path = Path(__file__).resolve().parent) -> dict[str, Any]:
    """The commit of the repository pramsim runs from and whether its tracked files differ from
    it ({"commit": None} outside a git checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def predict_row(name: str, params: dict[str, int], machine: Any, engine: str, max_time: float) -> dict[str, Any]:
    """One program's prediction: totals, the device/host split and per-launch device times; or
    `skipped` (simulation too long) or `error`."""
    prog = load_program(name)
    params = {**prog.params, **params}
    row: dict[str, Any] = {"program": name, "params": params, "engine": engine}
    t0 = time.perf_counter()
    try:  # a row too long to simulate, of an oblivious program, is counted instead (the same figures)
        r = run_program(prog, params, machine, engine=engine, max_time=max_time or None, counts_only_if_too_long=True)
    except ResourceError as exc:
        row["skipped"] = f"simulation longer than --max-time {max_time:g} s: {exc.message}"
        return row
    except PramsimError as exc:
        row["error"] = f"{type(exc).__name__}: {exc.message}"
        return row
    if r.engine == "counts-only":
        row["engine"] = "counts-only"
    row.update(simulate_wall_s=time.perf_counter() - t0, correct=r.comparison.correct, work=r.trace.work,
               hbm_bytes=r.trace.hbm_bytes, launches=len(r.trace.launches),
               bound=r.schedule.details.get("roofline", {}).get("model_bound"), **report.predicted_json(r.schedule))
    return row


def predict(profile: str, max_time: float = DEFAULT_MAX_TIME, small: bool = False,
            progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The predictions of every row of the sets (SMALL_SETS with `small`) on `profile`."""
    machine = load_machine(profile)
    git = git_commit()  # the code that makes the predictions: read before, not after, the rows
    if not machine.is_gpu:
        raise ParameterError(f"--predict-only needs a GPU profile; {profile!r} is a PRAM",
                             hint="e.g. --machine h200 (pramsim machines lists them)")
    shipped = shipped_programs()
    rows = []
    for set_name, engine, suite in (SMALL_SETS if small else SETS):
        for name, params in suite:
            if name not in shipped:
                continue
            row = {"set": set_name, **predict_row(name, params, machine, engine, max_time)}
            rows.append(row)
            if progress:
                progress(row)
    figures = {k: v for k, v in dataclasses.asdict(machine).items() if k != "file"}
    return {"kind": "predictions", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "profile": machine.name, "profile_figures": figures, "git": git, "max_time_s": max_time,
            "note": "model output made without a GPU, before any measurement of this device", "rows": rows}


HEADER = "| set | program | params | launches | predicted µs | device µs | host µs | bound |"


def line(r: dict[str, Any]) -> str:
    """One markdown row: the prediction, or why there is none."""
    star = "*" if r.get("engine") == "counts-only" else ""
    head = f"| {r['set']} | {r['program']}{star} | {' '.join(f'{k}={v}' for k, v in r['params'].items())} |"
    if "skipped" in r or "error" in r:
        why = r.get("skipped") or f"error: {r['error']}"
        return f"{head} | {why[:160]} | | | |"
    return (f"{head} {r['launches']} | {r['predicted_s'] * 1e6:,.1f} | {r['predicted_device_s'] * 1e6:,.1f} "
            f"| {r['predicted_host_s'] * 1e6:,.1f} | {r['bound'] or ''} |")


def markdown(result: dict[str, Any]) -> str:
    git = result["git"]
    commit = f"`{git['commit']}`" + (" (with uncommitted changes)" if git["dirty"] else "") if git["commit"] else "unknown"
    skipped = [r for r in result["rows"] if "skipped" in r or "error" in r]
    counted = [r for r in result["rows"] if r.get("engine") == "counts-only"]
    head = [f"# Predictions for `{result['profile']}`, made without a GPU",
            "",
            f"Made {result['date']} at commit {commit}, before any measurement of this device. Model output "
            f"only: nothing here is measured. Per-launch device times are in the JSON beside this file.",
            "", "Profile figures: " + ", ".join(f"{k} = {v}" for k, v in result["profile_figures"].items()
                                                 if k not in ("source", "description", "processors")) + ".",
            "", f"Rows whose simulation was estimated (or found) to take longer than {result['max_time_s']:g} s "
                f"were skipped, or failed: {len(skipped)} of {len(result['rows'])}, each listed with the reason."
                + (f" Counted with --counts-only instead (data-oblivious, so the same figures; outputs not computed): "
                   f"{len(counted)} rows, marked *." if counted else ""), "", HEADER, "|---|---|---|---:|---:|---:|---:|---|"]
    return "\n".join(head + [line(r) for r in result["rows"]]) + "\n"


def check_out(path: Path) -> None:
    """A usage error unless `path` is a writable .json file name (the .md goes beside it)."""
    if path.suffix != ".json":
        raise ParameterError(f"--out {path}: with --predict-only, --out is the JSON file and must end in .json",
                             hint="e.g. --out docs/validation/h200-predictions.json (the .md is written beside it)")
    outfile.check_target(path, "--out")
    outfile.check_target(path.with_suffix(".md"), "--out")


def write(result: dict[str, Any], path: Path) -> tuple[Path, Path]:
    md = path.with_suffix(".md")
    outfile.write_text(path, json.dumps(result, indent=2, default=str, allow_nan=False))
    outfile.write_text(md, markdown(result))
    return md, path
