"""Measured GPU times against predictions committed before the measurement: out-of-sample errors.

Usage:
    python scripts/gpu_compare.py MEASURED.json [PREDICTIONS.json ...] --out OUT.json
      MEASURED.json: what scripts/gpu_validate.py wrote ({"meta", "results": rows of run_on_gpu}).
      PREDICTIONS.json: default docs/validation/h200-predictions-*.json; both layouts are read:
        `pramsim validate --predict-only` ({"rows": [{set, program, params, predicted_s, ...}]}) and
        the kernels file ({"rows": [{"command", "result": pramsim run --json}]}).
Writes OUT.json and OUT.md (beside it). A measured row is matched to the prediction of the same
program and parameters (defaults filled in; of the same set where both say it), once per predictions
file, so the second predictions (after the model changed) are tested beside the first; the errors are (predicted −
measured) / measured, of the whole program (measured_s), of the device time (the sum of the
launches' CUDA events) and of the host time, and per launch (launch i against launch i). These
predictions were made before the device was measured, so these are out-of-sample errors; a
refitted model's errors must be reported apart. Rows that match nothing are listed, not dropped.
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PREDICTIONS = sorted((ROOT / "docs" / "validation").glob("h200-predictions-*.json"))
WITHIN = 0.25  # the share of rows within ±25%, as docs/validation/README.md reports the h100 fit


def _key(program: str, params: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A row's identity: the program and all its parameters (a shipped program's defaults filled in,
    as `pramsim validate --predict-only` records them), numbers and text alike as text."""
    try:
        from pramsim.programs import load_program, shipped_programs  # noqa: PLC0415
        defaults = dict(load_program(program).params) if program in shipped_programs() else {}
    except Exception:  # noqa: BLE001 - a program that does not load is matched by its given parameters
        defaults = {}
    return program, tuple(sorted((k, str(v)) for k, v in {**defaults, **params}.items()))


def load_predictions(paths: list[Path]) -> dict[tuple[Any, ...], dict[str, dict[str, Any]]]:
    """(program, params) -> {file name: {predicted_s, predicted_device_s, predicted_host_s, per_launch,
    set, file, commit}}: every predictions file's row, so that each file is tested (the second
    predictions do not hide the first); rows skipped by --max-time are left out."""
    out: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for path in paths:
        data = json.loads(path.read_text())
        commit = (data.get("git") or {}).get("commit")
        for row in data.get("rows", []):
            row = row.get("result", row)  # the kernels file wraps `pramsim run --json` in "result"
            if row.get("predicted_s") is None:
                continue
            pred = {k: row.get(k) for k in ("predicted_s", "predicted_device_s", "predicted_host_s", "per_launch")}
            pred.update(set=row.get("set"), file=path.name, commit=commit)
            same = out.setdefault(_key(row["program"], row["params"]), {})
            # one row per file; of a file's rows for one key (validate and benchmark sets), keep both apart
            same.setdefault(f"{path.name}:{row.get('set')}", pred)
    return out


def _err(predicted: float | None, measured: float | None) -> float | None:
    if predicted is None or not measured:
        return None
    return (predicted - measured) / measured


def compare_row(measured: dict[str, Any], pred: dict[str, Any]) -> dict[str, Any]:
    """The errors of one measured row against its prediction."""
    launches = []
    for m, p in zip(measured.get("per_launch") or [], pred.get("per_launch") or []):
        launches.append({"launch": m.get("launch"), "kernel": m.get("kernel"), "measured_s": m.get("measured_s"),
                         "predicted_s": p.get("predicted_s"), "error": _err(p.get("predicted_s"), m.get("measured_s"))})
    launch_errors = [abs(x["error"]) for x in launches if x["error"] is not None]
    return {
        "set": measured.get("set") or pred.get("set"), "program": measured["program"], "params": measured["params"],
        "correct": measured.get("correct"), "predictions_file": pred["file"],
        "measured_s": measured.get("measured_s"), "predicted_s": pred["predicted_s"],
        "error": _err(pred["predicted_s"], measured.get("measured_s")),
        "measured_device_s": measured.get("measured_device_s"), "predicted_device_s": pred.get("predicted_device_s"),
        "device_error": _err(pred.get("predicted_device_s"), measured.get("measured_device_s")),
        "measured_host_s": measured.get("measured_host_s"), "predicted_host_s": pred.get("predicted_host_s"),
        "host_error": _err(pred.get("predicted_host_s"), measured.get("measured_host_s")),
        "launches_measured": len(measured.get("per_launch") or []), "launches_predicted": len(pred.get("per_launch") or []),
        "median_abs_launch_error": statistics.median(launch_errors) if launch_errors else None,
        "per_launch": launches,
    }


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """How many rows have `key`, how many are within ±25%, and the median |error|."""
    errors = [abs(r[key]) for r in rows if r.get(key) is not None]
    return {"rows": len(errors), "within_25pct": sum(e <= WITHIN for e in errors),
            "median_abs": statistics.median(errors) if errors else None}


