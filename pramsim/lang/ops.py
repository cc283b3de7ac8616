"""The operation table: what every kernel operation means, written once.

One `Op` row per operator, comparison, math function and conversion gives its arity, its
result-kind rule, its cost, its checks (each with message and hint, from one catalogue), its NumPy
implementation (the vector engine) and its source template (generated Python: the compiled CPU
engine and numba.cuda render from it). `INTRINSICS` does the same for the processor-id
intrinsics, `memory_charge` for loads and stores. Every interpreter of the IR reads these rows:

- the frontend (which Python syntax and which functions are operations),
- the launch-time type checker and the compiled engine's kind inference (`ir.expr_kind`),
- the vector engine (`Op.apply`, `Op.failing`, `Op.charge`),
- the compiled engine and the CUDA renderer (`Op.render`).

Adding a math function is one row here (sin and cos were added that way).

Kinds are "b" (bool) < "i" (int) < "f" (float), as Python computes them: `True + True == 2`,
`min(True, False) is False`, `abs(True) == 1`, `/` always gives a float. A rule that returns
None refuses the kinds (e.g. `&` on a float): the type checker reports it at the kernel's line
before anything runs.

Cost (docs/cost-model.md): a charged operation is one unit of work and one step, in category
"flop" when any operand is a float (and then one step of the flop depth class), else "int".
Conversions, unary `+` and intrinsics are free (register moves in the unit-cost model).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ..errors import ExecutionError, Loc

BOOL, INT, FLOAT = "b", "i", "f"
KINDS = (BOOL, INT, FLOAT)
_RANK = {BOOL: 0, INT: 1, FLOAT: 2}


def join(*kinds: str) -> str:
    """The widest of some kinds (bool < int < float)."""
    return max(kinds, key=_RANK.__getitem__)


def kind_of_dtype(dtype: Any) -> str:
    k = np.dtype(dtype).kind
    return FLOAT if k in "fc" else BOOL if k == "b" else INT


def kind_of_value(v: Any) -> str:
    """The kind of a runtime value of the vector engine (a Python/NumPy scalar or a vector)."""
    if isinstance(v, np.ndarray):
        return kind_of_dtype(v.dtype)
    if isinstance(v, (bool, np.bool_)):
        return BOOL
    return FLOAT if isinstance(v, (float, np.floating)) else INT


# ---- the error catalogue ------------------------------------------------------------------------
# Both engines raise their run-time errors from here, so a user sees one message from either.
# `{where}` is "processor P: block B, lane L"; other fields are given by the raiser.

@dataclass(frozen=True)
class ErrorKind:
    code: int        # the number the compiled engine's generated code records
    message: str
    hint: str


ERRORS = {
    "out_of_bounds": ErrorKind(1, "index {index} is out of bounds for {array!r} with shape {shape} ({where})",
                               "guard the access with an `if` on the index, or launch fewer processors"),
    "div_zero": ErrorKind(2, "integer division by zero in `{expr}` ({where})", "guard the divisor with an `if`"),
    "int_of_nan": ErrorKind(3, "`{expr}` converts NaN or infinity to an integer ({where})",
                            "guard the value (e.g. check the divisor) before converting it"),
    "divergent_barrier": ErrorKind(
        4, "this condition differs between the lanes of block {block}, and the branch or loop it controls "
           "contains barrier(): some lanes would wait at a barrier the others never reach",
        "every processor of a block must execute the same barrier() calls: make the condition the same "
        "for the whole block, or move the barrier out"),
    "partial_barrier": ErrorKind(
        8, "barrier reached by only part of block {block}: {arrived} of {size} processors arrived; lanes {lanes} "
           "took another branch and never reach it",
        "every processor of a block must execute the same barrier() calls: move the barrier out of the branch "
        "or loop whose condition differs"),
    "negative_power": ErrorKind(5, "integer ** negative power in `{expr}` ({where})",
                                "use a float base, e.g. 2.0 ** k"),
    "runaway_loop": ErrorKind(6, "a loop ran more than {limit:,} iterations ({where})",
                              "check that the loop condition eventually becomes false for every processor"),
    "refused_kinds": ErrorKind(9, "`{op}` {refusal}, in `{expr}`",
                               "convert the float operand with int(...), or compute it as an integer"),
    "lane_offset": ErrorKind(10, "lane offset out of range 0..31 in `{expr}` ({where})",
                             "a warp has 32 lanes: shuffle by 0 to 31 (a lane whose source is outside its warp keeps "
                             "its own value)"),
    "shift_range": ErrorKind(7, "shift count out of range 0..63 in `{expr}` ({where})",
                             "shift by 0 to 63 bits: a 64-bit integer has no bits beyond (and CPUs and GPUs "
                             "disagree on what a larger shift gives)"),
}
ERROR_BY_CODE = {e.code: name for name, e in ERRORS.items()}


def where(processor: int, block: int) -> str:
    return f"processor {processor}: block {processor // block}, lane {processor % block}"


def index_text(value: int, dim: int, ndim: int) -> str:
    """How an out-of-bounds message shows the bad index: `12`, or `5 (dimension 1)`."""
    return f"{value} (dimension {dim})" if ndim > 1 else f"{value}"


def error(name: str, loc: Loc | None, **fields: Any) -> ExecutionError:
    """The catalogue's error `name`, formatted with `fields`, at `loc`."""
    e = ERRORS[name]
    return ExecutionError(e.message.format(**fields), loc=loc, hint=e.hint)


