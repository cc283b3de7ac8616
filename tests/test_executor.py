"""Executor semantics against independent references (NumPy, Python) and hand-counted W and D."""
import importlib.util
import itertools
import textwrap

import numpy as np
import pytest

from pramsim.errors import ExecutionError
from pramsim.engines.vector import Executor
from pramsim.runtime import use_backend

_ids = itertools.count()


def kernels(tmp_path, src):
    path = tmp_path / f"kern_{next(_ids)}.py"
    path.write_text("from pramsim.dsl import *\nimport math\n" + textwrap.dedent(src))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lines = path.read_text().splitlines()
    return mod, str(path), {tag: i for i, l in enumerate(lines, 1) for tag in [l.split("# L:")[-1].strip()] if "# L:" in l}


def launch(k, config, *args, model="crcw-arbitrary"):
    """Run one launch on a fresh executor; array args are NumPy arrays (copied); returns (trace, arrays)."""
    ex = Executor(model)
    with use_backend(ex):
        dev = [ex.array(a, f"arg{j}") if isinstance(a, np.ndarray) else a for j, a in enumerate(args)]
        k[config](*dev)
    return ex.trace, [d.data for d in dev if not isinstance(d, (int, float))]


def test_vector_mul_exact_work_and_depth(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def vmul(a, b, c):
        i = gid()
        c[i] = a[i] * b[i]
    """)
    n = 1000
    rng = np.random.default_rng(1)
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    t, (_, _, c) = launch(mod.vmul, n, a, b, np.zeros(n, np.float32))
    np.testing.assert_array_equal(c, a * b)
    # load, load, mul, store per processor
    assert (t.work, t.depth) == (4 * n, 4)
    assert t.counter("flop.*") == n and t.counter("load.hbm") == 2 * n and t.counter("store.hbm") == n
    assert t.counter("depth.flop") == 1 and t.counter("depth.hbm") == 3
    assert t.counter("bytes.hbm.read") == 8 * n and t.counter("bytes.hbm.write") == 4 * n
    assert t.launches[0].profile.tolist() == [n, n, n, n]


def test_lockstep_reads_before_writes_shift(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def shift(a, n):
        i = gid()
        if i > 0:
            a[i] = a[i - 1]
    """)
    n = 37
    a = np.arange(n, dtype=np.float32) + 10
    t, (out,) = launch(mod.shift, n, a, n)
    expected = np.concatenate([a[:1], a[:-1]])  # a shift, not a[0] copied everywhere
    np.testing.assert_array_equal(out, expected)
    # compare (all n), then sub, load, store (n - 1 processors)
    assert t.work == n + 3 * (n - 1) and t.depth == 4


def test_divergent_if_else_with_masks(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def branch(a, b):
        i = gid()
        if i % 3 == 0:
            b[i] = a[i] * 2.0
        else:
            b[i] = a[i] + 1.0 - 0.5
    """)
    n = 300
    a = np.linspace(-1, 1, n).astype(np.float32)
    t, (_, b) = launch(mod.branch, n, a, np.zeros(n, np.float32))
    i = np.arange(n)
    np.testing.assert_array_equal(b, np.where(i % 3 == 0, a * np.float32(2), a + np.float32(1) - np.float32(0.5)))
    then, other = n // 3, n - n // 3
    # %, == for all; then: load, *, store; else: load, +, -, store
    assert t.work == 2 * n + 3 * then + 4 * other
    assert t.depth == 2 + 4
    assert t.counter("flop.*") == then and t.counter("flop.+") == other and t.counter("flop.-") == other


def test_while_loop_per_processor_trip_counts(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def count(a):
        i = gid()
        j = 0
        while j < i:
            j = j + 1
        a[i] = j
    """)
    n = 50
    t, (a,) = launch(mod.count, n, np.zeros(n, np.int64))
    np.testing.assert_array_equal(a, np.arange(n))
    # processor i: i + 1 comparisons, i additions, 1 store
    assert t.work == sum(2 * i + 2 for i in range(n))
    assert t.depth == 2 * (n - 1) + 2
    assert t.counter("int.<") == sum(i + 1 for i in range(n)) and t.counter("int.+") == sum(range(n))


