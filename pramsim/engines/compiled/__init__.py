"""The compiled engine: a kernel's IR rendered to a numba (CPU) function that counts as the executor does.

`--engine compiled` runs the same cost model as the vector executor (pramsim.engines.vector), tens of
times faster on large launches, by giving up lockstep execution: each block's lanes run one after
another between barriers, as a GPU may run them. For a race-free program (no lane touches a cell
that another lane writes, between two barriers or anywhere in another block of the launch) that
changes nothing: outputs, work by category, depth by class, the parallelism profile, per-block
figures and the barrier count are the executor's (tests/test_compiled.py checks every shipped
program). A program that relies on lockstep reads-before-writes will compute something else, and
its comparison with the NumPy reference will say so; `--check-races` on the vector engine finds
such races.

How it counts without per-processor vectors: within one barrier interval a processor's operations
occupy consecutive depth steps, so the profile needs only each lane's step count at the interval's
start and end (a difference array). The charges of a straight run of code are constants: the
generated code counts how often each such chunk runs, and Python multiplies by its charges.

Structure of the generated function: loop over blocks; barrier-free runs of statements become a
loop over the block's lanes ("lane regions"); an if/while/for that contains barrier() stays at
block level, its condition is evaluated per lane and must agree across the block's running lanes
(else: the divergent-barrier error). Variables live in per-lane arrays between regions, except
block-uniform ones (computed from parameters and block_id() at block level), which are one scalar
per block, computed once, their charges added to every running lane.

Limits (the kernel then runs on the vector engine, with a note): a variable assigned both float and
non-float values, a non-integer index, shared/local shapes not computed from parameters, anything
numba cannot type. Only the default PRAM model (crcw-arbitrary), without --check-races. A variable
read before it is assigned reads 0 here (the vector engine reports it). Out-of-bounds indices,
integer division by zero, int(NaN), runaway loops and divergent barriers are errors, as there.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np

from ... import codecache, limits, progress
from ...cost import WARP_LANES, CostTrace, LaunchTrace
from ...errors import ExecutionError, Loc, PramsimError
from ...lang import ir, oblivious, ops
from ...lang.kinds import KindConflict
from ..args import footprints
from .analysis import Unsupported
from .blocks import KernelCode
from .lanes import MAX_ITERATIONS
from .support import GENERATED_HEADER

__all__ = ["Unsupported", "launch", "render"]

# Errors that depend on the values computed (not on indices or control flow): launch_classes runs on
# --counts-only's stand-in values, so such an error there sends the launch to the vector engine, which
# counts without value checks (pramsim.engines.counts).
_VALUE_ERRORS = {ops.ERRORS[name].code for name in ("div_zero", "int_of_nan", "negative_power", "shift_range")}
DEADLINE_CHUNKS = 32  # chunks of blocks per launch when a run has a deadline (checked between them)
FEW_BLOCKS = 64  # launches of at most this many blocks run the recording function on every block

# ---- running a launch ------------------------------------------------------------------------------

_cache: dict[tuple, tuple[Any, KernelCode]] = {}
# Set while a run compiles ahead of the one it prepares (pramsim.runner): a launch then compiles
# the plain function too, which a larger launch of the same kernel (over FEW_BLOCKS blocks) needs.
_every_variant: contextvars.ContextVar[bool] = contextvars.ContextVar("pramsim_every_variant", default=False)


@contextlib.contextmanager
def compiling_every_variant() -> Iterator[None]:
    """Launches inside compile every function a launch of the same kernel may call, whatever
    their own size: for a small run made to compile before a large one."""
    token = _every_variant.set(True)
    try:
        yield
    finally:
        _every_variant.reset(token)
_cache_lock = threading.Lock()


def _load(source: str, fn_name: str) -> Any:
    folder = codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")
    return codecache.load_source(source, fn_name, folder, "pramsim_cpu")


def render(kernel: ir.Kernel, array_dtypes: dict[str, np.dtype], scalars: dict[str, Any]) -> tuple[str, KernelCode]:
    """The generated module's source for one specialization, and the generator (counter keys, sites).

    The module has two functions: `<kernel>_cpu`, and `<kernel>_cpu_rec`, which also records every
    warp's shared and global accesses to count their wavefronts and sectors. Recording in the hot loops (even
    behind a branch not taken) made the flash kernel 3.7x slower, so it is a separate function
    that only some blocks run (see launch)."""
    lockstep = _needs_lockstep(kernel)
    if lockstep:
        raise Unsupported(lockstep)
    try:
        gen = KernelCode(kernel, array_dtypes, scalars)
        plain = gen.render(f"{kernel.name}_cpu")
        if not gen.access_sites:  # no shared or global access: nothing to record (and half the compile time)
            return GENERATED_HEADER + "\n\n" + plain, gen
        recording = KernelCode(kernel, array_dtypes, scalars, record=True).render(f"{kernel.name}_cpu_rec")
    except KindConflict as why:
        raise Unsupported(str(why)) from None
    return GENERATED_HEADER + "\n\n" + plain + "\n\n" + recording, gen


def _needs_lockstep(kernel: ir.Kernel) -> str:
    """Why this engine, which runs a block's lanes one after another, cannot run the kernel ("" if it can):
    shuffles read other lanes' registers in the same step; atomics queue by step (contention is depth)."""
    for s in ir.walk_stmts(kernel.body):
        for e in (n for top in ir.stmt_exprs(s) for n in ir.walk_expr(top)):
            if isinstance(e, ir.Atomic):
                return f"atomic_{e.op} at line {e.loc.line} is charged its contention per step, which needs lockstep lanes"
            if isinstance(e, ir.Call) and e.func in ir.WARP_FUNCS:
                return f"{e.func} at line {e.loc.line} reads other lanes in the same step, which needs lockstep lanes"
    return ""


