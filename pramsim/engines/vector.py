"""The executor: runs a launch's processors together as NumPy vectors; defines the semantics.

Every processor of a launch executes each statement in lockstep (synchronous PRAM): within one
statement all active processors read before any writes. Divergent branches take turns under an
active mask. Values that are the same for every processor (constants, scalar parameters and
what is computed from them) stay Python scalars, so uniform code costs no vector work.

Cost accounting follows pramsim.cost. Every other backend is tested for agreement with this one.
Limits: one-dimensional launches; a race between processors within one statement resolves as
"the highest processor wins" (arbitrary CRCW); loops are capped at MAX_ITERATIONS per execution.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .. import limits
from ..limits import gib as _gib
from ..lang import ir, ops
from ..cost import DEPTH_CLASSES, WARP_LANES, CostTrace, LaunchTrace
from ..errors import ExecutionError, Loc, MachineError, PramsimError, caller_loc
from .args import bind_args, footprints
from .lanestate import Jumps as _Jumps, LaneCounter as _LaneCounter, Mask as _Mask, lane_ranges as _ranges
from .lanestate import truth as _truth
from . import contention, warp
from .coalescing import Transactions
from .races import RaceTracker
from ..runtime import DeviceArray

MAX_ITERATIONS = 10_000_000
DEFAULT_MEMORY_LIMIT = 8 * 2**30  # bytes of arrays + simulation state; --max-memory raises it
BYTES_PER_PROCESSOR = 200

# How launches run: "vector" (lockstep, NumPy; defines the semantics) or "compiled" (pramsim.engines.compiled).
ENGINES, MODELS = ("vector", "compiled"), contention.MODELS


class Executor:
    """The reference backend: executes kernels on NumPy arrays and records a CostTrace."""

    name = "executor"

    def __init__(self, model: str = "crcw-arbitrary", check_races: bool = False,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, engine: str = "vector") -> None:
        self.check_races = check_races
        self.memory_limit = memory_limit
        if model not in MODELS:
            raise PramsimError(f"unknown PRAM model {model!r}", hint=f"choose one of {', '.join(MODELS)}")
        if engine not in ENGINES:
            raise PramsimError(f"unknown engine {engine!r}", hint=f"choose one of {', '.join(ENGINES)}")
        if engine == "compiled" and (model != "crcw-arbitrary" or check_races):
            raise PramsimError("the compiled engine runs the default model (crcw-arbitrary) without race checks",
                               hint="use --engine vector with --model or --check-races")
        self.trace = CostTrace()
        self.model = model
        self.engine = engine
        self.notes: list[str] = []  # kernels the compiled engine handed back to the vector engine, and why
        self.value_checks = True  # False (--counts-only, whose values are stand-ins): no checks of values

    def array(self, host: np.ndarray, name: str) -> DeviceArray:
        self.reserve(np.asarray(host).nbytes, f"input {name!r}", None)
        a = DeviceArray(np.array(host, copy=True, order="C"), name)  # C order: atomics update a flat view
        self.trace.allocate(a.nbytes)
        return a

    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.reserve(nbytes, f"zeros({shape}, {np.dtype(dtype).name})", caller_loc())
        a = DeviceArray(np.zeros(shape, dtype=dtype), "")
        self.trace.allocate(a.nbytes)
        return a

    def reserve(self, nbytes: int, what: str, loc: Loc | None) -> None:
        """Refuse, before allocating, what would take more of this machine's memory than allowed."""
        if self.trace.hbm_allocated_bytes + nbytes > self.memory_limit:
            raise MachineError(
                f"{what} would bring the program's arrays to {_gib(self.trace.hbm_allocated_bytes + nbytes)}, "
                f"over the executor's limit of {_gib(self.memory_limit)}", loc=loc,
                hint="use smaller parameters, or raise the limit with --max-memory GIB")

    def to_host(self, a: DeviceArray) -> np.ndarray:
        return np.array(a.data, copy=True)

    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None:
        if self.engine == "compiled":
            from . import compiled  # noqa: PLC0415 - numba is imported only when this engine is asked for
            arrays, scalars = bind_args(kernel, args, loc)
            try:
                with np.errstate(all="ignore"):
                    compiled.launch(kernel, nprocs, block, arrays, scalars, loc, self.trace)
                return
            except compiled.Unsupported as why:
                note = f"kernel {kernel.name} ran on the vector engine: {why}"
                if note not in self.notes:
                    self.notes.append(note)
        # Each simulated processor costs about this much working memory (index, mask and counter vectors).
        estimate = nprocs * BYTES_PER_PROCESSOR
        if estimate > self.memory_limit:
            raise MachineError(
                f"launch of {kernel.name} with {nprocs:,} processors needs about {_gib(estimate)} of working memory "
                f"to simulate, over the limit of {_gib(self.memory_limit)}", loc=loc,
                hint="use smaller parameters, or raise the limit with --max-memory GIB")
        with np.errstate(all="ignore"):
            _Launch(kernel, nprocs, block, args, loc, self.trace, self.model,
                    RaceTracker() if self.check_races else None, self.value_checks).run()


