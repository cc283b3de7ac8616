"""pramsim sweep: the grid, the CSV, the plots, the verdicts."""
import csv
import subprocess
import sys

import pytest

from pramsim.errors import ProgramError
from pramsim.programs import load_program
from pramsim.sweep import grid, parse_axis, run_sweep


def test_axis_forms():
    assert parse_axis("n=64..1024") == ("n", [64, 128, 256, 512, 1024])
    assert parse_axis("n=64..1024:4") == ("n", [64, 256, 1024])
    assert parse_axis("p=1,3,8") == ("p", [1, 3, 8])
    for bad in ("n", "n=abc", "n=8..4", "n=0..4"):
        with pytest.raises(ProgramError):
            parse_axis(bad)
    # a list's values are checked against the program's ranges, in grid(): n=0 is not tree_sum's
    assert parse_axis("n=0,1") == ("n", [0, 1])
    with pytest.raises(ProgramError, match="n=0 must be at least 1"):
        grid(load_program("tree_sum"), ["n=0,1"])


def test_sweep_rows_match_brent_and_exact_counts(tmp_path):
    prog = load_program("tree_sum")
    out = tmp_path / "s.csv"
    rows = run_sweep(prog, ["n=256..1024", "p=1,5,1000"], jobs=1, csv_path=out)
    assert len(rows) == 9
    for r in rows:
        assert r["correct"] and r["brent_holds"]
        assert r["brent_lower"] <= r["steps"] <= r["brent_upper"]
        assert r["flop"] == r["n"] - 1
        if r["p"] == 1:
            assert r["steps"] == r["work"]  # one processor does everything, one op per step
    with open(out) as f:
        assert len(list(csv.DictReader(f))) == 9


def test_sweep_cli_writes_plots(tmp_path):
    for axes, name in ((["n=1024", "p=1..64"], "speedup.png"), (["n=64..4096:4"], "wd.svg")):
        path = tmp_path / name
        r = subprocess.run([sys.executable, "-m", "pramsim.cli", "sweep", "tree_sum", *axes, "--plot", str(path), "-j", "1"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert path.stat().st_size > 1000


def test_run_writes_a_chrome_trace_covering_the_schedule(tmp_path):
    import json
    path = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "run", "tree_sum", "n=1000", "--p", "4", "--trace", str(path),
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    steps = json.loads(r.stdout)["steps"]
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert sum(e["dur"] for e in events) == steps          # launches back to back, no gaps
    assert sum(e["args"]["busy_processor_steps"] for e in events) == json.loads(r.stdout)["work"]
    assert {e["args"]["launch"] for e in events} == set(range(10))    # ceil(log2 1000) = 10 launches
    assert {e["tid"] for e in events} == {1}                # one after another on the processors' track


def test_sweep_on_a_local_dask_cluster_matches_the_local_sweep():
    distributed = pytest.importorskip("distributed")
    prog = load_program("tree_sum")
    axes = ["n=256..1024", "p=1,7"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_sweep(prog, axes, scheduler=cluster.scheduler_address)
    local = run_sweep(prog, axes, jobs=1)
    key = lambda r: (r["n"], r["p"])  # noqa: E731
    assert sorted((key(r), r["work"], r["depth"], r["steps"]) for r in remote) == \
        sorted((key(r), r["work"], r["depth"], r["steps"]) for r in local)


def test_gantt_roofline_and_memory_plots(tmp_path):
    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "pramsim.cli", *args], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout
    cli("run", "tree_sum", "n=1000", "--p", "16", "--gantt", str(tmp_path / "g.png"))
    out = cli("roofline", "vector_mul", "matmul_tiled", "--plot", str(tmp_path / "r.svg"))
    assert "vector_mul" in out and "memory-bound" in out
    cli("sweep", "attention_naive", "n=16..64", "--plot", str(tmp_path / "m.png"), "--plot-kind", "memory", "-j", "1")
    for name in ("g.png", "r.svg", "m.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_vector_mul_intensity_is_one_flop_per_twelve_bytes():
    # n multiplies over 3n float32 values moved (two loads, one store): 1/12 flop per byte.
    from pramsim.machine import load_machine
    from pramsim.runner import run_program
    r = run_program(load_program("vector_mul"), {"n": 4096}, load_machine("h100"))
    assert abs(r.schedule.details["roofline"]["arithmetic_intensity"] - 1 / 12) < 1e-12


def test_sweep_on_the_compiled_engine_gives_the_executors_rows():
    prog = load_program("block_sum")
    keys = ("n", "p", "work", "depth", "steps", "correct", "hbm_bytes", "sram_bytes")
    rows = {eng: run_sweep(prog, ["n=1000,4096", "p=3"], jobs=1, engine=eng) for eng in ("vector", "compiled")}
    assert [[r[k] for k in keys] for r in rows["vector"]] == [[r[k] for k in keys] for r in rows["compiled"]]
    assert all(r["correct"] for r in rows["compiled"])
