"""Running programs on numba.cuda: what `pramsim show-cuda` and `pramsim gpu` call.

Functions (the CLI's entry points):

    lower_source(program: Program, params: dict[str, int]) -> str
        The generated numba.cuda source of every kernel specialization the program launches at
        `params` (one Python module: imports, then one @cuda.jit function per specialization).
        Runs the host program on a recording backend (no GPU, no memory for arrays).
        Raises pramsim.errors.LoweringError (with the user's file:line) for what cannot be lowered.

    run_on_gpu(program: Program, params: dict[str, int], repeat: int = 5, seed: int = 0) -> dict
        Compiles and runs the program on the GPU (or numba's CUDA simulator where there is none),
        checks the result against the NumPy reference, and times the whole host program with CUDA
        events: one warm-up run (compiles), then `repeat` timed runs, each on fresh device copies of
        the inputs (copied outside the timing); measured_s is the median. zeros(...) inside the
        program is served by a caching allocator (buffers of the previous run, zero-filled on the
        device), as PyTorch's allocator would, so cudaMalloc is not timed; the fill is. Returns a dict with keys
          correct: bool, max_rel_error: float, message: str, measured_s: float, times_s: list[float],
          device: str (GPU name, or "numba CUDA simulator"), simulated: bool,
          launches: int (kernel launches per run), kernels: list[str] (launched specializations),
          bytes_in: int (input bytes), program: str, params: dict,
          per_launch: list of {launch, kernel, function, measured_s} (measured_s: median of the CUDA
            events around that launch; None under the simulator, with per_launch_note saying so),
          measured_device_s, measured_host_s: the sum of the launches' device times, and the rest
            of measured_s (None under the simulator). The per-launch events are recorded inside the
            timed runs, so measured_s includes their small host cost.
        Raises LoweringError as lower_source does.

    device_name() -> str; using_simulator() -> bool
    run_output(program, params, seed=0) -> np.ndarray: the result computed on the CUDA backend (tests)

Set-up (done once, before numba.cuda is imported):
  * numba-cuda 0.30 calls np.row_stack, which numpy 2.5 removed; numba-cuda is in maintenance
    mode and will not be fixed, so `_numpy_compat()` puts back `np.row_stack = np.vstack` (the
    exact alias numpy had) when it is missing.
  * Without a usable CUDA driver and device, NUMBA_ENABLE_CUDASIM=1 is set so everything runs
    under numba's CUDA simulator (one OS thread per CUDA thread: small sizes only). A value the
    caller already set in the environment is respected.
"""
from __future__ import annotations

import ctypes
import os
import statistics
import time
import warnings
from typing import Any, Callable

import numpy as np

from .dsl import Program
from .errors import PramsimError
from .runner import call_user, compare, execute, make_inputs, reference_output
from .runtime import DeviceArray, use_backend

_cuda: Any = None


