"""Static analysis of a kernel's IR for the compiled engine: which statements run at block level,
which variables are block-uniform, which variables a stretch of code reads and writes."""
from __future__ import annotations

from collections import Counter
from typing import Any

from ...lang import ir, ops


class Unsupported(Exception):
    """This kernel (or launch) cannot run on the compiled engine; the message says why."""


# ---- IR helpers -----------------------------------------------------------------------------------


_children = ir.stmt_children
_walk_stmts = ir.walk_stmts  # the names the code generator uses


def _has(s: ir.Stmt, kind: type) -> bool:
    return any(isinstance(x, kind) for x in _walk_stmts((s,)))


_UNIFORM_INTRINSICS = {name for name, i in ops.INTRINSICS.items() if i.uniform}


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
        for e in ir.stmt_exprs(s):
            reads.update(n.name for n in ir.walk_expr(e) if isinstance(n, ir.Var))
        if isinstance(s, ir.For):
            reads[s.var] += 1
    return reads


def _names(stmts: tuple[ir.Stmt, ...]) -> tuple[set[str], set[str]]:
    """(variables read, variables assigned) anywhere in stmts."""
    read: set[str] = set()
    written: set[str] = set()
    for s in _walk_stmts(stmts):
        for e in ir.stmt_exprs(s):
            read |= {n.name for n in ir.walk_expr(e) if isinstance(n, ir.Var)}
        if isinstance(s, ir.Assign):
            written.add(s.target)
        elif isinstance(s, ir.For):
            written.add(s.var)
            read.add(s.var)
    return read, written