def compare(measured: dict[str, Any], predictions: dict[tuple[Any, ...], dict[str, dict[str, Any]]],
            prediction_files: list[Path]) -> dict[str, Any]:
    """The whole comparison: each measured row against each file's prediction of it (of the same
    set where the prediction names one), rows that match nothing, summaries overall and per file."""
    rows, unmatched = [], []
    used = set()
    for r in measured.get("results", []):
        key = _key(r["program"], r["params"])
        preds = [p for p in predictions.get(key, {}).values() if p["set"] in (None, r.get("set")) or r.get("set") is None]
        if "error" in r and "measured_s" not in r:
            unmatched.append({"program": r["program"], "params": r["params"], "why": f"failed: {r['error']}"})
        elif not preds:
            unmatched.append({"program": r["program"], "params": r["params"], "why": "no committed prediction"})
        else:
            used.add(key)
            rows += [compare_row(r, p) for p in preds]
    not_measured = [{"program": k[0], "params": dict(k[1]), "predictions_file": p["file"]}
                    for k, by_file in predictions.items() if k not in used for p in by_file.values()]
    meta = measured.get("meta", {})
    files = sorted({r["predictions_file"] for r in rows})
    every = [p for by_file in predictions.values() for p in by_file.values()]
    return {"kind": "out-of-sample comparison", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": meta.get("device"), "driver": meta.get("driver"), "simulated": meta.get("simulated"),
            "measured_at": meta.get("date"), "prediction_files": [p.name for p in prediction_files],
            "prediction_commits": sorted({p["commit"] for p in every if p.get("commit")}),
            "summary": {k: summary(rows, k) for k in ("error", "device_error", "host_error")},
            "summary_by_file": {f: {k: summary([r for r in rows if r["predictions_file"] == f], k)
                                    for k in ("error", "device_error", "host_error")} for f in files},
            "rows": rows, "unmatched_measured": unmatched, "predicted_not_measured": not_measured}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.0%}"


def _us(x: float | None) -> str:
    return "–" if x is None else f"{x * 1e6:,.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a table, with the summary first."""
    lines = [f"# Out-of-sample errors on {result['device']} (driver {result['driver']})", "",
             f"Measured {result['measured_at']}; predictions from {', '.join(result['prediction_files'])} "
             f"(commits {', '.join(result['prediction_commits']) or 'n/a'}), made before this measurement. "
             "Error = (predicted − measured) / measured.", ""]
    if result.get("simulated"):
        lines += ["**Simulated**: measured on numba's CUDA simulator, not a GPU; the errors mean nothing.", ""]
    for name, by_key in result["summary_by_file"].items():
        lines.append(f"{name}:")
        for key, s in by_key.items():
            med = "–" if s["median_abs"] is None else f"{s['median_abs']:.0%}"
            lines.append(f"- {key}: {s['within_25pct']} of {s['rows']} rows within ±25%, median |error| {med}")
        lines.append("")
    lines += ["| predictions | set | program | params | measured µs | predicted µs | error | device meas. µs | device pred. µs | "
              "device error | host error | median per-launch |error| |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        params = " ".join(f"{k}={v}" for k, v in r["params"].items())
        med = "–" if r["median_abs_launch_error"] is None else f"{r['median_abs_launch_error']:.0%}"
        lines.append(f"| {r['predictions_file']} | {r['set']} | {r['program']} | {params} | {_us(r['measured_s'])} | {_us(r['predicted_s'])} | "
                     f"{_pct(r['error'])} | {_us(r['measured_device_s'])} | {_us(r['predicted_device_s'])} | "
                     f"{_pct(r['device_error'])} | {_pct(r['host_error'])} | {med} |")
    if result["unmatched_measured"]:
        lines += ["", "Measured, no prediction to compare with:", ""]
        lines += [f"- {u['program']} {u['params']}: {u['why']}" for u in result["unmatched_measured"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("measured", type=Path)
    ap.add_argument("predictions", type=Path, nargs="*")
    ap.add_argument("--out", type=Path, required=True, help="OUT.json (OUT.md is written beside it)")
    args = ap.parse_args(argv)
    files = args.predictions or DEFAULT_PREDICTIONS
    try:
        measured = json.loads(args.measured.read_text())
    except (OSError, ValueError) as exc:
        print(f"gpu_compare: cannot read the measurements {args.measured}: {exc} (did the suite step run?)",
              file=sys.stderr)
        return 2
    result = compare(measured, load_predictions(files), files)
    args.out.write_text(json.dumps(result, indent=2, allow_nan=False))
    args.out.with_suffix(".md").write_text(markdown(result))
    s = result["summary"]["error"]
    print(f"compared {s['rows']} rows ({len(result['unmatched_measured'])} measured rows without a prediction): "
          f"{s['within_25pct']} within ±25%; wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
