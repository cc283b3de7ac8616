"""The kernel IR: small frozen dataclasses that every backend consumes.

The frontend (frontend.py) builds it from a kernel's Python source; the executor interprets it;
the CUDA backend renders it to numba.cuda source. Every node carries `loc`, the user's
file:line:col, so any backend can report an error where the user wrote the construct.

Expressions are values per processor; statements run on every active processor in lockstep.
`format_kernel` prints a kernel as readable pseudo-Python (`pramsim show-ir`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from typing import Any, Callable

from . import ops
from ..errors import Loc

# ---- expressions -----------------------------------------------------------------------------
# What each operation means (kinds, cost, checks, implementations) is in pramsim/lang/ops.py.

MATH_FUNCS = set(ops.MATH)
CONVERSIONS = set(ops.CONVERSIONS)
ID_INTRINSICS = set(ops.INTRINSICS)
WARP_FUNCS = set(ops.WARP)


@dataclass(frozen=True)
class Expr:
    loc: Loc


@dataclass(frozen=True)
class Const(Expr):
    value: int | float | bool


@dataclass(frozen=True)
class Var(Expr):
    name: str


@dataclass(frozen=True)
class Intrinsic(Expr):
    """gid(), lane(), block_id(), block_dim(), num_blocks(), num_procs()."""

    name: str


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    """`a and b` / `a or b`, short-circuit per processor: the right side runs (and costs work) only
    where the left side does not decide."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Select(Expr):
    """`a if cond else b`: each processor evaluates cond and only its chosen side."""

    cond: Expr
    if_true: Expr
    if_false: Expr


@dataclass(frozen=True)
class Call(Expr):
    """A math function (MATH_FUNCS), a conversion (CONVERSIONS) or a warp shuffle (WARP_FUNCS)."""

    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Load(Expr):
    """array[index...]: one load from the array's memory level."""

    array: str
    index: tuple[Expr, ...]


@dataclass(frozen=True)
class Atomic(Expr):
    """atomic_<op>(array, index, args...): a read-modify-write of one cell; its value is the old one."""

    op: str                      # a key of ops.ATOMICS
    array: str
    index: tuple[Expr, ...]
    args: tuple[Expr, ...]       # (value,) or, for cas, (expected, new)


# ---- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stmt:
    loc: Loc


@dataclass(frozen=True)
class Assign(Stmt):
    """name = value (a per-processor register)."""

    target: str
    value: Expr


@dataclass(frozen=True)
class Store(Stmt):
    """array[index...] = value: one store to the array's memory level."""

    array: str
    index: tuple[Expr, ...]
    value: Expr


@dataclass(frozen=True)
class Eval(Stmt):
    """An expression evaluated for its effect, its value unused (an atomic called as a statement)."""

    value: Expr


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]


@dataclass(frozen=True)
class While(Stmt):
    cond: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class For(Stmt):
    """for var in range(start, stop, step): step must be a non-zero constant."""

    var: str
    start: Expr
    stop: Expr
    step: int
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Barrier(Stmt):
    """barrier(): every processor of a block waits for all the others (cuda.syncthreads)."""


@dataclass(frozen=True)
class Return(Stmt):
    """return: the processor stops for the rest of this launch."""


@dataclass(frozen=True)
class Break(Stmt):
    """break: the processor leaves the innermost loop; it rejoins the others when that loop ends."""


@dataclass(frozen=True)
class Continue(Stmt):
    """continue: the processor skips the rest of the innermost loop's body for this iteration."""


@dataclass(frozen=True)
class AllocArray(Stmt):
    """name = shared(shape, dtype) (per block, SRAM) or local(shape, dtype) (per processor)."""

    name: str
    space: str  # "shared" | "local"
    shape: tuple[Expr, ...]
    dtype: str  # numpy dtype name: "float32", "float64", "int32", "int64"


@dataclass(frozen=True)
class Param:
    name: str
    loc: Loc


