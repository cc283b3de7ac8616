"""Atomics and warp shuffles: values against NumPy/plain-Python references, contention charged as
depth (by hand), located errors, the race checker's rules, the compiled engine's refusal, and the
CUDA simulator agreeing with the vector engine."""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba.cuda is imported

import numpy as np
import pytest

from pramsim import gpu_runner as gpu
from pramsim.engines import contention
from pramsim.engines.vector import Executor
from pramsim.errors import DSLError, ExecutionError
from pramsim.lang import ops
from pramsim.machine import load_machine, simulate
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs, run_program

PRAM = load_machine("pram")

HEADER = """import numpy as np
from pramsim.dsl import *
"""


def program(tmp_path, body: str, name: str = "prog"):
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + body)
    return load_program(str(path))


def run(prog, model="crcw-arbitrary", check_races=False, engine="vector", **params):
    return run_program(prog, {**prog.params, **params}, PRAM.with_processors(4), model=model,
                       check_races=check_races, engine=engine)


COUNTER = """
@kernel
def count(c, old, n):
    i = gid()
    if i < n:
        old[i] = atomic_add(c, 0, 1)


@program(params={"n": 100}, inputs=lambda rng, n: {}, reference=lambda n: np.arange(n))
def counter(n):
    c = zeros(1, np.int64)
    old = zeros(n, np.int64)
    count[n](c, old, n)
    return old
"""


# ---- atomics: values ---------------------------------------------------------------------------------

def test_atomics_to_one_cell_apply_in_processor_order_and_return_the_old_value(tmp_path):
    r = run(program(tmp_path, COUNTER))
    assert r.comparison.correct  # processor i sees i earlier increments
    # the atomic is the only charged operation besides `i < n`: n of each
    assert r.trace.counter("atomic.hbm") == 100 and r.trace.counter("int.<") == 100


