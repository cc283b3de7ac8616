"""scripts/gpu_lab.sh (issue 12): the one script for a lent GPU, run here as its dry run (numba's CUDA
simulator, tiny sizes), so that it still works on the day a GPU is lent; and the two pieces it
adds, the out-of-sample comparison (scripts/gpu_compare.py) and the kernel goals
(scripts/gpu_kernels.py), on hand-made rows with hand-computed errors."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pramsim.profile_writer import REQUIRED

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "scripts" / "gpu_lab.sh"


def script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    archive = out.parent / "lab.tar.gz"  # as on the GPU machine: one file for the device tool to bring back
    r = subprocess.run(["bash", str(LAB), "--dry-run", "--archive", str(archive), str(out)], capture_output=True,
                       text=True, env=env, timeout=300)
    return r, out


def test_the_dry_run_runs_every_step_and_each_succeeds(dry_run):
    r, out = dry_run
    assert r.returncode == 0, r.stderr
    steps = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()[1:]]
    assert [s[0] for s in steps] == ["env", "calibrate", "kernels", "suite", "compare"]   # no install in a dry run
    assert all(s[1] == "ok" for s in steps), steps
    log = (out / "lab.log").read_text()
    assert "step kernels: ok" in log and log.startswith("[") and "] step env: start (limit 10s)" in log
    import tarfile
    with tarfile.open(out.parent / "lab.tar.gz") as tar:  # the archive holds every file the lab wrote
        packed = {name.lstrip("./") for name in tar.getnames()}
    assert {p.name for p in out.iterdir()} <= packed and "summary.md" in packed


def test_the_dry_run_writes_each_file_with_its_keys(dry_run):
    _, out = dry_run
    assert "numba" in (out / "env.txt").read_text()
    measured = json.loads((out / "calibrated.json").read_text())
    assert set(REQUIRED) <= set(measured) and measured["simulated"] is True
    assert measured["int_divide_per_s"] > 0      # the division microbenchmark ran and checked its result
    suite = json.loads((out / "suite.json").read_text())
    assert suite["meta"]["simulated"] is True and suite["results"]
    for row in suite["results"]:
        assert row["correct"] and row["set"] in ("benchmark", "validate") and row["per_launch"]
        assert {"kernel", "measured_s"} <= set(row["per_launch"][0])
    comparison = json.loads((out / "comparison.json").read_text())
    assert set(comparison["summary"]) == {"error", "device_error", "host_error"}
    assert comparison["prediction_files"] == sorted(p.name for p in (ROOT / "docs" / "validation").glob("h200-predictions-*.json"))
    assert {"rows", "unmatched_measured", "predicted_not_measured", "prediction_commits"} <= set(comparison)
    kernels = json.loads((out / "kernels.json").read_text())
    assert {r["program"] for r in kernels["rows"]} == {"matmul_regblock", "attention_flash_regblock", "attention_naive"}
    for row in kernels["rows"]:
        assert row["correct"] and row["tflop_per_s"] > 0 and row["anchor"] is None and "simulator" in row["skipped"]
    assert [g["met"] for g in kernels["goals"]] == [None] * 4
    summary = (out / "summary.md").read_text()
    assert "| kernels | ok |" in summary and "Kernel goals" in summary and "Out-of-sample errors" in summary


def test_without_an_outdir_it_is_a_usage_error():
    r = subprocess.run(["bash", str(LAB)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr


def test_compare_gives_hand_computed_errors_per_program_and_per_launch(tmp_path):
    compare = script("gpu_compare")
    pred_file = tmp_path / "h200-predictions-x.json"
    pred_file.write_text(json.dumps({"git": {"commit": "abc"}, "rows": [
        {"set": "benchmark", "program": "p", "params": {"n": 8}, "predicted_s": 1.5e-3, "predicted_device_s": 1.2e-3,
         "predicted_host_s": 3e-4, "per_launch": [{"predicted_s": 4e-4}, {"predicted_s": 8e-4}]},
        {"set": "benchmark", "program": "skipped", "params": {"n": 8}, "skipped": "too long"},
    ]}))
    kernels_file = tmp_path / "h200-predictions-x-kernels.json"   # the `pramsim run --json` layout
    kernels_file.write_text(json.dumps({"rows": [{"command": "...", "result": {
        "program": "q", "params": {"n": 4}, "predicted_s": 2e-3, "per_launch": []}}]}))
    measured = {"meta": {"device": "G", "date": "d"}, "results": [
        {"set": "benchmark", "program": "p", "params": {"n": 8}, "correct": True, "measured_s": 1e-3,
         "measured_device_s": 8e-4, "measured_host_s": 2e-4,
         "per_launch": [{"launch": 0, "kernel": "k", "measured_s": 5e-4}, {"launch": 1, "kernel": "k", "measured_s": 3e-4}]},
        {"program": "q", "params": {"n": 4}, "correct": True, "measured_s": 4e-3, "per_launch": []},
        {"program": "r", "params": {"n": 1}, "correct": True, "measured_s": 1.0},
    ]}
    files = [pred_file, kernels_file]
    result = compare.compare(measured, compare.load_predictions(files), files)
    p, q = result["rows"]
    assert p["error"] == pytest.approx(0.5) and p["device_error"] == pytest.approx(0.5) and p["host_error"] == pytest.approx(0.5)
    assert [x["error"] for x in p["per_launch"]] == pytest.approx([-0.2, 8 / 3 - 1])
    assert p["median_abs_launch_error"] == pytest.approx((0.2 + 5 / 3) / 2)
    assert q["error"] == pytest.approx(-0.5) and q["device_error"] is None
    assert result["unmatched_measured"] == [{"program": "r", "params": {"n": 1}, "why": "no committed prediction"}]
    assert result["summary"]["error"] == {"rows": 2, "within_25pct": 0, "median_abs": pytest.approx(0.5)}
    assert result["prediction_commits"] == ["abc"]
    assert "| h200-predictions-x.json | benchmark | p | n=8 | 1,000.0 | 1,500.0 | +50% |" in compare.markdown(result)
    # a second predictions file is compared too, not hidden by the first; defaults are filled in
    second = tmp_path / "h200-predictions-y.json"
    second.write_text(json.dumps({"git": {"commit": "def"}, "rows": [
        {"set": "benchmark", "program": "tree_sum", "params": {"n": 1024}, "predicted_s": 2e-3, "per_launch": []}]}))
    measured2 = {"results": [{"set": "benchmark", "program": "tree_sum", "params": {}, "measured_s": 1e-3}]}
    both = compare.compare(measured2, compare.load_predictions([pred_file, second]), [pred_file, second])
    assert [(r["predictions_file"], r["error"]) for r in both["rows"]] == [("h200-predictions-y.json", pytest.approx(1.0))]


def test_kernel_goals_are_judged_from_the_rows():
    k = script("gpu_kernels")
    flash = [{"program": k.FLASH, "params": k.attn(n), "measured_device_s": t, "measured_s": t, "share_of_anchor": s}
             for n, t, s in ((1024, 1.0, None), (2048, 2.0, None), (4096, 4.0, 0.6))]
    naive = [{"program": "attention_naive", "params": k.attn(n), "measured_device_s": t, "measured_s": t}
             for n, t in ((1024, 2.0), (2048, 6.0), (4096, 20.0))]
    sgemm = [{"program": k.SGEMM, "params": {"n": 4096}, "share_of_anchor": 0.49}]
    goals = k.goals(flash + naive + sgemm)
    assert [g["met"] for g in goals] == [False, None, True, True]      # 49% < 50%; n=8192 not measured
    assert [s["naive_over_flash"] for s in goals[3]["speedups"]] == [2.0, 3.0, 5.0]
    naive[2]["measured_device_s"] = 8.0                                  # 2x at N=4096: the margin shrinks
    assert k.goals(flash + naive)[3]["met"] is False


def test_the_real_runs_name_each_programs_parameters_in_full():
    """The dry run uses tiny sizes; the real entries are checked here: every parameter is the
    program's own and in its range, and the goal kernels run with the goal tiles, not the defaults
    (a review found the SGEMM and flash goals judged at the tiny default tiles)."""
    from pramsim.programs import load_program
    from pramsim.validate import BENCH, SUITE
    kernels = script("gpu_kernels")
    rows = [(name, params) for _, name, params in kernels.ENTRIES] + list(SUITE) + [(n, p) for n, p, _, _ in BENCH]
    for name, params in rows:
        prog = load_program(name)
        assert set(params) <= set(prog.params), (name, params)
        for k, v in params.items():
            lo, hi = prog.ranges.get(k, (1, None))
            assert (lo is None or v >= lo) and (hi is None or v <= hi), (name, k, v)
    goal = {name: params for group, name, params in kernels.ENTRIES if params.get("n") == 4096}
    assert goal["matmul_regblock"]["bm"] == 128 and goal["matmul_regblock"]["tm"] == 8
    assert goal["attention_flash_regblock"]["br"] == 64 and goal["attention_flash_regblock"]["rm"] == 8
