"""The GPU model's latency and cache terms (issue 14) against hand computations, and
scripts/model_accuracy.py on a small subset of the committed H100 rows.

The toy profile has round numbers: 4 SMs x 32 lanes at 1 GHz, 100 bytes of HBM per cycle,
one HBM latency of 10 cycles; each test switches on the one term it checks.
"""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pramsim.cost import CostTrace, LaunchTrace
from pramsim.dsl import barrier, float32, gid, kernel, lane, shared, zeros
from pramsim.engines.vector import Executor
from pramsim.errors import Loc
from pramsim.machine import load_machine
from pramsim.machine.gpu import cached_fraction, occupancy, simulate_gpu
from pramsim.runtime import use_backend

ROOT = Path(__file__).resolve().parents[1]


def one_launch(blocks, block, hbm_bytes, arg_bytes=0, barriers=0, class_depth=None, depth=1):
    """A trace of one launch of identical blocks (work = threads, depth 1 unless given)."""
    per_block = lambda v: np.full(blocks, v, dtype=np.int64)
    launch = LaunchTrace(kernel="k", loc=Loc(__file__, 1), nprocs=blocks * block, block=block,
                         work=blocks * block, depth=depth, profile=np.zeros(1, np.int64),
                         block_work=per_block(block), block_depth=per_block(depth),
                         block_hbm_bytes=per_block(hbm_bytes), block_flops=per_block(0), sram_per_block=0,
                         barriers=barriers, class_depth=class_depth or {}, arg_bytes=arg_bytes)
    trace = CostTrace()
    trace.launches.append(launch)
    trace.bytes[("hbm", "read")] = blocks * hbm_bytes
    return trace


# ---- caches -------------------------------------------------------------------------------------

def test_rereads_are_charged_at_the_l2_bandwidth(toy):
    # 4 blocks read 10,000 bytes each (40,000) from arrays of 1,000 bytes: 1,000 compulsory bytes
    # from HBM (10 cycles at 100 B/cycle) and 39,000 re-read from L2 (39 cycles at 1,000 B/cycle),
    # side by side: 39 cycles. Without the cache model all 40,000 come from HBM: 400 cycles.
    trace = one_launch(4, 32, 10_000, arg_bytes=1_000)
    cached = dataclasses.replace(toy, l2_bytes=100_000, l2_bytes_per_s=1e12)
    assert simulate_gpu(trace, toy).steps == 400
    assert simulate_gpu(trace, cached).steps == 39
    assert cached_fraction(trace.launches[0], occupancy(trace.launches[0], cached), cached) == pytest.approx(0.975)


def test_rereads_of_a_footprint_larger_than_the_l2_are_hbm_traffic(toy):
    # The same launch with an L2 of 500 bytes: a wave (every block fits at once) works on the
    # whole 1,000-byte footprint, which does not fit: every byte is HBM traffic again.
    trace = one_launch(4, 32, 10_000, arg_bytes=1_000)
    small = dataclasses.replace(toy, l2_bytes=500, l2_bytes_per_s=1e12)
    assert simulate_gpu(trace, small).steps == 400


def test_a_launch_without_rereads_is_unchanged_by_the_cache(toy):
    trace = one_launch(4, 32, 1_000, arg_bytes=4_000)   # reads less than its arrays hold
    cached = dataclasses.replace(toy, l2_bytes=100_000, l2_bytes_per_s=1e12)
    assert simulate_gpu(trace, cached).steps == simulate_gpu(trace, toy).steps == 40


