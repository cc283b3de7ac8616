"""--counts-only: a program's exact counts without computing its arrays or running every block.

For a data-oblivious kernel (pramsim.lang.oblivious: no condition, loop bound or index depends
on an array's values) what each block executes is a function of the parameters, its block id
and the launch size alone. So:

- Arrays are stand-ins (`standin`): zero-stride arrays of the right shape and dtype, one element
  of memory whatever their size; every element reads one value, and stores land in that element.
  The host program, `inputs()` (through `StandInRNG`) and `zeros()` get them, so no array of the
  program's size is ever allocated or filled. Peak HBM is still counted from the shapes.
- Blocks are grouped into classes that execute alike, and one representative per class runs on
  the compiled engine (recording its shared-memory accesses, so its wavefronts are exact); the
  class is charged its representative's counts and profile times its size
  (`compiled.launch_classes`). The classes come from pramsim.engines.blockclass: the blocks on
  which every condition, loop bound and shared-memory index that depends on block_id() or gid()
  takes one value, and the same number of lanes, form a class; blocks where such a use takes
  several values (the one that straddles `i < n`), or that the analysis cannot follow, each run.

--max-memory holds for what the run allocates per block (the arrays are stand-ins): a launch whose
per-block figures, with those that earlier launches keep, would pass it is refused before it
allocates (a MachineError; LAUNCH_BYTES_PER_BLOCK and the rest are estimates from measurements).

Limits: a kernel that is not data-oblivious is refused (ProgramError at the line that makes it
so). Data-dependent errors (integer division by a loaded zero, int(NaN)) are not detected, and
global out-of-bounds indices only in the blocks that run. A kernel the compiled engine cannot
run is counted on the vector engine, every block, on the stand-ins (exact, slow), with a note.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..cost import CostTrace
from ..errors import Loc, MachineError, ProgramError, ResourceError
from ..limits import gib as _gib
from ..lang import ir, oblivious
from ..runtime import DeviceArray
from . import blockclass
from .args import bind_args

STANDIN_VALUE = 1  # what every element of a stand-in reads: 1, so that dividing by it is harmless
# Up to this size a stand-in is a real contiguous array: the kernels then run the very numba
# specialization `--engine compiled` uses (C layout), compiled once for both; larger ones need
# one more compile (any layout), once, cached on disk.
REAL_BYTES = 1 << 20
# Memory a launch takes per block whatever its arrays' sizes (tracemalloc, matmul_tiled, vector_mul and
# tree_sum at 65,536 and 262,144 blocks: 112 to 263 bytes in all, the most with 16-thread blocks): while
# it runs, the block classes' keys, the engine's per-block figures, then the GPU model's table of them
# (LAUNCH_BYTES_PER_BLOCK, plus USE_BYTES_PER_BLOCK per block-variant use, a key column each); kept
# until the run ends, the trace's per-block figures (KEPT_BYTES_PER_BLOCK: 7 int64). The sum is the
# most measured, so a launch is refused rather than let past the limit.
LAUNCH_BYTES_PER_BLOCK = 200
USE_BYTES_PER_BLOCK = 16
KEPT_BYTES_PER_BLOCK = 64


def standin(shape: int | tuple[int, ...], dtype: Any, value: Any = STANDIN_VALUE) -> np.ndarray:
    """A writeable array of `shape` whose elements all share one cell holding `value` (a real
    array holding `value` everywhere if it is at most REAL_BYTES)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if nbytes >= 2**63:  # NumPy indexes bytes in int64: not even a stand-in can have this shape
        raise ResourceError(f"an array of shape {shape} ({nbytes:.3g} bytes) is beyond what NumPy can describe, "
                            f"even as a stand-in for --counts-only", hint="use smaller parameters")
    if nbytes <= REAL_BYTES:
        return np.full(shape, value, dtype).view(StandIn)
    base = np.full(1, value, dtype).view(StandIn)
    return np.lib.stride_tricks.as_strided(base, shape=shape, strides=(0,) * len(shape), writeable=True,
                                           subok=True)


class StandIn(np.ndarray):
    """A stand-in array (see `standin`): arithmetic and astype keep it a stand-in, computing on
    one element and broadcasting the result, so `(w * rng.standard_normal(s)).astype(f32)` in an
    inputs() function costs no memory. Other NumPy functions see a plain zero-stride array."""

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[override]
        return standin(self.shape, dtype, _first(np.asarray(self)).astype(dtype)[0] if self.size else 0)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = [np.asarray(x) if isinstance(x, StandIn) else x for x in inputs]
        if method != "__call__" or kwargs or ufunc.nout != 1 or any(np.size(x) == 0 for x in plain):
            return getattr(ufunc, method)(*plain, **kwargs)
        shape = np.broadcast_shapes(*(np.shape(x) for x in plain))
        one = ufunc(*[_first(x) if isinstance(x, np.ndarray) else x for x in plain])
        return standin(shape, one.dtype, one[0])


def _first(a: np.ndarray) -> np.ndarray:
    """A 1-element array holding a's first element (reshape(-1) could copy a whole stand-in)."""
    return a[(0,) * a.ndim].reshape(1)


