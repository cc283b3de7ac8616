"""pramsim validate --small: the pipeline (predict on h100, run lowered kernels, table) end to end; and
`validate --predict-only`: the model's predictions for a GPU not yet measured (no GPU used)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_validate_small_writes_tables(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "validate", "--small", "--repeat", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, env={**__import__("os").environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "validation.json").read_text())
    assert data["simulated"] is True and data["profile"] == "h100"
    rows = {row["program"]: row for row in data["rows"]}
    assert set(rows) == {"vector_mul", "tree_sum", "matmul_tiled"}
    for row in rows.values():
        assert row["correct"] is True and row["predicted_s"] > 0 and row["measured_s"] > 0
    assert "numba CUDA simulator" in (tmp_path / "validation.md").read_text()


# ---- validate --predict-only (issue 12): the model's predictions, no GPU ------------------------

def _predict_only(tmp_path, *args):
    from click.testing import CliRunner
    from pramsim.cli import main
    return CliRunner().invoke(main, ["validate", "--predict-only", *args])


def test_predict_only_writes_per_program_and_per_launch_predictions_with_commit_and_figures(tmp_path):
    from pramsim.machine import load_machine
    out = tmp_path / "h200-predictions.json"
    r = _predict_only(tmp_path, "--small", "--machine", "h200", "--out", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    h200 = load_machine("h200")
    assert data["profile"] == "h200" and data["profile_figures"]["hbm_bytes_per_s"] == h200.hbm_bytes_per_s
    head = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert data["git"]["commit"] == head and data["date"].startswith("20")
    rows = {row["program"]: row for row in data["rows"]}
    assert set(rows) == {"vector_mul", "tree_sum", "matmul_tiled"}
    # hand counts: vector_mul n=256 is one launch moving 12 n bytes, plus the program's and the launch's host cost
    vm = rows["vector_mul"]
    assert vm["launches"] == 1 and len(vm["per_launch"]) == 1 and vm["per_launch"][0]["kernel"] == "mul"
    assert vm["predicted_s"] == pytest.approx(
        12 * 256 / h200.hbm_bytes_per_s + h200.launch_overhead_s + h200.program_overhead_s, rel=0.02)
    ts = rows["tree_sum"]   # one launch per level of the tree: log2(256) = 8
    assert ts["launches"] == 8 and len(ts["per_launch"]) == 8
    for row in rows.values():
        assert row["predicted_s"] == pytest.approx(row["predicted_device_s"] + row["predicted_host_s"])
        assert row["correct"] is True and row["set"] == "validate"
    md = out.with_suffix(".md").read_text()
    assert head in md and "nothing here is measured" in md and "| validate | tree_sum | n=256 | 8 |" in md


def test_predict_only_counts_an_oblivious_row_too_long_to_run_and_skips_the_others(monkeypatch):
    from pramsim import runner
    from pramsim.estimate import Estimate
    from pramsim.machine import load_machine
    from pramsim.predictions import predict_row
    h200 = load_machine("h200")
    full = predict_row("tree_sum", {"n": 1 << 16}, h200, "vector", max_time=0)  # no limit: a full run
    # every run now looks too long (the estimate is the runner's, not under test here)
    monkeypatch.setattr(runner, "estimate_time", lambda *a, **k: Estimate(1e9, "said so", [], 1e9, 1e9))
    counted = predict_row("tree_sum", {"n": 1 << 16}, h200, "vector", max_time=60)
    assert full["engine"] == "vector" and counted["engine"] == "counts-only" and counted["correct"] is None
    assert counted["predicted_s"] == full["predicted_s"] and counted["per_launch"] == full["per_launch"]
    row = predict_row("bitonic_sort", {"n": 1 << 16}, h200, "vector", max_time=0.001)  # data-dependent
    assert "predicted_s" not in row and "estimated" in row["skipped"] and "--max-time" in row["skipped"]


def test_predict_only_refuses_an_out_that_is_not_json_and_a_pram_profile(tmp_path):
    r = _predict_only(tmp_path, "--small", "--out", str(tmp_path / "p.md"))
    assert r.exit_code == 2 and "must end in .json" in r.output
    r = _predict_only(tmp_path, "--small", "--machine", "pram", "--out", str(tmp_path / "p.json"))
    assert r.exit_code == 2 and "needs a GPU profile" in r.output
    assert not (tmp_path / "p.json").exists()
