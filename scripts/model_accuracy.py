#!/usr/bin/env python3
"""How close the GPU model comes to every committed GPU measurement, in sample and out of sample.

    python scripts/model_accuracy.py [--json] [--profile h100] [--set all|validate|bench]
                                     [--only PROGRAMS] [--no-loo] [--write] [--out PREFIX]

For every measured row of the committed H100 files (docs/validation/h100-2026-11-23-validate.json,
validate sizes, traced on the vector executor; h100-2026-11-23-gpu_validate.json, benchmark sizes,
traced on the compiled engine; attention_chunked at N = 4096 is left out, its 8,192 launches take
hours to simulate): the measured time, the model's prediction with the profile as it is
("in sample": the profile's fitted values were fitted to these rows), and the leave-one-out
prediction (the profile's fitted values refitted on every other row by scripts/calibrate.py's
least squares on log(predicted / measured), then the row predicted), each with its error; the
counts within 25% and 10%, the median and the largest |error|; and every pairwise winner between
variants of one computation (calibrate.COMPARISONS, or one program with other tiles) in the same
set, measured and predicted. Per row also the predicted device and host time apart (host: the
part of the host's work the device does not hide). `--write` first refits the fitted values on
every row and writes them into the profile; `--out PREFIX` writes PREFIX.md and PREFIX.json.

Traces are cached (codecache.cache_dir: ~/.cache/pramsim/traces, or $PRAMSIM_TRACE_CACHE), keyed
by the program's source, its parameters, the engine and the source of the engines that count, so a
rerun simulates only the model: about 2 minutes of CPU on 2 cores (the leave-one-out refits simulate
every row at each point of LOO_GRID). The first run executes every row (about 20-40 minutes of a
loaded 2-core machine, the benchmark sizes on the compiled engine).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from pramsim import codecache  # noqa: E402
import calibrate  # noqa: E402
from pramsim.engines.vector import Executor  # noqa: E402
from pramsim.machine import load_machine  # noqa: E402
from pramsim.machine.gpu import simulate_gpu  # noqa: E402
from pramsim.programs import load_program  # noqa: E402
from pramsim.runner import execute, make_inputs  # noqa: E402

VALIDATE = ROOT / "docs/validation/h100-2026-11-23-validate.json"
BENCH = ROOT / "docs/validation/h100-2026-11-23-gpu_validate.json"
LOO_GRID = np.arange(0.0, 301.0, 10.0)  # the device's fitted value (calibrate.Model) is simulated at these
SKIP = {"attention_chunked"}   # benchmark-size row left out: hours of simulation
# The code whose counts a trace holds: all of pramsim but the machine models, which read traces
# (the charge table, the engines, the DSL's defaults): a change there makes every cached trace stale.
COUNTING_SOURCES = sorted(str(f.relative_to(ROOT)) for f in (ROOT / "pramsim").rglob("*.py")
                          if "machine" not in f.relative_to(ROOT / "pramsim").parts)


def label(row: dict) -> str:
    return row["program"] + " " + " ".join(f"{k}={v}" for k, v in row["params"].items())


def measured_rows(only: set[str] | None = None, which: str = "all") -> list[dict]:
    """The committed rows, each with 'set' ('validate' or 'bench') and 'engine'; `only`: programs kept;
    `which`: the set kept ('validate', 'bench' or 'all')."""
    rows = [dict(r, set="validate", engine="vector") for r in json.loads(VALIDATE.read_text())["rows"]
            if r.get("measured_s") and r.get("correct")]
    rows += [dict(r, set="bench", engine="compiled") for r in json.loads(BENCH.read_text())["results"]
             if r.get("measured_s") and r.get("correct") and r["program"] not in SKIP]
    return [r for r in rows if (only is None or r["program"] in only) and which in ("all", r["set"])]


def _counting_hash() -> str:
    h = hashlib.sha256()
    for rel in COUNTING_SOURCES:
        path = ROOT / rel
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.read_bytes())
    return h.hexdigest()


def trace_key(row: dict) -> str:
    """The cache key of a row's trace: program source, parameters, engine, counting code."""
    prog = load_program(row["program"])
    h = hashlib.sha256()
    h.update(Path(prog.file).read_bytes() if prog.file else prog.name.encode())
    if prog.file:  # the helper modules beside it (programs/_prefix_scan.py, ...)
        for helper in sorted(Path(prog.file).parent.glob("_*.py")):
            h.update(helper.read_bytes())
    h.update(json.dumps({"params": row["params"], "engine": row["engine"]}, sort_keys=True).encode())
    h.update(_counting_hash().encode())
    return h.hexdigest()[:32]


