"""The user-facing DSL: `@kernel`, `@program`, and the intrinsics kernels call.

A kernel is the body every virtual processor runs (SPMD, like CUDA). It is parsed from its source
when it is defined (pramsim.lang.frontend) and never run as Python. A program is host-level Python that
allocates arrays and launches kernels in sequence: `k[n](args)` starts n processors in blocks of
DEFAULT_BLOCK; `k[blocks, threads](args)` gives the blocks explicitly. A launch boundary is a
global barrier. Which backend a launch runs on (executor, CUDA) is chosen by whoever runs the
program (pramsim.runtime), never by the program.

The intrinsic functions below are placeholders the frontend recognises by identity; calling one
from host code is an error.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .cost import DEPTH_CLASSES
from .lang import frontend, ops
from .errors import Loc, PramsimError, ProgramError, RequirementError, caller_loc

DEFAULT_BLOCK = 256  # processors per block when a launch gives only the processor count

float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64


# The intrinsics a kernel calls (placeholders the frontend recognises by identity).
from .lang.intrinsics import barrier, block_dim, block_id, gid, lane, local, num_blocks, num_procs, shared  # noqa: E402,F401
from .lang.intrinsics import shfl_down, shfl_xor, warp_size  # noqa: E402,F401
from .lang.intrinsics import atomic_add, atomic_cas, atomic_exch, atomic_max, atomic_min  # noqa: E402,F401
from .lang.device import DeviceFunction  # noqa: E402


def device(fn: Callable[..., Any]) -> DeviceFunction:
    """Decorator: a device function, which kernels (and other device functions) call with
    positional arguments; the frontend inlines it at each call (pramsim/lang/device.py)."""
    return DeviceFunction(fn)


class Kernel:
    """A parsed kernel. Launch it from a program with `k[n](args)` or `k[blocks, threads](args)`."""

    __pramsim_kernel__ = True

    def __init__(self, fn: Callable[..., Any], readonly: tuple[str, ...] = (), dtypes: dict[str, Any] | None = None):
        self.fn = fn
        self.name = fn.__name__
        self.ir = frontend.parse_kernel(fn, readonly)
        self.dtypes = _declared_dtypes(self.ir, dtypes or {})
        self._checked: set[tuple[Any, ...]] = set()  # argument signatures already type-checked
        self.__doc__ = fn.__doc__

    def check_args(self, args: tuple[Any, ...], loc: Loc) -> tuple[Any, ...]:
        """The launch's arguments checked against the declared dtypes and the kernel's use of them
        (pramsim.lang.typecheck); numbers declared float are passed as floats."""
        from .lang import typecheck
        from .runtime import DeviceArray
        args = tuple(_check_declared(self.name, name, self.dtypes[name], value, loc) if name in self.dtypes else value
                     for name, value in zip(self.ir.param_names, args))
        signature = tuple(value.dtype.str if isinstance(value, DeviceArray) else type(value).__name__ for value in args)
        if signature not in self._checked:
            typecheck.check_launch(self.ir, args, loc)
            self._checked.add(signature)
        return args

    def __getitem__(self, config: Any) -> "Launch":
        loc = caller_loc()
        if isinstance(config, tuple):
            if len(config) != 2:
                raise PramsimError(f"launch {self.name}[...] takes [n] or [blocks, threads], got {len(config)} values",
                                   loc=loc)
            blocks, threads = (_positive_int(v, what, self.name, loc) for v, what in
                               zip(config, ("block count", "threads per block")))
            return Launch(self, blocks * threads, threads, loc)
        n = _positive_int(config, "processor count", self.name, loc)
        return Launch(self, n, min(n, DEFAULT_BLOCK), loc)

    def __call__(self, *args: Any) -> None:
        raise PramsimError(f"kernel {self.name!r} must be launched with a processor count",
                           loc=caller_loc(), hint=f"write {self.name}[n](...) to start n processors")

    def __repr__(self) -> str:
        return f"<pramsim kernel {self.name}>"


@dataclass
class Launch:
    kernel: Kernel
    nprocs: int
    block: int
    loc: Loc

    def __call__(self, *args: Any) -> None:
        from . import runtime
        params = self.kernel.ir.param_names
        if len(args) != len(params):
            raise PramsimError(f"kernel {self.kernel.name!r} takes {len(params)} arguments "
                               f"({', '.join(params)}), the launch gave {len(args)}", loc=self.loc)
        backend = runtime.current_backend(self.loc)
        args = self.kernel.check_args(args, self.loc)
        backend.launch(self.kernel.ir, self.nprocs, self.block, args, self.loc)


def kernel(fn: Callable[..., Any] | None = None, *, readonly: tuple[str, ...] = (),
           dtypes: dict[str, Any] | None = None) -> Any:
    """Decorator: parse `fn` as a kernel. `readonly` names array parameters it must not store to;
    `dtypes` (optional) declares parameters' types, checked at every launch: float32, float64, int32,
    int64 (NumPy types or their names) for an exact array dtype, `float` or `int` for any float or
    integer array or number."""
    if fn is None:
        return lambda f: Kernel(f, tuple(readonly), dtypes)
    return Kernel(fn, tuple(readonly), dtypes)


_KINDS = {float: "f", int: "i", "float": "f", "int": "i"}
_EXACT = {"float32", "float64", "int32", "int64"}


def _declared_dtypes(k: Any, dtypes: dict[str, Any]) -> dict[str, str]:
    """{'a': np.float32, 'n': int} -> {'a': 'float32', 'n': 'int'}; unknown names or types are DSL errors."""
    from .errors import DSLError
    if not isinstance(dtypes, dict):
        raise DSLError(f"@kernel(dtypes=...) of {k.name!r} must be a dict of parameter name -> type", loc=k.loc)
    out = {}
    for name, t in dtypes.items():
        if name not in k.param_names:
            raise DSLError(f"dtypes names {name!r}, which is not a parameter of {k.name!r}", loc=k.loc,
                           hint=f"its parameters are: {', '.join(k.param_names)}")
        if t in _KINDS and not isinstance(t, np.dtype):
            out[name] = "float" if _KINDS[t] == "f" else "int"
            continue
        try:
            dt = np.dtype(t).name
        except TypeError:
            dt = None
        if dt not in _EXACT:
            raise DSLError(f"dtypes[{name!r}] = {t!r} is not a type pramsim knows", loc=k.loc,
                           hint="use float32, float64, int32, int64 (exact array dtype), or float / int (any)")
        out[name] = dt
    return out


def _check_declared(kernel_name: str, name: str, declared: str, value: Any, loc: Loc) -> Any:
    """A launch argument against its declared type; a number declared float is returned as a float."""
    from .errors import ExecutionError
    from .runtime import DeviceArray
    if isinstance(value, DeviceArray):
        got = value.dtype
        ok = got.name == declared or (declared == "float" and got.kind == "f") or (declared == "int" and got.kind in "iu")
        if not ok:
            raise ExecutionError(f"kernel {kernel_name!r} declares {name!r} as {_article(declared)} array, "
                                 f"the launch passed a {got} array", loc=loc,
                                 hint=f"allocate it as {declared} (zeros(n, {declared}) or .astype(np.{declared}) "
                                      f"in inputs), or change the declaration")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return value  # not a number: the backend's binding says what is wrong
    if declared in ("int", "int32", "int64"):
        if not isinstance(value, (int, np.integer)):
            raise ExecutionError(f"kernel {kernel_name!r} declares {name!r} as an integer, the launch passed "
                                 f"{value!r} ({type(value).__name__})", loc=loc,
                                 hint="pass an integer, e.g. int(x) or x // y on the host")
        return value
    return float(value) if not isinstance(value, np.floating) else value


def _article(t: str) -> str:
    return f"an {t}" if t[0] in "aeiou" else f"a {t}"


def zeros(shape: int | tuple[int, ...], dtype: Any = np.float32) -> Any:
    """Allocate a zero-filled array in global memory (HBM) on the running backend. A shape that
    is not non-negative integers, or a dtype NumPy does not know, is the program's error, at its line."""
    from . import runtime
    loc = caller_loc()
    dims = shape if isinstance(shape, tuple) else (shape,)
    if not all(_is_int(d) and d >= 0 for d in dims):
        raise ProgramError(f"zeros({shape!r}, ...): a shape is an integer or a tuple of integers, each at least 0",
                           loc=loc, hint="e.g. zeros(n, np.float32) or zeros((rows, n), np.float32)")
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise ProgramError(f"zeros(..., {dtype!r}): not a NumPy dtype", loc=loc,
                           hint="e.g. np.float32, np.int32 or np.int64") from None
    return runtime.current_backend(loc).zeros(shape, kind)


