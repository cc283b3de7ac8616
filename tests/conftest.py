"""Test-session settings that must be in place before numba is imported.

The compiled engine's tests compile every shipped kernel with numba: at LLVM's -O0 that takes a
few seconds a kernel instead of tens (tests check counts and values, not speed). Its compiled code
is cached in a folder of this session's own, so that a later benchmark never loads -O0 code.
"""
import os
import tempfile

import pytest

os.environ.setdefault("NUMBA_OPT", "0")
_cache = tempfile.mkdtemp(prefix="pramsim_test_numba_")
os.environ.setdefault("NUMBA_CACHE_DIR", _cache)
os.environ.setdefault("PRAMSIM_COMPILED_CACHE", _cache)
# The user profile folder (pramsim machines, calibrate): an empty one of this session's own, so
# that profiles in the user's real folder change no test's listing.
os.environ.setdefault("PRAMSIM_MACHINES_DIR", tempfile.mkdtemp(prefix="pramsim_test_machines_"))


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """The toy GPU of the GPU-model tests, in round numbers for hand computations: 4 SMs x 32
    lanes at 1 GHz, 1 KiB SRAM per SM, 100 bytes of HBM per cycle, latency 10 (frozen: tests
    vary it with dataclasses.replace)."""
    path = tmp_path_factory.mktemp("profiles") / "toy.toml"
    path.write_text('name = "toy"\nkind = "gpu"\nsms = 4\nlanes_per_sm = 32\nclock_hz = 1e9\n'
                    'max_threads_per_sm = 256\nmax_blocks_per_sm = 8\nsram_bytes_per_sm = 1024\n'
                    'sram_bytes_per_cycle = 128\nhbm_bytes = 1000000\nhbm_bytes_per_s = 1e11\n'
                    'hbm_latency_cycles = 10\nlaunch_overhead_s = 0\n')
    from pramsim.machine import load_machine  # noqa: PLC0415 - after the numba settings above
    return load_machine(str(path))
