"""Global-memory sectors (coalescing) against hand counts, in both engines.

A warp's access to global memory is served in 32-byte sectors (CUDA C++ Best Practices Guide,
"Coalesced Access to Global Memory"): one per distinct sector its active lanes touch. 32 lanes
reading consecutive 4-byte words touch 128 bytes, 4 sectors; at a stride of 2 words, 256 bytes,
8 sectors; at 8 words or more, every lane its own sector, 32.
"""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from pramsim.cli import main
from pramsim.cost import warp_sectors
from pramsim.engines.vector import Executor
from pramsim.programs import load_program
from pramsim.runner import execute, make_inputs

PROGRAM = """import numpy as np
from pramsim.dsl import kernel, program, lane, block_id


@kernel
def k(a, m, stride, masked, column):
    i = block_id() * 4096 + lane() * stride
    if column == 1:                     # m[lane, 0]: a column of a 32 x 32 matrix
        m[lane(), 0] = m[lane(), 0] + 1.0
    elif column == 2:                   # m[0, lane]: a row
        m[0, lane()] = m[0, lane()] + 1.0
    elif column == 3:                   # the lanes out of address order (lane 1 at 7, lane 5 at 3, ...)
        j = block_id() * 4096 + (lane() * 7) % 32 * stride
        a[j] = a[j] + 1.0
    elif masked == 0 or lane() % 2 == 0:
        a[i] = a[i] + 1.0               # a load and a store, lanes `stride` elements apart


def inputs(rng, stride, threads, blocks, masked, column):
    return {{"a": np.zeros(blocks * 4096, {dtype}), "m": np.zeros((32, 32), {dtype})}}


def reference(a, m, stride, threads, blocks, masked, column):
    return np.zeros(1)


@program(params={{"stride": 1, "threads": 32, "blocks": 2, "masked": 0, "column": 0}}, inputs=inputs,
         reference=reference)
def prog(a, m, stride, threads, blocks, masked, column):
    k[blocks, threads](a, m, stride, masked, column)
    return a[:1]
"""


def sectors(tmp_path, engine, dtype="float32", **params):
    """Each block's sectors of one launch of PROGRAM."""
    path = tmp_path / f"coalescing_{dtype}.py"
    path.write_text(PROGRAM.format(dtype=f"np.{dtype}"))
    prog = load_program(str(path))
    params = {**prog.params, **params}
    ex = Executor(engine=engine)
    execute(prog, params, make_inputs(prog, params, 0), ex)
    return ex.trace.launches[0].block_hbm_sectors.tolist()


ENGINES = ["vector", "compiled"]


@pytest.mark.parametrize("engine, stride, per_access", [
    *[("vector", s, n) for s, n in [(1, 4), (2, 8), (4, 16), (8, 32), (33, 32), (0, 1)]],
    ("compiled", 2, 8), ("compiled", 33, 32), ("compiled", 0, 1),   # a compile each: three suffice (and
])                                                                 # test_compiled compares every program)
def test_strided_warp_access(tmp_path, engine, stride, per_access):
    # one warp per block, a load and a store each: 4-byte lanes `stride` words apart cover
    # 32 * 4 * stride bytes, 4 * stride sectors up to one a lane; stride 0 is one address (broadcast)
    assert sectors(tmp_path, engine, stride=stride) == [2 * per_access] * 2


@pytest.mark.parametrize("engine", ENGINES)
def test_wide_elements_partial_warps_and_masks(tmp_path, engine):
    # float64 at stride 1: 32 lanes x 8 bytes = 256 bytes, 8 sectors
    assert sectors(tmp_path, engine, dtype="float64") == [2 * 8] * 2
    # 48 lanes: a full warp (4 sectors) and a half one (16 lanes x 4 bytes = 64 bytes, 2 sectors)
    assert sectors(tmp_path, engine, threads=48) == [2 * (4 + 2)] * 2
    # only even lanes: elements 0, 2, ..., 30 lie in bytes 0..123, still 4 sectors
    assert sectors(tmp_path, engine, masked=1, stride=1) == [2 * 4] * 2
    # only even lanes at stride 2: elements 0, 4, ..., 60, bytes 0..243: 8 sectors, each a quarter used
    assert sectors(tmp_path, engine, masked=1, stride=2) == [2 * 8] * 2


