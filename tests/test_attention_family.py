"""The attention family and its neighbours: correctness against NumPy float64 and hand-counted costs."""
import math

import numpy as np
import pytest

from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import check_program, run_program

PRAM = load_machine("pram")


def run(name, **params):
    prog = load_program(name)
    result = run_program(prog, {**prog.params, **params}, PRAM)
    assert result.comparison.correct, f"{name} {params}: {result.comparison.message}"
    return result


# Two sizes per program, the second off the powers of two where the program allows it.
CASES = [
    ("matmul_naive", {"n": 8}), ("matmul_naive", {"n": 21}),
    ("matmul_tiled", {"n": 16, "tile": 4}), ("matmul_tiled", {"n": 30, "tile": 6}),
    ("softmax", {"rows": 3, "n": 16}), ("softmax", {"rows": 5, "n": 128}),
    ("softmax_online", {"rows": 3, "n": 64, "threads": 8}), ("softmax_online", {"rows": 4, "n": 96, "threads": 32}),
    ("attention_naive", {"n": 16, "d": 8}), ("attention_naive", {"batch": 2, "heads": 3, "n": 40, "d": 12}),
    ("attention_naive_blocked", {"n": 16, "d": 8, "tile": 4}),
    ("attention_naive_blocked", {"batch": 2, "heads": 3, "n": 37, "d": 12, "tile": 8}),
    ("attention_flash", {"n": 32, "d": 8, "tile_r": 8, "tile_c": 16}),
    ("attention_flash", {"batch": 2, "heads": 3, "n": 48, "d": 40, "tile_r": 12, "tile_c": 12}),
    ("attention_chunked", {"n": 16, "d": 8}), ("attention_chunked", {"batch": 2, "heads": 1, "n": 30, "d": 5, "chunk": 6}),
    ("attention_logdepth", {"n": 8, "d": 4}), ("attention_logdepth", {"batch": 2, "heads": 3, "n": 24, "d": 10}),
    ("attention_layer", {"n": 16, "d": 16, "heads": 2, "kv_heads": 2}),
    ("attention_layer", {"batch": 2, "n": 20, "d": 24, "heads": 6, "kv_heads": 2}),
    ("bitonic_sort", {"n": 16}), ("bitonic_sort", {"n": 2048}),
]


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{'-'.join(map(str, p.values()))}" for n, p in CASES])
def test_matches_numpy_reference(name, params):
    result = run(name, **params)
    assert result.comparison.max_rel_error <= load_program(name).rtol


def test_bitonic_sort_returns_exactly_np_sort():
    result = run("bitonic_sort", n=256)
    a = np.random.default_rng(0).standard_normal(256).astype(np.float32)
    assert np.array_equal(result.output, np.sort(a))


@pytest.mark.parametrize("name", ["bitonic_sort", "attention_logdepth"])
def test_check_passes_with_declared_bounds(name):
    result = check_program(load_program(name), PRAM)
    assert result.passed, [p.failures for p in result.points] + [result.work_fit, result.depth_fit]


def test_bitonic_sort_rounds_and_comparisons_by_hand():
    n, m = 64, 6
    t = run("bitonic_sort", n=n).trace
    rounds = m * (m + 1) // 2  # 21 compare-exchange rounds
    assert t.counter("launches") == rounds
    assert t.counter("flop.>") == rounds * n // 2


