"""attention_flash_looped (a fixed block of threads looping over tiles that need not divide n), the
max_threads_per_block limit of GPU profiles, and the seed's tile shapes' SRAM and occupancy by hand."""
import math

import numpy as np
import pytest

from pramsim.errors import MachineError
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import run_program

PRAM = load_machine("pram")
A100 = load_machine("a100")
H100 = load_machine("h100")
PROG = load_program("attention_flash_looped")


def run(machine=PRAM, name="attention_flash_looped", races=True, **params):
    prog = load_program(name)
    result = run_program(prog, {**prog.params, **params}, machine, check_races=races)
    assert result.comparison.correct, f"{params}: {result.comparison.message}"
    return result


def sram_bytes(tile_r, tile_c, d):
    """Q and O tiles, K and V tiles, one score tile, and m, l, alpha per row, float32."""
    return 4 * (2 * tile_r * d + 2 * tile_c * d + tile_r * tile_c + 3 * tile_r)


# Tiles that do not divide n (last Q tile and last K/V tile partial), tiles larger than n, a thread
# count that is not a power of two, more threads than a tile has cells.
CASES = [
    {"batch": 1, "heads": 1, "n": 37, "d": 8, "tile_r": 10, "tile_c": 16, "threads": 32},
    {"batch": 2, "heads": 3, "n": 50, "d": 12, "tile_r": 45, "tile_c": 90, "threads": 64},
    {"batch": 1, "heads": 2, "n": 23, "d": 5, "tile_r": 7, "tile_c": 5, "threads": 48},
    {"batch": 1, "heads": 1, "n": 19, "d": 3, "tile_r": 4, "tile_c": 6, "threads": 128},
    {"batch": 1, "heads": 2, "n": 100, "d": 16, "tile_r": 45, "tile_c": 90, "threads": 256},
]


@pytest.mark.parametrize("params", CASES, ids=lambda p: "-".join(map(str, p.values())))
def test_matches_numpy_and_hbm_bytes_by_hand_when_tiles_do_not_divide_n(params):
    result = run(**params)
    assert result.comparison.max_rel_error <= PROG.rtol      # NumPy float64 softmax(QKᵀ/√d)V, untiled
    assert result.output.shape == (params["batch"] * params["heads"], params["n"], params["d"])
    # HBM by hand: Q once; K and V once per Q tile (ceil(n / tile_r) of them); O written once. Float32.
    t = result.trace
    bh, n, d = params["batch"] * params["heads"], params["n"], params["d"]
    assert t.counter("bytes.hbm.read") == 4 * bh * (n * d + 2 * n * d * math.ceil(n / params["tile_r"]))
    assert t.counter("bytes.hbm.write") == 4 * bh * n * d
    assert t.peak_hbm_bytes == 4 * 4 * bh * n * d        # q, k, v, o: nothing of size n²
    assert t.launches[0].nblocks == bh * math.ceil(n / params["tile_r"])
    assert t.launches[0].block == params["threads"]
    assert t.launches[0].sram_per_block == sram_bytes(params["tile_r"], params["tile_c"], d)


def test_same_output_and_hbm_traffic_as_attention_flash_when_tiles_divide_n():
    common = {"batch": 1, "heads": 2, "n": 48, "d": 8, "tile_r": 12, "tile_c": 16}
    looped = run(**common, threads=32)
    flash = run(name="attention_flash", **common)
    assert np.allclose(looped.output, flash.output, rtol=1e-5, atol=1e-6)
    for key in ("bytes.hbm.read", "bytes.hbm.write", "flop.*"):   # (attention_flash computes alpha per cell: more exp)
        assert looped.trace.counter(key) == flash.trace.counter(key), key


def test_depth_falls_with_more_threads_and_work_barely_moves():
    params = {"batch": 1, "heads": 1, "n": 64, "d": 8, "tile_r": 16, "tile_c": 16}
    few, many = run(**params, threads=16).trace, run(**params, threads=64).trace
    assert many.depth < few.depth / 2
    assert abs(many.work - few.work) / few.work < 0.2


