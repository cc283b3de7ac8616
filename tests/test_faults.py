"""Whose fault an error is (pramsim.faults), and numba never interrupted (pramsim.compiling).

Each case is one met in use (issue 22): pramsim's and numba's failures reported at the user's line
as the program's, a full stdout reported as a bug, a deep expression located in importlib, a
KeyError from a compile the --max-time alarm interrupted.
"""
import functools
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pramsim import compiling, faults, limits
from pramsim.cli import main
from pramsim.engines import vector
from pramsim.errors import LimitExceeded, ProgramError

FIX = Path(__file__).parent / "fixtures"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def library_raiser(library, raise_stmt):
    """A function whose code lies, for tracebacks, in `library`'s file and raises: a stand-in for
    that library failing when pramsim calls it."""
    namespace = {}
    exec(compile(f"def fails(*args, **kwargs):\n    {raise_stmt}\n", library.__file__, "exec"), namespace)
    return namespace["fails"]


def test_a_library_failing_inside_a_launch_is_pramsims_not_the_programs(monkeypatch):
    # A kernel launch raises inside pramsim (as numba's registries did when an alarm broke a
    # compile): an internal error, exit 3, not a "program error" at the program's line.
    import numba
    monkeypatch.setattr(vector.Executor, "launch", library_raiser(
        numba, "raise KeyError(\"duplicate registration for <class 'numba.core.types.misc.UnicodeType'>\")"))
    r = cli("run", FIX / "good_saxpy.py")
    assert r.exit_code == 3, r.output
    assert "internal error in pramsim: KeyError" in r.output and "bug in pramsim" in r.output
    assert "program error" not in r.output and "good_saxpy.py:" not in r.output


def test_numba_failing_to_type_pramsims_code_is_pramsims(monkeypatch):
    # as a numba TypingError in engines/sectors.py was reported at the program's line
    import numba
    from numba.core.errors import TypingError
    typed_badly = numba.njit(lambda *args: args[0] + 1)  # called by pramsim with a kernel and a tuple
    monkeypatch.setattr(vector.Executor, "launch", typed_badly)
    r = cli("run", FIX / "good_saxpy.py")
    assert r.exit_code == 3, r.output
    assert f"internal error in pramsim: {TypingError.__name__}" in r.output and "program error" not in r.output


def test_memory_pramsim_cannot_get_is_the_environments_not_the_programs(monkeypatch):
    # NumPy's "array is too big" when pramsim allocates on the program's behalf
    monkeypatch.setattr(vector.Executor, "zeros", library_raiser(
        np, "raise ValueError('array is too big; `arr.size * arr.dtype.itemsize` is larger than the maximum')"))
    r = cli("run", FIX / "good_saxpy.py")
    assert r.exit_code == 1, r.output
    assert "environment error: out of memory" in r.output and "program error" not in r.output
    monkeypatch.setattr(vector.Executor, "zeros", library_raiser(np, "raise MemoryError()"))
    r = cli("run", FIX / "good_saxpy.py")
    assert r.exit_code == 1 and "environment error: out of memory" in r.output and "--max-memory" in r.output


def test_an_error_in_the_programs_own_code_is_still_the_programs():
    r = cli("run", FIX / "bad_host_exception.py")
    assert r.exit_code == 1 and "program error" in r.output and "bad_host_exception.py:" in r.output


def test_numpy_called_by_the_program_is_the_programs(tmp_path):
    prog = tmp_path / "huge.py"
    prog.write_text(textwrap.dedent('''\
        import numpy as np
        from pramsim.dsl import kernel, program, gid, zeros

        @kernel
        def k(a, n):
            a[gid()] = 1.0

        @program(params={"n": 8}, work="n", depth="1",
                 inputs=lambda rng, n: {"a": np.zeros(2**62)}, reference=lambda a, n: a)
        def huge(a, n):
            k[n](a, n)
            return a
        '''))
    r = cli("run", prog)
    assert r.exit_code == 1 and "program error" in r.output and "huge.py:9:" in r.output, r.output


