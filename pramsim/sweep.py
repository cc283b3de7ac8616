"""Sweeps: run a program over a grid of parameters and processor counts.

`n=64..65536` is a geometric range (x2 per point; `n=64..65536:4` for x4), `p=1,2,4` a list,
`d=64` one value. Points are independent and run in parallel worker processes; each finished
point is appended to the CSV at once, in one write, so an interrupted sweep keeps what it had,
whole rows only: on Ctrl-C the worker processes are terminated at once, the rows already written
stay, and `pramsim sweep` exits with code 130.

The CSV (see open_csv): a lock beside it (`F.csv.lock`) keeps a second sweep off it; finished
rows already in it are never overwritten silently: `existing="resume"` keeps them and runs only
the missing points, `"overwrite"` starts again, and the default refuses.
"""
from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import multiprocessing
import os
import re
import signal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import outfile
from .dsl import Program
from .errors import ParameterError, ProgramError
from .runner import check_range, parse_int, parse_positive_int

COLUMNS = ["work", "depth", "steps", "brent_lower", "brent_upper", "brent_holds", "speedup", "efficiency",
           "correct", "max_rel_error", "time_s", "device_s", "host_s", "hbm_bytes", "peak_hbm_bytes", "sram_bytes",
           "sram_per_block_bytes", "flop", "depth_flop", "program", "machine", "seed", "engine"]
# What a row also depends on besides its parameters: a resumed sweep reruns rows that differ in these.
RUN_SETTINGS = ["program", "machine", "seed", "engine"]
COUNTS_ONLY_ENGINE = "counts-only"  # the engine column of a --counts-only sweep (pramsim.engines.counts)


