"""LSD radix sort of n integer keys in [0, 2^bits), digit_bits bits per pass, by scans.

Each of the passes = ceil(bits / digit_bits) passes sorts stably by one digit (the least
significant first), with r = 2^digit_bits buckets, as Blelloch's split does for r = 2:

1. n processors: processor i writes the r flags [digit of key i == v] to f[v·n + i], v < r
   (one processor per key, so each key is read once: EREW);
2. an exclusive scan of the r·n flags (programs/_prefix_scan.py): f[v·n + i] becomes the number
   of keys with a smaller digit, plus those with digit v before i: key i's place in the output.
   The scan does the counting: the last prefix of bucket v minus the first is its count;
3. n processors scatter their key to its place (stable: equal digits keep their order).

The flags are float32 so that the scans' additions are the program's only flops:
flop.+ = passes · 2(r·n - 1) exactly, depth.flop = passes · 2 ceil(log2(r·n)). With r fixed,
work Θ(n · bits) and depth Θ(bits · log n); EREW. Keys live in int32 buffers, swapped between passes.
"""
import numpy as np

from _prefix_scan import exclusive_scan
from pramsim.dsl import float32, gid, int32, kernel, program, require, zeros


@kernel(readonly=("keys",))
def digit_flags(keys, f, shift, mask, n):
    i = gid()
    if i < n:
        digit = (keys[i] >> shift) & mask
        for v in range(mask + 1):
            f[v * n + i] = float32(digit == v)


@kernel(readonly=("keys", "place"))
def scatter_by_digit(keys, place, out, shift, mask, n):
    i = gid()
    if i < n:
        k = keys[i]
        out[int(place[((k >> shift) & mask) * n + i])] = k


def make_inputs(rng, n, bits, digit_bits):
    return {"keys": rng.integers(0, 2**bits, n).astype(np.int32)}


def reference(keys, n, bits, digit_bits):
    return np.sort(keys)


@program(params={"n": 200, "bits": 8, "digit_bits": 2}, inputs=make_inputs, reference=reference,
         work="n bits", depth="bits log n",
         counts={"flop.+": "ceil(bits / digit_bits) * 2 * (2**digit_bits * n - 1)",
                 "flop": "ceil(bits / digit_bits) * 2 * (2**digit_bits * n - 1)",
                 "depth.flop": "ceil(bits / digit_bits) * 2 * ceil(log2(2**digit_bits * n))",
                 "launches": "ceil(bits / digit_bits) * (2 * ceil(log2(2**digit_bits * n)) + 3)",
                 "store.hbm": "ceil(bits / digit_bits) * (2**digit_bits * n + 3 * (2**digit_bits * n - 1) + 1 + n)"},
         sweep={"n": [10, 100, 300, 1000, 3000]}, rtol=0.0,
         ranges={"bits": (1, 30), "digit_bits": (1, 8)})
def radix_sort(keys, n, bits, digit_bits):
    """Sort integer keys by their digits, least significant first; each pass a flag scan and a scatter."""
    buckets = 2**digit_bits
    require(buckets * n <= 2**24, f"{buckets}·n = {buckets * n}: the float32 scan of the flags is exact up to 2^24")
    flags = zeros(buckets * n, np.float32)
    other = zeros(n, int32)
    shift = 0
    while shift < bits:
        digit_flags[n](keys, flags, shift, buckets - 1, n)
        exclusive_scan(flags, buckets * n)
        scatter_by_digit[n](keys, flags, other, shift, buckets - 1, n)
        keys, other = other, keys
        shift += digit_bits
    return keys
