"""PRAM access models: what each forbids, checked on programs whose access pattern is known."""
import numpy as np
import pytest

from pramsim.errors import ExecutionError
from pramsim.machine import load_machine, simulate
from pramsim.programs import load_program
from pramsim.runner import run_program

PRAM = load_machine("pram")


@pytest.mark.parametrize("model", ["erew", "crew", "crcw-common", "crcw-arbitrary", "crcw-priority", "qrqw"])
def test_tree_sum_is_erew_safe(model):
    r = run_program(load_program("tree_sum"), {"n": 1000}, PRAM, model=model)
    assert r.comparison.correct
    # no cell is read or written twice in a step: QRQW queues nothing, so the depth is EREW's
    assert r.trace.depth == run_program(load_program("tree_sum"), {"n": 1000}, PRAM, model="erew").trace.depth


def test_qrqw_charges_a_step_its_maximum_contention():
    """max_crcw: step 2 reads a[i] and a[j] for all n*n pairs (n processors read each cell), and
    the write step has every loser write is_max[i] (up to n - 1 writers per cell). QRQW serves each
    cell's accesses one after another: depth grows by the contention, work stays the same."""
    n = 16
    crcw = run_program(load_program("max_crcw"), {"n": n}, PRAM, model="crcw-arbitrary")
    qrqw = run_program(load_program("max_crcw"), {"n": n}, PRAM, model="qrqw")
    assert qrqw.comparison.correct
    assert qrqw.trace.work == crcw.trace.work
    assert qrqw.trace.depth >= crcw.trace.depth + n - 1
    steps = simulate(qrqw.trace, PRAM.with_processors(7)).steps
    assert max(-(-qrqw.trace.work // 7), qrqw.trace.depth) <= steps <= qrqw.trace.work / 7 + qrqw.trace.depth


@pytest.mark.parametrize("model", ["crcw-common", "crcw-arbitrary", "crcw-priority"])
def test_max_crcw_passes_under_crcw(model):
    r = run_program(load_program("max_crcw"), {"n": 50}, PRAM, model=model)
    assert r.comparison.correct
    assert r.trace.counter("flop.<") == 50 * 50
    assert r.trace.counter("depth.flop") == 1


@pytest.mark.parametrize("model,kind", [("crew", "concurrent write"), ("erew", "concurrent read")])
def test_max_crcw_is_refused_under_exclusive_models(model, kind):
    with pytest.raises(ExecutionError) as info:
        run_program(load_program("max_crcw"), {"n": 8}, PRAM, model=model)
    msg = str(info.value)
    assert kind in msg and model.upper() in msg
    assert info.value.loc.file.endswith("max_crcw.py")
    # the hint names the stronger models that allow it, and no weaker one
    allowed = {"crew": ["crcw-common", "crcw-arbitrary", "crcw-priority", "qrqw"],
               "erew": ["crew", "crcw-common", "crcw-arbitrary", "crcw-priority", "qrqw"]}[model]
    assert info.value.hint.endswith(", ".join(f"--model {m}" for m in allowed)) and "weaker" not in msg


def test_crcw_common_refuses_different_values(tmp_path):
    src = tmp_path / "clash.py"
    src.write_text(
        "import numpy as np\n"
        "from pramsim.dsl import gid, kernel, program, zeros\n"
        "@kernel\n"
        "def k(out):\n"
        "    out[0] = gid()\n"
        "@program(params={'n': 4}, inputs=lambda rng, n: {}, reference=lambda n: np.array([n - 1]))\n"
        "def clash(n):\n"
        "    out = zeros(1, np.int64)\n"
        "    k[n](out)\n"
        "    return out\n")
    prog = load_program(str(src))
    with pytest.raises(ExecutionError, match="different values") as info:
        run_program(prog, {"n": 4}, PRAM, model="crcw-common")
    assert info.value.hint.endswith("--model crcw-arbitrary, --model crcw-priority, --model qrqw")
    # arbitrary: some writer wins (here the highest); priority: the lowest-numbered processor wins
    assert run_program(prog, {"n": 4}, PRAM, model="crcw-arbitrary").output[0] == 3
    assert run_program(prog, {"n": 4}, PRAM, model="crcw-priority").output[0] == 0
    assert np.array_equal(run_program(prog, {"n": 4}, PRAM).output, [3])


def test_runs_over_the_memory_limit_are_refused_before_they_run():
    from pramsim.errors import MachineError
    with pytest.raises(MachineError) as info:
        run_program(load_program("tree_sum"), {"n": 1 << 16}, PRAM, memory_limit=1 << 20)
    assert "--max-memory" in info.value.hint
    assert info.value.loc.file.endswith("tree_sum.py")
