#!/usr/bin/env python3
"""Reproduce the seeds' claims about attention by measurement; prints the markdown tables of
docs/attention-claims.md. Every figure is measured by the executor (counts) or the a100 model (claim 5).

    python scripts/attention_claims.py > /tmp/claims.md     claims 1-4, about 40 s on 2 cores
    python scripts/attention_claims.py 5                    adds claim 5 (N=1024, H=16: ~10 minutes)
    python scripts/attention_claims.py only5                claim 5 alone

Every run uses the compiled engine (same counts as the executor, tests/test_compiled.py);
`--engine vector` as the last argument uses the vector executor instead (about 15x slower).
"""
import math
import sys

from pramsim.machine import load_machine
from pramsim.machine.gpu import simulate_gpu
from pramsim.programs import load_program
from pramsim.runner import run_program

PRAM = load_machine("pram")
H100 = load_machine("h100")


ENGINE = "vector" if sys.argv[-2:] == ["--engine", "vector"] else "compiled"
ARGS = sys.argv[1:-2] if ENGINE == "vector" else sys.argv[1:]


def run(name, machine=PRAM, **params):
    prog = load_program(name)
    r = run_program(prog, {**prog.params, **params}, machine, engine=ENGINE)
    assert r.comparison.correct, r.comparison.message
    return r


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    print()


def claim1():
    print("### 1. Attention is logarithmic (attention_logdepth)\n")
    rows, prev = [], None
    for n in (16, 32, 64, 128):
        r = run("attention_logdepth", n=n, d=16, heads=1)
        t = r.trace
        rows.append((n, 16, f"{t.work:,}", f"{t.work / (n * n * 16):.1f}", t.depth, "" if prev is None else t.depth - prev))
        prev = t.depth
    table(["N", "D", "W", "W / N²D", "depth", "Δdepth per doubling"], rows)
    rows, prev = [], None
    for d in (8, 16, 32, 64):
        t = run("attention_logdepth", n=32, d=d, heads=1).trace
        rows.append((32, d, f"{t.work:,}", t.depth, "" if prev is None else t.depth - prev))
        prev = t.depth
    table(["N", "D", "W", "depth", "Δdepth per doubling"], rows)
    p = H100.p
    r = run("attention_logdepth", load_machine("pram").with_processors(p), n=128, d=64, heads=1)
    t = r.trace
    print(f"On p = {p:,} processors (the h100's lanes) at N=128, D=64: W/p = {t.work / p:,.0f}, D = {t.depth}, "
          f"T_p = {r.schedule.steps:,}: T_p is work-bound (W/p is {t.work / p / t.depth:.1f}× D).\n")


def claim2():
    print("### 2. Self-attention with projections costs Θ(N²D + ND²) (attention_layer)\n")
    rows = []
    for n, d in ((16, 16), (32, 16), (64, 16), (128, 16), (16, 32), (16, 64), (16, 128)):
        t = run("attention_layer", n=n, d=d, heads=4, kv_heads=4).trace
        rows.append((n, d, f"{t.category('flop'):,}", f"{t.category('flop') / (n * n * d + n * d * d):.2f}"))
    table(["N", "D (model)", "flops", "flops / (N²D + ND²)"], rows)
    rows = []
    for kv in (4, 2, 1):
        t = run("attention_layer", n=64, d=64, heads=4, kv_heads=kv).trace
        rows.append((4, kv, f"{t.bytes[('hbm', 'read')]:,}", f"{t.peak_hbm_bytes:,}"))
    table(["heads", "kv_heads", "HBM bytes read", "peak HBM bytes"], rows)


def claim3():
    print("### 3. Memory: naive Θ(N²), flash Θ(N·D), chunked extra O(√N)\n")
    rows = []
    for n in (64, 128, 256, 512):
        naive = run("attention_naive", n=n, d=16, heads=1).trace.peak_hbm_bytes
        flash = run("attention_flash", n=n, d=16, heads=1, tile_r=16, tile_c=16).trace.peak_hbm_bytes
        chunked = run("attention_chunked", n=n, d=16, heads=1, chunk=0).trace.peak_hbm_bytes
        base = 4 * n * 16 * 4  # Q, K, V, O in float32
        rows.append((n, f"{naive:,}", f"{flash:,}", f"{chunked - base:,}", f"{(chunked - base) / math.sqrt(n):.0f}"))
    table(["N (D=16)", "naive peak HBM", "flash peak HBM", "chunked extra over Q,K,V,O", "extra / √N"], rows)


def claim4():
    print("### 4. FlashAttention's HBM traffic Θ(N²D²/M); standard attention Θ(ND + N²)\n")
    rows = []
    for n, d, t in ((128, 16, 16), (256, 16, 16), (512, 16, 16), (256, 32, 16), (256, 16, 32), (256, 16, 8)):
        tr = run("attention_flash", n=n, d=d, heads=1, tile_r=t, tile_c=t).trace
        hbm = tr.hbm_bytes
        sram = tr.launches[0].sram_per_block
        rows.append((n, d, t, f"{sram:,}", f"{hbm:,}", f"{hbm / (n * n * d * d / sram):.2f}"))
    table(["N", "D", "tile", "M = SRAM/block (bytes)", "HBM bytes", "HBM / (N²D²/M)"], rows)
    rows = []
    for n in (64, 128, 256, 512):
        tr = run("attention_naive", n=n, d=16, heads=1).trace
        hbm = tr.hbm_bytes
        tb = run("attention_naive_blocked", n=n, d=16, heads=1, tile=16).trace
        hbm_b = tb.hbm_bytes
        rows.append((n, 16, f"{hbm:,}", f"{hbm / (n * 16 + n * n):.1f}", f"{hbm_b:,}", f"{hbm_b / (n * 16 + n * n):.1f}"))
    table(["N", "D", "naive HBM bytes", "HBM / (ND + N²)", "blocked naive (tile 16) HBM bytes", "HBM / (ND + N²)"], rows)