def test_writes_reach_hbm_and_only_reads_beyond_the_arrays_read_are_rereads(toy):
    # A read-modify-write launch: 4 blocks read 1,000 bytes and write 1,000 bytes each of an array
    # of 4,000 bytes (reads 4,000, the array read 4,000: no re-read). Every byte is HBM traffic:
    # 8,000 bytes at 100 B/cycle = 80 cycles, cache or not. (Counting reads and writes together
    # against the footprint, the model served half of it from L2: 40 cycles.)
    trace = one_launch(4, 32, 2_000, arg_bytes=4_000)
    launch = trace.launches[0]
    launch.read_arg_bytes = 4_000
    launch.bytes.update({("hbm", "read"): 4_000, ("hbm", "write"): 4_000})
    cached = dataclasses.replace(toy, l2_bytes=100_000, l2_bytes_per_s=1e12)
    assert cached_fraction(launch, occupancy(launch, cached), cached) == 0
    assert simulate_gpu(trace, cached).steps == simulate_gpu(trace, toy).steps == 80
    # reading the 4,000 bytes twice (8,000 read, 4,000 written): 4,000 bytes are re-reads, a third
    launch.block_hbm_bytes[:] = 3_000
    launch.bytes[("hbm", "read")] = 8_000
    assert cached_fraction(launch, occupancy(launch, cached), cached) == pytest.approx(4_000 / 12_000)


@kernel
def axpy(x, y, n):
    i = gid()
    if i < n:
        y[i] = 2.0 * x[i] + y[i]


@kernel
def mul(x, y, out, n):
    i = gid()
    if i < n:
        out[i] = x[i] * y[i]


