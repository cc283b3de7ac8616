"""Running a program end to end: parameters, inputs, executor, reference check, machine, Brent.

`run_program` is what `pramsim run` does; `check_program` is what `pramsim check` does.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import bounds, compiling, faults, limits, progress
from .cost import CostTrace
from .dsl import Program, defined_at, format_range
from .errors import (BrentViolation, LimitExceeded, MachineError, ParameterError, PramsimError, ProgramError,
                     ResourceError)
from .estimate import COSTS, Counts, Estimate, estimate_time, format_seconds, widest_at_target
from .engines.counts import CountsBackend, StandInRNG
from .engines.vector import DEFAULT_MEMORY_LIMIT, Executor
from .lang import ir, oblivious
from .machine import MachineSpec, Schedule, simulate
from .machine.schedule import Brent
from .programs import kernels_of
from .runtime import DeviceArray, use_backend


MAX_INT = 2**63 - 1  # the largest parameter or processor count: the engines index and count in int64
COUNTS_ONLY = "counts only: outputs not computed, not checked against the reference"


def parse_params(program: Program, assignments: list[str] | tuple[str, ...]) -> dict[str, int]:
    """['n=1024', 'd=64'] -> program defaults updated; every value an integer in the parameter's range
    (Program.param_range: >= 1 unless the program declares otherwise), each name once. A text
    parameter (one whose default is a string, e.g. graph="random") takes the text as given."""
    params = dict(program.params)
    given: dict[str, str] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"parameter {item!r} is not of the form name=value",
                               hint=f"e.g. {next(iter(program.params), 'n')}=1024")
        if name not in program.params:
            raise ParameterError(f"{program.name} has no parameter {name!r}",
                               hint=f"its parameters are: {', '.join(f'{k}={v}' for k, v in program.params.items())}")
        if name in given:
            raise ParameterError(f"parameter {name} is given twice ({name}={given[name]} and {item.strip()})",
                                 hint=f"give {name} once")
        given[name] = text
        params[name] = parse_value(program, name, text)
    return params


def parse_value(program: Program, name: str, text: str) -> Any:
    """The value of parameter `name` from its command-line text: an integer in its range, or, for
    a text parameter, the text itself (not empty)."""
    if isinstance(program.params[name], str):
        if not text.strip():
            raise ParameterError(f"parameter {name} is empty", hint=f"e.g. {name}={program.params[name]}")
        return text.strip()
    return check_range(program, name, parse_int(name, text))


def parse_int(name: str, text: str) -> int:
    """The integer in `text` ('1024', '1_024', '0x400', '2**10') of parameter `name`, any sign, at most
    MAX_INT in size (a usage error otherwise)."""
    try:
        if text.strip().lower().startswith("2**"):
            exponent = int(text.strip()[3:])
            if exponent < 0:  # 2**-1 is no integer: not 0 in silence
                raise ValueError
            # checked before computing it: 2**100000000 would take seconds and overflow later
            value = 2 ** exponent if exponent <= 63 else MAX_INT + 1
        else:
            value = int(text.replace("_", ""), 0)
    except ValueError:
        raise ParameterError(f"parameter {name}={_short(text)!r} is not an integer", hint=f"e.g. {name}=1024 or {name}=2**10") from None
    if abs(value) > MAX_INT:
        raise ParameterError(f"parameter {name}={_short(text.strip())} is too large: at most 2**63 - 1",
                             hint="pramsim counts in 64-bit integers; sizes that large would not fit in memory anyway")
    return value


def parse_positive_int(name: str, text: str) -> int:
    """parse_int, refusing values below 1 (the ends and factor of a sweep's geometric range)."""
    value = parse_int(name, text)
    if value < 1:
        raise ParameterError(f"parameter {name}={value} must be at least 1")
    return value


def check_range(program: Program, name: str, value: int) -> int:
    """`value` if it lies in the range `program` allows for parameter `name`, else a ParameterError naming it."""
    low, high = program.param_range(name)
    if value < low or (high is not None and value > high):
        allowed = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ParameterError(f"parameter {name}={value} must be {allowed} ({program.name}'s range for {name}: "
                             f"{format_range(low, high)})", hint="`pramsim list` shows every program's parameter ranges")
    return value


def _short(text: str, width: int = 40) -> str:
    """A long command-line value cut for a message."""
    return text if len(text) <= width else f"{text[:width // 2]}...{text[-8:]} ({len(text)} characters)"


@dataclass
class Comparison:
    correct: bool | None  # None: not compared (--counts-only)
    max_rel_error: float
    message: str


@dataclass
class RunResult:
    program: Program
    params: dict[str, int]
    machine: MachineSpec
    seed: int
    trace: CostTrace
    schedule: Schedule
    brent: Brent
    comparison: Comparison
    output: np.ndarray
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)
    estimate: Estimate | None = None   # the time estimate made before the run (max_time given)
    engine: str = "vector"             # how launches ran (executor.ENGINES)
    notes: list[str] = field(default_factory=list)  # kernels the compiled engine handed back, and why

    @property
    def p(self) -> int:
        return self.schedule.p

    @property
    def speedup(self) -> float:
        """W / T_p."""
        return self.trace.work / max(self.schedule.steps, 1)

    @property
    def efficiency(self) -> float:
        """W / (p T_p): the share of the p processors' steps that did work."""
        return self.trace.work / max(self.p * self.schedule.steps, 1)