@dataclass(frozen=True)
class Kernel:
    """A parsed kernel: the body that every virtual processor runs."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    loc: Loc
    # Names of parameters the kernel indexes (arrays) and of those it stores to.
    arrays: frozenset[str] = field(default_factory=frozenset)
    written: frozenset[str] = field(default_factory=frozenset)
    readonly: frozenset[str] = field(default_factory=frozenset)  # declared read-only
    uses_barrier: bool = False

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


def op_row(e: BinOp | Compare | UnaryOp | Call) -> ops.Op:
    """The operation table's row for an operator, comparison or call node."""
    if isinstance(e, BinOp):
        return ops.BINARY[e.op]
    if isinstance(e, Compare):
        return ops.COMPARE[e.op]
    if isinstance(e, UnaryOp):
        return ops.UNARY[e.op]
    return ops.CALLS[e.func]


def operands(e: BinOp | Compare | UnaryOp | Call) -> tuple[Expr, ...]:
    """The argument expressions of an operator, comparison or call node, in order."""
    if isinstance(e, (BinOp, Compare)):
        return (e.left, e.right)
    if isinstance(e, UnaryOp):
        return (e.operand,)
    return e.args


OPERATIONS = (BinOp, Compare, UnaryOp, Call)


def expr_kind(e: Expr, leaf: Callable[[Expr], Any]) -> str | None:
    """The kind ("b", "i", "f") of expression `e`: a fold over the operation table's kind rules.

    `leaf` gives the kind of a Var, Load, Const or Intrinsic; None (unknown) propagates, and so
    does a refusal (an operation the table does not define for its operand kinds). The type
    checker and the compiled engine both infer kinds with this function."""
    if isinstance(e, OPERATIONS):
        kinds = tuple(expr_kind(a, leaf) for a in operands(e))
        return None if None in kinds else op_row(e).result_kind(kinds)
    if isinstance(e, BoolOp):
        return ops.BOOL
    if isinstance(e, Select):
        a, b = expr_kind(e.if_true, leaf), expr_kind(e.if_false, leaf)
        return None if a is None or b is None else ops.join(a, b)
    return leaf(e)


def evaluate_uniform(e: Expr, scalars: dict[str, Any]) -> Any:
    """The value of an expression built from constants and scalar parameters (a shared/local
    array's shape), computed with the operation table's NumPy rows and charging nothing: a shape
    is a compile-time constant, as in CUDA. Raises KeyError naming a variable that is not in
    `scalars`, ValueError for a node that is not uniform (a load, an intrinsic)."""
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Var):
        return scalars[e.name]
    if isinstance(e, OPERATIONS):
        return op_row(e).apply([evaluate_uniform(a, scalars) for a in operands(e)])
    if isinstance(e, Select):
        return evaluate_uniform(e.if_true if evaluate_uniform(e.cond, scalars) else e.if_false, scalars)
    if isinstance(e, BoolOp):
        left = bool(evaluate_uniform(e.left, scalars))
        return left if left == (e.op == "or") else bool(evaluate_uniform(e.right, scalars))
    raise ValueError(f"`{format_expr(e)}` is not computed from constants and parameters")


def walk_expr(e: Expr):
    """Every expression node under `e`, `e` first."""
    yield e
    for value in vars(e).values():
        if isinstance(value, Expr):
            yield from walk_expr(value)
        elif isinstance(value, tuple):
            for v in value:
                if isinstance(v, Expr):
                    yield from walk_expr(v)


def stmt_children(s: Stmt) -> list[tuple[Stmt, ...]]:
    """The statement lists nested in `s` (an if's two branches, a loop's body)."""
    if isinstance(s, If):
        return [s.body, s.orelse]
    if isinstance(s, (While, For)):
        return [s.body]
    return []


def stmt_exprs(s: Stmt) -> list[Expr]:
    """The expressions a statement evaluates itself (not those of the statements nested in it)."""
    if isinstance(s, (Assign, Eval)):
        return [s.value]
    if isinstance(s, Store):
        return [*s.index, s.value]
    if isinstance(s, (If, While)):
        return [s.cond]
    if isinstance(s, For):
        return [s.start, s.stop]
    return []


def loop_jumps(body: tuple[Stmt, ...]):
    """The break and continue statements in `body` that belong to the loop whose body it is
    (those inside nested loops belong to those loops)."""
    for s in body:
        if isinstance(s, (Break, Continue)):
            yield s
        elif isinstance(s, If):
            yield from loop_jumps(s.body)
            yield from loop_jumps(s.orelse)


