"""The compiled engine: a kernel's IR rendered to a numba (CPU) function that counts as the executor does.

`--engine compiled` runs the same cost model as the vector executor (pramsim.executor), tens of
times faster on large launches, by giving up lockstep execution: each block's lanes run one after
another between barriers, as a GPU may run them. For a race-free program (no lane touches a cell
that another lane writes, between two barriers or anywhere in another block of the launch) that
changes nothing: outputs, work by category, depth by class, the parallelism profile, per-block
figures and the barrier count are the executor's (tests/test_compiled.py checks every shipped
program). A program that relies on lockstep reads-before-writes will compute something else, and
its comparison with the NumPy reference will say so; `--check-races` on the vector engine finds
such races.

How it counts without per-processor vectors: within one barrier interval a processor's operations
occupy consecutive depth steps, so the profile needs only each lane's step count at the interval's
start and end (a difference array). The charges of a straight run of code are constants: the
generated code counts how often each such chunk runs, and Python multiplies by its charges.

Structure of the generated function: loop over blocks; barrier-free runs of statements become a
loop over the block's lanes ("lane regions"); an if/while/for that contains barrier() stays at
block level, its condition is evaluated per lane and must agree across the block's running lanes
(else: the divergent-barrier error). Variables live in per-lane arrays between regions, except
block-uniform ones (computed from parameters and block_id() at block level), which are one scalar
per block, computed once, their charges added to every running lane.

Limits (the kernel then runs on the vector engine, with a note): a variable assigned both float and
non-float values, a non-integer index, shared/local shapes not computed from parameters, anything
numba cannot type. Only the default PRAM model (crcw-arbitrary), without --check-races. A variable
read before it is assigned reads 0 here (the vector engine reports it). Out-of-bounds indices,
integer division by zero, int(NaN), runaway loops and divergent barriers are errors, as there.
"""
from __future__ import annotations

import math
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from . import codecache, ir, limits
from .cost import BANK_BYTES, BANKS, WARP_LANES, CostTrace, LaunchTrace
from .errors import ExecutionError, Loc, PramsimError

MAX_ITERATIONS = 10_000_000  # as the vector executor: a loop's iterations per execution
# A warp's shared-memory accesses at one site are grouped into instances by the iteration numbers
# of the lane-level loops around it (mixed radix; exact up to 2**20 iterations and 3 nested loops).
_KEY_RADIX = 2 ** 20
# Accesses a lane records per site between barriers, in a recording block (see launch); later ones
# get the mean wavefronts per access of those.
_BANK_CAPACITY = 1024


class Unsupported(Exception):
    """This kernel (or launch) cannot run on the compiled engine; the message says why."""


# ---- static kinds: b(ool) < i(nt) < f(loat), as the executor's dynamic values would have ----

_JOIN = {"b": 0, "i": 1, "f": 2}
_MATH_FLOAT = {"exp", "log", "sqrt", "tanh"}


def _join(*kinds: str) -> str:
    return max(kinds, key=_JOIN.__getitem__)


def _dtype_kind(dtype: np.dtype) -> str:
    return {"f": "f", "i": "i", "u": "i", "b": "b"}[np.dtype(dtype).kind]


