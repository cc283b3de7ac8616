"""Device functions (`@device`): inlined at each call by the frontend, so a kernel that calls them
gives the results and exact counts of the same kernel inlined by hand, on every engine and under
the CUDA simulator; recursion, early returns and calls where Python would evaluate them
conditionally are refused at their lines, and errors inside a function name the call.
"""
from __future__ import annotations

import os
import textwrap

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba.cuda is imported

import numpy as np
import pytest

from pramsim.errors import DSLError, PramsimError
from pramsim.engines.vector import Executor
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs

HEADER = """import numpy as np
from pramsim.dsl import kernel, program, gid, device, shared, barrier, lane, float64


"""
PROGRAM = """

def inputs(rng, n):
    return {"a": np.linspace(-2, 2, n), "out": np.zeros(n)}


def reference(a, out, n):
    t = a * a + 1
    r = np.where(t > 4, t - 1.5, t)
    return np.minimum(r + a * a + 2, 9.0)


@program(params={"n": 16}, inputs=inputs, reference=reference)
def prog(a, out, n):
    k[n // 8, 8](a, out, n)
    return out
"""
DEVICE = """
@device
def sq_plus(x, c):
    y = x * x
    return y + c


@device
def clamp_store(out, i, v, hi):
    if v > hi:
        v = hi
    out[i] = v


@device
def poly(x):
    t = sq_plus(x, 1.0)
    if t > 4.0:
        return t - sq_plus(1.0, 0.5)
    else:
        return t


@kernel
def k(a, out, n):
    i = gid()
    if i < n:
        x = a[i]
        clamp_store(out, i, poly(x) + sq_plus(x, 2.0), 9.0)
"""
BY_HAND = """
@kernel
def k(a, out, n):
    i = gid()
    if i < n:
        x = a[i]
        c = 1.0
        y = x * x
        t = y + c
        if t > 4.0:
            x2 = 1.0
            c2 = 0.5
            y2 = x2 * x2
            r = t - (y2 + c2)
        else:
            r = t
        c3 = 2.0
        y3 = x * x
        v = r + (y3 + c3)
        hi = 9.0
        if v > hi:
            v = hi
        out[i] = v
"""


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(text).lstrip("\n"))
    return path


def run(path, engine="vector", n=16):
    program = load_program(str(path))
    ex = Executor(engine=engine)
    inputs = make_inputs(program, {"n": n}, 0)
    return execute(program, {"n": n}, inputs, ex), ex, inputs


@pytest.mark.parametrize("engine", ["vector", "compiled"])
def test_device_calls_count_as_the_kernel_inlined_by_hand(tmp_path, engine):
    got, ex, inputs = run(write(tmp_path, "dev", DEVICE + PROGRAM), engine)
    want, hand, _ = run(write(tmp_path, "hand", BY_HAND + PROGRAM), engine)
    assert ex.notes == []
    a = inputs["a"]
    t = a * a + 1
    np.testing.assert_allclose(got, np.minimum(np.where(t > 4, t - 1.5, t) + a * a + 2, 9.0))
    np.testing.assert_array_equal(got, want)
    assert dict(ex.trace.counts) == dict(hand.trace.counts)
    assert dict(ex.trace.depth_by_class) == dict(hand.trace.depth_by_class)
    la, lb = ex.trace.launches[0], hand.trace.launches[0]
    assert (la.work, la.depth) == (lb.work, lb.depth)
    np.testing.assert_array_equal(la.profile, lb.profile)
    # by hand: per lane 3 multiplications (x*x twice, 1.0*1.0 on the t > 4 lanes), 4 additions
    t_big = int(np.count_nonzero(t > 4))
    assert ex.trace.counts[("flop", "*")] == 2 * 16 + t_big
    assert ex.trace.counts[("flop", "+")] == 3 * 16 + t_big


