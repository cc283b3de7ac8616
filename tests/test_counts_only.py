"""--counts-only (pramsim.engines.counts) and the data-obliviousness analysis it rests on
(pramsim.lang.oblivious): verdicts on shipped and hand-written kernels, and exactness: every
figure of a counts-only run (W by category and level, D by class, per-block figures, the
parallelism profile, bytes, wavefronts, occupancy, T_p, predicted time) equals the full run's, on
pram, a100 and h100, for every shipped data-oblivious program at several sizes, and at random
sizes and tiles."""
from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pramsim import report
from pramsim.cli import main
from pramsim.engines import blockclass, counts
from pramsim.errors import Loc, PramsimError, ProgramError
from pramsim.lang import ir, oblivious
from pramsim.machine import load_machine, simulate
from pramsim.machine.schedule import Brent
from pramsim.programs import kernels_of, load_program, shipped_programs
from pramsim.runner import run_program, sweep_points

MACHINES = {name: load_machine(name) for name in ("pram", "a100", "h100")}
# Figures that differ by design: how it ran, the comparison with the reference, wall time.
NOT_FIGURES = {"engine", "correct", "max_rel_error", "message", "wall_s", "non_finite"}
# What the GPU model computes from the trace (it charges sectors, so these follow an estimate's error).
GPU_TIMING = ("steps", "cycles", "brent", "speedup", "efficiency", "time_s", "predicted_s", "predicted_device_s",
              "predicted_host_s", "per_launch", "gpu")
# Programs whose global indices the block classes do not follow (attention_logdepth's products:
# // and % of gid()): a class gets its representative's global-memory sectors, from which some
# members' differ by a few (docs/cost-model.md, "Counts only"). Their sectors are compared to 5%.
SECTORS_ESTIMATED = {"attention_logdepth"}


def kernels(program):
    return [k.ir for k in kernels_of(program)]


def oblivious_programs():
    return sorted(name for name in shipped_programs()
                  if all(oblivious.analyse(k).oblivious for k in kernels(load_program(name))))


# ---- the analysis ------------------------------------------------------------------------------


def test_verdicts_of_shipped_programs():
    """bitonic_sort's compare-and-swap `if` and max_crcw's knock-out are data-dependent, and so on."""
    bitonic = load_program("bitonic_sort")
    (verdict,) = [oblivious.analyse(k) for k in kernels(bitonic)]
    assert not verdict.oblivious and verdict.loc.line == 20  # `if (x > y) == up:`
    assert "condition of this `if`" in verdict.reason and "'a'" in verdict.reason
    crcw = {k.name: oblivious.analyse(k) for k in kernels(load_program("max_crcw"))}
    assert crcw["mark_all"].oblivious and not crcw["knock_out"].oblivious and not crcw["publish"].oblivious
    # the others whose control flow or indices follow their data: graphs, sparse matrices, sorting by
    # data, scatters to data-dependent places, atomics to data-dependent cells
    assert set(shipped_programs()) - set(oblivious_programs()) == {
        "bitonic_sort", "max_crcw", "bfs", "compact", "connected_components", "histogram", "histogram_shared",
        "list_rank", "list_rank_splice", "merge_sort", "radix_sort", "segmented_scan", "spmv", "spmv_rowblock"}


def _kernel(tmp_path, body: str) -> ir.Kernel:
    path = tmp_path / "k.py"
    path.write_text("from pramsim.dsl import kernel, gid\n\n@kernel\n" + textwrap.dedent(body))
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the test's own kernel
    return namespace["k"].ir


def test_taint_is_carried_round_a_loop(tmp_path):
    """x is clean on the first iteration and data from the second: the `if` depends on data."""
    k = _kernel(tmp_path, """
        def k(a, n):
            x = 0.0
            for i in range(n):
                if x > 0:
                    a[i] = 1.0
                x = a[i]
        """)
    verdict = oblivious.analyse(k)
    assert not verdict.oblivious and verdict.loc.line == 8 and "'a'" in verdict.reason


def test_a_value_overwritten_with_a_clean_one_is_clean(tmp_path):
    k = _kernel(tmp_path, """
        def k(a, n):
            x = a[0]
            x = gid()
            if x < n:
                a[x] = 1.0
        """)
    assert oblivious.analyse(k).oblivious


def test_an_index_computed_from_data_is_refused(tmp_path):
    k = _kernel(tmp_path, """
        def k(a, b, n):
            j = int(a[gid()]) + 1
            b[j] = 0.0
        """)
    verdict = oblivious.analyse(k)
    assert not verdict.oblivious and "an index of array 'b'" in verdict.reason and verdict.loc.line == 7


