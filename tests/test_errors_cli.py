"""`python -m pramsim.cli` on bad input: a clear message with file:line, the right exit code, no traceback."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures"


def pramsim(*args):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert "internal error" not in r.stderr, r.stderr
    return r


def test_unknown_program_suggests_close_names():
    r = pramsim("run", "tree_smu")
    assert r.returncode == 1
    assert "unknown program 'tree_smu'" in r.stderr and "tree_sum" in r.stderr and "hint:" in r.stderr


def test_unknown_program_without_close_names_points_at_list():
    r = pramsim("check", "zzzzzzzz")
    assert r.returncode == 1 and "pramsim list" in r.stderr


def test_missing_program_file():
    r = pramsim("run", FIX / "no_such_file.py")
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_unknown_machine_suggests_close_names():
    r = pramsim("run", "tree_sum", "n=16", "--machine", "h10")
    assert r.returncode == 1
    assert "unknown machine 'h10'" in r.stderr and "h100" in r.stderr


def test_unknown_parameter_lists_the_real_ones():
    r = pramsim("run", "tree_sum", "m=16")
    assert r.returncode == 2 and "no parameter 'm'" in r.stderr and "n=1024" in r.stderr


@pytest.mark.parametrize("arg, words", [("n=abc", "not an integer"), ("n=-4", "at least 1"),
                                        ("n=0", "at least 1"), ("n", "name=value"), ("n=1.5", "not an integer")])
def test_malformed_parameter_is_refused(arg, words):
    r = pramsim("run", "tree_sum", arg)
    assert r.returncode in (1, 2) and words in r.stderr and "n=" in r.stderr


def test_malformed_parameter_exits_2():
    assert pramsim("run", "tree_sum", "n=abc").returncode == 2


@pytest.mark.parametrize("p", ["0", "-1", "x"])
def test_bad_processor_count_is_a_usage_error(p):
    r = pramsim("run", "tree_sum", "n=16", "--p", p)
    assert r.returncode == 2 and "--p" in r.stderr


def test_dsl_error_in_user_file():
    r = pramsim("run", FIX / "bad_dsl_try.py")
    assert r.returncode == 1
    assert f"{FIX / 'bad_dsl_try.py'}:9:" in r.stderr and "DSL error" in r.stderr and "hint:" in r.stderr


def test_execution_error_in_user_file_names_everything():
    r = pramsim("run", FIX / "bad_oob.py")
    assert r.returncode == 1
    assert f"{FIX / 'bad_oob.py'}:10:" in r.stderr
    for words in ("index 16", "'a'", "(16,)", "processor 15"):
        assert words in r.stderr


def test_wrong_launch_arguments_in_user_file():
    r = pramsim("run", FIX / "bad_launch_args.py")
    assert r.returncode == 1 and f"{FIX / 'bad_launch_args.py'}:15:" in r.stderr and "takes 2 arguments" in r.stderr


def test_host_exception_is_located_in_user_code():
    r = pramsim("run", FIX / "bad_host_exception.py")
    assert r.returncode == 1 and f"{FIX / 'bad_host_exception.py'}:16:" in r.stderr and "ZeroDivisionError" in r.stderr


def test_intrinsic_in_host_code_is_an_error_not_a_crash():
    r = pramsim("run", FIX / "bad_host_intrinsic.py")
    assert r.returncode == 1 and "inside a @kernel" in r.stderr


def test_intrinsic_in_host_code_names_the_line():
    r = pramsim("run", FIX / "bad_host_intrinsic.py")
    assert f"{FIX / 'bad_host_intrinsic.py'}:16:" in r.stderr


def test_wrong_result_exits_1_and_says_incorrect():
    r = pramsim("run", FIX / "wrong_result.py")
    assert r.returncode == 1 and "INCORRECT" in r.stdout and "5.99" in r.stdout  # worst element vs reference
    j = pramsim("run", FIX / "wrong_result.py", "--json")
    assert j.returncode == 1 and json.loads(j.stdout)["correct"] is False


def test_good_user_program_runs_and_checks():
    r = pramsim("run", FIX / "good_saxpy.py", "n=100", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    # per processor: <, then load, *, load, +, store for i < n: W = 100 * 6, D = 6
    assert d["correct"] is True and d["work"] == 600 and d["depth"] == 6


def test_debug_shows_the_traceback():
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "--debug", "run", "tree_smu"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" in r.stderr


PROFILES = {
    "unknown field": ('name = "x"\nkind = "pram"\nprocesors = 4\n', "'procesors'", 3, "processors"),
    "wrong type": ('name = "x"\nkind = "pram"\n\nprocessors = "four"\n', "'processors' must be int", 4, None),
    "negative": ('name = "x"\nkind = "pram"\nprocessors = -2\n', "'processors'", 3, None),
    "bad kind": ('name = "x"\n# c\nkind = "tpu"\nprocessors = 4\n', "'kind'", 3, None),
    "missing field": ('name = "x"\nkind = "gpu"\nsms = 4\n', "'lanes_per_sm'", 1, "lanes_per_sm"),
    "not toml": ('name = "x"\nkind = "pram"\nprocessors = 4\n[[oops\n', "not valid TOML", 4, None),
}


@pytest.mark.parametrize("case", sorted(PROFILES))
def test_malformed_machine_profile_names_field_and_line(tmp_path, case):
    text, words, line, hint = PROFILES[case]
    path = tmp_path / "m.toml"
    path.write_text(text)
    r = pramsim("run", "tree_sum", "n=16", "--machine", path)
    assert r.returncode == 1
    assert words in r.stderr and f"{path}:{line}:" in r.stderr, r.stderr
    if hint:
        assert "hint:" in r.stderr and hint in r.stderr


def test_unknown_table_in_profile_names_its_line(tmp_path):
    from pramsim.errors import MachineError
    from pramsim.machine import load_machine
    path = tmp_path / "m.toml"
    path.write_text('name = "x"\nkind = "pram"\nprocessors = 4\n[extra]\nx = 1\n')
    with pytest.raises(MachineError) as info:
        load_machine(str(path))
    assert "'extra'" in info.value.message


def test_unknown_table_in_profile_has_a_loc(tmp_path):
    from pramsim.errors import MachineError
    from pramsim.machine import load_machine
    path = tmp_path / "m.toml"
    path.write_text('name = "x"\nkind = "pram"\nprocessors = 4\n[extra]\nx = 1\n')
    with pytest.raises(MachineError) as info:
        load_machine(str(path))
    assert info.value.loc is not None and info.value.loc.line == 4


def test_p_on_a_gpu_profile_is_refused():
    r = pramsim("run", "tree_sum", "n=16", "--machine", "h100", "--p", "4")
    assert r.returncode == 1 and "--p applies to PRAM machines" in r.stderr


def test_nan_where_reference_is_finite_is_incorrect():
    from pramsim.machine import load_machine
    from pramsim.programs import load_program
    from pramsim.runner import run_program
    r = run_program(load_program(str(FIX / "nan_result.py")), {"n": 16}, load_machine("pram"))
    assert not r.comparison.correct and "NaN/infinite" in r.comparison.message
    # log(x - 0.5) is NaN for the 8 inputs below 0.5 and -inf at none (0.5 is not on the grid)
    assert "8 NaN/infinite" in r.comparison.message and "index (0,)" in r.comparison.message


def test_check_and_show_ir_on_a_bad_file():
    r = pramsim("check", FIX / "bad_dsl_try.py")
    assert r.returncode == 1 and f"{FIX / 'bad_dsl_try.py'}:9:" in r.stderr
    r = pramsim("show-ir", FIX / "good_saxpy.py")
    assert r.returncode == 0 and "kernel saxpy(x, y, out, n):" in r.stdout and "2.0 * x[i] + y[i]" in r.stdout


# ---- dtypes at launch (pramsim.lang.typecheck, @kernel(dtypes=...)) ---------------------------------------


def test_float_array_used_as_an_index_is_refused_at_the_launch():
    f = FIX / "bad_float_index.py"
    r = pramsim("run", f)
    assert r.returncode == 1
    assert f"{f}:19:" in r.stderr  # the launch that passes the float32 array
    assert "argument 'idx' (a float32 array)" in r.stderr and f"{f}:11:" in r.stderr  # and the kernel line
    assert "not an integer" in r.stderr and "hint:" in r.stderr and "astype(np.int32)" in r.stderr


def test_float_stored_into_an_int_array_is_refused_not_truncated():
    f = FIX / "bad_int_store.py"
    r = pramsim("run", f)
    assert r.returncode == 1 and r.stdout == ""  # refused before anything ran, not a truncated result
    assert f"{f}:18:" in r.stderr and f"{f}:11:" in r.stderr
    assert "stores a float into 'out'" in r.stderr and "an int32 array" in r.stderr and "truncated" in r.stderr


def test_declared_dtype_mismatch_is_refused_at_the_launch():
    f = FIX / "bad_declared_dtype.py"
    r = pramsim("run", f)
    assert r.returncode == 1
    assert f"{f}:18:" in r.stderr and "declares 'a' as a float32 array, the launch passed a float64 array" in r.stderr
    assert "hint:" in r.stderr


def _program(tmp_path, body, name="prog"):
    import textwrap
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def _run(path, **params):
    from pramsim.machine import load_machine
    from pramsim.programs import load_file
    from pramsim.runner import run_program
    program = load_file(path)[0]
    return run_program(program, {**program.params, **params}, load_machine("pram"))


HEAD = """
import numpy as np
from pramsim.dsl import float32, gid, int32, kernel, lane, program, shared, zeros
"""


def test_float_index_computed_in_the_kernel_points_at_the_kernel_line(tmp_path):
    from pramsim.errors import ExecutionError
    path = _program(tmp_path, HEAD + """
