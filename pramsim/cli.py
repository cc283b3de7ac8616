"""The `pramsim` command line (click). Each command is a thin layer over pramsim.runner."""
from __future__ import annotations

import functools
import json
import math
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from . import ir, limits, report
from .errors import PramsimError
from .machine import available_machines, load_machine
from .programs import load_program, shipped_programs
from .executor import ENGINES, MODELS
from .runner import DEFAULT_PS, check_program, parse_params, run_program


def _friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """PramsimError -> its message and exit code; anything else -> 'internal error', no traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except PramsimError as exc:
            if debug:
                traceback.print_exc()
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:  # `pramsim list | head`: the reader left; nothing to report
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as exc:  # a bug in pramsim: say so, and how to get the details
            if debug:
                traceback.print_exc()
            click.echo(f"internal error in pramsim: {type(exc).__name__}: {exc}\n"
                       f"  this is a bug in pramsim, not in your program; rerun with --debug for the traceback "
                       f"and report it", err=True)
            sys.exit(3)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def main(debug: bool) -> None:
    """pramsim: write a parallel algorithm once, measure its work and depth, simulate it on p
    processors or a GPU profile, and check Brent's theorem and its declared bounds."""


@main.command("list")
@_friendly_errors
def list_cmd() -> None:
    """List the shipped programs with their declared bounds."""
    rows = []
    for name in shipped_programs():
        prog = load_program(name)
        params = " ".join(f"{k}={v}" for k, v in prog.params.items())
        bounds = f"W=Θ({prog.work}) D=Θ({prog.depth})" if prog.work else ""
        rows.append((name, params, bounds, prog.description))
    width = max((len(r[0]) for r in rows), default=10)
    for name, params, bounds, desc in rows:
        click.echo(f"{name:<{width}}  {params:<24} {bounds:<28} {desc}")


@main.command()
@_friendly_errors
def machines() -> None:
    """List the shipped machine profiles."""
    for name, path in available_machines().items():
        click.echo(f"{name:<8} {load_machine(str(path)).summary()}")


DEFAULT_MAX_TIME = 600.0  # seconds; --max-time


class _Limit(click.ParamType):
    """A finite number of at least `minimum`. click's FloatRange lets `nan` through (it compares
    false with any bound) and `inf`, which would turn a limit off."""

    name = "number"

    def __init__(self, minimum: float):
        self.minimum = minimum

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number < self.minimum:
            self.fail(f"{value!r} is not a finite number of at least {self.minimum:g}", param, ctx)
        return number


