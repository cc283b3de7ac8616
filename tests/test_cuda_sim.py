"""The CUDA backend: every shipped program, lowered to numba.cuda and run under numba's CUDA
simulator, gives the executor's output; what cannot be lowered is refused with LoweringError.

The simulator runs one OS thread per CUDA thread, so sizes stay tiny (n <= 64 where the sweep
allows; blocks <= 256 threads, the default block of k[n] launches).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba.cuda is imported (pramsim.gpu_runner does it)

import numpy as np
import pytest

from pramsim import gpu_runner as gpu
from pramsim.engines.cuda import RecordingBackend
from pramsim.errors import LoweringError, PramsimError
from pramsim.engines.vector import Executor
from pramsim.programs import load_file, load_program, shipped_programs
from pramsim.runner import execute, make_inputs, sweep_points

MAX_BLOCK = 256  # the default block of k[n] launches; a few programs need it
MAX_PROCS = 4096
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def small_params(program):
    """The first sweep point, with n shrunk until every launch fits the simulator's budget."""
    base = sweep_points(program)[0]
    candidates = [base] + ([{**base, "n": n} for n in (64, 32, 16, 8, 4) if n < base["n"]] if "n" in base else [])
    fits = []
    for params in candidates:
        try:
            rec = RecordingBackend()
            execute(program, params, make_inputs(program, params, 0), rec)
        except PramsimError:
            continue
        block, procs = max(r.block for r in rec.launches), sum(r.nprocs for r in rec.launches)
        if block <= MAX_BLOCK and procs <= MAX_PROCS:
            return params
        fits.append((procs, params))
    if fits and min(fits, key=lambda f: f[0])[0] <= 1024:  # a program with a fixed block of up to 1024 threads
        return min(fits, key=lambda f: f[0])[1]
    pytest.skip(f"{program.name}: no small parameters fit the simulator (blocks <= {MAX_BLOCK})")


@pytest.mark.skipif(not SIMULATED, reason="NUMBA_ENABLE_CUDASIM was set to 0 outside the tests")
@pytest.mark.parametrize("name", sorted(shipped_programs()))
def test_program_on_cuda_simulator_equals_executor(name):
    program = load_program(name)
    params = small_params(program)
    inputs = make_inputs(program, params, 0)
    want = execute(program, params, inputs, Executor())
    got = gpu.run_output(program, params, seed=0)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.max(np.abs(want.astype(np.float64)), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0)) / scale
    assert err <= 1e-5, f"{name} {params}: CUDA simulator differs from the executor by {err:.2e}"


def test_run_on_gpu_reports_and_checks_against_numpy():
    program = load_program("tree_sum")
    r = gpu.run_on_gpu(program, {"n": 50}, repeat=2, seed=3)
    a = make_inputs(program, {"n": 50}, 3)["a"].astype(np.float64)
    assert r["correct"] and r["max_rel_error"] <= 1e-5
    # ceil(log2 50) = 6 levels, one launch each
    assert r["launches"] == 6 and r["kernels"] == ["add_pairs"]
    assert r["device"] == "numba CUDA simulator" and r["simulated"]
    assert len(r["times_s"]) == 2 and r["measured_s"] > 0
    assert r["bytes_in"] == 50 * 4 and abs(a.sum()) > 0


def test_lowered_source_of_tiled_matmul():
    src = gpu.lower_source(load_program("matmul_tiled"), {"n": 4096, "tile": 16})
    assert "cuda.shared.array((16, 16,), np.float32)" in src  # shape made a compile-time literal
    assert src.count("cuda.syncthreads()") == 3  # the kernel's two, and one after zero-filling its shared tiles
    # shared arrays start zero-filled, as in the executor (CUDA leaves them uninitialised): before anything else
    head = src.split("tiles = ")[0]
    assert head.count("for _pramsim_z in range(cuda.threadIdx.x, (16) * (16), cuda.blockDim.x):") == 2
    assert head.rstrip().endswith("cuda.syncthreads()")
    assert "cuda.blockIdx.x" in src and "cuda.threadIdx.x" in src
    assert "@cuda.jit" in src and "if cuda.grid(1) <" not in src  # whole blocks: no guard
    compile(src, "<lowered>", "exec")  # valid Python at a size no simulator could run


