"""Limits held while a run runs (pramsim.limits): --max-time, --max-launches, --max-steps, --max-memory.

Each stop is checked for where it says the run was (the fixture's line, the kernel, the launch),
never for how long it took. The fixtures (tests/fixtures/limit_*.py) never end by themselves;
the limits here are small (2 s, a few hundred launches, 20,000 steps) so each test takes seconds.
"""
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pramsim.errors import ExecutionError, LimitExceeded, MachineError, RequirementError
from pramsim.estimate import COSTS, Counts, estimate_time
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import check_program, run_program

FIX = Path(__file__).parent / "fixtures"
PRAM = load_machine("pram")


def pramsim(*args):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    return r


def fixture(name):
    return load_program(str(FIX / f"{name}.py"))


# ---- --max-time: a deadline enforced during the run ------------------------------------------------


def test_infinite_host_loop_is_stopped_at_max_time_at_its_line():
    r = pramsim("run", FIX / "limit_host_loop.py", "--max-time", "2")
    assert r.returncode == 1
    assert "took longer than 2 s (--max-time)" in r.stderr and "in host code (function limit_host_loop)" in r.stderr
    assert any(f"limit_host_loop.py:{line}:" in r.stderr for line in (16, 17)), r.stderr
    # the time estimate's counting run hung too: it was stopped at its own limit, and said so
    assert "counting run at n=1 took longer than its limit of 5 s" in r.stderr


def test_host_code_that_catches_the_stop_is_ended_all_the_same():
    r = pramsim("run", FIX / "limit_swallow.py", "--max-time", "2", "--max-memory", "1")
    assert r.returncode == 1, r.stderr
    assert "limit_swallow.py:17:" in r.stderr and "took longer than" in r.stderr and "caught the stop" in r.stderr


def test_infinite_kernel_while_is_stopped_at_max_time_at_the_loop():
    r = pramsim("run", FIX / "limit_kernel_while.py", "--max-time", "2")
    assert r.returncode == 1
    assert "limit_kernel_while.py:10:5: stopped: the run took longer than 2 s" in r.stderr
    assert "in this while loop of kernel spin (launch 1, at limit_kernel_while.py:18)" in r.stderr


def test_launch_loop_that_catches_exceptions_is_still_stopped_at_max_time():
    r = pramsim("run", FIX / "limit_launch_loop.py", "--max-time", "2")
    assert r.returncode == 1
    # the alarm finds it in a launch of bump, or between two, at the launch's line either way
    assert "limit_launch_loop.py:17:13: stopped: the run took longer than 2 s" in r.stderr


def test_the_alarm_handler_and_timer_are_restored_after_a_run():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(LimitExceeded, match="took longer than 1 s"):
        run_program(fixture("limit_host_loop"), {"n": 64}, PRAM, max_time=1)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ---- launches and steps -------------------------------------------------------------------------------


def test_a_program_that_keeps_launching_is_stopped_by_the_launch_limit():
    r = pramsim("run", FIX / "limit_launch_loop.py", "--max-time", "0", "--max-launches", "300")
    assert r.returncode == 1
    assert "limit_launch_loop.py:17:13: stopped: the program launched kernels 300 times (--max-launches 300); " \
           "launch 301 is of kernel bump" in r.stderr
    assert "--max-launches N" in r.stderr


def test_launch_limit_counts_exactly():
    """A run of exactly the limit passes; tree_sum at n=1024 launches 10 times."""
    prog = load_program("tree_sum")
    assert len(run_program(prog, {"n": 1024}, PRAM, max_launches=10).trace.launches) == 10
    with pytest.raises(LimitExceeded, match="launched kernels 9 times"):
        run_program(prog, {"n": 1024}, PRAM, max_launches=9)


def test_infinite_kernel_while_is_stopped_by_the_steps_limit_at_the_loop():
    r = pramsim("run", FIX / "limit_kernel_while.py", "--max-time", "0", "--max-steps", "20000")
    assert r.returncode == 1
    assert "limit_kernel_while.py:10:5: stopped: launch 1 of kernel spin (at limit_kernel_while.py:18) passed " \
           "20,000 steps (--max-steps) in this while loop" in r.stderr


def test_steps_limit_is_the_launch_depth():
    """vector_mul has depth 5 in its one launch: a limit of 5 passes, 4 stops it (after the launch)."""
    prog = load_program("vector_mul")
    assert run_program(prog, {"n": 64}, PRAM, max_steps=5).trace.depth == 5
    with pytest.raises(LimitExceeded, match=r"passed 4 steps \(--max-steps\) \(its depth is 5\)"):
        run_program(prog, {"n": 64}, PRAM, max_steps=4)


def test_check_is_held_to_the_limits_too():
    r = pramsim("check", FIX / "limit_kernel_while.py", "--max-time", "0", "--max-steps", "20000")
    assert r.returncode == 1 and "passed 20,000 steps" in r.stderr and "limit_kernel_while.py:10:5" in r.stderr
    with pytest.raises(LimitExceeded, match="launched kernels 50 times"):
        check_program(fixture("limit_launch_loop"), PRAM, ps=(1,), max_launches=50)


