"""The CUDA backend: renders a kernel's IR into numba.cuda Python source and runs it.

One source: the IR the executor interprets is the only description of an algorithm; this module
translates it mechanically (`render_kernel`) and never holds a hand-written kernel.

Lowering rules
  gid() -> cuda.grid(1); lane() -> cuda.threadIdx.x; block_id() -> cuda.blockIdx.x;
  block_dim() -> cuda.blockDim.x; num_blocks() -> cuda.gridDim.x; num_procs() -> a hidden
  kernel parameter `_pramsim_nprocs`; barrier() -> cuda.syncthreads();
  shared(shape, dt) -> cuda.shared.array(shape, dt), local(shape, dt) -> cuda.local.array: their
  shapes must be compile-time constants, so the scalar parameters a shape uses are substituted as
  literals (a specialization; compiled kernels are cached per specialization).
  A launch of nprocs processors in blocks of `block` runs ceil(nprocs/block) blocks; when nprocs is
  not a multiple of block the body is wrapped in `if cuda.grid(1) < _pramsim_nprocs:`, which is
  wrong for a kernel with barriers (the extra threads would skip them), so that is a LoweringError.
  Math -> math.*; min/max/abs -> builtins; float/int/float32/... -> float/int/np.float32/...

The generated module is written to a file under a cache folder (so numba and tracebacks can read
its source) and imported; its kernels are then compiled by cuda.jit on first launch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import codecache
from ..lang import ir, ops
from ..lang.kinds import VarKinds
from ..errors import Loc, LoweringError
from ..runtime import DeviceArray
from . import cudasim
from .args import bind_args

NPROCS = "_pramsim_nprocs"
_ZERO = "_pramsim_z"  # the loop variable that zero-fills shared and local arrays
_RESERVED = {"cuda", "math", "np", "numba", NPROCS, _ZERO}
_DTYPES = {"float32", "float64", "int32", "int64"}

HEADER = "import math\n\nimport numpy as np\nfrom numba import cuda\n"


# ---- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Specialization:
    """What a rendered kernel is specialized on: literal scalar params and the partial-block guard."""

    literals: tuple[tuple[str, int], ...]
    guard: bool

    def suffix(self) -> str:
        parts = [f"{k}{v}" for k, v in self.literals] + (["g"] if self.guard else [])
        return "_".join(parts)


def specialize(kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc | None) -> Specialization:
    """Check that this launch can be lowered and return what its compiled kernel depends on."""
    guard = nprocs % block != 0
    if guard and kernel.uses_barrier:
        raise LoweringError(
            f"kernel {kernel.name!r} uses barrier() but is launched with {nprocs} processors in blocks of {block}: "
            f"the last block is partial, and on CUDA its missing threads would be guarded off the barriers",
            loc=loc, hint="launch a whole number of blocks (k[blocks, threads](...)) and guard the work, "
                          "not the barriers, with an `if`")
    values = dict(zip(kernel.param_names, args))
    literals = []
    for name in ir.shape_params(kernel):
        v = values.get(name)
        if isinstance(v, (np.integer,)):
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool):
            raise LoweringError(f"kernel {kernel.name!r}: shared/local array shapes use parameter {name!r}, "
                                f"which the launch gave as {v!r}; it must be an integer", loc=loc)
        literals.append((name, v))
    return Specialization(tuple(literals), guard)


class _Renderer:
    def __init__(self, kernel: ir.Kernel, spec: Specialization):
        self.kernel = kernel
        self.spec = spec
        self.literals = dict(spec.literals)
        self.assigned = _assigned_names(kernel.body)
        names = set(kernel.param_names) | self.assigned
        # Names that would shadow the generated module's imports get a suffix.
        self.rename = {n: _fresh(n, names) for n in names if n in _RESERVED}
        # Kinds, to cast bool operands of arithmetic as the operation table says (True + True == 2);
        # array elements and scalar parameters count as numbers (their dtypes are not known here).
        self.kinds = VarKinds(kernel, {}, {p: ops.FLOAT for p in kernel.param_names}, strict=False)

    def name(self, n: str) -> str:
        return self.rename.get(n, n)

    def fail(self, node: Any, what: str) -> LoweringError:
        return LoweringError(f"kernel {self.kernel.name!r}: {what} cannot be lowered to numba.cuda", loc=node.loc)

    # expressions
    def expr(self, e: ir.Expr, shape: bool = False) -> str:
        if isinstance(e, ir.Const):
            v = e.value
            if isinstance(v, float):
                if math.isnan(v):
                    text = "math.nan"
                elif math.isinf(v):
                    text = "math.inf" if v > 0 else "(-math.inf)"
                else:
                    text = repr(v)
                # NumPy 2 (NEP 50), which the executor follows, treats a Python float as "weak":
                # float32 data + 0.5 stays float32. numba would make it float64 (slow, and not what
                # the executor computes), so float literals are float32; with float64 or integer
                # operands numba still promotes to float64, as NumPy does.
                return f"np.float32({text})"
            return repr(v)
        if isinstance(e, ir.Var):
            # Specialized: a compile-time constant in shapes, and everywhere if the kernel never
            # assigns it (a kernel that does reads its variable, which starts as the same value).
            if e.name in self.literals and (shape or e.name not in self.assigned):
                return repr(self.literals[e.name])
            if shape:
                raise self.fail(e, f"a shared/local shape using {e.name!r}")
            return self.name(e.name)
        if isinstance(e, ir.Intrinsic):
            if shape:
                raise self.fail(e, "an intrinsic in a shared/local shape")
            return ops.INTRINSICS[e.name].cuda
        if isinstance(e, ir.Load):
            return f"{self.name(e.array)}[{', '.join(self.expr(i) for i in e.index)}]"
        if isinstance(e, ir.Atomic):
            index = [self.expr(i) for i in e.index]
            args = [self.name(e.array), index[0] if len(index) == 1 else f"({', '.join(index)})"]
            return f"{ops.ATOMICS[e.op].cuda}({', '.join(args + [self.expr(a) for a in e.args])})"
        if isinstance(e, ir.OPERATIONS):  # the operation table's template (pramsim.lang.ops)
            args = ir.operands(e)
            return ir.op_row(e).render([self.expr(a, shape) for a in args], tuple(map(self.kinds.of, args)), "cuda")
        if isinstance(e, ir.BoolOp):
            return f"({self.expr(e.left, shape)} {e.op} {self.expr(e.right, shape)})"
        if isinstance(e, ir.Select):
            return f"({self.expr(e.if_true, shape)} if {self.expr(e.cond, shape)} else {self.expr(e.if_false, shape)})"
        raise self.fail(e, f"expression {type(e).__name__}")

    # statements
    def block(self, body: tuple[ir.Stmt, ...], indent: int) -> list[str]:
        pad = "    " * indent
        out: list[str] = []
        for s in body:
            if isinstance(s, ir.Assign):
                out.append(f"{pad}{self.name(s.target)} = {self.expr(s.value)}")
            elif isinstance(s, ir.Store):
                idx = ", ".join(self.expr(i) for i in s.index)
                out.append(f"{pad}{self.name(s.array)}[{idx}] = {self.expr(s.value)}")
            elif isinstance(s, ir.Eval):
                out.append(f"{pad}{self.expr(s.value)}")
            elif isinstance(s, ir.If):
                out.append(f"{pad}if {self.expr(s.cond)}:")
                out += self.block(s.body, indent + 1) or [f"{pad}    pass"]
                if s.orelse:
                    out.append(f"{pad}else:")
                    out += self.block(s.orelse, indent + 1) or [f"{pad}    pass"]
            elif isinstance(s, ir.While):
                out.append(f"{pad}while {self.expr(s.cond)}:")
                out += self.block(s.body, indent + 1) or [f"{pad}    pass"]
            elif isinstance(s, ir.For):
                if s.step == 0:
                    raise self.fail(s, "a range with step 0")
                out.append(f"{pad}for {self.name(s.var)} in range({self.expr(s.start)}, {self.expr(s.stop)}, {s.step}):")
                out += self.block(s.body, indent + 1) or [f"{pad}    pass"]
            elif isinstance(s, ir.Barrier):
                out.append(f"{pad}cuda.syncthreads()")
            elif isinstance(s, ir.Return):
                out.append(f"{pad}return")
            elif isinstance(s, (ir.Break, ir.Continue)):
                out.append(f"{pad}{type(s).__name__.lower()}")
            elif isinstance(s, ir.AllocArray):
                pass  # allocated at the top of the kernel (render)
            else:
                raise self.fail(s, f"statement {type(s).__name__}")
        return out

    def allocate(self, s: ir.AllocArray, pad: str) -> list[str]:
        """A shared or local array, zero-filled as the executor's are (CUDA leaves them uninitialised):
        a local array by its thread, a shared one by the block's threads, each a strided share."""
        if s.dtype not in _DTYPES:
            raise self.fail(s, f"dtype {s.dtype}")
        if s.space not in ("shared", "local"):
            raise self.fail(s, f"memory space {s.space!r}")
        dims = [self.expr(d, shape=True) for d in s.shape]
        name = self.name(s.name)
        cells = " * ".join(f"({d})" for d in dims)
        span = "cuda.threadIdx.x, " + cells + ", cuda.blockDim.x" if s.space == "shared" else cells
        index = [f"{_ZERO} // ({' * '.join(dims[k + 1:])}) % ({d})" if k + 1 < len(dims) else f"{_ZERO} % ({d})"
                 for k, d in enumerate(dims)]
        return [f"{pad}{name} = cuda.{s.space}.array(({', '.join(dims)},), np.{s.dtype})",
                f"{pad}for {_ZERO} in range({span}):",
                f"{pad}    {name}[{', '.join(index)}] = 0"]

    def render(self, fn_name: str) -> str:
        k = self.kernel
        params = [self.name(p) for p in k.param_names] + [NPROCS]
        lines = ["@cuda.jit",
                 f"def {fn_name}({', '.join(params)}):",
                 f"    # from {k.name} at {k.loc}"
                 + (f"; specialized on {', '.join(f'{a}={b}' for a, b in self.spec.literals)}" if self.spec.literals else "")]
        # Arrays exist once per launch wherever they are declared (the executor's semantics; a local array
        # declared in a loop keeps its values): allocated and zero-filled by every thread before anything
        # else (and before the partial-block guard), then one barrier when a shared array was filled.
        arrays = [s for s in ir.walk_stmts(k.body) if isinstance(s, ir.AllocArray)]
        for s in arrays:
            lines += self.allocate(s, "    ")
        if any(s.space == "shared" for s in arrays):
            lines.append("    cuda.syncthreads()")
        if self.spec.guard:
            lines.append(f"    if cuda.grid(1) < {NPROCS}:")
            lines += self.block(k.body, 2) or ["        pass"]
        else:
            lines += self.block(k.body, 1) or ["    pass"]
        return "\n".join(lines) + "\n"


