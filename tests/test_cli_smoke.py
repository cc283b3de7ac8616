"""The README's main command, run as a user would."""
import json
import subprocess
import sys


def pramsim(*args):
    return subprocess.run([sys.executable, "-m", "pramsim", *args], capture_output=True, text=True)


def pramsim_here(*args):
    """The CLI in this process (click's runner): the compiled engine reuses the kernels this test
    session has compiled already, where a new process would compile them again (seconds each)."""
    from click.testing import CliRunner

    from pramsim.cli import main
    r = CliRunner().invoke(main, list(args))
    return subprocess.CompletedProcess(args, r.exit_code, r.stdout, r.stderr)


def test_quick_start_command_reports_brent_and_correctness():
    r = pramsim("run", "tree_sum", "n=1024", "--p", "8")
    assert r.returncode == 0, r.stderr
    assert "correct" in r.stdout and "holds" in r.stdout
    assert "T_p" in r.stdout
    # what T_p is, and why the depth classes do not add up to D (flop 10 + hbm 30 < D = 90)
    assert "steps on p = 8   (simulated time of the greedy schedule on p processors)" in r.stdout
    assert "they need not sum to D" in r.stdout


def test_python_m_pramsim_is_the_pramsim_command():
    r = pramsim("run", "tree_sum", "--p", "0")
    assert r.returncode == 2 and "Usage: pramsim run" in r.stderr, r.stderr
    assert pramsim("--version").stdout.startswith("pramsim, version ")


def test_run_json_has_the_documented_fields():
    r = pramsim("run", "tree_sum", "n=1000", "--p", "3", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    for key in ("program", "params", "machine", "p", "correct", "work", "depth", "steps", "brent"):
        assert key in data
    assert data["params"] == {"n": 1000} and data["p"] == 3 and data["correct"] is True
    b = data["brent"]
    assert b["holds"] and b["lower"] <= data["steps"] <= b["upper"]
    assert data["counts"]["flop.+"] == 999


def test_bad_option_is_a_usage_error():
    r = pramsim("run", "tree_sum", "--p", "0")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_engine_compiled_reports_the_executors_figures():
    runs = {e: pramsim_here("run", "block_sum", "n=3000", "--engine", e, "--json") for e in ("vector", "compiled")}
    assert all(r.returncode == 0 for r in runs.values()), runs["compiled"].stderr
    vec, com = (json.loads(runs[e].stdout) for e in ("vector", "compiled"))
    assert com["engine"] == "compiled" and vec["engine"] == "vector"
    for key in ("work", "depth", "work_by_category", "correct"):
        assert com[key] == vec[key], key
    text = pramsim_here("run", "block_sum", "n=3000", "--engine", "compiled")
    assert "engine    compiled" in text.stdout and "note:" not in text.stderr


def test_sweep_engine_option():
    rows = {e: json.loads(pramsim_here("sweep", "tree_sum", "n=64,256", "-j", "1", "--json", "--engine", e).stdout)
            for e in ("vector", "compiled")}
    assert [(r["n"], r["work"], r["depth"]) for r in rows["vector"]] == \
           [(r["n"], r["work"], r["depth"]) for r in rows["compiled"]]