# ---- checks --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """A run-time check on one argument, applied when the argument kinds satisfy `applies`.

    `failing` (vector engine) maps the argument's value to True where the check fails; `test` is
    the same test as source text over `{v}` (compiled engine); `safe` is the value the generated
    code goes on with after recording the error. numba.cuda code is not checked (as on a GPU)."""

    error: str
    arg: int
    applies: Callable[[tuple[str, ...]], bool]
    failing: Callable[[Any], Any]
    test: str
    safe: str


def _ints(ks: tuple[str, ...]) -> bool:
    return FLOAT not in ks


_DIV_ZERO = Check("div_zero", 1, _ints, lambda v: v == 0, "{v} == 0", "1")
_NEG_POW = Check("negative_power", 1, _ints, lambda v: v < 0, "{v} < 0", "0")
_SHIFT = Check("shift_range", 1, _ints, lambda v: (v < 0) | (v > 63), "{v} < 0 or {v} > 63", "0")
_LANE_OFFSET = Check("lane_offset", 1, lambda ks: ks[1] != FLOAT, lambda v: (v < 0) | (v > 31), "{v} < 0 or {v} > 31",
                     "0")  # the offset's kind decides, not the shuffled value's
_INT_OF_NAN = Check("int_of_nan", 0, lambda ks: ks[0] == FLOAT, lambda v: ~np.isfinite(v),
                    "not math.isfinite({v})", "0.0")


# ---- rows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One operation. `template` renders generated Python from argument texts ({0}, {1});
    `cuda` overrides it for numba.cuda, `cpu` for the compiled CPU engine where they differ."""

    name: str                        # unique: "+", "neg" (unary minus), "exp", "int32", ...
    family: str                      # "binary", "compare", "unary", "math", "conversion"
    arity: int
    kind: Callable[[tuple[str, ...]], str | None]
    numpy: Callable[..., Any]
    template: str
    charged: bool = True
    checks: tuple[Check, ...] = ()
    bools_as_ints: bool = False      # bool operands are computed as integers (Python: True + True == 2)
    syntax: type | None = None       # the Python ast operator class (operators only)
    precedence: int = 0              # for printing (operators only)
    refusal: str = ""                # what the type checker says when `kind` refuses the operand kinds
    cpu: Callable[[list[str], tuple[str, ...]], str] | None = None
    cuda: Callable[[list[str], tuple[str, ...]], str] | None = None
    symbol: str = ""                 # as the IR and the cost counters name it ("-" for neg); default: name
    category: str = ""               # the cost category when it is not "flop"/"int" by operand kind
    source_lane: Callable[[Any, Any], Any] | None = None  # warp family: the lane (0..31) a lane reads

    @property
    def key(self) -> str:
        return self.symbol or self.name

    def result_kind(self, kinds: tuple[str, ...]) -> str | None:
        return self.kind(kinds)

    def charge(self, kinds: tuple[str, ...]) -> tuple[str, str | None] | None:
        """(category, depth class) this operation charges with these operand kinds, or None (free)."""
        if not self.charged:
            return None
        if self.category:
            return (self.category, None)
        return ("flop", "flop") if FLOAT in kinds else ("int", None)

    def checks_for(self, kinds: tuple[str, ...]) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.applies(kinds))

    def apply(self, args: list[Any]) -> Any:
        """The vector engine's value: NumPy on scalars or vectors; uniform results stay Python scalars."""
        if self.bools_as_ints:
            args = [as_int(a) for a in args]
        return unwrap(self.numpy(*args))

    def render(self, args: list[str], kinds: tuple[str, ...], backend: str) -> str:
        """Source text for generated Python (`backend` is "cpu" or "cuda")."""
        override = self.cpu if backend == "cpu" else self.cuda
        if override is not None:
            return override(args, kinds)
        if self.bools_as_ints:  # numpy's bool scalars (numba's CUDA simulator) would compute True + True == True
            cast = "np.int64({})" if backend == "cpu" else "int({})"
            args = [cast.format(a) if k == BOOL else a for a, k in zip(args, kinds)]
        return self.template.format(*args)