@pytest.mark.parametrize("engine", ENGINES)
def test_row_and_column_of_a_matrix(tmp_path, engine):
    # m[0, lane]: one row of 32 floats, 128 bytes, 4 sectors; m[lane, 0]: rows 128 bytes apart, 32
    assert sectors(tmp_path, engine, column=2, blocks=1) == [2 * 4]
    assert sectors(tmp_path, engine, column=1, blocks=1) == [2 * 32]


@pytest.mark.parametrize("engine", ENGINES)
def test_lanes_out_of_address_order(tmp_path, engine):
    # lane t at word (7 t mod 32) * stride: a permutation of the stride-apart words, so the same
    # sectors as in order (4 at stride 1, 8 at 2, 32 at 8), found by sorting, not by a scan
    assert sectors(tmp_path, engine, column=3, stride=1) == [2 * 4] * 2
    assert sectors(tmp_path, engine, column=3, stride=2) == [2 * 8] * 2
    assert sectors(tmp_path, engine, column=3, stride=8) == [2 * 32] * 2


def test_sampled_blocks_of_a_large_launch(tmp_path):
    """Past FEW_BLOCKS blocks the compiled engine records blocks 0 and last and charges the others by them."""
    from pramsim.engines.compiled import FEW_BLOCKS
    blocks = FEW_BLOCKS + 4
    assert sectors(tmp_path, "compiled", stride=2, blocks=blocks) == [2 * 8] * blocks
    assert sectors(tmp_path, "vector", stride=2, blocks=blocks) == [2 * 8] * blocks


def test_warp_sectors_by_hand():
    warps, count = warp_sectors(np.array([0, 0, 0, 1, 1]), np.array([0, 7, 8, 100, 3]), 4)
    # warp 0: elements 0 and 7 share sector 0, element 8 is in sector 1; warp 1: sectors 12 and 0
    assert warps.tolist() == [0, 1] and count.tolist() == [2, 2]
    _, count = warp_sectors(np.zeros(32, int), np.arange(32)[::-1] * 3, 4)  # descending lanes
    assert count.tolist() == [12]  # elements 0..93 at stride 3: bytes 0..375, sectors 0..11
    _, count = warp_sectors(np.zeros(4, int), np.array([0, 1, 2, 3]), 16)  # 16-byte elements
    assert count.tolist() == [2]


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_blelloch_upper_levels_take_a_sector_per_lane(engine):
    """Up-sweep level d reads a[r] and a[r - d] and writes a[r], r = n - 1 - 2dt: lanes 2d elements
    apart. At 2d >= 8 (32 bytes) every lane's access is its own sector: 3 sectors per lane. At d = 1
    a warp's 32 lanes span 64 elements, 256 bytes: 8 sectors per access, 24 per warp."""
    prog = load_program("scan_blelloch")
    params = {"n": 1024}
    ex = Executor(engine=engine)
    execute(prog, params, make_inputs(prog, params, 0), ex)
    up = [launch for launch in ex.trace.launches if launch.kernel == "up_sweep"]
    assert [launch.nprocs for launch in up[:4]] == [512, 256, 128, 64]   # d = 1, 2, 4, 8
    assert int(up[0].block_hbm_sectors.sum()) == 512 // 32 * 24
    for launch in up[2:4]:  # d = 4, 8: stride 8 and 16 elements
        assert int(launch.block_hbm_sectors.sum()) == 3 * launch.nprocs