def test_a_deep_expression_is_located_at_its_line_not_in_importlib(tmp_path):
    terms = " + ".join(["a[i]"] * 20000)
    prog = tmp_path / "deep.py"
    prog.write_text(textwrap.dedent(f'''\
        import numpy as np
        from pramsim.dsl import kernel, program, gid, zeros

        @kernel
        def k(a, out, n):
            i = gid()
            out[i] = {terms}
        '''))
    r = cli("run", prog)
    assert r.exit_code == 1 and "frozen" not in r.output, r.output
    assert "deep.py:7:" in r.output and "nested too deeply" in r.output


def test_a_full_stdout_is_the_environments_exit_1():
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "pramsim.cli", "list"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "environment error: cannot use standard output: No space left on device" in r.stderr
    assert "bug in pramsim" not in r.stderr and "Traceback" not in r.stderr


# ---- numba is never interrupted ------------------------------------------------------------------


def test_the_alarm_waits_while_numba_compiles(monkeypatch):
    # The handler is called as the signal would call it: inside a compile it re-arms and returns;
    # outside, it stops the run.
    scope = limits.Scope(limits.Limits(max_time=1e-3), "", None)
    scope.deadline = scope.own_deadline = time.monotonic() - 1
    armed = []
    monkeypatch.setattr(signal, "setitimer", lambda which, delay, interval=0.0: armed.append(delay) or (0.0, 0.0))
    monkeypatch.setattr(compiling, "in_compile", lambda: True)
    limits._on_alarm(scope, None)  # no Stop raised
    assert armed == [limits.DEFER_S]
    monkeypatch.setattr(compiling, "in_compile", lambda: False)
    with pytest.raises(limits.Stop):
        limits._on_alarm(scope, None)


def test_a_limit_passing_during_a_real_compile_stops_the_run_after_it_and_numba_still_works():
    import numba
    compiling.install()

    def fresh(k):  # a new function each time: numba compiles it (no cache)
        return numba.njit(lambda x: x * k + 1.0)

    f = fresh(3)
    with pytest.raises(LimitExceeded):
        with limits.enforce(limits.Limits(max_time=0.01), ""):
            f(2.0)          # compiles for longer than the limit: the alarm waits for it
            while True:     # then the run goes on, and is stopped
                time.sleep(0.01)
    assert f.signatures, "the compile ran to its end"
    assert fresh(5)(2.0) == 11.0  # and numba compiles again in this process


def test_a_counting_runs_limit_leaves_compiling_out(monkeypatch):
    spent = [0.0]
    monkeypatch.setattr(compiling, "compile_seconds", lambda: spent[0])
    scope = limits.Scope(limits.Limits(max_time=1.0), "", None, exclude_compile=True)
    first = scope.deadline
    spent[0] = 30.0  # numba compiled for 30 s inside it
    assert scope.extend_for_compiles() and scope.deadline == pytest.approx(first + 30.0)
    assert not scope.extend_for_compiles()  # nothing more compiled since


def test_long_compiles_are_announced_on_stderr_when_it_is_not_a_terminal():
    code = textwrap.dedent('''\
        import numba
        from pramsim import compiling
        compiling.ANNOUNCE_AFTER_S = 0.0
        compiling.install()
        numba.njit(lambda x: x + 1)(1)
        print(compiling.compile_seconds() > 0)
        ''')
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr
    assert "compiling <lambda> with numba (once" in r.stderr and "compiled <lambda> in" in r.stderr


def test_a_bad_shape_given_to_zeros_is_the_programs_at_its_line(tmp_path):
    # the user's mistake passed to pramsim's API: not reported as a bug in pramsim
    prog = tmp_path / "neg.py"
    prog.write_text(textwrap.dedent('''\
        import numpy as np
        from pramsim.dsl import kernel, program, gid, zeros

        @kernel
        def k(a, n):
            a[gid()] = 1.0

        @program(params={"n": 8}, work="n", depth="1",
                 inputs=lambda rng, n: {"a": np.zeros(n)}, reference=lambda a, n: a)
        def neg(a, n):
            out = zeros(-n, np.float32)
            k[n](a, n)
            return a
        '''))
    r = cli("run", prog)
    assert r.exit_code == 1 and "program error" in r.output and "neg.py:11:" in r.output, r.output