def require(condition: bool, message: str) -> None:
    """In a program's host code or inputs: reject invalid parameters with a clear message."""
    if not condition:
        raise RequirementError(message)


@dataclass
class Program:
    """A host program with its declared parameters, inputs, NumPy reference and bounds."""

    name: str
    host: Callable[..., Any]
    params: dict[str, int]
    inputs: Callable[..., dict[str, np.ndarray]]
    reference: Callable[..., Any]
    work: str | None = None
    depth: str | None = None
    counts: dict[str, str] = field(default_factory=dict)     # exact counts, e.g. {"flop": "n - 1"}
    at_most: dict[str, str] = field(default_factory=dict)    # upper bounds, e.g. {"flop": "2*(n-1)"}
    sweep: dict[str, list[int]] = field(default_factory=dict)
    rtol: float = 1e-4
    description: str = ""
    file: str = ""
    # each parameter's allowed values, (low, high) inclusive, high None for no limit; @program fills
    # it for every parameter (see _checked_ranges), a Program built directly may leave it empty
    ranges: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.host(*args, **kwargs)

    def param_range(self, name: str) -> tuple[int, int | None]:
        """The (low, high) range of parameter `name`: the declared one, else (1, None)."""
        return self.ranges.get(name, DEFAULT_RANGE)


