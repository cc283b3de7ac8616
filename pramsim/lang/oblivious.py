"""Data-obliviousness of a kernel: does its control flow depend on the values in its arrays?

A kernel is data-oblivious when no branch condition (`if`, `a if c else b`), loop bound, `while`
condition or array index depends on a value loaded from an array (global, shared or local) or
computed from one. Then what it executes, and so every count pramsim keeps (work by category,
depth, the profile, bytes, shared-memory banks), is a function of its parameters and processor
ids alone, which is what `--counts-only` relies on (pramsim.engines.counts). `return`, `break`
and `continue` take no value: they depend on data only through the `if` around them, which is
checked as a condition.

The same forward analysis, seeded with `block_id()` and `gid()` instead of loads, finds the
control that may differ from block to block (`block_variant`): a kernel without any runs every
full block alike.

Taint is tracked flow-sensitively through assignments (a variable overwritten with a clean
value is clean again), with branches joined and loops iterated to a fixed point (loop-carried
values), over the IR after @device functions are inlined.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Loc
from . import ir

# Expression nodes known to compute from their operands only (a warp shuffle, a Call, moves its
# operand between lanes: clean if the operand is). Any other node (an atomic, which returns the
# old value of a memory cell, whatever is added to the IR later) is
# treated as a source of data: conservative by default, so that a new node that reads memory can
# never make a data-dependent kernel look oblivious. A new node that is pure is added here.
PURE = (ir.Const, ir.Var, ir.Intrinsic, ir.BinOp, ir.UnaryOp, ir.Compare, ir.BoolOp, ir.Select, ir.Call)
BLOCK_INTRINSICS = frozenset({"gid", "block_id"})  # the ids that differ between blocks


@dataclass(frozen=True)
class Verdict:
    """Whether a kernel is data-oblivious; if not, the first construct that makes it not."""

    kernel: str
    oblivious: bool
    reason: str = ""
    loc: Loc | None = None

    def describe(self) -> str:
        if self.oblivious:
            return f"kernel {self.kernel}: data-oblivious (control flow and indices do not depend on array values)"
        return f"kernel {self.kernel}: not data-oblivious: {self.reason} ({self.loc})"


@dataclass(frozen=True)
class Use:
    """An expression whose value steers execution: a condition, a loop bound or an index."""

    what: str         # "the condition of this `if`", "an index of array 'a'", ...
    expr: ir.Expr
    loc: Loc
    array: str = ""   # for an index: the array (so that callers can pick shared-memory ones)


class _Taint:
    """One forward pass: which variables hold tainted values, per program point."""

    def __init__(self, source: Callable[[ir.Expr], str | None]):
        self.source = source  # a node's own taint ("loaded from array 'a'"), or None

    def why(self, e: ir.Expr, tainted: dict[str, str]) -> str | None:
        """Why `e` is tainted (the origin of the first tainted part), or None if it is not."""
        for node in ir.walk_expr(e):
            own = self.source(node)
            if own:
                return own
            if isinstance(node, ir.Var) and node.name in tainted:
                return tainted[node.name]
        return None

    def block(self, body: tuple[ir.Stmt, ...], state: dict[str, str], seen: list[dict[str, str]]) -> dict[str, str]:
        """The state after `body`; every intermediate state is appended to `seen` (for loops)."""
        for s in body:
            seen.append(state)
            if isinstance(s, ir.Assign):
                state = dict(state)
                origin = self.why(s.value, state)
                if origin:
                    state[s.target] = origin
                else:
                    state.pop(s.target, None)
            elif isinstance(s, ir.If):
                a = self.block(s.body, dict(state), seen)
                b = self.block(s.orelse, dict(state), seen)
                state = {**a, **b}
            elif isinstance(s, (ir.While, ir.For)):
                state = self.loop(s, state, seen)
        seen.append(state)
        return state

    def loop(self, s: ir.While | ir.For, state: dict[str, str], seen: list[dict[str, str]]) -> dict[str, str]:
        """Iterate the body to a fixed point; the loop may leave at any point (break), so the
        state after it joins every state seen inside."""
        state = dict(state)
        if isinstance(s, ir.For):
            state.pop(s.var, None)
        while True:
            inner: list[dict[str, str]] = []
            self.block(s.body, dict(state), inner)
            joined = dict(state)
            for st in inner:
                joined.update(st)
            if isinstance(s, ir.For):
                joined.pop(s.var, None)  # the loop variable is set from the (checked) bounds each time
            if joined.keys() == state.keys():
                seen.extend(inner)
                return joined
            state = joined

    def states(self, kernel: ir.Kernel) -> dict[int, dict[str, str]]:
        """The tainted variables in force at each statement (joined over loop iterations)."""
        at: dict[int, dict[str, str]] = {}
        self._visit(kernel.body, {}, at)
        return at

    def _visit(self, body: tuple[ir.Stmt, ...], state: dict[str, str], at: dict[int, dict[str, str]]) -> dict[str, str]:
        for s in body:
            if isinstance(s, (ir.While, ir.For)):
                state = self.loop(s, state, [])  # the fixed point holds at the top of every iteration
                at[id(s)] = state
                self._visit(s.body, dict(state), at)
                continue
            at[id(s)] = state
            if isinstance(s, ir.If):
                a = self._visit(s.body, dict(state), at)
                b = self._visit(s.orelse, dict(state), at)
                state = {**a, **b}
            elif isinstance(s, ir.Assign):
                state = self.block((s,), state, [])
        return state


def uses(kernel: ir.Kernel):
    """Every expression that steers execution, in program order, with the statement it sits in."""
    for s in ir.walk_stmts(kernel.body):
        if isinstance(s, ir.If):
            yield s, Use("the condition of this `if`", s.cond, s.loc)
        elif isinstance(s, ir.While):
            yield s, Use("the condition of this `while`", s.cond, s.loc)
        elif isinstance(s, ir.For):
            yield s, Use("the start of this `for` loop", s.start, s.loc)
            yield s, Use("the bound of this `for` loop", s.stop, s.loc)
        if isinstance(s, ir.Store):
            for i in s.index:
                yield s, Use(f"an index of array {s.array!r}", i, s.loc, s.array)
        for e in ir.stmt_exprs(s):
            for node in ir.walk_expr(e):
                if isinstance(node, (ir.Load, ir.Atomic)):  # an atomic's index decides its contention too
                    for i in node.index:
                        yield s, Use(f"an index of array {node.array!r}", i, node.loc, node.array)
                elif isinstance(node, ir.Select):
                    yield s, Use("the condition of this `... if ... else ...`", node.cond, node.loc)
                elif isinstance(node, ir.BoolOp):  # per processor, its left side decides whether the right runs
                    yield s, Use(f"the left side of this `{node.op}`", node.left, node.loc)


def _data_source(e: ir.Expr) -> str | None:
    if isinstance(e, ir.Load):
        return f"a value loaded from array {e.array!r}"
    if not isinstance(e, PURE):
        return f"the result of `{type(e).__name__}`, which reads memory or another lane"
    return None


def _block_source(e: ir.Expr) -> str | None:
    if isinstance(e, ir.Intrinsic) and e.name in BLOCK_INTRINSICS:
        return f"{e.name}()"
    return _data_source(e)


_VERDICTS: dict[int, tuple[ir.Kernel, Verdict]] = {}


def analyse(kernel: ir.Kernel) -> Verdict:
    """The kernel's verdict (remembered per kernel: runs ask at every launch)."""
    hit = _VERDICTS.get(id(kernel))
    if hit is not None and hit[0] is kernel:
        return hit[1]
    verdict = Verdict(kernel.name, True)
    first = _first_tainted(kernel, _Taint(_data_source))
    if first is not None:
        use, why = first
        verdict = Verdict(kernel.name, False, f"{use.what} depends on {why}", use.loc)
    _VERDICTS[id(kernel)] = (kernel, verdict)
    return verdict


def block_variant(kernel: ir.Kernel, shared: frozenset[str]) -> list[Use]:
    """The conditions, loop bounds and shared-memory indices that may differ between blocks (they
    depend on block_id() or gid()). Global indices are left out: which HBM address a block reads
    changes none of its counts. Meaningful for a data-oblivious kernel."""
    taint = _Taint(_block_source)
    states = taint.states(kernel)
    found = []
    for stmt, use in uses(kernel):
        if use.array and use.array not in shared:
            continue
        if taint.why(use.expr, states.get(id(stmt), {})):
            found.append(use)
    return found


def _first_tainted(kernel: ir.Kernel, taint: _Taint) -> tuple[Use, str] | None:
    """The first use, in program order, that `taint` reaches, and why."""
    states = taint.states(kernel)
    for stmt, use in uses(kernel):
        why = taint.why(use.expr, states.get(id(stmt), {}))
        if why:
            return use, why
    return None


def shared_arrays(kernel: ir.Kernel) -> frozenset[str]:
    """Names of the kernel's shared-memory arrays."""
    return frozenset(s.name for s in ir.walk_stmts(kernel.body) if isinstance(s, ir.AllocArray) and s.space == "shared")