def make_inputs(program: Program, params: dict[str, int], seed: int, counts_only: bool = False) -> dict[str, np.ndarray]:
    """The program's inputs; with `counts_only`, stand-in arrays of their shapes (no memory, no values)."""
    rng = StandInRNG(seed) if counts_only else np.random.default_rng(seed)
    inputs = call_user(program.inputs, rng, **params)
    if not isinstance(inputs, dict):
        raise ProgramError(f"{program.name}: inputs(...) must return a dict of arrays, got {type(inputs).__name__}")
    for name, value in inputs.items():
        if not _numeric(value):
            raise ProgramError(f"inputs(...) of {program.name} gave {name!r} as {_describe(value)}; kernels compute on "
                               f"real and integer arrays", loc=defined_at(program.inputs),
                               hint="give a float or integer array (e.g. .astype(np.float32)); for complex numbers, "
                                    "pass the real and imaginary parts as two arrays")
    return inputs


def execute(program: Program, params: dict[str, int], inputs: dict[str, np.ndarray], backend: Any) -> np.ndarray:
    """Run the host program on `backend`; return its result on the host."""
    with use_backend(backend):
        device = {name: backend.array(np.asarray(v), name) for name, v in inputs.items()}
        result = call_user(program.host, **device, **params)
        if not isinstance(result, DeviceArray):
            raise ProgramError(f"{program.name} returned {type(result).__name__}; a program returns a device array",
                               hint="return one of its arrays, or a slice of one (e.g. `return a[:1]`)")
        return backend.to_host(result)