@kernel
def k(a, out, n):
    i = gid()
    half = i / 2
    out[i] = a[half]

@program(params={"n": 8}, inputs=lambda rng, n: {"a": np.ones(n, np.float32)}, reference=lambda a, n: a)
def p(a, n):
    out = zeros(n, np.float32)
    k[n](a, out, n)
    return out
""")
    with pytest.raises(ExecutionError) as info:
        _run(path)
    assert info.value.loc.line == 9 and "index `half` of 'a' is not an integer" in info.value.message
    assert "//" in info.value.hint


def test_float_scalar_argument_in_an_index_points_at_the_launch(tmp_path):
    from pramsim.errors import ExecutionError
    path = _program(tmp_path, HEAD + """
@kernel
def k(a, out, stride):
    i = gid()
    out[i] = a[i * stride]

@program(params={"n": 8}, inputs=lambda rng, n: {"a": np.ones(4 * n, np.float32)}, reference=lambda a, n: a[:n])
def p(a, n):
    out = zeros(n, np.float32)
    k[n](a, out, 2.0)
    return out
""")
    with pytest.raises(ExecutionError) as info:
        _run(path)
    assert info.value.loc.line == 13 and "argument 'stride' (the float 2.0)" in info.value.message


def test_float_into_a_shared_int_array_points_at_the_store(tmp_path):
    from pramsim.errors import ExecutionError
    path = _program(tmp_path, HEAD + """
