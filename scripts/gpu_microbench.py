#!/usr/bin/env python3
"""Microbenchmarks that calibrate the h100 profile: copy bandwidth, fp32 rate, launch overhead.

Run on the GPU machine (see docs/validation/README.md for the recipe):
    python scripts/gpu_microbench.py [--out results.json]
Each figure is the median of repeated CUDA-event timings after a warm-up.
Under NUMBA_ENABLE_CUDASIM=1 it runs tiny sizes only, to check that the script works.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda 0.30 still calls np.row_stack, gone in numpy 2.5
    np.row_stack = np.vstack

from numba import cuda, float32  # noqa: E402

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@cuda.jit
def copy(src, dst):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < src.size:
        dst[i] = src[i]
        i += stride


@cuda.jit
def fma_chain(out, iters):
    i = cuda.grid(1)
    a = float32(i) * float32(1e-7)
    b = a + float32(1.0)
    c = a + float32(2.0)
    d = a + float32(3.0)
    x = float32(0.999)
    y = float32(1e-6)
    for _ in range(iters):
        a = a * x + y
        b = b * x + y
        c = c * x + y
        d = d * x + y
    out[i] = a + b + c + d


@cuda.jit
def empty():
    pass


def time_events(fn, repeat):
    start, stop = cuda.event(), cuda.event()
    fn()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    dev = "numba CUDA simulator" if SIM else cuda.get_current_device().name
    dev = dev.decode() if isinstance(dev, bytes) else dev
    n = 1 << (10 if SIM else 28)
    src = cuda.to_device(np.random.default_rng(0).random(n, dtype=np.float32))
    dst = cuda.device_array_like(src)
    sms = 1 if SIM else cuda.get_current_device().MULTIPROCESSOR_COUNT
    blocks, threads = (2, 32) if SIM else (sms * 8, 256)
    t_copy = time_events(lambda: copy[blocks, threads](src, dst), 3 if SIM else 20)
    assert np.array_equal(dst.copy_to_host(), src.copy_to_host()), "copy kernel is wrong"
    copy_bw = 2 * n * 4 / t_copy

    iters = 8 if SIM else 4096
    grid = (2, 32) if SIM else (sms * 16, 256)
    out = cuda.device_array(grid[0] * grid[1], dtype=np.float32)
    t_fma = time_events(lambda: fma_chain[grid](out, iters), 2 if SIM else 10)
    fmas = grid[0] * grid[1] * iters * 4
    flops = 2 * fmas / t_fma

    k = 20 if SIM else 2000
    empty[1, 1]()
    cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(k):
        empty[1, 1]()
    cuda.synchronize()
    launch = (time.perf_counter() - t0) / k

    result = {"device": dev, "date": time.strftime("%Y-%m-%d"), "copy_bytes_per_s": copy_bw,
              "copy_elements": n, "fp32_flops_per_s": flops, "fma_per_s": fmas / t_fma,
              "launch_overhead_s": launch}
    print(f"device            {dev}")
    print(f"copy bandwidth    {copy_bw / 1e12:.3f} TB/s (read + written, {n} floats)")
    print(f"fp32 FMA rate     {flops / 1e12:.2f} TFLOP/s ({fmas / t_fma / 1e12:.2f} T FMA/s)")
    print(f"launch overhead   {launch * 1e6:.1f} us per empty launch (host side)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
