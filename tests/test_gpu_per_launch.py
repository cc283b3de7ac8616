"""`pramsim gpu --json`'s per-launch times (issue 12): one entry per launch with the kernel, the
measured device time (CUDA events on a real GPU; null under numba's CUDA simulator, with a note)
and the model's predicted device time for that launch, beside the measured and predicted
device/host split. References: the schedule of the same program run by the executor (its
launch_times), log2 n launches of tree_sum, and hand-computed medians."""
import json
import os
import subprocess
import sys

import pytest

from pramsim.engines.cuda import LaunchRecord
from pramsim.gpu_runner import _per_launch
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import run_program


def test_gpu_json_has_one_per_launch_entry_with_the_schedules_prediction_and_null_measurement_on_the_simulator():
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "gpu", "tree_sum", "n=64", "--repeat", "1", "--json"],
                       capture_output=True, text=True, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    schedule = run_program(load_program("tree_sum"), {"n": 64}, load_machine("h100")).schedule
    assert data["launches"] == 6 == len(data["per_launch"]) == len(schedule.launch_times)   # log2(64) levels
    for i, (entry, t) in enumerate(zip(data["per_launch"], schedule.launch_times)):
        assert entry["launch"] == i and entry["kernel"] == t.kernel == "add_pairs"
        assert entry["predicted_s"] == pytest.approx(t.device_s) and entry["measured_s"] is None
    assert data["simulated"] is True and "simulator" in data["per_launch_note"]
    assert data["measured_device_s"] is None and data["measured_host_s"] is None
    assert data["predicted_device_s"] + data["predicted_host_s"] == pytest.approx(data["predicted_s"])


def test_gpu_text_report_shows_each_launch_measured_and_predicted():
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "gpu", "vector_mul", "n=64", "--repeat", "1"],
                       capture_output=True, text=True, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert r.returncode == 0, r.stderr
    predicted = run_program(load_program("vector_mul"), {"n": 64}, load_machine("h100")).schedule.launch_times[0].device_s
    lines = r.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if "measured µs" in ln and "predicted µs" in ln)
    assert lines[header + 1].split() == ["0", "mul", "-", f"{predicted * 1e6:,.2f}"]


def test_per_launch_takes_each_launchs_median_and_splits_device_from_host():
    records = [LaunchRecord("k", 64, 32, 2, "k_a"), LaunchRecord("k", 64, 32, 2, "k_a"), LaunchRecord("g", 8, 8, 1, "g_b")]
    runs = [[1e-3, 2e-3, 3e-3], [3e-3, 2e-3, 1e-3], [2e-3, 2e-3, 2e-3], [9.0, 9.0]]   # the last run lacks a launch: not used
    out = _per_launch(records, runs, measured_s=10e-3)
    assert [e["measured_s"] for e in out["per_launch"]] == [2e-3, 2e-3, 2e-3]
    assert [e["kernel"] for e in out["per_launch"]] == ["k", "k", "g"] and out["per_launch"][2]["function"] == "g_b"
    assert out["measured_device_s"] == pytest.approx(6e-3) and out["measured_host_s"] == pytest.approx(4e-3)
    assert "per_launch_note" not in out
    none = _per_launch(records, [], measured_s=1.0)
    assert all(e["measured_s"] is None for e in none["per_launch"]) and none["measured_device_s"] is None


def test_gpu_machine_option_predicts_on_that_profile_and_refuses_a_pram():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "gpu", "vector_mul", "n=64", "--repeat", "1", "--json",
                        "--machine", "h200"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    want = run_program(load_program("vector_mul"), {"n": 64}, load_machine("h200")).schedule.time_s
    assert json.loads(r.stdout)["predicted_s"] == pytest.approx(want) and "prediction is for h200" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "gpu", "vector_mul", "n=64", "--machine", "pram"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "not a GPU profile" in r.stderr
