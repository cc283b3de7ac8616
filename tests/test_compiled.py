"""The compiled engine against the vector executor, which defines the semantics.

For every shipped program (race-free by tests/test_programs.py) the two engines must agree exactly on
every figure of the cost trace, and on the outputs up to float rounding. Error cases must be reported
at the user's line, as the executor reports them.
"""
from __future__ import annotations

import textwrap

from collections import Counter

import numpy as np
import pytest

from pramsim.errors import ExecutionError, PramsimError
from pramsim.engines.vector import Executor
from pramsim.programs import load_program, shipped_programs
from pramsim.runner import execute, make_inputs, parse_params
from test_counts_only import check_program_exactly, oblivious_programs

numba = pytest.importorskip("numba")


def run(program, params, engine):
    inputs = make_inputs(program, params, seed=1)
    executor = Executor(engine=engine)
    return execute(program, params, inputs, executor), executor


def assert_same_trace(a, b, sectors=True):
    """Every figure of two traces equal; `sectors=False`: but the global-memory sectors, which follow
    the addresses accessed (the same operations at other addresses count other sectors)."""
    assert dict(a.counts) == dict(b.counts)
    assert dict(a.bytes) == dict(b.bytes)
    assert dict(a.depth_by_class) == dict(b.depth_by_class)
    assert len(a.launches) == len(b.launches)
    for la, lb in zip(a.launches, b.launches):
        assert (la.kernel, la.nprocs, la.block, la.work, la.depth, la.barriers, la.sram_per_block) == \
               (lb.kernel, lb.nprocs, lb.block, lb.work, lb.depth, lb.barriers, lb.sram_per_block)
        assert la.sram_arrays == lb.sram_arrays
        assert (la.class_depth, la.arg_bytes) == (lb.class_depth, lb.arg_bytes)
        assert (la.read_arg_bytes, dict(la.counts), dict(la.bytes), la.runtime_divides) == \
               (lb.read_arg_bytes, dict(lb.counts), dict(lb.bytes), lb.runtime_divides)
    for t in (a, b):  # each launch's ledgers are its share of the program's
        assert sum((la.counts for la in t.launches), Counter()) == t.counts
        assert sum((la.bytes for la in t.launches), Counter()) == t.bytes
        for field in ("profile", "block_work", "block_depth", "block_hbm_bytes", "block_flops", "block_sram_bytes",
                      "block_sram_wavefronts", *["block_hbm_sectors"] * sectors):
            np.testing.assert_array_equal(getattr(la, field), getattr(lb, field), err_msg=f"{la.kernel}.{field}")


@pytest.mark.parametrize("name", sorted(shipped_programs()))
def test_every_program_counts_exactly_as_the_executor(name):
    program = load_program(name)
    params = parse_params(program, [])
    vec_out, vec = run(program, params, "vector")
    com_out, com = run(program, params, "compiled")
    for note in com.notes:  # every shipped kernel runs compiled, but those with atomics or shuffles
        assert note.endswith("which needs lockstep lanes"), note
    assert_same_trace(vec.trace, com.trace)
    np.testing.assert_allclose(com_out, vec_out, rtol=1e-4, atol=1e-6)
    if name in oblivious_programs():  # --counts-only runs these compiled kernels (tests/test_counts_only.py)
        check_program_exactly(name)


def test_partial_last_block_and_several_threads(monkeypatch):
    """A launch whose last block is partial, split over several worker threads."""
    monkeypatch.setenv("PRAMSIM_THREADS", "3")
    program = load_program("block_sum")
    params = parse_params(program, ["n=3000"])
    vec_out, vec = run(program, params, "vector")
    com_out, com = run(program, params, "compiled")
    assert_same_trace(vec.trace, com.trace)
    np.testing.assert_allclose(com_out, vec_out, rtol=1e-5)