def reference_output(program: Program, params: dict[str, int], inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The reference's result: a real or integer array (or number), else a ProgramError at its `def`."""
    copies = {k: np.array(v, copy=True) for k, v in inputs.items()}
    expected = call_user(program.reference, **copies, **params)
    if not _numeric(expected):
        raise ProgramError(f"the reference of {program.name} returned {_describe(expected)}, not the expected result",
                           loc=defined_at(program.reference),
                           hint="return a float or integer NumPy array or number (a function that ends without "
                                "`return` returns None); compare complex results as their real and imaginary parts")
    return np.asarray(expected)


def _numeric(value: Any) -> bool:
    """Whether `value` is a real or integer (or bool) array or number, as compare() reads them."""
    try:
        return value is not None and np.asarray(value).dtype.kind in "biuf"
    except (ValueError, TypeError):  # a ragged list
        return False


def _describe(value: Any) -> str:
    """'None', 'a complex64 array', 'a str ('abc')': what a program's function gave, for a message."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array"
    return f"a {type(value).__name__} ({_short(repr(value))})"


def compare(output: np.ndarray, expected: np.ndarray, rtol: float) -> Comparison:
    """Normwise relative error max|out - ref| / max|ref|; NaN or infinity the reference lacks fails."""
    if output.size != expected.size:
        return Comparison(False, float("inf"), f"result has shape {output.shape}, reference {expected.shape}")
    out = output.reshape(expected.shape).astype(np.float64)
    ref = expected.astype(np.float64)
    bad = ~np.isfinite(out) & np.isfinite(ref)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), ref.shape)
        return Comparison(False, float("inf"),
                          f"result has {int(bad.sum())} NaN/infinite values where the reference is finite "
                          f"(first at index {tuple(int(x) for x in i)}: {out[i]} vs {ref[i]})")
    scale = max(float(np.max(np.abs(ref), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(out - ref), initial=0.0)) / scale
    if err <= rtol:
        return Comparison(True, err, f"matches the NumPy reference (max rel. error {err:.1e}, tolerance {rtol:.0e})")
    i = np.unravel_index(int(np.argmax(np.abs(out - ref))), ref.shape)
    return Comparison(False, err, f"differs from the NumPy reference: max rel. error {err:.2e} > {rtol:.0e} "
                                  f"(worst at index {tuple(int(x) for x in i)}: {out[i]:.6g} vs {ref[i]:.6g})")


def run_program(program: Program, params: dict[str, int], machine: MachineSpec, seed: int = 0,
                model: str = "crcw-arbitrary", check_races: bool = False,
                memory_limit: int = DEFAULT_MEMORY_LIMIT, max_time: float | None = None,
                engine: str = "vector", max_launches: int = limits.DEFAULT_MAX_LAUNCHES,
                max_steps: int = limits.DEFAULT_MAX_STEPS, counts_only: bool = False,
                counts_only_if_too_long: bool = False) -> RunResult:
    """Run, check against the reference, schedule, held to the limits (pramsim.limits). With
    `max_time` (seconds), first estimate the run's time from counts at smaller sizes
    (pramsim.estimate) and refuse it (ResourceError) when even the low end of the estimate exceeds
    max_time; the run is stopped (LimitExceeded) if it still passes max_time. On the compiled
    engine the kernels are compiled before the run (_compile_first), so that the run's limit is
    not spent compiling (without an estimate, for want of a work form, the run compiles itself). With `counts_only`, count without computing outputs
    (pramsim.engines.counts): no estimate (it extrapolates executed operations), no reference.
    With `counts_only_if_too_long` (`pramsim run`), a run the estimate would refuse is counted
    with counts_only instead when every kernel of the program is data-oblivious, with a note."""
    lim = limits.Limits(max_time or None, max_launches, max_steps, memory_limit)
    estimate, instead = None, ""
    if max_time and not counts_only:  # before the deadline starts: the counting runs have limits of their own
        estimate = time_estimate(program, [params], machine, seed, model, engine, lim)
        instead = _counts_only_instead(program, estimate, max_time, model, check_races) if counts_only_if_too_long else ""
        if not instead:
            refuse_if_too_long(estimate, max_time, "run")
            if engine == "compiled" and estimate.probes:
                estimate.compile_s = _compile_first(program, params, estimate, lim, machine, seed, model)
        progress.estimated(estimate.seconds)
        counts_only = bool(instead)
    with limits.enforce(lim, program.file) as scope:
        _note_no_estimate(scope, estimate)
        result = _run(program, params, machine, seed, model, check_races, engine, counts_only)
    result.estimate = estimate
    result.notes += [instead] if instead else []
    return result


def time_estimate(program: Program, targets: list[dict[str, int]], machine: MachineSpec, seed: int, model: str,
             way: str, lim: limits.Limits) -> Estimate:
    """The time estimate (pramsim.estimate) of running `program` at each of `targets` the `way`
    COSTS names (an engine for run_program, "check" for check_program's points): counting runs
    on the vector engine, without race checks (they change no count), held to limits of their own
    (PROBE_TIME_LIMIT_S, compiling not counted, so that load cannot fail them); not timed."""
    counting = dataclasses.replace(lim, max_time=limits.PROBE_TIME_LIMIT_S)

    def count(prog: Program, small: dict[str, int]) -> Counts:
        with limits.enforce(counting, prog.file, f"the time estimate's counting run at {_at(small)}",
                            exclude_compile=True):
            trace = _run(prog, small, machine, seed, model, False, "vector").trace
        memory = sum(trace.category(c) for c in ("load", "store", "atomic"))
        per_launch = [-(-launch.nprocs // launch.block) for launch in trace.launches]
        return Counts(small, trace.work, trace.depth, len(trace.launches), memory,
                      sum(per_launch) if machine.is_gpu else 0, max(per_launch, default=0))
    return estimate_time(program, targets, count, COSTS[way])


def _counts_only_instead(program: Program, estimate: Estimate, max_time: float, model: str, check_races: bool) -> str:
    """When --max-time would refuse the full run of a program whose kernels are all
    data-oblivious (and no option needs the values), the note saying it is counted with
    --counts-only instead; "" otherwise."""
    if not estimate.refuses(max_time) or model != "crcw-arbitrary" or check_races:
        return ""
    kernels = [k.ir for k in kernels_of(program)]
    if not kernels or not all(oblivious.analyse(k).oblivious for k in kernels):
        return ""
    return (f"the full run would take an estimated {format_seconds(estimate.seconds)}, over --max-time "
            f"{format_seconds(max_time)}; its kernels are data-oblivious, so it was counted with --counts-only "
            "instead (outputs not computed)")


def _run(program: Program, params: dict[str, int], machine: MachineSpec, seed: int, model: str,
         check_races: bool, engine: str, counts_only: bool = False) -> RunResult:
    """One run, held to the limits of the scope it runs in."""
    t0 = time.perf_counter()
    inputs = make_inputs(program, params, seed, counts_only)
    executor, backend = _limited_executor(inputs, model, check_races, engine, counts_only)
    output = execute(program, params, inputs, backend)
    t1 = time.perf_counter()
    if counts_only:
        comparison, engine = Comparison(None, math.nan, COUNTS_ONLY), "counts-only"
    else:
        comparison = compare(output, reference_output(program, params, inputs), program.rtol)
    t2 = time.perf_counter()
    trace = executor.trace
    schedule = simulate(trace, machine)
    t3 = time.perf_counter()
    if machine.is_gpu and trace.peak_hbm_bytes > machine.hbm_bytes:
        raise MachineError(f"the program's arrays need {trace.peak_hbm_bytes:,} bytes of HBM; {machine.name} has "
                           f"{machine.hbm_bytes:,}", hint="use smaller parameters or a machine with more memory")
    brent = Brent.check(trace.work, trace.depth, schedule.p, schedule.steps, greedy=not machine.is_gpu)
    if not brent.holds:
        raise BrentViolation(
            f"T_p = {schedule.steps} left Brent's bounds [{brent.lower}, {brent.upper if brent.greedy else 'inf'}] "
            f"(W = {trace.work}, D = {trace.depth}, p = {schedule.p}); this is a bug in pramsim")
    return RunResult(program, params, machine, seed, trace, schedule, brent, comparison, output, t3 - t0,
                     {"execute_s": t1 - t0, "reference_s": t2 - t1, "simulate_s": t3 - t2}, None, engine,
                     executor.notes)


def _limited_executor(inputs: dict[str, np.ndarray], model: str, check_races: bool,
                      engine: str, counts_only: bool = False) -> tuple[Executor, Any]:
    """An executor and the backend that holds it to the current scope's limits (the inputs
    already counted against --max-memory); the bare executor outside any scope. With
    `counts_only` the counting backend, whose arrays are stand-ins (so the wrapper holds no memory)
    and which holds its per-block figures to --max-memory itself."""
    scope = limits.current()
    if counts_only:
        if model != "crcw-arbitrary" or check_races:
            raise PramsimError("--counts-only counts the default model (crcw-arbitrary) without race checks",
                               hint="leave out --model and --check-races, or --counts-only")
        counter = CountsBackend(scope.limits.max_memory if scope else DEFAULT_MEMORY_LIMIT)
        return counter, (counter if scope is None else limits.Limited(counter, scope, hold_memory=False))
    executor = Executor(model, check_races, scope.limits.max_memory if scope else DEFAULT_MEMORY_LIMIT, engine)
    if scope is None:
        return executor, executor
    backend = limits.Limited(executor, scope)
    backend.reserve_inputs(inputs)
    return executor, backend


def _compile_first(program: Program, target: dict[str, int], estimate: Estimate, lim: limits.Limits,
                   machine: MachineSpec, seed: int, model: str) -> float:
    """Run `program` small on the compiled engine, held to the run's own limits (compiling not
    counted: it is reported apart, and --max-time is for the run), so that numba
    compiles (or loads from its cache) the kernels, and every variant its larger launches call, before
    the run's deadline starts; the seconds numba spent on it. The size: the smallest counting
    run's, with the parameters that shared and local arrays' shapes take (kernels are specialised
    on them) at the target's values; if that fails, the largest counting run's; if that fails too,
    the run compiles for itself (and its --max-time counts it).
    Limit: a shape parameter passed to a kernel under another name compiles again in the run."""
    from .engines.compiled import FEW_BLOCKS, compiling_every_variant  # noqa: PLC0415 - numba for this engine only
    # the plain function too, only if the run has launches of more blocks than FEW_BLOCKS (which
    # call it); otherwise the run never calls it, and compiling it would double the compile time
    wide = widest_at_target(estimate) > FEW_BLOCKS
    shape = {n for k in kernels_of(program) for n in ir.shape_params(k.ir)} & set(target)
    sizes = [{**estimate.probes[0].params, **{n: target[n] for n in shape}}, estimate.probes[-1].params]
    before = compiling.compile_seconds()
    for small in sizes:
        try:
            with limits.enforce(lim, program.file, f"the compiling run at {_at(small)}, before the run",
                                exclude_compile=True), \
                    (compiling_every_variant() if wide else contextlib.nullcontext()):
                _run(program, small, machine, seed, model, False, "compiled")
            break
        except LimitExceeded:  # the run's own limit (a loop that never ends): that is the run's answer
            raise
        except PramsimError:  # a size no counting run tried may be refused or fail: the next, else the run compiles
            continue
    return compiling.compile_seconds() - before


def _at(params: dict[str, Any]) -> str:
    """'n=1024 d=64': parameters as a command line gives them."""
    return " ".join(f"{k}={v}" for k, v in params.items())


def _note_no_estimate(scope: limits.Scope, estimate: Estimate | None) -> None:
    """A run that goes ahead without an estimate says why if it is stopped at --max-time."""
    if estimate is not None and estimate.seconds is None:
        scope.note = f"no time estimate was made before it: {estimate.reason}"


def refuse_if_too_long(estimate: Estimate, max_time: float, what: str) -> None:
    """ResourceError when even the low end of the estimate is over `max_time`."""
    if estimate.refuses(max_time):
        raise ResourceError(
            f"this {what} would take an estimated {format_seconds(estimate.seconds or 0)} (at least "
            f"{format_seconds(estimate.low or 0)}), over the limit of {format_seconds(max_time)} ({estimate.reason})",
            hint=f"use smaller parameters, or allow it with --max-time {math.ceil((estimate.high or 0) + 1)} "
                 f"(--max-time 0 skips the estimate)")


def call_user(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a program's own function; what escapes it becomes the user's error at their line, or
    pramsim's or the environment's, as pramsim.faults decides (sys.exit() in it is the user's)."""
    try:
        return fn(*args, **kwargs)
    except PramsimError:
        raise
    except TypeError as exc:
        if exc.__traceback__ is not None and exc.__traceback__.tb_next is None:  # the call itself: a signature
            raise ProgramError(f"{getattr(fn, '__name__', 'function')}: {exc}",
                               hint="inputs(rng, **params), the host and reference(**inputs, **params) "
                                    "take the parameters by name") from None
        raise faults.attribute(exc) from None
    except (Exception, SystemExit) as exc:
        raise faults.attribute(exc) from None