class _Kinds:
    """Each variable's and expression's kind, inferred once per (kernel, argument kinds)."""

    def __init__(self, kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalar_kinds: dict[str, str]):
        self.arrays = dict(array_dtypes)
        self.vars: dict[str, str] = dict(scalar_kinds)
        assigned: dict[str, set[str]] = {}
        for _ in range(20):  # fixpoint: a kind only rises, so this settles within a few rounds
            before = dict(self.vars)
            assigned = {}
            for s in _walk_stmts(kernel.body):
                if isinstance(s, ir.Assign):
                    assigned.setdefault(s.target, set()).add(self.of(s.value))
                elif isinstance(s, ir.For):
                    assigned.setdefault(s.var, set()).add(self.of(s.start))
            for name, kinds in assigned.items():
                self.vars[name] = _join(self.vars.get(name, "b"), *kinds)
            if self.vars == before:
                break
        for name, kinds in assigned.items():
            if "f" in kinds and len(kinds) > 1 or name in scalar_kinds and (scalar_kinds[name] == "f") != ("f" in kinds):
                raise Unsupported(f"variable {name!r} holds float and integer values at different times")

    def of(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            return "b" if isinstance(e.value, bool) else "i" if isinstance(e.value, int) else "f"
        if isinstance(e, ir.Var):
            return self.vars.get(e.name, "b")
        if isinstance(e, ir.Intrinsic):
            return "i"
        if isinstance(e, ir.Load):
            return _dtype_kind(self.arrays[e.array]) if e.array in self.arrays else "f"
        if isinstance(e, ir.BinOp):
            k = _join(self.of(e.left), self.of(e.right))
            if e.op == "/":
                return "f"
            if k == "b" and e.op not in ("&", "|", "^"):
                return "i"
            return k
        if isinstance(e, (ir.Compare, ir.BoolOp)):
            return "b"
        if isinstance(e, ir.UnaryOp):
            k = self.of(e.operand)
            return "b" if e.op == "not" else ("i" if k == "b" and e.op != "+" else k)
        if isinstance(e, ir.Select):
            return _join(self.of(e.if_true), self.of(e.if_false))
        if isinstance(e, ir.Call):
            if e.func in ir.CONVERSIONS:
                return "f" if e.func.startswith("float") else "i"
            if e.func in _MATH_FLOAT:
                return "f"
            if e.func in ("floor", "ceil"):
                return "i"
            k = _join(*(self.of(a) for a in e.args))
            return "i" if k == "b" else k
        raise Unsupported(f"expression {type(e).__name__}")

    def category(self, *operands: ir.Expr) -> str:
        return "flop" if any(self.of(a) == "f" for a in operands) else "int"


# ---- IR helpers -----------------------------------------------------------------------------------


_children = ir.stmt_children
_walk_stmts = ir.walk_stmts


def _has(s: ir.Stmt, kind: type) -> bool:
    return any(isinstance(x, kind) for x in _walk_stmts((s,)))


def _stmt_exprs(s: ir.Stmt) -> list[ir.Expr]:
    if isinstance(s, ir.Assign):
        return [s.value]
    if isinstance(s, ir.Store):
        return [s.value, *s.index]
    if isinstance(s, (ir.If, ir.While)):
        return [s.cond]
    if isinstance(s, ir.For):
        return [s.start, s.stop]
    return []


_UNIFORM_INTRINSICS = {"block_id", "block_dim", "num_blocks", "num_procs"}


def _top_level(body: tuple[ir.Stmt, ...]):
    """Statements at block level: the kernel's own, and those of if/while/for holding a barrier."""
    for s in body:
        yield s
        if _has(s, ir.Barrier):
            for child in _children(s):
                yield from _top_level(child)


def _uniform_expr(e: ir.Expr, uniform_var: Any) -> bool:
    """Whether `e` is the same on every lane of a block: no loads, no lane-dependent intrinsic,
    and only variables for which `uniform_var(name)` holds."""
    return all(not isinstance(n, ir.Load)
               and not (isinstance(n, ir.Intrinsic) and n.name not in _UNIFORM_INTRINSICS)
               and not (isinstance(n, ir.Var) and not uniform_var(n.name)) for n in ir.walk_expr(e))


def _uniform_vars(kernel: ir.Kernel, params: set[str]) -> set[str]:
    """Variables that are the same on every lane of a block and only assigned at block level: the
    generated code keeps them as one scalar per block and computes them once (charging every lane)."""
    top = list(_top_level(kernel.body))
    top_ids = {id(s) for s in top}
    assigns: dict[str, list[ir.Expr]] = {}
    demoted: set[str] = set()
    for s in _walk_stmts(kernel.body):
        if isinstance(s, ir.Assign):
            (assigns.setdefault(s.target, []).append(s.value) if id(s) in top_ids else demoted.add(s.target))
        elif isinstance(s, ir.For):
            if id(s) in top_ids and _has(s, ir.Barrier):
                assigns.setdefault(s.var, []).extend([s.start, s.stop])
            else:
                demoted.add(s.var)
    uniform = set(assigns) - demoted

    def ok(e: ir.Expr) -> bool:
        return _uniform_expr(e, lambda v: v in uniform or v in params and v not in assigns)
    while True:
        bad = {v for v in uniform if not all(ok(e) for e in assigns[v])}
        if not bad:
            return uniform
        uniform -= bad


def _reads(stmts: tuple[ir.Stmt, ...]) -> Counter:
    """How many times each variable is read in stmts (a for loop reads its variable)."""
    reads: Counter = Counter()
    for s in _walk_stmts(stmts):
        for e in _stmt_exprs(s):
            reads.update(n.name for n in ir.walk_expr(e) if isinstance(n, ir.Var))
        if isinstance(s, ir.For):
            reads[s.var] += 1
    return reads


def _names(stmts: tuple[ir.Stmt, ...]) -> tuple[set[str], set[str]]:
    """(variables read, variables assigned) anywhere in stmts."""
    read: set[str] = set()
    written: set[str] = set()
    for s in _walk_stmts(stmts):
        for e in _stmt_exprs(s):
            read |= {n.name for n in ir.walk_expr(e) if isinstance(n, ir.Var)}
        if isinstance(s, ir.Assign):
            written.add(s.target)
        elif isinstance(s, ir.For):
            written.add(s.var)
            read.add(s.var)
    return read, written


# ---- code generation -----------------------------------------------------------------------------

# Per-lane counters live in the rows of one array LS: step, flop depth, HBM depth, SRAM depth.
_LANE_STATE = (("LS[t, 0]", "st"), ("LS[t, 1]", "fl"), ("LS[t, 2]", "hb"), ("LS[t, 3]", "sr"))
_ERR_OOB, _ERR_DIV0, _ERR_INT_NAN, _ERR_DIVERGENT, _ERR_NEG_POW, _ERR_LOOP = range(1, 7)
_MATH = {"exp": "math.exp", "log": "math.log", "sqrt": "math.sqrt", "tanh": "math.tanh",
         "floor": "math.floor", "ceil": "math.ceil", "min": "min", "max": "max", "abs": "abs"}
_CONVERSIONS = {"float": "float", "int": "int", "float32": "np.float32", "float64": "np.float64",
                "int32": "np.int32", "int64": "np.int64"}
_VAR_DTYPE = {"b": "np.bool_", "i": "np.int64", "f": "np.float64"}  # a Select's result


def _rt(text: str) -> str:
    """A literal as a run-time value (`5 + _Z`, _Z = 0 is an argument): numba would otherwise compile
    the helper it is passed to once per distinct literal."""
    return f"{text} + _Z" if text.lstrip("-").isdigit() else text


class _Gen:
    """Renders one kernel (for given argument dtypes and scalar kinds) to a numba function's source."""

    def __init__(self, kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalars: dict[str, Any],
                 record: bool = False):
        self.k = kernel
        self.record = record  # this rendering records shared-memory accesses (bank conflicts)
        self.scalars = scalars
        self.array_params = {n: np.dtype(d) for n, d in array_dtypes.items()}
        self.allocs: dict[str, ir.AllocArray] = {}
        self.alloc_shapes: dict[str, tuple[int, ...]] = {}
        for s in _walk_stmts(kernel.body):
            if isinstance(s, ir.AllocArray):
                self.allocs.setdefault(s.name, s)
        for name, s in self.allocs.items():
            self.alloc_shapes[name] = tuple(self._shape_value(d, s) for d in s.shape)
        dtypes = {**self.array_params, **{n: np.dtype(s.dtype) for n, s in self.allocs.items()}}
        self.kinds = _Kinds(kernel, dtypes, {n: ("f" if isinstance(v, (float, np.floating)) else "i")
                                             for n, v in scalars.items()})
        _, assigned = _names(kernel.body)
        self.assigned_params = {n for n in scalars if n in assigned}
        self.uniform_vars = _uniform_vars(kernel, set(scalars))
        self.lane_vars = (assigned | self.assigned_params) - self.uniform_vars
        self.uniform_ctx = False  # generating block-level code that runs once for all lanes
        # A chunk is a straight run of code whose charges are constants: the generated code counts
        # how often each chunk runs (_kj += 1, into _K[j]) and Python multiplies by its charges.
        self.chunks: list[Counter] = []
        self.sites: list[tuple[int, Loc, Any]] = []
        self.lines: list[str] = []
        self.ind = 0
        self.pending: Counter = Counter()
        self.tmp = 0
        self.slots: dict[str, tuple[str, int]] = {}
        self.used: set[str] = set()  # lane counters (st, fl, hb, sr) the current region charges
        self.total_reads = _reads(kernel.body)
        self.always_store: set[str] = set()  # loop variables of block-level loops, conditions
        self.loops = 0  # block-level loops around the code being generated
        # Shared-memory accesses are recorded per warp to count wavefronts (bank conflicts): each
        # access site gets a number; lane-level loops around it give the instance key.
        self.bank_sites = 0
        self.bank_spans: list[int] = []  # words per access, per site
        self.lane_loops: list[str] = []  # iteration counters of the lane-level loops being generated

    def _shape_value(self, d: ir.Expr, s: ir.AllocArray) -> int:
        if isinstance(d, ir.Const) and isinstance(d.value, int):
            v = d.value
        elif isinstance(d, ir.Var) and d.name in self.scalars:
            v = self.scalars[d.name]
        else:
            try:
                v = eval(ir.format_expr(d), {"__builtins__": {}}, dict(self.scalars))  # noqa: S307 - IR text
            except Exception:
                raise Unsupported(f"the shape of {s.space} array {s.name!r} is not computed from parameters") from None
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise Unsupported(f"the shape of {s.space} array {s.name!r} is not a positive integer")
        return int(v)

    # -- emitting --
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def fresh(self, stem: str) -> str:
        self.tmp += 1
        return f"_{stem}{self.tmp}"

    def site(self, kind: int, loc: Loc, info: Any = None) -> int:
        self.sites.append((kind, loc, info))
        return len(self.sites) - 1

    def fail(self, kind: int, loc: Loc, who: str, values: tuple[str, ...] = (), info: Any = None) -> None:
        """Emit: record the first error (kind, site, processor or block, up to 3 values).

        The caller makes the code go on safely (a zero index, a divisor of one, a break); the
        function returns after the lane region. Few exits keep numba's compile time down."""
        sid = self.site(kind, loc, info)
        vals = [_rt(v) for v in (list(values) + ["0", "0", "0"])[:3]]
        self.emit(f"_fail(_err, {kind} + _Z, {sid} + _Z, {who}, {', '.join(vals)})")

    def slot(self, name: str) -> str:
        """Where a variable lives between lane regions: a row of VI (int, bool) or VF (float), column t."""
        if name not in self.slots:
            table = "VF" if self.kinds.vars.get(name, "b") == "f" else "VI"
            self.slots[name] = (table, sum(1 for t, _ in self.slots.values() if t == table))
        table, row = self.slots[name]
        return f"{table}[t, {row}]"

    def flush(self) -> None:
        """Emit the pending charges as one chunk: its execution count and the lane's depth counters."""
        if not any(self.pending.values()):
            return
        self.chunks.append(Counter(self.pending))
        j = len(self.chunks) - 1
        if self.uniform_ctx:  # computed once for the block: charge every running lane
            # Deferred: the lanes' counters get _ust/_ufl before the next barrier (order within a
            # barrier interval does not matter); _nr counts the running lanes.
            st, fl = self.pending["st"], self.pending["fl"]
            self.emit(f"_k{j} += _nr; _ust += {st}; _ufl += {fl}; _bw += {st} * _nr; _bfl += {fl} * _nr")
        else:
            lane = [f"{name} += {self.pending[name]}" for name in ("st", "fl", "hb", "sr") if self.pending[name]]
            self.used |= {name for name in ("st", "fl", "hb", "sr") if self.pending[name]}
            self.emit("; ".join([f"_k{j} += 1", *lane]))
        self.pending.clear()

    def charge(self, cat: str, op: str, depth_class: str | None) -> None:
        self.pending["st"] += 1
        self.pending[(cat, op)] += 1
        if depth_class is not None:
            self.pending[{"flop": "fl", "hbm": "hb", "sram": "sr"}[depth_class]] += 1

    def charge_memory(self, kind: str, level: str, itemsize: int, direction: str) -> None:
        self.charge(kind, level, level if level in ("hbm", "sram") else None)
        self.pending[("bytes", level, direction)] += itemsize

    def nested(self, render: Any, keep: bool = False) -> Any:
        """Run `render` one indent deeper with its own charges, flushed there (a conditional path).

        keep=True moves the charges pending now into that deeper block."""
        saved, self.pending = (Counter(), self.pending) if keep else (self.pending, Counter())
        self.ind += 1
        try:
            result = render()
            self.flush()
        finally:
            self.ind -= 1
            self.pending = saved
        return result

    # -- expressions (inside a lane loop) --
    def var(self, name: str, loc: Loc) -> str:
        if name in self.uniform_vars:
            return f"w_{name}"
        if name in self.lane_vars:
            return f"u_{name}"
        if name in self.scalars:
            return f"p_{name}"
        raise Unsupported(f"variable {name!r} is read but never assigned (the vector engine reports where)")

    def value(self, e: ir.Expr) -> str:
        """An expression's text as a temporary or simple name (so it can be checked and reused)."""
        text = self.expr(e)
        if text.isidentifier() or text.lstrip("-").isdigit():
            return text
        name = self.fresh("v")
        self.emit(f"{name} = {text}")
        return name

    def expr(self, e: ir.Expr) -> str:
        K = self.kinds
        if isinstance(e, ir.Const):
            v = e.value
            if isinstance(v, float):
                text = "math.nan" if math.isnan(v) else ("math.inf" if v > 0 else "(-math.inf)") if math.isinf(v) else repr(v)
                # A Python float: float64, as the executor keeps uniform values; beside float32
                # data the result is float64 here (the executor's float32 is within rounding).
                return f"float({text})"
            return repr(v)
        if isinstance(e, ir.Var):
            return self.var(e.name, e.loc)
        if isinstance(e, ir.Intrinsic):
            return {"gid": "_g", "lane": "t", "block_id": "b", "block_dim": "_B", "num_blocks": "_NB",
                    "num_procs": "_P"}[e.name]
        if isinstance(e, ir.Load):
            ref = self.array_ref(e.array, e.index, e.loc)
            level, itemsize = self.level(e.array)
            self.charge_memory("load", level, itemsize, "read")
            return ref
        if isinstance(e, ir.BinOp):
            left, right = self.expr(e.left), self.expr(e.right)
            ints = K.of(e.left) != "f" and K.of(e.right) != "f"
            if e.op in ("//", "%") and ints and not (isinstance(e.right, ir.Const) and e.right.value != 0):
                right = f"_nz({right}, _err, {self.site(_ERR_DIV0, e.loc)} + _Z, _g)"
            elif e.op == "**" and ints:
                right = self.checked(right, "{v} < 0", _ERR_NEG_POW, e.loc, "0")
            self.charge(K.category(e.left, e.right), e.op, "flop" if K.category(e.left, e.right) == "flop" else None)
            if K.of(e.left) == "b" and K.of(e.right) == "b" and e.op not in ("&", "|", "^"):
                left = f"np.int64({left})"
            return f"({left} {e.op} {right})"
        if isinstance(e, ir.Compare):
            left, right = self.expr(e.left), self.expr(e.right)
            cat = K.category(e.left, e.right)
            self.charge(cat, e.op, "flop" if cat == "flop" else None)
            return f"({left} {e.op} {right})"
        if isinstance(e, ir.UnaryOp):
            operand = self.expr(e.operand)
            if e.op == "+":
                return operand
            cat = K.category(e.operand)
            self.charge(cat, e.op, "flop" if cat == "flop" else None)
            if e.op == "not":
                return f"(not {operand})"
            if K.of(e.operand) == "b":
                operand = f"np.int64({operand})"
            return f"({e.op}{operand})"
        if isinstance(e, ir.BoolOp):
            name = self.fresh("b")
            self.emit(f"{name} = bool({self.expr(e.left)})")
            self.emit(f"if {'' if e.op == 'and' else 'not '}{name}:")
            self.nested(lambda: self.emit(f"{name} = bool({self.expr(e.right)})"))
            return name
        if isinstance(e, ir.Select):
            name = self.fresh("s")
            if (K.of(e.if_true) == "f") != (K.of(e.if_false) == "f"):  # the executor types it per run
                raise Unsupported("an `x if c else y` whose sides are a float and an integer")
            cast = _VAR_DTYPE[K.of(e)]
            self.emit(f"if {self.expr(e.cond)}:")
            self.nested(lambda: self.emit(f"{name} = {cast}({self.expr(e.if_true)})"))
            self.emit("else:")
            self.nested(lambda: self.emit(f"{name} = {cast}({self.expr(e.if_false)})"))
            return name
        if isinstance(e, ir.Call):
            args = [self.expr(a) for a in e.args]
            if e.func in ir.CONVERSIONS:
                if e.func.startswith("int") and K.of(e.args[0]) == "f":
                    args[0] = self.checked(args[0], "not math.isfinite({v})", _ERR_INT_NAN, e.loc, "0.0")
                return f"{_CONVERSIONS[e.func]}({args[0]})"
            if e.func not in _MATH:
                raise Unsupported(f"call of {e.func}()")
            cat = K.category(*e.args)
            self.charge(cat, e.func, "flop" if cat == "flop" else None)
            if e.func in ("min", "max") and cat == "flop":  # NaN propagates, as np.minimum/np.maximum
                text = args[0]
                for a in args[1:]:
                    text = f"np.{e.func}imum({text}, {a})"
                return text
            return f"{_MATH[e.func]}({', '.join(args)})"
        raise Unsupported(f"expression {type(e).__name__}")

    def checked(self, text: str, test: str, kind: int, loc: Loc, safe: str = "1") -> str:
        """Bind text to a temporary and fail with `kind` where `test` ({v} = the temporary) holds."""
        name = self.fresh("v")
        self.emit(f"{name} = {text}")
        self.emit(f"if {test.format(v=name)}:")
        self.ind += 1
        self.fail(kind, loc, "_g")
        self.emit(f"{name} = {safe}")
        self.ind -= 1
        return name

    def level(self, array: str) -> tuple[str, int]:
        if array in self.array_params:
            return "hbm", self.array_params[array].itemsize
        if array in self.allocs:
            s = self.allocs[array]
            return ("sram" if s.space == "shared" else "local"), np.dtype(s.dtype).itemsize
        raise Unsupported(f"array {array!r} is not a parameter or an allocated array")

    def array_ref(self, array: str, index: tuple[ir.Expr, ...], loc: Loc) -> str:
        level, _ = self.level(array)
        if array in self.array_params:
            ndim = None  # checked against the runtime shape
            dims = [f"A_{array}.shape[{d}]" for d in range(len(index))]
            prefix = f"A_{array}"
        else:
            shape = self.alloc_shapes[array]
            ndim = len(shape)
            dims = [str(n) for n in shape]
            prefix = f"S_{array}" if level == "sram" else f"L_{array}"
            if level == "sram" and self.uniform_ctx:  # pragma: no cover - uniform code has no loads or stores
                raise Unsupported("a shared-memory access in block-level code")
        if ndim is not None and len(index) != ndim:
            raise Unsupported(f"{array!r} indexed with {len(index)} indices")
        idx = []
        site = self.site(_ERR_OOB, loc, array)
        for d, (e, dim) in enumerate(zip(index, dims)):
            if self.kinds.of(e) != "i":
                raise Unsupported(f"a non-integer index of {array!r}")
            # Literal dimensions (shared/local arrays) let LLVM fold the check; numba compiles _ix
            # once per distinct literal, and arrays have few distinct sizes.
            idx.append(f"_ix({self.expr(e)}, {dim}, _err, {site} + _Z, _g, {d} + _Z)")
        if level == "local":
            idx = ["t", *idx]
        if level == "sram":  # flat storage; the access is recorded for the warp's wavefronts
            flat = idx[0]
            for i, dim in zip(idx[1:], dims[1:]):
                flat = f"({flat}) * {dim} + {i}"
            site = self.bank_sites
            self.bank_sites += 1
            itemsize = self.level(array)[1]
            self.bank_spans.append(-(-itemsize // BANK_BYTES))
            self.pending[("site", site)] += 1  # the chunk that holds the access counts its runs
            if not self.record:
                return f"{prefix}[{flat}]"
            key = " + ".join(f"{q} * {_KEY_RADIX ** k}" for k, q in enumerate(reversed(self.lane_loops))) or "0"
            # A lane's first accesses at a site are recorded; its count is a register, written to BN
            # when the lane leaves the region.
            at = self.fresh("f")
            self.emit(f"{at} = {flat}")
            self.emit(f"_c{site} += 1")
            self.emit(f"if _c{site} <= {_BANK_CAPACITY}:")
            self.emit(f"    _o = ({site * _BANK_CAPACITY} + _c{site} - 1) * {WARP_LANES} + t % {WARP_LANES}")
            self.emit(f"    BK[_o] = {key}; BW[_o] = {at} * {itemsize} // {BANK_BYTES}")
            return f"{prefix}[{at}]"
        return f"{prefix}[{', '.join(idx)}]"

    # -- statements inside a lane loop --
    def lane_stmts(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for i, s in enumerate(stmts):
            self.lane_stmt(s)
            if _has(s, ir.Return) and i + 1 < len(stmts):
                self.flush()
                self.emit("if not exl:")
                self.nested(lambda rest=stmts[i + 1:]: self.lane_stmts(rest))
                return
        self.flush()

    def lane_stmt(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):
            self.emit(f"u_{s.target} = {self.expr(s.value)}")
        elif isinstance(s, ir.Store):
            value = self.value(s.value)
            ref = self.array_ref(s.array, s.index, s.loc)
            level, itemsize = self.level(s.array)
            self.charge_memory("store", level, itemsize, "write")
            self.emit(f"{ref} = {value}")
        elif isinstance(s, ir.If):
            cond = self.expr(s.cond)
            self.flush()
            self.emit(f"if {cond}:")
            self.nested(lambda: self.lane_stmts(s.body) if s.body else self.emit("pass"))
            if s.orelse:
                self.emit("else:")
                self.nested(lambda: self.lane_stmts(s.orelse))
        elif isinstance(s, ir.While):
            self.flush()
            counter = self.fresh("it")
            self.emit(f"{counter} = 0")
            self.emit("while True:")
            self.ind += 1
            cond = self.expr(s.cond)
            self.flush()
            self.emit(f"if not ({cond}):")
            self.emit("    break")
            self.iteration_cap(counter, s.loc, "_g", "break")
            self.lane_loops.append(counter)
            self.lane_stmts(s.body)
            self.lane_loops.pop()
            if _has(s, ir.Return):
                self.emit("if exl:")
                self.emit("    break")
            self.ind -= 1
        elif isinstance(s, ir.For):
            self.lane_for(s)
        elif isinstance(s, ir.Return):
            self.emit("exl = True")
        elif isinstance(s, ir.AllocArray):
            pass  # allocated once per block at the top of the function
        elif isinstance(s, ir.Barrier):  # pragma: no cover - regions never hold barriers
            raise AssertionError("barrier inside a lane region")
        else:
            raise Unsupported(f"statement {type(s).__name__}")

    def iteration_cap(self, counter: str, loc: Loc, who: str, leave: str) -> None:
        """Count a while loop's iteration; past MAX_ITERATIONS (as the executor) fail and `leave`."""
        self.emit(f"{counter} += 1")
        self.emit(f"if {counter} >= {MAX_ITERATIONS}:")
        self.ind += 1
        self.fail(_ERR_LOOP, loc, who)
        self.emit(leave)
        self.ind -= 1

    def lane_for(self, s: ir.For) -> None:
        if s.step == 0:
            raise Unsupported("a range with step 0")
        var = f"u_{s.var}"
        start = self.expr(s.start)
        self.emit(f"{var} = {start}")
        stop = self.fresh("v")  # evaluated once, as the executor does, even if the body changes it
        self.emit(f"{stop} = {self.expr(s.stop)}")
        self.flush()
        less = "<" if s.step > 0 else ">"
        trips = f"({stop} - {var} + {s.step - 1}) // {s.step}" if s.step > 0 else f"({var} - {stop} + {-s.step - 1}) // {-s.step}"
        self.emit(f"if {trips} >= {MAX_ITERATIONS}:")
        self.ind += 1
        self.fail(_ERR_LOOP, s.loc, "_g")
        self.emit(f"{var} = {stop}")
        self.ind -= 1
        trip = self.fresh("q")  # the iteration, for the warp's shared-memory access instances
        self.emit(f"{trip} = 0")
        self.emit(f"while {var} {less} {stop}:")
        self.ind += 1
        self.charge("int", less, None)  # this iteration's compare and increment
        self.charge("int", "+", None)
        self.lane_loops.append(trip)
        self.lane_stmts(s.body)
        self.lane_loops.pop()
        if _has(s, ir.Return):
            self.emit("if exl:")
            self.ind += 1
            self.pending["st"] -= 1  # a processor that returned does not increment
            self.pending[("int", "+")] -= 1
            self.flush()
            self.emit("break")
            self.ind -= 1
        self.emit(f"{var} += {s.step}; {trip} += 1")
        self.ind -= 1
        self.charge("int", less, None)  # the compare that ends the loop
        if _has(s, ir.Return):
            self.emit("if not exl:")
            self.nested(lambda: None, keep=True)
        else:
            self.flush()

    # -- block level --
    def lane_region(self, stmts: tuple[ir.Stmt, ...]) -> None:
        if not any(not isinstance(s, ir.AllocArray) for s in stmts):
            return
        read, written = _names(stmts)
        here = _reads(stmts)
        # Between regions a variable lives in VI/VF: store what another region may read (or this
        # one, in the next trip of a block-level loop); load what this region reads or must keep.
        store = sorted(v for v in written & self.lane_vars
                       if self.total_reads[v] > here[v] or v in self.always_store or (self.loops and v in read))
        load = sorted((read | set(store)) & self.lane_vars)
        returns = any(_has(st, ir.Return) for st in stmts)
        if returns:  # lanes may stop here: charge them what ran for all before, count again after
            self.emit("_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)")
        self.emit("for t in range(nb):")
        self.ind += 1
        warp_end = len(self.lines)  # a warp's recorded shared accesses are counted when it ends
        sites = self.bank_sites
        self.emit("if ex[t]:")
        self.emit("    continue")
        outer, self.lines = self.lines, []
        self.used = {"st"}
        self.lane_stmts(stmts)
        body, self.lines = self.lines, outer
        recorded = self.record and self.bank_sites > sites
        if recorded:
            self.lines.insert(warp_end, "    " * self.ind + f"if t > 0 and t % {WARP_LANES} == 0:")
            self.lines.insert(warp_end + 1, "    " * self.ind + f"    _warp_end(BK, BW, BN, SP, BS, WS, {sites}, {self.bank_sites})")
        state = [(arr, local) for arr, local in _LANE_STATE if local in self.used]  # counters this region moves
        self.emit("; ".join(f"{local} = {arr}" for arr, local in state) + "; exl = False")
        self.emit("st0 = st; _g = _b0 + t" + ("; fl0 = fl" if "fl" in self.used else ""))
        for v in load:
            self.emit(f"u_{v} = {self.slot(v)}")
        for j in range(sites, self.bank_sites if recorded else sites):  # the lane's accesses per site
            self.emit(f"_c{j} = 0")
        self.lines += body
        for j in range(sites, self.bank_sites if recorded else sites):
            self.emit(f"BN[{j}, t % {WARP_LANES}] = _c{j}")
        self.emit("_bw += st - st0" + ("; _bfl += fl - fl0" if "fl" in self.used else ""))
        self.emit("; ".join(f"{arr} = {local}" for arr, local in state))
        self.emit("if exl:")
        self.emit("    ex[t] = True")
        for v in store:
            self.emit(f"{self.slot(v)} = u_{v}")
        self.ind -= 1
        if recorded:
            self.emit(f"_warp_end(BK, BW, BN, SP, BS, WS, {sites}, {self.bank_sites})")
        if returns:
            self.emit("_nr = _running(ex, nb)")
        self.emit("if _err[0] != 0:")
        self.emit("    return _diff")

    def block_stmts(self, stmts: tuple[ir.Stmt, ...]) -> None:
        run: list[ir.Stmt] = []
        for s in stmts:
            if not _has(s, ir.Barrier) and not (isinstance(s, ir.Assign) and s.target in self.uniform_vars):
                run.append(s)
                continue
            self.lane_region(tuple(run))
            run = []
            self.block_stmt(s)
        self.lane_region(tuple(run))

    def uniform(self, cond: ir.Expr, loc: Loc) -> None:
        """Evaluate cond per running lane into _na/_nt (lanes running / lanes where it holds)."""
        if _uniform_expr(cond, lambda v: v not in self.lane_vars):
            self.emit("_na = _nr; _nt = 0")
            self.once(lambda: self.emit(f"_nt = _na if {self.expr(cond)} else 0"))
            return
        name = f"__cond{self.tmp + 1}"
        self.tmp += 1
        self.kinds.vars[name] = self.kinds.of(cond)
        self.lane_vars.add(name)
        self.always_store.add(name)
        self.lane_region((ir.Assign(loc, name, cond),))
        self.emit("_na = 0; _nt = 0")
        self.emit("for t in range(nb):")
        self.emit("    if not ex[t]:")
        self.emit("        _na += 1")
        self.emit(f"        if {self.slot(name)}:")
        self.emit("            _nt += 1")
        self.emit("if _nt != 0 and _nt != _na:")
        self.ind += 1
        self.fail(_ERR_DIVERGENT, loc, "b")
        self.emit("return _diff")
        self.ind -= 1

    def once(self, render: Any) -> Any:
        """Generate block-level code that runs once for the whole block (uniform values)."""
        self.uniform_ctx = True
        self.emit("_g = _b0")
        self.emit("if _nr > 0:")  # a block whose lanes all returned runs nothing, as in the executor
        self.ind += 1
        try:
            result = render()
            self.flush()
        finally:
            self.uniform_ctx = False
            self.ind -= 1
        self.emit("if _err[0] != 0:")
        self.emit("    return _diff")
        return result

    def block_stmt(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):  # a uniform variable
            self.once(lambda: self.emit(f"w_{s.target} = {self.expr(s.value)}"))
        elif isinstance(s, ir.Barrier):
            self.emit("_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)")
            self.emit("_diff, _rs = _barrier(_diff, LS, nb, _rs)")
            self.emit("_nbar += 1")
        elif isinstance(s, ir.If):
            self.uniform(s.cond, s.loc)
            self.emit("if _nt > 0:")
            self.ind += 1
            self.block_stmts(s.body)
            self.emit("pass")
            self.ind -= 1
            if s.orelse:
                self.emit("elif _na > 0:")
                self.ind += 1
                self.block_stmts(s.orelse)
                self.emit("pass")
                self.ind -= 1
        elif isinstance(s, ir.While):
            counter = self.fresh("it")
            self.emit(f"{counter} = 0")
            self.emit("while True:")
            self.ind += 1
            self.loops += 1
            self.uniform(s.cond, s.loc)
            self.emit("if _nt == 0:")
            self.emit("    break")
            self.iteration_cap(counter, s.loc, "_b0", "return _diff")
            self.block_stmts(s.body)
            self.loops -= 1
            self.ind -= 1
        elif isinstance(s, ir.For):
            if s.step == 0:
                raise Unsupported("a range with step 0")
            stop = f"__stop{self.tmp + 1}"
            self.tmp += 1
            self.kinds.vars[stop] = self.kinds.of(s.stop)
            if s.var in self.uniform_vars:
                self.uniform_vars.add(stop)
                self.block_stmts((ir.Assign(s.loc, s.var, s.start), ir.Assign(s.loc, stop, s.stop)))
            else:
                self.lane_vars.add(stop)
                self.always_store |= {stop, s.var}
                self.lane_region((ir.Assign(s.loc, s.var, s.start), ir.Assign(s.loc, stop, s.stop)))
            var = ir.Var(s.loc, s.var)
            cond = ir.Compare(s.loc, "<" if s.step > 0 else ">", var, ir.Var(s.loc, stop))
            step = ir.Assign(s.loc, s.var, ir.BinOp(s.loc, "+", var, ir.Const(s.loc, s.step)))
            self.block_stmt(ir.While(s.loc, cond, (*s.body, step)))
        else:
            raise Unsupported(f"statement {type(s).__name__} holding a barrier")

    def weighted(self, level: str) -> str:
        """This block's bytes moved at `level`: the chunks' run counts times their bytes."""
        terms = [f"_k{j} * {n}" for j, c in enumerate(self.chunks)
                 if (n := c[("bytes", level, "read")] + c[("bytes", level, "write")])]
        return " + ".join(terms) or "0"

    # -- the function --
    def render(self, fn_name: str) -> str:
        body_lines: list[str] = []
        self.lines, saved = body_lines, self.lines
        self.ind = 2
        self.block_stmts(self.k.body)
        self.lines = saved
        head = ["@numba.njit(nogil=True, cache=True, error_model='numpy')",
                f"def {fn_name}(_blo, _bhi, _P, _B, _NB, "
                + "".join(f"A_{n}, " for n in self.array_params)
                + "".join(f"p_{n}, " for n in self.scalars)
                + "_K, _cls, _bstat, _diff, _err, _BR, _Z):",
                f"    # from kernel {self.k.name} at {self.k.loc}"]
        for v in sorted(self.lane_vars):
            self.slot(v)
        rows = Counter(table for table, _ in self.slots.values())
        pre = ["LS = np.zeros((_B, 4), np.int64); ex = np.zeros(_B, np.bool_)",
               f"VI = np.zeros((_B, {rows['VI']}), np.int64); VF = np.zeros((_B, {rows['VF']}), np.float64)"]
        for name, s in self.allocs.items():
            shape = self.alloc_shapes[name]
            if s.space == "shared":
                pre.append(f"S_{name} = np.zeros({int(np.prod(shape))}, np.{s.dtype})")
            else:
                pre.append(f"L_{name} = np.zeros((_B, {', '.join(map(str, shape))}), np.{s.dtype})")
        init = {"b": "False", "i": "0", "f": "0.0"}
        pre += [f"w_{v} = {init[self.kinds.vars.get(v, 'b')]}" for v in sorted(self.uniform_vars)]
        pre += [f"_k{j} = 0" for j in range(len(self.chunks))]
        sites = max(1, self.bank_sites)
        if self.record:  # the recording buffers (see _warp_end)
            pre += [f"BK = np.zeros({sites * _BANK_CAPACITY * WARP_LANES}, np.int64); BW = np.zeros_like(BK)",
                    f"BN = np.zeros(({sites}, {WARP_LANES}), np.int64)",
                    f"BS = np.zeros(({BANKS + 1}, {2 * WARP_LANES + 1}), np.int64)",
                    f"SP = np.array({self.bank_spans or [1]}, np.int64)"]
        pre += [f"WS = np.zeros({sites}, np.int64); BA = np.zeros({sites}, np.int64)"]
        pre += ["_nbarmax = 0; _flmax = 0; _hbmax = 0; _srmax = 0; _nr = 0; _na = 0; _nt = 0; _g = 0",
                "_ust = 0; _ufl = 0",
                "for b in range(_blo, _bhi):"]
        per_block = ["_b0 = b * _B", "nb = min(_B, _P - _b0)",
                     "LS[:] = 0; ex[:] = False; VI[:] = 0; VF[:] = 0; _nr = nb",
                     "_rs = 0; _bw = 0; _bfl = 0; _nbar = 0"]
        per_block += [f"w_{v} = {init[self.kinds.vars.get(v, 'b')]}" for v in sorted(self.uniform_vars)]
        for v in sorted(self.assigned_params):
            if v in self.uniform_vars:
                per_block.append(f"w_{v} = p_{v}")
            else:
                table, row = self.slots[v]
                per_block.append(f"{table}[:, {row}] = p_{v}")
        per_block += [f"S_{n}[:] = 0" if s.space == "shared" else f"L_{n}[:] = 0" for n, s in self.allocs.items()]
        post = ["_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)",
                "_diff = _flush_profile(_diff, LS[:, 0], nb, _rs)",
                "_bstat[b, 0] = _bw; _bstat[b, 1] = LS[:nb, 0].max(); _bstat[b, 3] = _bfl",
                *(f"BA[{site}] = _k{j}" for j, c in enumerate(self.chunks) for key in c
                  if key[0] == "site" for site in [key[1]]),
                f"_bstat[b, 5] = _block_wavefronts(WS, BA, {self.record}, 0 if b == 0 else 1 if b == _NB - 1 else -1, _BR)",
                f"_bstat[b, 2] = {self.weighted('hbm')}; _bstat[b, 4] = {self.weighted('sram')}",
                *(f"_K[{j}] += _k{j}; _k{j} = 0" for j in range(len(self.chunks))),
                "_flmax = max(_flmax, LS[:nb, 1].max()); _hbmax = max(_hbmax, LS[:nb, 2].max())",
                "_srmax = max(_srmax, LS[:nb, 3].max()); _nbarmax = max(_nbarmax, _nbar)"]
        tail = ["_cls[0] = max(_cls[0], _flmax); _cls[1] = max(_cls[1], _hbmax)",
                 "_cls[2] = max(_cls[2], _srmax); _cls[3] = max(_cls[3], _nbarmax)", "return _diff"]
        lines = head + ["    " + x for x in pre] + ["        " + x for x in per_block] + body_lines
        lines += ["        " + x for x in post] + ["    " + x for x in tail]
        return "\n".join(lines) + "\n"


# ---- numba support functions (imported by every generated module) -------------------------------

# The generated modules import these (compiled once per process, cached on disk by numba).
GENERATED_HEADER = """import math

import numba
import numpy as np

from pramsim.compiled import _apply, _barrier, _block_wavefronts, _fail, _flush_profile, _ix, _nz, _running, _warp_end
"""


@numba.njit(nogil=True, cache=True)
def _flush_profile(diff, stp, nb, rs):
    """Add each lane's steps since the last barrier (rs+1 .. stp[t]) to the difference array."""
    top = 0
    for t in range(nb):
        top = max(top, stp[t])
    if top + 2 > diff.shape[0]:
        grown = np.zeros(max(top + 2, 2 * diff.shape[0]), np.int64)
        grown[:diff.shape[0]] = diff
        diff = grown
    for t in range(nb):
        if stp[t] > rs:
            diff[rs + 1] += 1
            diff[stp[t] + 1] -= 1
    return diff


@numba.njit(nogil=True, cache=True)
def _barrier(diff, ls, nb, rs):
    """A barrier: the profile takes the lanes' steps since the last one, then every lane's counters
    (rows of ls: step, flop, HBM, SRAM depth) rise to the block's maximum. Returns (diff, new step)."""
    diff = _flush_profile(diff, ls[:, 0], nb, rs)
    m0, m1, m2, m3 = ls[0, 0], ls[0, 1], ls[0, 2], ls[0, 3]
    for t in range(1, nb):
        m0 = max(m0, ls[t, 0])
        m1 = max(m1, ls[t, 1])
        m2 = max(m2, ls[t, 2])
        m3 = max(m3, ls[t, 3])
    for t in range(nb):
        ls[t, 0] = m0
        ls[t, 1] = m1
        ls[t, 2] = m2
        ls[t, 3] = m3
    return diff, m0


@numba.njit(nogil=True, cache=True)
def _ix(i, n, err, site, who, dim):
    """An index checked against its dimension: out of range records the error and reads cell 0."""
    if i < 0 or i >= n:
        _fail(err, 1, site, who, dim, i, n)
        return 0
    return i


@numba.njit(nogil=True, cache=True)
def _nz(v, err, site, who):
    """An integer divisor: zero records the error and divides by one."""
    if v == 0:
        _fail(err, 2, site, who, 0, 0, 0)
        return 1
    return v


@numba.njit(nogil=True, cache=True)
def _apply(ls, ex, nb, st, fl):
    """Charge every running lane the steps (and flop steps) of code run once for the block."""
    if st != 0:
        for t in range(nb):
            if not ex[t]:
                ls[t, 0] += st
                ls[t, 1] += fl
    return 0, 0


@numba.njit(nogil=True, cache=True)
def _running(ex, nb):
    n = 0
    for t in range(nb):
        if not ex[t]:
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def _degree(words, n, scratch):
    """The most distinct words in one bank among words[:n]; scratch: (BANKS, n+1) int64, zero column 0."""
    top = 1
    for x in range(n):
        w = words[x]
        b = w % BANKS
        c = scratch[b, 0]
        seen = False
        for y in range(1, c + 1):
            if scratch[b, y] == w:
                seen = True
                break
        if not seen:
            scratch[b, c + 1] = w
            scratch[b, 0] = c + 1
            top = max(top, c + 1)
    for x in range(n):
        scratch[words[x] % BANKS, 0] = 0
    return top


@numba.njit(nogil=True, cache=True)
def _warp_end(bk, bw, bn, spans, scratch, ws, lo, hi):
    """Add the wavefronts of the warp's recorded shared accesses at sites lo..hi-1 to ws[site], as
    pramsim.cost.warp_wavefronts counts them; clears the counts.

    Layout (flat, written by the generated code): the k-th access of lane l at site s is at
    o = (s * capacity + k) * WARP_LANES + l; bk[o] is its instance key (the iterations of the loops
    around the site), bw[o] its first word; bn[s, l] counts the lane's accesses, spans[s] the words
    per access. The lanes' accesses with one key are one warp-wide access. Usually every lane's
    k-th access has the same key; otherwise (lanes that diverged inside a loop) accesses are grouped
    by key. Accesses past the capacity get the site's mean wavefronts per access.
    scratch: (BANKS + 1, 2 * WARP_LANES + 1) int64, zero in column 0.
    """
    cap = bk.shape[0] // (bn.shape[0] * WARP_LANES)
    words = scratch[BANKS]
    for site in range(lo, hi):
        span = spans[site]
        kmax = 0
        n = 0
        for lane in range(WARP_LANES):
            kmax = max(kmax, bn[site, lane])
            n += bn[site, lane]
        if n == 0:
            continue
        kcap = min(kmax, cap)
        base = site * cap * WARP_LANES
        aligned = True
        for k in range(kcap):
            key = -1
            for lane in range(WARP_LANES):
                if bn[site, lane] > k:
                    o = base + k * WARP_LANES + lane
                    if key == -1:
                        key = bk[o]
                    elif bk[o] != key:
                        aligned = False
        here = 0
        recorded = 0
        if aligned:
            for k in range(kcap):
                m = 0
                for lane in range(WARP_LANES):
                    if bn[site, lane] > k:
                        for j in range(span):
                            words[m] = bw[base + k * WARP_LANES + lane] + j
                            m += 1
                recorded += m // span
                here += _degree(words, m, scratch)
        else:  # group every recorded access by its key
            keys = np.empty(kcap * WARP_LANES, np.int64)
            where = np.empty(kcap * WARP_LANES, np.int64)
            m = 0
            for lane in range(WARP_LANES):
                for k in range(min(bn[site, lane], kcap)):
                    keys[m] = bk[base + k * WARP_LANES + lane]
                    where[m] = base + k * WARP_LANES + lane
                    m += 1
            order = np.argsort(keys[:m], kind="mergesort")
            recorded = m
            i = 0
            while i < m:
                g = 0
                j = i
                while j < m and keys[order[j]] == keys[order[i]] and g + span <= words.shape[0]:
                    for x in range(span):
                        words[g] = bw[where[order[j]]] + x
                        g += 1
                    j += 1
                here += _degree(words, g, scratch)
                i = j
        ws[site] += here + (n - recorded) * here // max(recorded, 1)
        for lane in range(WARP_LANES):
            bn[site, lane] = 0


@numba.njit(nogil=True, cache=True)
def _block_wavefronts(ws, accesses, recorded, slot, samples):
    """A block's shared-memory wavefronts; clears ws (per site).

    A block that recorded its accesses counts its own wavefronts; block 0 and the last block keep
    theirs as samples[slot] (per site: wavefronts, accesses). Any other block is charged, at each
    site, its accesses times the wavefronts per access of the sample whose accesses per site are
    nearest its own (the last block is often a partial tile, and so are others like it)."""
    total = 0
    if recorded:
        for site in range(ws.shape[0]):
            total += ws[site]
            if slot >= 0:
                samples[slot, site, 0] = ws[site]
                samples[slot, site, 1] = accesses[site]
            ws[site] = 0
        return total
    best = 0
    best_distance = -1
    for k in range(samples.shape[0]):
        distance = 0
        for site in range(ws.shape[0]):
            distance += abs(accesses[site] - samples[k, site, 1])
        if best_distance < 0 or distance < best_distance:
            best, best_distance = k, distance
    for site in range(ws.shape[0]):
        k = best if samples[best, site, 1] > 0 else 1 - best  # a site only the other sample reached
        if samples[k, site, 1] > 0:
            total += accesses[site] * samples[k, site, 0] // samples[k, site, 1]
    return total


@numba.njit(nogil=True, cache=True)
def _fail(err, kind, site, who, a, b, c):
    """Record the first error of this call: its kind, site, processor (or block) and values."""
    if err[0] == 0:
        err[0] = kind
        err[1] = site
        err[2] = who
        err[3] = a
        err[4] = b
        err[5] = c



# ---- running a launch ------------------------------------------------------------------------------

_cache: dict[tuple, tuple[Any, _Gen]] = {}
_cache_lock = threading.Lock()


def _load(source: str, fn_name: str) -> Any:
    folder = codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")
    return codecache.load_source(source, fn_name, folder, "pramsim_cpu")


def render(kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalars: dict[str, Any]) -> tuple[str, _Gen]:
    """The generated module's source for one specialization, and the generator (counter keys, sites).

    The module has two functions: `<kernel>_cpu`, and `<kernel>_cpu_rec`, which also records every
    warp's shared-memory accesses to count their wavefronts. Recording in the hot loops (even
    behind a branch not taken) made the flash kernel 3.7x slower, so it is a separate function
    that only some blocks run (see launch)."""
    gen = _Gen(kernel, array_dtypes, scalars)
    plain = gen.render(f"{kernel.name}_cpu")
    if not gen.bank_sites:  # no shared-memory access: nothing to record (and half the compile time)
        return GENERATED_HEADER + "\n\n" + plain, gen
    recording = _Gen(kernel, array_dtypes, scalars, record=True).render(f"{kernel.name}_cpu_rec")
    return GENERATED_HEADER + "\n\n" + plain + "\n\n" + recording, gen


def _compiled(kernel: ir.Kernel, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> tuple[Any, Any, _Gen]:
    shape_values = tuple((n, scalars.get(n)) for n in ir.shape_params(kernel))  # literals in the source
    key = (id(kernel), tuple((n, a.dtype.str, a.ndim) for n, a in arrays.items()),
           tuple((n, isinstance(v, (float, np.floating))) for n, v in scalars.items()), shape_values)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            source, gen = render(kernel, {n: a.dtype for n, a in arrays.items()}, scalars)
            plain = _load(source, f"{kernel.name}_cpu")
            hit = (plain, _load(source, f"{kernel.name}_cpu_rec") if gen.bank_sites else plain, gen)
            _cache[key] = hit
    return hit


def _threads() -> int:
    """Worker threads: PRAMSIM_THREADS, else the CPUs this process may use."""
    if os.environ.get("PRAMSIM_THREADS", "").isdigit() and int(os.environ["PRAMSIM_THREADS"]) > 0:
        return int(os.environ["PRAMSIM_THREADS"])
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def launch(kernel: ir.Kernel, nprocs: int, block: int, arrays: dict[str, np.ndarray], scalars: dict[str, Any],
           loc: Loc, trace: CostTrace) -> None:
    """Run one launch on the compiled engine, writing outputs in place and the costs into `trace`.

    Raises Unsupported (before anything runs) when the kernel needs the vector engine.

    Shared-memory wavefronts: block 0 and the last block run the recording function, which counts
    them exactly; they are the launch's sample, and the other blocks are charged their accesses
    at each site times the sample's wavefronts per access (exact when those blocks access shared
    memory in the same pattern of banks, as in every shipped program: tests/test_compiled.py). If
    some access site is reached by neither, every block records.
    """
    fn, fn_rec, gen = _compiled(kernel, arrays, scalars)
    nblocks = -(-nprocs // block)
    array_args = [np.ascontiguousarray(arrays[n]) for n in gen.array_params]
    for n, a in zip(gen.array_params, array_args):
        if a is not arrays[n]:
            raise Unsupported(f"array {n!r} is not contiguous")
    scalar_args = [scalars[n] for n in gen.scalars]
    bstat = np.zeros((nblocks, 6), np.int64)
    nchunks = max(1, len(gen.chunks))

    samples = np.zeros((2, max(1, gen.bank_sites), 2), np.int64)  # blocks 0 and last: (wavefronts, accesses) per site
    scope = limits.current()  # the run's deadline, checked before each chunk of blocks (worker threads lack the context)

    def run(fn: Any, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        if scope is not None and hi > lo:
            scope.check_time(None)
        runs = np.zeros(nchunks, np.int64)
        cls = np.zeros(4, np.int64)
        err = np.zeros(6, np.int64)
        diff = np.zeros(1024, np.int64)
        diff = fn(lo, hi, nprocs, block, nblocks, *array_args, *scalar_args, runs, cls, bstat, diff, err, samples, 0)
        return runs, cls, diff, err

    try:  # compile (or load from numba's cache) before any block runs
        results = [run(fn, 0, 0), run(fn_rec, 0, 0)]
    except Exception as exc:  # numba's typing errors: let the vector engine run it
        raise Unsupported(f"numba could not compile it ({type(exc).__name__})") from None
    results += [run(fn_rec, 0, min(1, nblocks))] + ([run(fn_rec, nblocks - 1, nblocks)] if nblocks > 1 else [])
    if nblocks == 1:
        samples[1] = samples[0]
    middle = fn if np.all(samples[:, :gen.bank_sites, 1].max(axis=0) > 0) else fn_rec
    chunks = [(lo + 1, hi + 1) for lo, hi in _chunks(nblocks - 2, _threads())]
    if len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=_threads()) as pool:
            results += list(pool.map(lambda c: run(middle, *c), chunks))
    else:
        results += [run(middle, *c) for c in chunks]
    for *_, err in results:
        if err[0]:
            raise _error(gen, err, block, arrays)
    runs = sum(r[0] for r in results)
    cls = np.max([r[1] for r in results], axis=0)
    size = max(len(r[2]) for r in results)
    diff = sum(np.pad(r[2], (0, size - len(r[2]))) for r in results)
    depth = int(bstat[:, 1].max()) if nblocks else 0
    profile = np.cumsum(diff)[1:depth + 1].astype(np.int64)
    totals: Counter = Counter()
    for n, chunk in zip(runs, gen.chunks):
        if n:
            for key, amount in chunk.items():
                totals[key] += int(n) * amount
    work = totals["st"]
    if int(profile.sum()) != work or int(bstat[:, 0].sum()) != work:
        raise PramsimError(f"internal accounting error in the compiled launch of {kernel.name}: profile "
                           f"{int(profile.sum())}, blocks {int(bstat[:, 0].sum())}, work {work}")
    sram_arrays = {n: int(np.prod(gen.alloc_shapes[n])) * np.dtype(s.dtype).itemsize
                   for n, s in gen.allocs.items() if s.space == "shared"}
    trace.launches.append(LaunchTrace(
        kernel=kernel.name, loc=loc, nprocs=nprocs, block=block, work=work, depth=depth, profile=profile,
        block_work=bstat[:, 0].copy(), block_depth=bstat[:, 1].copy(), block_hbm_bytes=bstat[:, 2].copy(),
        block_flops=bstat[:, 3].copy(), sram_per_block=sum(sram_arrays.values()), barriers=int(cls[3]),
        block_sram_bytes=bstat[:, 4].copy(), sram_arrays=sram_arrays, block_sram_wavefronts=bstat[:, 5].copy()))
    for key, amount in totals.items():
        if isinstance(key, tuple) and amount and key[0] != "site":
            if key[0] == "bytes":
                trace.bytes[key[1:]] += amount
            else:
                trace.counts[key] += amount
    for i, c in enumerate(("flop", "hbm", "sram")):
        trace.depth_by_class[c] += int(cls[i])


def _chunks(nblocks: int, threads: int) -> list[tuple[int, int]]:
    """Contiguous block ranges, a few per thread so that uneven blocks still balance."""
    n = min(nblocks, threads * 4) if threads > 1 else 1
    edges = np.linspace(0, nblocks, n + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _error(gen: _Gen, err: np.ndarray, block: int, arrays: dict[str, np.ndarray]) -> ExecutionError:
    kind, site, who = (int(x) for x in err[:3])
    _, loc, info = gen.sites[site]
    where = f"processor {who}: block {who // block}, lane {who % block}"
    if kind == _ERR_OOB:
        shape = arrays[info].shape if info in arrays else gen.alloc_shapes[info]
        dim, value = int(err[3]), int(err[4])
        which = f"index {dim} of {info!r}" if len(shape) > 1 else f"index of {info!r}"
        return ExecutionError(f"{which} is {value}, out of bounds for shape {tuple(shape)} ({where})", loc=loc,
                              hint="guard the access with an `if` on the index, or launch fewer processors")
    if kind == _ERR_DIV0:
        return ExecutionError(f"integer division by zero ({where})", loc=loc, hint="guard the divisor with an `if`")
    if kind == _ERR_INT_NAN:
        return ExecutionError(f"a conversion of NaN or infinity to an integer ({where})", loc=loc,
                              hint="guard the value (e.g. check the divisor) before converting it")
    if kind == _ERR_NEG_POW:
        return ExecutionError(f"integer ** negative power ({where})", loc=loc, hint="use a float base, e.g. 2.0 ** k")
    if kind == _ERR_LOOP:
        return ExecutionError(f"a loop ran more than {MAX_ITERATIONS:,} iterations ({where})", loc=loc,
                              hint="check that the loop condition eventually becomes false for every processor")
    return ExecutionError(
        f"this condition differs between the lanes of block {who}, and the branch or loop it controls contains "
        f"barrier(): some lanes would wait at a barrier the others never reach", loc=loc,
        hint="every processor of a block must execute the same barrier() calls: make the condition the same "
             "for the whole block, or move the barrier out; the compiled engine checks this statically "
             "(--engine vector allows it where no lane reaches the barrier)")
