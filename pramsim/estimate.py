"""Estimate how long a run will take, before it starts, from cheap probe runs at smaller sizes.

The probes run the program itself, through the caller's `probe` function (so with whatever engine
the caller uses), at parameters shrunk from the target: the largest parameter of the declared work
and depth forms is halved, again and again (n = 1024, d = 64 gives n = 512, 256, 128, 64, then
n and d in turn), which keeps the probes' shape close to the target's; the program's sweep points
and defaults are a fallback. Sizes the program refuses (a `require` fails) are skipped; any other
failure (an error, a probe over --max-memory or stopped at its own time limit: pramsim.runner)
ends probing rather than trying every other size: with no estimate if it was the first size, else
from the probes made. The first
probe is the smallest accepted size; each next one is the largest that the previous one, scaled
by the larger of the two form ratios (an upper bound), says fits in half the probe budget left.

Wall time is modelled as T ≈ α·D + β·W: D (the depth) is about the number of vector statements
the executor interprets, W (the work) about the elements they touch. α, β ≥ 0 are fitted to the
last three probes, and W and D at the target are the largest probe's scaled by the declared Θ
forms. When the probes are all dominated by per-statement overhead (β·W under a quarter of the
largest probe's time) while the target has many more elements per statement, the program's β is
not measured: then β is taken from a calibration probe (2^16 processors looping over gathers and
flops, run the same way, so with the same engine), and the estimate comes with a range, from the
fit (overhead only) to the largest probe's time scaled by the work ratio (everything per element).
When the budget allows a single probe (a slow program), the same holds with α = its time / D.
A fitted β above 8 times the calibration kernel's is taken for timing noise of tiny probes (a
loaded machine) and held to that cap.

Limits: the forms are Θ forms, so constants and lower-order terms come from the largest probe;
cost per element grows at sizes that leave the CPU caches, which probes of a fraction of a second
do not reach, so long runs tend to be underestimated (docs/testing.md gives measured ratios). No
estimate is made without a declared work form, or when nothing smaller than the target runs.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable


from . import bounds
from .errors import PramsimError, RequirementError

if TYPE_CHECKING:  # the estimator runs programs only through the caller's probe; it needs no DSL
    from .dsl import Program

PROBE_BUDGET_S = 0.5   # wall time the probes together aim to stay under (the first always runs)
MAX_PROBES = 8
IDENTIFIED_SHARE = 0.25  # β·W must be this share of the largest probe's time for β to count as measured
BETA_CAP = 8  # β at most this many times the calibration kernel's (measured 0.5-4.2x on the shipped programs)

Params = dict[str, int]
Form = Callable[[Params], float]


@dataclass(frozen=True)
class Probe:
    params: Params
    wall_s: float
    work: int
    depth: int


@dataclass
class Estimate:
    """seconds is None when no estimate could be made; `reason` says how it was made, or why not.

    low/high bound the estimate when the probes could not separate per-statement from
    per-element cost (otherwise both equal seconds)."""

    seconds: float | None
    reason: str
    probes: list[Probe] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    upper_bound: bool = False   # seconds is only an upper bound (already under the limit)

    def describe(self) -> str:
        if self.seconds is None:
            return f"time estimate: none ({self.reason})"
        if self.upper_bound:
            return f"time estimate: under {format_seconds(self.seconds)} ({self.reason})"
        if self.low is not None and self.high is not None and self.high > 1.5 * self.low:
            return (f"time estimate: about {format_seconds(self.seconds)}, between {format_seconds(self.low)} "
                    f"and {format_seconds(self.high)} ({self.reason})")
        return f"time estimate: about {format_seconds(self.seconds)} ({self.reason})"


ProbeFn = Callable[["Program", Params], Probe]


def estimate_time(program: Program, targets: list[Params], probe: ProbeFn,
                  limit_s: float, budget_s: float = PROBE_BUDGET_S, calibration: Program | None = None) -> Estimate:
    """Estimate the total wall time of running `program` once at each parameter set in `targets`.

    `calibration` is the program whose run gives the engine's cost per operation when the probes
    cannot (pramsim/calibration.py; without one such an estimate is the middle of its range).

    `probe(program, params)` runs a program at (small) params the way the real run will, and
    returns its wall time, W and D; it raises RequirementError for params the program's `require`
    refuses (that size is skipped), any other PramsimError when the run fails (probing stops: no
    estimate, and the reason says which probe failed and how). Probing stops early once an upper
    bound of the estimate is under `limit_s`.
    """
    if not program.work:
        return Estimate(None, "the program declares no work form (work=...) to extrapolate with")
    try:
        work_f = _form(program.work)
        depth_f = _form(program.depth) if program.depth else (lambda params: 1.0)
        big = max(targets, key=work_f)
        shrunk, fallback = _candidates(program, big, work_f, depth_f)
    except PramsimError as exc:
        return Estimate(None, f"the declared forms cannot be evaluated here: {exc.message}")
    if not shrunk and not fallback:
        return Estimate(None, "the run is as small as any probe would be")

    try:
        return _probe_and_fit(program, targets, probe, limit_s, budget_s, work_f, depth_f, shrunk, fallback,
                              calibration)
    except _ProbeFailed as failed:
        return Estimate(None, f"a probe run at {_at(failed.params)} failed, so probing stopped there "
                              f"({failed.error.kind}: {failed.error.message})")


class _ProbeFailed(Exception):
    """A probe raised an error other than a `require` refusing its size: probing stops at once
    (a program that fails or hangs would fail at every size, each after its time limit). If the
    first size already failed there is no estimate; otherwise the probes made so far give it."""

    def __init__(self, params: Params, error: PramsimError):
        super().__init__(error.message)
        self.params = params
        self.error = error


def _probe_and_fit(program: Program, targets: list[Params], probe: ProbeFn, limit_s: float, budget_s: float,
                   work_f: Form, depth_f: Form, shrunk: list[Params], fallback: list[Params],
                   calibration: Program | None) -> Estimate:
    """estimate_time's probing and fitting, once the forms and candidate sizes are known."""
    def run(params: Params) -> Probe:
        try:
            return probe(program, params)
        except RequirementError:
            raise
        except PramsimError as exc:
            raise _ProbeFailed(params, exc) from None

    start = time.perf_counter()
    probes: list[Probe] = []
    candidates: list[Params] = []
    for group in (shrunk, fallback):
        pilot = _pilot(group, run)
        if pilot is not None:
            probes.append(pilot)
            candidates = group
            break
    if not probes:
        return Estimate(None, "the program refused every smaller size tried as a probe")

    def bound(last: Probe, ts: list[Params]) -> float:
        """The last probe's time scaled by the larger form ratio: above α·D + β·W for any α, β ≥ 0."""
        return sum(last.wall_s * max(_ratio(work_f, t, last.params), _ratio(depth_f, t, last.params), 1.0)
                   for t in ts)

    while len(probes) < MAX_PROBES:
        last = probes[-1]
        if bound(last, targets) <= limit_s:
            break
        room = budget_s - (time.perf_counter() - start)
        fits = [c for c in candidates if work_f(c) > work_f(last.params) and bound(last, [c]) <= room / 2]
        for c in reversed(fits):  # the largest that fits; a refused size falls back to the next smaller
            try:
                probes.append(run(c))
                break
            except RequirementError:
                candidates.remove(c)
            except _ProbeFailed:  # e.g. this size is over --max-memory: estimate from the probes made
                break
        if probes[-1] is last:
            break

    anchor = probes[-1]
    if bound(anchor, targets) <= limit_s:
        # no need to know better: even the upper bound is under the limit
        return Estimate(bound(anchor, targets), _how(program, probes, "an upper bound: the largest probe scaled "
                                                                     "by the larger form ratio"), probes,
                        upper_bound=True)
    w_t = sum(anchor.work * _ratio(work_f, t, anchor.params) for t in targets)
    d_t = sum(anchor.depth * _ratio(depth_f, t, anchor.params) for t in targets)
    per_element = anchor.wall_s * w_t / anchor.work      # all of the probe's time charged to its work
    if len(probes) >= 2:
        alpha, beta = _fit(probes[-3:])
        fitted = alpha * d_t + beta * w_t
        denser = (w_t / max(d_t, 1)) > 2 * (anchor.work / max(anchor.depth, 1))
        if beta * anchor.work >= IDENTIFIED_SHARE * anchor.wall_s or not denser:
            return _checked_fit(program, probes, probe, alpha, beta, d_t, w_t, calibration)
        why = "the probes are dominated by per-statement overhead"
    else:  # the budget allowed one probe: all of its time charged to its statements, then per element
        alpha = anchor.wall_s / max(anchor.depth, 1)
        fitted = alpha * d_t
        why = "one probe (the budget allowed no more)"
    low, high = min(fitted, per_element), max(fitted, per_element)
    try:
        cal = calibrate(probe, calibration)
    except PramsimError as exc:  # e.g. over --max-memory: the middle of the range, said so
        return Estimate(math.sqrt(low * high), _how(
            program, probes, f"{why} and the calibration kernel failed ({exc.message}): the geometric middle "
                             f"of the range"), probes, low, high)
    point = min(max(alpha * d_t + cal * w_t, low), high)
    return Estimate(point, _how(program, probes, f"{why}, so the cost per operation is the calibration "
                                                 f"kernel's ({cal * 1e9:.1f} ns)"), probes, low, high)


