"""`break` and `continue` in kernel loops: values against NumPy/plain-Python references, exact
counts by hand, the vector and compiled engines counting alike, the CUDA simulator agreeing, and
their divergence around a barrier handled as `return`'s is.
"""
from __future__ import annotations

import ast
import os
import textwrap

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba.cuda is imported

import numpy as np
import pytest

from pramsim.errors import DSLError, ExecutionError
from pramsim.engines.vector import Executor
from pramsim.lang import ir
from pramsim.lang.frontend import _KernelBuilder
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs

HEADER = """import numpy as np
from pramsim.dsl import kernel, program, gid, lane, barrier, shared, int64


@kernel
def k(a, n, m):
"""
FOOTER = """

def inputs(rng, n, m):
    return {"a": np.zeros(n, np.int64)}


@program(params={"n": 8, "m": 5}, inputs=inputs, reference=lambda a, n, m: a)
def prog(a, n, m):
    k[n // BLOCK, BLOCK](a, n, m)
    return a
"""


def user_program(tmp_path, body: str, block: int = 4):
    """A one-kernel program file (int64 output a, parameters n and m); the body starts at line 7."""
    path = tmp_path / "prog.py"
    footer = FOOTER.replace("BLOCK", str(block))
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n" + footer)
    return load_program(str(path)), path


def run(program, params, engine="vector"):
    ex = Executor(engine=engine)
    out = execute(program, params, make_inputs(program, params, 0), ex)
    return out, ex


def same_counts(a, b):
    """Every figure two engines' traces must share (as tests/test_compiled.py's assert_same_trace)."""
    assert dict(a.counts) == dict(b.counts)
    assert dict(a.bytes) == dict(b.bytes)
    assert dict(a.depth_by_class) == dict(b.depth_by_class)
    for la, lb in zip(a.launches, b.launches, strict=True):
        assert (la.work, la.depth, la.barriers) == (lb.work, lb.depth, lb.barriers)
        for field in ("profile", "block_work", "block_depth", "block_hbm_bytes"):
            np.testing.assert_array_equal(getattr(la, field), getattr(lb, field), err_msg=field)


DIVERGENT_BREAK = """
    i = gid()
    s = 0
    for k in range(m):
        if k == i:
            break
        s = s + k
    a[i] = s
"""


def test_divergent_break_values_and_hand_counts(tmp_path):
    """Lane i < m leaves at k = i (its compare ran, no increment, no last compare); lanes i >= m
    run all m iterations and the compare that ends the loop."""
    program, _ = user_program(tmp_path, DIVERGENT_BREAK)
    n, m = 8, 5
    out, ex = run(program, {"n": n, "m": m})
    np.testing.assert_array_equal(out, [sum(range(min(i, m))) for i in range(n)])
    counts = ex.trace.counts
    broke, full = range(m), range(m, n)
    assert counts[("int", "<")] == sum(i + 1 for i in broke) + len(full) * (m + 1)
    assert counts[("int", "==")] == sum(i + 1 for i in broke) + len(full) * m
    assert counts[("int", "+")] == sum(2 * i for i in broke) + len(full) * 2 * m
    launch = ex.trace.launches[0]
    assert launch.depth == (m + 1) + m + 2 * m + 1  # a full lane's compares, tests, adds, and its store
    assert launch.work == sum(counts.values())


@pytest.mark.parametrize("body", [DIVERGENT_BREAK, """
    i = gid()
    s = 0
    for k in range(n):
        if k % 2 == i % 2:
            continue
        j = 0
        while True:
            j = j + 1
            if j > k:
                break
            if j == 2:
                continue
            s = s + j
    a[i] = s
""", """
    i = gid()
    s = 0
    t = i
    while t < 3 * n:
        t = t + 1
        if t % 3 == 0:
            continue
        for k in range(5, 0, -1):
            if k < i % 4:
                break
            if k == 3:
                continue
            s = s + k * t
        if s > 40 * n:
            break
    a[i] = s
"""], ids=["break", "nested-continue-break", "while-for-down"])
def test_engines_agree_and_match_python(tmp_path, body):
    """The kernel's body run as plain Python per lane gives the values; both engines count alike."""
    program, _ = user_program(tmp_path, body)
    n, m = 8, 5
    vec, v = run(program, {"n": n, "m": m}, "vector")
    com, c = run(program, {"n": n, "m": m}, "compiled")
    assert c.notes == []  # lane-level loops: compiled, not handed back
    same_counts(v.trace, c.trace)
    np.testing.assert_array_equal(com, vec)
    np.testing.assert_array_equal(vec, _python_reference(body, n, m))