@kernel
def k(a, out):
    s = shared(4, int32)
    t = lane()
    s[t] = a[t] + 0.5
    out[t] = s[t]

@program(params={"n": 4}, inputs=lambda rng, n: {"a": np.ones(n, np.float32)}, reference=lambda a, n: a)
def p(a, n):
    out = zeros(n, np.float32)
    k[1, n](a, out)
    return out
""")
    with pytest.raises(ExecutionError) as info:
        _run(path)
    assert info.value.loc.line == 9 and "integer array 's'" in info.value.message and "truncated" in info.value.message


def test_explicit_int_conversion_and_int_to_float_stores_are_accepted(tmp_path):
    path = _program(tmp_path, HEAD + """
@kernel
def k(a, counts, out, n):
    i = gid()
    if i < n:
        j = 0
        if a[i] > 0.5:
            j = int(a[i] * 2.0)
        counts[i] = int(a[i] * 10.0)
        out[i] = counts[i] + j

@program(params={"n": 8}, inputs=lambda rng, n: {"a": np.linspace(0, 1, n).astype(np.float32)},
         reference=lambda a, n: np.trunc(a * 10.0) + np.where(a > 0.5, np.trunc(a * 2.0), 0))
def p(a, n):
    counts = zeros(n, int32)
    out = zeros(n, np.float32)
    k[n](a, counts, out, n)
    return out
""")
    assert _run(path).comparison.correct


def test_a_number_declared_float_is_passed_as_a_float(tmp_path):
    from pramsim.errors import ExecutionError
    body = HEAD + """
@kernel{decl}
def k(out, s):
    out[gid()] = s ** -1

@program(params={{"n": 4}}, inputs=lambda rng, n: {{}}, reference=lambda n: np.full(n, 0.1))
def p(n):
    out = zeros(n, np.float32)
    k[n](out, 10)
    return out
"""
    assert _run(_program(tmp_path, body.format(decl='(dtypes={"s": float})'))).comparison.correct
    with pytest.raises(ExecutionError) as info:  # undeclared, 10 is an int: integer ** negative power
        _run(_program(tmp_path, body.format(decl=""), "undeclared"))
    assert "negative power" in info.value.message


def test_a_number_declared_int_refuses_a_float(tmp_path):
    from pramsim.errors import ExecutionError
    path = _program(tmp_path, HEAD + """
@kernel(dtypes={"n": int})
def k(out, n):
    out[gid()] = n

@program(params={"n": 4}, inputs=lambda rng, n: {}, reference=lambda n: np.full(n, n))
def p(n):
    out = zeros(n, np.float32)
    k[n](out, n / 2)
    return out
""")
    with pytest.raises(ExecutionError) as info:
        _run(path)
    assert info.value.loc.line == 12 and "declares 'n' as an integer, the launch passed 2.0" in info.value.message


@pytest.mark.parametrize("decl, words", [('{"m": float32}', "not a parameter of 'k'"),
                                         ('{"a": "complex64"}', "not a type pramsim knows"),
                                         ('{"a": list}', "not a type pramsim knows")])
def test_bad_dtypes_declaration_is_a_dsl_error_at_the_kernel(tmp_path, decl, words):
    from pramsim.errors import DSLError
    path = _program(tmp_path, HEAD + f"""
@kernel(dtypes={decl})
def k(a):
    a[gid()] = 1.0
""")
    from pramsim.programs import load_file
    with pytest.raises(DSLError) as info:
        load_file(path)
    assert words in info.value.message and info.value.loc.line == 6 and str(path) == info.value.loc.file


def test_inputs_too_large_for_memory_point_at_the_program_not_numpy():
    r = pramsim("run", "tree_sum", "n=1099511627776", "--max-time", "0")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "tree_sum.py:" in r.stderr and "_common.pyx" not in r.stderr
    assert "MemoryError" in r.stderr and "use smaller parameters" in r.stderr