# ---- check: a sweep of sizes and processor counts ---------------------------------------------------

DEFAULT_PS = (1, 3, 8, 64, 1000)


@dataclass
class CheckPoint:
    params: dict[str, int]
    work: int
    depth: int
    correct: bool
    message: str
    counters: dict[str, int]
    failures: list[str]
    brent: dict[int, Brent]


@dataclass
class CheckResult:
    program: Program
    points: list[CheckPoint]
    work_fit: bounds.ThetaCheck | None
    depth_fit: bounds.ThetaCheck | None
    varied: list[str]
    ps: tuple[int, ...]
    estimate: Estimate | None = None

    @property
    def passed(self) -> bool:
        return (all(not p.failures for p in self.points)
                and (self.work_fit is None or self.work_fit.holds)
                and (self.depth_fit is None or self.depth_fit.holds))


def sweep_points(program: Program) -> list[dict[str, int]]:
    sweep = sweep_axes(program)
    if len({len(v) for v in sweep.values()}) != 1:
        raise ProgramError(f"{program.name}: sweep lists must have equal lengths (they are zipped)")
    return [{**program.params, **dict(zip(sweep, values))} for values in zip(*sweep.values())]


def sweep_axes(program: Program) -> dict[str, list[int]]:
    """The program's declared sweep, or n over two and a half orders of magnitude if it has an n."""
    if program.sweep:
        return program.sweep
    if "n" not in program.params:
        raise ProgramError(f"{program.name} declares no sweep", hint="add sweep={'n': [...]} to @program(...)")
    return {"n": [16, 64, 256, 1024, 4096]}


