"""Constant-depth maximum with n² processors: needs concurrent writes of a common value (CRCW-common).

Processor (i, j) clears is_max[i] when a[i] < a[j]; every writer writes the same 0, which the
CRCW-common PRAM allows. Under CREW the concurrent writes are refused, under EREW already the
concurrent reads of a[i]. Work Θ(n²), depth Θ(1): the classic trade of work for depth.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros, int32


@kernel
def mark_all(is_max, n):
    i = gid()
    is_max[i] = 1


@kernel(readonly=("a",))
def knock_out(a, is_max, n):
    k = gid()
    i = k // n
    j = k % n
    if a[i] < a[j]:
        is_max[i] = 0


@kernel(readonly=("a",))
def publish(a, is_max, out):
    i = gid()
    if is_max[i] == 1:
        out[0] = a[i]


def make_inputs(rng, n):
    return {"a": rng.standard_normal(n).astype(np.float32)}


def reference(a, n):
    return np.array([a.max()], dtype=np.float64)


@program(params={"n": 64}, inputs=make_inputs, reference=reference, work="n^2", depth="1",
         counts={"flop.<": "n * n", "depth.flop": "1"}, sweep={"n": [4, 16, 64, 256, 512]})
def max_crcw(a, n):
    """Maximum of n numbers in constant depth with n² processors (CRCW-common)."""
    is_max = zeros(n, int32)
    out = zeros(1, np.float32)
    mark_all[n](is_max, n)
    knock_out[n * n](a, is_max, n)
    publish[n](a, is_max, out)
    return out