def walk_stmts(body: tuple[Stmt, ...]):
    """Every statement in `body` and in the lists nested in it, in program order."""
    for s in body:
        yield s
        for child in stmt_children(s):
            yield from walk_stmts(child)


# (analysis, id(kernel)) -> (kernel, answer): analyses that run at every launch, remembered per
# kernel (walking flash_tiles' IR takes about 85 µs: scripts/bench_launch_host.py).
_REMEMBERED: dict[tuple[str, int], tuple[Kernel, Any]] = {}


def _per_kernel(analysis: Callable[[Kernel], Any]) -> Callable[[Kernel], Any]:
    @functools.wraps(analysis)
    def remembered(kernel: Kernel) -> Any:
        key = (analysis.__name__, id(kernel))
        hit = _REMEMBERED.get(key)
        if hit is not None and hit[0] is kernel:  # the id of a kernel since freed may be reused
            return hit[1]
        answer = analysis(kernel)
        _REMEMBERED[key] = (kernel, answer)
        return answer
    return remembered


@_per_kernel
def loaded_arrays(kernel: Kernel) -> frozenset[str]:
    """The array parameters the kernel reads: loads and atomics (an atomic reads its cell)."""
    return frozenset(e.array for s in walk_stmts(kernel.body) for top in stmt_exprs(s) for e in walk_expr(top)
                     if isinstance(e, (Load, Atomic)) and e.array in kernel.arrays)


@_per_kernel
def runtime_divisions(kernel: Kernel) -> frozenset[int]:
    """The ids of the `//` and `%` nodes whose divisor the lowered kernel's compiler cannot know.

    A divisor built from constants, warp_size(), the shape parameters the kernel does not assign
    (literals in the lowered kernel) and registers assigned once, outside any loop, from such values is a compile-time
    constant: the compiler turns the division into a multiply and shifts. Any other divisor (a
    launch parameter, a shape parameter the kernel assigns, a loop variable, a loaded value) is
    divided at run time, which a GPU does in a subroutine (the GPU model's int_divide_instructions)."""
    assigned: dict[str, int] = {}
    in_loops: set[str] = set()
    values: dict[str, Expr] = {}

    def visit(body: tuple[Stmt, ...], looped: bool) -> None:
        for s in body:
            if isinstance(s, Assign):
                assigned[s.target] = assigned.get(s.target, 0) + 1
                values[s.target] = s.value
                if looped:
                    in_loops.add(s.target)
            if isinstance(s, For):
                in_loops.add(s.var)
            for child in stmt_children(s):
                visit(child, looped or isinstance(s, (While, For)))
    visit(kernel.body, False)
    # A shape parameter the kernel assigns is a variable in the lowered kernel (a literal only in shapes).
    known = {p for p in shape_params(kernel) if p not in assigned} | {
        name for name, n in assigned.items() if n == 1 and name not in in_loops and name not in kernel.param_names}

    def constant(e: Expr) -> bool:
        return all(not isinstance(n, (Load, Atomic)) and (not isinstance(n, Var) or n.name in known)
                   and (not isinstance(n, Intrinsic) or n.name == "warp_size") for n in walk_expr(e))
    while True:  # drop registers assigned from a run-time value, until none is left to drop
        runtime = {name for name in known if name in values and not constant(values[name])}
        if not runtime:
            break
        known -= runtime
    return frozenset(id(e) for s in walk_stmts(kernel.body) for top in stmt_exprs(s) for e in walk_expr(top)
                     if isinstance(e, BinOp) and e.op in ("//", "%") and not constant(e.right))


@_per_kernel
def shape_params(kernel: Kernel) -> tuple[str, ...]:
    """The scalar parameters that shared/local array shapes depend on, in order of first use
    (backends specialise on them at every launch)."""
    params = set(kernel.param_names)
    names: list[str] = []
    for s in walk_stmts(kernel.body):
        if isinstance(s, AllocArray):
            for d in s.shape:
                names += [n.name for n in walk_expr(d) if isinstance(n, Var) and n.name in params
                          and n.name not in names]
    return tuple(names)


# ---- printing --------------------------------------------------------------------------------

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "unary": 11,
               **{name: o.precedence for name, o in ops.BINARY.items()}}


