"""Shared-memory wavefronts (bank conflicts) against the textbook degrees, in both engines.

A warp-wide access to 4-byte words at stride s takes gcd(s, 32) wavefronts (32 banks); lanes
reading one word take one (broadcast); 8-byte elements at stride 1 take two.
"""
import math

import numpy as np
import pytest

from pramsim.cost import warp_wavefronts
from pramsim.engines.vector import Executor
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs

PROGRAM = """import numpy as np
from pramsim.dsl import kernel, program, lane, barrier, shared, {dtype}


@kernel
def k(a, stride):
    s = shared((4096,), {dtype})
    s[lane() * stride] = 1.0          # one store per lane at stride `stride`
    barrier()
    a[0] = s[0] + s[lane() * stride]  # a broadcast load, then the strided one


def inputs(rng, stride, threads, blocks):
    return {{"a": np.zeros(1, np.float32)}}


@program(params={{"stride": 1, "threads": 32, "blocks": 2}}, inputs=inputs,
         reference=lambda a, stride, threads, blocks: np.ones(1) * 2)
def prog(a, stride, threads, blocks):
    k[blocks, threads](a, stride)
    return a
"""


def wavefronts(tmp_path, engine, dtype="float32", **params):
    path = tmp_path / f"bank_{dtype}.py"
    path.write_text(PROGRAM.format(dtype=dtype))
    prog = load_program(str(path))
    params = {**prog.params, **params}
    ex = Executor(engine=engine)
    execute(prog, params, make_inputs(prog, params, 0), ex)
    return ex.trace.launches[0].block_sram_wavefronts.tolist()


@pytest.mark.parametrize("engine", ["vector", "compiled"])
@pytest.mark.parametrize("stride", [1, 2, 3, 8, 32, 33, 64])
def test_strided_access_takes_gcd_wavefronts(tmp_path, engine, stride):
    degree = math.gcd(stride, 32)
    # per block of one warp: the strided store, the broadcast load (1), the strided load
    assert wavefronts(tmp_path, engine, stride=stride) == [2 * degree + 1] * 2


@pytest.mark.parametrize("engine", ["vector", "compiled"])
def test_partial_warps_and_wide_elements(tmp_path, engine):
    # 48 lanes: a full warp and a half one. Stride 2 puts the half warp's 16 lanes in 16 banks.
    assert wavefronts(tmp_path, engine, stride=2, threads=48) == [2 * (2 + 1) + 1 + 1] * 2
    # 8-byte elements at stride 1: 32 lanes cover 64 words, two per bank
    assert wavefronts(tmp_path, engine, dtype="float64", stride=1) == [2 * 2 + 1] * 2


def test_warp_wavefronts_by_hand():
    warps, degree = warp_wavefronts(np.array([0, 0, 0, 1, 1]), np.array([0, 32, 32, 5, 6]), 4)
    assert warps.tolist() == [0, 1] and degree.tolist() == [2, 1]   # words 0 and 32 share bank 0
    _, degree = warp_wavefronts(np.zeros(32, int), np.arange(32) * 2, 2)  # fp16: two lanes a word
    assert degree.tolist() == [1]


def test_run_report_shows_lanes_per_wavefront(tmp_path):
    from pramsim.machine import load_machine
    from pramsim.report import run_text, sram_wavefronts
    from pramsim.runner import run_program

    path = tmp_path / "bank_report.py"
    path.write_text(PROGRAM.format(dtype="float32"))
    r = run_program(load_program(str(path)), {"stride": 32, "threads": 32, "blocks": 2}, load_machine("h100"))
    # per block: store 32, broadcast load 1, load 32 wavefronts; 3 x 32 accesses
    assert sram_wavefronts(r.trace) == 2 * 65
    assert "192 accesses in 130 wavefronts   (1.5 lanes per wavefront" in run_text(r)


def test_padding_the_flash_tiles_removes_their_conflicts():
    # The vector engine only: compiling flash_tiles again for pad=1 costs a minute of the suite,
    # and test_compiled checks that both engines count flash_tiles' wavefronts alike.
    prog = load_program("attention_flash")
    out, waves = {}, {}
    for pad in (0, 1):
        params = {**prog.params, "pad": pad}  # d = 16
        inputs = make_inputs(prog, params, 0)
        ex = Executor()
        out[pad] = execute(prog, params, inputs, ex)
        waves[pad] = int(ex.trace.launches[0].block_sram_wavefronts.sum())
    np.testing.assert_array_equal(out[0], out[1])
    # q_r·k_c reads a column of Ks: 16 lanes c at stride d = 16 words fill 2 banks, 8-way;
    # padded, stride 17: no conflict. The other accesses (reductions, P·V) stay.
    assert waves[1] < waves[0] / 2
