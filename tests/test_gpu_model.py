"""The GPU timing model (pramsim.machine.gpu) on cases whose answer can be counted by hand.

Traces come from tiny DSL kernels run by the executor, or are built as LaunchTrace objects
directly when the figures must be exact. A small made-up profile (`toy`) with round numbers
keeps the hand counts readable.
"""
import dataclasses
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import simpy

from pramsim.cost import CostTrace, LaunchTrace
from pramsim.dsl import barrier, float32, gid, kernel, lane, shared, zeros
from pramsim.errors import Loc, MachineError
from pramsim.engines.vector import Executor
from pramsim.machine import load_machine
from pramsim.machine.gpu import SharedBandwidth, occupancy, simulate_gpu
from pramsim.machine.schedule import Brent
from pramsim.runtime import use_backend

A100 = load_machine("a100")
H100 = load_machine("h100")
H200 = load_machine("h200")


def launch_trace(blocks, block, work, depth, hbm_bytes=0, sram=0, flops=0, kernel_name="k"):
    """A LaunchTrace of `blocks` blocks; work/depth/hbm_bytes per block (scalars or arrays)."""
    per_block = lambda v: np.broadcast_to(np.asarray(v, dtype=np.int64), (blocks,)).copy()
    w, d = per_block(work), per_block(depth)
    return LaunchTrace(kernel=kernel_name, loc=Loc(__file__, 1), nprocs=blocks * block, block=block,
                       work=int(w.sum()), depth=int(d.max()), profile=np.zeros(1, np.int64), block_work=w,
                       block_depth=d, block_hbm_bytes=per_block(hbm_bytes), block_flops=per_block(flops),
                       sram_per_block=sram)


def trace_of(*launches):
    t = CostTrace()
    t.launches.extend(launches)
    t.bytes[("hbm", "read")] = sum(int(l.block_hbm_bytes.sum()) for l in launches)
    t.counts[("flop", "+")] = sum(l.work for l in launches)
    return t


def run_host(host, **arrays):
    """Run host code on the executor with the given input arrays; return the CostTrace."""
    ex = Executor()
    with use_backend(ex):
        host(**{name: ex.array(a, name) for name, a in arrays.items()})
    return ex.trace


# ---- kernels ---------------------------------------------------------------------------------------

@kernel
def add(a, b, c, n):
    i = gid()
    if i < n:
        c[i] = a[i] + b[i]


@kernel
def iterate(a, out, n, steps):
    i = gid()
    if i < n:
        x = a[i]
        for k in range(steps):
            x = x * 0.999 + 0.001
        out[i] = x


@kernel
def staged(a, out, n):
    s = shared((13235,), float32)   # 52,940 bytes = 51.7 KB, the seed's small-tile SRAM per block
    i = gid()
    if i < n:
        s[lane()] = a[i]
    barrier()
    if i < n:
        out[i] = s[lane()] * 2.0


@kernel
def too_big(a, out, n):
    s = shared((45000,), float32)   # 180,000 bytes: more than an A100 SM's 167,936
    i = gid()
    if i < n:
        s[lane()] = a[i]
        out[i] = s[lane()]


@kernel
def chase(nxt, out, n, k):
    i = gid()
    if i < n:
        p = i
        for j in range(k):
            p = nxt[p]          # each load's address is the value of the one before
        out[i] = p


def chase_trace(n, k):
    nxt = np.random.default_rng(4).permutation(n).astype(np.int32)

    def host(nxt):
        out = zeros(n, np.int32)
        chase[n](nxt, out, n, k)

    return run_host(host, nxt=nxt)


def elementwise_trace(n):
    rng = np.random.default_rng(0)

    def host(a, b):
        c = zeros(n, np.float32)
        add[n](a, b, c, n)

    return run_host(host, a=rng.standard_normal(n).astype(np.float32), b=rng.standard_normal(n).astype(np.float32))


def iterate_trace(n, steps):
    def host(a):
        out = zeros(n, np.float32)
        iterate[n](a, out, n, steps)

    return run_host(host, a=np.random.default_rng(1).standard_normal(n).astype(np.float32))


def staged_trace(n, k=staged):
    def host(a):
        out = zeros(n, np.float32)
        k[n](a, out, n)

    return run_host(host, a=np.random.default_rng(2).standard_normal(n).astype(np.float32))


# ---- occupancy ---------------------------------------------------------------------------------------

