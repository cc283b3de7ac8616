"""Device functions (`@device`): helpers that kernels and other device functions call, inlined by
the frontend at each call site.

A call's body becomes IR statements placed before the statement that holds the call, with the
function's locals renamed apart (`__<name><n>_<local>`) and its result a fresh variable, so every
engine runs device functions without knowing them, and they are charged as their body. Limits:
positional arguments only; no recursion; `return` only as the last statement of the body, or as
the last statement of every branch of a final if/else (a function may also return nothing and be
called as a statement); a call may not sit where Python evaluates it conditionally or repeatedly
(a `while` condition, the right side of `and`/`or`, a branch of `x if c else y`). An argument that
is a plain name (an array, or a variable the function does not assign) is passed by name.
"""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from typing import Any, Callable

from . import ir
from ..errors import DSLError, Loc, PramsimError, caller_loc


def read_function(fn: Callable[..., Any], decorator: str) -> tuple[ast.FunctionDef, str, int, int]:
    """The `def` of `fn` parsed from its file: (tree, file, line offset, column offset).

    Raises DSLError where the source cannot be read or is not a plain `def`."""
    try:
        lines, first_line = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise DSLError(f"cannot read the source of {decorator[1:]} {fn.__name__!r}: {exc}",
                       hint=f"define {decorator[1:]}s in a .py file, not in an interactive session") from None
    raw = "".join(lines)
    source = textwrap.dedent(raw)
    indent = len(raw) - len(raw.lstrip(" \t")) - (len(source) - len(source.lstrip(" \t")))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    fdef = tree.body[0] if tree and tree.body else None
    if not isinstance(fdef, ast.FunctionDef) or fdef.name != fn.__name__:
        kind = "an async function" if isinstance(fdef, ast.AsyncFunctionDef) else "a lambda" \
            if fn.__name__ == "<lambda>" else "not a plain def"
        raise DSLError(f"{decorator} needs a plain `def` function; {fn.__name__!r} is {kind}",
                       loc=Loc(file, first_line, 0), hint=f"write it as `{decorator}\ndef name(params): ...`")
    return fdef, file, first_line - 1, indent