def kernel_function_name(kernel: ir.Kernel, spec: Specialization) -> str:
    suffix = spec.suffix()
    return f"{kernel.name}__{suffix}" if suffix else kernel.name


def render_kernel(kernel: ir.Kernel, spec: Specialization) -> str:
    """The numba.cuda source (a decorated function) of one kernel specialization."""
    return _Renderer(kernel, spec).render(kernel_function_name(kernel, spec))


def render_module(kernels: list[tuple[ir.Kernel, Specialization]]) -> str:
    """A complete Python module: the imports and every kernel specialization given (deduplicated)."""
    seen: dict[str, str] = {}
    for k, spec in kernels:
        name = kernel_function_name(k, spec)
        if name not in seen:
            seen[name] = render_kernel(k, spec)
    return HEADER + "".join("\n\n" + src for src in seen.values())


# ---- the backend -----------------------------------------------------------------------------


def cache_dir() -> Path:
    return codecache.cache_dir("PRAMSIM_CUDA_CACHE", "pramsim_cuda")


def load_source(source: str, fn_name: str) -> Any:
    """Write `source` to a file (named by its hash) and import it; return the function `fn_name`."""
    return codecache.load_source(source, fn_name, cache_dir(), "pramsim_k")


@dataclass
class LaunchRecord:
    kernel: str
    nprocs: int
    block: int
    grid: int
    function: str