def _python_reference(body: str, n: int, m: int) -> np.ndarray:
    """Each lane's result, the body run by Python itself (gid() is the lane's index)."""
    a = np.zeros(n, np.int64)
    code = "def lane_body(a, n, m, gid):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the test's own kernel text
    for i in range(n):
        scope["lane_body"](a, n, m, lambda i=i: i)
    return a


def test_break_and_continue_lower_to_cuda_and_agree(tmp_path):
    from pramsim import gpu_runner as gpu
    program, _ = user_program(tmp_path, """
        i = gid()
        s = 0
        for k in range(n):
            if k == m:
                break
            if k % 2 == i % 2:
                continue
            s = s + k
        a[i] = s
    """)
    src = gpu.lower_source(program, {"n": 8, "m": 5})
    assert "break" in src and "continue" in src
    got = gpu.run_output(program, {"n": 8, "m": 5})
    want, _ = run(program, {"n": 8, "m": 5})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, [sum(k for k in range(5) if k % 2 != i % 2) for i in range(8)])


BARRIER_LOOP = """
    i = gid()
    t = 0
    while t < 4:
        barrier()
        if {cond}:
            break
        t = t + 1
    a[i] = t
"""


def test_uniform_break_in_a_loop_with_a_barrier(tmp_path):
    program, _ = user_program(tmp_path, BARRIER_LOOP.format(cond="t == m"))
    out, v = run(program, {"n": 8, "m": 2})
    np.testing.assert_array_equal(out, np.full(8, 2))
    assert v.trace.launches[0].barriers == 3
    com, c = run(program, {"n": 8, "m": 2}, "compiled")
    np.testing.assert_array_equal(com, out)  # run on the vector engine, with the reason noted
    assert c.notes and "break or continue in a loop that holds a barrier" in c.notes[0]


@pytest.mark.parametrize("engine", ["vector", "compiled"])
def test_divergent_break_before_a_barrier_is_an_error(tmp_path, engine):
    """Lane 0 of each block leaves at t = 0; the others reach the barrier without it."""
    program, path = user_program(tmp_path, BARRIER_LOOP.format(cond="lane() == t"))
    with pytest.raises(ExecutionError, match="barrier") as err:
        run(program, {"n": 8, "m": 2}, engine)
    assert err.value.loc.file == str(path.resolve()) and err.value.loc.line == 10  # the barrier()


def test_divergent_continue_skipping_a_barrier_is_an_error(tmp_path):
    program, _ = user_program(tmp_path, """
        i = gid()
        for t in range(3):
            if lane() == t:
                continue
            barrier()
        a[i] = 1
    """)
    with pytest.raises(ExecutionError, match="barrier"):
        run(program, {"n": 8, "m": 2})


@pytest.mark.parametrize("word", ["break", "continue"])
def test_jump_outside_a_loop_is_refused_at_its_line(word):
    """Python refuses these when it compiles a file; the frontend also refuses a tree that has one."""
    def k(a):
        a[0] = 1
    tree = ast.parse(f"def k(a):\n    a[0] = 1\n    if a[0] > 0:\n        {word}\n")
    with pytest.raises(DSLError, match=f"`{word}` outside a loop") as err:
        _KernelBuilder(k, "f.py", 10, ()).build(tree.body[0])
    assert err.value.loc.line == 14


def test_printer_and_type_checker_see_jumps(tmp_path):
    """A break path that leaves with a float makes the variable float after the loop: storing it
    into the int64 array is refused as for any other path."""
    program, _ = user_program(tmp_path, """
        x = 0
        for k in range(n):
            x = 0.5
            if k == 1:
                break
            x = 1
        a[gid()] = x
    """)
    text = ir.format_kernel(_kernel(program))
    assert "            break" in text
    with pytest.raises(ExecutionError, match="stores a float into 'a'"):
        run(program, {"n": 8, "m": 2})


def _kernel(program):
    """The IR of the program file's kernel `k`."""
    return program.host.__globals__["k"].ir


def test_break_after_a_barrier_and_a_return_counts_alike(tmp_path):
    """A lane-level loop with break/continue in the region after a barrier, beside a `return`."""
    program, _ = user_program(tmp_path, """
        i = gid()
        sh = shared((4,), int64)
        sh[lane()] = i
        barrier()
        if i == 5:
            return
        t = 0
        for k in range(4):
            if sh[k] > i:
                break
            if sh[k] == 1:
                continue
            t = t + sh[k]
        a[i] = t
    """)
    vec, v = run(program, {"n": 8, "m": 0})
    com, c = run(program, {"n": 8, "m": 0}, "compiled")
    assert c.notes == []
    same_counts(v.trace, c.trace)
    want = [0 if i == 5 else sum(x for x in range(i // 4 * 4, i + 1) if x != 1) for i in range(8)]
    np.testing.assert_array_equal(vec, want)
    np.testing.assert_array_equal(com, want)
