#!/usr/bin/env python3
"""Grade a directory of student submissions against the bounds an instructor sets.

    python scripts/grade.py SUBMISSIONS_DIR --work "n" --depth "log n" [--csv grades.csv]

Each *.py file is checked with `pramsim check FILE --work ... --depth ... --json`: the result
must match its NumPy reference at every sweep point, Brent's theorem must hold, and the measured
work and depth must follow the given Θ forms. Prints one line per submission; exit 0 if all pass.
"""
import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path


def grade(path: Path, work: str, depth: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "check", str(path), "--work", work, "--depth", depth,
                        "--json"], capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        return {"file": path.name, "pass": False, "why": (r.stderr.strip().splitlines() or ["no output"])[0]}
    data = json.loads(r.stdout)
    why = [f"{k}: {data[k + '_fit']['reason']}" for k in ("work", "depth") if data[k + "_fit"] and not data[k + "_fit"]["holds"]]
    why += [f for p in data["points"] for f in p["failures"]][:3]
    return {"file": path.name, "pass": data["pass"], "why": "; ".join(why) or "all checks pass"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("submissions", type=Path)
    ap.add_argument("--work", required=True)
    ap.add_argument("--depth", required=True)
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    results = [grade(p, args.work, args.depth) for p in sorted(args.submissions.glob("*.py"))]
    for r in results:
        print(f"{'PASS' if r['pass'] else 'FAIL'}  {r['file']:<30} {r['why']}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["file", "pass", "why"])
            w.writeheader()
            w.writerows(results)
    print(f"{sum(r['pass'] for r in results)} passed, {sum(not r['pass'] for r in results)} failed")
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