def test_the_seed_small_tile_sram_and_occupancy_by_hand():
    # 45x90 tiles, d = 32, 256 threads: 4·(2·45·32 + 2·90·32 + 45·90 + 3·45) = 51,300 bytes of SRAM.
    # a100: 167,936 // 51,300 = 3 blocks per SM (threads would allow 2,048 // 256 = 8): SRAM-bound,
    # occupancy 3·256 / 2,048 = 37.5%. h100: 233,472 // 51,300 = 4.
    params = {"batch": 1, "heads": 2, "n": 100, "d": 32, "tile_r": 45, "tile_c": 90, "threads": 256}
    assert sram_bytes(45, 90, 32) == 51_300
    occ = run(A100, races=False, **params).schedule.details["occupancy"]
    assert occ["sram_per_block_bytes"] == 51_300
    assert occ["blocks_per_sm"] == 3 and occ["limited_by"] == "sram"
    assert occ["occupancy"] == pytest.approx(0.375)
    assert occ["blocks"] == 2 * 3 and occ["slots"] == 108 * 3 and occ["waves"] == 1
    assert run(H100, races=False, **params).schedule.details["occupancy"]["blocks_per_sm"] == 4


def test_the_seed_large_tile_fits_one_block_per_sm():
    # 120x120, d = 32: 4·(2·120·32 + 2·120·32 + 120·120 + 3·120) = 120,480 bytes: 1 block per SM on a100.
    params = {"batch": 1, "heads": 1, "n": 121, "d": 32, "tile_r": 120, "tile_c": 120, "threads": 1024}
    occ = run(A100, races=False, **params).schedule.details["occupancy"]
    assert occ["sram_per_block_bytes"] == sram_bytes(120, 120, 32) == 120_480
    assert occ["blocks_per_sm"] == 1 and occ["limited_by"] == "sram"
    assert occ["occupancy"] == pytest.approx(1024 / 2048)   # threads alone would allow 2 blocks


def test_a_block_over_max_threads_per_block_is_an_error_with_the_launch_line():
    assert A100.max_threads_per_block == 1024 and H100.max_threads_per_block == 1024
    assert PRAM.max_threads_per_block is None
    params = {"batch": 1, "heads": 1, "n": 16, "d": 4, "tile_r": 8, "tile_c": 8}
    run(A100, **params, threads=1024)                        # at the limit: fine
    run(PRAM, **params, threads=2048)                        # a PRAM has no block limit
    with pytest.raises(MachineError) as info:
        run(A100, **params, threads=1025)
    err = info.value
    assert "1,025 threads per block" in err.message and "at most 1,024" in err.message
    assert "flash_looped" in err.message and err.hint and "1,024" in err.hint
    assert err.loc is not None and err.loc.file.endswith("attention_flash_looped.py") and err.loc.line > 1


def test_profile_max_threads_per_block_is_validated(tmp_path):
    base = ('name = "toy"\nkind = "gpu"\nsms = 4\nlanes_per_sm = 32\nclock_hz = 1e9\n'
            'max_threads_per_sm = 256\nmax_blocks_per_sm = 8\nsram_bytes_per_sm = 1024\n'
            'sram_bytes_per_cycle = 128\nhbm_bytes = 1000000\nhbm_bytes_per_s = 1e11\n'
            'hbm_latency_cycles = 10\n')
    path = tmp_path / "toy.toml"
    path.write_text(base)
    assert load_machine(str(path)).max_threads_per_block is None        # optional
    path.write_text(base + "max_threads_per_block = 128\n")
    toy = load_machine(str(path))
    assert toy.max_threads_per_block == 128
    toy.check_block_threads("k", 128)
    with pytest.raises(MachineError, match="129 threads per block"):
        toy.check_block_threads("k", 129)
    path.write_text(base + "max_threads_per_block = 512\n")
    with pytest.raises(MachineError, match="max_threads_per_block") as info:
        load_machine(str(path))
    assert info.value.loc.line == base.count("\n") + 1