# ---- probes ----------------------------------------------------------------------------------------


def test_a_failing_probe_stops_probing_instead_of_trying_every_size():
    prog = load_program("tree_sum")
    calls = []

    def probe(program, params):
        calls.append(params)
        raise ExecutionError("index 9 is out of bounds")

    est = estimate_time(prog, [{"n": 2**20}], probe, COSTS["vector"])
    assert len(calls) == 1
    assert est.seconds is None and "a counting run at n=2 failed" in est.reason and "out of bounds" in est.reason


def test_a_probe_failing_after_the_first_ends_probing_and_the_estimate_uses_the_others():
    prog = load_program("tree_sum")
    calls = []

    def probe(program, params):
        calls.append(params["n"])
        if params["n"] >= 64:
            raise MachineError("over the limit (--max-memory)")
        return Counts(params, 2 * params["n"], 10, 1)

    est = estimate_time(prog, [{"n": 2**20}], probe, COSTS["vector"])
    assert est.seconds is not None and max(p.params["n"] for p in est.probes) < 64
    assert [n for n in calls if n >= 64] == [calls[-1]]  # one failing size, then no smaller one tried


def test_sizes_a_require_refuses_are_still_skipped():
    prog = load_program("tree_sum")
    calls = []

    def probe(program, params):
        calls.append(params["n"])
        if params["n"] < 64:
            raise RequirementError("n must be at least 64")
        return Counts(params, 2 * params["n"], 10, 1)

    est = estimate_time(prog, [{"n": 2**20}], probe, COSTS["vector"])
    assert est.seconds is not None and calls[:6] == [2, 4, 8, 16, 32, 64]


# ---- --max-memory counts every allocation ------------------------------------------------------------


@pytest.mark.parametrize("engine", ["vector", "compiled"])
def test_shared_arrays_times_blocks_are_refused_before_allocating(engine):
    # 256 blocks x 4 MiB of shared() = 1 GiB, at a 0.5 GiB limit (before: allocated and ran)
    with pytest.raises(MachineError) as info:
        run_program(fixture("limit_shared"), {"n": 65536, "tile": 2**20, "space": 1}, PRAM,
                    memory_limit=2**29, engine=engine)
    err = info.value
    assert "launch of with_shared (shared s 4,194,304 B x 256 blocks)" in err.message
    assert "1.00 GiB, over the limit of 0.50 GiB (--max-memory)" in err.message
    assert err.loc.file.endswith("limit_shared.py") and err.loc.line == 29


def test_local_arrays_times_processors_are_refused():
    # 65,536 processors x 8 KiB of local() = 0.5 GiB (before: allocated at a 0.1 GiB limit)
    with pytest.raises(MachineError, match=r"local t 8,192 B x 65,536 processors\) would bring the run's arrays "
                                           r"to 0.50 GiB, over the limit of 0.10 GiB"):
        run_program(fixture("limit_shared"), {"n": 65536, "tile": 2048, "space": 2}, PRAM,
                    memory_limit=int(0.1 * 2**30))


def test_inputs_count_twice_host_and_device():
    """Two inputs of 4 MiB (n = 2^20 float32s) on one processor. Counted before: their device
    copies (8 MiB); now the host arrays inputs() returned too (16 MiB)."""
    prog = fixture("limit_inputs")
    run_program(prog, {"n": 2**20}, PRAM, memory_limit=16 * 2**20)
    with pytest.raises(MachineError, match="the device copy of input 'b' would bring the run's arrays to 0.02 GiB"):
        run_program(prog, {"n": 2**20}, PRAM, memory_limit=16 * 2**20 - 1)
    with pytest.raises(MachineError, match=r"input 'b' \(as inputs\(\) returned it\)"):
        run_program(prog, {"n": 2**20}, PRAM, memory_limit=8 * 2**20 - 1)


def test_cli_max_memory_refuses_shared_arrays():
    r = pramsim("run", FIX / "limit_shared.py", "n=65536", f"tile={2**20}", "--max-memory", "0.5", "--max-time", "0")
    assert r.returncode == 1 and "limit_shared.py:29:9: machine error: launch of with_shared" in r.stderr


# ---- limits that are not limits are refused ------------------------------------------------------------


@pytest.mark.parametrize("command, option, value", [
    ("run", "--max-time", "nan"), ("run", "--max-time", "inf"), ("run", "--max-time", "-1"),
    ("run", "--max-memory", "nan"), ("run", "--max-memory", "inf"), ("run", "--max-memory", "-1"),
    ("check", "--max-time", "nan"), ("check", "--max-time", "inf"), ("check", "--max-memory", "nan"),
    ("run", "--max-launches", "0"), ("check", "--max-steps", "-5"),
])
def test_nan_inf_and_negative_limits_are_usage_errors(command, option, value):
    r = pramsim(command, "tree_sum", option, value)
    assert r.returncode == 2, r.stderr
    assert option in r.stderr and value in r.stderr
