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

from . import ir, ops
from ..errors import ExecutionError, Loc
from ..runtime import DeviceArray

BOOL, INT, FLOAT = ops.BOOL, ops.INT, ops.FLOAT
kind_of_dtype = ops.kind_of_dtype


@dataclass(frozen=True)
class Kind:
    """bool/int/float, and the launch parameters whose float dtype made this value a float."""

    kind: str
    sources: frozenset[str] = frozenset()


def join(a: Kind | None, b: Kind | None) -> Kind | None:
    if a is None or b is None:
        return a or b
    k = ops.join(a.kind, b.kind)
    return Kind(k, a.sources | b.sources if k == FLOAT else frozenset())


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
        self.jumps: list[list[dict[str, Kind]]] = []  # per enclosing loop: environments at its break/continue

    # ---- statements: each takes the environment before it and returns the one after ------------------

    def block(self, body: tuple[ir.Stmt, ...], env: dict[str, Kind]) -> dict[str, Kind]:
        for s in body:
            env = getattr(self, "stmt_" + type(s).__name__)(s, env)
        return env

    def stmt_Assign(self, s: ir.Assign, env: dict[str, Kind]) -> dict[str, Kind]:
        return {**env, s.target: self.expr(s.value, env)}

    def stmt_Store(self, s: ir.Store, env: dict[str, Kind]) -> dict[str, Kind]:
        for e in s.index:
            self.expr(e, env)
        self.index(s.array, s.index, env, s.loc)
        value = self.expr(s.value, env)
        element = self.arrays.get(s.array)
        if element in (INT, BOOL) and value is not None and value.kind == FLOAT:
            self.float_into_int(s, value)
        return env

    def stmt_Eval(self, s: ir.Eval, env: dict[str, Kind]) -> dict[str, Kind]:
        self.expr(s.value, env)
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
            self.jumps.append([])
            end = self.block(body, env)
            # A break leaves with its environment, a continue goes round with it: both join the end's.
            after = _merge(env, end, *self.jumps.pop())
            if after == env:
                return env
            env = after
        return env

    def stmt_Barrier(self, s: ir.Barrier, env: dict[str, Kind]) -> dict[str, Kind]:
        return env

    def stmt_Return(self, s: ir.Return, env: dict[str, Kind]) -> dict[str, Kind]:
        return env

    def stmt_Break(self, s: ir.Break, env: dict[str, Kind]) -> dict[str, Kind]:
        self.jumps[-1].append(env)
        return env

    stmt_Continue = stmt_Break

    def stmt_AllocArray(self, s: ir.AllocArray, env: dict[str, Kind]) -> dict[str, Kind]:
        self.arrays[s.name] = kind_of_dtype(np.dtype(s.dtype))
        return env

    # ---- expressions: kinds are a fold over the operation table (ir.expr_kind) ----------------------

    def expr(self, e: ir.Expr, env: dict[str, Kind]) -> Kind | None:
        """Check every index and operation in `e`, and return its kind."""
        for node in ir.walk_expr(e):
            if isinstance(node, (ir.Load, ir.Atomic)):
                self.index(node.array, node.index, env, node.loc)
            if isinstance(node, ir.Atomic):
                self.atomic(node, env)
            elif isinstance(node, ir.OPERATIONS):
                self.defined(node, env)
        return self.kind(e, env)

    def kind(self, e: ir.Expr, env: dict[str, Kind]) -> Kind | None:
        k = ir.expr_kind(e, lambda leaf: self.leaf(leaf, env))
        if k is None:
            return None
        return Kind(k, self.float_sources(e, env) if k == FLOAT else frozenset())

    def leaf(self, e: ir.Expr, env: dict[str, Kind]) -> str | None:
        if isinstance(e, ir.Const):
            return ops.kind_of_value(e.value)
        if isinstance(e, ir.Var):
            k = env.get(e.name)  # None: not assigned yet on this path (the executor reports it if read)
            return k.kind if k else None
        if isinstance(e, (ir.Load, ir.Atomic)):
            return self.arrays.get(e.array)
        return INT  # an intrinsic

    def float_sources(self, e: ir.Expr, env: dict[str, Kind]) -> frozenset[str]:
        """The float launch arguments (parameters, or arrays' elements) that a float value comes from."""
        if isinstance(e, ir.Var):
            k = env.get(e.name)
            return k.sources if k and k.kind == FLOAT else frozenset()
        if isinstance(e, ir.Load):
            return frozenset({e.array}) if self.arrays.get(e.array) == FLOAT and e.array in self.params else frozenset()
        if isinstance(e, ir.Select):
            children = (e.if_true, e.if_false)
        elif isinstance(e, ir.OPERATIONS):
            children = ir.operands(e)
        else:
            return frozenset()
        return frozenset().union(*(self.float_sources(c, env) for c in children))

    def defined(self, e: ir.Expr, env: dict[str, Kind]) -> None:
        """Refuse an operation the table does not define for its operands' kinds (`&` on a float)."""
        row = ir.op_row(e)
        kinds = tuple(ir.expr_kind(a, lambda leaf: self.leaf(leaf, env)) for a in ir.operands(e))
        if None not in kinds and row.result_kind(kinds) is None:
            raise ops.error("refused_kinds", e.loc, op=row.key, refusal=row.refusal, expr=ir.format_expr(e))

    # ---- the checks --------------------------------------------------------------------------------

    def index(self, array: str, index: tuple[ir.Expr, ...], env: dict[str, Kind], loc: Loc) -> None:
        for d, e in enumerate(index):
            k = self.kind(e, env)
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

    def atomic(self, e: ir.Atomic, env: dict[str, Kind]) -> None:
        """An atomic needs an array of the kinds its operation allows; a float is not stored into integers."""
        row = ops.ATOMICS[e.op]
        element = self.arrays.get(e.array)
        if element is not None and element not in row.kinds:
            needs = " or ".join({INT: "integer", FLOAT: "float"}[k] for k in row.kinds)
            raise ExecutionError(f"atomic_{e.op} on {e.array!r}, which holds {'bools' if element == BOOL else 'floats'}"
                                 f": it needs an {needs} array", loc=e.loc,
                                 hint=f"pass {e.array!r} as an {needs} array" + (" (CUDA's atomicCAS compares bits, "
                                      "so pramsim allows it on integers only)" if e.op == "cas" else ""))
        for a in e.args:
            value = self.kind(a, env)
            if element in (INT, BOOL) and value is not None and value.kind == FLOAT:
                raise ExecutionError(f"atomic_{e.op} puts a float into the integer array {e.array!r}: the values "
                                     f"would be truncated silently", loc=e.loc,
                                     hint="convert explicitly with int(...), or use a float array")

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