def test_an_unknown_expression_node_counts_as_data():
    """A node the analysis does not know (an atomic, a shuffle) is data by default."""
    class Mystery(ir.Expr):
        pass
    loc = Loc("k.py", 3, 1)
    cond = ir.Compare(loc, "<", Mystery(loc), ir.Const(loc, 1))
    k = ir.Kernel("k", (), (ir.If(loc, cond, (ir.Barrier(loc),), ()),), loc)
    assert not oblivious.analyse(k).oblivious


def test_block_variant_uses():
    """tree_sum's guard depends on gid(); flash attention's control never depends on the block."""
    (add_pairs,) = kernels(load_program("tree_sum"))
    assert [u.loc.line for u in oblivious.block_variant(add_pairs, frozenset())] == [10]
    (flash,) = kernels(load_program("attention_flash"))
    assert oblivious.block_variant(flash, oblivious.shared_arrays(flash)) == []


def test_block_classes_of_a_guarded_launch():
    """add_pairs with stride 1 over 1,024 processors in 256-lane blocks, n = 1000: the guard
    2 gid + 1 < 1000 holds on all of block 0, on part of block 1 (which runs by itself) and on
    none of blocks 2 and 3 (one class, block 2 representing both)."""
    (add_pairs,) = kernels(load_program("tree_sum"))
    classes = blockclass.classes(add_pairs, 1024, 256, {"stride": 1, "n": 1000})
    assert sorted(map(str, classes)) == sorted(map(str, [(0, 1, slice(0, 1)), (1, 2, None), (2, 3, slice(2, 4))]))
    # a partial last block is a class of its own (fewer lanes), though its guard agrees with block 2's
    classes = blockclass.classes(add_pairs, 1000, 256, {"stride": 1, "n": 1000})
    assert sorted(map(str, classes)) == sorted(map(str, [(0, 1, slice(0, 1)), (1, 2, None), (2, 3, slice(2, 3)),
                                                         (3, 4, slice(3, 4))]))


# ---- exactness ---------------------------------------------------------------------------------


def points(program):
    """Up to three small points: the defaults, sweep points with the shared-array shapes kept
    (they are compile-time constants: each shape is a compile), and one size that divides no tile."""
    shapes = {p for k in kernels(program) for p in ir.shape_params(k)}
    out = [dict(program.params)]
    for point in sweep_points(program)[:2]:
        point = {**point, **{k: program.params[k] for k in shapes if k in program.params}}
        if point not in out:
            out.append(point)
    if "n" in program.params and "n" not in shapes:
        out.append({**program.params, "n": sweep_points(program)[0]["n"] + 3})
    return out


def figures(result, sectors=True) -> dict:
    data = report.run_json(result)
    if not sectors:
        data["memory"] = {k: v for k, v in data["memory"].items() if not k.startswith("hbm_sector")}
    return {k: v for k, v in data.items() if k not in NOT_FIGURES}


def assert_same_trace(full, fast, sectors=True):
    assert fast.counts == full.counts and fast.bytes == full.bytes
    assert fast.depth_by_class == full.depth_by_class
    assert (fast.hbm_allocated_bytes, fast.peak_hbm_bytes) == (full.hbm_allocated_bytes, full.peak_hbm_bytes)
    assert len(fast.launches) == len(full.launches)
    for a, b in zip(full.launches, fast.launches):
        for name, value in vars(a).items():
            if name == "block_hbm_sectors" and not sectors:
                continue
            other = getattr(b, name)
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other), (a.kernel, name)
            else:
                assert value == other, (a.kernel, name)


def on_machine(result, machine):
    """`result` scheduled on another machine, as run_program schedules a trace (one execution
    serves the three machines)."""
    schedule = simulate(result.trace, machine)
    brent = Brent.check(result.trace.work, result.trace.depth, schedule.p, schedule.steps, greedy=not machine.is_gpu)
    return dataclasses.replace(result, machine=machine, schedule=schedule, brent=brent)


def compare_runs(program, params):
    try:
        full = run_program(program, params, MACHINES["pram"])
    except PramsimError:  # a size the program refuses (its require()): nothing to compare
        return False
    fast = run_program(program, params, MACHINES["pram"], counts_only=True)
    assert fast.comparison.correct is None and fast.engine == "counts-only"
    exact = program.name not in SECTORS_ESTIMATED
    if not exact:
        sectors = report.hbm_sectors(full.trace)
        assert abs(report.hbm_sectors(fast.trace) - sectors) <= 0.05 * sectors, params
    assert_same_trace(full.trace, fast.trace, sectors=exact)
    for machine in MACHINES.values():
        a, b = figures(on_machine(fast, machine), exact), figures(on_machine(full, machine), exact)
        if not exact and machine.is_gpu:  # the GPU model reads the sectors: its times are as close as they are
            for key in GPU_TIMING:
                if isinstance(a[key], float):
                    assert a[key] == pytest.approx(b[key], rel=0.05), (params, machine.name, key)
                a.pop(key), b.pop(key)
        assert a == b, (params, machine.name)
    return True


