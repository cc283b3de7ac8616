"""The course's scan-based programs (issue 16): scan_blelloch for any n, compact, segmented_scan,
radix_sort, merge_sort (merge path), spmv and spmv_rowblock. Results against NumPy or explicit
loops written here, on sizes that are not powers of two and on chosen inputs (duplicates, empty and
full segments, nothing kept); operation counts against the textbook's, computed here by hand."""
import math

import numpy as np
import pytest

from pramsim.engines.vector import Executor
from pramsim.errors import PramsimError
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs


def run_on(name, inputs=None, model="crcw-arbitrary", seed=0, **params):
    """(output, trace) of a shipped program on its own inputs (seeded) or on the given ones."""
    prog = load_program(name)
    params = {**prog.params, **params}
    ex = Executor(model=model)
    out = execute(prog, params, inputs if inputs is not None else make_inputs(prog, params, seed), ex)
    return out, ex.trace


def levels(n):
    """ceil(log2 n): the levels of a balanced binary tree over n leaves."""
    return math.ceil(math.log2(n)) if n > 1 else 0


# ---- scan_blelloch: any n, the textbook counts --------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 5, 100, 1000, 1023, 1025])
def test_blelloch_scans_any_n_with_2_n_minus_1_additions(n):
    a = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    out, t = run_on("scan_blelloch", {"a": a.copy()}, model="erew", n=n)
    want = np.concatenate([[0.0], np.cumsum(a.astype(np.float64))[:-1]])
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-4 * max(1.0, np.abs(want).max()))
    assert t.counter("flop.+") == 2 * (n - 1) == t.counter("flop")   # n - 1 up, n - 1 down
    assert t.counter("depth.flop") == 2 * levels(n)
    assert t.counter("launches") == 2 * levels(n) + 1


# ---- compact -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 1000])
def test_compact_keeps_the_positive_elements_in_order_with_the_scans_counts(n):
    a = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    out, t = run_on("compact", {"a": a}, model="erew", n=n)
    kept = [v for v in a if v > 0]
    assert list(out[:len(kept)]) == kept and not out[len(kept):].any()
    assert t.counter("flop.+") == 2 * (n - 1)        # the exclusive scan of the flags, nothing else
    assert t.counter("flop.>") == 2 * n              # flag, then the scatter's test again
    assert t.counter("launches") == 1 + (2 * levels(n) + 1) + 1


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_compact_keeps_everything_or_nothing(sign):
    a = sign * np.arange(1, 38, dtype=np.float32)
    out, t = run_on("compact", {"a": a}, n=37)
    assert np.array_equal(out, a if sign > 0 else np.zeros(37))
    assert t.counter("store.hbm") == 37 + 3 * 36 + 1 + (37 if sign > 0 else 0)   # flags, scan, scatter


# ---- segmented_scan ------------------------------------------------------------------------------------

def segmented_sums(x, heads):
    """Inclusive segmented scan by an explicit loop."""
    out, acc = [], 0.0
    for v, h in zip(x.astype(np.float64), heads):
        acc = v if h else acc + v
        out.append(acc)
    return np.array(out)


@pytest.mark.parametrize("n,pattern", [(1, "one"), (37, "one"), (37, "all"), (37, "random"), (1000, "random"),
                                       (1000, "pairs")])
def test_segmented_scan_restarts_at_every_head(n, pattern):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    heads = {"one": np.eye(1, n, 0, dtype=np.int32)[0], "all": np.ones(n, np.int32),
             "random": (rng.random(n) < 0.2).astype(np.int32), "pairs": (np.arange(n) % 2 == 0).astype(np.int32)}[pattern]
    heads[0] = 1
    out, t = run_on("segmented_scan", {"x": x, "heads": heads}, model="erew", n=n)
    want = segmented_sums(x, heads)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-4 * max(1.0, np.abs(want).max()))
    assert t.counter("launches") == 2 * levels(n) + 3
    assert t.counter("flop.+") <= 2 * (n - 1) + n
    if pattern == "one":   # one segment: the plain scan's additions, but for the down-sweep's leftmost node
        # per level, whose left child holds the head at 0 (its prefix 0 is passed on, not added)
        assert 2 * (n - 1) + n - levels(n) <= t.counter("flop.+") <= 2 * (n - 1) + n
    if pattern == "all":                              # every element its own segment: no sweep adds at all
        assert t.counter("flop.+") == n


