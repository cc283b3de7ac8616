"""Histogram with global atomics: every processor adds one to its key's bin in HBM.

The atomics to one bin queue up (pramsim charges the k-th atomic to a cell k steps), so the depth is
the fullest bin's count, about n / bins for uniform keys: contention, not the n additions, is what
bounds the time. histogram_shared privatises the bins per block and shows the difference."""
import numpy as np

from pramsim.dsl import atomic_add, gid, kernel, program, require, zeros


@kernel(readonly=("keys",))
def count_keys(hist, keys, n, bins):
    i = gid()
    if i < n:
        atomic_add(hist, keys[i] % bins, 1)


def make_inputs(rng, n, bins):
    return {"keys": rng.integers(0, 2**31 - 1, n, dtype=np.int64)}


def reference(keys, n, bins):
    return np.bincount(keys % bins, minlength=bins)


@program(params={"n": 4096, "bins": 16}, inputs=make_inputs, reference=reference, rtol=0.0,
         work="n", depth="n / bins",
         counts={"atomic.hbm": "n", "load.hbm": "n", "launches": "1"},
         sweep={"n": [1024, 4096, 16384, 65536]})
def histogram(keys, n, bins):
    """Count n keys into `bins` bins (key % bins) with one atomic_add per key on a global array."""
    require(bins >= 1, "bins must be at least 1")
    hist = zeros(bins, np.int64)
    count_keys[n](hist, keys, n, bins)
    return hist