class _Launch:
    """The state of one launch while it runs: variables, arrays, masks and cost counters."""

    def __init__(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc, trace: CostTrace,
                 model: str = "crcw-arbitrary", races: RaceTracker | None = None, value_checks: bool = True):
        self.kernel = kernel
        self.model = model
        self.races = races
        self.P = nprocs
        self.B = block
        self.loc = loc
        self.trace = trace
        self.starts = np.arange(0, nprocs, block)
        self.sizes = np.minimum(block, nprocs - self.starts)
        self.nblocks = len(self.starts)
        self._gid: np.ndarray | None = None
        self._block_of: np.ndarray | None = None
        self.env: dict[str, Any] = {}
        self.arrays: dict[str, tuple[np.ndarray, str]] = {}  # name -> (buffer, space)
        self.exited: np.ndarray | None = None
        self.jumps = _Jumps()  # the innermost loop's break/continue (each loop swaps in its own)
        self.step = _LaneCounter()
        self.ops = _LaneCounter()
        self.flops = _LaneCounter()
        self.hbm_bytes = _LaneCounter()
        self.sram_traffic = _LaneCounter()
        self.transactions = Transactions(block, self.nblocks)  # wavefronts and sectors per block
        self.sram_arrays: dict[str, int] = {}
        self.class_depth = {c: _LaneCounter() for c in DEPTH_CLASSES}
        self.hist = np.zeros(64, dtype=np.int64)
        self.counts: Counter = Counter()
        self.bytes: Counter = Counter()
        self.sram_bytes = 0
        self.barriers = 0
        self.runtime_divisions, self.runtime_divides = ir.runtime_divisions(kernel), 0
        self.value_checks = value_checks  # False: no checks of computed values (--counts-only's stand-ins)
        self.bind(args)

    # ---- set-up ------------------------------------------------------------------------------

    def bind(self, args: tuple[Any, ...]) -> None:
        arrays, self.env = bind_args(self.kernel, args, self.loc)
        self.scalars = dict(self.env)  # the launch's numbers, as passed (shapes are computed from these)
        self.arrays = {name: (data, "hbm") for name, data in arrays.items()}

    @property
    def block_of(self) -> np.ndarray:
        """Each processor's block index, computed once per launch (shared arrays index by it)."""
        if self._block_of is None:
            self._block_of = self.gid // self.B
        return self._block_of

    @property
    def gid(self) -> np.ndarray:
        if self._gid is None:
            self._gid = np.arange(self.P, dtype=np.int64)
        return self._gid

    # ---- running -----------------------------------------------------------------------------

    def run(self) -> None:
        self.exec_block(self.kernel.body, _Mask(None, self.P))
        depth = self.step.max()
        profile = self.hist[1:depth + 1].copy()
        work = sum(self.counts.values())
        if int(profile.sum()) != work:  # the two ledgers are kept apart on purpose: they must agree
            raise PramsimError(f"internal accounting error in launch of {self.kernel.name}: "
                               f"profile sums to {int(profile.sum())}, work is {work}")
        self.trace.add(LaunchTrace(
            kernel=self.kernel.name, loc=self.loc, nprocs=self.P, block=self.B, work=work, depth=depth,
            profile=profile,
            block_work=self.ops.per_block(self.starts, self.sizes, np.add),
            block_depth=self.step.per_block(self.starts, self.sizes, np.maximum),
            block_hbm_bytes=self.hbm_bytes.per_block(self.starts, self.sizes, np.add),
            block_flops=self.flops.per_block(self.starts, self.sizes, np.add),
            sram_per_block=self.sram_bytes, barriers=self.barriers,
            block_sram_bytes=self.sram_traffic.per_block(self.starts, self.sizes, np.add),
            sram_arrays=dict(self.sram_arrays), block_sram_wavefronts=self.transactions.per_block["sram"],
            block_hbm_sectors=self.transactions.per_block["hbm"],
            class_depth={c: int(counter.max()) for c, counter in self.class_depth.items()},
            counts=self.counts, bytes=self.bytes, runtime_divides=self.runtime_divides,
            **footprints(self.kernel, {n: data for n, (data, space) in self.arrays.items() if space == "hbm"})))

    def tick(self, mask: _Mask, cat: str, op: str, depth_class: str | None = None,
             queue: np.ndarray | None = None) -> None:
        """Charge one operation to every active processor; with `queue` (each active processor's cell),
        accesses to one cell wait for each other first (pramsim.engines.contention), in each depth counter."""
        if mask.n == 0:
            return
        waits = () if queue is None else [(c, contention.queue_delays(queue, c.at(mask)))  # each counter its own
                                          for c in (self.step, self.class_depth.get(depth_class)) if c is not None]
        self.counts[(cat, op)] += mask.n
        self.step.add(mask, self.P)
        self.ops.add(mask, self.P)
        if depth_class is not None:
            self.class_depth[depth_class].add(mask, self.P)
        for counter, d in waits:  # only queued accesses: the common path builds no lists
            if d is not None:
                counter.add_each(mask, self.P, d)
        if depth_class == "flop":
            self.flops.add(mask, self.P)
        v = self.step.v
        if not isinstance(v, np.ndarray):
            self.grow_hist(v)
            self.hist[v] += mask.n
        else:
            levels = v if mask.arr is None else v[mask.arr]
            counts = np.bincount(levels)
            self.grow_hist(len(counts) - 1)
            self.hist[:len(counts)] += counts

    def grow_hist(self, top: int) -> None:
        if top >= len(self.hist):
            self.hist = np.concatenate([self.hist, np.zeros(max(top + 1, 2 * len(self.hist)), np.int64)])

    def exec_block(self, body: tuple[ir.Stmt, ...], mask: _Mask) -> None:
        for stmt in body:
            if self.exited is not None:
                mask = mask.minus(self.exited, self.P)
            if self.jumps.skipped is not None:
                mask = mask.minus(self.jumps.skipped, self.P)
            if mask.n == 0:
                return
            getattr(self, "exec_" + type(stmt).__name__)(stmt, mask)

    def exec_Assign(self, s: ir.Assign, mask: _Mask) -> None:
        value = self.eval(s.value, mask)
        if mask.arr is None or s.target not in self.env:
            self.env[s.target] = value if mask.arr is None else np.where(mask.arr, value, _zero_like(value))
        else:
            self.env[s.target] = np.where(mask.arr, value, self.env[s.target])

    def exec_Store(self, s: ir.Store, mask: _Mask) -> None:
        value = self.eval(s.value, mask)
        buf, space = self.array(s.array, s.loc)
        index = self.index(s.array, s.index, buf, space, mask, s.loc)
        full = self.active(index, mask)
        values = self.active((value,), mask)[0]
        if self.model in contention.CHECKED_WRITES:
            self.check_concurrent(s.array, buf, full, mask, s.loc, "write", values)
        if self.races is not None and space == "sram":
            self.track_race(s.array, buf, full, mask, "write", s.loc)
        if self.model == "crcw-priority":  # the lowest-numbered processor wins: it writes last
            full, values = tuple(i[::-1] for i in full), values[::-1]
        buf[full] = values
        self.charge_memory("store", space, buf.itemsize, mask, "write", self.queue(buf, full))
        self.count_transactions(space, buf, index, mask, s.loc)

    def exec_If(self, s: ir.If, mask: _Mask) -> None:
        cond = self.eval(s.cond, mask)
        taken = mask.select(cond, self.P)
        if taken.n:
            self.exec_block(s.body, taken)
        if s.orelse and taken.n < mask.n:
            self.exec_block(s.orelse, mask.select(ops.logical_not(cond), self.P))

    def exec_While(self, s: ir.While, mask: _Mask) -> None:
        outer, self.jumps = self.jumps, _Jumps()
        try:
            self.run_while(s, mask)
        finally:
            self.jumps = outer

    def run_while(self, s: ir.While, mask: _Mask) -> None:
        for _ in range(MAX_ITERATIONS):
            limits.poll(s.loc, self.step.max, "while loop")  # --max-time, --max-steps
            mask = mask.select(self.eval(s.cond, mask), self.P)
            if mask.n == 0:
                return
            self.exec_block(s.body, mask)
            mask = self.next_iteration(mask)
        raise ops.error("runaway_loop", s.loc, limit=MAX_ITERATIONS, where=ops.where(self.first(mask), self.B))

    def exec_For(self, s: ir.For, mask: _Mask) -> None:
        outer, self.jumps = self.jumps, _Jumps()
        try:
            self.run_for(s, mask)
        finally:
            self.jumps = outer

    def next_iteration(self, mask: _Mask) -> _Mask:
        """The processors of a loop's iteration that go round again: not returned, not broken out."""
        if self.exited is not None:
            mask = mask.minus(self.exited, self.P)
        return self.jumps.next_iteration(mask, self.P)

    def run_for(self, s: ir.For, mask: _Mask) -> None:
        self.exec_Assign(ir.Assign(s.loc, s.var, s.start), mask)
        stop = self.eval(s.stop, mask)
        compare = np.less if s.step > 0 else np.greater
        for _ in range(MAX_ITERATIONS):
            limits.poll(s.loc, self.step.max, "for loop")  # --max-time, --max-steps
            self.tick(mask, "int", "<" if s.step > 0 else ">")
            mask = mask.select(compare(self.env[s.var], stop), self.P)
            if mask.n == 0:
                return
            self.exec_block(s.body, mask)
            mask = self.next_iteration(mask)  # a processor that broke out does not increment
            self.tick(mask, "int", "+")
            cur = self.env[s.var]
            self.env[s.var] = cur + s.step if mask.arr is None else np.where(mask.arr, cur + s.step, cur)
        raise ops.error("runaway_loop", s.loc, limit=MAX_ITERATIONS, where=ops.where(self.first(mask), self.B))

    def exec_Return(self, s: ir.Return, mask: _Mask) -> None:
        arr = np.ones(self.P, bool) if mask.arr is None else mask.arr.copy()
        self.exited = arr if self.exited is None else (self.exited | arr)

    def exec_Break(self, s: ir.Break, mask: _Mask) -> None:
        self.jumps.add(mask, self.P, leave=True)

    def exec_Continue(self, s: ir.Continue, mask: _Mask) -> None:
        self.jumps.add(mask, self.P, leave=False)

    def exec_Barrier(self, s: ir.Barrier, mask: _Mask) -> None:
        if mask.arr is not None:
            waiting = mask.arr.copy()
            if self.exited is not None:
                waiting |= self.exited  # processors that returned do not hold a barrier up
            arrived = np.add.reduceat(waiting.astype(np.int64), self.starts)
            partial = np.nonzero((arrived > 0) & (arrived < self.sizes))[0]
            if len(partial):
                b = int(partial[0])
                lanes = np.nonzero(~waiting[self.starts[b]:self.starts[b] + self.sizes[b]])[0]
                raise ops.error("partial_barrier", s.loc, block=b, arrived=int(arrived[b]), size=int(self.sizes[b]),
                                lanes=_ranges(lanes))
        self.barriers += 1
        if self.races is not None:
            self.races.barrier()
        for counter in (self.step, *self.class_depth.values()):
            counter.lift_blocks(self.starts, self.sizes)

    def exec_AllocArray(self, s: ir.AllocArray, mask: _Mask) -> None:
        if s.name in self.arrays:
            return  # allocated once per launch, as cuda.shared.array / cuda.local.array are
        try:  # a compile-time constant (as in CUDA): computing it costs no processor work
            shape = tuple(ir.evaluate_uniform(d, self.scalars) for d in s.shape)
        except (KeyError, ValueError, ArithmeticError, TypeError) as why:
            raise ExecutionError(f"the shape of {s.space} array {s.name!r} is not computed from constants and "
                                 f"scalar parameters ({why})", loc=s.loc) from None
        for d in shape:
            if not isinstance(d, (int, np.integer)) or d < 1:
                raise ExecutionError(f"{s.space} array {s.name!r} has dimension {d!r}; dimensions must be positive integers",
                                     loc=s.loc)
        lead = self.nblocks if s.space == "shared" else self.P
        buf = np.zeros((lead, *shape), dtype=s.dtype)
        self.arrays[s.name] = (buf, "sram" if s.space == "shared" else "local")
        if s.space == "shared":
            nbytes = int(np.prod(shape)) * buf.itemsize
            self.sram_bytes += nbytes
            self.sram_arrays[s.name] = nbytes

    # ---- memory ------------------------------------------------------------------------------

    def array(self, name: str, loc: Loc) -> tuple[np.ndarray, str]:
        try:
            return self.arrays[name]
        except KeyError:
            raise ExecutionError(f"array {name!r} is used before it is allocated", loc=loc) from None

    def index(self, name: str, exprs: tuple[ir.Expr, ...], buf: np.ndarray, space: str, mask: _Mask,
              loc: Loc) -> tuple[Any, ...]:
        """Evaluate and bounds-check an index; returns the full index into the backing buffer."""
        idx = [self.eval(e, mask) for e in exprs]
        shape = buf.shape[1:] if space in ("sram", "local") else buf.shape
        if len(idx) != len(shape):
            raise ExecutionError(f"{name!r} has {len(shape)} dimension{'s' * (len(shape) != 1)} {tuple(shape)}, "
                                 f"indexed with {len(idx)}", loc=loc)
        safe = []
        for d, (i, size) in enumerate(zip(idx, shape)):
            if not _is_integer(i):
                raise ExecutionError(f"index {d} of {name!r} is not an integer ({_dtype_name(i)})", loc=loc,
                                     hint="convert it with int(...) or compute it with // instead of /")
            bad = (i < 0) | (i >= size)
            if isinstance(bad, np.ndarray):
                if mask.arr is not None:
                    bad &= mask.arr
                if bad.any():
                    p = int(np.argmax(bad))
                    self.out_of_bounds(name, idx, shape, p, loc)
                i = i if mask.arr is None else np.where(mask.arr, i, 0)
            elif bad:
                self.out_of_bounds(name, idx, shape, int(np.argmax(mask.arr)) if mask.arr is not None else 0, loc)
            safe.append(i)
        if space == "sram":
            return (self.block_of, *safe)
        if space == "local":
            return (self.gid, *safe)
        return tuple(safe)

    def active(self, values: tuple[Any, ...], mask: _Mask) -> tuple[np.ndarray, ...]:
        """Each value (scalar or per-processor vector) as a vector over the active processors only."""
        sel = slice(None) if mask.arr is None else mask.arr
        return tuple(np.broadcast_to(v, (self.P,))[sel] for v in values)

    def track_race(self, name: str, buf: np.ndarray, full: tuple[np.ndarray, ...], mask: _Mask, kind: str,
                   loc: Loc) -> None:
        lanes = (self.gid if mask.arr is None else self.gid[mask.arr]) % self.B
        self.races.access(name, buf.shape, full, lanes, kind, loc)

    def check_concurrent(self, name: str, buf: np.ndarray, full: tuple[np.ndarray, ...], mask: _Mask, loc: Loc,
                         kind: str, values: np.ndarray | None = None) -> None:
        """Refuse concurrent reads or writes of one cell in one step that the PRAM model forbids."""
        if mask.n >= 2:
            per_processor = name in self.arrays and self.arrays[name][1] in ("sram", "local")
            contention.refuse_concurrent(self.model, name, buf.shape, full, self.gid if mask.arr is None else
                                         self.gid[mask.arr], kind, values, per_processor, loc)

    def out_of_bounds(self, name: str, idx: list[Any], shape: tuple[int, ...], p: int, loc: Loc) -> None:
        at = [int(i[p]) if isinstance(i, np.ndarray) else int(i) for i in idx]
        d = next(d for d, (i, n) in enumerate(zip(at, shape)) if not 0 <= i < n)
        raise ops.error("out_of_bounds", loc, index=ops.index_text(at[d], d, len(shape)), array=name,
                        shape=tuple(int(n) for n in shape), where=ops.where(p, self.B))

    def charge_memory(self, kind: str, space: str, itemsize: int, mask: _Mask, direction: str,
                      queue: np.ndarray | None = None) -> None:
        """Charge one access per active processor (`queue`: their cells, when they wait for each other)."""
        self.tick(mask, *ops.memory_charge(kind, space), queue=queue)
        directions = ("read", "write") if direction == "both" else (direction,)
        for d in directions:
            self.bytes[(space, d)] += mask.n * itemsize
        if space == "hbm":
            self.hbm_bytes.add(mask, self.P, itemsize * len(directions))
        elif space == "sram":
            self.sram_traffic.add(mask, self.P, itemsize * len(directions))

    def queue(self, buf: np.ndarray, cells: tuple[np.ndarray, ...] | None, always: bool = False) -> np.ndarray | None:
        """The flat cells of one step's accesses (`cells`: the active processors' indices into `buf`)
        when they queue: under QRQW, or `always` (atomics)."""
        if cells is None or not (always or self.model == "qrqw"):
            return None
        return contention.flat_cells(cells, buf.shape)

    def count_transactions(self, space: str, buf: np.ndarray, index: tuple[Any, ...], mask: _Mask, loc: Loc) -> None:
        """Add the wavefronts (shared) or sectors (global) of one access by the active lanes to their blocks."""
        if mask.n == 0 or space == "local":
            return
        offset = None  # the flat offset in the lane's array (a shared array's first index is the block)
        for i, size in zip(index[1:], buf.shape[1:]) if space == "sram" else zip(index, buf.shape):
            offset = i if offset is None else offset * size + i  # a 1-D index as it is: no copy of P lanes
        offset = 0 if offset is None else offset
        gid, offset = self.active((self.gid, offset), mask)
        self.transactions.add(space, gid, offset, mask.arr, loc, buf.itemsize)

    # ---- expressions -------------------------------------------------------------------------

    def eval(self, e: ir.Expr, mask: _Mask) -> Any:
        return getattr(self, "eval_" + type(e).__name__)(e, mask)

    def eval_Const(self, e: ir.Const, mask: _Mask) -> Any:
        return e.value

    def eval_Var(self, e: ir.Var, mask: _Mask) -> Any:
        try:
            return self.env[e.name]
        except KeyError:
            raise ExecutionError(f"variable {e.name!r} is read before it is assigned", loc=e.loc) from None

    def eval_Intrinsic(self, e: ir.Intrinsic, mask: _Mask) -> Any:
        if e.name == "gid":
            return self.gid
        if e.name == "lane":
            return self.gid % self.B if self.nblocks > 1 else self.gid
        if e.name == "block_id":
            return self.block_of if self.nblocks > 1 else 0
        if e.name == "block_dim":
            return self.B
        if e.name == "num_blocks":
            return self.nblocks
        return self.P if e.name == "num_procs" else WARP_LANES  # warp_size

    def eval_Load(self, e: ir.Load, mask: _Mask) -> Any:
        buf, space = self.array(e.array, e.loc)
        index = self.index(e.array, e.index, buf, space, mask, e.loc)
        checking_races = self.races is not None and space == "sram"
        cells = self.active(index, mask) if self.model in contention.CHECKED_READS or checking_races else None
        if self.model in contention.EXCLUSIVE_READ:
            self.check_concurrent(e.array, buf, cells, mask, e.loc, "read")
        if checking_races:
            self.track_race(e.array, buf, cells, mask, "read", e.loc)
        value = buf[index]
        self.charge_memory("load", space, buf.itemsize, mask, "read", self.queue(buf, cells))
        self.count_transactions(space, buf, index, mask, e.loc)
        return value

    def eval_Atomic(self, e: ir.Atomic, mask: _Mask) -> Any:
        """One atomic per active processor; those to one cell apply in processor order, and wait in
        its queue (pramsim.engines.contention). The value is each processor's old value."""
        buf, space = self.array(e.array, e.loc)  # the type checker has checked the array's dtype
        index = self.index(e.array, e.index, buf, space, mask, e.loc)
        args = self.active(tuple(self.eval(a, mask) for a in e.args), mask)
        cells = self.active(index, mask)
        if self.races is not None and space == "sram":
            self.track_race(e.array, buf, cells, mask, "atomic", e.loc)
        old = contention.apply_atomic(ops.ATOMICS[e.op], buf, cells, list(args))
        self.charge_memory("atomic", space, buf.itemsize, mask, "both", self.queue(buf, cells, always=True))
        self.count_transactions(space, buf, index, mask, e.loc)
        if mask.arr is None:
            return old
        out = np.zeros(self.P, buf.dtype)
        out[mask.arr] = old
        return out

    def exec_Eval(self, s: ir.Eval, mask: _Mask) -> None:
        self.eval(s.value, mask)

    def eval_op(self, e: ir.BinOp | ir.Compare | ir.UnaryOp | ir.Call, mask: _Mask) -> Any:
        """An operator, comparison, math function or conversion, as its row in pramsim.lang.ops says."""
        row = ir.op_row(e)
        args = [self.eval(a, mask) for a in ir.operands(e)]
        kinds = tuple(ops.kind_of_value(a) for a in args)
        if row.result_kind(kinds) is None:  # the type checker refuses these before a launch runs
            raise ops.error("refused_kinds", e.loc, op=row.key, refusal=row.refusal, expr=ir.format_expr(e))
        for check in row.checks_for(kinds) if self.value_checks else ():
            failing = check.failing(args[check.arg])
            if isinstance(failing, np.ndarray) and mask.arr is not None:
                failing = failing & mask.arr
            if np.any(failing):
                p = int(np.argmax(failing)) if isinstance(failing, np.ndarray) else self.first(mask)
                raise ops.error(check.error, e.loc, expr=ir.format_expr(e), where=ops.where(p, self.B))
        try:
            result = warp.shuffle(row, *args, self.gid, self.B, mask.arr) if row.family == "warp" else row.apply(args)
        except (OverflowError, ZeroDivisionError, ValueError, TypeError) as exc:
            raise ExecutionError(f"`{ir.format_expr(e)}` failed: {exc}", loc=e.loc) from None
        charge = row.charge(kinds)
        if charge is not None:
            self.tick(mask, charge[0], row.key, charge[1])
            if charge[0] == "int" and id(e) in self.runtime_divisions:  # an integer // or % (the set holds only those)
                self.runtime_divides += mask.n
        return result

    eval_BinOp = eval_Compare = eval_UnaryOp = eval_Call = eval_op

    def eval_BoolOp(self, e: ir.BoolOp, mask: _Mask) -> Any:
        # Short-circuit per processor: the right side runs only where the left does not decide.
        left = _truth(self.eval(e.left, mask))
        rest = mask.select(left if e.op == "and" else ops.logical_not(left), self.P)
        if rest.n == 0:
            return left
        right = _truth(self.eval(e.right, rest))
        return ops.unwrap(np.logical_and(left, right) if e.op == "and" else np.logical_or(left, right))

    def eval_Select(self, e: ir.Select, mask: _Mask) -> Any:
        cond = _truth(self.eval(e.cond, mask))
        if not isinstance(cond, np.ndarray):
            return self.eval(e.if_true if cond else e.if_false, mask)
        yes = mask.select(cond, self.P)
        no = mask.select(np.logical_not(cond), self.P)
        a = self.eval(e.if_true, yes) if yes.n else 0
        b = self.eval(e.if_false, no) if no.n else 0
        return np.where(cond, a, b)

    def first(self, mask: _Mask) -> int:
        """The lowest active processor (who an error of a uniform value is reported for)."""
        return 0 if mask.arr is None else int(np.argmax(mask.arr))


# ---- helpers -------------------------------------------------------------------------------------


def _is_integer(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "iu"
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _dtype_name(v: Any) -> str:
    return str(v.dtype) if isinstance(v, np.ndarray) else type(v).__name__


def _zero_like(v: Any) -> Any:
    return np.zeros((), dtype=v.dtype) if isinstance(v, np.ndarray) else type(v)(0)


