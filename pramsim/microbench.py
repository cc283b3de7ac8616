"""`pramsim calibrate` without --from-json: measure the GPU (numba.cuda) for a machine profile.

`measure(small)` reads the device's attributes and times, with CUDA events (median of repeats
after a warm-up): a grid-stride copy (bytes read + written), fp32 FMA chains, the host time of an
empty launch, shared-memory reads without and with 32-way bank conflicts, a pointer chase through
a large array (dependent global loads) and repeated reads of a small array (L2). It returns a
dict in the measurement format of pramsim.profile_writer (plus `simulated`, `seconds`).

Under numba's CUDA simulator (no GPU) the kernels run at tiny sizes, only to check that the
pipeline runs: the device attributes are then placeholders (the simulator has none) and every
figure times a Python simulation, not a GPU; the result says so (`simulated: true`), and so does
the profile's source.
"""
from __future__ import annotations

import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import gpu_runner, outfile

# Placeholders for the simulator, which has no device attributes (round, plainly not a GPU's).
SIMULATED_ATTRIBUTES = {"sms": 1, "max_threads_per_sm": 2048, "max_threads_per_block": 1024, "max_blocks_per_sm": 32,
                        "clock_hz": 1e9, "sram_bytes_per_sm": 65536, "sram_bytes_per_block": 49152,
                        "memory_bytes": 2**30}
_K: dict[str, Any] = {}


cuda: Any = None  # numba.cuda, a module global: the simulator looks the kernels' `cuda` up in their globals


def _kernels(module: Any) -> dict[str, Any]:
    """The benchmark kernels, compiled once numba.cuda is set up (gpu_runner.cuda_module)."""
    global cuda
    if _K:
        return _K
    cuda = module
    from numba import float32, int32, int64

    @cuda.jit
    def copy(src, dst):
        i = cuda.grid(1)
        while i < src.size:
            dst[i] = src[i]
            i += cuda.gridsize(1)

    @cuda.jit
    def fma(out, iters):
        i = cuda.grid(1)
        a = float32(i) * float32(1e-7)
        b, c, d = a + float32(1.0), a + float32(2.0), a + float32(3.0)
        for _ in range(iters):  # four independent chains: the latency of one FMA is hidden
            a = a * float32(0.999) + float32(1e-6)
            b = b * float32(0.999) + float32(1e-6)
            c = c * float32(0.999) + float32(1e-6)
            d = d * float32(0.999) + float32(1e-6)
        out[i] = a + b + c + d

    @cuda.jit
    def empty():
        pass

    @cuda.jit
    def shared(out, iters, stride):
        buf = cuda.shared.array(8192, float32)  # 32 KiB
        t = cuda.threadIdx.x
        for k in range(t, 8192, cuda.blockDim.x):
            buf[k] = float32(k)
        cuda.syncthreads()
        acc = float32(0.0)
        idx = (t * stride) % 8192  # stride 1: 32 banks; stride 32: one bank, a 32-way conflict
        for j in range(iters):
            acc += buf[(idx + j) % 8192]
        out[cuda.grid(1)] = acc

    @cuda.jit
    def chase(nxt, steps, out):
        j = int32(0)
        for _ in range(steps):  # each load's address is the previous load's value
            j = nxt[j]
        out[0] = j

    @cuda.jit
    def reread(src, reps, out):
        i = cuda.grid(1)
        acc = float32(0.0)
        for _ in range(reps):
            k = i
            while k < src.size:
                acc += src[k]
                k += cuda.gridsize(1)
        out[i] = acc

    @cuda.jit
    def divide(out, iters, d):
        i = int64(cuda.grid(1))
        a, b, c, e = i + 1000003, i + 2000003, i + 3000003, i + 4000003
        for k in range(iters):  # four independent chains of 64-bit `//` by a run-time divisor, as lowered
            a = a // d + 1000003 + k + i   # + k + i: no fixed point, so a wrong count or thread shows
            b = b // d + 1000003 + k + i
            c = c // d + 1000003 + k + i
            e = e // d + 1000003 + k + i
        out[i] = a + b + c + e

    _K.update(copy=copy, fma=fma, empty=empty, shared=shared, chase=chase, reread=reread, divide=divide)
    return _K