class StandInRNG:
    """A NumPy Generator for inputs(): the usual draws give stand-in arrays of the asked size
    (float64 for real draws, int64 for integers); any other method is the real generator's."""

    def __init__(self, seed: int = 0):
        self._real = np.random.default_rng(seed)

    def _draw(self, name: str, size: Any, kind: Any, *args: Any, **kwargs: Any) -> Any:
        if size is None:
            return getattr(self._real, name)(*args, **kwargs)
        return standin(size, kind)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, **kw: Any) -> Any:
        return self._draw("standard_normal", size, dtype, dtype=dtype, **kw)

    def random(self, size: Any = None, dtype: Any = np.float64, **kw: Any) -> Any:
        return self._draw("random", size, dtype, dtype=dtype, **kw)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        return self._draw("normal", size, np.float64, loc, scale)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> Any:
        return self._draw("uniform", size, np.float64, low, high)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64, **kw: Any) -> Any:
        return self._draw("integers", size, dtype, low, high, dtype=dtype, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class CountsBackend:
    """The backend of a --counts-only run: stand-in arrays, launches counted by block classes."""

    name = "counts"

    def __init__(self, max_memory: int | None = None) -> None:
        self.trace = CostTrace()
        self.notes: list[str] = []
        self._vector: Any = None
        self.max_memory = max_memory  # bytes (--max-memory) the launches' per-block figures may take; None: any
        self.kept = 0  # bytes of per-block figures the earlier launches left in the trace

    def array(self, host: np.ndarray, name: str) -> DeviceArray:
        # plain ndarrays on the device side: StandIn's arithmetic is for inputs() only
        a = DeviceArray(standin(np.shape(host), np.asarray(host).dtype).view(np.ndarray), name)
        self.trace.allocate(a.nbytes)
        return a

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        a = DeviceArray(standin(shape, dtype, 0).view(np.ndarray), "")
        self.trace.allocate(a.nbytes)
        return a

    def to_host(self, a: DeviceArray) -> np.ndarray:
        return a.data  # no copy: the values mean nothing

    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        refuse_unless_oblivious(kernel)
        nblocks = -(-nprocs // block)
        need = self.kept + nblocks * (LAUNCH_BYTES_PER_BLOCK + KEPT_BYTES_PER_BLOCK + USE_BYTES_PER_BLOCK *
                                      len(oblivious.block_variant(kernel, oblivious.shared_arrays(kernel))))
        if self.max_memory is not None and need > self.max_memory:
            raise self._refusal(f"would take about {_gib(need)}, over the limit of {_gib(self.max_memory)} "
                                "(--max-memory)", kernel, nblocks, loc,
                                "use smaller parameters, or raise the limit with --max-memory GIB")
        try:
            self._launch(kernel, nprocs, block, args, loc)
        except MemoryError:  # this machine had less memory free than --max-memory allows
            limit = f"the limit of {_gib(self.max_memory)}" if self.max_memory is not None else "no limit"
            raise self._refusal(f"could not be allocated: the machine ran out of memory under {limit} (--max-memory)",
                                kernel, nblocks, loc, "use smaller parameters, or lower --max-memory GIB to what "
                                "this machine has free, so that such a launch is refused before it allocates") from None
        self.kept += nblocks * KEPT_BYTES_PER_BLOCK

    def _refusal(self, what: str, kernel: ir.Kernel, nblocks: int, loc: Loc, hint: str) -> MachineError:
        """The error of a launch whose per-block figures do not fit in memory."""
        kept = f" (with the {_gib(self.kept)} that earlier launches keep)" if self.kept else ""
        return MachineError(f"launch of {kernel.name} with {nblocks:,} blocks: the figures --counts-only keeps per "
                            f"block{kept} {what}", loc=loc, hint=hint)

    def _launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        arrays, scalars = bind_args(kernel, args, loc)
        from . import compiled  # noqa: PLC0415 - numba is imported only when counting
        try:
            with np.errstate(all="ignore"):
                compiled.launch_classes(kernel, nprocs, block, arrays, scalars, loc, self.trace,
                                        blockclass.classes(kernel, nprocs, block, scalars))
            return
        except compiled.Unsupported as why:
            note = f"kernel {kernel.name} was counted on the vector engine, every block (slow): {why}"
            if note not in self.notes:
                self.notes.append(note)
        self._vector_engine().launch(kernel, nprocs, block, args, loc)

    def _vector_engine(self) -> Any:
        """The vector engine, writing into this run's trace (for kernels numba cannot run)."""
        if self._vector is None:
            from .vector import Executor  # noqa: PLC0415
            self._vector = Executor() if self.max_memory is None else Executor(memory_limit=self.max_memory)
            self._vector.trace = self.trace
            self._vector.value_checks = False  # stand-in values: an int(NaN) here says nothing of the program
        return self._vector


def refuse_unless_oblivious(kernel: ir.Kernel) -> None:
    """A ProgramError at the line that makes `kernel` data-dependent, if it is."""
    verdict = oblivious.analyse(kernel)
    if not verdict.oblivious:
        raise ProgramError(f"--counts-only needs data-oblivious kernels; in kernel {kernel.name}, {verdict.reason}",
                           loc=verdict.loc, hint="run without --counts-only (every operation is then executed)")
