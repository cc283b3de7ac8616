"""The run-time estimate (pramsim.estimate) and the refusal of runs estimated too long (--max-time).

The estimate is made from counts, never from timings: the estimator is tested with synthetic
counting runs whose counts follow known laws, and the real runs' estimates are checked to be the
same from one call to the next (so they cannot depend on this machine's speed or load). The CLI
tests use sizes far over or far under any limit.
"""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pramsim import limits
from pramsim.errors import RequirementError, ResourceError
from pramsim.estimate import COSTS, SPREAD, Counts, EngineCost, estimate_time
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import refuse_if_too_long, sweep_points, time_estimate

FIX = Path(__file__).parent / "fixtures"
COST = EngineCost(step_s=1e-4, op_s=1e-8, launch_s=1e-3)


def synthetic(work, depth, launches=lambda p: 1, refuse=lambda p: False, log=None):
    """A counting run whose W, D and launches follow exact formulas."""
    def count(program, params):
        if refuse(params):
            raise RequirementError(f"refused {params}")
        if log is not None:
            log.append(params)
        return Counts(params, work(params), depth(params), launches(params))
    return count


def test_exact_laws_are_extrapolated_exactly_and_priced_by_the_engine_costs():
    prog = load_program("matmul_naive")  # W = Θ(n^3), D = Θ(n)
    count = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"])
    est = estimate_time(prog, [{"n": 4096}], count, COST)
    launches = 4096 / est.probes[-1].params["n"]  # one launch at every size, scaled as the depth is
    want = COST.seconds(2 * 4096**3, 4 * 4096, launches)
    assert est.seconds == pytest.approx(want, rel=1e-9)
    assert est.low == pytest.approx(want / SPREAD) and est.high == pytest.approx(want * SPREAD)
    assert len(est.probes) >= 2 and all(p.params["n"] < 4096 for p in est.probes)
    assert "from counts" in est.reason and "n^3" in est.reason and "between" in est.describe()


def test_launches_grow_with_the_depth_form_and_never_past_the_depth():
    prog = load_program("tree_sum")  # W = Θ(n), D = Θ(log n): one launch per level
    log2 = lambda p: math.ceil(math.log2(p["n"]))  # noqa: E731
    est = estimate_time(prog, [{"n": 2**30}], synthetic(lambda p: 9 * p["n"], lambda p: 18 * log2(p), log2), COST)
    assert est.seconds == pytest.approx(COST.seconds(9 * 2**30, 18 * 30, 30), rel=1e-9)