def _checked_fit(program: Program, probes: list[Probe], probe: ProbeFn, alpha: float, beta: float,
                 d_t: float, w_t: float, calibration: Program | None) -> Estimate:
    """The fitted α·D + β·W, with β held to at most BETA_CAP times the calibration kernel's cost per
    operation: on a loaded machine the noise of a few tiny probes can pass for a large β, which the
    extrapolation to the target multiplies by thousands."""
    fitted = alpha * d_t + beta * w_t
    try:
        cal = calibrate(probe, calibration)
    except PramsimError:
        return Estimate(fitted, _how(program, probes, "α·D + β·W fitted to the probes"), probes, fitted, fitted)
    if beta <= BETA_CAP * cal:
        return Estimate(fitted, _how(program, probes, "α·D + β·W fitted to the probes"), probes, fitted, fitted)
    beta = BETA_CAP * cal
    alpha = max(sum(max(p.wall_s - beta * p.work, 0.0) / max(p.depth, 1) for p in probes[-3:]) / len(probes[-3:]), 0.0)
    capped = alpha * d_t + beta * w_t
    return Estimate(capped, _how(program, probes, f"α·D + β·W fitted to the probes, β held to {BETA_CAP}× the "
                                                  f"calibration kernel's cost per operation (the probes are "
                                                  f"too small or noisy to measure it)"), probes, capped, fitted)


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