def test_local_arrays_are_zero_filled_by_their_thread():
    prog = load_program("matmul_regblock")
    src = gpu.lower_source(prog, dict(prog.params))
    local = [line for line in src.splitlines() if "cuda.local.array" in line]
    assert local
    for line in local:
        name = line.split("=")[0].strip()
        after = src.split(line + "\n", 1)[1].splitlines()
        assert after[0].strip().startswith("for _pramsim_z in range(") and "threadIdx" not in after[0]
        assert after[1].strip().startswith(f"{name}[") and after[1].strip().endswith("= 0")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_barrier_with_partial_block_is_a_lowering_error(tmp_path):
    path = _write(tmp_path, """
        import numpy as np
        from pramsim.dsl import barrier, gid, kernel, program, zeros

        @kernel
        def k(a, n):
            i = gid()
            barrier()
            if i < n:
                a[i] = a[i] + 1.0

        @program(params={"n": 10}, inputs=lambda rng, n: {"a": np.zeros(n, np.float32)},
                 reference=lambda a, n: a + 1)
        def partial(a, n):
            k[2, 8](a, n)
            k[n](a, n)
            return a
        """)
    program = load_file(path)[0]
    with pytest.raises(LoweringError) as exc:
        gpu.lower_source(program, {"n": 300})  # blocks of 256: the second one holds 44 processors
    assert "partial" in exc.value.message and exc.value.loc.line == 16  # the k[n] launch line
    assert "300 processors in blocks of 256" in exc.value.message
    gpu.lower_source(program, {"n": 256})  # whole blocks lower fine
    with pytest.raises(LoweringError):
        gpu.run_on_gpu(program, {"n": 300}, repeat=1)


def test_partial_last_block_is_guarded_and_num_procs_lowered(tmp_path):
    path = _write(tmp_path, """
        import numpy as np
        from pramsim.dsl import Launch, gid, kernel, num_procs, program

        @kernel
        def k(a, cuda):
            i = gid()
            a[i] = i * 1.0 + cuda + num_procs()

        @program(params={"n": 10}, inputs=lambda rng, n: {"a": np.zeros(n, np.float32)},
                 reference=lambda a, n: np.arange(n) + 0.5 + n)
        def partial_ok(a, n):
            Launch(k, n, 4, k.ir.loc)(a, 0.5)  # 10 processors in blocks of 4: the last block half full
            return a
        """)
    program = load_file(path)[0]
    src = gpu.lower_source(program, {"n": 10})
    assert "if cuda.grid(1) < _pramsim_nprocs:" in src and "[3, 4]" in src
    assert "cuda_1" in src  # a parameter named like the cuda module is renamed
    got = gpu.run_output(program, {"n": 10})
    np.testing.assert_array_equal(got, np.arange(10, dtype=np.float32) + 0.5 + 10)
    r = gpu.run_on_gpu(program, {"n": 10}, repeat=1)
    assert r["correct"] and r["launches"] == 1


def test_a_shape_parameter_the_kernel_assigns_is_a_literal_only_in_shapes(tmp_path):
    """A parameter that sizes a shared array is specialised (a literal in the CUDA source); a kernel
    that assigns to it must read the new value after that, as the executor does (the lowering
    used to write the literal everywhere: 32 + 32 where the executor computes 32 + 16)."""
    path = _write(tmp_path, """
        import numpy as np
        from pramsim.dsl import barrier, float32, kernel, lane, program, shared

        @kernel
        def k(a, t):
            s = shared((t,), float32)
            s[lane()] = a[lane()] + 32.0
            barrier()
            t = t // 2
            a[lane()] = s[lane()] + t

        @program(params={"n": 32}, inputs=lambda rng, n: {"a": np.zeros(n, np.float32)},
                 reference=lambda a, n: a + 32 + n // 2)
        def halves(a, n):
            k[1, n](a, n)
            return a
        """)
    program = load_file(path)[0]
    src = gpu.lower_source(program, {"n": 32})
    assert "cuda.shared.array((32,)" in src and "t = (t // 2)" in src
    ex = Executor()
    want = execute(program, {"n": 32}, make_inputs(program, {"n": 32}, 0), ex)
    got = gpu.run_output(program, {"n": 32})
    np.testing.assert_array_equal(got, np.full(32, 48, np.float32))
    np.testing.assert_array_equal(got, np.asarray(want))


@pytest.mark.skipif(not gpu._driver_has_device(), reason="needs a CUDA GPU")
def test_real_gpu_tree_sum_and_matmul():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = ("from pramsim.gpu_runner import run_on_gpu; from pramsim.programs import load_program\n"
            "for name, p in [('tree_sum', {'n': 1 << 20}), ('matmul_tiled', {'n': 256, 'tile': 16})]:\n"
            "    r = run_on_gpu(load_program(name), p, repeat=3)\n"
            "    assert r['correct'] and not r['simulated'], r\n"
            "    assert len(r['per_launch']) == r['launches'] and all(e['measured_s'] > 0 for e in r['per_launch'])\n"
            "    assert 0 < r['measured_device_s'] < r['measured_s']\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
