"""The run-time estimate (pramsim.estimate) and the refusal of runs estimated too long (--max-time).

The estimator is tested with synthetic probes whose wall time follows a known law, so nothing
here depends on how fast this machine is; the CLI tests use sizes a million times over any limit.
"""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pramsim.errors import RequirementError, ResourceError
from pramsim.calibration import calibration as CALIBRATION
from pramsim.estimate import Probe, estimate_time
from pramsim.programs import load_program
from pramsim.runner import refuse_if_too_long

FIX = Path(__file__).parent / "fixtures"


def synthetic(work, depth, alpha, beta, calib_s_per_op=None, refuse=lambda p: False, log=None):
    """A probe whose W and D follow exact formulas and whose wall time is alpha*D + beta*W."""
    def probe(program, params):
        if program.name == "calibration":
            w = params["n"] * params["steps"] * 8
            return Probe(params, (calib_s_per_op or beta) * w, w, params["steps"])
        if refuse(params):
            raise RequirementError(f"refused {params}")
        if log is not None:
            log.append(params)
        w, d = work(params), depth(params)
        return Probe(params, alpha * d + beta * w, w, d)
    return probe


def test_linear_law_is_recovered_at_the_target():
    prog = load_program("matmul_naive")  # W = Θ(n^3), D = Θ(n)
    alpha, beta = 1e-5, 2e-9
    probe = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], alpha, beta)
    target = {"n": 4096}
    est = estimate_time(prog, [target], probe, limit_s=1.0, calibration=CALIBRATION)
    want = alpha * 4 * 4096 + beta * 2 * 4096**3
    assert est.seconds == pytest.approx(want, rel=1e-6)
    assert len(est.probes) >= 2 and all(p.params["n"] < 4096 for p in est.probes)
    assert "α·D + β·W" in est.reason and "n^3" in est.reason


def test_probes_stay_within_the_budget_of_the_law():
    prog = load_program("tree_sum")
    probe = synthetic(lambda p: 9 * p["n"], lambda p: 18 * math.ceil(math.log2(p["n"])), 1e-4, 1e-8)
    est = estimate_time(prog, [{"n": 2**30}], probe, limit_s=1.0, budget_s=0.5, calibration=CALIBRATION)
    # each probe is chosen so that an upper bound of its time fits in half the budget left
    assert sum(p.wall_s for p in est.probes) <= 0.5 + est.probes[0].wall_s * 2
    assert est.seconds == pytest.approx(1e-4 * 18 * 30 + 1e-8 * 9 * 2**30, rel=1e-6)


def test_stops_early_when_an_upper_bound_is_under_the_limit():
    prog = load_program("tree_sum")
    log = []
    probe = synthetic(lambda p: 9 * p["n"], lambda p: 18 * math.ceil(math.log2(p["n"])), 1e-4, 1e-8, log=log)
    est = estimate_time(prog, [{"n": 4096}], probe, limit_s=600, calibration=CALIBRATION)
    assert len(est.probes) == 1 and log[0] == {"n": 2}  # the smallest size with log n > 0, run twice
    assert est.seconds >= 1e-4 * 18 * 12 + 1e-8 * 9 * 4096 and "upper bound" in est.reason
    assert est.describe().startswith("time estimate: under ")


def test_overhead_dominated_probes_give_a_range_and_use_the_calibration():
    # the probes only ever see per-statement cost; per-element cost shows at the target only
    prog = load_program("matmul_naive")
    alpha, beta = 1e-3, 1e-12
    probe = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], alpha, beta, calib_s_per_op=5e-9)
    est = estimate_time(prog, [{"n": 2**14}], probe, limit_s=1.0, calibration=CALIBRATION)
    d_t, w_t = 4 * 2**14, 2 * 2**42
    assert est.low < est.seconds <= est.high
    assert est.seconds == pytest.approx(alpha * d_t + 5e-9 * w_t, rel=0.05)
    assert "calibration" in est.reason and "between" in est.describe()


def test_a_single_probe_is_split_with_the_calibration_not_scaled_as_a_bound():
    prog = load_program("matmul_naive")
    alpha = 1e-3
    probe = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], alpha, 0.0, calib_s_per_op=5e-9)
    est = estimate_time(prog, [{"n": 2**10}], probe, limit_s=1.0, budget_s=0.0, calibration=CALIBRATION)  # no room for a second probe
    assert len(est.probes) == 1 and "one probe" in est.reason
    assert est.seconds == pytest.approx(alpha * 4 * 2**10 + 5e-9 * 2 * 2**30, rel=1e-6)
    assert est.low < est.seconds < est.high