def test_contention_is_depth_k_atomics_to_one_cell_take_k_steps(tmp_path):
    r = run(program(tmp_path, COUNTER), n=100)
    launch = r.trace.launches[0]
    # `i < n` (1 step), then 100 atomics queued on c[0] (100 steps), then the store of old[i] (1)
    assert launch.depth == 1 + 100 + 1
    assert r.trace.depth_by_class["hbm"] == 100 + 1
    # every step of the queue holds one atomic: Brent's bounds hold
    for p in (1, 3, 64):
        steps = simulate(r.trace, PRAM.with_processors(p)).steps
        assert max(-(-r.trace.work // p), r.trace.depth) <= steps <= r.trace.work / p + r.trace.depth


HISTOGRAM = """
@kernel(readonly=("a",))
def hist(h, a, n, bins):
    i = gid()
    if i < n:
        atomic_add(h, a[i] % bins, 1)


def inputs(rng, n, bins):
    return {"a": rng.integers(0, 1000, n)}


@program(params={"n": 1000, "bins": 8}, inputs=inputs,
         reference=lambda a, n, bins: np.bincount(a % bins, minlength=bins))
def histogram(a, n, bins):
    h = zeros(bins, np.int64)
    hist[n](h, a, n, bins)
    return h
"""


def test_histogram_equals_bincount_and_its_depth_is_the_fullest_bin(tmp_path):
    prog = program(tmp_path, HISTOGRAM)
    r = run(prog)
    assert r.comparison.correct
    a = make_inputs(prog, r.params, 0)["a"]
    fullest = int(np.bincount(a % 8).max())
    # i < n, load a[i], % (3 steps), then the queue at the fullest bin
    assert r.trace.launches[0].depth == 3 + fullest
    assert r.trace.counter("atomic.hbm") == 1000
    assert r.trace.bytes[("hbm", "write")] == 1000 * 8  # each atomic reads and writes its cell


@pytest.mark.parametrize("n", [10, 200])  # 200: past the vector rounds, one cell at a time
def test_float_atomic_add_rounds_as_one_after_another_in_processor_order(n):
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(np.float32)
    cell = np.zeros(1, np.float32)
    old = contention.apply_atomic(ops.ATOMICS["add"], cell, (np.zeros(n, np.int64),), [values])
    want = np.float32(0)
    for i, v in enumerate(values):
        assert old[i] == want
        want = np.float32(want + v)
    assert cell[0] == want


@pytest.mark.parametrize("n", [5, 150])
def test_exch_cas_min_max_in_processor_order(n):
    rng = np.random.default_rng(2)
    cells = rng.integers(0, 3, n)
    values = rng.integers(-50, 50, n)
    for name in ("exch", "min", "max", "cas"):
        buf = np.array([7, -3, 0], np.int64)
        ref = buf.copy()
        args = [values] if name != "cas" else [np.full(n, 7), values]
        old = contention.apply_atomic(ops.ATOMICS[name], buf, (cells,), args)
        for i, c in enumerate(cells):  # the same accesses, one after another, in plain Python
            assert old[i] == ref[c], (name, i)
            if name == "exch":
                ref[c] = values[i]
            elif name == "min":
                ref[c] = min(ref[c], values[i])
            elif name == "max":
                ref[c] = max(ref[c], values[i])
            elif ref[c] == 7:
                ref[c] = values[i]
        assert np.array_equal(buf, ref), name


def test_queue_delays_serve_a_cell_in_order_of_arrival():
    # cell 5: processors 0, 1, 3 arrive after steps 0, 4, 0; cell 9: processor 2 alone. Served by
    # arrival (processor order among equals): 0 completes at 1, 3 at 2, 1 at max(4 + 1, 2 + 1) = 5
    delays = contention.queue_delays(np.array([5, 5, 9, 5]), np.array([0, 4, 0, 0]))
    assert delays.tolist() == [0, 0, 0, 1]
    # one start for all: the r-th waits r steps
    assert contention.queue_delays(np.array([7, 7, 7, 3]), 10).tolist() == [0, 1, 2, 0]
    assert contention.queue_delays(np.array([1, 2, 3]), 0) is None


def test_a_late_low_processor_does_not_hold_up_an_early_one(tmp_path):
    prog = program(tmp_path, """
@kernel
def k(c, n):
    i = gid()
    if i == 0:
        j = 0
        while j < 20:        # processor 0 arrives late: 41 steps (20 rounds of < and +, and the last <)
            j = j + 1
    atomic_add(c, 0, 1)


@program(params={"n": 8}, inputs=lambda rng, n: {}, reference=lambda n: np.array([n]))
def late(n):
    c = zeros(1, np.int64)
    k[n](c, n)
    return c
""")
    r = run(prog)
    assert r.comparison.correct
    # `i == 0` (1 step); processors 1..7 queue at step 1 (completing at 2..8); processor 0 arrives
    # after 1 + 41 steps and is served at once: 43. The hbm chain counts only hbm operations: there
    # all eight arrive at 0 and queue, 8 (never more than the hbm operations themselves)
    assert r.trace.launches[0].depth == 1 + 41 + 1
    assert r.trace.depth_by_class["hbm"] == 8
    assert r.trace.depth_by_class["hbm"] <= r.trace.counter("atomic.hbm")


# ---- atomics: errors ---------------------------------------------------------------------------------

def test_atomic_on_a_read_only_array_is_refused_at_its_line(tmp_path):
    with pytest.raises(DSLError, match="writes 'h', which the kernel declares read-only") as err:
        program(tmp_path, HISTOGRAM.replace('readonly=("a",)', 'readonly=("a", "h")'))
    assert err.value.loc.line == HEADER.count("\n") + HISTOGRAM.splitlines().index("        atomic_add(h, a[i] % bins, 1)") + 1


def test_atomic_with_a_float_index_is_refused_at_its_line(tmp_path):
    prog = program(tmp_path, HISTOGRAM.replace("atomic_add(h, a[i] % bins, 1)", "atomic_add(h, a[i] / bins, 1)"))
    with pytest.raises(ExecutionError, match="index `a\\[i\\] / bins` of 'h' is not an integer") as err:
        run(prog)
    assert err.value.loc.file.endswith("prog.py")


def test_atomic_cas_needs_an_integer_array_and_local_arrays_refuse_atomics(tmp_path):
    prog = program(tmp_path, COUNTER.replace("zeros(1, np.int64)", "zeros(1, np.float32)")
                   .replace("atomic_add(c, 0, 1)", "atomic_cas(c, 0, 0.0, 1.0)"))
    with pytest.raises(ExecutionError, match="atomic_cas on 'c', which holds floats: it needs an integer array"):
        run(prog)
    with pytest.raises(DSLError, match="local array 't'"):
        program(tmp_path, COUNTER.replace("    i = gid()\n", "    i = gid()\n    t = local((2,), int64)\n", 1)
                .replace("atomic_add(c, 0, 1)", "atomic_add(t, 0, 1)"), name="local_atomic")
    with pytest.raises(DSLError, match=r"atomic_add\(\) takes 3 arguments"):
        program(tmp_path, COUNTER.replace("atomic_add(c, 0, 1)", "atomic_add(c, 0)"), name="arity")


# ---- atomics: races, models, engines --------------------------------------------------------------------

SHARED_BINS = """
@kernel(readonly=("a",))
def privatised(h, a, n, bins):
    local_bins = shared((8,), int64)
    t = lane()
    if t < bins:
        local_bins[t] = 0
    barrier()
    i = gid()
    if i < n:
        atomic_add(local_bins, a[i] % bins, 1)
    READ_HERE
    barrier()
    if t < bins:
        atomic_add(h, t, local_bins[t])


def inputs(rng, n, bins):
    return {"a": rng.integers(0, 1000, n)}


@program(params={"n": 256, "bins": 8}, inputs=inputs,
         reference=lambda a, n, bins: np.bincount(a % bins, minlength=bins))
def shared_histogram(a, n, bins):
    h = zeros(bins, np.int64)
    privatised[n // 64, 64](h, a, n, bins)
    return h
"""


def test_atomics_do_not_race_with_each_other_but_do_with_a_plain_access(tmp_path):
    ok = program(tmp_path, SHARED_BINS.replace("    READ_HERE\n", ""))
    r = run(ok, check_races=True)
    assert r.comparison.correct and r.trace.counter("atomic.sram") == 256
    racy = program(tmp_path, SHARED_BINS.replace("READ_HERE", "x = local_bins[(t + 1) % bins]"), name="racy")
    with pytest.raises(ExecutionError, match="shared-memory race on local_bins.*atomically updated it"):
        run(racy, check_races=True)


def test_atomics_run_on_the_vector_engine_when_compiled_is_asked_with_a_note(tmp_path):
    prog = program(tmp_path, HISTOGRAM)
    r = run(prog, engine="compiled")
    assert r.comparison.correct
    assert any("atomic_add at line" in note and "lockstep" in note for note in r.notes)
    assert r.trace.counts == run(prog).trace.counts


def test_atomics_are_allowed_under_every_model_and_queued_alike(tmp_path):
    prog = program(tmp_path, COUNTER)
    depths = {m: run(prog, model=m).trace.depth for m in ("erew", "crew", "crcw-common", "qrqw")}
    assert set(depths.values()) == {102}


# ---- warp shuffles -----------------------------------------------------------------------------------

SHUFFLE = """
@kernel
def k(a, down, xor, n, d, m):
    i = gid()
    if i < n:
        down[i] = shfl_down(a[i], d)
        xor[i] = shfl_xor(a[i], m)


@program(params={"n": 90, "d": 3, "m": 5}, inputs=lambda rng, n, d, m: {"a": np.arange(n) * 10},
         reference=lambda a, n, d, m: a)
def shuffles(a, n, d, m):
    down = zeros(n, np.int64)
    xor = zeros(n, np.int64)
    k[2, 48](a, down, xor, n, d, m)
    return down
"""


def shuffle_reference(n, block, d, m, active):
    """Plain Python: lane l of a warp reads lane l+d (or l^m) of the same warp and block, if that
    processor exists and is active; otherwise keeps its own value."""
    a = np.arange(block * 2) * 10
    down, xor = a.copy(), a.copy()
    for p in range(block * 2):
        if not active(p):
            continue
        base = p - p % block + (p % block) // 32 * 32
        for out, src_lane in ((down, p % block % 32 + d), (xor, (p % block % 32) ^ m)):
            src = base + src_lane
            if src_lane < 32 and src < p - p % block + block and active(src):
                out[p] = a[src]
    return down, xor


@pytest.mark.parametrize("d,m", [(3, 5), (16, 31), (0, 0)])
def test_shuffles_read_within_the_warp_and_block_and_keep_their_own_value_outside(tmp_path, d, m):
    prog = program(tmp_path, SHUFFLE)
    ex = Executor()
    got_down = execute(prog, {"n": 90, "d": d, "m": m}, make_inputs(prog, {"n": 90, "d": d, "m": m}, 0), ex)
    down, xor = shuffle_reference(90, 48, d, m, lambda p: p < 90)
    assert np.array_equal(got_down, down[:90])
    # the program returns `down`; `xor` is read back through a copy that returns it
    xor_prog = program(tmp_path, SHUFFLE.replace("return down", "return xor"), name="xorprog")
    got_xor = execute(xor_prog, {"n": 90, "d": d, "m": m}, make_inputs(xor_prog, {"n": 90, "d": d, "m": m}, 0),
                      Executor())
    assert np.array_equal(got_xor, xor[:90])
    assert ex.trace.counter("shfl.shfl_down") == 90 and ex.trace.counter("shfl.shfl_xor") == 90


def test_shuffle_lane_offset_out_of_range_and_bool_values_are_errors(tmp_path):
    prog = program(tmp_path, SHUFFLE)
    with pytest.raises(ExecutionError, match=r"lane offset out of range 0..31 in `shfl_down\(a\[i\], d\)`"):
        run(prog, d=32)
    bad = program(tmp_path, SHUFFLE.replace("shfl_down(a[i], d)", "shfl_down(a[i] > 0, d)"), name="boolshfl")
    with pytest.raises(ExecutionError, match="shfl_down"):
        run(bad)


def test_shuffles_are_register_exchanges_not_memory_for_the_pram_models(tmp_path):
    prog = program(tmp_path, SHUFFLE)  # every lane of a warp reads one lane's register: no refusal
    erew, crcw = run(prog, model="erew"), run(prog)
    assert np.array_equal(erew.output, crcw.output) and erew.trace.depth == crcw.trace.depth


WARP_SUM = """
@kernel(readonly=("a",))
def warp_sum(a, out, n):
    i = gid()
    v = a[i] if i < n else 0.0
    d = 16
    while d > 0:
        v = v + shfl_down(v, d)
        d = d // 2
    if lane() % warp_size() == 0:
        atomic_add(out, 0, v)


@program(params={"n": 200}, inputs=lambda rng, n: {"a": rng.standard_normal(n)},
         reference=lambda a, n: np.array([a.sum()]))
def wsum(a, n):
    out = zeros(1, np.float64)
    warp_sum[-(-n // 64), 64](a, out, n)
    return out
"""


def test_warp_reduction_on_the_cuda_simulator_equals_the_vector_engine(tmp_path):
    prog = program(tmp_path, WARP_SUM)
    params = dict(prog.params)
    want = execute(prog, params, make_inputs(prog, params, 0), Executor())
    got = gpu.run_output(prog, params, seed=0)
    assert np.allclose(got, want, rtol=1e-12)
    hist = program(tmp_path, HISTOGRAM, name="hist_sim")
    assert np.array_equal(gpu.run_output(hist, {"n": 300, "bins": 8}, seed=0),
                          execute(hist, {"n": 300, "bins": 8}, make_inputs(hist, {"n": 300, "bins": 8}, 0), Executor()))


# ---- found in review: each failed before its fix ------------------------------------------------------

def test_a_float_shuffle_checks_its_lane_offset_too(tmp_path):
    prog = program(tmp_path, SHUFFLE.replace("np.arange(n) * 10", "np.arange(n) * 0.5")
                   .replace("zeros(n, np.int64)", "zeros(n, np.float64)"))
    with pytest.raises(ExecutionError, match="lane offset out of range 0..31"):
        run(prog, d=-1)


def test_atomics_update_an_input_given_in_fortran_order(tmp_path):
    prog = program(tmp_path, """
@kernel
def k(h, n):
    i = gid()
    if i < n:
        atomic_add(h, (i % 4, i % 3), 1)


def ref(h, n):
    out = h.copy()
    for i in range(n):
        out[i % 4, i % 3] += 1
    return out


@program(params={"n": 24}, inputs=lambda rng, n: {"h": np.zeros((3, 4), np.int64).T}, reference=ref)
def fortran(h, n):
    k[n](h, n)
    return h
""")
    assert run(prog).comparison.correct


LOCAL_IN_LOOP = """
@kernel
def k(out):
    i = gid()
    s = 0
    for r in range(3):
        acc = local((2,), int64)      # allocated once per launch: it keeps its values across iterations
        acc[0] = acc[0] + 1
        s = acc[0]
    out[i] = s


@program(params={}, inputs=lambda rng: {}, reference=lambda: np.full(4, 3))
def local_loop():
    out = zeros(4, np.int64)
    k[1, 4](out)
    return out
"""


def test_a_local_array_declared_in_a_loop_keeps_its_values_when_lowered(tmp_path):
    prog = program(tmp_path, LOCAL_IN_LOOP)
    assert run(prog).comparison.correct
    assert np.array_equal(gpu.run_output(prog, {}, seed=0), [3, 3, 3, 3])


def test_a_plain_read_races_with_atomics_of_several_lanes_even_by_the_last_of_them(tmp_path):
    for reader in (0, 31):
        prog = program(tmp_path, f"""
@kernel
def k(out):
    s = shared((1,), int64)
    t = lane()
    atomic_add(s, 0, 1)
    if t == {reader}:
        out[0] = s[0]


@program(params={{}}, inputs=lambda rng: {{}}, reference=lambda: np.full(1, 32))
def race{reader}():
    out = zeros(1, np.int64)
    k[1, 32](out)
    return out
""", name=f"race{reader}")
        with pytest.raises(ExecutionError, match=f"lane {reader} reads it .* atomically updated it"):
            run(prog, check_races=True)


def test_lanes_of_a_warp_at_different_shuffles_are_an_error_on_the_simulator(tmp_path):
    prog = program(tmp_path, """
@kernel
def k(a, b, out):
    i = gid()
    x = a[i]
    if lane() < 16:
        x = shfl_xor(a[i], 16)
    out[i] = x * 1000 + shfl_xor(b[i], 16)


@program(params={}, inputs=lambda rng: {"a": np.arange(32), "b": np.arange(100, 132)}, reference=lambda a, b: a)
def diverged(a, b):
    out = zeros(32, np.int64)
    k[1, 32](a, b, out)
    return out
""")
    with pytest.raises(Exception, match="reached different warp shuffles"):
        gpu.run_output(prog, {}, seed=0)


def test_atomic_misuse_is_refused_where_it_is_written(tmp_path):
    with pytest.raises(DSLError, match=r"atomic_add\(\) takes no keyword arguments"):
        program(tmp_path, COUNTER.replace("old[i] = atomic_add(c, 0, 1)", "atomic_add(c, 0, 1, order=1)"), name="kw")
    with pytest.raises(DSLError, match="must be the same for every processor"):
        program(tmp_path, COUNTER.replace("    i = gid()\n", "    i = gid()\n    t = local((atomic_add(c, 0, 1),), int64)\n", 1),
                name="shape")
    prog = program(tmp_path, COUNTER.replace("atomic_add(c, 0, 1)", "atomic_add(c, 0, 0.5)"), name="float_into_int")
    with pytest.raises(ExecutionError, match="atomic_add puts a float into the integer array 'c'"):
        run(prog)
