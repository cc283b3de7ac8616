"""Code generation, part 1: the state of one kernel's rendering, its charges, and the code that runs
inside a lane loop (expressions and statements of one lane between barriers). blocks.py adds the
block level and the function around it. Generated names: see GLOSSARY in blocks.py."""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from ...cost import BANK_BYTES, SECTOR_BYTES
from ...errors import Loc
from ...lang import ir, ops
from ...lang.kinds import VarKinds
from .analysis import Unsupported, _has, _names, _reads, _uniform_vars, _walk_stmts
from .support import SITE_SECTORS, SITE_WAVEFRONTS

MAX_ITERATIONS = 10_000_000  # as the vector executor: a loop's iterations per execution
# A warp's shared- and global-memory accesses at one site are grouped into instances by the iteration
# numbers of the lane-level loops around it (mixed radix; exact up to 2**20 iterations and 3 nested loops).
_KEY_RADIX = 2 ** 20



# Per-lane counters live in the rows of one array LS: step, flop depth, HBM depth, SRAM depth.
_LANE_STATE = (("LS[t, 0]", "st"), ("LS[t, 1]", "fl"), ("LS[t, 2]", "hb"), ("LS[t, 3]", "sr"))
# Error numbers the generated code records (pramsim.lang.ops.ERRORS gives each its message).
_ERR_OOB, _ERR_DIVERGENT, _ERR_LOOP = (ops.ERRORS[n].code for n in ("out_of_bounds", "divergent_barrier", "runaway_loop"))
_VAR_DTYPE = {"b": "np.bool_", "i": "np.int64", "f": "np.float64"}  # a Select's result


def _rt(text: str) -> str:
    """A literal as a run-time value (`5 + _Z`, _Z = 0 is an argument), so that a helper it is passed
    to is typed with an integer, never with one literal type per value (register_jitable helpers
    try non-literal types first today; this keeps it so whatever numba prefers)."""
    return f"{text} + _Z" if text.lstrip("-").isdigit() else text