def parse_axis(text: str) -> tuple[str, list[int]]:
    """'n=64..4096' -> ('n', [64, 128, ..., 4096]); 'p=1,3,8' -> ('p', [1, 3, 8])."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise ParameterError(f"sweep axis {text!r} is not name=values", hint="e.g. n=64..65536, p=1,2,4 or d=64")
    if ".." in spec:
        lo_text, _, rest = spec.partition("..")
        hi_text, _, factor_text = rest.partition(":")
        lo, hi = parse_positive_int(name, lo_text), parse_positive_int(name, hi_text)
        factor = parse_positive_int(name, factor_text) if factor_text else 2
        if factor < 2 or hi < lo:
            raise ParameterError(f"sweep range {text!r} needs low <= high and a factor of at least 2")
        values = []
        v = lo
        while v <= hi:
            values.append(v)
            v *= factor
        return name, values
    return name, [parse_int(name, part) for part in spec.split(",")]  # ranges are checked in grid()


MAX_POINTS = 100_000  # a grid larger than this is a typo, and its list of points alone would fill memory


def grid(program: Program, axes: Iterable[str]) -> tuple[list[str], list[dict[str, int]]]:
    """The sweep's axis names and every point of their product (usage errors: unknown or repeated
    names, more than MAX_POINTS points)."""
    parsed = [_text_axis(a) if _is_text_param(program, a) else parse_axis(a) for a in axes]
    parsed = [(n, list(dict.fromkeys(values))) for n, values in parsed]  # p=1,1,2: each point once
    names = [n for n, _ in parsed]
    for k, n in enumerate(names):
        if n != "p" and n not in program.params:
            raise ParameterError(f"{program.name} has no parameter {n!r}",
                                 hint=f"its parameters are {', '.join(program.params)}; p is the processor count")
        if n in names[:k]:
            raise ParameterError(f"sweep axis {n} is given twice", hint=f"give {n} once, e.g. {n}=64..1024 or {n}=1,2,4")
    size = math.prod(len(values) for _, values in parsed)
    if size > MAX_POINTS:
        raise ParameterError(f"this sweep has {size:,} points, more than {MAX_POINTS:,}",
                             hint="use fewer values per axis (n=64..65536:4 steps by x4)")
    for n, values in parsed:  # a parameter within its declared range (pad=0,1 where pad allows 0); p >= 1
        for v in values:
            if isinstance(v, str):
                continue  # a text parameter (graph=path): any text
            if n != "p":
                check_range(program, n, v)
            elif v < 1:
                raise ParameterError(f"parameter p={v} must be at least 1", hint="p is the processor count")
    points = [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in parsed))]
    return names, points


def _is_text_param(program: Program, axis: str) -> bool:
    """Whether sweep axis 'name=...' sets a text parameter (graph=path,star): its values are texts."""
    return isinstance(program.params.get(axis.partition("=")[0].strip()), str)


def _text_axis(text: str) -> tuple[str, list[str]]:
    """'graph=path,star' -> ('graph', ['path', 'star'])."""
    name, _, spec = text.partition("=")
    values = [v.strip() for v in spec.split(",")]
    if not all(values):
        raise ParameterError(f"sweep axis {text!r} has an empty value", hint=f"e.g. {name.strip()}=path,star")
    return name.strip(), values


def run_point(program_path: str, point: dict[str, int], machine: str, seed: int,
              engine: str = "vector") -> dict[str, Any]:
    """One sweep point (runs in a worker process)."""
    from .machine import load_machine
    from .programs import load_program
    from .runner import run_program
    program = load_program(program_path)
    spec = load_machine(machine)
    p = point.get("p")
    if p is not None:
        spec = spec.with_processors(p)
    params = {**program.params, **{k: v for k, v in point.items() if k != "p"}}
    counts_only = engine == COUNTS_ONLY_ENGINE
    r = run_program(program, params, spec, seed, engine="vector" if counts_only else engine, counts_only=counts_only)
    t = r.trace
    return {**params, "p": r.p, "work": t.work, "depth": t.depth, "steps": r.schedule.steps,
            "brent_lower": r.brent.lower, "brent_upper": r.brent.upper, "brent_holds": r.brent.holds,
            "speedup": r.speedup, "efficiency": r.efficiency,
            "correct": r.comparison.correct, "max_rel_error": r.comparison.max_rel_error,
            "time_s": r.schedule.time_s, "device_s": r.schedule.device_s, "host_s": r.schedule.host_s,
            "hbm_bytes": t.hbm_bytes,
            "peak_hbm_bytes": t.peak_hbm_bytes, "sram_bytes": t.bytes[("sram", "read")] + t.bytes[("sram", "write")],
            "sram_per_block_bytes": max((launch.sram_per_block for launch in t.launches), default=0),
            "flop": t.category("flop"), "depth_flop": t.depth_by_class["flop"],
            "program": program.name, "machine": machine, "seed": seed, "engine": engine}


def _run_point_star(args: tuple[str, dict[str, int], str, int, str]) -> dict[str, Any]:
    return run_point(*args)


def _init_worker(threads: int, parent: int) -> None:
    """A sweep worker: Ctrl-C is the main process's to handle; the compiled engine gets its share
    of the CPUs (the workers already run in parallel); it ends, quietly, when the main process dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("PRAMSIM_THREADS", str(threads))
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """End this worker when process `parent` dies (killed, say). Otherwise it would finish its point
    and print multiprocessing's BrokenPipeError traceback sending the result to no one. Linux: the
    kernel sends SIGTERM at the parent's death (prctl PR_SET_PDEATHSIG), whose default action ends
    the process silently; elsewhere a thread polls for the parent every half second."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(1, signal.SIGTERM, 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        armed = False
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(0)
    if not armed:
        import threading
        import time

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)
        threading.Thread(target=watch, daemon=True, name="pramsim-parent-watch").start()


def run_sweep(program: Program, axes: Iterable[str], machine: str = "pram", seed: int = 0, jobs: int | None = None,
              csv_path: Path | None = None, progress: Callable[[int, int], None] | None = None,
              scheduler: str | None = None, engine: str = "vector", existing: str = "refuse") -> list[dict[str, Any]]:
    """Run every point; with `scheduler` (a Dask distributed address) the points run on that cluster.

    The cluster's workers must be able to import pramsim and read the program file at the same path.
    `existing` says what to do with finished rows already in `csv_path` (see open_csv); with
    "resume", the points they hold are not run again, and the rows returned include them.
    """
    names, points = grid(program, axes)
    header = list(program.params) + ["p"] + COLUMNS
    rows: list[dict[str, Any]] = []
    text = [k for k, v in program.params.items() if isinstance(v, str)]
    with open_csv(csv_path, header, existing, text) if csv_path else contextlib.nullcontext() as out:
        kept = {point_key(program, names, r): r for r in out.kept} if out else {}
        settings = {"program": program.name, "machine": machine, "seed": seed, "engine": engine}
        keys = [point_key(program, names, {**program.params, **pt, **settings}) for pt in points]
        todo = [pt for pt, key in zip(points, keys) if key not in kept]
        rows = [kept[key] for key in keys if key in kept]
        jobs = jobs or max(1, min(len(todo), os.cpu_count() or 1))

        def record(row: dict[str, Any]) -> None:
            rows.append(row)
            if out:
                out.write(row)
            if progress:
                progress(len(rows), len(points))

        if not todo:  # every point is in the CSV already: start no workers
            pass
        elif scheduler:
            for row in _run_on_dask(scheduler, program.file, todo, machine, seed, engine):
                record(row)
        elif jobs == 1:
            for point in todo:
                record(run_point(program.file, point, machine, seed, engine))
        else:
            # Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only this process
            # should answer it; leaving the `with` on an exception terminates the workers at once
            # (a ProcessPoolExecutor would first finish the points already queued).
            threads = max(1, (os.cpu_count() or 1) // jobs)
            with multiprocessing.Pool(jobs, initializer=_init_worker, initargs=(threads, os.getpid())) as pool:
                for row in pool.imap_unordered(_run_point_star, [(program.file, p, machine, seed, engine) for p in todo]):
                    record(row)
    order = {json.dumps(p, sort_keys=True): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: order.get(json.dumps({k: r[k] for k in names}, sort_keys=True), 0))
    return rows


def point_key(program: Program, names: list[str], values: dict[str, Any]) -> tuple[str, ...]:
    """What identifies a row in the CSV: the run settings, every program parameter, and p when p
    is swept (else p is the machine's). As text, as the CSV holds it."""
    fields = RUN_SETTINGS + list(program.params) + (["p"] if "p" in names else [])
    return tuple(str(values[k]) for k in fields)


# ---- the CSV -------------------------------------------------------------------------------------

class CsvRows:
    """An open sweep CSV: `kept` holds the finished rows found in it (typed as run_point's);
    `write` appends one row in one write."""

    def __init__(self, fd: int, path: Path, header: list[str], kept: list[dict[str, Any]]):
        self.fd, self.path, self.header, self.kept = fd, path, header, kept

    def write(self, row: dict[str, Any]) -> None:
        outfile.append_whole(self.fd, _csv_line(self.header, row), self.path)


@contextlib.contextmanager
def open_csv(path: Path, header: list[str], existing: str = "refuse",
             text_columns: Iterable[str] = ()) -> Iterator[CsvRows]:
    """The sweep's CSV, opened before any point runs and held (locked) until the sweep ends.

    `existing`: what to do when the file already holds something. "refuse" (a ParameterError
    naming --resume and --overwrite), "overwrite" (start again), or "resume": keep its whole rows
    byte for byte after checking that its header is `header` and every row's cells (see
    _row_error; `text_columns`: the program's text parameters); a torn last row (a crash while it
    was written) is dropped, and its point runs again. The header and kept rows are put in place
    by temp-and-rename; rows are then appended. Another sweep holding `F.csv.lock` is a FileError.
    A device or FIFO (/dev/stdout) is written directly: no lock, and nothing to resume.
    """
    if outfile.writes_in_place(path):
        if existing == "resume":
            raise ParameterError(f"--resume needs a regular file; {path} is not one", hint="give a .csv file")
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as exc:
            raise outfile.output_error(path, exc, "open") from None
        try:
            outfile.append_whole(fd, _csv_line(header, None), path)
            yield CsvRows(fd, path, header, [])
        finally:
            os.close(fd)
        return
    # A symlink is written, and locked, as its target: a sweep given the target's own name (or
    # another link to it) then finds the same lock, and the link stays a link.
    real = Path(os.path.realpath(path))
    lock = real.with_name(real.name + ".lock")
    with outfile.exclusive_lock(lock, busy=f"another pramsim sweep is writing {path} (it holds {lock})",
                                hint="wait until it ends, or write this sweep to another --csv file"):
        kept_lines = _kept_lines(real, header, existing, text_columns, shown=path)
        outfile.write_bytes(real, _csv_line(header, None) + b"".join(kept_lines))
        try:
            fd = os.open(real, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise outfile.output_error(path, exc, "open") from None
        try:
            yield CsvRows(fd, path, header, [_typed(header, line) for line in kept_lines])
        finally:
            os.close(fd)


def _csv_line(header: list[str], row: dict[str, Any] | None) -> bytes:
    """One CSV record (the header when `row` is None), as csv.DictWriter writes it."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header)
    if row is None:
        writer.writeheader()
    else:
        writer.writerow(row)
    return buf.getvalue().encode()


def _kept_lines(real: Path, header: list[str], existing: str, text_columns: Iterable[str] = (),
                shown: Path | None = None) -> list[bytes]:
    """The finished rows of the file `real` to keep (raw bytes), or a refusal (see open_csv)
    naming it as `shown` (the path as given)."""
    path = shown or real
    try:
        data = real.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise outfile.output_error(path, exc, "read") from None
    if not data or existing == "overwrite" or data == _csv_line(header, None):  # nothing to lose
        return []
    lines = data.splitlines(keepends=True)
    if existing != "resume":
        raise ParameterError(f"--csv {path} already exists and holds {max(len(lines) - 1, 0)} rows",
                             hint="add --resume to keep them and run only the missing points, or --overwrite to "
                                  "start again")
    found = _fields(lines[0])
    if found != header:
        raise ParameterError(f"--resume: the columns of {path} are not this sweep's",
                             hint=f"it has {','.join(found or [])[:200]}; this sweep writes {','.join(header)[:200]}; "
                                  "resume with the same program, or use another --csv file (or --overwrite)")
    kept = []
    for i, line in enumerate(lines[1:], start=2):
        if line.endswith(b"\n") and len(_fields(line) or []) == len(header):
            problem = _row_error(header, _fields(line) or [], set(text_columns))
            if problem:  # a whole line, so not torn: something else wrote it
                raise ParameterError(f"--resume: line {i} of {path} is not a row a sweep wrote: {problem}",
                                     hint="fix or remove that line, or start again with --overwrite")
            kept.append(line)
        elif i < len(lines):  # only the last row can be torn (a crash while it was written)
            raise ParameterError(f"--resume: line {i} of {path} is not a whole row of this sweep",
                                 hint="fix or remove that line, or start again with --overwrite")
    return kept


# What each column of a row holds, as run_point writes it ("" is None); the program's parameters,
# p and the other columns are integers (a text parameter: any text).
_BOOLEANS = {"brent_holds": "True or False", "correct": "True, False or empty (not compared)"}
_NUMBERS = {"brent_lower", "brent_upper", "speedup", "efficiency", "max_rel_error"}
_OPTIONAL_NUMBERS = {"time_s", "device_s", "host_s"}  # empty on a PRAM profile
_TEXT = {"program", "machine", "engine"}


def _row_error(header: list[str], cells: list[str], text_columns: set[str]) -> str:
    """What is wrong with a CSV row's cells ("" if nothing): the first cell that is not what its
    column holds, or that holds a NUL byte or another control character."""
    for name, text in zip(header, cells):
        if not text.isprintable():
            return f"{name} holds an unprintable character ({text[:40]!r})"
        if name in _BOOLEANS:
            ok, kind = text in ("True", "False") or (name == "correct" and not text), _BOOLEANS[name]
        elif name in _NUMBERS or name in _OPTIONAL_NUMBERS:
            ok = _is_number(text) or (name in _OPTIONAL_NUMBERS and not text)
            kind = "a number or empty" if name in _OPTIONAL_NUMBERS else "a number"
        elif name in _TEXT or name in text_columns:
            ok, kind = bool(text), "a name"
        else:
            ok, kind = re.fullmatch(r"-?[0-9]+", text) is not None, "an integer"
        if not ok:
            return f"{name}={text[:40]!r} is not {kind}"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fields(line: bytes) -> list[str] | None:
    """A CSV line's fields, or None when it is not text."""
    try:
        return next(csv.reader([line.decode()]), [])
    except (UnicodeDecodeError, csv.Error):
        return None


def _typed(header: list[str], line: bytes) -> dict[str, Any]:
    """A CSV row as run_point returned it: ints, floats and booleans from their text."""
    return {name: _cell(text) for name, text in zip(header, _fields(line) or [])}


def _cell(text: str) -> Any:
    """A kept CSV cell back as the value a fresh row has (csv writes None as an empty cell)."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _run_on_dask(address: str, program_file: str, points: list[dict[str, int]], machine: str, seed: int,
                 engine: str = "vector"):
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise ProgramError("--scheduler needs Dask distributed", hint="pip install 'pramsim[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (ValueError, TypeError) as exc:  # distributed's parse of a malformed address
        raise ParameterError(f"--scheduler {address!r} is not a Dask scheduler address: {exc}",
                             hint="e.g. --scheduler tcp://127.0.0.1:8786 (`dask scheduler` prints its address)") from None
    except OSError as exc:
        raise ProgramError(f"cannot reach the Dask scheduler at {address}: {exc}",
                           hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`") from None
    with client:
        futures = [client.submit(run_point, program_file, point, machine, seed, engine, pure=False) for point in points]
        for future in dask_completed(futures):
            yield future.result()