# ---- radix_sort ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,bits,digit_bits", [(37, 7, 3), (200, 8, 2), (5, 1, 4), (1000, 10, 1), (1, 3, 2)])
def test_radix_sort_takes_ceil_bits_over_digit_bits_passes_of_flag_scans(n, bits, digit_bits):
    keys = np.random.default_rng(n).integers(0, 2**bits, n).astype(np.int32)
    out, t = run_on("radix_sort", {"keys": keys}, model="erew", n=n, bits=bits, digit_bits=digit_bits)
    assert np.array_equal(out, np.sort(keys))
    passes = -(-bits // digit_bits)
    m = 2**digit_bits * n                             # flags per pass: one per bucket per key
    assert t.counter("flop.+") == passes * 2 * (m - 1) == t.counter("flop")
    assert t.counter("depth.flop") == passes * 2 * levels(m)
    assert t.counter("launches") == passes * (1 + 2 * levels(m) + 1 + 1)


def test_radix_sort_is_stable_so_a_later_pass_keeps_the_earlier_order():
    """Keys equal in the high digit but not the low one come out sorted only if every pass is stable."""
    keys = np.array([3, 2, 1, 0, 7, 6, 5, 4, 3, 2], np.int32)
    out, _ = run_on("radix_sort", {"keys": keys}, n=10, bits=3, digit_bits=1)
    assert list(out) == sorted(keys)


# ---- merge_sort ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 37, 300, 1025])
def test_merge_sort_with_duplicates_equals_np_sort(n):
    a = np.random.default_rng(n).integers(0, max(1, n // 8), n).astype(np.float32)   # about 8 copies of each
    out, t = run_on("merge_sort", {"a": a}, model="crew", n=n)
    assert np.array_equal(out, np.sort(a))
    assert t.counter("launches") == levels(n)
    assert t.counter("store.hbm") == n * levels(n)       # every pass writes each element once


@pytest.mark.parametrize("case", ["equal", "reversed", "sorted"])
def test_merge_sort_on_ordered_and_constant_inputs(case):
    n = 100
    a = {"equal": np.full(n, 3.0), "reversed": np.arange(n)[::-1], "sorted": np.arange(n)}[case].astype(np.float32)
    out, _ = run_on("merge_sort", {"a": a}, n=n)
    assert np.array_equal(out, np.sort(a))


def test_merge_sort_work_per_pass_is_linear_not_n_log_n():
    """Chunks of log n outputs per processor: doubling n a bit more than doubles W (the extra pass), far
    from the n log^2 n of one processor per output."""
    w1 = run_on("merge_sort", n=1024)[1].work
    w2 = run_on("merge_sort", n=4096)[1].work
    assert 4 * 12 / 10 * 0.9 < w2 / w1 < 4 * 12 / 10 * 1.15


# ---- spmv ----------------------------------------------------------------------------------------------

def csr_loop(rowptr, cols, vals, x):
    """y = A x by explicit loops over the CSR arrays."""
    return np.array([sum(float(vals[j]) * float(x[cols[j]]) for j in range(rowptr[i], rowptr[i + 1]))
                     for i in range(len(rowptr) - 1)])


@pytest.mark.parametrize("n,deg", [(1, 1), (7, 3), (100, 4), (333, 8)])
def test_spmv_row_per_processor_counts_one_multiply_add_per_nonzero(n, deg):
    prog = load_program("spmv")
    inputs = make_inputs(prog, {"n": n, "deg": deg}, 3)
    nnz = int(inputs["rowptr"][-1])
    assert nnz == sum(i % (2 * deg + 1) for i in range(n))          # the generator's row lengths
    assert np.diff(inputs["rowptr"]).max(initial=0) == min(2 * deg, n - 1)
    out, t = run_on("spmv", inputs, model="crew", n=n, deg=deg)
    np.testing.assert_allclose(out, csr_loop(**{k: inputs[k] for k in ("rowptr", "cols", "vals", "x")}),
                               rtol=1e-5, atol=1e-5)
    assert t.counter("flop.*") == nnz == t.counter("flop.+")
    assert t.counter("load.hbm") == 2 * n + 3 * nnz
    assert t.counter("depth.flop") == 2 * min(2 * deg, n - 1)     # the longest row, alone


@pytest.mark.parametrize("n,deg,threads", [(7, 3, 2), (100, 4, 4), (50, 16, 32)])
def test_spmv_rowblock_reduces_each_row_in_shared_memory(n, deg, threads):
    prog = load_program("spmv_rowblock")
    inputs = make_inputs(prog, {"n": n, "deg": deg, "threads": threads}, 3)
    nnz = int(inputs["rowptr"][-1])
    out, t = run_on("spmv_rowblock", inputs, model="crew", n=n, deg=deg, threads=threads)
    np.testing.assert_allclose(out, csr_loop(**{k: inputs[k] for k in ("rowptr", "cols", "vals", "x")}),
                               rtol=1e-5, atol=1e-5)
    assert t.counter("flop.*") == nnz
    assert t.counter("flop.+") == nnz + n * (threads - 1)           # products, then a tree per row
    longest = min(2 * deg, n - 1)
    assert t.counter("depth.flop") == 2 * -(-longest // threads) + int(math.log2(threads))


def test_spmv_rowblock_shortens_the_chain_of_long_rows():
    _, rows = run_on("spmv", n=200, deg=32)
    _, blocks = run_on("spmv_rowblock", n=200, deg=32, threads=32)
    assert rows.counter("depth.flop") == 128 and blocks.counter("depth.flop") == 2 * 2 + 5


def test_spmv_rowblock_refuses_a_block_that_is_not_a_power_of_two():
    with pytest.raises(PramsimError, match="power of two"):
        run_on("spmv_rowblock", n=10, threads=3)


# ---- the PRAM models the docstrings state ----------------------------------------------------------------

@pytest.mark.parametrize("name,params", [("merge_sort", {"n": 300}), ("spmv", {"n": 200}),
                                         ("spmv_rowblock", {"n": 100})])
def test_crew_programs_run_under_crew_and_are_refused_under_erew(name, params):
    run_on(name, model="crew", **params)
    with pytest.raises(PramsimError, match="concurrent read"):
        run_on(name, model="erew", **params)


# ---- a program file may import a helper module beside it -------------------------------------------------

def test_a_program_imports_a_helper_module_from_its_folder_and_the_path_is_restored(tmp_path):
    import sys
    from pramsim.programs import load_file
    (tmp_path / "_p16_helper_mod.py").write_text(
        "from pramsim.dsl import gid, kernel\n\n\n@kernel\ndef twice(a, n):\n    i = gid()\n    if i < n:\n"
        "        a[i] = 2.0 * a[i]\n")
    (tmp_path / "uses_helper.py").write_text(
        "import numpy as np\nfrom _p16_helper_mod import twice\nfrom pramsim.dsl import program\n\n\n"
        "@program(params={'n': 5}, inputs=lambda rng, n: {'a': np.arange(n, dtype=np.float32)},\n"
        "         reference=lambda a, n: 2 * a)\ndef uses_helper(a, n):\n    twice[n](a, n)\n    return a\n")
    before = list(sys.path)
    prog = load_file(tmp_path / "uses_helper.py")[0]
    assert sys.path == before
    ex = Executor()
    out = execute(prog, {"n": 5}, {"a": np.arange(5, dtype=np.float32)}, ex)
    assert list(out) == [0, 2, 4, 6, 8] and ex.trace.counter("flop.*") == 5


def test_each_folder_gets_its_own_helper_module_and_its_kernels_are_seen(tmp_path):
    """Two programs in two folders import a helper of the same name: each gets its own (a review found
    the second silently given the first's); kernels_of finds kernels that live in helpers."""
    from pramsim.programs import kernels_of, load_file
    progs = []
    for folder, factor in (("one", 2.0), ("two", 3.0)):
        d = tmp_path / folder
        d.mkdir()
        (d / "_same_name_helper.py").write_text(
            "from pramsim.dsl import gid, kernel\n\n\n@kernel\ndef scale(a, n):\n    i = gid()\n    if i < n:\n"
            f"        a[i] = {factor} * a[i]\n")
        (d / f"uses_{folder}.py").write_text(
            "import numpy as np\nfrom _same_name_helper import scale\nfrom pramsim.dsl import program\n\n\n"
            f"@program(params={{'n': 4}}, inputs=lambda rng, n: {{'a': np.ones(n, dtype=np.float32)}},\n"
            f"         reference=lambda a, n: {factor} * a)\ndef uses_{folder}(a, n):\n    scale[n](a, n)\n    return a\n")
        progs.append(load_file(d / f"uses_{folder}.py")[0])
    for prog, factor in zip(progs, (2.0, 3.0)):
        out = execute(prog, {"n": 4}, {"a": np.ones(4, dtype=np.float32)}, Executor())
        assert list(out) == [factor] * 4
        assert [k.name for k in kernels_of(prog)] == ["scale"]
    from pramsim.programs import load_program
    assert [k.name for k in kernels_of(load_program("scan_blelloch"))] == ["up_sweep", "clear_last", "down_sweep"]


def test_helper_modules_are_not_listed_as_programs():
    from pramsim.programs import shipped_programs
    names = set(shipped_programs())
    assert {"compact", "radix_sort", "spmv"} <= names and not {n for n in names if n.startswith("_")}