DEFAULT_RANGE: tuple[int, int | None] = (1, None)  # a parameter without a declared range: integers >= 1


def format_range(low: int, high: int | None) -> str:
    """(0, 1) -> '0..1'; (0, None) -> '0..' (no upper limit)."""
    return f"{low}..{'' if high is None else high}"


def program(*, params: dict[str, int], inputs: Callable[..., dict[str, np.ndarray]],
            reference: Callable[..., Any], work: str | None = None, depth: str | None = None,
            counts: dict[str, str] | None = None, at_most: dict[str, str] | None = None,
            sweep: dict[str, list[int]] | None = None, rtol: float = 1e-4,
            ranges: dict[str, tuple[int, int | None]] | None = None) -> Callable[[Callable[..., Any]], Program]:
    """Decorator declaring a host program.

    params: parameter names and defaults (integers; a string default makes a text parameter, such
    as graph="random", which takes any text from the command line). ranges: {name: (low, high)} the values a parameter
    allows, inclusive, high None for no limit (e.g. {"pad": (0, 1)}); a parameter not named takes
    integers >= 1 (>= its default when that is smaller). inputs(rng, **params) -> {name: ndarray}, passed to the
    host as device arrays. reference(**inputs, **params) -> the expected result (NumPy, float64).
    work/depth: Θ forms such as "n log n" (see pramsim.bounds). counts/at_most: exact or upper
    bounds on counters ("flop", "flop.+", "load.hbm", "depth", "depth.flop"...). sweep: sizes
    `pramsim check` uses.
    """
    declared_ranges = _checked_ranges(params, ranges or {}, caller_loc())
    if not _is_real(rtol) or not math.isfinite(rtol) or rtol < 0:  # NaN fails every run, inf passes every one
        raise ProgramError(f"@program(rtol={rtol!r}): the tolerance must be a finite number of at least 0",
                           loc=caller_loc(), hint="e.g. rtol=1e-4: the largest max|result - reference| / "
                                                  "max|reference| that passes")

    def wrap(host: Callable[..., Any]) -> Program:
        _check_bounds(host, params, work, depth, counts, at_most)
        module = sys.modules.get(host.__module__)
        doc = (host.__doc__ or getattr(module, "__doc__", None) or "").strip()
        return Program(name=host.__name__, host=host, params=dict(params), inputs=inputs, reference=reference,
                       work=work, depth=depth, counts=dict(counts or {}), at_most=dict(at_most or {}),
                       sweep=dict(sweep or {}), rtol=rtol, description=doc.splitlines()[0] if doc else "",
                       file=getattr(module, "__file__", "") or "", ranges=declared_ranges)
    return wrap