def test_report_shows_sectors_and_efficiency():
    """vector_mul at n = 1024: 3 coalesced accesses per lane, 4 sectors per warp access: 384 sectors,
    every byte used."""
    out = CliRunner().invoke(main, ["run", "vector_mul", "n=1024", "--json"])
    assert out.exit_code == 0, out.output
    memory = json.loads(out.output)["memory"]
    assert memory["hbm_sectors"] == 3 * 1024 // 32 * 4 and memory["hbm_sector_efficiency"] == 1.0
    out = CliRunner().invoke(main, ["run", "scan_blelloch", "n=1024", "-m", "h100"])
    line = next(x for x in out.output.splitlines() if x.startswith("global"))
    assert "sectors of 32 B" in line and "of their bytes used" in line
    # matmul_naive's A[row, k]: a warp's lanes share one word (a broadcast), one sector for 128 bytes
    out = CliRunner().invoke(main, ["run", "matmul_naive", "n=64", "-m", "h100"])
    line = next(x for x in out.output.splitlines() if x.startswith("global"))
    assert "bytes counted per byte moved: lanes share words" in line


def test_pram_report_shows_no_sectors_nor_wavefronts_but_its_json_does():
    """Sectors and bank conflicts are the GPU model's: a PRAM's memory is flat, and its text report
    leaves them out; --json keeps them for tools, on every machine."""
    out = CliRunner().invoke(main, ["run", "block_sum", "n=2048"])
    assert out.exit_code == 0, out.output
    assert not [x for x in out.output.splitlines() if x.startswith(("global", "shared"))], out.output
    gpu = CliRunner().invoke(main, ["run", "block_sum", "n=2048", "-m", "h100"]).output.splitlines()
    assert [x[:6] for x in gpu if x.startswith(("global", "shared"))] == ["shared", "global"]
    memory = json.loads(CliRunner().invoke(main, ["run", "block_sum", "n=2048", "--json"]).output)["memory"]
    assert memory["hbm_sectors"] > 0 and memory["sram_wavefronts"] > 0


GID_PROGRAM = """import numpy as np
from pramsim.dsl import kernel, program, gid


@kernel
def k(a):
    a[gid()] = a[gid()] + 1.0


def inputs(rng, threads, blocks):
    return {"a": np.zeros(threads * blocks, np.float32)}


@program(params={"threads": 7, "blocks": 40}, inputs=inputs, reference=lambda a, threads, blocks: a + 1)
def prog(a, threads, blocks):
    k[blocks, threads](a)
    return a
"""


def test_counts_only_blocks_at_other_sector_offsets(tmp_path):
    """7-lane blocks start 28 bytes apart: block 0's floats (bytes 0..27) lie in one sector, block
    1's (bytes 28..55) in two. --counts-only runs one block per class of blocks that execute alike;
    its classes are split by the first processor mod 32, so no block gets another's sectors."""
    from pramsim.machine import load_machine
    from pramsim.runner import run_program

    path = tmp_path / "gid_sectors.py"
    path.write_text(GID_PROGRAM)
    prog = load_program(str(path))
    expected = [2 * len({28 * b // 32, (28 * b + 27) // 32}) for b in range(40)]  # a load and a store
    assert expected[:2] == [2, 4]
    for counts_only in (False, True):
        r = run_program(prog, dict(prog.params), load_machine("pram"), counts_only=counts_only)
        assert r.trace.launches[0].block_hbm_sectors.tolist() == expected, counts_only
    # the compiled engine records every block of such a launch (a sample of blocks 0 and 39 was
    # wrong for 19 of the 40 blocks at 100 lanes a block, found in review)
    for threads in (7, 100):
        params = {"threads": threads, "blocks": 40}
        warps = [range(b * threads + w, min(b * threads + w + 32, (b + 1) * threads)) for b in range(40)
                 for w in range(0, threads, 32)]                   # each warp's elements, block by block
        per_warp = [2 * len({e * 4 // 32 for e in warp}) for warp in warps]
        per_block = -(-threads // 32)
        expected = [sum(per_warp[b * per_block:(b + 1) * per_block]) for b in range(40)]
        ex = Executor(engine="compiled")
        execute(prog, params, make_inputs(prog, params, 0), ex)
        assert ex.trace.launches[0].block_hbm_sectors.tolist() == expected, threads