def test_a_per_operation_cost_far_above_the_calibration_is_held_to_the_cap():
    # tiny probes on a loaded machine can look like a huge β; the calibration kernel bounds it
    from pramsim.estimate import BETA_CAP
    prog = load_program("matmul_naive")
    probe = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], 1e-5, 1e-6, calib_s_per_op=1e-9)
    est = estimate_time(prog, [{"n": 4096}], probe, limit_s=0.01, calibration=CALIBRATION)
    w_t, d_t = 2 * 4096**3, 4 * 4096
    assert est.high == pytest.approx(1e-5 * d_t + 1e-6 * w_t, rel=1e-6)  # the uncapped fit
    assert BETA_CAP * 1e-9 * w_t <= est.seconds < est.high / 10
    assert f"held to {BETA_CAP}×" in est.reason


def test_sizes_the_program_refuses_are_skipped():
    prog = load_program("matmul_tiled")  # require(n % tile == 0): the probes keep tile=16
    log = []
    probe = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], 1e-5, 2e-9,
                      refuse=lambda p: p["n"] % p["tile"] != 0, log=log)
    est = estimate_time(prog, [{"n": 1024, "tile": 16}], probe, limit_s=0.01, calibration=CALIBRATION)
    assert est.seconds == pytest.approx(1e-5 * 4096 + 2e-9 * 2 * 1024**3, rel=1e-6)
    assert all(p["n"] % 16 == 0 and p["tile"] == 16 for p in log)


def test_no_estimate_without_a_work_form_or_below_the_smallest_probe():
    prog = load_program("tree_sum")
    probe = synthetic(lambda p: p["n"], lambda p: 1, 1e-4, 1e-8)
    est = estimate_time(dataclasses.replace(prog, work=None), [{"n": 2**20}], probe, 1.0)
    assert est.seconds is None and "no work form" in est.describe()
    est = estimate_time(prog, [{"n": 1}], probe, 1.0)
    assert est.seconds is None and "as small as any probe" in est.reason
    est = estimate_time(prog, [{"n": 2**20}], synthetic(lambda p: p["n"], lambda p: 1, 1e-4, 1e-8,
                                                         refuse=lambda p: True), 1.0)
    assert est.seconds is None and "refused every smaller size" in est.reason


def test_check_estimates_the_sum_over_its_sweep():
    prog = load_program("vector_mul")
    probe = synthetic(lambda p: 5 * p["n"], lambda p: 5, 1e-4, 1e-8)
    targets = [{"n": 2**20}, {"n": 2**22}]
    est = estimate_time(prog, targets, probe, limit_s=1e-6)
    assert est.seconds == pytest.approx(sum(1e-4 * 5 + 1e-8 * 5 * t["n"] for t in targets), rel=1e-6)


def test_refusal_names_the_estimate_and_the_flag():
    prog = load_program("tree_sum")
    est = estimate_time(prog, [{"n": 2**40}], synthetic(lambda p: p["n"], lambda p: 1, 0, 1e-9), 1.0)
    with pytest.raises(ResourceError) as info:
        refuse_if_too_long(est, 600, "run")
    msg = str(info.value)
    assert "estimated 1,100 s (18 min)" in msg and "limit of 600 s" in msg and "--max-time" in info.value.hint


def pramsim(*args):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_cli_refuses_a_run_estimated_too_long():
    # 2^40 elements: a million times the 1 s limit on any machine this runs on (bitonic_sort: a
    # data-dependent program, which `run` cannot count with --counts-only instead)
    r = pramsim("run", "bitonic_sort", "n=2**40", "--max-time", "1")
    assert r.returncode == 1, r.stderr
    assert "refused: this run would take an estimated" in r.stderr and "over the limit of 1 s" in r.stderr
    assert "--max-time" in r.stderr and "hint:" in r.stderr and r.stdout == ""


def test_cli_max_time_0_skips_the_estimate():
    # the same run is refused by its estimate, or (no estimate) starts and meets the memory limit
    r = pramsim("run", "bitonic_sort", "n=2**20", "--max-memory", "0.001", "--max-time", "0.000001")
    assert r.returncode == 1 and "estimated" in r.stderr
    r = pramsim("run", "bitonic_sort", "n=2**20", "--max-memory", "0.001", "--max-time", "0")
    assert r.returncode == 1 and "estimated" not in r.stderr and "--max-memory" in r.stderr


def test_cli_check_refuses_too():
    r = pramsim("check", "tree_sum", "--max-time", "0.000001")
    assert r.returncode == 1 and "refused: this check would take an estimated" in r.stderr


def test_cli_verbose_says_how_or_why_not():
    r = pramsim("run", "tree_sum", "n=4096", "-v")
    assert r.returncode == 0 and "time estimate: under" in r.stderr and "W = Θ(n)" in r.stderr
    r = pramsim("run", FIX / "good_saxpy.py", "-v")
    assert r.returncode == 0 and "time estimate: none (the program declares no work form" in r.stderr