def trace_of(row: dict, folder: Path, log=print):
    """The row's CostTrace: from the cache, else executed (and cached)."""
    path = folder / f"{row['program']}-{trace_key(row)}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    prog = load_program(row["program"])
    params = {**prog.params, **row["params"]}
    ex = Executor(engine=row["engine"])
    execute(prog, params, make_inputs(prog, params, 0), ex)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(ex.trace))
    tmp.replace(path)
    log(f"  traced {label(row)} on the {row['engine']} engine ({len(ex.trace.launches)} launches)")
    return ex.trace


def trace_folder() -> Path:
    return codecache.cache_dir("PRAMSIM_TRACE_CACHE", "pramsim_traces")


def summary(rel: np.ndarray) -> dict:
    """Counts within 25% and 10%, median and largest |error| of relative errors."""
    return {"rows": int(len(rel)), "within_25": int((rel <= 0.25).sum()), "within_10": int((rel <= 0.10).sum()),
            "median": float(np.median(rel)), "max": float(rel.max())}


def winners(rows: list[dict], measured: np.ndarray, preds: dict[str, np.ndarray]) -> list[dict]:
    """Every pair of variants of one computation in one set: the GPU's winner and each prediction's."""
    out = []
    pairs = [(a, b) for a in range(len(rows)) for b in range(a + 1, len(rows))]
    for i, j in pairs:
        if rows[i]["set"] == rows[j]["set"] and calibrate.comparable(rows[i], rows[j]):
            win = lambda t, i=i, j=j: label(rows[i]) if t[i] < t[j] else label(rows[j])
            entry = {"a": label(rows[i]), "b": label(rows[j]), "set": rows[i]["set"], "gpu": win(measured)}
            entry.update({name: win(p) for name, p in preds.items()})
            entry["agree"] = all(entry[name] == entry["gpu"] for name in preds)
            out.append(entry)
    return out


def accuracy(rows: list[dict], trs: list, machine, loo: bool = True) -> dict:
    """The report as a dict: per row measured, in-sample and leave-one-out predictions; summaries; winners."""
    measured = np.array([r["measured_s"] for r in rows])
    schedules = [simulate_gpu(t, machine) for t in trs]
    insample = np.array([s.time_s for s in schedules])
    preds = {"in_sample": insample}
    if loo:
        model = calibrate.Model(trs, machine, grid=LOO_GRID)
        everyone = list(range(len(rows)))
        preds["leave_one_out"] = np.array([
            model.predict(calibrate.fit(model, measured, [j for j in everyone if j != i]), [i])[0] for i in everyone])
    table = []
    for i, r in enumerate(rows):
        entry = {"set": r["set"], "program": r["program"], "params": r["params"], "launches": len(trs[i].launches),
                 "measured_s": float(measured[i]), "device_s": float(schedules[i].device_s),
                 "host_s": float(schedules[i].host_s)}
        for name, p in preds.items():
            entry[name + "_s"] = float(p[i])
            entry[name + "_err"] = float((p[i] - measured[i]) / measured[i])
        table.append(entry)
    sums = {name: summary(np.abs(p - measured) / measured) for name, p in preds.items()}
    return {"profile": machine.name, "fitted": {k: getattr(machine, k) for k in calibrate.FREE},
            "rows": table, "summary": sums, "winners": winners(rows, measured, preds)}