def test_for_range_per_processor(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def tri(a):
        i = gid()
        s = 0.0
        for j in range(i):
            s = s + 1.5
        a[i] = s
    """)
    n = 40
    t, (a,) = launch(mod.tri, n, np.zeros(n, np.float64))
    np.testing.assert_array_equal(a, 1.5 * np.arange(n))
    # processor i: i + 1 loop tests, i increments, i flop adds, 1 store
    assert t.work == sum(3 * i + 2 for i in range(n)) and t.depth == 3 * (n - 1) + 2
    assert t.counter("flop.+") == sum(range(n))


def test_for_range_negative_step_and_start(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def down(a, n):
        i = gid()
        s = 0
        for j in range(n - 1, i - 1, -2):
            s = s + j
        a[i] = s
    """)
    n = 21
    t, (a,) = launch(mod.down, n, np.zeros(n, np.int64), n)
    np.testing.assert_array_equal(a, [sum(range(n - 1, i - 1, -2)) for i in range(n)])


def test_early_return(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def odd_out(a):
        i = gid()
        if i % 2 == 1:
            return
        a[i] = 1.0
        a[i] = a[i] + 1.0
    """)
    n = 64
    t, (a,) = launch(mod.odd_out, n, np.zeros(n, np.float32))
    np.testing.assert_array_equal(a, np.where(np.arange(n) % 2 == 0, 2.0, 0.0))
    # %, == for all; store, load, +, store for the n/2 even processors
    assert t.work == 2 * n + 4 * (n // 2) and t.depth == 6


def test_return_inside_loop(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def first_big(a, out, n):
        i = gid()
        j = 0
        while j < n:
            if a[j] > i:
                out[i] = j
                return
            j = j + 1
        out[i] = -1
    """)
    a = np.array([3, 1, 7, 2, 9], np.int64)
    t, (_, out) = launch(mod.first_big, 10, a, np.zeros(10, np.int64), 5)
    ref = [next((j for j, v in enumerate(a) if v > i), -1) for i in range(10)]
    np.testing.assert_array_equal(out, ref)


def test_short_circuit_and_guards_out_of_bounds(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def pos(a, b, n):
        i = gid()
        if i < n and a[i] > 0.0:
            b[i] = 1.0
    """)
    n, P = 10, 16
    a = np.array([1, -1] * 5, np.float32)
    t, (_, b) = launch(mod.pos, P, a, np.zeros(n, np.float32), n)
    np.testing.assert_array_equal(b, (a > 0).astype(np.float32))
    # <: P; load and > only for the n processors with i < n; store for the 5 positive ones
    assert t.work == P + 2 * n + 5
    assert t.counter("load.hbm") == n


def test_short_circuit_or(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a, b, n):
        i = gid()
        if i >= n or a[i] < 0.0:
            return
        b[i] = a[i]
    """)
    n, P = 6, 9
    a = np.array([1, -2, 3, -4, 5, 6], np.float32)
    t, (_, b) = launch(mod.k, P, a, np.zeros(n, np.float32), n)
    np.testing.assert_array_equal(b, np.maximum(a, 0))


def test_barrier_lifts_depth_to_block_max(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a, b):
        t = lane()
        s = shared((4,), float32)
        if t == 0:
            s[0] = a[block_id()] * 2.0
        barrier()
        if t == 1:
            b[block_id()] = s[0] * 3.0
    """)
    a = np.array([1.0, 5.0], np.float32)
    t, (_, b) = launch(mod.k, (2, 4), a, np.zeros(2, np.float32))
    np.testing.assert_array_equal(b, a * 6)
    # lane 0: == then load, *, store -> 4; barrier lifts every lane to 4; == (5), lane 1: load, *, store (8).
    # Without the lift lane 1 would be at 1 + 1 + 3 = 5.
    assert t.depth == 8
    assert t.work == 2 * (4 + 3 + 4 + 3)
    L = t.launches[0]
    assert L.block_depth.tolist() == [8, 8] and L.barriers == 1
    assert t.counter("store.sram") == 2 and t.counter("load.sram") == 2
    assert L.sram_per_block == 16


def test_shared_array_is_per_block(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def rev(a, b):
        s = shared((8,), float64)
        t = lane()
        s[t] = a[gid()]
        barrier()
        b[gid()] = s[7 - t]
    """)
    a = np.arange(32, dtype=np.float64)
    t, (_, b) = launch(mod.rev, (4, 8), a, np.zeros(32))
    np.testing.assert_array_equal(b, a.reshape(4, 8)[:, ::-1].ravel())