def format_expr(e: Expr, parent: int = 0) -> str:
    """Render an expression as Python source (used by the printer and the CUDA backend)."""
    if isinstance(e, Const):
        if isinstance(e.value, float) and not math.isfinite(e.value):
            return "math.nan" if e.value != e.value else ("math.inf" if e.value > 0 else "-math.inf")
        return repr(e.value)
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Intrinsic):
        return f"{e.name}()"
    if isinstance(e, Load):
        return f"{e.array}[{', '.join(format_expr(i) for i in e.index)}]"
    if isinstance(e, Atomic):
        return f"atomic_{e.op}({', '.join([e.array, format_index(e.index), *map(format_expr, e.args)])})"
    if isinstance(e, Call):
        return f"{e.func}({', '.join(format_expr(a) for a in e.args)})"
    if isinstance(e, BinOp):
        p = _PRECEDENCE[e.op]
        # ** is right-associative; others left-associative.
        lp, rp = (p + 1, p) if e.op == "**" else (p, p + 1)
        s = f"{format_expr(e.left, lp)} {e.op} {format_expr(e.right, rp)}"
    elif isinstance(e, Compare):
        p = _PRECEDENCE["cmp"]
        s = f"{format_expr(e.left, p + 1)} {e.op} {format_expr(e.right, p + 1)}"
    elif isinstance(e, BoolOp):
        p = _PRECEDENCE[e.op]
        s = f"{format_expr(e.left, p)} {e.op} {format_expr(e.right, p + 1)}"
    elif isinstance(e, UnaryOp):
        p = _PRECEDENCE["not" if e.op == "not" else "unary"]
        sep = " " if e.op == "not" else ""
        s = f"{e.op}{sep}{format_expr(e.operand, p)}"
    elif isinstance(e, Select):
        p = 0
        s = f"{format_expr(e.if_true, 1)} if {format_expr(e.cond, 1)} else {format_expr(e.if_false, 0)}"
    else:  # pragma: no cover - every node type is handled above
        raise TypeError(f"unknown expression {e!r}")
    return f"({s})" if p < parent else s


def format_index(index: tuple[Expr, ...]) -> str:
    """An atomic's index as written: `i`, or `(i, j)` for several dimensions."""
    return format_expr(index[0]) if len(index) == 1 else f"({', '.join(map(format_expr, index))})"


def format_block(body: tuple[Stmt, ...], indent: int) -> list[str]:
    pad = "    " * indent
    out: list[str] = []
    for s in body:
        if isinstance(s, Assign):
            out.append(f"{pad}{s.target} = {format_expr(s.value)}")
        elif isinstance(s, Store):
            idx = ", ".join(format_expr(i) for i in s.index)
            out.append(f"{pad}{s.array}[{idx}] = {format_expr(s.value)}")
        elif isinstance(s, Eval):
            out.append(f"{pad}{format_expr(s.value)}")
        elif isinstance(s, If):
            out.append(f"{pad}if {format_expr(s.cond)}:")
            out += format_block(s.body, indent + 1) or [f"{pad}    pass"]
            if s.orelse:
                out.append(f"{pad}else:")
                out += format_block(s.orelse, indent + 1)
        elif isinstance(s, While):
            out.append(f"{pad}while {format_expr(s.cond)}:")
            out += format_block(s.body, indent + 1) or [f"{pad}    pass"]
        elif isinstance(s, For):
            out.append(f"{pad}for {s.var} in range({format_expr(s.start)}, {format_expr(s.stop)}, {s.step}):")
            out += format_block(s.body, indent + 1) or [f"{pad}    pass"]
        elif isinstance(s, Barrier):
            out.append(f"{pad}barrier()")
        elif isinstance(s, Return):
            out.append(f"{pad}return")
        elif isinstance(s, (Break, Continue)):
            out.append(f"{pad}{type(s).__name__.lower()}")
        elif isinstance(s, AllocArray):
            shape = ", ".join(format_expr(d) for d in s.shape)
            out.append(f"{pad}{s.name} = {s.space}(({shape},), {s.dtype})")
        else:  # pragma: no cover
            raise TypeError(f"unknown statement {s!r}")
    return out


def format_kernel(k: Kernel) -> str:
    head = f"kernel {k.name}({', '.join(k.param_names)}):"
    return "\n".join([head] + (format_block(k.body, 1) or ["    pass"]))
