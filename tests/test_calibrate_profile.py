"""`pramsim calibrate --from-json` (issue 12): a GPU profile written from a saved measurement, no GPU.

Reference: tests/fixtures/measurement_fixture.json, made-up round figures (not a measurement), and
the profile fields computed from them by hand."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim.cli import main
from pramsim.machine import load_machine
from pramsim.profile_writer import REQUIRED

FIXTURE = Path(__file__).parent / "fixtures" / "measurement_fixture.json"


def calibrate(*args):
    return CliRunner().invoke(main, ["calibrate", *args])


def test_from_json_writes_a_profile_with_hand_computed_figures_and_a_source_naming_every_figure(tmp_path):
    out = tmp_path / "fx.toml"
    r = calibrate("--from-json", str(FIXTURE), "--out", str(out), "--name", "fx")
    assert r.exit_code == 0, r.output
    spec = load_machine(str(out))
    assert (spec.name, spec.kind, spec.sms, spec.clock_hz) == ("fx", "gpu", 100, 1e9)
    assert spec.lanes_per_sm == 64                 # 6.4e12 FMA/s / (100 SMs x 1e9 Hz)
    assert spec.sram_bytes_per_cycle == 128        # 1.28e13 B/s / (100 x 1e9)
    assert spec.hbm_latency_cycles == 500          # 5e-7 s x 1e9 Hz
    assert (spec.hbm_bytes, spec.hbm_bytes_per_s, spec.sram_bytes_per_sm) == (16_000_000_000, 2e12, 102400)
    assert spec.launch_overhead_s == 1.5e-5 and spec.program_overhead_s == 0 and spec.hbm_dependent_latency_cycles == 0
    m = json.loads(FIXTURE.read_text())
    for key in ("device", "driver", "date"):
        assert m[key] in spec.source
    for key in REQUIRED.keys() - {"device", "driver", "date"}:   # every measured figure, by name and value
        assert f"{key} = " in spec.source, key
    assert "6.4e+12" in spec.source and "4e+11" in spec.source and "6e+12" in spec.source   # fma, conflicts, L2
    assert "lower bound" in spec.source and "not measured, left out" in spec.source
    # the measured L2 bandwidth is the model's re-read bandwidth; the L2's size is not measured: term off
    assert spec.l2_bytes_per_s == m["l2_bytes_per_s"] == 6e12 and spec.l2_bytes == 0
    assert "l2_bytes: not measured" in spec.source


def _profile_with(tmp_path, **extra):
    """The profile `calibrate --from-json` writes from the fixture measurement plus `extra` fields."""
    src = tmp_path / "m.json"
    src.write_text(json.dumps({**json.loads(FIXTURE.read_text()), **extra}))
    r = calibrate("--from-json", str(src), "--out", str(tmp_path / "p.toml"))
    assert r.exit_code == 0, r.output
    return load_machine(str(tmp_path / "p.toml"))


def test_an_l2_size_in_the_measurement_switches_the_cache_term_on(tmp_path):
    spec = _profile_with(tmp_path, l2_bytes=50_000_000)
    assert (spec.l2_bytes, spec.l2_bytes_per_s) == (50_000_000, 6e12)


def test_a_measured_division_rate_gives_the_lane_cycles_of_one_division(tmp_path):
    # 100 SMs x 64 lanes x 1e9 Hz = 6.4e12 lane-cycles/s; 1.28e11 divisions/s: 50 lane-cycles each
    spec = _profile_with(tmp_path, int_divide_per_s=1.28e11)
    assert spec.int_divide_instructions == 50
    assert "int_divide_instructions: derived" in spec.source
    calibrate("--from-json", str(FIXTURE), "--out", str(tmp_path / "q.toml"))   # an older measurement
    assert load_machine(str(tmp_path / "q.toml")).int_divide_instructions == 0


def test_compute_capability_gives_the_lanes_and_fitted_terms_are_copied(tmp_path):
    m = {**json.loads(FIXTURE.read_text()), "compute_capability": [9, 0], "launch_overhead_s": 5e-5,
         "program_overhead_s": 2e-4, "hbm_dependent_latency_cycles": 120}
    src = tmp_path / "m.json"
    src.write_text(json.dumps(m))
    r = calibrate("--from-json", str(src), "--out", str(tmp_path / "p.toml"))
    assert r.exit_code == 0, r.output
    spec = load_machine(str(tmp_path / "p.toml"))
    assert spec.lanes_per_sm == 128 and spec.name.startswith("fixture-gpu")
    assert (spec.launch_overhead_s, spec.program_overhead_s, spec.hbm_dependent_latency_cycles) == (5e-5, 2e-4, 120)
    assert "compute capability 9.0" in spec.source and "fitted value given in the measurement file" in spec.source
    assert "SIMULATED" not in spec.source
    src.write_text(json.dumps({**m, "simulated": True}))
    r = calibrate("--from-json", str(src), "--out", str(tmp_path / "s.toml"))
    assert r.exit_code == 0 and load_machine(str(tmp_path / "s.toml")).source.startswith("SIMULATED")


@pytest.mark.parametrize("change, message", [
    ({"copy_bytes_per_s": None}, "lacks copy_bytes_per_s"),
    ({"sms": "many"}, "'sms' of the measurement"),
    ({"clock_hz": -1.0}, "positive finite"),
    ({"clock_hz": 1e3}, "outside the sane range"),      # the written profile would not load: refused
])
def test_a_bad_measurement_is_an_error_naming_the_field_and_nothing_is_written(tmp_path, change, message):
    m = json.loads(FIXTURE.read_text())
    for key, value in change.items():
        if value is None:
            del m[key]
        else:
            m[key] = value
    src = tmp_path / "m.json"
    src.write_text(json.dumps(m))
    r = calibrate("--from-json", str(src), "--out", str(tmp_path / "p.toml"))
    assert r.exit_code == 1 and message in r.output and "internal error" not in r.output
    assert not (tmp_path / "p.toml").exists()


def test_help_lists_the_options():
    r = calibrate("--help")
    assert r.exit_code == 0 and all(o in r.output for o in ("--from-json", "--out", "--name"))


def test_the_default_out_is_name_dot_toml_in_the_user_profile_folder(tmp_path, monkeypatch):
    shutil.copy(FIXTURE, tmp_path / "m.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRAMSIM_MACHINES_DIR", str(tmp_path / "user"))
    r = calibrate("--from-json", "m.json", "--name", "mine")
    assert r.exit_code == 0, r.output
    assert load_machine(str(tmp_path / "user" / "mine.toml")).name == "mine" and not (tmp_path / "mine.toml").exists()


def test_measuring_runs_under_the_simulator_and_saves_a_measurement_of_the_right_shape_but_no_profile(tmp_path):
    import os
    import subprocess
    import sys
    from pramsim.profile_writer import load_measurement
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "calibrate", "--out", str(tmp_path / "sim.toml")],
                       capture_output=True, text=True, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr
    m = load_measurement(tmp_path / "sim.json")   # every required field, of its type, positive and finite
    assert set(REQUIRED) <= set(m) and m["simulated"] is True and "simulator" in m["device"]
    assert not (tmp_path / "sim.toml").exists() and "no profile written" in r.stderr
