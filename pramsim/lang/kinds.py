"""Static kinds (b(ool) < i(nt) < f(loat)) of a kernel's variables, as the vector engine's values would have.

Flow-insensitive: a variable's kind is the widest kind assigned to it anywhere. The compiled engine
types its generated code with it, the CUDA renderer casts bool operands with it. Expressions are
typed by folding the operation table (ir.expr_kind), as the type checker does.
"""
from __future__ import annotations

import numpy as np

from . import ir, ops


class KindConflict(Exception):
    """A variable holds float and non-float values at different times, or an expression's operand
    kinds are ones the operation table refuses."""



class VarKinds:
    """Each variable's and expression's kind, inferred once per (kernel, argument kinds) by folding
    the operation table's kind rules (ir.expr_kind), as the type checker does."""

    def __init__(self, kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalar_kinds: dict[str, str],
                 strict: bool = True):
        """strict=False: a conflict is no error (the widest kind wins), unknown kinds are "f"."""
        self.strict = strict
        self.arrays = dict(array_dtypes)
        self.vars: dict[str, str] = dict(scalar_kinds)
        assigned: dict[str, set[str]] = {}
        for _ in range(20):  # fixpoint: a kind only rises, so this settles within a few rounds
            before = dict(self.vars)
            assigned = {}
            for s in ir.walk_stmts(kernel.body):
                if isinstance(s, ir.Assign):
                    assigned.setdefault(s.target, set()).add(self.of(s.value))
                elif isinstance(s, ir.For):
                    assigned.setdefault(s.var, set()).add(self.of(s.start))
            for name, kinds in assigned.items():
                self.vars[name] = ops.join(self.vars.get(name, "b"), *kinds)
            if self.vars == before:
                break
        for name, kinds in assigned.items() if strict else ():
            if "f" in kinds and len(kinds) > 1 or name in scalar_kinds and (scalar_kinds[name] == "f") != ("f" in kinds):
                raise KindConflict(f"variable {name!r} holds float and integer values at different times")

    def of(self, e: ir.Expr) -> str:
        kind = ir.expr_kind(e, self.leaf)
        if kind is None and not self.strict:
            return "f"
        if kind is None:  # the type checker refuses these before a launch reaches an engine
            raise KindConflict(f"`{ir.format_expr(e)}` is not defined for its operands' kinds")
        return kind

    def leaf(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            return ops.kind_of_value(e.value)
        if isinstance(e, ir.Var):
            return self.vars.get(e.name, "b")
        if isinstance(e, (ir.Load, ir.Atomic)):
            return ops.kind_of_dtype(self.arrays[e.array]) if e.array in self.arrays else "f"
        return "i"  # an intrinsic