def test_local_arrays_are_per_processor(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a, b):
        i = gid()
        t = local((3,), float32)
        t[0] = a[i]
        t[1] = t[0] * 2.0
        b[i] = t[1] + t[0]
    """)
    n = 20
    a = np.arange(n, dtype=np.float32)
    t, (_, b) = launch(mod.k, n, a, np.zeros(n, np.float32))
    np.testing.assert_array_equal(b, 3 * a)
    assert t.counter("load.local") == 3 * n and t.counter("store.local") == 2 * n


@pytest.mark.parametrize("op", ["//", "%"])
def test_integer_division_matches_python(tmp_path, op):
    mod, _, _ = kernels(tmp_path, f"""
    @kernel
    def k(a, b, c):
        i = gid()
        c[i] = a[i] {op} b[i]
    """)
    xs = [-7, -6, -1, 0, 1, 5, 7, 13, -13]
    ds = [2, -2, 3, -3, 5, -5, 1, -1]
    pairs = [(x, d) for x in xs for d in ds]
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    t, (_, _, c) = launch(mod.k, len(pairs), a, b, np.zeros(len(pairs), np.int64))
    py = [x // d if op == "//" else x % d for x, d in pairs]
    assert c.tolist() == py


def test_uniform_integer_division_matches_python(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(c, x, d):
        c[gid()] = x // d * 100 + x % d
    """)
    for x, d in [(-7, 2), (7, -2), (-7, -2), (7, 2)]:
        t, (c,) = launch(mod.k, 1, np.zeros(1, np.int64), x, d)
        assert c[0] == x // d * 100 + x % d


def test_crcw_arbitrary_highest_processor_wins(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        a[0] = gid()
    """)
    t, (a,) = launch(mod.k, 17, np.zeros(1, np.int64))
    assert a[0] == 16


# ---- errors --------------------------------------------------------------------------------------


def test_out_of_bounds_names_array_index_shape_processor_line(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(data, n):
        i = gid()
        data[i + 1] = 1.0  # L: store
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, (3, 4), np.zeros(12, np.float32), 12)
    e = info.value
    msg = str(e)
    assert "'data'" in msg and "index 12" in msg and "(12,)" in msg
    assert "processor 11" in msg and "block 2" in msg and "lane 3" in msg
    assert e.loc.file == path and e.loc.line == L["store"] and e.hint


def test_negative_index_is_out_of_bounds(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a, n):
        i = gid()
        x = a[i - 1]  # L: load
        a[i] = x
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 4, np.zeros(4, np.float32), 4)
    assert "index -1" in str(info.value) and "processor 0" in str(info.value)
    assert info.value.loc.line == L["load"]


def test_out_of_bounds_in_2d_shared_array(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k():
        s = shared((2, 3), float32)
        t = lane()
        s[t // 3, t % 3 + 1] = 1.0  # L: store
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, (1, 6))
    msg = str(info.value)
    assert "index 3 (dimension 1)" in msg and "'s'" in msg and "(2, 3)" in msg and "processor 2" in msg
    assert info.value.loc.line == L["store"]


def test_divergent_barrier_names_lanes(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a):
        if lane() < 2:
            barrier()  # L: barrier
        a[gid()] = 1.0
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, (2, 4), np.zeros(8, np.float32))
    msg = str(info.value)
    assert "block 0" in msg and "2 of 4" in msg and "lanes 2-3" in msg
    assert info.value.loc.file == path and info.value.loc.line == L["barrier"] and info.value.hint


def test_barrier_after_return_of_some_lanes_is_allowed(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        if lane() >= 2:
            return
        barrier()
        a[gid()] = 1.0
    """)
    t, (a,) = launch(mod.k, (2, 4), np.zeros(8, np.float32))
    np.testing.assert_array_equal(a, [1, 1, 0, 0, 1, 1, 0, 0])


