"""The `pramsim` command line (click). Each command is a thin layer over pramsim.runner."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .lang import ir, oblivious
from . import limits, progress, report
from .dsl import DEFAULT_RANGE, format_range
from .errors import ParameterError, PramsimError
from .faults import friendly_errors
from .machine import load_machine
from .programs import load_program, shipped_programs
from .engines.vector import ENGINES, MODELS
from .runner import DEFAULT_PS, check_program, parse_params, run_program, sweep_points
from .runner import MAX_INT
from .completion import complete_program as _complete_program


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pramsim", prog_name="pramsim")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def main(debug: bool) -> None:
    """pramsim: write a parallel algorithm once, measure its work and depth, simulate it on p
    processors or a GPU profile, and check Brent's theorem and its declared bounds."""


@main.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list: name, params (default and range), bounds, description, file.")
@friendly_errors
def list_cmd(as_json: bool) -> None:
    """List the shipped programs with their parameters (ranges other than 1.. in brackets) and bounds."""
    progs = [load_program(name) for name in shipped_programs()]
    if as_json:
        click.echo(json.dumps([_program_json(prog) for prog in progs], indent=2, allow_nan=False))
        return
    rows = []
    for prog in progs:
        params = " ".join(f"{k}={v}{_range_note(prog, k)}" for k, v in prog.params.items())
        bounds = f"W=Θ({prog.work}) D=Θ({prog.depth})" if prog.work else ""
        rows.append((prog.name, params, bounds, prog.description))
    width = max((len(r[0]) for r in rows), default=10)
    for name, params, bounds, desc in rows:
        click.echo(f"{name:<{width}}  {params:<24} {bounds:<28} {desc}")


def _range_note(prog: Any, name: str) -> str:
    """'[0..1]' after a parameter whose range is not the default 1.., else ''."""
    bounds = prog.param_range(name)
    return "" if bounds == DEFAULT_RANGE or isinstance(prog.params[name], str) else f"[{format_range(*bounds)}]"


def _program_json(prog: Any) -> dict[str, Any]:
    """One program for `list --json`: its parameters with defaults and ranges (max null: no limit)."""
    params = {k: {"default": v, "min": None, "max": None} if isinstance(v, str) else  # a text parameter
              {"default": v, "min": prog.param_range(k)[0], "max": prog.param_range(k)[1]}
              for k, v in prog.params.items()}
    return {"name": prog.name, "params": params,
            "bounds": {"work": prog.work, "depth": prog.depth, "counts": prog.counts, "at_most": prog.at_most},
            "description": prog.description, "file": prog.file}


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list: name, path, origin, summary and every figure (or the error of a damaged profile).")
@friendly_errors
def machines(as_json: bool) -> None:
    """List the shipped machine profiles, then the user's (the folder `pramsim calibrate` writes to).

    A damaged user profile is reported on stderr (its file:line and what is wrong) and the others
    are still listed."""
    from .machine.spec import list_profiles, user_profile_dir
    entries = list_profiles()
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], indent=2, allow_nan=False))
    else:
        click.echo("\n".join(e.line() for e in entries if e.spec is not None))
    for e in entries:
        if e.error is not None:
            click.echo(f"warning: user profile {e.path} is damaged and not listed:\n{e.error}", err=True)
    if not any(e.origin == "user" for e in entries):
        click.echo(f"note: no user profiles in {user_profile_dir()} (pramsim calibrate writes there)", err=True)


DEFAULT_MAX_TIME = 600.0  # seconds; --max-time
PROCESSORS = click.IntRange(1, MAX_INT)  # --p: int64, as the schedulers count
SEED = click.IntRange(min=0)             # NumPy's generators take non-negative seeds
PLOT_FORMATS = (".png", ".svg", ".pdf")
PLOT_FORMATS_HELP = ", ".join(PLOT_FORMATS[:-1]) + " or " + PLOT_FORMATS[-1]  # '.png, .svg or .pdf', in the help