def as_int(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.astype(np.int64) if v.dtype == bool else v
    return int(v) if isinstance(v, (bool, np.bool_)) else v


def unwrap(v: Any) -> Any:
    """NumPy scalars back to Python scalars, so uniform values stay cheap (float32 stays float32)."""
    return v.item() if isinstance(v, np.generic) and not isinstance(v, np.float32) else v


# kind rules
def _arith(ks):
    return FLOAT if FLOAT in ks else INT


def _bitwise(ks):
    return None if FLOAT in ks else BOOL if set(ks) == {BOOL} else INT


def _int_only(ks):
    return None if FLOAT in ks else INT


def _float(ks):
    return FLOAT


def _bool(ks):
    return BOOL


def _same(ks):  # min, max: Python keeps bools (min(True, False) is False)
    return join(*ks)


def _round(ks):
    return INT


def _bool_as_int(ks):  # -x, +x, abs(x): Python gives an int for a bool (abs(True) == 1)
    return INT if ks[0] == BOOL else ks[0]


def _binary(name, syntax, fn, prec, kind=_arith, checks=(), refusal=""):
    return Op(name, "binary", 2, kind, fn, "({0} %s {1})" % name, checks=checks, bools_as_ints=kind is not _bitwise,
              syntax=syntax, precedence=prec, refusal=refusal)


def _compare(name, syntax, fn):
    return Op(name, "compare", 2, _bool, fn, "({0} %s {1})" % name, syntax=syntax, precedence=4)


def _math(name, fn, kind=_float, arity=1, template=None):
    # Bools are computed as ints (NumPy would take exp(True) in float16); min/max keep them (Python does).
    return Op(name, "math", arity, kind, fn, template or f"math.{name}({{0}})", bools_as_ints=kind is not _same)


def _minmax_cpu(name):
    # NaN propagates, as np.minimum/np.maximum do in the vector engine.
    return lambda a, ks: f"np.{name}imum({a[0]}, {a[1]})" if FLOAT in ks else f"{name}({a[0]}, {a[1]})"


def _floor_like(fn):
    def apply(v):
        r = fn(v)
        return r.astype(np.int64) if isinstance(r, np.ndarray) else int(r)
    return apply


def logical_not(v):
    return np.logical_not(v) if isinstance(v, np.ndarray) else not v


def _convert(dtype: str):
    def apply(v):
        if dtype == "int":
            return np.trunc(v).astype(np.int64) if isinstance(v, np.ndarray) else int(v)
        if dtype == "float":
            return v.astype(np.float64) if isinstance(v, np.ndarray) else float(v)
        dt = np.dtype(dtype)
        if isinstance(v, np.ndarray):
            return (np.trunc(v) if dt.kind == "i" and v.dtype.kind == "f" else v).astype(dt)
        return np.asarray(v).astype(dt)[()]  # as a vector would: int32(2**40) wraps, as in the compiled engine
    return apply


def _conversion(name, kind, template):
    return Op(name, "conversion", 1, lambda ks, k=kind: k, _convert(name), template, charged=False, bools_as_ints=True,
              checks=(_INT_OF_NAN,) if kind == INT else ())


_BITWISE_REFUSAL = "needs integers or bools, got a float"

OPS: dict[str, Op] = {op.name: op for op in [
    _binary("+", ast.Add, np.add, 9),
    _binary("-", ast.Sub, np.subtract, 9),
    _binary("*", ast.Mult, np.multiply, 10),
    _binary("/", ast.Div, np.true_divide, 10, kind=_float),
    _binary("//", ast.FloorDiv, np.floor_divide, 10, checks=(_DIV_ZERO,)),
    _binary("%", ast.Mod, np.mod, 10, checks=(_DIV_ZERO,)),
    _binary("**", ast.Pow, np.power, 12, checks=(_NEG_POW,)),
    _binary("<<", ast.LShift, np.left_shift, 8, kind=_int_only, checks=(_SHIFT,), refusal=_BITWISE_REFUSAL),
    _binary(">>", ast.RShift, np.right_shift, 8, kind=_int_only, checks=(_SHIFT,), refusal=_BITWISE_REFUSAL),
    _binary("&", ast.BitAnd, np.bitwise_and, 7, kind=_bitwise, refusal=_BITWISE_REFUSAL),
    _binary("|", ast.BitOr, np.bitwise_or, 5, kind=_bitwise, refusal=_BITWISE_REFUSAL),
    _binary("^", ast.BitXor, np.bitwise_xor, 6, kind=_bitwise, refusal=_BITWISE_REFUSAL),
    _compare("<", ast.Lt, np.less),
    _compare("<=", ast.LtE, np.less_equal),
    _compare(">", ast.Gt, np.greater),
    _compare(">=", ast.GtE, np.greater_equal),
    _compare("==", ast.Eq, np.equal),
    _compare("!=", ast.NotEq, np.not_equal),
    Op("neg", "unary", 1, _bool_as_int, np.negative, "(-{0})", bools_as_ints=True, syntax=ast.USub, precedence=11,
       symbol="-"),
    Op("pos", "unary", 1, _bool_as_int, lambda v: v, "(+{0})", charged=False, bools_as_ints=True, syntax=ast.UAdd,
       precedence=11, symbol="+"),
    Op("not", "unary", 1, _bool, logical_not, "(not {0})", syntax=ast.Not, precedence=3),
    Op("~", "unary", 1, _int_only, np.invert, "(~{0})", bools_as_ints=True, syntax=ast.Invert, precedence=11,
       refusal="needs an integer, got a float: use -x - 1 for floats, or convert with int(...)"),
    _math("exp", np.exp),
    _math("log", np.log),
    _math("sqrt", np.sqrt),
    _math("tanh", np.tanh),
    _math("sin", np.sin),
    _math("cos", np.cos),
    _math("floor", _floor_like(np.floor), kind=_round),
    _math("ceil", _floor_like(np.ceil), kind=_round),
    _math("min", np.minimum, kind=_same, arity=2, template="min({0}, {1})"),
    _math("max", np.maximum, kind=_same, arity=2, template="max({0}, {1})"),
    _math("abs", np.abs, kind=_bool_as_int, template="abs({0})"),
    _conversion("float", FLOAT, "float({0})"),
    _conversion("float32", FLOAT, "np.float32({0})"),
    _conversion("float64", FLOAT, "np.float64({0})"),
    _conversion("int", INT, "int({0})"),
    _conversion("int32", INT, "np.int32({0})"),
    _conversion("int64", INT, "np.int64({0})"),
]}

# ---- warp shuffles -------------------------------------------------------------------------------
# A lane reads a register of another lane of its warp (32 consecutive lanes of a block), in lockstep.
# Not elementwise: the vector engine gathers by `source_lane` (pramsim/engines/warp.py); a lane whose
# source is outside its warp or block, or inactive, gets its own value. Charged as one "shfl"
# operation (a register exchange, not a memory access: PRAM models and the race checker ignore it).

def _shuffle_kind(ks):
    return None if ks[0] == BOOL or ks[1] == FLOAT else ks[0]


def _shuffle(name, source_lane):
    return Op(name, "warp", 2, _shuffle_kind, None, f"cuda.{name}_sync(0xffffffff, {{0}}, {{1}})", checks=(_LANE_OFFSET,),
              category="shfl", source_lane=source_lane,
              refusal="moves a number (int or float, not a bool) by an integer lane offset")


WARP = {o.name: o for o in [
    _shuffle("shfl_down", lambda lane, delta: lane + delta),
    _shuffle("shfl_xor", lambda lane, mask: lane ^ mask),
]}

# per-backend overrides
OPS["min"] = replace(OPS["min"], cpu=_minmax_cpu("min"))
OPS["max"] = replace(OPS["max"], cpu=_minmax_cpu("max"))

# By family, keyed as the IR names them (a unary minus is UnaryOp("-"), its row "neg").
BINARY = {o.key: o for o in OPS.values() if o.family == "binary"}
COMPARE = {o.key: o for o in OPS.values() if o.family == "compare"}
UNARY = {o.key: o for o in OPS.values() if o.family == "unary"}
MATH = {o.key: o for o in OPS.values() if o.family == "math"}
CONVERSIONS = {o.key: o for o in OPS.values() if o.family == "conversion"}
CALLS = {**MATH, **CONVERSIONS, **WARP}
BY_SYNTAX = {o.syntax: o.key for o in OPS.values() if o.syntax is not None}  # ast operator class -> IR name


# ---- intrinsics ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Intrinsic:
    """A processor-id intrinsic: free to read (a register), an int; per-backend source text."""

    name: str
    cpu: str                 # the compiled engine's variable
    cuda: str                # numba.cuda's expression
    uniform: bool            # the same on every lane of a block


INTRINSICS = {i.name: i for i in [
    Intrinsic("gid", "_g", "cuda.grid(1)", False),  # global processor id: block_id() * block_dim() + lane()
    Intrinsic("lane", "t", "cuda.threadIdx.x", False),  # index of the processor in its block
    Intrinsic("block_id", "b", "cuda.blockIdx.x", True),  # index of the block
    Intrinsic("block_dim", "_B", "cuda.blockDim.x", True),  # processors per block
    Intrinsic("num_blocks", "_NB", "cuda.gridDim.x", True),  # blocks in the launch
    Intrinsic("num_procs", "_P", "_pramsim_nprocs", True),  # processors in the launch
    Intrinsic("warp_size", "32", "32", True),  # lanes per warp (shfl_down, shfl_xor)
]}


# ---- atomics -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AtomicOp:
    """An atomic read-modify-write of one array cell, returning the old value.

    The atomics of one step to one cell apply one after another in processor order (the vector
    engine, pramsim/engines/contention.py), and the k-th of them completes k steps after they
    start: contention is depth. `update` is the NumPy ufunc that combines the old value with the
    argument (None: exch and cas, handled by name). `kinds`: the array element kinds allowed."""

    name: str                   # "add", "min", "max", "exch", "cas"
    arity: int                  # arguments after the array and the index
    update: Any
    kinds: tuple[str, ...] = (INT, FLOAT)

    @property
    def cuda(self) -> str:
        return f"cuda.atomic.{self.name}"


ATOMICS = {a.name: a for a in [
    AtomicOp("add", 1, np.add),
    AtomicOp("min", 1, np.minimum),
    AtomicOp("max", 1, np.maximum),
    AtomicOp("exch", 1, None),
    AtomicOp("cas", 2, None, kinds=(INT,)),  # compare-and-swap: (expected, new); integer cells (as CUDA)
]}


# ---- loads and stores ----------------------------------------------------------------------------

def memory_charge(kind: str, level: str) -> tuple[str, str, str | None]:
    """(category, op, depth class) of a load, store or atomic ("load"/"store"/"atomic") at a memory level
    ("hbm", "sram", "local"): one unit of work; HBM and SRAM accesses also count in their depth class."""
    return kind, level, level if level in ("hbm", "sram") else None