def _checked_ranges(params: dict[str, int], ranges: Any, loc: Loc) -> dict[str, tuple[int, int | None]]:
    """@program(ranges=...) checked: known parameter names, integer (low, high) pairs with low <= high
    (high may be None), and each default inside its range. Errors are DSL errors at the decorator."""
    from .errors import DSLError
    if not isinstance(ranges, dict):
        raise DSLError("@program(ranges=...) must be a dict of parameter name -> (low, high)", loc=loc)
    out: dict[str, tuple[int, int | None]] = {}
    for name, bounds in ranges.items():
        if name not in params:
            raise DSLError(f"ranges names {name!r}, which is not a parameter", loc=loc,
                           hint=f"the parameters are: {', '.join(params)}")
        ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2 and _is_int(bounds[0]) \
            and (bounds[1] is None or _is_int(bounds[1]))
        if not ok or (bounds[1] is not None and bounds[1] < bounds[0]):
            raise DSLError(f"ranges[{name!r}] = {bounds!r} is not a range", loc=loc,
                           hint="write (low, high) with integers low <= high, or (low, None) for no upper limit")
        low, high = int(bounds[0]), None if bounds[1] is None else int(bounds[1])
        out[name] = (low, high)
    for name, default in params.items():
        if name not in out:  # undeclared: integers >= 1, or from a smaller default up (files older than ranges=)
            out[name] = (min(default, 1), None) if _is_int(default) else DEFAULT_RANGE
            continue
        low, high = out[name]
        if _is_int(default) and not (low <= default and (high is None or default <= high)):
            raise DSLError(f"the default {name}={default} is outside its declared range {format_range(low, high)}",
                           loc=loc, hint="change the default or the range")
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_bounds(host: Callable[..., Any], params: dict[str, int], work: Any, depth: Any,
                  counts: dict[str, Any] | None, at_most: dict[str, Any] | None) -> None:
    """Every bound @program declares must parse and name only its parameters, checked when the
    program is loaded (by `run` too, not only by `check`, which evaluates them); an error points
    at the @program line."""
    from . import bounds
    loc = defined_at(host)
    names = dict(params) if isinstance(params, dict) else {}
    declared = [(f"work={work!r}", work, True), (f"depth={depth!r}", depth, True)]
    for label, table in (("counts", counts), ("at_most", at_most)):
        if table is not None and not isinstance(table, dict):
            raise ProgramError(f"@program({label}=...) must be a dict of counter name -> formula", loc=loc)
        declared += [(f"{label}[{key!r}]", formula, False) for key, formula in (table or {}).items()]
        for key in table or {}:
            unknown = counter_error(key)
            if unknown:
                raise ProgramError(f"@program({label}[{key!r}]): {unknown}", loc=loc,
                                   hint="use one of these names (docs/dsl.md); `pramsim run` shows the counts "
                                        "by category")
    for label, formula, theta in declared:
        if formula is None and theta:
            continue
        try:
            bounds.validate_formula(formula, names, theta)
        except PramsimError as exc:
            raise ProgramError(f"@program({label}): {exc.message}", loc=loc, hint=exc.hint) from None




def _positive_int(v: Any, what: str, name: str, loc: Loc) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise PramsimError(f"{name}[...]: the {what} must be an integer, got {v!r}", loc=loc)
    if v < 1:
        raise PramsimError(f"{name}[...]: the {what} must be at least 1, got {v}", loc=loc)
    return int(v)


def defined_at(fn: Callable[..., Any]) -> Loc | None:
    """The line that defines a program's function: where an error about it, or about what it gave, points."""
    code = getattr(fn, "__code__", None)
    return Loc(code.co_filename, code.co_firstlineno) if code else None


LEVELS = ("hbm", "sram", "local")  # memory levels: load.LEVEL, store.LEVEL, atomic.LEVEL, bytes.LEVEL


def counter_error(name: str) -> str:
    """Why CostTrace.counter does not know `name` ("" if it does). An unknown name reads 0, so a
    bound on it (@program counts=/at_most=) would hold whatever the program does."""
    operators = {o.key for o in ops.OPS.values() if o.charged}
    suffixes = {"work": (), "launches": (), "depth": DEPTH_CLASSES, "flop": operators, "int": operators,
                "load": LEVELS, "store": LEVELS, "atomic": LEVELS, "shfl": set(ops.WARP),
                "bytes": {f"{level}{d}" for level in LEVELS for d in ("", ".read", ".write")}}
    head, dot, rest = str(name).partition(".")
    if head in suffixes and (rest in suffixes[head] if dot else head != "bytes"):  # bytes needs its level
        return ""
    return (f"{name!r} is not a counter; the counters are work, depth, launches, "
            f"depth.CLASS ({', '.join(DEPTH_CLASSES)}), flop and int (flop.OP, int.OP for one operator, e.g. flop.+ or flop.exp), load, store and atomic "
            f"(.LEVEL: {', '.join(LEVELS)}), bytes.LEVEL[.read|.write], shfl (shfl.{', shfl.'.join(sorted(ops.WARP))})")
