"""Launch-time dtype checks: a kernel's IR against the dtypes of the arrays and numbers a launch passes.

Run by `Launch.__call__` (pramsim.dsl) before any backend sees the launch, once per kernel and
argument signature. It infers, statement by statement, whether each value is a bool, an integer or
a float (as the executor computes them: `/` gives floats, `//` of integers integers, a variable
assigned in a branch has the type of both) and refuses

- an index that is a float (an array index must be an integer), and
- a float value stored into an integer array (NumPy and CUDA would truncate it silently),

saying where the float comes from: a launch argument (then the error points at the launch, and
names the kernel line) or the kernel's own arithmetic (then at the kernel line). Declared dtypes
(`@kernel(dtypes={...})`) are checked against the arguments first.

Limits: the inference is flow-sensitive but not path-sensitive: a variable assigned a float in a
branch that never runs still counts as possibly float. Only kinds (bool/int/float) are tracked,
not widths; float64 values stored into float32 arrays are not reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ir
from .errors import ExecutionError, Loc
from .runtime import DeviceArray

BOOL, INT, FLOAT = "bool", "int", "float"


@dataclass(frozen=True)
class Kind:
    """bool/int/float, and the launch parameters whose float dtype made this value a float."""

    kind: str
    sources: frozenset[str] = frozenset()


def kind_of_dtype(dtype: np.dtype) -> str:
    return FLOAT if dtype.kind in "fc" else BOOL if dtype.kind == "b" else INT


def join(a: Kind | None, b: Kind | None) -> Kind | None:
    if a is None or b is None:
        return a or b
    if FLOAT in (a.kind, b.kind):
        return Kind(FLOAT, (a.sources if a.kind == FLOAT else frozenset()) |
                    (b.sources if b.kind == FLOAT else frozenset()))
    return Kind(INT) if INT in (a.kind, b.kind) else Kind(BOOL)


def check_launch(kernel: ir.Kernel, args: tuple[Any, ...], loc: Loc) -> None:
    """Raise ExecutionError at `loc` (or at the kernel line) for a float index or a float stored
    into an integer array, given the dtypes of `args`."""
    arrays: dict[str, str] = {}
    env: dict[str, Kind] = {}
    described: dict[str, str] = {}
    for param, value in zip(kernel.params, args):
        if isinstance(value, DeviceArray):
            arrays[param.name] = kind_of_dtype(value.dtype)
            described[param.name] = f"{'an' if str(value.dtype)[0] in 'aeiou' else 'a'} {value.dtype} array"
        elif isinstance(value, (bool, np.bool_)):
            env[param.name] = Kind(BOOL)
        elif isinstance(value, (float, np.floating)):
            env[param.name] = Kind(FLOAT, frozenset({param.name}))
            described[param.name] = f"the float {value!r}"
        elif isinstance(value, (int, np.integer)):
            env[param.name] = Kind(INT)
    _Checker(kernel, arrays, described, loc).block(kernel.body, env)


class _Checker:
    def __init__(self, kernel: ir.Kernel, arrays: dict[str, str], described: dict[str, str], launch: Loc):
        self.kernel = kernel
        self.arrays = dict(arrays)          # name -> kind of its elements (parameters, shared, local)
        self.params = set(arrays)           # arrays the launch passed (the others are allocated in the kernel)
        self.described = described
        self.launch = launch

    # ---- statements: each takes the environment before it and returns the one after ------------------

    def block(self, body: tuple[ir.Stmt, ...], env: dict[str, Kind]) -> dict[str, Kind]:
        for s in body:
            env = getattr(self, "stmt_" + type(s).__name__)(s, env)
        return env

    def stmt_Assign(self, s: ir.Assign, env: dict[str, Kind]) -> dict[str, Kind]:
        return {**env, s.target: self.expr(s.value, env)}

    def stmt_Store(self, s: ir.Store, env: dict[str, Kind]) -> dict[str, Kind]:
        self.index(s.array, s.index, env, s.loc)
        value = self.expr(s.value, env)
        element = self.arrays.get(s.array)
        if element in (INT, BOOL) and value is not None and value.kind == FLOAT:
            self.float_into_int(s, value)
        return env

    def stmt_If(self, s: ir.If, env: dict[str, Kind]) -> dict[str, Kind]:
        self.expr(s.cond, env)
        return _merge(env, self.block(s.body, env), self.block(s.orelse, env))

    def stmt_While(self, s: ir.While, env: dict[str, Kind]) -> dict[str, Kind]:
        return self.loop(s.cond, s.body, env)

    def stmt_For(self, s: ir.For, env: dict[str, Kind]) -> dict[str, Kind]:
        start = self.expr(s.start, env)
        self.expr(s.stop, env)
        return self.loop(None, s.body, {**env, s.var: join(start, Kind(INT))})

    def loop(self, cond: ir.Expr | None, body: tuple[ir.Stmt, ...], env: dict[str, Kind]) -> dict[str, Kind]:
        for _ in range(8):  # kinds only widen (bool < int < float), so this settles within a few rounds
            if cond is not None:
                self.expr(cond, env)
            after = _merge(env, self.block(body, env))
            if after == env:
                return env
            env = after
        return env

    def stmt_Barrier(self, s: ir.Barrier, env: dict[str, Kind]) -> dict[str, Kind]:
        return env

    def stmt_Return(self, s: ir.Return, env: dict[str, Kind]) -> dict[str, Kind]:
        return env

    def stmt_AllocArray(self, s: ir.AllocArray, env: dict[str, Kind]) -> dict[str, Kind]:
        self.arrays[s.name] = kind_of_dtype(np.dtype(s.dtype))
        return env

    # ---- expressions ------------------------------------------------------------------------------

    def expr(self, e: ir.Expr, env: dict[str, Kind]) -> Kind | None:
        return getattr(self, "expr_" + type(e).__name__)(e, env)

    def expr_Const(self, e: ir.Const, env: dict[str, Kind]) -> Kind:
        return Kind(BOOL if isinstance(e.value, bool) else FLOAT if isinstance(e.value, float) else INT)

    def expr_Var(self, e: ir.Var, env: dict[str, Kind]) -> Kind | None:
        return env.get(e.name)  # None: not assigned yet on this path (the executor reports it if read)

    def expr_Intrinsic(self, e: ir.Intrinsic, env: dict[str, Kind]) -> Kind:
        return Kind(INT)

    def expr_Load(self, e: ir.Load, env: dict[str, Kind]) -> Kind | None:
        self.index(e.array, e.index, env, e.loc)
        element = self.arrays.get(e.array)
        if element is None:
            return None
        return Kind(element, frozenset({e.array}) if element == FLOAT and e.array in self.params else frozenset())

    def expr_BinOp(self, e: ir.BinOp, env: dict[str, Kind]) -> Kind | None:
        left, right = self.expr(e.left, env), self.expr(e.right, env)
        if left is None or right is None:
            return None
        if e.op == "/":
            return Kind(FLOAT)  # a float whatever the operands: the kernel's own doing
        if e.op in ("<<", ">>", "&", "|", "^"):
            return Kind(INT) if FLOAT not in (left.kind, right.kind) else join(left, right)
        return join(join(left, right), Kind(INT))  # bool arithmetic gives integers

    def expr_Compare(self, e: ir.Compare, env: dict[str, Kind]) -> Kind:
        self.expr(e.left, env)
        self.expr(e.right, env)
        return Kind(BOOL)

    def expr_BoolOp(self, e: ir.BoolOp, env: dict[str, Kind]) -> Kind:
        self.expr(e.left, env)
        self.expr(e.right, env)
        return Kind(BOOL)

    def expr_UnaryOp(self, e: ir.UnaryOp, env: dict[str, Kind]) -> Kind | None:
        v = self.expr(e.operand, env)
        if e.op == "not":
            return Kind(BOOL)
        if v is not None and v.kind == BOOL and e.op in ("-", "~"):
            return Kind(INT)
        return v

    def expr_Select(self, e: ir.Select, env: dict[str, Kind]) -> Kind | None:
        self.expr(e.cond, env)
        return join(self.expr(e.if_true, env), self.expr(e.if_false, env))

    def expr_Call(self, e: ir.Call, env: dict[str, Kind]) -> Kind | None:
        args = [self.expr(a, env) for a in e.args]
        if e.func in ir.CONVERSIONS:
            return Kind(INT) if e.func.startswith("int") else Kind(FLOAT)
        if e.func in ("floor", "ceil"):
            return Kind(INT)
        if e.func in ("min", "max", "abs"):
            out = args[0]
            for a in args[1:]:
                out = join(out, a)
            return out
        return Kind(FLOAT)  # exp, log, sqrt, tanh

    # ---- the checks --------------------------------------------------------------------------------

    def index(self, array: str, index: tuple[ir.Expr, ...], env: dict[str, Kind], loc: Loc) -> None:
        for d, e in enumerate(index):
            k = self.expr(e, env)
            if k is None or k.kind != FLOAT:
                continue
            what = f"index `{ir.format_expr(e)}` of {array!r}" + (f" (dimension {d})" if len(index) > 1 else "")
            if k.sources:
                names = sorted(k.sources)
                raise ExecutionError(
                    f"kernel {self.kernel.name!r} uses {_listing(names, self.described)} in the {what} "
                    f"at {e.loc}, which makes the index a float, not an integer", loc=self.launch,
                    hint="pass an integer array (e.g. .astype(np.int32) in inputs, or zeros(n, int32)) or an int "
                         "number, or convert in the kernel with int(...)")
            raise ExecutionError(f"the {what} is not an integer (it is a float)", loc=e.loc,
                                 hint="compute it with // instead of /, or convert it with int(...)")

    def float_into_int(self, s: ir.Store, value: Kind) -> None:
        if s.array in self.params:
            raise ExecutionError(
                f"kernel {self.kernel.name!r} stores a float into {s.array!r} at {s.loc}, but the launch passed "
                f"{self.described[s.array]}: the values would be truncated silently", loc=self.launch,
                hint=f"pass a float array for {s.array!r} (e.g. zeros(n, np.float32)), or convert explicitly in "
                     f"the kernel with int(...)")
        raise ExecutionError(
            f"kernel {self.kernel.name!r} stores a float into the integer array {s.array!r}: the values would be "
            f"truncated silently", loc=s.loc,
            hint=f"declare {s.array!r} with a float dtype, or convert explicitly with int(...)")


def _merge(before: dict[str, Kind], *branches: dict[str, Kind]) -> dict[str, Kind]:
    """After a branch or loop body: a variable may hold its value from before or from any branch."""
    out = dict(before)
    for env in branches:
        for name, k in env.items():
            out[name] = join(out.get(name), k)
    return out


def _listing(names: list[str], described: dict[str, str]) -> str:
    parts = [f"argument {n!r} ({described.get(n, 'a float')})" for n in names]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
