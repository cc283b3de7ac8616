"""Property tests over random sizes and processor counts (p = 1, p not a power of two, p > W):
Brent's bounds hold, results equal NumPy's, and the counted work does not depend on p."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pramsim.machine import load_machine, simulate
from pramsim.programs import load_program
from pramsim.runner import make_inputs, run_program

PRAM = load_machine("pram")
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

# name -> (largest n to draw, NumPy computed here from the inputs, independently of the program)
CASES = {
    "tree_sum": (3000, lambda a, **_: np.array([np.sum(a, dtype=np.float64)])),
    "scan_hillis_steele": (3000, lambda a, **_: np.cumsum(a, dtype=np.float64)),
    "vector_mul": (3000, lambda a, b, **_: np.multiply(a, b, dtype=np.float64)),
    "matvec": (48, lambda a, x, **_: np.dot(a.astype(np.float64), x.astype(np.float64))),
}

# p: one processor, small odd/non-power-of-two counts, any count, or "more than the work" (resolved later)
procs = st.one_of(st.just(1), st.sampled_from([3, 5, 6, 7, 12, 100, 1000]), st.integers(1, 5000),
                  st.just("beyond"))


def resolve(p, work):
    return work + 1 + work // 2 if p == "beyond" else p


def close(out, expected):
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    return float(np.max(np.abs(out.reshape(expected.shape) - expected), initial=0.0)) / scale <= 1e-4


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), frac=st.floats(0, 1), p=procs, seed=st.integers(0, 2**16))
def test_brent_bounds_and_numpy_agreement(name, frac, p, seed):
    top, numpy_fn = CASES[name]
    n = max(1, round(top ** frac))                         # log-uniform over [1, top]
    prog = load_program(name)
    params = {**prog.params, "n": n}
    inputs = make_inputs(prog, params, seed)
    first = run_program(prog, params, PRAM.with_processors(1), seed=seed)
    W, D = first.trace.work, first.trace.depth
    p = resolve(p, W)
    r = run_program(prog, params, PRAM.with_processors(p), seed=seed)
    assert close(r.output, numpy_fn(**inputs)), (name, n)
    assert r.comparison.correct
    assert max(math.ceil(W / p), D) <= r.schedule.steps <= W / p + D
    # the PRAM schedule is level by level: step t of the profile takes ceil(m_t / p) steps on p processors
    assert r.schedule.steps == sum(int(np.sum(-(-launch.profile // p))) for launch in r.trace.launches)
    if p > W:
        assert r.schedule.steps == D
    # counting is a property of the program, not of the machine it is scheduled on
    assert r.trace.counts == first.trace.counts
    assert (r.trace.work, r.trace.depth) == (W, D)
    assert r.trace.depth_by_class == first.trace.depth_by_class


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), frac=st.floats(0, 1), ps=st.lists(procs, min_size=2, max_size=6))
def test_one_trace_scheduled_at_many_p(name, frac, ps):
    top, _ = CASES[name]
    n = max(1, round(top ** frac))
    prog = load_program(name)
    trace = run_program(prog, {**prog.params, "n": n}, PRAM.with_processors(1)).trace
    W, D = trace.work, trace.depth
    counts_before = dict(trace.counts)
    ps = sorted({resolve(p, W) for p in ps} | {1})
    steps = [simulate(trace, PRAM.with_processors(p)).steps for p in ps]
    assert steps[0] == W                                   # one processor does every operation in turn
    for p, t in zip(ps, steps):
        assert max(math.ceil(W / p), D) <= t <= W / p + D
    assert all(a >= b for a, b in zip(steps, steps[1:]))   # more processors never slow a level-by-level schedule
    assert dict(trace.counts) == counts_before             # scheduling does not touch the counts


@SETTINGS
@given(n=st.integers(1, 2000), p=procs)
def test_scan_hillis_steele_exact_additions_for_any_n(n, p):
    prog = load_program("scan_hillis_steele")
    r = run_program(prog, {"n": n}, PRAM.with_processors(resolve(p, 10 * n)))
    assert r.trace.counter("flop.+") == sum(n - 2**k for k in range(math.ceil(math.log2(n))))
    assert r.trace.counter("depth.flop") == math.ceil(math.log2(n))


@SETTINGS
@given(n=st.integers(1, 4000))
def test_tree_sum_exact_additions_for_any_n(n):
    r = run_program(load_program("tree_sum"), {"n": n}, PRAM.with_processors(3))
    assert r.trace.counter("flop.+") == n - 1
    assert r.trace.counter("depth.flop") == math.ceil(math.log2(n))