def test_device_function_lowers_to_cuda_and_agrees(tmp_path):
    from pramsim import gpu_runner as gpu
    path = write(tmp_path, "dev", DEVICE + PROGRAM)
    program = load_program(str(path))
    src = gpu.lower_source(program, {"n": 16})
    assert "sq_plus" in src  # inlined: its locals are renamed after it
    got = gpu.run_output(program, {"n": 16})
    want, _, _ = run(path)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_device_function_with_arrays_loops_and_shared_memory(tmp_path):
    """An array passed by name (a shared one too), a loop with break inside the function."""
    path = write(tmp_path, "dev", textwrap.dedent("""
        @device
        def first_above(a, n, limit):
            j = n
            for q in range(n):
                if a[q] > limit:
                    j = q
                    break
            return j


        @kernel
        def k(a, out, n):
            s = shared((8,), float64)
            i = gid()
            s[lane()] = a[i]
            barrier()
            out[i] = float(first_above(s, 8, a[i]) + first_above(a, n, a[i]))
    """) + PROGRAM.replace("reference=reference", "reference=lambda a, out, n: out"))
    got, ex, inputs = run(path)
    com, c, _ = run(path, "compiled")
    a = inputs["a"]

    def first(xs, limit):
        return next((q for q, x in enumerate(xs) if x > limit), len(xs))
    want = [first(a[i // 8 * 8:i // 8 * 8 + 8], a[i]) + first(a, a[i]) for i in range(16)]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(com, want)
    assert c.notes == [] and dict(c.trace.counts) == dict(ex.trace.counts)


def test_recursion_is_refused_at_the_call_with_the_cycle(tmp_path):
    path = write(tmp_path, "rec", """
        @device
        def f(x):
            return g(x) + 1.0


        @device
        def g(x):
            return f(x) * 2.0


        @kernel
        def k(a, out, n):
            out[gid()] = f(a[gid()])
    """)
    with pytest.raises(DSLError, match=r"called recursively \(f -> g -> f\)") as err:
        load_program(str(path))
    assert err.value.loc.file == str(path) and err.value.loc.line == 12  # the call f(x) in g
    assert f"in device function g, called at {path}:7" in str(err.value)
    assert f"in device function f, called at {path}:17" in str(err.value)  # the kernel's call


def test_error_inside_a_device_function_is_at_its_line_and_names_the_call(tmp_path):
    path = write(tmp_path, "bad", """
        @device
        def f(x):
            ys = [x, x]
            return x


        @kernel
        def k(a, out, n):
            i = gid()
            out[i] = f(a[i])
    """)
    with pytest.raises(DSLError, match="lists are not supported|List") as err:
        load_program(str(path))
    assert err.value.loc.line == 7  # `ys = [x, x]` in f
    assert f"in device function f, called at {path}:14" in str(err.value)


@pytest.mark.parametrize("body, line, words", [
    ("@device\ndef f(x):\n    if x > 0.0:\n        return x\n    y = x\n    return y\n", 8, "returns before its end"),
    ("@device\ndef f(x):\n    if x > 0.0:\n        return x\n", 8, "some paths only"),
])
def test_a_return_not_at_the_end_is_refused(tmp_path, body, line, words):
    path = write(tmp_path, "early", body)
    with pytest.raises(DSLError, match=words) as err:
        load_program(str(path))
    assert err.value.loc.line == line


def test_a_call_where_python_evaluates_it_conditionally_is_refused(tmp_path):
    path = write(tmp_path, "cond", """
        @device
        def f(x):
            return x + 1


        @kernel
        def k(a, out, n):
            i = gid()
            while f(i) < n:
                i = i + 1
            out[gid()] = 1.0
    """)
    with pytest.raises(DSLError, match="may run never or many times") as err:
        load_program(str(path))
    assert err.value.loc.line == 13 and "assign its result" in err.value.hint


def test_calling_a_device_function_from_host_code_is_an_error():
    from pramsim.dsl import device

    @device
    def f(x):
        return x
    with pytest.raises(PramsimError, match="only be called inside a kernel"):
        f(1)


@pytest.mark.parametrize("engine", ["vector", "compiled"])
def test_run_time_error_inside_a_device_function_names_the_call(tmp_path, engine):
    from pramsim.errors import ExecutionError
    path = write(tmp_path, "oob", textwrap.dedent("""
        @device
        def get(a, j):
            return a[j + 1]


        @kernel
        def k(a, out, n):
            i = gid()
            out[i] = get(a, i)
    """) + PROGRAM.replace("reference=reference", "reference=lambda a, out, n: out"))
    with pytest.raises(ExecutionError, match="out of bounds") as err:
        run(path, engine)
    assert err.value.loc.line == 7  # `return a[j + 1]` in get
    assert f"in device function get, called at {path}:13" in str(err.value)