def _ratio(f: Form, target: Params, probe: Params) -> float:
    return f(target) / f(probe)


def _pilot(candidates: list[Params], probe: Callable[[Params], Probe]) -> Probe | None:
    """The smallest candidate the program accepts (and does some work at), run twice: the faster
    run, since the first pays one-time costs (imports, caches)."""
    for c in candidates:
        try:
            first = probe(c)
            if first.work == 0:
                continue
            again = probe(c)
        except RequirementError:  # a size the program's `require` refuses: the next one
            continue
        return min(first, again, key=lambda p: p.wall_s)
    return None


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


def _fit(probes: list[Probe]) -> tuple[float, float]:
    """α, β ≥ 0 minimising the relative error of α·D + β·W against the probes' wall times."""
    rows = [(p.depth / p.wall_s, p.work / p.wall_s) for p in probes]  # each row divided by its T
    best = None
    for alpha, beta in _one_term(rows) + _two_term(rows):
        err = sum((alpha * d + beta * w - 1.0) ** 2 for d, w in rows)
        if best is None or err < best[0]:
            best = (err, alpha, beta)
    return (best[1], best[2]) if best else (0.0, probes[-1].wall_s / max(probes[-1].work, 1))


def _one_term(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for i in (0, 1):
        s2 = sum(r[i] ** 2 for r in rows)
        if s2 > 0:
            c = sum(r[i] for r in rows) / s2
            out.append((c, 0.0) if i == 0 else (0.0, c))
    return out


def _two_term(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The unconstrained least-squares solution, when both coefficients come out non-negative."""
    a11 = sum(d * d for d, _ in rows)
    a12 = sum(d * w for d, w in rows)
    a22 = sum(w * w for _, w in rows)
    b1 = sum(d for d, _ in rows)
    b2 = sum(w for _, w in rows)
    det = a11 * a22 - a12 * a12
    if len(rows) < 2 or abs(det) <= 1e-12 * max(a11 * a22, 1e-300):
        return []
    alpha = (b1 * a22 - b2 * a12) / det
    beta = (a11 * b2 - a12 * b1) / det
    return [(alpha, beta)] if alpha >= 0 and beta >= 0 and math.isfinite(alpha + beta) else []


def _at(params: Params) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _how(program: Program, probes: list[Probe], method: str) -> str:
    last = probes[-1]
    at = _at(last.params)
    forms = f"W = Θ({program.work})" + (f", D = Θ({program.depth})" if program.depth else "")
    return (f"{len(probes)} probe run{'s' * (len(probes) != 1)}, the largest at {at} in "
            f"{format_seconds(last.wall_s)}; {method}; {forms}")


def calibrate(probe: ProbeFn, calibration: Program | None) -> float:
    """Seconds per unit of work of the engine `probe` runs programs with (the faster of two runs of
    the caller's `calibration` program: pramsim/calibration.py for the runner)."""
    if calibration is None:
        raise PramsimError("no calibration program was given")
    runs = [probe(calibration, dict(calibration.params)) for _ in range(2)]
    best = min(runs, key=lambda p: p.wall_s)
    return best.wall_s / best.work