def check_program_exactly(name):
    """Every figure of --counts-only equals the full run's at `points(program)`, on pram, a100 and
    h100. Called by tests/test_compiled.py's per-program test, in the process that has just
    compiled the program's kernels: compiling them again here took most of a minute per
    attention kernel (numba at -O0 cannot cache them on disk), the comparison itself a second."""
    program = load_program(name)
    compared = [compare_runs(program, params) for params in points(program)]
    assert compared[0]  # the defaults always run


@settings(max_examples=10, deadline=None, derandomize=True)
@given(case=st.sampled_from(["tree_sum", "vector_mul_gridstride", "matmul_tiled"]),
       size=st.integers(1, 300), blocks=st.integers(1, 9), threads=st.integers(1, 70), tile=st.sampled_from([4, 8]))
def test_counts_only_at_random_sizes_and_tiles(case, size, blocks, threads, tile):
    program = load_program(case)
    params = {"vector_mul_gridstride": {"n": size, "blocks": blocks, "threads": threads},
              "matmul_tiled": {"n": tile * (size % 5 + 1), "tile": tile}}.get(case, {"n": size})
    assert compare_runs(program, {**program.params, **params})


def test_large_arrays_are_stand_ins_that_take_no_memory(monkeypatch):
    """Above REAL_BYTES a stand-in is one cell; the kernels run on it (any-layout numba code)."""
    monkeypatch.setattr(counts, "REAL_BYTES", 0)
    a = counts.StandInRNG().standard_normal((1 << 40,))
    b = (3 * a).astype(np.float32)
    assert b.shape == (1 << 40,) and b.dtype == np.float32 and b.strides == (0,)
    assert compare_runs(load_program("vector_mul"), {"n": 1000})


# ---- the command line --------------------------------------------------------------------------


def test_cli_counts_only_json_and_refusal(tmp_path):
    runner = CliRunner()
    out = runner.invoke(main, ["run", "tree_sum", "n=1000", "--counts-only", "--json"])
    assert out.exit_code == 0, out.output
    assert '"correct": null' in out.output and "counts only: outputs not computed" in out.output
    out = runner.invoke(main, ["run", "bitonic_sort", "n=64", "--counts-only"])
    assert out.exit_code == 1 and "bitonic_sort.py:20" in out.output and "Traceback" not in out.output
    assert "needs data-oblivious kernels" in out.output and "loaded from array 'a'" in out.output
    out = runner.invoke(main, ["run", "matmul_tiled", "n=4096", "--max-time", "120", "--json"])
    assert out.exit_code == 0 and "note: the full run would take an estimated" in out.output
    assert '"engine": "counts-only"' in out.output
    out = runner.invoke(main, ["show-ir", "bitonic_sort"])
    assert "not data-oblivious" in out.output and "bitonic_sort.py:20" in out.output


def test_counts_only_refuses_models_and_race_checks():
    with pytest.raises(PramsimError, match="counts-only"):
        run_program(load_program("tree_sum"), {"n": 64}, MACHINES["pram"], model="erew", counts_only=True)
    with pytest.raises(ProgramError, match="data-oblivious"):
        run_program(load_program("max_crcw"), {"n": 64}, MACHINES["pram"], counts_only=True)


def test_max_time_counts_an_oblivious_program_instead_of_refusing_it():
    """matmul_tiled n=4096 is estimated at hours executed; --max-time 120 (room for compiling the
    kernel on a busy machine) counts it instead, with a note, and the counts are the declared ones
    (2 n^3 flops, 2 n^3 / tile HBM loads)."""
    program = load_program("matmul_tiled")
    n = 4096
    result = run_program(program, {"n": n, "tile": 8}, MACHINES["pram"], max_time=120, counts_only_if_too_long=True)
    assert run_program(program, {"n": 8, "tile": 8}, MACHINES["pram"], max_time=120,
                       counts_only_if_too_long=True).engine == "vector"  # not when the full run fits
    assert result.engine == "counts-only" and result.comparison.correct is None
    assert any("counted with --counts-only instead" in note for note in result.notes)
    assert result.trace.counter("flop") == 2 * n**3 and result.trace.counter("load.hbm") == 2 * n**3 // 8


def test_max_time_still_refuses_a_program_that_is_not_oblivious():
    with pytest.raises(PramsimError, match="estimated"):
        run_program(load_program("bitonic_sort"), {"n": 2**22}, MACHINES["pram"], max_time=1,
                    counts_only_if_too_long=True)
    with pytest.raises(PramsimError, match="estimated"):  # the runner's default: refuse (pramsim validate)
        run_program(load_program("tree_sum"), {"n": 2**40}, MACHINES["pram"], max_time=1)
