"""Test-session settings that must be in place before numba is imported.

The compiled engine's tests compile every shipped kernel with numba: at LLVM's -O0 that takes a
few seconds a kernel instead of tens (tests check counts and values, not speed). Its compiled code
is cached in a folder of this session's own, so that a later benchmark never loads -O0 code.
"""
import os
import tempfile

os.environ.setdefault("NUMBA_OPT", "0")
_cache = tempfile.mkdtemp(prefix="pramsim_test_numba_")
os.environ.setdefault("NUMBA_CACHE_DIR", _cache)
os.environ.setdefault("PRAMSIM_COMPILED_CACHE", _cache)
# The user profile folder (pramsim machines, calibrate): an empty one of this session's own, so
# that profiles in the user's real folder change no test's listing.
os.environ.setdefault("PRAMSIM_MACHINES_DIR", tempfile.mkdtemp(prefix="pramsim_test_machines_"))