def write_fit(rows: list[dict], trs: list, machine) -> None:
    """Fit calibrate.FREE on every row (least squares on log time) and write them into the profile's TOML."""
    measured = np.array([r["measured_s"] for r in rows])
    model = calibrate.Model(trs, machine, grid=LOO_GRID)
    theta = calibrate.fit(model, measured, list(range(len(rows))))
    note = (f"fitted by scripts/model_accuracy.py --write on {datetime.date.today().isoformat()} "
            f"from {VALIDATE.name} and {BENCH.name}")
    calibrate.write_profile(Path(machine.file), dict(zip(calibrate.FREE, (float(f"{v:.3g}") for v in theta))), note)
    print(f"wrote {', '.join(f'{k} = {v:.3g}' for k, v in zip(calibrate.FREE, theta))} into {machine.file}",
          file=sys.stderr)


def markdown(report: dict) -> str:
    """The report as Markdown tables."""
    names = [n for n in ("in_sample", "leave_one_out") if n in report["summary"]]
    pct = lambda e: f"{e:+.0%}"
    lines = [f"Profile `{report['profile']}`; fitted: " + ", ".join(f"{k} = {v:.3g}" for k, v in report["fitted"].items()),
             "", "| set | program | launches | measured µs | device µs | host µs | "
             + " | ".join(f"{n.replace('_', '-')} µs | err" for n in names) + " |",
             "|---|---|---:|---:|---:|---:|" + "---:|---:|" * len(names)]
    for r in report["rows"]:
        lines.append(f"| {r['set']} | {label(r)} | {r['launches']} | {r['measured_s'] * 1e6:,.1f} | "
                     f"{r['device_s'] * 1e6:,.1f} | {r['host_s'] * 1e6:,.1f} | "
                     + " | ".join(f"{r[n + '_s'] * 1e6:,.1f} | {pct(r[n + '_err'])}" for n in names) + " |")
    lines += ["", "| | rows | within 25% | within 10% | median \\|err\\| | max \\|err\\| |", "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        s = report["summary"][n]
        lines.append(f"| {n.replace('_', '-')} | {s['rows']} | {s['within_25']} | {s['within_10']} | "
                     f"{s['median']:.1%} | {s['max']:.0%} |")
    lines += ["", "| set | a | b | GPU's winner | " + " | ".join(n.replace("_", "-") for n in names) + " | |",
              "|---|---|---|---|" + "---|" * len(names) + "---|"]
    for w in report["winners"]:
        lines.append(f"| {w['set']} | {w['a']} | {w['b']} | {w['gpu']} | " + " | ".join(w[n] for n in names)
                     + f" | {'same' if w['agree'] else '**DIFFERENT**'} |")
    agree = sum(w["agree"] for w in report["winners"])
    lines += ["", f"Winners agreeing: {agree} / {len(report['winners'])}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the report as JSON (default: Markdown)")
    ap.add_argument("--profile", default="h100", help="GPU profile (name or .toml) whose model is checked")
    ap.add_argument("--only", default="", help="comma-separated programs (default: every row)")
    ap.add_argument("--set", default="all", choices=("all", "validate", "bench"),
                    help="validate sizes (vector executor, seconds), benchmark sizes (compiled engine), or both")
    ap.add_argument("--no-loo", action="store_true", help="skip the leave-one-out refits (in sample only)")
    ap.add_argument("--write", action="store_true",
                    help=f"first fit {', '.join(calibrate.FREE)} on the rows and write them into the profile")
    ap.add_argument("--out", default="", help="also write the report to OUT.md and OUT.json")
    ap.add_argument("--trace-only", action="store_true", help="fill the trace cache and stop")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    rows = measured_rows(only, args.set)
    folder = trace_folder()
    trs = [trace_of(r, folder, log=lambda m: print(m, file=sys.stderr, flush=True)) for r in rows]
    if args.trace_only:
        return 0
    machine = load_machine(args.profile)
    if args.write:
        write_fit(rows, trs, machine)
        machine = load_machine(args.profile)
    report = accuracy(rows, trs, machine, loo=not args.no_loo)
    print(json.dumps(report, indent=1) if args.json else markdown(report), end="" if not args.json else "\n")
    if args.out:
        Path(args.out + ".json").write_text(json.dumps(report, indent=1) + "\n")
        Path(args.out + ".md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
