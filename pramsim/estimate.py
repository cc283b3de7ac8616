"""Estimate how long a run will take, before it starts, from counts rather than timings.

1. *Counts at small sizes.* The program runs at sizes shrunk from the target (the largest
   parameter of the declared work and depth forms halved again and again: n = 1024, d = 64 gives
   n = 512, 256, 128, 64, then n and d in turn; the program's sweep points and defaults are a
   fallback) on the vector engine, through the caller's `count` function. Sizes the program
   refuses (a `require` fails) are skipped; any other failure ends probing. These runs are not
   timed: their counts (W, D, launches) are exact and the same on any machine at any load, so
   the estimate is too. Each next size is the largest whose predicted time (below) fits in what
   is left of PROBE_BUDGET_S. A failure at the first size leaves no estimate; at a later size
   (over --max-memory, say) the estimate comes from the sizes counted before it.
2. *Counts at the target.* W (and its memory accesses) and D of the largest counting run scaled
   by the declared Θ forms; launches by the depth form (each launch adds to D, so launches grow no
   faster than D does); blocks by W / D.
3. *Seconds from counts.* T = step_s·D + op_s·W_arith + memory_s·W_mem + launch_s·L + block_s·B
   (B: blocks the GPU model simulates, on GPU profiles) with one set of constants per way of
   running (COSTS: the vector engine, the compiled engine, a `check` point), fitted by
   `scripts/bench_estimate.py --fit` on this project's 2-core machines; docs/benchmarks.md gives
   the fit and the accuracy on cases it was not fitted to.
4. *A range, not a point.* The estimate spans [T / SPREAD, T · SPREAD]; a run is refused only when
   even the low end is over the limit, so a slower or busier machine than the one the constants
   were fitted on never refuses a run that would finish in time.

Compiling is not estimated: the compiled engine compiles its kernels after the estimate, before
the run (pramsim.runner; stderr says so when it takes long: pramsim.compiling), and the time it
took is reported apart.

Limits: the forms are Θ forms, so constants and lower-order terms come from the largest counting
run; cost per element grows at sizes that leave the CPU caches; a machine several times slower
than the fitting machine is underestimated (by the factor; SPREAD covers up to 3x). No estimate is
made without a declared work form, or when nothing smaller than the target runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import bounds
from .errors import PramsimError, RequirementError

if TYPE_CHECKING:  # the estimator runs programs only through the caller's count function
    from .dsl import Program

PROBE_BUDGET_S = 0.5   # predicted seconds the counting runs together may take
MAX_PROBES = 6
SPREAD = 3.0           # the estimate's range: [T / SPREAD, T * SPREAD]

Params = dict[str, int]
Form = Callable[[Params], float]


@dataclass(frozen=True)
class EngineCost:
    """Seconds per step of depth, per operation (memory accesses apart: a gather costs NumPy more
    than an addition), per launch and per block the GPU model simulates, of one way of running."""

    step_s: float
    op_s: float
    launch_s: float
    memory_s: float = 0.0
    block_s: float = 0.0

    def seconds(self, work: float, depth: float, launches: float, memory: float = 0.0, blocks: float = 0.0) -> float:
        """`memory`: the accesses among the `work` operations; `blocks`: those a GPU model simulates."""
        return (self.step_s * depth + self.op_s * (work - memory) + self.memory_s * memory
                + self.launch_s * launches + self.block_s * blocks)


# Fitted by `python scripts/bench_estimate.py --fit` (docs/benchmarks.md, "Time estimate") to the
# warm runs of the benchmark's even-numbered cases on this project's 2-core machine, least squares
# on the relative error with non-negative constants; the odd-numbered cases are out of sample. A
# zero means the fit found no measurable cost of that kind (the compiled engine's time per
# operation hides in its per-launch and per-step terms at the sizes measured).
COSTS = {
    "vector": EngineCost(step_s=9.4e-06, op_s=8.9e-10, launch_s=3.5e-04, memory_s=1.8e-08, block_s=4.3e-04),
    "compiled": EngineCost(step_s=0.0, op_s=0.0, launch_s=1.7e-02, memory_s=2.5e-09, block_s=8.0e-05),
    "check": EngineCost(step_s=3.7e-05, op_s=0.0, launch_s=0.0, memory_s=3.5e-08),
}


@dataclass(frozen=True)
class Counts:
    """What one counting run measured: exact, whatever the machine's speed or load. `memory`: the
    loads, stores and atomics among the work; `blocks`: the blocks of its launches when the machine
    is a GPU profile (the GPU model simulates each), else 0; `widest`: the blocks of its largest
    launch, whatever the machine."""

    params: Params
    work: int
    depth: int
    launches: int
    memory: int = 0
    blocks: int = 0
    widest: int = 0  # blocks of its largest launch (on any machine)

    def seconds(self, cost: EngineCost) -> float:
        return cost.seconds(self.work, self.depth, self.launches, self.memory, self.blocks)


@dataclass
class Estimate:
    """seconds is None when no estimate could be made; `reason` says how it was made, or why not.
    low/high bound it (SPREAD either way); compile_s is the compiling done before the run, if any."""

    seconds: float | None
    reason: str
    probes: list[Counts] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    compile_s: float = 0.0
    at_target: tuple[float, ...] = ()  # (W, D, launches, memory accesses, blocks) summed over the targets

    def describe(self) -> str:
        compiled = (f"; compiling took {format_seconds(self.compile_s)} before the run (once: later runs load "
                    f"the kernels from the cache)" if self.compile_s >= 0.5 else "")
        if self.seconds is None:
            return f"time estimate: none ({self.reason}){compiled}"
        return (f"time estimate: about {format_seconds(self.seconds)}, between {format_seconds(self.low or 0)} "
                f"and {format_seconds(self.high or 0)} ({self.reason}){compiled}")

    def refuses(self, limit_s: float) -> bool:
        """Whether even the low end of the range is over `limit_s`."""
        return self.low is not None and self.low > limit_s


CountFn = Callable[["Program", Params], Counts]


def estimate_time(program: Program, targets: list[Params], count: CountFn, cost: EngineCost,
                  budget_s: float = PROBE_BUDGET_S) -> Estimate:
    """Estimate the total time of running `program` once at each parameter set in `targets`, the
    way `cost` describes.

    `count(program, params)` runs the program at (small) params and returns its counts; it raises
    RequirementError for params the program's `require` refuses (that size is skipped), any other
    PramsimError when the run fails (probing stops: with no estimate if it was the first size).
    """
    if not program.work:
        return Estimate(None, "the program declares no work form (work=...) to extrapolate with")
    if not targets:
        return Estimate(None, "there is nothing to run")
    try:
        work_f = _form(program.work)
        depth_f = _form(program.depth) if program.depth else (lambda params: 1.0)
        big = max(targets, key=work_f)
        shrunk, fallback = _candidates(program, big, work_f, depth_f)
    except PramsimError as exc:
        return Estimate(None, f"the declared forms cannot be evaluated here: {exc.message}")
    if not shrunk and not fallback:
        return Estimate(None, "the run is as small as any counting run would be")
    try:
        # the counting runs are on the vector engine, so their budget is priced at its costs
        probes = _probe(program, count, COSTS["vector"], budget_s, work_f, depth_f, shrunk, fallback)
    except _ProbeFailed as failed:
        return Estimate(None, f"a counting run at {_at(failed.params)} failed, so the estimate stopped there "
                              f"({failed.error.kind}: {failed.error.message})")
    if not probes:
        return Estimate(None, "the program refused every smaller size tried as a counting run")
    anchor = probes[-1]
    scaled = [_scaled(anchor, t, work_f, depth_f) for t in targets]
    at_target = tuple(sum(column) for column in zip(*scaled))
    total = sum(cost.seconds(*s) for s in scaled)
    forms = f"W = Θ({program.work})" + (f", D = Θ({program.depth})" if program.depth else "")
    reason = (f"from counts: {len(probes)} counting run{'s' * (len(probes) != 1)} up to {_at(anchor.params)}, "
              f"scaled by {forms}")
    return Estimate(total, reason, probes, total / SPREAD, total * SPREAD, at_target=at_target)


class _ProbeFailed(Exception):
    """A counting run raised an error other than a `require` refusing its size: probing stops."""

    def __init__(self, params: Params, error: PramsimError):
        super().__init__(error.message)
        self.params = params
        self.error = error


def _probe(program: Program, count: CountFn, cost: EngineCost, budget_s: float, work_f: Form, depth_f: Form,
           shrunk: list[Params], fallback: list[Params]) -> list[Counts]:
    """The counting runs: the smallest size the program accepts, then each time the largest whose
    predicted time fits in what is left of the budget (a size refused falls back to the next smaller)."""
    def run(params: Params) -> Counts:
        try:
            return count(program, params)
        except RequirementError:
            raise
        except PramsimError as exc:
            raise _ProbeFailed(params, exc) from None

    probes: list[Counts] = []
    for group in (shrunk, fallback):
        for c in group:
            try:
                first = run(c)
            except RequirementError:
                continue
            if first.work > 0:
                probes, candidates = [first], list(group)
                break
        if probes:
            break
    if not probes:
        return []
    spent = probes[0].seconds(cost)
    while len(probes) < MAX_PROBES:
        last = probes[-1]
        fits = [c for c in candidates if work_f(c) > work_f(last.params)
                and spent + cost.seconds(*_scaled(last, c, work_f, depth_f)) <= budget_s]
        for c in reversed(fits):
            try:
                probes.append(run(c))
                spent += probes[-1].seconds(cost)
                break
            except RequirementError:
                candidates.remove(c)
            except _ProbeFailed:  # e.g. this size is over --max-memory: estimate from the runs made
                return probes
        if probes[-1] is last:
            break
    return probes


def _scaled(anchor: Counts, target: Params, work_f: Form, depth_f: Form) -> tuple[float, ...]:
    """(W, D, launches, memory accesses, blocks) at `target` from the counts at `anchor`, by the
    declared forms: launches as the depth (each adds to D, so they grow no faster), blocks as the
    work per step (W / D: about the processors at once)."""
    work_ratio = work_f(target) / work_f(anchor.params)
    depth_ratio = max(depth_f(target), 0.0) / depth_f(anchor.params)  # 0 at a point such as log n at n = 1
    depth = anchor.depth * depth_ratio
    return (anchor.work * work_ratio, depth, min(anchor.launches * depth_ratio, depth), anchor.memory * work_ratio,
            anchor.blocks * max(work_ratio / depth_ratio, 1.0) if depth_ratio > 0 else anchor.blocks)


def widest_at_target(estimate: Estimate) -> float:
    """The blocks of the largest launch at the (single) target: the largest counting run's,
    scaled as blocks are (by W / D)."""
    anchor = estimate.probes[-1]
    work, depth = estimate.at_target[:2]
    return anchor.widest * max((work / max(depth, 1)) / (anchor.work / max(anchor.depth, 1)), 1.0)


def format_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{s:,.0f} s ({s / 60:.0f} min)"
    return f"{s:,.0f} s ({s / 3600:.1f} h)"


# ---- helpers -------------------------------------------------------------------------------------


def _form(form: str) -> Form:
    expr = bounds.theta_to_python(form)
    return lambda params: bounds.evaluate(expr, params)


def _candidates(program: Program, target: Params, work_f: Form, depth_f: Form) -> tuple[list[Params], list[Params]]:
    """(sizes shrunk from `target`, the program's sweep points and defaults), each smaller than the
    target by the work form, smallest first."""
    names = [n for n in program.params if _uses(program.work, n) or (program.depth and _uses(program.depth, n))]
    shrunk, c = [], dict(target)
    while names and max(c[n] for n in names) > 1:
        v = max(names, key=lambda n: c[n])
        c = {**c, v: c[v] // 2}
        shrunk.append(c)
    others = [dict(program.params)]
    if program.sweep:
        others += [{**program.params, **dict(zip(program.sweep, v))} for v in zip(*program.sweep.values())]
    limit = work_f(target)

    def usable(cs: list[Params]) -> list[Params]:
        seen, out = set(), []
        for c in cs:
            key = tuple(sorted(c.items()))
            # a form that is 0 at a size (log n at n = 1) gives no ratio to scale by
            if key not in seen and 0 < work_f(c) < limit and depth_f(c) > 0:
                seen.add(key)
                out.append(c)
        return sorted(out, key=lambda c: (work_f(c), depth_f(c)))
    return usable(shrunk), usable(others)


def _uses(form: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", form) is not None


def _at(params: Params) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())
