"""Bad inputs once reported as "bug in pramsim" (exit 3) or silently answered wrongly (issue 13):
each is now a located error with the right exit code (2 usage, 1 program), no traceback."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pramsim import bounds, report
from pramsim.errors import ProgramError

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures"
GOOD = (FIX / "good_saxpy.py").read_text()
H100 = ROOT / "pramsim" / "machine" / "profiles" / "h100.toml"


def pramsim(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=120, cwd=cwd)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert "internal error" not in r.stderr, r.stderr
    return r


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle` (the expected location, found independently)."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ---- program paths and files ---------------------------------------------------------------------

def test_program_that_is_a_folder(tmp_path):
    r = pramsim("run", tmp_path)
    assert r.returncode == 1 and f"{tmp_path} is a folder" in r.stderr and "hint:" in r.stderr


def test_program_that_is_not_a_py_file(tmp_path):
    r = pramsim("run", "/dev/null")
    assert r.returncode == 1 and "/dev/null is not a Python (.py) file" in r.stderr
    text_file = tmp_path / "prog.txt"
    text_file.write_text(GOOD)
    r = pramsim("check", text_file)
    assert r.returncode == 1 and "not a Python (.py) file" in r.stderr


def test_bad_byte_in_a_comment_names_the_encoding_and_line(tmp_path):
    """Python does not decode comments; the kernel's source then could not be read, and pramsim
    said "define kernels in a .py file, not in an interactive session"."""
    data = GOOD.encode().replace(b"import numpy as np\n", b"import numpy as np  # caf\xe9\n")
    path = tmp_path / "latin.py"
    path.write_bytes(data)
    line = line_of(GOOD, "import numpy as np")
    col = len("import numpy as np  # caf") + 1
    r = pramsim("run", path)
    assert r.returncode == 1
    assert f"{path}:{line}:{col}:" in r.stderr and "not valid utf-8" in r.stderr and "0xe9" in r.stderr
    assert "interactive session" not in r.stderr and "UTF-8" in r.stderr  # the hint says what to do


def test_declared_encoding_is_honoured(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + GOOD.encode())
    r = pramsim("run", path, "n=16", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["work"] == 16 * 6  # as good_saxpy: 6 operations per processor


@pytest.mark.parametrize("option, form, words", [
    ("work", "n ^^ 2", "unexpected '^'"),
    ("depth", "log m", "'m', not a parameter"),
])
def test_malformed_bound_in_program_is_refused_by_run(tmp_path, option, form, words):
    text = GOOD.replace('counts={"flop": "2*n", "store.hbm": "n"}', f'{option}="{form}"')
    path = tmp_path / "prog.py"
    path.write_text(text)
    r = pramsim("run", path)  # run, which does not use the bounds, refuses it too
    assert r.returncode == 1, r.stdout
    assert f"{path}:{line_of(text, '@program')}:" in r.stderr and f"@program({option}=" in r.stderr and words in r.stderr


def test_malformed_exact_count_in_program_is_refused_at_load(tmp_path):
    text = GOOD.replace('"2*n"', '"2 *"')
    path = tmp_path / "prog.py"
    path.write_text(text)
    r = pramsim("run", path)
    assert r.returncode == 1 and f"{path}:{line_of(text, '@program')}:" in r.stderr and "counts['flop']" in r.stderr


def test_huge_host_allocation_points_at_the_program_line(tmp_path):
    text = GOOD.replace("zeros(n, np.float32)", "zeros(10**13, np.float32)")
    path = tmp_path / "huge.py"
    path.write_text(text)
    r = pramsim("run", path)
    assert r.returncode == 1
    assert f"{path}:{line_of(text, 'zeros(10**13')}:" in r.stderr and "dsl.py" not in r.stderr


# ---- parameters and options ----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2**100000000", "2**64", str(2**63), "9" * 400])
def test_huge_parameter_is_a_usage_error(value):
    r = pramsim("run", "tree_sum", f"n={value}")
    assert r.returncode == 2 and "too large" in r.stderr and "2**63 - 1" in r.stderr
    assert len(r.stderr) < 1000  # a 400-digit value is shortened in the message


def test_largest_parameter_is_accepted_as_a_parameter():
    """2**63 - 1 passes parsing; the run (too long, so counted with --counts-only instead) is then
    refused because no array of that size can be described, not as a usage error or a traceback."""
    r = pramsim("run", "tree_sum", f"n={2**63 - 1}")
    assert r.returncode == 1 and "beyond what NumPy can describe" in r.stderr and "Traceback" not in r.stderr


def test_a_negative_power_of_two_is_not_an_integer():
    r = pramsim("run", "attention_flash", "pad=2**-1")
    assert r.returncode == 2 and "is not an integer" in r.stderr, r.stderr


def test_duplicate_parameter_is_refused():
    r = pramsim("run", "tree_sum", "n=64", "n=128")
    assert r.returncode == 2 and "parameter n is given twice (n=64 and n=128)" in r.stderr


def test_duplicate_sweep_axis_and_huge_grid_are_refused():
    r = pramsim("sweep", "tree_sum", "n=64..128", "n=256")
    assert r.returncode == 2 and "sweep axis n is given twice" in r.stderr
    r = pramsim("sweep", "attention_flash", "batch=1..2**62", "heads=1..2**62", "n=1..2**62")
    assert r.returncode == 2 and f"{63**3:,} points" in r.stderr


@pytest.mark.parametrize("command", [["run", "tree_sum", "n=16"], ["check", "tree_sum"]])
def test_processor_count_beyond_int64_is_a_usage_error(command):
    r = pramsim(*command, "--p", 2**64)
    assert r.returncode == 2 and "--p" in r.stderr


@pytest.mark.parametrize("command", [["run", "tree_sum", "n=16"], ["check", "tree_sum"], ["sweep", "tree_sum", "n=16"]])
def test_negative_seed_is_a_usage_error(command):
    r = pramsim(*command, "--seed", "-1")
    assert r.returncode == 2 and "--seed" in r.stderr


@pytest.mark.parametrize("option, form, words", [
    ("--work", "n^1000", "too large to evaluate"),
    ("--work", "(n^n)^n", "too large to evaluate"),
    ("--depth", "log q", "'q', not a parameter"),
    ("--depth", "log ^", "ends too early"),
])
def test_bad_theta_option_is_a_usage_error_before_running(option, form, words):
    r = pramsim("check", "tree_sum", option, form)
    assert r.returncode == 2 and f"{option} {form!r}" in r.stderr and words in r.stderr
    assert "PASS" not in r.stdout and "FAIL" not in r.stdout  # refused before the check ran


def test_malformed_scheduler_address_is_a_usage_error():
    pytest.importorskip("distributed")
    r = pramsim("sweep", "tree_sum", "n=16", "--scheduler", "tcp://::::")
    assert r.returncode == 2 and "--scheduler 'tcp://::::' is not a Dask scheduler address" in r.stderr


@pytest.mark.parametrize("command", [
    ["sweep", "tree_sum", "n=16", "--plot"], ["run", "tree_sum", "n=16", "--gantt"], ["roofline", "tree_sum", "--plot"],
])
@pytest.mark.parametrize("name", ["x.xyz", "chart"])
def test_unknown_plot_extension_is_refused_before_running(tmp_path, command, name):
    r = pramsim(*command, tmp_path / name)
    assert r.returncode == 2 and ".png, .svg, .pdf" in r.stderr
    assert r.stdout == "" and not (tmp_path / name).exists()


# ---- machine profiles ----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".py", ".toml"])
def test_program_or_machine_name_too_long_for_the_file_system(suffix):
    name = "9" * 300 + suffix
    r = pramsim("run", name)
    assert r.returncode == 1 and "as a program file: File name too long" in r.stderr and "(3" in r.stderr
    r = pramsim("run", "tree_sum", "n=16", "--machine", name)
    assert r.returncode == 1 and "as a machine profile: File name too long" in r.stderr


def test_machine_that_is_a_folder(tmp_path):
    r = pramsim("run", "tree_sum", "n=16", "--machine", tmp_path)
    assert r.returncode == 1 and "is a folder, not a machine profile" in r.stderr


@pytest.mark.parametrize("field, old, new, words", [
    ("hbm_bytes_per_s", "2.33e12", "nan", "must be a finite number, got nan"),
    ("clock_hz", "1.98e9", "inf", "must be a finite number, got inf"),
    ("sram_latency_cycles", "30", "-inf", "must be a finite number"),   # not a fitted figure: stable
    ("hbm_bytes_per_s", "2.33e12", "1e-300", "outside the sane range"),
    ("sms", "132", "99999999999999999999999999", "outside the sane range"),
    ("clock_hz", "1.98e9", "9" * 400, "must be a finite number"),  # an int beyond float's range
])
def test_profile_with_absurd_figure_is_refused_at_load(tmp_path, field, old, new, words):
    text = H100.read_text()
    assert f"{field} = {old}" in text
    text = text.replace(f"{field} = {old}", f"{field} = {new}")
    path = tmp_path / "m.toml"
    path.write_text(text)
    r = pramsim("run", "tree_sum", "n=16", "--machine", path)
    assert r.returncode == 1 and "nan µs" not in r.stdout
    assert f"{path}:{line_of(text, f'{field} = {new}')}:" in r.stderr and repr(field) in r.stderr and words in r.stderr


def test_profile_with_a_number_too_long_to_read_names_the_line(tmp_path):
    """tomllib raises a plain ValueError (Python's 4,300-digit limit) without a line."""
    text = H100.read_text().replace("sms = 132", "sms = " + "9" * 5000)
    path = tmp_path / "m.toml"
    path.write_text(text)
    r = pramsim("run", "tree_sum", "n=16", "--machine", path)
    assert r.returncode == 1 and f"{path}:{line_of(text, 'sms = 999')}:7:" in r.stderr and "digits" in r.stderr


def test_profile_with_non_utf8_bytes_names_the_line(tmp_path):
    text = H100.read_text()
    path = tmp_path / "m.toml"
    path.write_bytes(text.encode() + b"# caf\xe9\n")
    r = pramsim("run", "tree_sum", "n=16", "--machine", path)
    assert r.returncode == 1 and f"{path}:{text.count(chr(10)) + 1}:" in r.stderr and "UTF-8" in r.stderr


def test_shipped_profiles_are_within_the_ranges():
    r = pramsim("machines")
    assert r.returncode == 0 and {"a100", "h100", "pram"} <= {line.split()[0] for line in r.stdout.splitlines()}


# ---- strict JSON ---------------------------------------------------------------------------------

def _strict(text):
    def refuse(token):
        raise AssertionError(f"{token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_run_json_is_strict_and_says_which_fields_were_not_finite():
    r = pramsim("run", FIX / "nan_result.py", "--json")
    assert r.returncode == 1  # the result has NaN: incorrect
    d = _strict(r.stdout)
    assert d["max_rel_error"] is None and d["non_finite"] == ["max_rel_error"] and d["correct"] is False


def test_sweep_json_rows_are_strict():
    r = pramsim("sweep", FIX / "nan_result.py", "n=16,32", "--json", "--jobs", "1")
    rows = _strict(r.stdout)
    assert [row["n"] for row in rows] == [16, 32]
    assert all(row["max_rel_error"] is None and row["non_finite"] == ["max_rel_error"] for row in rows)


def test_to_json_marks_nested_non_finite_values_and_leaves_finite_ones():
    value = {"a": 1.5, "b": {"c": math.nan, "d": [1.0, -math.inf]}, "e": "nan"}
    d = _strict(report.to_json(value))
    assert d == {"a": 1.5, "b": {"c": None, "d": [1.0, None]}, "e": "nan", "non_finite": ["b.c", "b.d[1]"]}
    assert "non_finite" not in _strict(report.to_json({"a": 1.0}))


# ---- bounds --------------------------------------------------------------------------------------

def test_theta_form_that_overflows_is_a_program_error_naming_the_point():
    assert bounds.evaluate("n^2", {"n": 1024}, theta=True) == 1024.0 ** 2
    with pytest.raises(ProgramError, match="too large to evaluate at n=16"):
        bounds.evaluate("n^1000", {"n": 16}, theta=True)


def test_validate_formula_refuses_unknown_names_and_bad_syntax_without_evaluating():
    bounds.validate_formula("n // chunk", {"n": 1, "chunk": 0}, theta=False)  # 0 default: not evaluated
    with pytest.raises(ProgramError, match="'m', not a parameter"):
        bounds.validate_formula("n log m", {"n": 1}, theta=True)
    with pytest.raises(ProgramError, match="cannot read formula"):
        bounds.validate_formula("2 *", {"n": 1}, theta=False)
    with pytest.raises(ProgramError, match="must be a string"):
        bounds.validate_formula(3, {"n": 1}, theta=True)


# ---- faults --------------------------------------------------------------------------------------

def _children(pid):
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and ps --ppid")
def test_sweep_workers_exit_quietly_when_the_main_process_is_killed(tmp_path):
    """Before: each worker finished its point, then printed multiprocessing's BrokenPipeError traceback."""
    csv_path, err_path = tmp_path / "s.csv", tmp_path / "err.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "pramsim.cli", "sweep", "matmul_naive", "n=384",
                                 "p=1,2,3,4,5,6", "--jobs", "2", "--csv", csv_path],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) == 2, "the sweep did not start its workers"
        time.sleep(1.0)  # the workers are inside a point
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived the killed main process"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in err_path.read_text() and "BrokenPipeError" not in err_path.read_text()


def test_fuzz_script_finds_no_bug_in_a_few_cases(tmp_path):
    out = tmp_path / "fuzz.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_cli.py"), "--fixed", "4", "--random", "3",
                        "--seed", "1", "--json", out], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    outcomes = json.loads(out.read_text())
    assert len(outcomes) == 7 and all(o["code"] in (0, 1, 2) and not o["findings"] for o in outcomes)
    assert "findings: 0" in r.stdout