def _numpy_compat() -> None:
    """numba-cuda 0.30 uses np.row_stack, removed in numpy 2.5; it was an alias of np.vstack."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack  # type: ignore[attr-defined]


def _driver_has_device() -> bool:
    """True when libcuda loads, cuInit succeeds and reports at least one device (no numba needed)."""
    for lib in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            cu = ctypes.CDLL(lib)
        except OSError:
            continue
        try:
            if cu.cuInit(0) != 0:
                return False
            count = ctypes.c_int(0)
            return cu.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
        except (AttributeError, OSError):
            return False
    return False


def cuda_module() -> Any:
    """numba.cuda, imported once after the numpy shim and the simulator decision."""
    global _cuda
    if _cuda is None:
        _numpy_compat()
        if "NUMBA_ENABLE_CUDASIM" not in os.environ and "numba.cuda" not in __import__("sys").modules:
            if not _driver_has_device():
                os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        from numba import config
        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and not config.ENABLE_CUDASIM:
            config.ENABLE_CUDASIM = 1
        from numba import cuda
        _cuda = cuda
    return _cuda


def using_simulator() -> bool:
    cuda_module()
    from numba import config
    return bool(config.ENABLE_CUDASIM)


def device_name() -> str:
    cuda = cuda_module()
    if using_simulator():
        return "numba CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def lower_source(program: Program, params: dict[str, int]) -> str:
    from .engines.cuda import RecordingBackend, render_module
    inputs = make_inputs(program, params, 0)
    backend = RecordingBackend()
    execute(program, params, inputs, backend)
    header = (f"# numba.cuda source generated by pramsim from {program.name} ({program.file})\n"
              f"# params: {', '.join(f'{k}={v}' for k, v in params.items())}\n"
              f"# launches: " + "; ".join(f"{r.function}[{r.grid}, {r.block}] ({r.nprocs} processors)"
                                          for r in backend.launches) + "\n")
    return header + render_module(backend.kernels)


def run_on_gpu(program: Program, params: dict[str, int], repeat: int = 5, seed: int = 0,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the lowered program once (compiling), check it, then time `repeat` runs; `progress(done,
    repeat)` is called after each timed run."""
    cuda = cuda_module()
    from .engines.cuda import CudaBackend
    if repeat < 1:
        raise PramsimError(f"repeat must be at least 1, got {repeat}")
    lower_source(program, params)  # lowering errors now, with the user's line, before compiling anything
    inputs = {k: np.ascontiguousarray(v) for k, v in make_inputs(program, params, seed).items()}
    expected = reference_output(program, params, inputs)
    backend = CudaBackend(cuda)
    backend.time_launches = not using_simulator()  # the simulator's events time nothing of a GPU
    pristine = {name: cuda.to_device(v) for name, v in inputs.items()}

    def fresh() -> dict[str, DeviceArray]:
        out = {}
        for name, d in pristine.items():
            copy = cuda.device_array(d.shape, d.dtype)
            copy.copy_to_device(d)
            out[name] = DeviceArray(copy, name)
        return out

    def run_once(device: dict[str, DeviceArray], timed: bool) -> tuple[DeviceArray, float]:
        backend.launch_events = []
        with use_backend(backend):
            cuda.synchronize()
            if timed and not using_simulator():
                start, end = cuda.event(), cuda.event()
                start.record()
                result = call_user(program.host, **device, **params)
                end.record()
                end.synchronize()
                seconds = cuda.event_elapsed_time(start, end) / 1e3
            else:
                t0 = time.perf_counter()
                result = call_user(program.host, **device, **params)
                cuda.synchronize()
                seconds = time.perf_counter() - t0
        if not isinstance(result, DeviceArray):
            raise PramsimError(f"{program.name} returned {type(result).__name__}; a program returns a device array")
        return result, seconds

    warnings.filterwarnings("ignore", message=".*under-utilization.*")  # tiny final launches of reductions
    result, _ = run_once(fresh(), timed=False)  # warm-up: compiles every kernel
    launches_per_run = len(backend.launches)
    kernels = sorted({r.function for r in backend.launches})
    comparison = compare(backend.to_host(result), expected, program.rtol)
    del result
    times: list[float] = []
    per_launch: list[list[float]] = []  # per timed run, each launch's device seconds (a real GPU only)
    if progress:
        progress(0, repeat)  # the timed runs start now (after the warm-up compile)
    for _ in range(repeat):
        backend.recycle()  # the previous run's buffers are dead: reuse them (no cudaMalloc in the timing)
        device = fresh()
        _, seconds = run_once(device, timed=True)
        times.append(seconds)
        if backend.launch_events:
            per_launch.append([cuda.event_elapsed_time(s, e) / 1e3 for s, e in backend.launch_events])
        del device
        if progress:
            progress(len(times), repeat)
    return {
        "program": program.name, "params": dict(params),
        "correct": comparison.correct, "max_rel_error": comparison.max_rel_error, "message": comparison.message,
        "measured_s": statistics.median(times), "times_s": times,
        "device": device_name(), "simulated": using_simulator(),
        "launches": launches_per_run, "kernels": kernels,
        "bytes_in": int(sum(v.nbytes for v in inputs.values())),
        **_per_launch(backend.launches[:launches_per_run], per_launch, statistics.median(times)),
    }


def _per_launch(records: list[Any], per_run: list[list[float]], measured_s: float) -> dict[str, Any]:
    """`per_launch` (kernel, specialization, measured_s: the median over the timed runs of the CUDA
    events around that launch) and the measured device/host split of the whole program: device =
    the sum of the launches' medians, host = measured_s minus it. Under the simulator (no events)
    every measured figure is None, and `per_launch_note` says why."""
    runs = [run for run in per_run if len(run) == len(records)]  # a program whose launches vary is not split
    entries = [{"launch": i, "kernel": r.kernel, "function": r.function,
                "measured_s": statistics.median(run[i] for run in runs) if runs else None}
               for i, r in enumerate(records)]
    device = sum(e["measured_s"] for e in entries) if runs else None
    out: dict[str, Any] = {"per_launch": entries, "measured_device_s": device,
                           "measured_host_s": None if device is None else measured_s - device}
    if not runs:
        out["per_launch_note"] = ("per-launch device times need CUDA events on a real GPU; numba's CUDA simulator "
                                  "times nothing of a GPU, so measured_s is null")
    return out


def beside_prediction(measured: dict[str, Any], schedule: Any) -> dict[str, Any]:
    """A run_on_gpu result with the model's prediction beside it: predicted_s and its split
    (predicted_device_s, predicted_host_s) from `schedule` (a GPU profile's), each per_launch
    entry's predicted_s (the schedule's launch_times device_s, None if the counts differ), and relative_error
    (predicted - measured) / measured, only for a real GPU (the simulator's time says nothing)."""
    out = {**measured, "predicted_s": schedule.time_s, "predicted_device_s": schedule.device_s,
           "predicted_host_s": schedule.host_s}
    if "per_launch" in measured:  # launch i of the run is launch i of the schedule (same host program)
        times = schedule.launch_times if len(schedule.launch_times) == len(measured["per_launch"]) else []
        out["per_launch"] = [{**e, "predicted_s": times[i].device_s if times else None}
                             for i, e in enumerate(measured["per_launch"])]
    if schedule.time_s and measured.get("measured_s") and not measured.get("simulated"):
        out["relative_error"] = (schedule.time_s - measured["measured_s"]) / measured["measured_s"]
    return out


def run_output(program: Program, params: dict[str, int], seed: int = 0) -> np.ndarray:
    """The program's result computed on the CUDA backend (used by the tests)."""
    cuda = cuda_module()
    from .engines.cuda import CudaBackend
    inputs = make_inputs(program, params, seed)
    return execute(program, params, inputs, CudaBackend(cuda))