class CudaBackend:
    """Runs programs on numba.cuda (a real GPU, or numba's CUDA simulator). Arrays stay on the device."""

    name = "cuda"

    def __init__(self, cuda: Any = None):
        if cuda is None:
            from numba import cuda  # noqa: PLC0415 - imported late: pramsim.gpu_runner sets up numba first
        self.cuda = cuda
        from numba import config  # noqa: PLC0415
        self.simulated = bool(config.ENABLE_CUDASIM)
        if self.simulated:
            cudasim.install_warp_shuffles()
        self.compiled: dict[tuple[int, Specialization], Any] = {}
        self.sources: dict[str, str] = {}
        self.launches: list[LaunchRecord] = []
        # A caching allocator, like PyTorch's: buffers of a finished run are reused by the next
        # run's zeros(...) (still zero-filled on the device), so a timed run does not pay cudaMalloc.
        self.pool: dict[tuple[tuple[int, ...], str], list[Any]] = {}
        self.allocated: list[tuple[tuple[tuple[int, ...], str], Any]] = []
        # Per-launch device time (a real GPU only): with time_launches set, each launch is bracketed by
        # two CUDA events, kept in launch_events until the caller reads them (pramsim.gpu_runner).
        self.time_launches = False
        self.launch_events: list[tuple[Any, Any]] = []

    def recycle(self) -> None:
        """Return every buffer zeros(...) handed out to the pool (call when a run's results are dead)."""
        for key, arr in self.allocated:
            self.pool.setdefault(key, []).append(arr)
        self.allocated = []

    def array(self, host: np.ndarray, name: str) -> DeviceArray:
        return DeviceArray(self.cuda.to_device(np.ascontiguousarray(host)), name)

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if self.simulated or nbytes == 0:
            return DeviceArray(self.cuda.to_device(np.zeros(shape, dtype)), "")
        key = (shape, dtype.str)
        pooled = self.pool.get(key)
        arr = pooled.pop() if pooled else self.cuda.device_array(shape, dtype)
        self.allocated.append((key, arr))
        from numba.cuda.cudadrv import driver  # noqa: PLC0415
        driver.device_memset(arr, 0, nbytes)  # on the device: no host buffer, no copy
        return DeviceArray(arr, "")

    def to_host(self, a: DeviceArray) -> np.ndarray:
        data = a.data
        try:
            return data.copy_to_host()
        except Exception:  # a non-contiguous view: copy its base and slice on the host
            return np.ascontiguousarray(data.copy_to_host())

    def compile(self, kernel: ir.Kernel, spec: Specialization) -> Any:
        key = (id(kernel), spec)
        fn = self.compiled.get(key)
        if fn is None:
            name = kernel_function_name(kernel, spec)
            source = HEADER + "\n\n" + render_kernel(kernel, spec)
            self.sources[name] = source
            fn = load_source(source, name)
            self.compiled[key] = fn
        return fn

    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        spec = specialize(kernel, nprocs, block, args, loc)
        call_args = _device_args(kernel, args, loc)
        fn = self.compile(kernel, spec)
        grid = -(-nprocs // block)
        self.launches.append(LaunchRecord(kernel.name, nprocs, block, grid, kernel_function_name(kernel, spec)))
        if not self.time_launches:
            fn[grid, block](*call_args, nprocs)
            return
        start, end = self.cuda.event(), self.cuda.event()
        start.record()
        fn[grid, block](*call_args, nprocs)
        end.record()
        self.launch_events.append((start, end))


class RecordingBackend:
    """Runs the host program without running kernels: records each launch's specialization.

    Arrays are zero-strided NumPy views (no memory), so `pramsim show-cuda` works at any size.
    """

    name = "cuda-render"

    def __init__(self) -> None:
        self.kernels: list[tuple[ir.Kernel, Specialization]] = []
        self.launches: list[LaunchRecord] = []

    def array(self, host: np.ndarray, name: str) -> DeviceArray:
        host = np.asarray(host)
        return DeviceArray(np.broadcast_to(np.zeros((), host.dtype), host.shape), name)

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return DeviceArray(np.broadcast_to(np.zeros((), dtype), shape), "")

    def to_host(self, a: DeviceArray) -> np.ndarray:
        return np.array(a.data)

    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        spec = specialize(kernel, nprocs, block, args, loc)
        _device_args(kernel, args, loc)
        render_kernel(kernel, spec)  # raises LoweringError now, not at numba compile time
        self.kernels.append((kernel, spec))
        self.launches.append(LaunchRecord(kernel.name, nprocs, block, -(-nprocs // block),
                                          kernel_function_name(kernel, spec)))


def _device_args(kernel: ir.Kernel, args: tuple[Any, ...], loc: Loc) -> list[Any]:
    """The launch's arguments in parameter order, checked (engines/args.py); floats as float32, the
    weak Python floats the executor sees (NEP 50)."""
    arrays, scalars = bind_args(kernel, args, loc, LoweringError)
    return [arrays[p] if p in arrays else np.float32(scalars[p]) if isinstance(scalars[p], float) else scalars[p]
            for p in kernel.param_names]


# ---- helpers ---------------------------------------------------------------------------------




_children = ir.stmt_children


def _assigned_names(body: tuple[ir.Stmt, ...]) -> set[str]:
    names: set[str] = set()
    for s in body:
        if isinstance(s, ir.Assign):
            names.add(s.target)
        elif isinstance(s, ir.For):
            names.add(s.var)
        elif isinstance(s, ir.AllocArray):
            names.add(s.name)
        for child in _children(s):
            names |= _assigned_names(child)
    return names


def _fresh(name: str, taken: set[str]) -> str:
    k = 1
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"