def _divide_chains(i: int, iters: int, d: int) -> int:
    """What the divide kernel's thread i writes (Python's // is the kernel's, floor division)."""
    chains = [i + 1000003, i + 2000003, i + 3000003, i + 4000003]
    for k in range(iters):
        chains = [x // d + 1000003 + k + i for x in chains]
    return sum(chains)


def _timed(cuda: Any, fn: Callable[[], None], repeat: int, simulated: bool) -> float:
    """Median seconds of fn() after a warm-up: CUDA events on a GPU, the wall clock on the simulator."""
    fn()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        if simulated:
            t0 = time.perf_counter()
            fn()
            cuda.synchronize()
            times.append(time.perf_counter() - t0)
            continue
        start, stop = cuda.event(), cuda.event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cuda.event_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def _check(ok: bool, what: str) -> None:
    """A benchmark kernel that computes the wrong thing measures nothing: a bug, said so."""
    if not ok:
        raise RuntimeError(f"microbenchmark check failed: {what}")


# Resident blocks per SM by compute capability (CUDA C Programming Guide, "Technical Specifications"),
# for drivers/numba versions without CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR (numba-cuda 0.30).
BLOCKS_PER_SM = {(7, 0): 32, (7, 5): 16, (8, 0): 32, (8, 6): 16, (8, 7): 16, (8, 9): 24, (9, 0): 32}


def _blocks_per_sm(dev: Any) -> int:
    """The device's resident-block limit: its attribute, else the Programming Guide's table (16 if unknown)."""
    try:
        return int(dev.MAX_BLOCKS_PER_MULTIPROCESSOR)
    except AttributeError:
        return BLOCKS_PER_SM.get(tuple(dev.compute_capability), 16)


def device_attributes(cuda: Any, simulated: bool) -> dict[str, Any]:
    """What the driver says about the device (placeholders on the simulator)."""
    if simulated:
        return {"device": "numba CUDA simulator (not a GPU)", "driver": "none (simulator)", **SIMULATED_ATTRIBUTES}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    driver = ".".join(map(str, cuda.cudadrv.driver.driver.get_version()))
    return {"device": name, "driver": driver, "compute_capability": list(dev.compute_capability),
            "sms": dev.MULTIPROCESSOR_COUNT, "max_threads_per_sm": dev.MAX_THREADS_PER_MULTI_PROCESSOR,
            "max_threads_per_block": dev.MAX_THREADS_PER_BLOCK, "max_blocks_per_sm": _blocks_per_sm(dev),
            "clock_hz": dev.CLOCK_RATE * 1e3,  # the attribute is in kHz
            "sram_bytes_per_sm": dev.MAX_SHARED_MEMORY_PER_MULTIPROCESSOR,
            "sram_bytes_per_block": dev.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            "memory_bytes": int(cuda.current_context().get_memory_info().total)}


def measure(small: bool = False) -> dict[str, Any]:
    """Every figure of a measurement (profile_writer's format). `small`: tiny sizes (the simulator's)."""
    cuda = gpu_runner.cuda_module()
    simulated = gpu_runner.using_simulator()
    small = small or simulated
    k = _kernels(cuda)
    t_start = time.perf_counter()
    m: dict[str, Any] = {**device_attributes(cuda, simulated),
                         "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(), "simulated": simulated}
    sms, repeat = m["sms"], (2 if small else 20)
    blocks, threads = (2, 32) if small else (sms * 8, 256)

    n = 1 << (10 if small else 28)
    src = cuda.to_device(np.random.default_rng(0).random(n, dtype=np.float32))
    dst = cuda.device_array_like(src)
    m["copy_bytes_per_s"] = 2 * 4 * n / _timed(cuda, lambda: k["copy"][blocks, threads](src, dst), repeat, simulated)
    _check(np.array_equal(dst.copy_to_host(), src.copy_to_host()), "the copy kernel copied wrongly")

    iters = 8 if small else 4096
    out = cuda.device_array(blocks * 2 * threads, np.float32)
    m["fma_per_s"] = 4 * iters * blocks * 2 * threads / _timed(
        cuda, lambda: k["fma"][blocks * 2, threads](out, iters), repeat, simulated)

    launches = 20 if small else 2000
    m["empty_launch_s"] = _timed(cuda, lambda: [k["empty"][1, 1]() for _ in range(launches)], 1, True) / launches

    out = cuda.device_array(blocks * threads, np.float32)
    for key, stride in (("sram_bytes_per_s", 1), ("sram_conflict_bytes_per_s", 32)):
        m[key] = 4 * iters * blocks * threads / _timed(
            cuda, lambda: k["shared"][blocks, threads](out, iters, stride), repeat, simulated)

    size, steps = (1 << 10, 64) if small else (1 << 26, 1 << 14)
    order = np.random.default_rng(1).permutation(size).astype(np.int32)
    nxt = np.empty(size, np.int32)
    nxt[order] = np.roll(order, -1)  # one cycle through every element, in random order
    d_nxt, d_out = cuda.to_device(nxt), cuda.device_array(1, np.int32)
    m["dependent_load_latency_s"] = _timed(cuda, lambda: k["chase"][1, 1](d_nxt, steps, d_out), repeat, simulated) / steps
    _check(int(d_out.copy_to_host()[0]) == int(order[(np.flatnonzero(order == 0)[0] + steps) % size]),
           "the pointer chase ended on the wrong element")

    l2n, reps = (1 << 8, 2) if small else (1 << 20, 64)  # 4 MiB: fits the L2 of any recent GPU
    l2src = cuda.to_device(np.ones(l2n, np.float32))
    out = cuda.device_array(blocks * threads, np.float32)
    m["l2_bytes_per_s"] = 4 * l2n * reps / _timed(cuda, lambda: k["reread"][blocks, threads](l2src, reps, out),
                                                  repeat, simulated)
    div_iters, divisor = (4, 3) if small else (512, 3)
    d_div = cuda.device_array(blocks * 2 * threads, np.int64)
    m["int_divide_per_s"] = 4 * div_iters * blocks * 2 * threads / _timed(
        cuda, lambda: k["divide"][blocks * 2, threads](d_div, div_iters, divisor), repeat, simulated)
    got = d_div.copy_to_host()
    _check(all(int(got[i]) == _divide_chains(i, div_iters, divisor) for i in (0, 5, len(got) // 2, len(got) - 1)),
           "the division kernel computed wrongly")
    m["seconds"] = time.perf_counter() - t_start
    return m


def measure_and_save(out: Path | None, name: str | None) -> tuple[dict[str, Any], Path, Path]:
    """Measure, and write the measurement beside the profile-to-be (`out` with .json; `out`
    defaults to NAME.toml in the user profile folder, NAME from the device). Returns (measurement,
    profile path, json path)."""
    from .profile_writer import default_name, default_out
    if out is not None:
        outfile.check_target(out, "--out")  # a bad path is an error before anything runs
    measured = measure()
    out = out or default_out(name or default_name(measured["device"]))
    saved = out.with_suffix(".json")
    outfile.check_target(saved, "--out")
    outfile.write_text(saved, json.dumps(measured, indent=2, allow_nan=False))
    return measured, out, saved