def test_a_read_modify_write_launch_is_not_faster_than_the_same_traffic_to_a_third_array():
    # y = 2x + y moves 3 arrays' bytes (x, y read; y written back), as out = x * y does: on the
    # H100 profile both are HBM-bound and must take the same time (the review of issue 14 found
    # the read-modify-write one predicted 33% faster).
    h100 = load_machine("h100")
    n = 2**22
    times = {}
    for k, extra in ((axpy, 0), (mul, 1)):
        ex = Executor()
        with use_backend(ex):
            x, y = ex.array(np.ones(n, np.float32), "x"), ex.array(np.ones(n, np.float32), "y")
            k[-(-n // 256), 256](x, y, *[zeros(n, float32)] * extra, n)
        assert ex.trace.launches[0].read_arg_bytes == 2 * 4 * n
        times[k] = simulate_gpu(ex.trace, h100).device_s
    assert times[axpy] == pytest.approx(times[mul], rel=0.02)


@kernel
def split(out, n, m):
    i = gid()
    if i < n:
        out[i] = i // m + i % m


@kernel
def halve(out, n, t):
    i = gid()
    k = t * 4
    s = 0
    for j in range(3):
        s = s + i // (j + 1)       # a loop variable: run time
    if i < n:
        out[i] = i // 2 + i % t + i // k + s // 8


def test_a_divisor_known_when_compiling_is_not_a_run_time_division():
    # `i // 2`, `s // 8`: constants; `i % t`, `i // k`: t is a shape parameter here (a literal in
    # the lowered kernel) only if a shared array's shape uses it, which it does not: run time,
    # as is `k`, assigned from it; `i // (j + 1)` divides by a loop variable.
    from pramsim.lang import ir
    ids = ir.runtime_divisions(halve.ir)
    runtime = sorted(ir.format_expr(e) for s in ir.walk_stmts(halve.ir.body) for top in ir.stmt_exprs(s)
                     for e in ir.walk_expr(top) if id(e) in ids)
    assert runtime == ["i % t", "i // (j + 1)", "i // k"]
    ex = Executor()
    with use_backend(ex):
        halve[2, 32](zeros(64, np.int64), 64, 3)
    assert ex.trace.launches[0].runtime_divides == 64 * (3 + 2)


@kernel
def tiled_divide(out, t):
    buf = shared(t, float32)
    k = t * 2
    i = gid()
    buf[lane() % t] = 1.0
    out[i] = i // t + i % k


@kernel
def tiled_reassigned(out, t):
    buf = shared(t, float32)
    i = gid()
    buf[lane() % t] = 1.0
    t = t + 1
    out[i] = i // t


def test_a_shape_parameter_and_registers_computed_from_it_are_compile_time_divisors():
    from pramsim.lang import ir
    assert ir.runtime_divisions(tiled_divide.ir) == frozenset()
    # assigned in the kernel, the shape parameter is a variable there (a literal only in the
    # shape): `lane() % t` and `i // t` both divide at run time
    divisions = {id(e) for s in ir.walk_stmts(tiled_reassigned.ir.body) for top in ir.stmt_exprs(s)
                 for e in ir.walk_expr(top) if isinstance(e, ir.BinOp) and e.op in ("//", "%")}
    assert len(divisions) == 2 and ir.runtime_divisions(tiled_reassigned.ir) == frozenset(divisions)


@kernel
def shift(out, n, m):
    i = gid()
    if i < n:
        out[i] = i * m + i - m


def test_integer_division_issues_a_subroutine_of_instructions(toy):
    # Two kernels of equal unit-cost work, 5 operations a thread (a compare, two arithmetic
    # operations, an add, a store); one of them divides twice. With int_divide_instructions = 50
    # each // and % is 50 lane-cycles: the divide kernel issues (5 + 2 * 49) / 5 = 20.6 times the
    # lane-cycles, 4,096 * 103 / 128 lanes = 3,296 cycles, compute-bound; the other one is bound by
    # its 32,768 bytes of stores (328 cycles at 100 B/cycle) whatever the weight.
    from pramsim.machine.gpu import issue_factor
    weighted = dataclasses.replace(toy, int_divide_instructions=50.0)
    traces = {}
    for k in (split, shift):
        ex = Executor()
        with use_backend(ex):
            k[16, 256](zeros(4096, np.int64), 4096, 7)
        traces[k] = ex.trace
        assert ex.trace.work == 5 * 4096
    launch = traces[split].launches[0]
    assert launch.counts[("int", "//")] == launch.counts[("int", "%")] == 4096
    assert launch.runtime_divides == 2 * 4096                    # m is a launch parameter
    assert issue_factor(launch, weighted) == pytest.approx(103 / 5)
    assert issue_factor(launch, toy) == 1.0                       # no weight in the profile: unit cost
    assert simulate_gpu(traces[split], weighted).steps == pytest.approx(4096 * 103 / 128, rel=0.01)
    assert simulate_gpu(traces[split], toy).steps == simulate_gpu(traces[shift], weighted).steps == 328


@kernel
def strided(src, out, s):
    i = gid()
    out[i] = src[i * s]


def test_an_uncoalesced_read_moves_whole_sectors(toy):
    # 4,096 threads copy src[i * s]: at s = 1 a warp reads 4 sectors (128 B) and writes 4; at s = 8
    # each lane's word is in its own sector: 32 sectors (1,024 B) read for 128 B counted. Bytes
    # moved per warp: 256 against 1,152, so the memory-bound launch takes 4.5 times as long
    # (4,096 / 32 warps x 256 B / 100 B per cycle = 328 cycles, against 1,475).
    steps = {}
    for s in (1, 8):
        ex = Executor()
        with use_backend(ex):
            src = ex.array(np.ones(4096 * s, np.float32), "src")
            strided[16, 256](src, zeros(4096, float32), s)
        launch = ex.trace.launches[0]
        assert int(launch.block_hbm_sectors.sum()) == 128 * (4 + (4 if s == 1 else 32))
        assert int(launch.block_hbm_bytes.sum()) == 4096 * 8       # the cost model's bytes do not change
        steps[s] = simulate_gpu(ex.trace, toy).steps
    assert steps[1] == 328 and steps[8] == pytest.approx(1475, abs=1)


# ---- latency on a block's critical path -------------------------------------------------------------

def test_barrier_rounds_and_shared_accesses_follow_the_blocks_memory(toy):
    # One block loads 400 bytes (4 cycles at 100 B/cycle; one HBM latency, 10 cycles, is longer),
    # then runs 6 barrier rounds (20 cycles each) and 17 dependent shared accesses (30 each):
    # 10 + 6 * 20 + 17 * 30 = 640 cycles. Without the terms the block's memory and its unit-cost
    # depth (50) overlap: 50 cycles.
    trace = one_launch(1, 32, 400, barriers=6, class_depth={"hbm": 1, "sram": 17, "flop": 5}, depth=50)
    latent = dataclasses.replace(toy, sram_latency_cycles=30.0, barrier_latency_cycles=20.0)
    assert simulate_gpu(trace, toy).steps == 50
    assert simulate_gpu(trace, latent).steps == 10 + 6 * 20 + 17 * 30


def test_enough_resident_work_hides_the_latency(toy):
    # 32 blocks of 32 threads, 8 per SM, each with 1,000 operations per thread: 8 blocks share an
    # SM's 32 lanes, so each computes 1,000 * 32 / 4 = 8,000 cycles, longer than its latency path
    # (10 + 2 * 20 + 3 * 30 = 140): the SM's throughput, not the latency, sets the time.
    trace = one_launch(32, 32, 128, barriers=2, class_depth={"hbm": 1, "sram": 3}, depth=1000)
    launch = trace.launches[0]
    launch.block_work[:] = 32 * 1000
    launch.work = int(launch.block_work.sum())
    latent = dataclasses.replace(toy, sram_latency_cycles=30.0, barrier_latency_cycles=20.0)
    assert simulate_gpu(trace, latent).steps == simulate_gpu(trace, toy).steps == 8000


@kernel
def tree32(a, out):
    s = shared(32, float32)
    t = lane()
    s[t] = a[gid()]
    barrier()
    k = 16
    while k > 0:
        if t < k:
            s[t] = s[t] + s[t + k]
        barrier()
        k = k // 2
    if t == 0:
        out[0] = s[0]


def test_the_executor_records_the_chains_the_latency_term_uses(toy):
    # Lane 0's shared accesses: 1 store, 5 rounds of 2 loads and a store, 1 load = 17; its HBM
    # accesses: 1 load and 1 store; 6 barriers; arrays of 128 + 4 bytes.
    ex = Executor()
    with use_backend(ex):
        a = ex.array(np.arange(32, dtype=np.float32), "a")
        out = zeros(1, np.float32)
        tree32[1, 32](a, out)
    launch = ex.trace.launches[0]
    assert launch.class_depth["sram"] == 17 and launch.class_depth["hbm"] == 2
    assert launch.barriers == 6 and launch.arg_bytes == 128 + 4
    latent = dataclasses.replace(toy, sram_latency_cycles=30.0, barrier_latency_cycles=20.0, hbm_bytes_per_s=1e15)
    # memory: one HBM latency (10; the chain of 2 dependent accesses is not charged: no dependent latency
    # in toy); then 6 * 20 + 17 * 30 = 630.
    assert simulate_gpu(ex.trace, latent).steps == 10 + 630


# ---- the accuracy script ---------------------------------------------------------------------------

def test_model_accuracy_runs_on_a_small_subset(tmp_path):
    """Two validate-size rows on the vector executor, in sample only: the measured figures are the
    committed ones and the errors are (predicted - measured) / measured."""
    env = {**os.environ, "PRAMSIM_TRACE_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts/model_accuracy.py"), "--json", "--set", "validate",
                          "--only", "vector_mul,outer_product", "--no-loo"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    measured = {r["program"]: r["measured_s"]
                for r in json.loads((ROOT / "docs/validation/h100-2026-11-23-validate.json").read_text())["rows"]}
    assert [r["program"] for r in report["rows"]] == ["vector_mul", "outer_product"]
    for r in report["rows"]:
        assert r["measured_s"] == measured[r["program"]]
        assert r["in_sample_err"] == pytest.approx((r["in_sample_s"] - r["measured_s"]) / r["measured_s"])
        assert r["in_sample_s"] == pytest.approx(r["device_s"] + r["host_s"])
    errs = sorted(abs(r["in_sample_err"]) for r in report["rows"])
    assert report["summary"]["in_sample"]["median"] == pytest.approx(sum(errs) / 2)
    assert report["summary"]["in_sample"]["within_25"] == sum(e <= 0.25 for e in errs)
    assert len(list(tmp_path.glob("*.pkl"))) == 2    # the traces were cached