def test_memory_accesses_and_simulated_blocks_are_priced_apart():
    prog = load_program("matmul_naive")  # W = Θ(n^3), D = Θ(n): blocks grow as W / D = n^2
    cost = EngineCost(step_s=0.0, op_s=1e-9, launch_s=0.0, memory_s=1e-8, block_s=1e-5)

    def count(program, p):
        return Counts(p, 2 * p["n"] ** 3, 4 * p["n"], 1, p["n"] ** 3, max(p["n"] ** 2 // 16, 1))
    est = estimate_time(prog, [{"n": 4096}], count, cost)
    anchor = est.probes[-1]
    blocks = anchor.blocks * (4096 / anchor.params["n"]) ** 2
    assert est.seconds == pytest.approx(1e-9 * 4096**3 + 1e-8 * 4096**3 + 1e-5 * blocks, rel=1e-9)
    assert est.at_target == pytest.approx((2 * 4096**3, 4 * 4096, 4096 / anchor.params["n"], 4096**3, blocks))


def test_counting_runs_stay_within_the_predicted_budget():
    prog = load_program("tree_sum")
    count = synthetic(lambda p: 9 * p["n"], lambda p: 18 * math.ceil(math.log2(p["n"])))
    est = estimate_time(prog, [{"n": 2**30}], count, COST, budget_s=0.05)
    spent = sum(p.seconds(COSTS["vector"]) for p in est.probes)  # counting runs are the vector engine's
    assert spent <= 0.05 and len(est.probes) >= 2
    assert est.probes[-1].params["n"] < 2**30


def test_a_run_is_refused_only_when_the_low_end_is_over_the_limit():
    prog = load_program("tree_sum")
    est = estimate_time(prog, [{"n": 2**30}], synthetic(lambda p: p["n"], lambda p: 1), COST)
    refuse_if_too_long(est, est.seconds * 0.5, "run")  # over the point, under the low end: allowed
    assert not est.refuses(est.low * 1.01)
    with pytest.raises(ResourceError) as info:
        refuse_if_too_long(est, est.low * 0.99, "run")
    assert "at least" in info.value.message and "--max-time" in info.value.hint


def test_sizes_the_program_refuses_are_skipped():
    prog = load_program("matmul_tiled")  # require(n % tile == 0): the counting runs keep tile=16
    log = []
    count = synthetic(lambda p: 2 * p["n"] ** 3, lambda p: 4 * p["n"], refuse=lambda p: p["n"] % p["tile"] != 0,
                      log=log)
    est = estimate_time(prog, [{"n": 1024, "tile": 16}], count, COST)
    launches = 1024 / est.probes[-1].params["n"]
    assert est.seconds == pytest.approx(COST.seconds(2 * 1024**3, 4096, launches), rel=1e-9)
    assert log and all(p["n"] % 16 == 0 and p["tile"] == 16 for p in log)


def test_no_estimate_without_a_work_form_or_below_the_smallest_size():
    prog = load_program("tree_sum")
    count = synthetic(lambda p: p["n"], lambda p: 1)
    est = estimate_time(dataclasses.replace(prog, work=None), [{"n": 2**20}], count, COST)
    assert est.seconds is None and "no work form" in est.describe()
    est = estimate_time(prog, [{"n": 1}], count, COST)
    assert est.seconds is None and "as small as any counting run" in est.reason
    est = estimate_time(prog, [{"n": 2**20}], synthetic(lambda p: p["n"], lambda p: 1, refuse=lambda p: True), COST)
    assert est.seconds is None and "refused every smaller size" in est.reason
    assert not est.refuses(0.0)


def test_a_failing_counting_run_gives_no_estimate_and_says_why():
    from pramsim.errors import ExecutionError
    prog = load_program("tree_sum")

    def count(program, params):
        raise ExecutionError("index 9 out of bounds")
    est = estimate_time(prog, [{"n": 2**20}], count, COST)
    assert est.seconds is None and "failed" in est.reason and "out of bounds" in est.reason


def test_a_target_where_the_depth_form_is_0_and_no_target_give_no_crash():
    prog = load_program("tree_sum")  # D = Θ(log n): 0 at n = 1
    count = synthetic(lambda p: p["n"], lambda p: max(math.ceil(math.log2(p["n"])), 1))
    est = estimate_time(prog, [{"n": 1}, {"n": 2**20}], count, COST)
    assert est.seconds is not None and est.seconds > 0
    assert estimate_time(prog, [], count, COST).seconds is None


def test_check_estimates_the_sum_over_its_sweep():
    prog = load_program("vector_mul")
    targets = [{"n": 2**20}, {"n": 2**22}]
    est = estimate_time(prog, targets, synthetic(lambda p: 5 * p["n"], lambda p: 5), COST)
    assert est.seconds == pytest.approx(sum(COST.seconds(5 * t["n"], 5, 1) for t in targets), rel=1e-9)
    assert est.probes[-1].params["n"] < 2**22  # shrunk from the largest point


def test_real_estimates_are_counts_not_timings():
    # Two estimates of the same run are equal to the last digit: nothing in them was timed, so
    # neither this machine's speed nor its load can move them.
    prog = load_program("bitonic_sort")
    machine = load_machine("pram")
    runs = [time_estimate(prog, [{"n": 2**16}], machine, 0, "crcw-arbitrary", "vector", limits.Limits())
            for _ in range(2)]
    assert runs[0].seconds is not None and runs[0].seconds == runs[1].seconds
    assert [p.params for p in runs[0].probes] == [p.params for p in runs[1].probes]


@pytest.mark.parametrize("name", ["bitonic_sort", "histogram_shared"])
def test_checks_that_take_seconds_are_never_refused_at_the_default_limit(name):
    # issue 22: `check bitonic_sort` (7 s) was refused at an estimated 1,424 s on a busy machine
    prog = load_program(name)
    est = time_estimate(prog, sweep_points(prog), load_machine("pram"), 0, "crcw-arbitrary", "check", limits.Limits())
    assert est.high is not None and est.high < 60 and not est.refuses(600)


def test_every_engine_has_costs():
    from pramsim.engines.vector import ENGINES
    assert set(ENGINES) | {"check"} <= set(COSTS)


def pramsim(*args):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_cli_refuses_a_run_estimated_too_long():
    # 2^40 elements: a million times the 1 s limit (bitonic_sort: a data-dependent program, which
    # `run` cannot count with --counts-only instead)
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
    assert r.returncode == 0 and "time estimate: about" in r.stderr and "W = Θ(n)" in r.stderr
    assert "from counts" in r.stderr
    r = pramsim("run", FIX / "good_saxpy.py", "-v")
    assert r.returncode == 0 and "time estimate: none (the program declares no work form" in r.stderr


def test_the_compiling_run_before_a_compiled_run_compiles_all_it_calls():
    # block_sum at n = 2^17: 128 blocks, over FEW_BLOCKS, so the run calls the plain function that
    # the small compiling run (a few blocks) would not have compiled on its own
    from pramsim import compiling
    from pramsim.runner import _compile_first, run_program
    prog, pram, lim = load_program("block_sum"), load_machine("pram"), limits.Limits()
    target = {"n": 2**17}
    est = time_estimate(prog, [target], pram, 0, "crcw-arbitrary", "compiled", lim)
    _compile_first(prog, target, est, lim, pram, 0, "crcw-arbitrary")
    before = compiling.compile_seconds()
    run_program(prog, target, pram, engine="compiled")
    assert compiling.compile_seconds() == before  # no numba compile (nor cache load) in the run