HEADER = """import numpy as np
from pramsim.dsl import kernel, program, gid, lane, barrier


@kernel
def k(a, n):
"""
FOOTER = """

def inputs(rng, n):
    return {"a": np.zeros(n, np.float32)}


@program(params={"n": 8}, inputs=inputs, reference=lambda a, n: a)
def prog(a, n):
    k[2, 4](a, n)
    return a
"""


def user_program(tmp_path, body: str):
    """A one-kernel program file; the kernel body's first line is line 7 of the file."""
    path = tmp_path / "prog.py"
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n" + FOOTER)
    return load_program(str(path)), path


def test_out_of_bounds_is_reported_at_the_users_line(tmp_path):
    program, path = user_program(tmp_path, """
        i = gid()
        a[i + 1] = 1.0
    """)
    with pytest.raises(ExecutionError) as err:
        run(program, {"n": 8}, "compiled")
    assert err.value.loc.file == str(path.resolve()) and err.value.loc.line == 8
    assert "out of bounds" in str(err.value) and "processor 7" in str(err.value)


def test_divergent_barrier_is_an_error(tmp_path):
    program, path = user_program(tmp_path, """
        if lane() < 2:
            barrier()
        a[gid()] = 1.0
    """)
    with pytest.raises(ExecutionError, match="differs between the lanes of block 0") as err:
        run(program, {"n": 8}, "compiled")
    assert err.value.loc.line == 7  # the `if`, whose body holds the barrier


def test_integer_division_by_zero(tmp_path):
    program, _ = user_program(tmp_path, """
        i = gid()
        a[i] = float(i // (i - 3))
    """)
    with pytest.raises(ExecutionError, match="integer division by zero.*processor 3"):
        run(program, {"n": 8}, "compiled")


def test_a_kernel_it_cannot_compile_runs_on_the_vector_engine_with_a_note(tmp_path):
    program, _ = user_program(tmp_path, """
        x = 1
        x = x * 0.5
        a[gid()] = x
    """)
    out, ex = run(program, {"n": 8}, "compiled")
    assert ex.notes and "vector engine" in ex.notes[0] and "float and integer" in ex.notes[0]
    np.testing.assert_array_equal(out, np.full(8, 0.5, np.float32))


def test_compiled_engine_refuses_other_models():
    with pytest.raises(PramsimError, match="default model"):
        Executor(model="erew", engine="compiled")
    with pytest.raises(PramsimError, match="default model"):
        Executor(check_races=True, engine="compiled")


def test_loop_bound_read_once_and_float_constants_as_the_executor(tmp_path):
    """range(m) evaluates m once even if the body changes it; 0.7 * 10 is a float64 product."""
    program, _ = user_program(tmp_path, """
        m = 4
        s = 0.0
        for k in range(m):
            m = m - 1
            s = s + 1.0
        a[gid()] = s + float(int(0.7 * 10)) + max(0.5, float(lane()))
    """)
    vec_out, vec = run(program, {"n": 8}, "vector")
    com_out, com = run(program, {"n": 8}, "compiled")
    assert com.notes == []
    assert_same_trace(vec.trace, com.trace)
    np.testing.assert_array_equal(com_out, vec_out)
    assert vec_out[0] == 4.0 + 7.0 + 0.5


def test_concurrent_hooks_across_blocks_count_as_on_the_executor():
    """connected_components' hook launch spans 8 blocks whose concurrent writes of different values
    the compiled engine resolves in its own order (first and last block first, the rest on
    threads), not by the executor's highest-processor rule; the program writes so that every
    processor does the same operations whichever write wins, so the results and the whole trace
    still agree, but for the global-memory sectors: which parent a hook reads follows which write
    won, and so do the sectors its warps touch."""
    program = load_program("connected_components")
    params = {"n": 1024, "deg": 2, "graph": "random"}
    vec_out, vec = run(program, params, "vector")
    com_out, com = run(program, params, "compiled")
    assert com.notes == [], com.notes
    assert_same_trace(vec.trace, com.trace, sectors=False)
    np.testing.assert_array_equal(com_out, vec_out)
