"""The shipped programs: every one correct against NumPy with Brent's bounds at its default size;
hand-counted textbook operation counts for the basic algorithms; `check` passes on the basic ones."""
import math

import pytest

from pramsim import bounds
from pramsim.errors import PramsimError
from pramsim.machine import load_machine, simulate
from pramsim.programs import load_program, shipped_programs
from pramsim.runner import check_program, run_program

PRAM = load_machine("pram")
BASIC = ["tree_sum", "vector_mul", "tree_max", "outer_product", "scan_hillis_steele", "scan_blelloch", "matvec"]


def run(name, p=8, model="crcw-arbitrary", **params):
    prog = load_program(name)
    return run_program(prog, {**prog.params, **params}, PRAM.with_processors(p), model=model, check_races=True)


# ---- every shipped program, present and future ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(shipped_programs()))
def test_every_program_is_correct_and_obeys_brent_at_its_defaults(name):
    prog = load_program(name)
    r = run_program(prog, dict(prog.params), PRAM.with_processors(7), check_races=True)
    assert r.comparison.correct, r.comparison.message
    assert r.trace.work > 0 and r.trace.depth > 0
    for p in (1, 7, 1000, r.trace.work + 1):
        steps = simulate(r.trace, PRAM.with_processors(p)).steps
        assert max(math.ceil(r.trace.work / p), r.trace.depth) <= steps <= r.trace.work / p + r.trace.depth
    # with one processor the PRAM runs every operation in its own step
    assert simulate(r.trace, PRAM.with_processors(1)).steps == r.trace.work
    # the counts a program declares hold at its default size too, not only on its sweep
    for counter, formula in prog.counts.items():
        assert r.trace.counter(counter) == bounds.evaluate(formula, r.params), counter
    for counter, formula in prog.at_most.items():
        assert r.trace.counter(counter) <= bounds.evaluate(formula, r.params), counter


def test_the_basic_programs_are_shipped():
    assert set(BASIC) <= set(shipped_programs())


# ---- textbook counts, computed by hand here (not read back from the programs' declarations) -----------

@pytest.mark.parametrize("n,k", [(2, 1), (1024, 10), (4096, 12)])
def test_tree_sum_power_of_two_does_n_minus_1_additions_in_log_n_rounds(n, k):
    r = run("tree_sum", n=n)
    assert r.trace.counter("flop.+") == n - 1 == r.trace.counter("flop")
    assert r.trace.counter("depth.flop") == k
    assert r.trace.counter("launches") == k


def test_tree_sum_and_tree_max_at_a_size_that_is_not_a_power_of_two():
    for name, op in (("tree_sum", "flop.+"), ("tree_max", "flop.max")):
        r = run(name, n=1000)
        assert r.comparison.correct
        assert r.trace.counter(op) == 999 == r.trace.counter("flop")
        assert r.trace.counter("depth.flop") == 10          # 2^9 < 1000 <= 2^10


def test_tree_max_is_exact():
    r = run("tree_max", n=777)
    assert r.comparison.max_rel_error == 0.0


@pytest.mark.parametrize("n", [5, 8, 1000])
def test_hillis_steele_does_sum_over_rounds_of_n_minus_offset_additions(n):
    rounds = []
    offset = 1
    while offset < n:
        rounds.append(n - offset)
        offset *= 2
    r = run("scan_hillis_steele", n=n)
    assert r.comparison.correct
    assert r.trace.counter("flop.+") == sum(rounds) == r.trace.counter("flop")
    assert r.trace.counter("depth.flop") == len(rounds)
    K = math.ceil(math.log2(n))
    assert sum(rounds) == n * K - (2**K - 1)               # the closed form the program declares
    assert {5: 8, 8: 17, 1000: 8977}[n] == sum(rounds)     # 4+3+1; 7+6+4; 10·1000 - 1023


@pytest.mark.parametrize("n,k", [(16, 4), (1024, 10)])
def test_blelloch_does_at_most_2_n_minus_1_additions_in_2_log_n_depth(n, k):
    r = run("scan_blelloch", n=n)
    assert r.comparison.correct
    adds, depth = r.trace.counter("flop.+"), r.trace.counter("depth.flop")
    assert adds <= 2 * (n - 1) and depth <= 2 * k
    assert (adds, depth) == (2 * (n - 1), 2 * k)            # n - 1 up, n - 1 down; log n levels each


def test_blelloch_scans_sizes_that_are_not_powers_of_two_with_the_same_counts():
    r = run("scan_blelloch", n=1000)
    assert r.comparison.correct
    assert (r.trace.counter("flop.+"), r.trace.counter("depth.flop")) == (2 * 999, 2 * 10)


def test_blelloch_beats_hillis_steele_on_work_and_loses_on_depth():
    hs, bl = run("scan_hillis_steele", n=4096), run("scan_blelloch", n=4096)
    assert bl.trace.counter("flop.+") == 8190 < hs.trace.counter("flop.+") == 4096 * 12 - 4095
    assert bl.trace.counter("depth.flop") == 24 > hs.trace.counter("depth.flop") == 12


def test_vector_mul_depth_does_not_grow_with_n():
    small, large = run("vector_mul", n=16), run("vector_mul", n=4096)
    assert small.trace.depth == large.trace.depth
    assert small.trace.counter("depth.flop") == large.trace.counter("depth.flop") == 1
    assert small.trace.counter("flop.*") == 16 and large.trace.counter("flop.*") == 4096
    assert large.trace.work == 256 * small.trace.work


def test_outer_product_does_n_squared_multiplies_in_constant_depth():
    small, large = run("outer_product", n=4), run("outer_product", n=100)
    assert small.trace.counter("flop.*") == 16 and large.trace.counter("flop.*") == 10_000
    assert small.trace.depth == large.trace.depth
    assert large.comparison.correct


@pytest.mark.parametrize("n", [10, 33])
def test_matvec_row_loop_counts(n):
    r = run("matvec", n=n)
    assert r.comparison.correct
    assert r.trace.counter("flop.*") == n * n == r.trace.counter("flop.+")
    assert r.trace.counter("load.hbm") == 2 * n * n and r.trace.counter("store.hbm") == n
    assert r.trace.counter("depth.flop") == 2 * n                # multiply then add, n times in a row


# ---- PRAM memory models: what each docstring claims ---------------------------------------------------

@pytest.mark.parametrize("name", ["tree_sum", "tree_max", "vector_mul", "scan_hillis_steele", "scan_blelloch"])
def test_exclusive_access_programs_run_under_erew(name):
    assert run(name, n=64, model="erew").comparison.correct


@pytest.mark.parametrize("name", ["matvec", "outer_product"])
def test_broadcast_reads_need_crew(name):
    assert run(name, n=16, model="crew").comparison.correct
    with pytest.raises(PramsimError, match="concurrent read"):
        run(name, n=16, model="erew")


# ---- pramsim check: exact counts over the sweep, Θ fits, Brent at several p ---------------------------

@pytest.mark.parametrize("name", BASIC)
def test_check_passes(name):
    result = check_program(load_program(name), PRAM)
    failures = [f for p in result.points for f in p.failures]
    assert result.passed, (failures, result.work_fit, result.depth_fit)
    ns = [p.params["n"] for p in result.points]
    assert max(ns) >= 100 * min(ns)                                    # two orders of magnitude
    assert all(b.holds for p in result.points for b in p.brent.values())