def check_point(program: Program, params: dict[str, int], machine: MachineSpec, ps: tuple[int, ...], seed: int = 0,
                model: str = "crcw-arbitrary", check_races: bool = False, counts_only: bool = False) -> CheckPoint:
    """One point of `check`: result, declared exact counts and upper bounds, Brent at every p.
    Held to the limits of the scope it runs in, if any (check_program gives each point one).
    With `counts_only` the result is neither computed nor compared (pramsim.engines.counts)."""
    inputs = make_inputs(program, params, seed, counts_only)
    executor, backend = _limited_executor(inputs, model, check_races, "vector", counts_only)
    output = execute(program, params, inputs, backend)
    comparison = (Comparison(None, math.nan, COUNTS_ONLY) if counts_only
                  else compare(output, reference_output(program, params, inputs), program.rtol))
    trace = executor.trace
    failures = [] if comparison.correct is not False else [comparison.message]
    counters = {}
    for name, formula in program.counts.items():
        want, got = bounds.evaluate(formula, params), trace.counter(name)
        counters[name] = got
        if got != want:
            failures.append(f"{name} = {got:,}, declared exactly {formula} = {want:,.0f}")
    for name, formula in program.at_most.items():
        limit, got = bounds.evaluate(formula, params), trace.counter(name)
        counters[name] = got
        if got > limit:
            failures.append(f"{name} = {got:,} exceeds the declared {formula} = {limit:,.0f}")
    brents = {}
    for p in ps:
        schedule = simulate(trace, machine.with_processors(p))
        b = Brent.check(trace.work, trace.depth, p, schedule.steps)
        brents[p] = b
        if not b.holds:
            failures.append(f"Brent fails at p={p}: T_p = {b.steps} not in [{b.lower}, {b.upper:.1f}]")
    return CheckPoint(params, trace.work, trace.depth, comparison.correct, comparison.message, counters, failures,
                      brents)