SEED_TILES = ((45, 90), (120, 120))


def seed_sram_bytes(tr_, tc, d):
    """The seed's per-block SRAM, reverse-engineered: it reproduces both of its figures (51.7 and
    150.9 KB) exactly. Score tile S and probability tile P in fp32, Q/K/V tiles in fp16, the O
    accumulator and m, l in fp32."""
    return 2 * tr_ * tc * 4 + (tr_ + 2 * tc) * d * 2 + tr_ * d * 4 + 2 * tr_ * 4


def equalised(trace):
    """The trace with every block of each launch given the launch's mean work and bytes and its
    largest depth (W, bytes and D kept): the prediction without the partial last tiles' early ends."""
    import copy
    import dataclasses
    import numpy as np
    out = copy.copy(trace)
    out.launches = []
    for launch in trace.launches:
        n = launch.nblocks
        mean = lambda a: np.full(n, float(np.mean(a)))
        out.launches.append(dataclasses.replace(
            launch, block_work=mean(launch.block_work), block_depth=np.full(n, int(np.max(launch.block_depth))),
            block_hbm_bytes=mean(launch.block_hbm_bytes), block_flops=mean(launch.block_flops),
            block_sram_bytes=None if launch.block_sram_bytes is None else mean(launch.block_sram_bytes)))
    return out


def claim5(configs=((45, 90, 256), (120, 120, 256), (120, 120, 64), (64, 64, 256), (128, 64, 256), (32, 32, 256))):
    import time
    a100 = load_machine("a100")
    b, h, n, d = 1, 16, 1024, 32
    print(f"### 5. The seed's tile analysis (attention_flash_looped on a100, B={b}, H={h}, N={n}, D={d})\n")
    rows, best = [], None
    for tr_, tc, threads in configs:
        t0 = time.perf_counter()
        r = run("attention_flash_looped", a100, batch=b, heads=h, n=n, d=d, tile_r=tr_, tile_c=tc, threads=threads)
        wall = time.perf_counter() - t0
        t, occ = r.trace, r.schedule.details["occupancy"]
        hbm = t.hbm_bytes
        us = r.schedule.time_s * 1e6
        us_eq = simulate_gpu(equalised(t), a100).time_s * 1e6
        if best is None or us < best[0]:
            best = (us, f"{tr_}×{tc}, {threads} threads")
        rows.append((f"{tr_}×{tc}", threads, f"{occ['sram_per_block_bytes']:,}", f"{occ['blocks_per_sm']} ({occ['limited_by']})",
                     f"{occ['occupancy']:.1%}", occ["blocks"], occ["waves"], f"{t.work:,}", f"{t.depth:,}", f"{hbm:,}",
                     f"{us:,.0f}", f"{us_eq:,.0f}", f"{wall:.0f}"))
    table(["tile", "threads", "SRAM/block (B)", "blocks/SM (limit)", "occupancy", "grid", "waves", "W", "D", "HBM bytes",
           "predicted µs", "µs, blocks equalised", "sim wall s"], rows)
    print(f"Fastest predicted: {best[1]} ({best[0]:,.0f} µs).\n")
    # The seed's depth N·D/T_c assumes one processor per score cell; so does this run (PRAM, no block limit).
    rows = []
    for tr_, tc in SEED_TILES + ((64, 64),):
        t = run("attention_flash_looped", batch=1, heads=1, n=n, d=d, tile_r=tr_, tile_c=tc, threads=tr_ * tc).trace
        ktiles = -(-n // tc)
        rows.append((f"{tr_}×{tc}", tr_ * tc, f"{n * d / tc:.0f}", f"{t.depth:,}", ktiles, f"{t.depth / ktiles:,.0f}"))
    table(["tile", "threads = cells", "seed's N·D/T_c", "measured D", "K/V tiles", "D per K/V tile"], rows)
    rows = []
    for tr_, tc in SEED_TILES:
        sram = seed_sram_bytes(tr_, tc, d)
        rows.append((f"{tr_}×{tc}", f"{sram:,} ({sram / 1024:.1f} KiB)", a100.sram_bytes_per_sm // sram, -(-n // tr_) * h * b))
    table(["tile", "seed's SRAM formula (B)", "blocks/SM at that SRAM", "grid"], rows)


if __name__ == "__main__":
    arg = ARGS[0] if ARGS else "4"
    claims = (claim1, claim2, claim3, claim4, claim5)
    for claim in claims[int(arg[4:]) - 1:int(arg[4:])] if arg.startswith("only") else claims[:int(arg)]:
        claim()
