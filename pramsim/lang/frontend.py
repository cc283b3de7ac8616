"""Frontend: a kernel's Python source -> IR, rejecting what the DSL does not support.

One `visit_*` method per supported construct; anything else raises DSLError at the user's
file:line:col with what to write instead. Parsing happens when the kernel is defined, so a bad
kernel fails before anything runs.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Callable

import numpy as np

from . import intrinsics, ir, ops
from .device import DeviceFunction, inline, read_function
from ..errors import DSLError, Loc

# Python's operator syntax -> the operation table's names (pramsim.lang.ops).
_BINOPS = {syntax: name for syntax, name in ops.BY_SYNTAX.items() if name in ops.BINARY}
_CMPOPS = {syntax: name for syntax, name in ops.BY_SYNTAX.items() if name in ops.COMPARE}
_UNOPS = {syntax: name for syntax, name in ops.BY_SYNTAX.items() if name in ops.UNARY}
_DTYPES = {"float32", "float64", "int32", "int64"}

# What to say for common unsupported constructs.
_REJECT_HINTS = {
    ast.ClassDef: "define classes outside kernels; a kernel is a flat per-processor body",
    ast.FunctionDef: "nested functions are not supported; write the code inline",
    ast.AsyncFunctionDef: "async is not supported in kernels",
    ast.Lambda: "lambdas are not supported in kernels; write the expression inline",
    ast.Try: "kernels cannot catch exceptions; guard the operation with an `if` instead",
    ast.With: "`with` is not supported in kernels",
    ast.Yield: "generators are not supported in kernels",
    ast.YieldFrom: "generators are not supported in kernels",
    ast.Global: "kernels cannot assign globals; pass an array and store into it",
    ast.Nonlocal: "kernels cannot assign enclosing variables; pass an array and store into it",
    ast.Import: "import at module level, outside the kernel",
    ast.ImportFrom: "import at module level, outside the kernel",
    ast.ListComp: "comprehensions are not supported; use a loop",
    ast.List: "lists are not supported in kernels; use local((n,), float32) for a per-processor array",
    ast.Dict: "dicts are not supported in kernels",
    ast.Set: "sets are not supported in kernels",
    ast.Delete: "`del` is not supported in kernels",
    ast.Raise: "kernels cannot raise; guard the operation with an `if` instead",
    ast.Assert: "assert is not supported in kernels",
    ast.JoinedStr: "strings are not supported in kernels",
    ast.Match: "`match` is not supported; use if/else",
}


def parse_kernel(fn: Callable[..., Any], readonly: tuple[str, ...] = ()) -> ir.Kernel:
    """Parse `fn`'s source into an ir.Kernel, or raise DSLError at the offending line."""
    fdef, file, line_offset, indent = read_function(fn, "@kernel")
    return _KernelBuilder(fn, file, line_offset, readonly, indent).build(fdef)