def test_occupancy_from_shared_memory_of_a_dsl_kernel():
    trace = staged_trace(4096)
    (launch,) = trace.launches
    assert launch.sram_per_block == 13235 * 4 == 52940
    occ = occupancy(launch, A100)
    assert occ.blocks_per_sm == 167936 // 52940 == 3 and occ.limited_by == "sram"
    assert occ.slots == 108 * 3 and occ.blocks == 16 and occ.waves == 1
    assert occ.occupancy == pytest.approx(3 * 256 / 2048)      # 37.5%, the seed's figure
    assert occupancy(launch, H100).blocks_per_sm == 233472 // 52940 == 4
    details = simulate_gpu(trace, A100).details["occupancy"]
    assert details["blocks_per_sm"] == 3 and details["sram_per_block_bytes"] == 52940 and details["waves"] == 1


@pytest.mark.parametrize("block,sram,per_sm,limit", [
    (1024, 0, 2, "threads"),          # 2048 threads per SM
    (32, 0, 32, "blocks"),            # 2048 // 32 = 64 > 32 blocks per SM
    (128, 154_000, 1, "sram"),        # the seed's 120x120 tile: 150.9 KB -> 1 block per SM
    (64, 5_000, 32, "blocks"),        # 167936 // 5000 = 33 > 32
])
def test_occupancy_takes_the_tightest_limit(block, sram, per_sm, limit):
    occ = occupancy(launch_trace(1000, block, block, 1, sram=sram), A100)
    assert (occ.blocks_per_sm, occ.limited_by) == (per_sm, limit)
    assert occ.waves == -(-1000 // (108 * per_sm))


def test_a_block_needing_more_sram_than_an_sm_has_is_an_error_naming_kernel_and_sizes():
    trace = staged_trace(512, k=too_big)
    with pytest.raises(MachineError) as info:
        simulate_gpu(trace, A100)
    msg = str(info.value)
    assert "too_big" in msg and "180,000" in msg and "167,936" in msg
    assert info.value.loc.file == __file__      # the launch in this file
    simulate_gpu(trace, H100)                   # 233,472 bytes per SM: it fits there


def test_a_block_with_more_threads_than_an_sm_holds_is_an_error():
    with pytest.raises(MachineError, match="4,096 threads per block"):
        simulate_gpu(trace_of(launch_trace(2, 4096, 4096, 1)), A100)


# ---- hand-counted schedules on the toy profile ------------------------------------------------------

def test_shared_bandwidth_is_fair_fluid_sharing():
    env = simpy.Environment()
    hbm = SharedBandwidth(env, 10.0)        # bytes per cycle
    ends = {}

    def stream(name, at, nbytes):
        yield env.timeout(at)
        yield hbm.transfer(1, nbytes)
        ends[name] = env.now

    env.process(stream("A", 0, 100))
    env.process(stream("B", 5, 20))
    env.run()
    # A alone for 5 cycles (50 bytes); then 5 B/cycle each: B's 20 bytes end at 9 (A has 70);
    # A alone again: 30 bytes at 10 B/cycle end at 12 = 120 bytes / 10.
    assert ends == pytest.approx({"A": 12.0, "B": 9.0})


def test_compute_waves_and_lane_sharing(toy):
    # 10 blocks of 32 threads, 512 bytes of SRAM each -> 2 per SM, 8 slots, 2 waves.
    # Wave 1: 2 blocks per SM share 32 lanes -> 16 lanes, 320 ops / 16 = 20 cycles.
    # Wave 2: 2 blocks alone on 4 SMs -> 32 lanes each -> max(depth 10, 320/32) = 10 cycles.
    launch = launch_trace(10, 32, 320, 10, sram=512)
    s = simulate_gpu(trace_of(launch), toy)
    assert s.details["occupancy"]["blocks_per_sm"] == 2 and s.details["occupancy"]["waves"] == 2
    assert s.steps == 30 and s.time_s == pytest.approx(30e-9)
    assert s.steps >= max(-(-launch.work // toy.p), launch.depth)       # 25 and 10


def test_memory_is_shared_and_latency_overlaps(toy):
    # 8 blocks of 1000 bytes in flight together: 8000 bytes at 100 bytes/cycle = 80 cycles.
    assert simulate_gpu(trace_of(launch_trace(8, 32, 32, 1, hbm_bytes=1000)), toy).steps == 80
    # Unequal streams end at different times, but the total still streams at full bandwidth.
    uneven = launch_trace(8, 32, 32, 1, hbm_bytes=[500, 1500] * 4)
    assert simulate_gpu(trace_of(uneven), toy).steps == 80
    # One small transfer is latency-bound: max(latency 10, 100 bytes / 100) = 10 cycles.
    assert simulate_gpu(trace_of(launch_trace(1, 32, 32, 1, hbm_bytes=100)), toy).steps == 10
    # Compute and memory overlap. 8 blocks on 4 SMs: 2 per SM, 16 lanes each.
    # max(compute 16*90/16 = 90, memory 80) and max(compute 50, memory 80).
    assert simulate_gpu(trace_of(launch_trace(8, 32, 16 * 90, 90, hbm_bytes=1000)), toy).steps == 90
    assert simulate_gpu(trace_of(launch_trace(8, 32, 16 * 50, 50, hbm_bytes=1000)), toy).steps == 80
    # 32 lanes shared by 2 blocks: a block doing 32 ops per step takes twice its depth.
    assert simulate_gpu(trace_of(launch_trace(8, 32, 32 * 90, 90)), toy).steps == 180


def test_depth_bound_block_takes_its_depth(toy):
    s = simulate_gpu(trace_of(launch_trace(1, 32, 1000, 1000)), toy)   # one processor, 1000 steps
    assert s.steps == 1000


def test_launches_run_in_sequence_and_overlap_the_host(toy):
    launches = (launch_trace(10, 32, 320, 10, sram=512), launch_trace(1, 32, 1000, 1000))   # 30 and 1000 cycles
    # Host-bound: each launch takes the host 1 µs = 1000 cycles to issue. Launch 1 is issued at
    # 1000 and ends at 1030; launch 2 is issued at 2000, when the device is idle again.
    s = simulate_gpu(trace_of(*launches), dataclasses.replace(toy, launch_overhead_s=1e-6))
    assert s.steps == 30 + 1000
    assert [(seg.start, seg.end) for seg in s.segments] == [(1000, 1030), (2000, 3000)]
    assert s.time_s == pytest.approx(3000e-9)
    assert s.details["gpu"]["host_wait_s"] == pytest.approx(1000e-9 + 970e-9)
    # Device-bound: 10 cycles to issue. Launch 2 is issued at 20 but waits for launch 1 (ends at 40).
    s = simulate_gpu(trace_of(*launches), dataclasses.replace(toy, launch_overhead_s=10e-9))
    assert [(seg.start, seg.end) for seg in s.segments] == [(10, 40), (40, 1040)]
    assert s.time_s == pytest.approx(1040e-9)
    # The program's own host time comes first: every launch is issued 500 cycles later.
    s = simulate_gpu(trace_of(*launches), dataclasses.replace(toy, launch_overhead_s=10e-9, program_overhead_s=500e-9))
    assert [(seg.start, seg.end) for seg in s.segments] == [(510, 540), (540, 1540)]
    assert s.time_s == pytest.approx(1540e-9)


def test_a_host_bound_program_pays_every_launch(toy):
    # Three launches of one cycle each: the device always waits for the host, so the time is the
    # program's overhead + 3 launch overheads + the last launch's cycle.
    machine = dataclasses.replace(toy, launch_overhead_s=2e-6, program_overhead_s=5e-6)
    tiny = launch_trace(1, 32, 32, 1)
    s = simulate_gpu(trace_of(tiny, tiny, tiny), machine)
    assert s.steps == 3
    assert s.time_s == pytest.approx(5e-6 + 3 * 2e-6 + 1e-9)
    assert simulate_gpu(trace_of(tiny), machine).time_s == pytest.approx(5e-6 + 2e-6 + 1e-9)
    assert simulate_gpu(trace_of(), machine).time_s == pytest.approx(5e-6)   # no launch: the host's time only


def test_a_chain_of_dependent_loads_pays_a_latency_per_access(toy):
    # Each thread loads k times from HBM, each address the previous value, then stores once: k + 1
    # accesses of 4 bytes on its chain. 32 threads in one block move 128 (k + 1) bytes, 1.28 (k + 1)
    # cycles at 100 bytes/cycle: the chain, 50 cycles per access, is what takes the time.
    machine = dataclasses.replace(toy, hbm_dependent_latency_cycles=50)
    for k in (1, 10, 40):
        trace = chase_trace(32, k)
        assert trace.depth_by_class["hbm"] == k + 1          # the executor's count of the chain
        s = simulate_gpu(trace, machine)
        assert s.steps == 50 * (k + 1) >= 50 * k
        assert s.steps > trace.depth                          # longer than the unit-cost critical path
        # Without the term only one latency (10 cycles) is charged: the unit-cost depth sets the time.
        assert simulate_gpu(trace, toy).steps == max(trace.depth, 10)


def test_dependent_accesses_count_a_partial_blocks_own_threads(toy):
    # 256 + 44 threads: the full block's threads make 10 accesses each, the partial block's 20.
    launch = LaunchTrace(kernel="k", loc=Loc(__file__, 1), nprocs=300, block=256, work=300, depth=1,
                         profile=np.zeros(1, np.int64), block_work=np.array([256, 44]), block_depth=np.array([1, 1]),
                         block_hbm_bytes=np.array([256 * 10 * 4, 44 * 20 * 4]), block_flops=np.zeros(2, np.int64),
                         sram_per_block=0)
    machine = dataclasses.replace(toy, max_threads_per_sm=256, hbm_bytes_per_s=1e15, hbm_dependent_latency_cycles=50)
    assert simulate_gpu(trace_of(launch), machine).steps == 20 * 50


# ---- calibration-free sanity on the shipped profiles ---------------------------------------------

@pytest.mark.parametrize("machine", [A100, H100, H200], ids=["a100", "h100", "h200"])
def test_memory_bound_elementwise_takes_bytes_over_bandwidth(machine):
    n = 2**20
    trace = elementwise_trace(n)
    assert trace.bytes[("hbm", "read")] == 8 * n and trace.bytes[("hbm", "write")] == 4 * n
    s = simulate_gpu(trace, machine)
    predicted = 12 * n / machine.hbm_bytes_per_s + machine.launch_overhead_s + machine.program_overhead_s
    assert s.time_s == pytest.approx(predicted, rel=0.02)
    assert s.details["roofline"]["bound"] == "memory" and s.details["roofline"]["model_bound"] == "memory"
    assert s.details["roofline"]["arithmetic_intensity"] == pytest.approx(1 / 12)


@pytest.mark.parametrize("machine", [A100, H100, H200], ids=["a100", "h100", "h200"])
def test_compute_bound_kernel_takes_work_over_lanes(machine):
    blocks = machine.sms * (machine.max_threads_per_sm // 256)   # exactly one full wave
    trace = iterate_trace(blocks * 256, 100)   # 200 flops per 8 bytes: past both ridge points
    s = simulate_gpu(trace, machine)
    predicted = (trace.work / (machine.sms * machine.lanes_per_sm * machine.clock_hz) + machine.launch_overhead_s
                 + machine.program_overhead_s)
    assert s.time_s == pytest.approx(predicted, rel=0.02)
    assert s.details["roofline"]["bound"] == "compute" and s.details["roofline"]["model_bound"] == "compute"


def test_h200_is_the_h100_sm_with_the_datasheet_memory_and_the_h100_host_fit_marked_estimate():
    """H200 SXM datasheet: 141 GB HBM3e at 4.8 TB/s, FP32 67 TFLOPS; the SM is the H100's; the
    host and latency terms are the h100 fit, and the profile says every unmeasured figure is one."""
    assert (H200.hbm_bytes, H200.hbm_bytes_per_s) == (141_000_000_000, 4.8e12)
    for field in ("sms", "lanes_per_sm", "clock_hz", "max_threads_per_sm", "max_threads_per_block",
                  "max_blocks_per_sm", "sram_bytes_per_sm", "sram_bytes_per_cycle", "hbm_latency_cycles",
                  "launch_overhead_s", "program_overhead_s", "hbm_dependent_latency_cycles", "l2_bytes",
                  "l2_bytes_per_s", "sram_latency_cycles", "barrier_latency_cycles", "alu_latency_cycles",
                  "int_divide_instructions"):
        assert getattr(H200, field) == getattr(H100, field), field
    assert 2 * H200.p * H200.clock_hz == pytest.approx(67e12, rel=0.01)   # the datasheet's FP32 peak
    assert "Not measured on an H200" in H200.source and "datasheet" in H200.source
    for figure in ("54.8 us", "230 us", "118", "700 cycles"):
        assert figure in H200.source and "estimate" in H200.source
    # same SMs, more bandwidth: a memory-bound kernel's device time drops by the bandwidth ratio
    trace = elementwise_trace(2**22)
    ratio = simulate_gpu(trace, H200).device_s / simulate_gpu(trace, H100).device_s
    assert ratio == pytest.approx(H100.hbm_bytes_per_s / H200.hbm_bytes_per_s, rel=0.05)


def test_more_sms_or_bandwidth_is_never_slower():
    traces = [elementwise_trace(100_000), iterate_trace(50_000, 10), staged_trace(30_000),
              trace_of(launch_trace(5000, 128, np.arange(5000) % 97 * 128 + 128, np.arange(5000) % 97 + 1,
                                    hbm_bytes=np.arange(5000) % 13 * 512))]
    for trace in traces:
        by_sms = [simulate_gpu(trace, dataclasses.replace(A100, sms=k)).steps for k in (13, 27, 54, 108, 216, 432)]
        assert by_sms == sorted(by_sms, reverse=True), by_sms
        by_bw = [simulate_gpu(trace, dataclasses.replace(A100, hbm_bytes_per_s=b)).steps
                 for b in (1e11, 5e11, 1555e9, 5e12)]
        assert by_bw == sorted(by_bw, reverse=True), by_bw


def test_brent_lower_bound_holds_by_construction():
    rng = np.random.default_rng(3)
    traces = [elementwise_trace(3000), iterate_trace(7000, 5), staged_trace(1000)]
    for _ in range(6):   # irregular blocks, several launches, some fragmenting past MAX_COHORTS
        blocks = int(rng.integers(1, 20_000))
        depth = rng.integers(1, 50, blocks)
        traces.append(trace_of(*(launch_trace(blocks, 64, depth * rng.integers(1, 65, blocks), depth,
                                              hbm_bytes=rng.integers(0, 4096, blocks)) for _ in range(2))))
    for trace in traces:
        for machine in (A100, H100):
            s = simulate_gpu(trace, machine)
            b = Brent.check(trace.work, trace.depth, s.p, s.steps)
            assert s.p == machine.sms * machine.lanes_per_sm
            assert b.lower <= s.steps, (b, machine.name)


def test_a_launch_of_100k_blocks_simulates_in_well_under_a_second():
    uniform = launch_trace(100_000, 256, 256 * 12, 12, hbm_bytes=3072)
    irregular = launch_trace(100_000, 256, 256 * (np.arange(100_000) % 50 + 1), np.arange(100_000) % 50 + 1,
                             hbm_bytes=3072)
    for launch in (uniform, irregular):
        t0 = time.perf_counter()
        s = simulate_gpu(trace_of(launch), H100)
        assert time.perf_counter() - t0 < 1.0
        assert s.events < 20_000
        # Whatever the aggregation, the schedule keeps the lower bounds: bytes / bandwidth and W/p.
        cycles_for_bytes = launch.block_hbm_bytes.sum() / (H100.hbm_bytes_per_s / H100.clock_hz)
        assert s.steps >= max(cycles_for_bytes, launch.work / H100.p)


def test_run_json_reports_time_occupancy_and_roofline(tmp_path):
    src = tmp_path / "scale.py"
    src.write_text(
        "import numpy as np\n"
        "from pramsim.dsl import gid, kernel, program, zeros\n"
        "@kernel\n"
        "def scale(a, out, n):\n"
        "    i = gid()\n"
        "    if i < n:\n"
        "        out[i] = a[i] * 2.0\n"
        "@program(params={'n': 4096}, inputs=lambda rng, n: {'a': rng.standard_normal(n).astype(np.float32)},\n"
        "         reference=lambda a, n: 2.0 * a.astype(np.float64))\n"
        "def scale_all(a, n):\n"
        "    out = zeros(n, np.float32)\n"
        "    scale[n](a, out, n)\n"
        "    return out\n")
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "run", str(src), "n=65536", "--machine", "a100", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["correct"] and data["occupancy"]["blocks_per_sm"] == 8 and data["occupancy"]["waves"] == 1
    assert data["roofline"]["bound"] == "memory" and data["roofline"]["hbm_bytes"] == 8 * 65536
    assert data["time_s"] == pytest.approx(8 * 65536 / 1555e9 + A100.launch_overhead_s + A100.program_overhead_s,
                                           rel=0.1)
    assert data["steps"] >= data["brent"]["lower"]


def test_calibration_recovers_the_values_that_made_synthetic_measurements(toy):
    """scripts/calibrate.py's fit, on times the model itself produced with known values."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("calibrate", Path(__file__).resolve().parents[1] / "scripts" / "calibrate.py")
    calibrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibrate)
    one = launch_trace(64, 32, 32 * 20, 20, hbm_bytes=32 * 12)
    traces = [trace_of(one), trace_of(*[one] * 3), trace_of(*[one] * 10), chase_trace(32, 40), chase_trace(64, 5),
              trace_of(launch_trace(8, 32, 32 * 4000, 4000))]
    truth = {"program_overhead_s": 30e-6, "launch_overhead_s": 4e-6, "hbm_dependent_latency_cycles": 120.0}
    measured = np.array([simulate_gpu(t, dataclasses.replace(toy, **truth)).time_s for t in traces])
    model = calibrate.Model(traces, toy)
    theta = calibrate.fit(model, measured, list(range(len(traces))))
    assert theta == pytest.approx(list(truth.values()), rel=0.02)
    assert model.predict(theta, list(range(len(traces)))) == pytest.approx(measured, rel=0.01)