def _run_limits(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--max-memory, --max-launches and --max-steps (pramsim.limits), for run and check."""
    fn = click.option("--max-steps", type=click.IntRange(min=1), default=limits.DEFAULT_MAX_STEPS, show_default=True,
                      help="Stop a launch whose depth passes this many steps (a kernel loop that does not end).")(fn)
    fn = click.option("--max-launches", type=click.IntRange(min=1), default=limits.DEFAULT_MAX_LAUNCHES,
                      show_default=True, help="Stop a run that launches kernels more often than this.")(fn)
    return click.option("--max-memory", type=_Limit(0.001), default=8.0, show_default=True,
                        help="GiB of arrays (inputs, zeros, shared and local arrays) a run may use; "
                             "an allocation past it is refused.")(fn)


def _say_estimate(estimate: Any, verbose: bool) -> None:
    """The estimate line (stderr) with --verbose or --debug."""
    debug = click.get_current_context().find_root().params.get("debug", False)
    if estimate is not None and (verbose or debug):
        click.echo(estimate.describe(), err=True)


def _machine(machine: str, p: int | None) -> Any:
    spec = load_machine(machine)
    return spec.with_processors(p) if p is not None else spec


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("program")
@click.argument("params", nargs=-1)
@click.option("--p", "p", type=click.IntRange(min=1), default=None, help="Processors (PRAM machines). Default: the profile's.")
@click.option("--machine", "-m", default="pram", show_default=True, help="Machine profile name or .toml path.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--model", type=click.Choice(MODELS), default="crcw-arbitrary", show_default=True,
              help="PRAM memory-access model: concurrent reads/writes it forbids are errors.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@click.option("--check-races", is_flag=True, help="Report shared-memory races (two lanes, one cell, no barrier between).")
@_run_limits
@click.option("--max-time", type=_Limit(0), default=DEFAULT_MAX_TIME, show_default=True,
              help="Refuse the run if its estimated time exceeds this many seconds, and stop it if it "
                   "runs longer (0: no limit, no estimate).")
@click.option("--verbose", "-v", is_flag=True, help="Also print how long the run was estimated to take, and how.")
@click.option("--engine", type=click.Choice(ENGINES), default="vector", show_default=True,
              help="vector: the lockstep executor (defines the semantics). compiled: kernels compiled with numba, "
                   "tens of times faster on large runs; same counts for race-free programs (docs/architecture.md).")
@click.option("--gantt", "gantt_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a chart of the simulated schedule (.png or .svg).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the simulated schedule as a Chrome/Perfetto trace (JSON).")
@_friendly_errors
def run(program: str, params: tuple[str, ...], p: int | None, machine: str, seed: int, model: str,
        check_races: bool, max_memory: float, max_launches: int, max_steps: int, max_time: float, verbose: bool,
        engine: str, as_json: bool, gantt_path: Path | None, trace_path: Path | None) -> None:
    """Run PROGRAM (a shipped name or a .py file) with name=value PARAMS and report W, D, T_p and Brent."""
    prog = load_program(program)
    values = parse_params(prog, params)
    result = run_program(prog, values, _machine(machine, p), seed, model, check_races, int(max_memory * 2**30),
                         max_time=max_time or None, engine=engine, max_launches=max_launches, max_steps=max_steps)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    _say_estimate(result.estimate, verbose)
    if as_json:
        click.echo(json.dumps(report.run_json(result), indent=2))
    else:
        click.echo(report.run_text(result))
    if gantt_path:
        from .plots import plot_gantt
        plot_gantt(result.schedule, gantt_path)
        click.echo(f"schedule chart written to {gantt_path}", err=True)
    if trace_path:
        from .timeline import write_chrome_trace
        write_chrome_trace(result.schedule, trace_path)
        click.echo(f"schedule trace written to {trace_path} (open in ui.perfetto.dev)", err=True)
    if not result.comparison.correct:
        sys.exit(1)


@main.command()
@click.argument("program")
@click.option("--p", "ps", type=click.IntRange(min=1), multiple=True,
              help=f"Processor counts to check Brent at (repeatable). Default: {', '.join(map(str, DEFAULT_PS))}.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--model", type=click.Choice(MODELS), default="crcw-arbitrary", show_default=True,
              help="PRAM memory-access model: concurrent reads/writes it forbids are errors.")
@click.option("--check-races", is_flag=True, help="Report shared-memory races (two lanes, one cell, no barrier between).")
@click.option("--work", "work", default=None, help="Θ form the work must follow, e.g. 'n log n' (overrides the program's).")
@click.option("--depth", "depth", default=None, help="Θ form the depth must follow, e.g. 'log^2 n'.")
@click.option("--max-time", type=_Limit(0), default=DEFAULT_MAX_TIME, show_default=True,
              help="Refuse the check if its estimated time exceeds this many seconds, and stop it if it "
                   "runs longer (0: no limit, no estimate).")
@_run_limits
@click.option("--verbose", "-v", is_flag=True, help="Also print how long the check was estimated to take, and how.")
@_friendly_errors
def check(program: str, ps: tuple[int, ...], as_json: bool, seed: int, model: str, check_races: bool,
          work: str | None, depth: str | None, max_time: float, max_memory: float, max_launches: int, max_steps: int,
          verbose: bool) -> None:
    """Sweep PROGRAM's sizes and processor counts; verify results, exact counts, Θ bounds and Brent.

    With --work/--depth it grades a submission against the bounds an instructor gives; exit code
    0 means pass, 1 fail."""
    import dataclasses
    from . import bounds
    prog = load_program(program)
    for form in (work, depth):
        if form:
            bounds.theta_to_python(form)  # a malformed form is an error before anything runs
    prog = dataclasses.replace(prog, work=work or prog.work, depth=depth or prog.depth)

    def progress(done: int, total: int) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"\r  point {done}/{total}", err=True, nl=done == total)

    result = check_program(prog, load_machine("pram"), tuple(ps) or DEFAULT_PS, seed, progress, model, check_races,
                           max_time=max_time or None, memory_limit=int(max_memory * 2**30),
                           max_launches=max_launches, max_steps=max_steps)
    _say_estimate(result.estimate, verbose)
    if as_json:
        click.echo(json.dumps(report.check_json(result), indent=2))
    else:
        click.echo(report.check_text(result))
    sys.exit(0 if result.passed else 1)


@main.command()
@click.argument("program")
@click.argument("axes", nargs=-1, required=True)
@click.option("--machine", "-m", default="pram", show_default=True, help="Machine profile name or .toml path.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one row per point as it finishes (kept if interrupted).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a plot (.png or .svg): speedup vs p, or work and depth vs size.")
@click.option("--plot-kind", type=click.Choice(["auto", "memory"]), default="auto", show_default=True,
              help="auto: speedup vs p, or work and depth vs size; memory: HBM traffic and footprint vs size.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: cores).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--scheduler", default=None, help="Run the points on a Dask distributed cluster at this address.")
@click.option("--engine", type=click.Choice(ENGINES), default="vector", show_default=True,
              help="How each point runs: vector (the executor) or compiled (numba; same counts, race-free programs).")
@_friendly_errors
def sweep(program: str, axes: tuple[str, ...], machine: str, csv_path: Path | None, as_json: bool,
          plot: Path | None, plot_kind: str, jobs: int | None, seed: int, scheduler: str | None, engine: str) -> None:
    """Run PROGRAM over a grid: AXES like n=64..65536 (x2 steps; n=64..65536:4 for x4), p=1,2,4, d=64."""
    from . import plots
    from .sweep import grid, run_sweep
    prog = load_program(program)
    names, _ = grid(prog, axes)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r  {done}/{total} points", err=True, nl=done == total)

    try:
        rows = run_sweep(prog, axes, machine, seed, jobs, csv_path, progress, scheduler, engine)
    except KeyboardInterrupt:
        kept = f"; the points already finished are in {csv_path}" if csv_path else ""
        click.echo(f"\ninterrupted{kept}", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        cols = [k for k in prog.params if k in names] + ["p", "work", "depth", "steps", "speedup", "efficiency", "brent_holds", "correct"]
        click.echo("".join(f"{c:>12}" for c in cols))
        for r in rows:
            click.echo("".join(f"{r[c]:>12.3g}" if isinstance(r[c], float) else f"{str(r[c]):>12}" for c in cols))
    if plot:
        varied = [n for n in names if len({r[n] for r in rows}) > 1]
        try:
            sizes = [n for n in varied if n != "p"]
            if plot_kind == "memory":
                if not sizes:
                    raise ValueError("--plot-kind memory needs a size range, e.g. n=64..1024")
                plots.plot_memory(rows, prog, sizes[0], plot)
            else:
                plots.plot_sweep(rows, prog, varied, plot)
        except ValueError as exc:
            raise PramsimError(str(exc)) from None
        click.echo(f"plot written to {plot}", err=True)
    if not all(r["correct"] and r["brent_holds"] for r in rows):
        sys.exit(1)


@main.command()
@click.option("--profile", default="h100", show_default=True, help="Machine profile the predictions use.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("validation"),
              show_default=True, help="Folder for validation.md and validation.json.")
@click.option("--small", is_flag=True, help="Tiny sizes: checks the pipeline (numba's simulator), not the model.")
@click.option("--repeat", type=click.IntRange(min=1), default=10, show_default=True)
@_friendly_errors
def validate(profile: str, out_dir: Path, small: bool, repeat: int) -> None:
    """Predicted vs measured time for the program suite: a markdown and a JSON table."""
    from . import validate as v
    click.echo(v.HEADER)
    result = v.validate(profile, small, repeat, progress=click.echo)
    md, js = v.write(result, out_dir)
    click.echo(f"wrote {md} and {js} (device: {result['device']})", err=True)


@main.command()
@click.argument("programs", nargs=-1, required=True)
@click.option("--machine", "-m", default="h100", show_default=True, help="A GPU profile.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .png or .svg.")
@_friendly_errors
def roofline(programs: tuple[str, ...], machine: str, plot: Path) -> None:
    """Place PROGRAMS (names or files, at their default parameters) on the machine's roofline."""
    from .plots import plot_roofline
    spec = load_machine(machine)
    if not spec.is_gpu:
        raise PramsimError(f"{machine!r} is not a GPU profile", hint="use --machine h100 or a100")
    points = []
    for name in programs:
        prog = load_program(name)
        r = run_program(prog, dict(prog.params), spec)
        roof = r.schedule.details["roofline"]
        if roof["arithmetic_intensity"]:
            rate = roof["flops"] / r.schedule.time_s
            points.append((prog.name, roof["arithmetic_intensity"], rate))
            click.echo(f"{prog.name:<22} intensity {roof['arithmetic_intensity']:8.3f} flop/B   "
                       f"predicted {rate / 1e9:10.2f} GFLOP/s   {roof['model_bound']}-bound")
    plot_roofline(points, spec.p * spec.clock_hz, spec.hbm_bytes_per_s, plot, spec.name)
    click.echo(f"roofline written to {plot}", err=True)


@main.command("show-ir")
@click.argument("program")
@_friendly_errors
def show_ir(program: str) -> None:
    """Print the IR of every kernel PROGRAM's file defines."""
    from .dsl import Kernel
    prog = load_program(program)
    module = sys.modules[prog.host.__module__]
    for value in vars(module).values():
        if isinstance(value, Kernel):
            click.echo(ir.format_kernel(value.ir) + "\n")


@main.command("show-cuda")
@click.argument("program")
@click.argument("params", nargs=-1)
@_friendly_errors
def show_cuda(program: str, params: tuple[str, ...]) -> None:
    """Print the numba.cuda source generated for PROGRAM's kernels at these PARAMS."""
    from . import gpu
    prog = load_program(program)
    click.echo(gpu.lower_source(prog, parse_params(prog, params)))


@main.command("gpu")
@click.argument("program")
@click.argument("params", nargs=-1)
@click.option("--repeat", type=click.IntRange(min=1), default=20, show_default=True, help="Timed repeats (median reported).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@_friendly_errors
def gpu_cmd(program: str, params: tuple[str, ...], repeat: int, seed: int, as_json: bool) -> None:
    """Lower PROGRAM to numba.cuda, run it on the GPU (or numba's CUDA simulator when there is
    none: small sizes only), check it against NumPy and time it beside the h100 prediction."""
    from . import gpu
    prog = load_program(program)
    values = parse_params(prog, params)
    result = gpu.run_on_gpu(prog, values, repeat, seed)
    try:
        predicted = run_program(prog, values, load_machine("h100"), seed).schedule.time_s
    except PramsimError as exc:
        predicted = None
        click.echo(f"note: no prediction on h100: {exc.message}", err=True)
    result["predicted_s"] = predicted
    measured = result.get("measured_s")
    if predicted and measured and not result.get("simulated"):
        result["relative_error"] = (predicted - measured) / measured
    elif result.get("simulated"):
        click.echo("note: no GPU here; ran on numba's CUDA simulator, whose time says nothing about a GPU "
                   "(the prediction is for h100)", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        for key, value in result.items():
            click.echo(f"{key:<16} {value}")
    if not result.get("correct", False):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