class _KernelBuilder:
    def __init__(self, fn: Callable[..., Any], file: str, line_offset: int, readonly: tuple[str, ...],
                 col_offset: int = 0):
        self.fn = fn
        self.col_offset = col_offset  # the indentation textwrap.dedent removed
        self.file = file
        self.line_offset = line_offset
        self.globals = dict(fn.__globals__)
        if fn.__closure__:
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                self.globals[name] = cell.cell_contents
        self.readonly = set(readonly)
        self.params: list[str] = []
        self.locals: set[str] = set()
        self.arrays: set[str] = set()      # parameters used as arrays
        self.local_arrays: set[str] = set()  # shared()/local() allocations
        self.per_processor: set[str] = set()  # the local() ones
        self.written: set[str] = set()
        self.uses_barrier = False
        self.loop_depth = 0  # loops around the statement being parsed (break/continue need one)
        # Device functions (pramsim/lang/device.py): the statements of calls inlined into the
        # statement being parsed, the functions being inlined, the count of calls inlined so far,
        # and whether a call may be hoisted before the statement here.
        self.pending: list[ir.Stmt] = []
        self.device_stack: list[DeviceFunction] = []
        self.inlined = 0
        self.hoist_ok = True
        self.call_sites: tuple[str, ...] = ()  # where the code being parsed was inlined from (Loc.via)

    # ---- helpers -----------------------------------------------------------------------------

    def loc(self, node: ast.AST) -> Loc:
        return Loc(self.file, getattr(node, "lineno", 1) + self.line_offset,
                   getattr(node, "col_offset", 0) + self.col_offset, self.call_sites)

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> DSLError:
        return DSLError(message, loc=self.loc(node), hint=hint)

    def lookup(self, name: str) -> Any:
        if name in self.globals:
            return self.globals[name]
        import builtins
        return getattr(builtins, name, _MISSING)

    # ---- kernel ------------------------------------------------------------------------------

    def build(self, fdef: ast.FunctionDef) -> ir.Kernel:
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            raise self.error(fdef, f"kernel {fdef.name!r} must take plain positional parameters",
                             hint="no *args, **kwargs, defaults or keyword-only parameters")
        self.params = [p.arg for p in a.args]
        for name in self.readonly:
            if name not in self.params:
                raise self.error(fdef, f"readonly names {name!r}, which is not a parameter of {fdef.name!r}")
        body = self.block(fdef.body)
        return ir.Kernel(
            name=fdef.name,
            params=tuple(ir.Param(p.arg, self.loc(p)) for p in a.args),
            body=body,
            loc=self.loc(fdef),
            arrays=frozenset(self.arrays),
            written=frozenset(self.written),
            readonly=frozenset(self.readonly),
            uses_barrier=self.uses_barrier,
        )

    def block(self, stmts: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for s in stmts:
            saved, self.pending = self.pending, []
            try:
                r = self.stmt(s)
                out += self.pending  # the bodies of device functions it calls run first
            finally:
                self.pending = saved
            if r is not None:
                out.append(r)
        return tuple(out)

    # ---- statements --------------------------------------------------------------------------

    def stmt(self, s: ast.stmt) -> ir.Stmt | None:
        method = getattr(self, f"visit_{type(s).__name__}", None)
        if method is None:
            hint = _REJECT_HINTS.get(type(s))
            raise self.error(s, f"`{type(s).__name__}` statements are not supported in kernels",
                             hint=hint or "see docs/dsl.md for the supported constructs")
        return method(s)

    def visit_Expr(self, s: ast.Expr) -> ir.Stmt | None:
        v = s.value
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            return None  # docstring
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and self.lookup(v.func.id) is _dsl("barrier"):
            if v.args or v.keywords:
                raise self.error(v, "barrier() takes no arguments")
            self.uses_barrier = True
            return ir.Barrier(self.loc(s))
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and isinstance(self.lookup(v.func.id), DeviceFunction):
            return inline(self, self.lookup(v.func.id), v, want_value=False)
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and _atomic_op(self.lookup(v.func.id)):
            return ir.Eval(self.loc(s), self.atomic(v, _atomic_op(self.lookup(v.func.id))))
        if type(v) in _REJECT_HINTS:
            raise self.error(v, f"`{type(v).__name__}` is not supported in kernels", hint=_REJECT_HINTS[type(v)])
        raise self.error(s, "this expression's value is thrown away",
                         hint="assign it to a variable or store it into an array")

    def visit_Pass(self, s: ast.Pass) -> None:
        return None

    def visit_Return(self, s: ast.Return) -> ir.Stmt:
        if s.value is not None:
            raise self.error(s, "kernels cannot return a value",
                             hint="store the result into an output array, e.g. out[i] = value")
        return ir.Return(self.loc(s))

    def visit_Break(self, s: ast.Break) -> ir.Stmt:
        return self.jump(s, ir.Break)

    def visit_Continue(self, s: ast.Continue) -> ir.Stmt:
        return self.jump(s, ir.Continue)

    def jump(self, s: ast.stmt, node: type) -> ir.Stmt:
        """break/continue: only inside a loop of the kernel (Python refuses them elsewhere too, but a
        kernel's tree can come from elsewhere than compiled source)."""
        if self.loop_depth == 0:
            word = node.__name__.lower()
            raise self.error(s, f"`{word}` outside a loop",
                             hint=f"`{word}` belongs in the body of a `for` or `while` loop; use `return` "
                                  "to stop a processor")
        return node(self.loc(s))

    def loop_body(self, stmts: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        self.loop_depth += 1
        try:
            return self.block(stmts)
        finally:
            self.loop_depth -= 1

    def conditional(self, e: ast.expr) -> ir.Expr:
        """An expression Python may evaluate never or many times: no device function calls in it."""
        saved, self.hoist_ok = self.hoist_ok, False
        try:
            return self.expr(e)
        finally:
            self.hoist_ok = saved

    def visit_Assign(self, s: ast.Assign) -> ir.Stmt:
        if len(s.targets) != 1:
            raise self.error(s, "chained assignment (a = b = ...) is not supported", hint="assign one at a time")
        return self.assign(s.targets[0], s.value, s)

    def visit_AnnAssign(self, s: ast.AnnAssign) -> ir.Stmt:
        if s.value is None:
            raise self.error(s, "a declaration without a value is not supported", hint="give it a value")
        return self.assign(s.target, s.value, s)

    def assign(self, target: ast.expr, value: ast.expr, s: ast.stmt) -> ir.Stmt:
        if isinstance(target, ast.Name):
            name = target.id
            alloc = self.try_alloc(name, value)
            if alloc is not None:
                return alloc
            if name in self.params:
                if name in self.arrays:
                    raise self.error(target, f"cannot rebind array parameter {name!r}")
            if name in self.local_arrays:
                raise self.error(target, f"cannot rebind array {name!r}", hint="use a new name")
            if self.lookup(name) is not _MISSING and name not in self.params and name not in self.locals \
                    and callable(self.lookup(name)):
                raise self.error(target, f"{name!r} shadows a function this kernel can call", hint="rename the variable")
            expr = self.expr(value)
            self.locals.add(name)
            return ir.Assign(self.loc(s), name, expr)
        if isinstance(target, ast.Subscript):
            array, index = self.subscript(target)
            self.check_writable(array, target)
            return ir.Store(self.loc(s), array, index, self.expr(value))
        if isinstance(target, ast.Tuple):
            raise self.error(target, "tuple assignment is not supported", hint="assign each variable on its own line")
        raise self.error(target, f"cannot assign to {ast.unparse(target)}")

    def visit_AugAssign(self, s: ast.AugAssign) -> ir.Stmt:
        op = _BINOPS.get(type(s.op))
        if op is None:
            raise self.error(s, f"operator {type(s.op).__name__} is not supported")
        if isinstance(s.target, ast.Name):
            name = s.target.id
            if name not in self.locals and name not in self.params:
                raise self.error(s.target, f"name {name!r} is used before it is assigned")
            if name in self.arrays or name in self.local_arrays:
                raise self.error(s.target, f"cannot apply {op}= to the whole array {name!r}", hint="index it: a[i] += x")
            cur = ir.Var(self.loc(s.target), name)
            return ir.Assign(self.loc(s), name, ir.BinOp(self.loc(s), op, cur, self.expr(s.value)))
        if isinstance(s.target, ast.Subscript):
            array, index = self.subscript(s.target)
            self.check_writable(array, s.target)
            cur = ir.Load(self.loc(s.target), array, index)
            return ir.Store(self.loc(s), array, index, ir.BinOp(self.loc(s), op, cur, self.expr(s.value)))
        raise self.error(s.target, f"cannot assign to {ast.unparse(s.target)}")

    def visit_If(self, s: ast.If) -> ir.Stmt:
        return ir.If(self.loc(s), self.expr(s.test), self.block(s.body), self.block(s.orelse))

    def visit_While(self, s: ast.While) -> ir.Stmt:
        if s.orelse:
            raise self.error(s, "while ... else is not supported")
        return ir.While(self.loc(s), self.conditional(s.test), self.loop_body(s.body))

    def visit_For(self, s: ast.For) -> ir.Stmt:
        if s.orelse:
            raise self.error(s, "for ... else is not supported")
        if not isinstance(s.target, ast.Name):
            raise self.error(s.target, "the loop variable must be a single name")
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and 1 <= len(it.args) <= 3 and not it.keywords):
            raise self.error(it, "kernels can only loop over range(...)",
                             hint="write `for k in range(start, stop, step)` or use a while loop")
        args = it.args
        start = self.expr(args[0]) if len(args) > 1 else ir.Const(self.loc(it), 0)
        stop = self.expr(args[1] if len(args) > 1 else args[0])
        step = 1
        if len(args) == 3:
            step_val = self.const_value(args[2])
            if not isinstance(step_val, int) or step_val == 0:
                raise self.error(args[2], "the range step must be a non-zero integer constant",
                                 hint="use a while loop for a step computed at run time")
            step = step_val
        var = s.target.id
        if var in self.params or var in self.arrays or var in self.local_arrays:
            raise self.error(s.target, f"loop variable {var!r} shadows a parameter or array")
        self.locals.add(var)
        return ir.For(self.loc(s), var, start, stop, step, self.loop_body(s.body))

    # ---- allocation --------------------------------------------------------------------------

    def try_alloc(self, name: str, value: ast.expr) -> ir.Stmt | None:
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
            return None
        fn = self.lookup(value.func.id)
        space = "shared" if fn is _dsl("shared") else "local" if fn is _dsl("local") else None
        if space is None:
            return None
        if len(value.args) != 2 or value.keywords:
            raise self.error(value, f"{space}() takes a shape and a dtype", hint=f"e.g. {name} = {space}((16, 16), float32)")
        shape_node, dtype_node = value.args
        dims = shape_node.elts if isinstance(shape_node, ast.Tuple) else [shape_node]
        shape = tuple(self.expr(d) for d in dims)
        for d in shape:
            self.check_uniform(d, f"the shape of {space} array {name!r}")
        dtype = self.dtype_name(dtype_node)
        if name in self.locals or name in self.params or name in self.local_arrays:
            raise self.error(value, f"{name!r} is already defined", hint="use a new name for the array")
        self.local_arrays.add(name)
        if space == "local":
            self.per_processor.add(name)
        return ir.AllocArray(self.loc(value), name, space, shape, dtype)

    def dtype_name(self, node: ast.expr) -> str:
        try:
            obj = eval(compile(ast.Expression(node), self.file, "eval"), self.globals)  # noqa: S307 - names only
        except Exception:
            obj = None
        try:
            name = np.dtype(obj).name if obj is not None else None
        except TypeError:
            name = None
        if name not in _DTYPES:
            raise self.error(node, f"unsupported dtype {ast.unparse(node)}", hint=f"use one of {sorted(_DTYPES)}")
        return name

    def check_uniform(self, e: ir.Expr, what: str) -> None:
        """Shapes must be the same for every processor: constants and scalar parameters only."""
        for node in ir.walk_expr(e):
            if isinstance(node, (ir.Intrinsic, ir.Load, ir.Atomic)) or (isinstance(node, ir.Var) and node.name not in self.params) \
                    or (isinstance(node, ir.Call) and node.func in ir.WARP_FUNCS):
                raise DSLError(f"{what} must be the same for every processor",
                               loc=node.loc, hint="build it from constants and scalar kernel parameters only")

    # ---- expressions -------------------------------------------------------------------------

    def expr(self, e: ast.expr) -> ir.Expr:
        method = getattr(self, f"expr_{type(e).__name__}", None)
        if method is None:
            hint = _REJECT_HINTS.get(type(e))
            raise self.error(e, f"`{type(e).__name__}` expressions are not supported in kernels",
                             hint=hint or "see docs/dsl.md for the supported constructs")
        return method(e)

    def expr_Constant(self, e: ast.Constant) -> ir.Expr:
        if isinstance(e.value, bool) or isinstance(e.value, (int, float)):
            return ir.Const(self.loc(e), e.value)
        raise self.error(e, f"constant {e.value!r} is not a number", hint="kernels compute on numbers only")

    def expr_Name(self, e: ast.Name) -> ir.Expr:
        name = e.id
        if name in self.local_arrays or name in self.params and name in self.arrays:
            raise self.error(e, f"array {name!r} must be indexed", hint=f"write {name}[i]")
        if name in self.params or name in self.locals:
            return ir.Var(self.loc(e), name)
        value = self.lookup(name)
        if value is _MISSING:
            known = ", ".join(self.params) or "none"
            raise self.error(e, f"name {name!r} is not defined", hint=f"kernel parameters are: {known}")
        if isinstance(value, (bool, int, float, np.integer, np.floating)):
            return ir.Const(self.loc(e), value.item() if hasattr(value, "item") else value)
        raise self.error(e, f"{name!r} is a {type(value).__name__}, which a kernel cannot use as a value",
                         hint="kernels use numbers, scalar parameters and indexed arrays")

    def expr_Attribute(self, e: ast.Attribute) -> ir.Expr:
        # module constants such as math.pi, math.inf
        if isinstance(e.value, ast.Name) and self.lookup(e.value.id) is math:
            value = getattr(math, e.attr, None)
            if isinstance(value, float):
                return ir.Const(self.loc(e), value)
        raise self.error(e, f"attribute access {ast.unparse(e)} is not supported in kernels",
                         hint="use math.exp/math.sqrt/math.log, math.inf, or pass the value as a parameter")

    def expr_BinOp(self, e: ast.BinOp) -> ir.Expr:
        op = _BINOPS.get(type(e.op))
        if op is None:
            raise self.error(e, f"operator {type(e.op).__name__} is not supported")
        return ir.BinOp(self.loc(e), op, self.expr(e.left), self.expr(e.right))

    def expr_UnaryOp(self, e: ast.UnaryOp) -> ir.Expr:
        return ir.UnaryOp(self.loc(e), _UNOPS[type(e.op)], self.expr(e.operand))

    def expr_BoolOp(self, e: ast.BoolOp) -> ir.Expr:
        op = "and" if isinstance(e.op, ast.And) else "or"
        values = [self.expr(e.values[0])] + [self.conditional(v) for v in e.values[1:]]
        out = values[0]
        for v in values[1:]:
            out = ir.BoolOp(self.loc(e), op, out, v)
        return out

    def expr_Compare(self, e: ast.Compare) -> ir.Expr:
        operands = [e.left, *e.comparators]
        parts: list[ir.Expr] = []
        for op_node, left, right in zip(e.ops, operands, operands[1:]):
            op = _CMPOPS.get(type(op_node))
            if op is None:
                raise self.error(e, f"comparison {type(op_node).__name__} is not supported", hint="use < <= > >= == !=")
            side = self.expr if len(e.ops) == 1 else self.conditional  # a chain reads its middle twice
            parts.append(ir.Compare(self.loc(e), op, side(left), side(right)))
        out = parts[0]
        for p in parts[1:]:
            out = ir.BoolOp(self.loc(e), "and", out, p)
        return out

    def expr_IfExp(self, e: ast.IfExp) -> ir.Expr:
        return ir.Select(self.loc(e), self.expr(e.test), self.conditional(e.body), self.conditional(e.orelse))

    def expr_Subscript(self, e: ast.Subscript) -> ir.Expr:
        array, index = self.subscript(e)
        return ir.Load(self.loc(e), array, index)

    def expr_Call(self, e: ast.Call) -> ir.Expr:
        if e.keywords:
            raise self.error(e, "keyword arguments are not supported in kernel calls",
                             hint="pass the arguments by position")
        fn_node = e.func
        if isinstance(fn_node, ast.Attribute) and isinstance(fn_node.value, ast.Name) \
                and self.lookup(fn_node.value.id) is math and fn_node.attr in ir.MATH_FUNCS:
            return self.math_call(e, fn_node.attr)
        if not isinstance(fn_node, ast.Name):
            raise self.error(e, f"cannot call {ast.unparse(fn_node)} in a kernel",
                             hint="kernels may call intrinsics (gid, lane, ...), math functions and conversions")
        name = fn_node.id
        value = self.lookup(name)
        for intrinsic in ir.ID_INTRINSICS:
            if value is _dsl(intrinsic):
                if e.args:
                    raise self.error(e, f"{name}() takes no arguments")
                return ir.Intrinsic(self.loc(e), intrinsic)
        if value is _dsl("barrier"):
            raise self.error(e, "barrier() is a statement, not a value", hint="call it on its own line")
        for fname in ir.WARP_FUNCS:
            if value is _dsl(fname):
                return self.math_call(e, fname)
        if _atomic_op(value):
            return self.atomic(e, _atomic_op(value))
        if value in (_dsl("shared"), _dsl("local")):
            raise self.error(e, f"{name}() must be assigned directly to a name", hint=f"arr = {name}((16,), float32)")
        builtin_math = {min: "min", max: "max", abs: "abs", float: "float", int: "int"}
        if value in builtin_math:
            fname = builtin_math[value]
            return self.conversion(e, fname) if fname in ir.CONVERSIONS else self.math_call(e, fname)
        for fname in ir.MATH_FUNCS:
            if value is getattr(math, fname, None):
                return self.math_call(e, fname)
        for dt in ("float32", "float64", "int32", "int64"):
            if value is getattr(np, dt):
                return self.conversion(e, dt)
        if isinstance(value, DeviceFunction):
            return inline(self, value, e, want_value=True)
        if value is _MISSING and name == self.fn.__name__ or getattr(value, "__pramsim_kernel__", False):
            raise self.error(e, f"a kernel cannot call kernel {name!r} (no recursion or nested launches)",
                             hint="launch kernels one after another from the host program")
        if value is _MISSING:
            raise self.error(e, f"name {name!r} is not defined")
        raise self.error(e, f"cannot call {name!r} in a kernel",
                         hint="kernels may call intrinsics (gid, lane, ...), math functions and conversions")

    def math_call(self, e: ast.Call, fname: str) -> ir.Expr:
        args = tuple(self.expr(a) for a in e.args)
        want = ops.CALLS[fname].arity
        if len(args) != want:
            raise self.error(e, f"{fname}() takes {want} argument{'s' if want > 1 else ''} here, got {len(args)}")
        return ir.Call(self.loc(e), fname, args)

    def atomic(self, e: ast.Call, op: str) -> ir.Expr:
        """atomic_<op>(array, index, args...): the array a global or shared array the kernel may write,
        the index one expression or a tuple of them."""
        name = f"atomic_{op}"
        row = ops.ATOMICS[op]
        if e.keywords:
            raise self.error(e, f"{name}() takes no keyword arguments", hint="pass the arguments by position")
        want = ("array, index, expected, new" if op == "cas" else "array, index, value")
        if len(e.args) != 2 + row.arity:
            raise self.error(e, f"{name}() takes {2 + row.arity} arguments ({want}), got {len(e.args)}")
        target = e.args[0]
        if not isinstance(target, ast.Name) or (target.id not in self.params and target.id not in self.local_arrays):
            raise self.error(target, f"the first argument of {name}() must be an array (a kernel parameter or a "
                                     f"shared array), got `{ast.unparse(target)}`", hint=f"{name}(hist, i, 1)")
        array = target.id
        if array in self.per_processor:
            raise self.error(target, f"{name}() on the local array {array!r}: a local array belongs to one "
                                     f"processor, so nothing can contend for it",
                             hint="use a plain read and store, or an atomic on a shared or global array")
        if array in self.readonly:
            raise self.error(target, f"{name}() writes {array!r}, which the kernel declares read-only",
                             hint=f"remove {array!r} from readonly=... or use an atomic on another array")
        if array in self.params:
            self.arrays.add(array)
        self.written.add(array)
        index = e.args[1]
        dims = index.elts if isinstance(index, ast.Tuple) else [index]
        return ir.Atomic(self.loc(e), op, array, tuple(self.expr(d) for d in dims),
                         tuple(self.expr(a) for a in e.args[2:]))

    def conversion(self, e: ast.Call, fname: str) -> ir.Expr:
        if len(e.args) != 1:
            raise self.error(e, f"{fname}() takes exactly one argument")
        return ir.Call(self.loc(e), fname, (self.expr(e.args[0]),))

    def subscript(self, e: ast.Subscript) -> tuple[str, tuple[ir.Expr, ...]]:
        if not isinstance(e.value, ast.Name):
            raise self.error(e, f"cannot index {ast.unparse(e.value)}", hint="index an array parameter or a shared/local array")
        name = e.value.id
        if name in self.params:
            self.arrays.add(name)
        elif name not in self.local_arrays:
            if name in self.locals:
                raise self.error(e, f"{name!r} is a number, not an array")
            raise self.error(e, f"name {name!r} is not defined", hint=f"kernel parameters are: {', '.join(self.params)}")
        sl = e.slice
        dims = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        for d in dims:
            if isinstance(d, ast.Slice):
                raise self.error(d, "slices are not supported in kernels", hint="each processor indexes single elements")
        return name, tuple(self.expr(d) for d in dims)

    def check_writable(self, array: str, node: ast.AST) -> None:
        if array in self.readonly:
            raise self.error(node, f"kernel stores to {array!r}, which it declares read-only",
                             hint=f"remove {array!r} from readonly=... or store into another array")
        self.written.add(array)

    def const_value(self, node: ast.expr) -> Any:
        e = self.expr(node)
        if isinstance(e, ir.Const):
            return e.value
        if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Const):
            return -e.operand.value
        return None


class _Missing:
    pass


_MISSING = _Missing()


def _atomic_op(value: Any) -> str | None:
    """"add" when `value` is the DSL's atomic_add placeholder (and so on), else None."""
    for op in ops.ATOMICS:
        if value is _dsl(f"atomic_{op}"):
            return op
    return None


def _dsl(name: str) -> Any:
    """The placeholder function `name` (gid, barrier, shared, ...) that kernels call."""
    return getattr(intrinsics, name)