class LaneCode:
    """Renders one kernel (for given argument dtypes and scalar kinds): state, charges, lane-level code."""

    def __init__(self, kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalars: dict[str, Any],
                 record: bool = False):
        self.k = kernel
        self.record = record  # this rendering records shared and global accesses (bank conflicts, sectors)
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
        self.runtime_divisions = ir.runtime_divisions(kernel)
        self.kinds = VarKinds(kernel, dtypes, {n: ("f" if isinstance(v, (float, np.floating)) else "i")
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
        # Shared and global accesses are recorded per warp to count wavefronts (bank conflicts) and
        # sectors (coalescing): each access site gets a number; lane-level loops around it give the
        # instance key.
        self.access_sites = 0
        self.access_spans: list[int] = []  # words (shared) or sectors (global) per access, per site
        self.access_kinds: list[int] = []  # SITE_WAVEFRONTS or SITE_SECTORS, per site
        self.lane_loops: list[str] = []  # iteration counters of the lane-level loops being generated
        # Per lane-level loop being generated: None for a while, (variable, step, iteration, compare)
        # for a for loop (what its break and continue must account for).
        self.jump_targets: list[tuple[str, int, str, str] | None] = []

    def _shape_value(self, d: ir.Expr, s: ir.AllocArray) -> int:
        try:
            v = ir.evaluate_uniform(d, self.scalars)
        except (KeyError, ValueError, ArithmeticError):
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
        self.charge(*ops.memory_charge(kind, level))
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
            return ops.INTRINSICS[e.name].cpu
        if isinstance(e, ir.Load):
            ref = self.array_ref(e.array, e.index, e.loc)
            level, itemsize = self.level(e.array)
            self.charge_memory("load", level, itemsize, "read")
            return ref
        if isinstance(e, ir.OPERATIONS):
            return self.operation(e)
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
        raise Unsupported(f"expression {type(e).__name__}")

    def operation(self, e: ir.BinOp | ir.Compare | ir.UnaryOp | ir.Call) -> str:
        """An operator, comparison or call: its row's checks, charge and template (pramsim.lang.ops)."""
        row = ir.op_row(e)
        args = ir.operands(e)
        kinds = tuple(self.kinds.of(a) for a in args)
        texts = [self.expr(a) for a in args]
        for check in row.checks_for(kinds):
            a = args[check.arg]
            if isinstance(a, ir.Const) and not check.failing(a.value):
                continue  # a constant that passes: no test in the generated code
            texts[check.arg] = self.checked(texts[check.arg], check.test, ops.ERRORS[check.error].code, e.loc,
                                            check.safe, info=e)
        charge = row.charge(kinds)
        if charge is not None:
            self.charge(charge[0], row.key, charge[1])
            if charge[0] == "int" and id(e) in self.runtime_divisions:  # an integer // or % (the set holds only those)
                self.pending[("divide", "runtime")] += 1  # LaunchTrace.runtime_divides, not work
        return row.render(texts, kinds, "cpu")

    def checked(self, text: str, test: str, kind: int, loc: Loc, safe: str = "1", info: Any = None) -> str:
        """Bind text to a temporary and fail with `kind` where `test` ({v} = the temporary) holds."""
        name = self.fresh("v")
        self.emit(f"{name} = {text}")
        self.emit(f"if {test.format(v=name)}:")
        self.ind += 1
        self.fail(kind, loc, "_g", info=info)
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
            # Literal dimensions (shared/local arrays) let LLVM fold the check once _ix is inlined.
            idx.append(f"_ix({self.expr(e)}, {dim}, _err, {site} + _Z, _g, {d} + _Z)")
        if level == "local":
            return f"{prefix}[{', '.join(['t', *idx])}]"
        if level == "hbm" and self.record:  # the indices once each (they may fail), then their flat offset
            idx = [self.value_of(i, "x") for i in idx]
        flat = idx[0]  # shared arrays are stored flat; a global access is recorded for its sectors
        for i, dim in zip(idx[1:], dims[1:]):
            flat = f"({flat}) * {dim} + {i}"
        if level == "sram":
            return f"{prefix}[{self.record_access(array, flat, BANK_BYTES, SITE_WAVEFRONTS)}]"
        self.record_access(array, flat, SECTOR_BYTES, SITE_SECTORS)
        return f"{prefix}[{', '.join(idx)}]"

    def value_of(self, text: str, stem: str) -> str:
        """Emit `text` bound to a fresh temporary; returns its name."""
        name = self.fresh(stem)
        self.emit(f"{name} = {text}")
        return name

    def record_access(self, array: str, flat: str, unit: int, kind: int) -> str:
        """Number a shared or global access site (flat offset `flat`); in the recording rendering, emit
        the recording of the lane's access (its instance key and first `unit`-byte word or sector).
        Returns the flat offset's text (a temporary when recorded)."""
        site = self.access_sites
        self.access_sites += 1
        itemsize = self.level(array)[1]
        self.access_spans.append(-(-itemsize // unit))
        self.access_kinds.append(kind)
        self.pending[("site", site)] += 1  # the chunk that holds the access counts its runs
        if not self.record:
            return flat
        key = " + ".join(f"{q} * {_KEY_RADIX ** k}" for k, q in enumerate(reversed(self.lane_loops))) or "0"
        # A lane's first accesses at a site are recorded; _record counts them in BN[site, lane].
        # (A call, not inline code, and no count register per site, which kept one variable per
        # site live across the lane loop: numba compiles _record once, and the kernel stays small.)
        at = flat if flat.isidentifier() else self.value_of(flat, "f")
        self.emit(f"_record(BK, BW, BN, {site} + _Z, t, {key}, {at} * {itemsize} // {unit})")
        return at

    # -- statements inside a lane loop --
    def lane_stmts(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for i, s in enumerate(stmts):
            self.lane_stmt(s)
            if isinstance(s, (ir.Break, ir.Continue)):
                return  # the rest of this list never runs (lane_stmt flushed the charges before the jump)
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
            self.jump_targets.append(None)
            self.lane_stmts(s.body)
            self.jump_targets.pop()
            self.lane_loops.pop()
            if _has(s, ir.Return):
                self.emit("if exl:")
                self.emit("    break")
            self.ind -= 1
        elif isinstance(s, ir.For):
            self.lane_for(s)
        elif isinstance(s, ir.Return):
            self.emit("exl = True")
        elif isinstance(s, (ir.Break, ir.Continue)):
            self.jump(s)
        elif isinstance(s, ir.AllocArray):
            pass  # allocated once per block at the top of the function
        elif isinstance(s, ir.Barrier):  # pragma: no cover - regions never hold barriers
            raise AssertionError("barrier inside a lane region")
        else:
            raise Unsupported(f"statement {type(s).__name__}")

    def jump(self, s: ir.Break | ir.Continue) -> None:
        """break/continue in a lane-level loop: Python's own, after the charges of this path so far.

        A for loop charges an iteration's compare and increment as the iteration starts, and its
        last compare after the loop: a lane that breaks does neither (both are refunded here); a
        lane that continues increments here (Python's `continue` would skip the body's end)."""
        target = self.jump_targets[-1]
        if isinstance(s, ir.Break):
            if target is not None:
                for key in (("int", "+"), ("int", target[3])):
                    self.pending["st"] -= 1
                    self.pending[key] -= 1
            self.flush()
            self.emit("break")
            return
        self.flush()
        if target is not None:
            var, step, trip, _ = target
            self.emit(f"{var} += {step}; {trip} += 1")
        self.emit("continue")

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
        self.jump_targets.append((var, s.step, trip, less))
        self.lane_stmts(s.body)
        self.jump_targets.pop()
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