class DeviceFunction:
    """A parsed `@device` function; the frontend inlines it where a kernel calls it."""

    __pramsim_device__ = True

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.name = fn.__name__
        self.fdef, self.file, self.line_offset, self.col_offset = read_function(fn, "@device")
        self.loc = Loc(self.file, self.fdef.lineno + self.line_offset, self.fdef.col_offset + self.col_offset)
        a = self.fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            raise DSLError(f"device function {self.name!r} must take plain positional parameters", loc=self.loc,
                           hint="no *args, **kwargs, defaults or keyword-only parameters")
        self.params = [p.arg for p in a.args]
        self.returns_value = _check_returns(self.fdef.body, self)
        # Locals in Python's sense: the parameters and every name the body assigns.
        self.assigned = {n.id for n in ast.walk(self.fdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    @property
    def globals(self) -> dict[str, Any]:
        """The names the body sees, looked up when a kernel inlines it (so it may call device
        functions defined after it)."""
        scope = dict(self.fn.__globals__)
        if self.fn.__closure__:
            scope.update(zip(self.fn.__code__.co_freevars, (c.cell_contents for c in self.fn.__closure__)))
        return scope

    def __call__(self, *args: Any) -> Any:
        raise PramsimError(f"device function {self.name}() can only be called inside a kernel", loc=caller_loc(),
                           hint="kernels are parsed, not run as Python: call it from a @kernel function")

    def __repr__(self) -> str:
        return f"<pramsim device function {self.name}>"


def _check_returns(body: list[ast.stmt], f: DeviceFunction) -> bool:
    """Refuse a `return` anywhere but at the end of the body (or of each branch of a final
    if/else); whether the function returns a value."""
    def where(node: ast.AST) -> Loc:
        return Loc(f.file, node.lineno + f.line_offset, node.col_offset + f.col_offset)

    def refuse(stmts: list[ast.stmt]) -> None:
        for n in (n for s in stmts for n in ast.walk(s)):
            if isinstance(n, ast.Return):
                raise DSLError(f"device function {f.name!r} returns before its end", loc=where(n),
                               hint="return only as the last statement (or the last of each branch of a "
                                    "final if/else): assign the result to a variable and return it at the end")

    def tail(stmts: list[ast.stmt]) -> list[ast.Return]:
        refuse(stmts[:-1])
        last = stmts[-1] if stmts else None
        if isinstance(last, ast.Return):
            return [last]
        if isinstance(last, ast.If):
            return tail(last.body) + tail(last.orelse)
        refuse(stmts[-1:])  # a return inside a final loop is not at the end
        return []

    returns = tail(body)
    valued = [r for r in returns if r.value is not None]
    if valued and (len(valued) < len(returns) or not _ends_in_return(body)):
        raise DSLError(f"device function {f.name!r} returns a value on some paths only", loc=where(valued[0]),
                       hint="end every path with `return value`")
    return bool(valued)


def _ends_in_return(stmts: list[ast.stmt]) -> bool:
    last = stmts[-1] if stmts else None
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and _ends_in_return(last.body) and _ends_in_return(last.orelse)


class _Rename(ast.NodeTransformer):
    """A device body, its locals renamed apart and each `return value` made an assignment."""

    def __init__(self, names: dict[str, str], result: str):
        self.names = names
        self.result = result

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            return ast.copy_location(ast.Name(self.names[node.id], node.ctx), node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        return ast.copy_location(ast.Assign([ast.Name(self.result, ast.Store())], self.visit(node.value)), node)


def inline(builder: Any, f: DeviceFunction, call: ast.Call, want_value: bool) -> ir.Expr | None:
    """Inline one call of `f` into the statements `builder` is building (its `pending` list); the
    call's value as an ir.Var (None when want_value is False)."""
    if call.keywords:
        raise builder.error(call, f"pass the arguments of {f.name}() by position")
    if len(call.args) != len(f.params):
        raise builder.error(call, f"device function {f.name}() takes {len(f.params)} argument"
                                  f"{'s' * (len(f.params) != 1)}, given {len(call.args)}")
    if want_value and not f.returns_value:
        raise builder.error(call, f"device function {f.name}() returns no value",
                            hint="call it as a statement, or end it with `return value`")
    if not builder.hoist_ok:
        raise builder.error(call, f"device function {f.name}() is called where it may run never or many times",
                            hint="assign its result to a variable first (a `while` condition, the right side of "
                                 "`and`/`or` and the branches of `x if c else y` cannot call device functions)")
    chain = [g.name for g in builder.device_stack]
    if f in builder.device_stack:
        cycle = " -> ".join(chain[chain.index(f.name):] + [f.name])
        raise builder.error(call, f"device function {f.name}() is called recursively ({cycle})",
                            hint="device functions cannot recurse; write the recursion as a loop")
    builder.inlined += 1
    prefix = f"__{f.name}{builder.inlined}_"
    names: dict[str, str] = {}
    for p, arg in zip(f.params, call.args):
        if isinstance(arg, ast.Name) and p not in f.assigned:
            names[p] = arg.id  # by name: an array, or a value the function only reads
        else:
            names[p] = prefix + p
            builder.pending.append(ir.Assign(builder.loc(arg), prefix + p, builder.expr(arg)))
            builder.locals.add(prefix + p)
    names.update({n: prefix + n for n in f.assigned - set(f.params)})
    body = [_Rename(names, prefix + "result").visit(copy.deepcopy(s)) for s in f.fdef.body]
    site = builder.loc(call)
    saved = (builder.file, builder.line_offset, builder.col_offset, builder.globals, builder.loop_depth,
             builder.call_sites)
    builder.file, builder.line_offset, builder.col_offset = f.file, f.line_offset, f.col_offset
    # Every node of the body is located in the function, and names the call (errors print it).
    builder.globals, builder.loop_depth = f.globals, 0
    builder.call_sites = (f"device function {f.name}, called at {site.file}:{site.line}", *site.via)
    builder.device_stack.append(f)
    try:
        builder.pending.extend(builder.block([ast.fix_missing_locations(s) for s in body]))
    finally:
        builder.device_stack.pop()
        (builder.file, builder.line_offset, builder.col_offset, builder.globals, builder.loop_depth,
         builder.call_sites) = saved
    if not want_value:
        return None
    builder.locals.add(prefix + "result")
    return ir.Var(site, prefix + "result")