@pytest.mark.parametrize("n,tile", [(16, 4), (16, 8), (24, 6), (32, 16)])
def test_matmul_tiled_hbm_bytes_equal_the_hand_count(n, tile):
    # Every processor loads one element of A and one of B per phase: n² processors, n/t phases,
    # 4-byte floats: 2·n³/t·4 bytes read; the n² results are written once.
    t = run("matmul_tiled", n=n, tile=tile).trace
    assert t.counter("bytes.hbm.read") == 2 * n**3 // tile * 4
    assert t.counter("bytes.hbm.write") == n * n * 4
    assert t.counter("bytes.sram.write") == 2 * n * n * (n // tile) * 4
    assert t.counter("bytes.sram.read") == 2 * n**3 * 4
    assert t.launches[0].sram_per_block == 2 * tile * tile * 4
    naive = run("matmul_naive", n=n).trace
    assert naive.counter("bytes.hbm.read") == 2 * n**3 * 4  # tiling divides HBM reads by t


def test_attention_naive_peak_hbm_is_quadratic_and_flash_linear():
    d = 4
    naive, flash = {}, {}
    for n in (32, 64, 128):
        naive[n] = run("attention_naive", batch=1, heads=1, n=n, d=d).trace.peak_hbm_bytes
        flash[n] = run("attention_flash", batch=1, heads=1, n=n, d=d, tile_r=16, tile_c=16).trace.peak_hbm_bytes
        assert naive[n] == 4 * (4 * n * d + n * n)   # q, k, v, o and the n×n scores
        assert flash[n] == 4 * (4 * n * d)           # q, k, v, o only
    assert naive[64] / naive[32] > 3.3 and naive[128] / naive[64] > 3.5   # -> 4 per doubling as n² takes over
    assert flash[128] / flash[64] == 2 and flash[64] / flash[32] == 2
    # flash grows with d too: N·D
    assert run("attention_flash", batch=1, heads=1, n=64, d=8, tile_r=16, tile_c=16).trace.peak_hbm_bytes == 2 * flash[64]


def test_attention_flash_hbm_reads_follow_the_tile_count():
    # Q is read once, K and V once per Q tile: (n·d + 2·n·d·n/tile_r) floats per (batch, head).
    for n, d, tr, tc in [(32, 8, 8, 16), (64, 16, 16, 16), (64, 16, 32, 8)]:
        t = run("attention_flash", batch=1, heads=2, n=n, d=d, tile_r=tr, tile_c=tc).trace
        assert t.counter("bytes.hbm.read") == 2 * 4 * (n * d + 2 * n * d * (n // tr))
        assert t.counter("bytes.hbm.write") == 2 * 4 * n * d


def test_attention_naive_blocked_hbm_bytes_by_hand_and_theta_nd_plus_n2():
    # Per (batch, head), floats: Q and K rows read once per tile of S (2·n·d·ceil(n/tile)), the
    # softmax reads S 3 times, P·V reads P once and V once per row tile; S written 3 times, O once.
    for n, d, tile in [(16, 8, 4), (37, 5, 8), (64, 16, 16)]:
        t = run("attention_naive_blocked", batch=1, heads=2, n=n, d=d, tile=tile).trace
        nt = math.ceil(n / tile)
        assert t.counter("bytes.hbm.read") == 2 * 4 * (3 * n * d * nt + 4 * n * n)
        assert t.counter("bytes.hbm.write") == 2 * 4 * (3 * n * n + n * d)
    # with tile = d the traffic over (n d + n²) settles to a constant; attention_naive's keeps growing (Θ(n² d))
    ratio = {}
    for name, extra in (("attention_naive_blocked", {"tile": 16}), ("attention_naive", {})):
        hbm = [sum(run(name, batch=1, heads=1, n=n, d=16, **extra).trace.counter(f"bytes.hbm.{rw}") for rw in ("read", "write"))
               for n in (64, 128, 256)]
        ratio[name] = [h / (n * 16 + n * n) for h, n in zip(hbm, (64, 128, 256))]
    blocked = ratio["attention_naive_blocked"]
    assert all(30 < r < 40 for r in blocked), blocked    # -> 4 bytes · 10 accesses per score as n grows
    assert ratio["attention_naive"][0] > 4 * blocked[0] and ratio["attention_naive"][2] > ratio["attention_naive"][0] * 1.1


def test_attention_chunked_extra_memory_is_the_chunk_summaries():
    d, extra = 4, {}
    for n in (16, 64, 144):
        t = run("attention_chunked", batch=1, heads=1, n=n, d=d).trace
        chunks = n // math.isqrt(n)
        extra[n] = t.peak_hbm_bytes - 4 * (4 * n * d)
        assert extra[n] == 4 * chunks * (d + 2)          # (m, l, d-vector) per key chunk
    assert extra[64] / extra[16] == 2 and extra[144] / extra[16] == 3   # √n: 4, 8, 12 chunks


def test_attention_logdepth_depth_grows_by_a_constant_per_doubling():
    depths = [run("attention_logdepth", batch=1, heads=1, n=n, d=4).trace.depth for n in (8, 16, 32, 64)]
    steps = np.diff(depths)
    assert steps.min() > 0 and steps.max() == steps.min(), depths   # three trees over j: same rise per doubling
    dd = [run("attention_logdepth", batch=1, heads=1, n=8, d=d).trace.depth for d in (4, 8, 16)]
    assert np.diff(dd).min() > 0 and np.diff(dd).max() == np.diff(dd).min(), dd
    works = [run("attention_logdepth", batch=1, heads=1, n=n, d=4).trace.work for n in (16, 32)]
    assert 3.5 < works[1] / works[0] < 4.5   # work Θ(n² d)


def test_attention_layer_kv_heads_shrink_the_key_value_projections():
    full = run("attention_layer", n=16, d=32, heads=8, kv_heads=8).trace
    mqa = run("attention_layer", n=16, d=32, heads=8, kv_heads=1).trace
    gqa = run("attention_layer", n=16, d=32, heads=8, kv_heads=2).trace
    rows, d, dh = 16, 32, 4
    # K and V: the weights Wk, Wv (d × kv_heads·dh) and the projected arrays (rows × kv_heads·dh)
    assert full.peak_hbm_bytes - mqa.peak_hbm_bytes == 2 * 4 * (d + rows) * (8 - 1) * dh
    assert full.peak_hbm_bytes - gqa.peak_hbm_bytes == 2 * 4 * (d + rows) * (8 - 2) * dh
    # projection multiplies: 2·rows·d·(kv_heads·dh) fewer for K and V
    assert full.counter("flop.*") - mqa.counter("flop.*") == 2 * rows * d * (8 - 1) * dh
    assert full.counter("bytes.hbm.write") - mqa.counter("bytes.hbm.write") == 2 * 4 * rows * (8 - 1) * dh


def test_attention_layer_work_has_both_regimes():
    def work(n, d):
        return run("attention_layer", n=n, d=d, heads=2, kv_heads=2).trace.work
    # n ≫ d: doubling n about quadruples the work; d ≫ n: doubling d about quadruples it
    assert 3.2 < work(128, 8) / work(64, 8) < 4.2
    assert 3.2 < work(8, 128) / work(8, 64) < 4.2
    # and the opposite doublings far less: n is linear in the n d² term; d is linear in the n² d term,
    # beside the d-free n² softmax (max, exp, normalise per score), so doubling d there gives < 2
    assert 1.8 < work(8, 128) / work(4, 128) < 2.5
    assert 1.3 < work(128, 8) / work(128, 4) < 2.2