def _compiled(kernel: ir.Kernel, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> tuple[Any, Any, KernelCode]:
    shape_values = tuple((n, scalars.get(n)) for n in ir.shape_params(kernel))  # literals in the source
    key = (id(kernel), tuple((n, a.dtype.str, a.ndim) for n, a in arrays.items()),
           tuple((n, isinstance(v, (float, np.floating))) for n, v in scalars.items()), shape_values)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            source, gen = render(kernel, {n: a.dtype for n, a in arrays.items()}, scalars)
            plain = _load(source, f"{kernel.name}_cpu")
            progress.note_compile(kernel.name, plain)  # a first compile takes seconds: say so (stderr, TTY)
            hit = (plain, _load(source, f"{kernel.name}_cpu_rec") if gen.access_sites else plain, gen)
            _cache[key] = hit
    return hit


def _threads() -> int:
    """Worker threads: PRAMSIM_THREADS, else the CPUs this process may use."""
    if os.environ.get("PRAMSIM_THREADS", "").isdigit() and int(os.environ["PRAMSIM_THREADS"]) > 0:
        return int(os.environ["PRAMSIM_THREADS"])
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def launch(kernel: ir.Kernel, nprocs: int, block: int, arrays: dict[str, np.ndarray], scalars: dict[str, Any],
           loc: Loc, trace: CostTrace) -> None:
    """Run one launch on the compiled engine, writing outputs in place and the costs into `trace`.

    Raises Unsupported (before anything runs) when the kernel needs the vector engine.

    Shared-memory wavefronts and global-memory sectors: block 0 and the last block run the
    recording function, which counts them exactly; they are the launch's sample, and the other
    blocks are charged their accesses at each site times the sample's wavefronts (sectors) per
    access (exact when those blocks access memory in the same pattern of banks and sectors, as do
    blocks whose indices are affine in gid(), block_id() and lane() and shifted by whole sectors
    from block to block). If some access site is reached by neither, the kernel is not
    data-oblivious (its pattern follows its data: pramsim.lang.oblivious), its blocks are not whole
    warps, or the launch has at most FEW_BLOCKS blocks, every block records.
    """
    fn, fn_rec, gen = _compiled(kernel, arrays, scalars)
    nblocks = -(-nprocs // block)
    array_args = [np.ascontiguousarray(arrays[n]) for n in gen.array_params]
    for n, a in zip(gen.array_params, array_args):
        if a is not arrays[n]:
            raise Unsupported(f"array {n!r} is not contiguous")
    scalar_args = [scalars[n] for n in gen.scalars]
    bstat = np.zeros((nblocks, 7), np.int64)
    nchunks = max(1, len(gen.chunks))

    samples = np.zeros((2, max(1, gen.access_sites), 2), np.int64)  # blocks 0 and last: (wavefronts or sectors, accesses) per site
    scope = limits.current()  # the run's deadline, checked before each chunk of blocks (worker threads lack the context)

    def run(fn: Any, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        if scope is not None and hi > lo:
            scope.check_time(None)
        runs = np.zeros(nchunks, np.int64)
        cls = np.zeros(4, np.int64)
        err = np.zeros(6, np.int64)
        diff = np.zeros(1024, np.int64)
        diff = fn(lo, hi, nprocs, block, nblocks, *array_args, *scalar_args, runs, cls, bstat, diff, err, samples, 0)
        return runs, cls, diff, err

    # A launch of few blocks records every block (exact wavefronts and sectors, no sampling), so the
    # plain function, a second numba compile of seconds, is never needed: most launches of tests and
    # small runs. So does a kernel that is not data-oblivious: its indices or branches follow its
    # data, so each block accesses memory in a pattern of its own and a sample's would be a guess.
    # And so does a launch whose blocks are not whole warps: its blocks start at different offsets
    # within a sector, so one block's sectors are not another's shifted (7-lane blocks: 80 sectors
    # sampled against 140 counted).
    sampled = block % WARP_LANES == 0 and oblivious.analyse(kernel).oblivious  # else no launch calls fn
    few = nblocks <= FEW_BLOCKS or not sampled
    try:  # compile (or load from numba's cache) before any block runs
        variants = (fn, fn_rec) if sampled and (not few or _every_variant.get()) else (fn_rec,)
        results = codecache.call_rebuilding(lambda: [run(f, 0, 0) for f in variants], fn, fn_rec)
    except Exception as exc:  # numba's typing errors: let the vector engine run it
        raise Unsupported(f"numba could not compile it ({type(exc).__name__})") from None
    results += [run(fn_rec, 0, min(1, nblocks))] + ([run(fn_rec, nblocks - 1, nblocks)] if nblocks > 1 else [])
    if nblocks == 1:
        samples[1] = samples[0]
    middle = fn if not few and np.all(samples[:, :gen.access_sites, 1].max(axis=0) > 0) else fn_rec
    # With a deadline (--max-time) the blocks come in more chunks: it is checked before each one.
    pieces = _chunks(nblocks - 2, _threads(), at_least=DEADLINE_CHUNKS if scope is not None else 1)
    chunks = [(lo + 1, hi + 1) for lo, hi in pieces]
    if len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=_threads()) as pool:
            results += list(pool.map(lambda c: run(middle, *c), chunks))
    else:
        results += [run(middle, *c) for c in chunks]
    _record(kernel, nprocs, block, arrays, gen, results, bstat, loc, trace)


def launch_classes(kernel: ir.Kernel, nprocs: int, block: int, arrays: dict[str, np.ndarray],
                   scalars: dict[str, Any], loc: Loc, trace: CostTrace, classes: list[tuple[int, int, Any]]) -> None:
    """Like `launch`, but run only one representative block per class of blocks that execute
    alike: `classes` lists (lo, hi, members): blocks lo..hi-1 run; when `members` (a slice or an
    array of block ids, lo included) is given, hi is lo + 1 and block lo stands for them all. The
    representatives record their shared-memory accesses (exact wavefronts); each class's counts
    and profile are its representative's times its size, its per-block figures copies. Exact when
    the blocks of a class do execute alike (pramsim.engines.counts decides the classes)."""
    fn, fn_rec, gen = _compiled(kernel, arrays, scalars)
    nblocks = -(-nprocs // block)
    array_args = [arrays[n] for n in gen.array_params]
    scalar_args = [scalars[n] for n in gen.scalars]
    bstat = np.zeros((nblocks, 7), np.int64)
    samples = np.zeros((2, max(1, gen.access_sites), 2), np.int64)
    nchunks = max(1, len(gen.chunks))
    scope = limits.current()

    def run(rep: int, size: int) -> tuple[np.ndarray, ...]:
        runs, cls, err = np.zeros(nchunks, np.int64), np.zeros(4, np.int64), np.zeros(6, np.int64)
        diff = fn_rec(rep, rep + size, nprocs, block, nblocks, *array_args, *scalar_args, runs, cls, bstat,
                      np.zeros(1024, np.int64), err, samples, 0)
        return runs, cls, diff, err

    try:  # compile (or load from numba's cache) before any block runs
        codecache.call_rebuilding(lambda: run(0, 0), fn, fn_rec)
    except Exception as exc:  # numba's typing errors: let the vector engine run it
        raise Unsupported(f"numba could not compile it ({type(exc).__name__})") from None
    results = []
    alike = [(lo, members) for lo, _, members in classes if members is not None]
    for rep, members in alike:  # members: a slice or an array of block ids
        if scope is not None:
            scope.check_time(None)
        runs, cls, diff, err = run(rep, 1)
        size = len(range(nblocks)[members]) if isinstance(members, slice) else len(members)
        bstat[members] = bstat[rep]
        results.append((runs * size, cls, diff * size, err))
    def run_range(lo_hi: tuple[int, int]) -> tuple[np.ndarray, ...]:
        if scope is not None:
            scope.check_time(None)
        return run(lo_hi[0], lo_hi[1] - lo_hi[0])

    ranges = [(lo + a, lo + b) for lo, hi, members in classes if members is None for a, b in _chunks(hi - lo, _threads())]
    if ranges:  # blocks that each run, spread over threads
        with ThreadPoolExecutor(max_workers=_threads()) as pool:
            results += list(pool.map(run_range, ranges))
    _record(kernel, nprocs, block, arrays, gen, results, bstat, loc, trace, value_errors=False)


def _record(kernel: ir.Kernel, nprocs: int, block: int, arrays: dict[str, np.ndarray], gen: KernelCode,
            results: list[tuple[np.ndarray, ...]], bstat: np.ndarray, loc: Loc, trace: CostTrace,
            value_errors: bool = True) -> None:
    """Add a launch to `trace` from what its blocks' runs returned (chunk run counts, class depths,
    profile difference array, error record) and their per-block figures; raise its first error."""
    nblocks = len(bstat)
    failed = [err for *_, err in results if err[0]]
    if not value_errors and any(int(err[0]) in _VALUE_ERRORS for err in failed):
        # the generated code stops a lane at its first error, so the counts are short: count elsewhere
        raise Unsupported("a check of computed values (int of NaN, division by zero, ...) failed on the stand-in "
                          "values; the vector engine counts without such checks")
    if failed:  # the lowest processor (or block) that failed, as the vector engine reports it
        raise _error(gen, min(failed, key=lambda err: err[2]), block, arrays)
    runs = sum(r[0] for r in results)
    cls = np.max([r[1] for r in results], axis=0)
    size = max(len(r[2]) for r in results)
    diff = sum(np.pad(r[2], (0, size - len(r[2]))) for r in results)
    depth = int(bstat[:, 1].max()) if nblocks else 0
    profile = np.cumsum(diff)[1:depth + 1].astype(np.int64)
    totals: Counter = Counter()
    for n, chunk in zip(runs, gen.chunks):
        if n:
            for key, amount in chunk.items():
                totals[key] += int(n) * amount
    work = totals["st"]
    if int(profile.sum()) != work or int(bstat[:, 0].sum()) != work:
        raise PramsimError(f"internal accounting error in the compiled launch of {kernel.name}: profile "
                           f"{int(profile.sum())}, blocks {int(bstat[:, 0].sum())}, work {work}")
    sram_arrays = {n: int(np.prod(gen.alloc_shapes[n])) * np.dtype(s.dtype).itemsize
                   for n, s in gen.allocs.items() if s.space == "shared"}
    counts, moved = Counter(), Counter()   # the launch's ledgers: (category, op) and (level, direction)
    for key, amount in totals.items():
        if isinstance(key, tuple) and amount and key[0] not in ("site", "divide"):
            if key[0] == "bytes":
                moved[key[1:]] += amount
            else:
                counts[key] += amount
    trace.add(LaunchTrace(
        kernel=kernel.name, loc=loc, nprocs=nprocs, block=block, work=work, depth=depth, profile=profile,
        block_work=bstat[:, 0].copy(), block_depth=bstat[:, 1].copy(), block_hbm_bytes=bstat[:, 2].copy(),
        block_flops=bstat[:, 3].copy(), sram_per_block=sum(sram_arrays.values()), barriers=int(cls[3]),
        block_sram_bytes=bstat[:, 4].copy(), sram_arrays=sram_arrays, block_sram_wavefronts=bstat[:, 5].copy(),
        block_hbm_sectors=bstat[:, 6].copy(),
        class_depth={c: int(cls[i]) for i, c in enumerate(("flop", "hbm", "sram"))},
        runtime_divides=totals[("divide", "runtime")], counts=counts, bytes=moved,
        **footprints(kernel, {n: arrays[n] for n in gen.array_params})))


def _chunks(nblocks: int, threads: int, at_least: int = 1) -> list[tuple[int, int]]:
    """Contiguous block ranges, a few per thread so that uneven blocks still balance (and at
    least `at_least` of them where there are that many blocks)."""
    n = min(nblocks, max(threads * 4 if threads > 1 else 1, at_least))
    edges = np.linspace(0, nblocks, n + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _error(gen: KernelCode, err: np.ndarray, block: int, arrays: dict[str, np.ndarray]) -> ExecutionError:
    """The first error a launch recorded, as the vector engine reports it (pramsim.lang.ops.ERRORS)."""
    kind, site, who = (int(x) for x in err[:3])
    _, loc, info = gen.sites[site]
    name = ops.ERROR_BY_CODE[kind]
    if name == "out_of_bounds":
        shape = arrays[info].shape if info in arrays else gen.alloc_shapes[info]
        return ops.error(name, loc, index=ops.index_text(int(err[4]), int(err[3]), len(shape)), array=info,
                         shape=tuple(shape), where=ops.where(who, block))
    if name == "divergent_barrier":
        exc = ops.error(name, loc, block=who)
        exc.hint += ("; the compiled engine checks this statically (--engine vector allows it where no lane "
                     "reaches the barrier)")
        return exc
    return ops.error(name, loc, expr=ir.format_expr(info) if info is not None else "", limit=MAX_ITERATIONS,
                     where=ops.where(who, block))
