#!/usr/bin/env python3
"""Reproduce the seeds' claims about attention by measurement; prints the markdown tables of
docs/attention-claims.md. Every figure is measured by the executor (counts) or the h100 model.

    python scripts/attention_claims.py > /tmp/claims.md     claims 1-4, about 40 s on 2 cores
    python scripts/attention_claims.py 5                    adds claim 5 (N=1024, H=16: slow, minutes)
"""
import math

from pramsim.errors import PramsimError
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import run_program

PRAM = load_machine("pram")
H100 = load_machine("h100")


def run(name, machine=PRAM, **params):
    prog = load_program(name)
    r = run_program(prog, {**prog.params, **params}, machine)
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
        hbm = tr.bytes[("hbm", "read")] + tr.bytes[("hbm", "write")]
        sram = tr.launches[0].sram_per_block
        rows.append((n, d, t, f"{sram:,}", f"{hbm:,}", f"{hbm / (n * n * d * d / sram):.2f}"))
    table(["N", "D", "tile", "M = SRAM/block (bytes)", "HBM bytes", "HBM / (N²D²/M)"], rows)
    rows = []
    for n in (64, 128, 256, 512):
        tr = run("attention_naive", n=n, d=16, heads=1).trace
        hbm = tr.bytes[("hbm", "read")] + tr.bytes[("hbm", "write")]
        rows.append((n, 16, f"{hbm:,}", f"{hbm / (n * 16 + n * n):.1f}"))
    table(["N", "D", "naive HBM bytes", "HBM / (ND + N²)"], rows)


def claim5():
    print("### 5. The seed's tile analysis (a100, B=1, H=16, N=1024, D=32)\n")
    for tr_, tc in ((45, 90), (120, 120), (16, 16), (32, 32)):
        try:
            r = run("attention_flash", load_machine("a100"), batch=1, heads=16, n=1024, d=32, tile_r=tr_, tile_c=tc)
            occ = r.schedule.details.get("occupancy", {})
            print(f"- {tr_}×{tc}: SRAM/block {r.trace.launches[0].sram_per_block:,} B, blocks/SM {occ.get('blocks_per_sm')}, "
                  f"grid {r.trace.launches[0].nblocks}, depth {r.trace.depth:,}, predicted {r.schedule.time_s * 1e6:,.1f} µs")
        except PramsimError as exc:
            print(f"- {tr_}×{tc}: refused: {exc.message}")
    print()


if __name__ == "__main__":
    import sys
    for claim in (claim1, claim2, claim3, claim4, claim5)[: int(sys.argv[1]) if len(sys.argv) > 1 else 4]:
        claim()