def check_program(program: Program, machine: MachineSpec, ps: tuple[int, ...] = DEFAULT_PS, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None, model: str = "crcw-arbitrary",
                  check_races: bool = True, max_time: float | None = None,
                  memory_limit: int = DEFAULT_MEMORY_LIMIT, max_launches: int = limits.DEFAULT_MAX_LAUNCHES,
                  max_steps: int = limits.DEFAULT_MAX_STEPS, counts_only: bool = False) -> CheckResult:
    """The sweep of `pramsim check` (`counts_only`: see check_point; no time estimate). With `max_time` (seconds) the whole sweep's time is estimated
    first and the check refused (ResourceError) when the estimate exceeds it, and stopped
    (LimitExceeded) if it passes it; launches and memory are limited per point. `check_races` (on by
    default, as in `pramsim check`) makes a shared-memory race an error (pramsim.engines.races)."""
    points_params = sweep_points(program)
    lim = limits.Limits(max_time or None, max_launches, max_steps, memory_limit)
    per_point = dataclasses.replace(lim, max_time=None)  # each point: its own launch count, the check's deadline
    estimate = None
    if max_time and not counts_only:  # before the deadline starts: the counting runs have limits of their own
        estimate = time_estimate(program, points_params, machine, seed, model, "check", lim)
        refuse_if_too_long(estimate, max_time, "check")
    with limits.enforce(lim, program.file) as scope:
        _note_no_estimate(scope, estimate)
        points: list[CheckPoint] = []
        if progress:
            progress(0, len(points_params))  # the points start now (after the estimate's probes)
        for k, params in enumerate(points_params):
            with limits.enforce(per_point, program.file, f"the check's point {_at(params)}"):
                points.append(check_point(program, params, machine, ps, seed, model, check_races, counts_only))
            if progress:
                progress(k + 1, len(points_params))
    varied = [k for k, values in sweep_axes(program).items() if len(set(values)) > 1]
    ps_params = [p.params for p in points]
    work_fit = bounds.check_theta(program.work, ps_params, [p.work for p in points], varied) if program.work else None
    depth_fit = bounds.check_theta(program.depth, ps_params, [p.depth for p in points], varied) if program.depth else None
    return CheckResult(program, points, work_fit, depth_fit, varied, ps, estimate)
