"""--check-races: a missing barrier in a shared-memory reduction is reported; the correct one is not."""
import pytest

from pramsim.errors import ExecutionError
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import run_program
from pathlib import Path

PROG = str(Path(__file__).parent / "races" / "block_reduce.py")
PRAM = load_machine("pram")


def test_barrier_synchronised_reduction_has_no_race():
    r = run_program(load_program(PROG), {"n": 256, "racy": 1}, PRAM, check_races=True)
    assert r.comparison.correct


def test_missing_barrier_is_a_race_with_lanes_and_lines():
    prog = load_program(PROG)
    # Lockstep execution hides the race: the result is right without the check ...
    assert run_program(prog, {"n": 256, "racy": 2}, PRAM).comparison.correct
    # ... and the check finds it: lane 0 reads s[16] at k=16 after lane 16 wrote it at k=32.
    with pytest.raises(ExecutionError) as info:
        run_program(prog, {"n": 256, "racy": 2}, PRAM, check_races=True)
    msg = str(info.value)
    assert "shared-memory race on s[" in msg and "no barrier() between" in msg
    assert info.value.loc.line == 33 and "lane 0 reads it" in msg and "lane 16 wrote it" in msg