class PlotPath(click.Path):
    """An output picture's path: a usage error, before anything runs, unless its extension is
    one of PLOT_FORMATS (matplotlib picks the format from it)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        path = super().convert(value, param, ctx)
        if Path(path).suffix.lower() not in PLOT_FORMATS:
            self.fail(f"{str(value)!r} must end in {', '.join(PLOT_FORMATS)} (the picture's format)", param, ctx)
        return path


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


def _check_outputs(*targets: tuple[str, Path | None], programs: tuple[str, ...] = (),
                   inputs: tuple[tuple[str, Path | None], ...] = ()) -> None:
    """Refuse, before anything runs, output paths that cannot be written, or that would replace a
    program file or input the command reads, or another of its outputs (pramsim.outfile)."""
    from .outfile import check_targets
    check_targets([t for t in targets if t[1] is not None],
                  [(f"the file of program {name}", _program_file(name)) for name in programs] + list(inputs))


def _profile_file(machine: str) -> Path | None:
    """The .toml file a --machine argument names by its path (None for a profile name)."""
    return Path(machine) if machine.endswith(".toml") else None


def _program_file(program: str) -> Path | None:
    """The file a PROGRAM argument names (its path, or a shipped program's file), as load_program
    finds it; None if there is none (load_program then says what is wrong)."""
    path = Path(program)
    try:
        if path.suffix == ".py" or path.exists():
            return path
    except OSError:  # a name too long for the file system
        return None
    return shipped_programs().get(program)


def _theta_given(form: str | None, option: str) -> str | None:
    """A --work/--depth form that is given must say something: '' would leave the program's own."""
    if form is not None and not form.strip():
        raise click.BadParameter("is empty: give a Θ form such as 'n log n', or leave the option out to check the "
                                 "program's own", param_hint=option)
    return form


def _profile_name(name: str | None) -> str | None:
    """A profile name is a file name in the user profile folder: letters, digits, '-', '_', '.'."""
    if name is not None and (not name or name.startswith(".") or not all(c.isalnum() or c in "-_." for c in name)):
        raise click.BadParameter(f"{name!r}: use letters, digits, '-', '_' and '.' (not starting with '.')",
                                 param_hint="--name")
    return name


def _machine(machine: str, p: int | None) -> Any:
    spec = load_machine(machine)
    return spec.with_processors(p) if p is not None else spec


_counts_only_option = click.option("--counts-only", is_flag=True, help="Exact counts, profile and T_p without computing "
                                   "outputs (data-oblivious kernels only; not checked against the reference).")


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("program", shell_complete=_complete_program)
@click.argument("params", nargs=-1)
@click.option("--p", "p", type=PROCESSORS, default=None, help="Processors (PRAM machines). Default: the profile's.")
@click.option("--machine", "-m", default="pram", show_default=True, help="Machine profile name or .toml path.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the random inputs.")
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
@click.option("--gantt", "gantt_path", type=PlotPath(), default=None,
              help=f"Write a chart of the simulated schedule ({PLOT_FORMATS_HELP}).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the simulated schedule as a Chrome/Perfetto trace (JSON).")
@_counts_only_option
@friendly_errors
def run(program: str, params: tuple[str, ...], p: int | None, machine: str, seed: int, model: str,
        check_races: bool, max_memory: float, max_launches: int, max_steps: int, max_time: float, verbose: bool,
        engine: str, as_json: bool, gantt_path: Path | None, trace_path: Path | None, counts_only: bool) -> None:
    """Run PROGRAM (a shipped name or a .py file) with name=value PARAMS and report W, D, T_p and Brent."""
    _check_outputs(("--gantt", gantt_path), ("--trace", trace_path), programs=(program,),
                   inputs=(("the --machine profile", _profile_file(machine)),))
    prog = load_program(program)
    values = parse_params(prog, params)
    with progress.run_status(f"run {prog.name}"):
        result = run_program(prog, values, _machine(machine, p), seed, model, check_races, int(max_memory * 2**30),
                             max_time=max_time or None, engine=engine, max_launches=max_launches, max_steps=max_steps,
                             counts_only=counts_only, counts_only_if_too_long=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    _say_estimate(result.estimate, verbose)
    if as_json:
        click.echo(report.to_json(report.run_json(result), indent=2))
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
    if result.comparison.correct is False:
        sys.exit(1)


@main.command()
@click.argument("program", shell_complete=_complete_program)
@click.option("--p", "ps", type=PROCESSORS, multiple=True,
              help=f"Processor counts to check Brent at (repeatable). Default: {', '.join(map(str, DEFAULT_PS))}.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--model", type=click.Choice(MODELS), default="crcw-arbitrary", show_default=True,
              help="PRAM memory-access model: concurrent reads/writes it forbids are errors.")
@click.option("--check-races/--no-check-races", default=True, show_default=True,
              help="Fail on shared-memory races (two lanes, one cell, no barrier between); on by default.")
@click.option("--work", "work", default=None, callback=lambda ctx, param, v: _theta_given(v, "--work"),
              help="Θ form the work must follow, e.g. 'n log n' (overrides the program's).")
@click.option("--depth", "depth", default=None, callback=lambda ctx, param, v: _theta_given(v, "--depth"),
              help="Θ form the depth must follow, e.g. 'log^2 n'.")
@click.option("--max-time", type=_Limit(0), default=DEFAULT_MAX_TIME, show_default=True,
              help="Refuse the check if its estimated time exceeds this many seconds, and stop it if it "
                   "runs longer (0: no limit, no estimate).")
@_run_limits
@click.option("--verbose", "-v", is_flag=True, help="Also print how long the check was estimated to take, and how.")
@click.option("--json-out", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON report (or, on an error, pass: false and the error) to this file, atomically.")
@_counts_only_option
@friendly_errors
def check(program: str, ps: tuple[int, ...], as_json: bool, seed: int, model: str, check_races: bool,
          work: str | None, depth: str | None, max_time: float, max_memory: float, max_launches: int, max_steps: int,
          verbose: bool, json_out: Path | None, counts_only: bool) -> None:
    """Sweep PROGRAM's sizes and processor counts; verify results, exact counts, Θ bounds and Brent.

    With --work/--depth it grades a submission against the bounds an instructor gives; exit code
    0 means pass, 1 fail."""
    from .verdict import take_nonce, write_verdict
    if counts_only and json_out:  # a verdict's pass says the results are right: counts-only computes none
        raise ParameterError("--json-out writes a grading verdict, and --counts-only checks no results",
                             hint="grade without --counts-only")
    _check_outputs(("--json-out", json_out), programs=(program,))
    nonce = take_nonce()  # before the program file, which is Python that could read it, is loaded
    try:
        if counts_only and check_races:
            click.echo("note: --counts-only: results are not computed, so not compared nor checked for races", err=True)
        result = _check(program, ps, seed, model, check_races and not counts_only, work, depth, max_time,
                        (max_memory, max_launches, max_steps), counts_only)
    except PramsimError as exc:
        if json_out:
            write_verdict(json_out, {"pass": False, "error": str(exc), "exit_code": exc.exit_code}, nonce)
        raise
    _say_estimate(result.estimate, verbose)
    data = report.check_json(result)
    if as_json:
        click.echo(report.to_json(data, indent=2))
    else:
        click.echo(report.check_text(result))
    if json_out:
        write_verdict(json_out, data, nonce)
    sys.exit(0 if result.passed else 1)


def _check(program: str, ps: tuple[int, ...], seed: int, model: str, check_races: bool,
           work: str | None, depth: str | None, max_time: float, run_limits: tuple[float, int, int], counts_only: bool = False) -> Any:
    """The check sweep of `pramsim check` (a CheckResult); errors are raised, not reported.
    run_limits: (--max-memory GiB, --max-launches, --max-steps), held at every point."""
    import dataclasses
    prog = load_program(program)
    for option, form in (("--work", work), ("--depth", depth)):
        if form:
            _check_theta_option(option, form, prog)  # a malformed form is an error before anything runs
    prog = dataclasses.replace(prog, work=work or prog.work, depth=depth or prog.depth)

    with progress.bar(f"check {prog.name}: points", len(sweep_points(prog))) as update:
        max_memory, max_launches, max_steps = run_limits
        return check_program(prog, load_machine("pram"), tuple(ps) or DEFAULT_PS, seed, update, model, check_races,
                             max_time=max_time or None, memory_limit=int(max_memory * 2**30),
                             max_launches=max_launches, max_steps=max_steps, counts_only=counts_only)


def _check_theta_option(option: str, form: str, prog: Any) -> None:
    """A usage error unless `form` parses, names the program's parameters and can be evaluated at
    every point the check sweeps ('n^1000' cannot)."""
    from . import bounds
    from .errors import ProgramError
    from .runner import sweep_points
    points = sweep_points(prog)
    try:
        bounds.validate_formula(form, prog.params, theta=True)
        for point in points:
            bounds.evaluate(form, point, theta=True)
    except ProgramError as exc:
        raise ParameterError(f"{option} {form!r}: {exc.message}", hint=exc.hint) from None


@main.command()
@click.argument("program", shell_complete=_complete_program)
@click.argument("axes", nargs=-1, required=True)
@click.option("--machine", "-m", default="pram", show_default=True, help="Machine profile name or .toml path.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one row per point as it finishes (kept if interrupted). An existing file with rows "
                   "needs --resume or --overwrite.")
@click.option("--resume", is_flag=True, help="Keep the rows already in the --csv file and run only the missing points.")
@click.option("--overwrite", is_flag=True, help="Replace the rows already in the --csv file.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--plot", type=PlotPath(), default=None,
              help=f"Write a plot ({PLOT_FORMATS_HELP}): speedup vs p, or work and depth vs size.")
@click.option("--plot-kind", type=click.Choice(["auto", "memory"]), default="auto", show_default=True,
              help="auto: speedup vs p, or work and depth vs size; memory: HBM traffic and footprint vs size.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: cores).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--scheduler", default=None, help="Run the points on a Dask distributed cluster at this address.")
@click.option("--engine", type=click.Choice(ENGINES), default="vector", show_default=True,
              help="How each point runs: vector (the executor) or compiled (numba; same counts, race-free programs).")
@_counts_only_option
@friendly_errors
def sweep(program: str, axes: tuple[str, ...], machine: str, csv_path: Path | None, resume: bool, overwrite: bool,
          as_json: bool, plot: Path | None, plot_kind: str, jobs: int | None, seed: int, scheduler: str | None,
          engine: str, counts_only: bool) -> None:
    """Run PROGRAM over a grid: AXES like n=64..65536 (x2 steps; n=64..65536:4 for x4), p=1,2,4, d=64."""
    from . import plots
    from .sweep import COUNTS_ONLY_ENGINE, grid, run_sweep
    if (resume or overwrite) and not csv_path:
        raise ParameterError("--resume and --overwrite apply to a --csv file", hint="add --csv FILE")
    if resume and overwrite:
        raise ParameterError("--resume and --overwrite exclude each other", hint="keep the rows (--resume) or not")
    _check_outputs(("--csv", csv_path), ("--plot", plot), programs=(program,),
                   inputs=(("the --machine profile", _profile_file(machine)),))
    prog = load_program(program)
    names, points = grid(prog, axes)
    if plot:  # a plot that cannot be drawn is found now, not after the sweep
        plots.sizes_to_plot(names, points, plot_kind)
    try:
        with progress.bar(f"sweep {prog.name}: points", len(points)) as update:
            rows = run_sweep(prog, axes, machine, seed, jobs, csv_path, update, scheduler, COUNTS_ONLY_ENGINE if counts_only else engine,
                             "resume" if resume else "overwrite" if overwrite else "refuse")
    except KeyboardInterrupt:
        kept = f"; the points already finished are in {csv_path}" if csv_path else ""
        click.echo(f"\ninterrupted{kept}", err=True)
        sys.exit(130)
    if as_json:
        click.echo(report.to_json(rows, indent=2))
    else:
        cols = [k for k in prog.params if k in names] + ["p", "work", "depth", "steps", "speedup", "efficiency", "brent_holds", "correct"]
        if rows and rows[0]["time_s"] is not None:  # a GPU profile: the predicted time and its split
            cols += ["time_s", "device_s", "host_s"]
        click.echo("".join(f"{c:>12}" for c in cols))
        for r in rows:
            click.echo("".join(f"{r[c]:>12.3g}" if isinstance(r[c], float) else f"{str(r[c]):>12}" for c in cols))
    if plot:
        varied = [n for n in names if len({r[n] for r in rows}) > 1]
        try:
            if plot_kind == "memory":
                plots.plot_memory(rows, prog, plots.sizes_to_plot(names, points, plot_kind)[0], plot)
            else:
                plots.plot_sweep(rows, prog, varied, plot)
        except ValueError as exc:
            raise PramsimError(str(exc)) from None
        click.echo(f"plot written to {plot}", err=True)
    if not all(r["correct"] is not False and r["brent_holds"] for r in rows):
        sys.exit(1)


@main.command()
@click.option("--profile", "--machine", "profile", default="h100", show_default=True,
              help="Machine profile the predictions use (--machine is the same option).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for validation.md and validation.json [default: validation]; with --predict-only, "
                   "the .json file (the .md is written beside it) [default: predictions.json].")
@click.option("--small", is_flag=True, help="Tiny sizes: checks the pipeline (numba's simulator), not the model.")
@click.option("--repeat", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--predict-only", is_flag=True,
              help="No GPU: write the model's predictions (per program and per launch, device and host) at the "
                   "validate and benchmark sizes, with the date, the git commit and the profile's figures.")
@click.option("--max-time", type=_Limit(0), default=60.0, show_default=True,
              help="With --predict-only: skip (and list) a row whose simulation would take longer than this "
                   "many seconds (0: no limit).")
@friendly_errors
def validate(profile: str, out_dir: Path | None, small: bool, repeat: int, predict_only: bool, max_time: float) -> None:
    """Predicted vs measured time for the program suite: a markdown and a JSON table."""
    if predict_only:
        _predict_only(profile, out_dir or Path("predictions.json"), small, max_time)
        return
    from . import validate as v
    out_dir = out_dir or Path("validation")
    v.prepare(out_dir)  # an unwritable folder is found before the suite runs, not after
    click.echo(v.HEADER)
    result = v.validate(profile, small, repeat, progress=click.echo)
    md, js = v.write(result, out_dir)
    click.echo(f"wrote {md} and {js} (device: {result['device']})", err=True)


def _predict_only(profile: str, out: Path, small: bool, max_time: float) -> None:
    """`validate --predict-only`: the predictions table as it is made, then the two files."""
    from . import predictions as pr
    pr.check_out(out)  # an unwritable path is found before the suite runs, not after
    click.echo(pr.HEADER)
    result = pr.predict(profile, max_time, small, progress=lambda row: click.echo(pr.line(row)))
    md, js = pr.write(result, out)
    click.echo(f"wrote {js} and {md} (predictions on {result['profile']}, commit {result['git']['commit']})", err=True)


@main.command()
@click.argument("programs", nargs=-1, required=True, shell_complete=_complete_program)
@click.option("--machine", "-m", default="h100", show_default=True, help="A GPU profile.")
@click.option("--plot", type=PlotPath(), required=True, help=f"Output {PLOT_FORMATS_HELP}.")
@friendly_errors
def roofline(programs: tuple[str, ...], machine: str, plot: Path) -> None:
    """Place PROGRAMS (names or files) on the machine's roofline by their predicted device time.

    name=value arguments (n=4096) set that parameter of every listed program that has it; the
    others run at their defaults."""
    from .plots import RooflinePoint, plot_roofline
    _check_outputs(("--plot", plot), programs=tuple(a for a in programs if "=" not in a),
                   inputs=(("the --machine profile", _profile_file(machine)),))
    spec = load_machine(machine)
    if not spec.is_gpu:
        raise PramsimError(f"{machine!r} is not a GPU profile", hint="use --machine h100 or a100")
    names, assignments = _split_roofline_args(programs)
    points = []
    for name in names:
        prog = load_program(name)
        given = [a for a in assignments if _param_name(a) in prog.params]
        values = parse_params(prog, given)
        r = run_program(prog, values, spec)
        roof = r.schedule.details["roofline"]
        if not roof["arithmetic_intensity"]:
            click.echo(f"{prog.name:<22} no flops or no HBM traffic: not on the roofline", err=True)
            continue
        shown = {_param_name(a): values[_param_name(a)] for a in given}  # the label shows these
        point = RooflinePoint(prog.name, shown, roof["arithmetic_intensity"], roof["flops"],
                              r.schedule.device_s, r.schedule.time_s)
        points.append(point)
        click.echo(f"{point.label:<36} intensity {point.intensity:8.3f} flop/B   device {point.device_s * 1e6:10,.2f} µs "
                   f"{point.device_rate / 1e9:10.2f} GFLOP/s   (with host {point.total_s * 1e6:,.2f} µs)   "
                   f"{roof['model_bound']}-bound")
    plot_roofline(points, spec.p * spec.clock_hz, spec.hbm_bytes_per_s, plot, spec.name)
    click.echo(f"roofline written to {plot}", err=True)


def _split_roofline_args(args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Program names/files and name=value assignments; an assignment no program declares is an error."""
    assignments = [a for a in args if "=" in a]
    names = [a for a in args if "=" not in a]
    if not names:
        raise ParameterError("roofline needs at least one program", hint="e.g. pramsim roofline matmul_tiled n=256 --plot r.png")
    declared = {k for name in names for k in load_program(name).params}
    for a in assignments:
        if _param_name(a) not in declared:
            raise ParameterError(f"no program listed has a parameter {_param_name(a)!r} ({a})",
                             hint=f"their parameters are: {', '.join(sorted(declared)) or 'none'}")
    return names, assignments


def _param_name(assignment: str) -> str:
    """'n=256' -> 'n' (as parse_params reads it)."""
    return assignment.partition("=")[0].strip()


@main.command("show-ir")
@click.argument("program", shell_complete=_complete_program)
@friendly_errors
def show_ir(program: str) -> None:
    """Print the IR of every kernel PROGRAM's file defines (or imports from a helper module beside it)."""
    from .programs import kernels_of
    for kernel in kernels_of(load_program(program)):
        click.echo(ir.format_kernel(kernel.ir) + "\n# " + oblivious.analyse(kernel.ir).describe() + "\n")


@main.command("show-cuda")
@click.argument("program", shell_complete=_complete_program)
@click.argument("params", nargs=-1)
@friendly_errors
def show_cuda(program: str, params: tuple[str, ...]) -> None:
    """Print the numba.cuda source generated for PROGRAM's kernels at these PARAMS."""
    from . import gpu_runner as gpu
    prog = load_program(program)
    click.echo(gpu.lower_source(prog, parse_params(prog, params)))


@main.command("gpu")
@click.argument("program", shell_complete=_complete_program)
@click.argument("params", nargs=-1)
@click.option("--repeat", type=click.IntRange(min=1), default=20, show_default=True, help="Timed repeats (median reported).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@click.option("--machine", "-m", default="h100", show_default=True, help="The GPU profile whose prediction is shown beside.")
@friendly_errors
def gpu_cmd(program: str, params: tuple[str, ...], repeat: int, seed: int, as_json: bool, machine: str) -> None:
    """Lower PROGRAM to numba.cuda, run it on the GPU (or numba's CUDA simulator when there is
    none: small sizes only), check it against NumPy and time it beside a GPU profile's prediction."""
    from . import gpu_runner as gpu
    prog = load_program(program)
    values = parse_params(prog, params)
    spec = load_machine(machine)  # an unknown profile is an error before anything runs
    if not spec.is_gpu:
        raise ParameterError(f"--machine {machine!r} is not a GPU profile", hint="e.g. --machine h200 (pramsim machines)")
    with progress.bar(f"gpu {prog.name}: timed runs", repeat) as update:
        result = gpu.run_on_gpu(prog, values, repeat, seed, update)
    try:
        result = gpu.beside_prediction(result, run_program(prog, values, spec, seed).schedule)
    except PramsimError as exc:
        result["predicted_s"] = None
        click.echo(f"note: no prediction on {spec.name}: {exc.message}", err=True)
    if result.get("simulated"):
        click.echo("note: no GPU here; ran on numba's CUDA simulator, whose time says nothing about a GPU "
                   f"(the prediction is for {spec.name})", err=True)
    if as_json:
        click.echo(report.to_json(result, indent=2, default=str))
    else:
        for key, value in result.items():
            if key != "per_launch":
                click.echo(f"{key:<18} {value}")
        click.echo(report.per_launch_table(result.get("per_launch", [])))
    if not result.get("correct", False):
        sys.exit(1)


@main.command()
@click.option("--from-json", "from_json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the profile from this saved measurement (JSON; docs/cli.md lists its fields); no GPU needed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The profile to write [default: NAME.toml in the user profile folder, where --machine NAME finds it].")
@click.option("--name", default=None, callback=lambda ctx, param, v: _profile_name(v),
              help="The profile's name [default: from the device name, e.g. nvidia-h200].")
@friendly_errors
def calibrate(from_json: Path | None, out: Path | None, name: str | None) -> None:
    """Measure this machine's GPU (or read a saved measurement) and write a GPU machine profile
    (use it with --machine NAME or --machine FILE.toml); the measurement is saved beside it as FILE.json."""
    from .profile_writer import write_profile
    if from_json is None and out is not None and out.suffix == ".json":  # the measurement is saved as out.json
        raise ParameterError(f"--out {out}: the measurement is saved beside the profile as {out}; the profile "
                             "would replace it", hint="give the profile a .toml name, e.g. --out h200.toml")
    _check_outputs(("--out", out), inputs=(("the --from-json measurement", from_json),))
    if from_json is None:
        from .microbench import measure_and_save
        measured, out, from_json = measure_and_save(out, name)
        click.echo(f"measurement written to {from_json} ({measured['seconds']:.1f} s)", err=True)
        if measured["simulated"]:
            click.echo("note: no GPU here; ran on numba's CUDA simulator, whose figures time a Python simulation, "
                       "not a GPU: no profile written", err=True)
            return
    path, spec = write_profile(from_json, out, name)
    click.echo(spec.summary())
    by_name = out is None and load_machine(path.stem).file == str(path)  # the user folder, and no shipped profile of that name
    click.echo(f"profile written to {path} (use it with --machine {path.stem if by_name else path})", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
