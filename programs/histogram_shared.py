"""Histogram privatised per block: each block counts its keys into bins in shared memory (atomics on
SRAM), then adds its bins to the global histogram (one atomic per bin per block).

Against histogram (global atomics): the same n increments, but a bin's queue in a block holds about
BLOCK / bins keys instead of n / bins, and the global bins see one atomic per block. The depth falls
from about n / bins to BLOCK / bins + n / BLOCK (compare the two with `pramsim run ... --model qrqw`:
atomics queue under every model, and QRQW also queues plain reads and writes)."""
import numpy as np

from pramsim.dsl import atomic_add, barrier, gid, int64, kernel, lane, program, require, shared, zeros

BLOCK = 256


@kernel(readonly=("keys",))
def count_in_block(hist, keys, n, bins):
    local_bins = shared(BLOCK, int64)  # bins <= BLOCK
    t = lane()
    if t < bins:
        local_bins[t] = 0
    barrier()
    i = gid()
    if i < n:
        atomic_add(local_bins, keys[i] % bins, 1)
    barrier()
    if t < bins:
        atomic_add(hist, t, local_bins[t])


def make_inputs(rng, n, bins):
    return {"keys": rng.integers(0, 2**31 - 1, n, dtype=np.int64)}


def reference(keys, n, bins):
    return np.bincount(keys % bins, minlength=bins)


@program(params={"n": 4096, "bins": 16}, inputs=make_inputs, reference=reference, rtol=0.0,
         work="n", depth="n / 256",
         counts={"atomic.sram": "n", "atomic.hbm": "bins * ceil(n / 256)", "load.sram": "bins * ceil(n / 256)",
                 "store.sram": "bins * ceil(n / 256)", "load.hbm": "n", "launches": "1"},
         sweep={"n": [1024, 4096, 16384, 65536]})
def histogram_shared(keys, n, bins):
    """Count n keys into `bins` bins: per-block shared-memory bins, then one global atomic per bin and block."""
    require(1 <= bins <= BLOCK, f"bins must be between 1 and {BLOCK} (one shared bin per thread of a block)")
    hist = zeros(bins, np.int64)
    count_in_block[-(-n // BLOCK), BLOCK](hist, keys, n, bins)
    return hist