def test_integer_division_by_zero(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a):
        i = gid()
        a[i] = 10 // (i - 2)  # L: div
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 5, np.zeros(5, np.int64))
    assert "division by zero" in info.value.message and info.value.loc.line == L["div"] and info.value.hint


def test_integer_modulo_by_zero_masked_lane_is_fine(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        i = gid()
        if i != 2:
            a[i] = 10 % (i - 2)
    """)
    t, (a,) = launch(mod.k, 5, np.zeros(5, np.int64))
    assert a.tolist() == [10 % -2, 10 % -1, 0, 10 % 1, 10 % 2]


def test_float_index_is_an_error(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a):
        a[gid() / 2] = 1.0  # L: store
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 4, np.zeros(4, np.float32))
    assert "not an integer" in info.value.message and info.value.loc.line == L["store"]


def test_wrong_number_of_indices(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a):
        a[gid()] = 1.0  # L: store
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 4, np.zeros((2, 2), np.float32))
    assert "indexed with 1" in info.value.message and info.value.loc.line == L["store"]


def test_erew_concurrent_read_is_refused(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a, b):
        b[gid()] = a[0]  # L: read
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 4, np.ones(1, np.float32), np.zeros(4, np.float32), model="erew")
    assert "concurrent read" in info.value.message and "processors 0 and 1" in info.value.message
    assert info.value.loc.line == L["read"]


# ---- known core bugs (found by tests/test_fuzz_frontend.py) ------------------------------------------

@pytest.mark.parametrize("cond", ["i", "i % 3", "float(i) - 2.0"])
def test_non_bool_vector_condition(tmp_path, cond):
    mod, _, _ = kernels(tmp_path, f"""
    @kernel
    def k(a, b):
        i = gid()
        if {cond}:
            b[i] = a[i]
        else:
            return
    """)
    n = 6
    a = np.arange(n, dtype=np.float32) + 1
    t, (_, b) = launch(mod.k, n, a, np.zeros(n, np.float32))
    i = np.arange(n)
    truth = {"i": i != 0, "i % 3": i % 3 != 0, "float(i) - 2.0": i != 2}[cond]
    np.testing.assert_array_equal(b, np.where(truth, a, 0))


def test_negating_a_vector_comparison_is_python_int(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        i = gid()
        a[i] = -(i == 2)
    """)
    t, (a,) = launch(mod.k, 4, np.zeros(4, np.int64))
    assert a.tolist() == [0, 0, -1, 0]


def test_invert_of_a_vector_comparison_is_python_int(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        i = gid()
        a[i] = ~(i == 2)
    """)
    t, (a,) = launch(mod.k, 4, np.zeros(4, np.int64))
    assert a.tolist() == [~False, ~False, ~True, ~False]


def test_uniform_integer_division_by_zero(tmp_path):
    mod, path, L = kernels(tmp_path, """
    @kernel
    def k(a, d):
        a[gid()] = 7 // d  # L: div
    """)
    with pytest.raises(ExecutionError) as info:
        launch(mod.k, 3, np.zeros(3, np.int64), 0)
    assert "division by zero" in info.value.message and info.value.loc.line == L["div"]


def test_float_division_by_zero_is_ieee(tmp_path):
    mod, _, _ = kernels(tmp_path, """
    @kernel
    def k(a):
        i = gid()
        a[i] = 1.0 / (i - 1.0)
    """)
    t, (a,) = launch(mod.k, 3, np.zeros(3, np.float64))
    assert a.tolist() == [-1.0, float("inf"), 1.0]
