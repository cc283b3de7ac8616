"""Sweeps: run a program over a grid of parameters and processor counts.

`n=64..65536` is a geometric range (x2 per point; `n=64..65536:4` for x4), `p=1,2,4` a list,
`d=64` one value. Points are independent and run in parallel worker processes; each finished
point is appended to the CSV at once, so an interrupted sweep keeps what it had: on Ctrl-C the
worker processes are terminated at once, the rows already written stay, and `pramsim sweep` exits
with code 130.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterable

from .dsl import Program
from .errors import ParameterError, ProgramError
from .runner import parse_positive_int

COLUMNS = ["work", "depth", "steps", "brent_lower", "brent_upper", "brent_holds", "speedup", "efficiency",
           "correct", "max_rel_error", "time_s", "hbm_bytes", "peak_hbm_bytes", "sram_bytes", "sram_per_block_bytes",
           "flop", "depth_flop"]


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
    return name, [parse_positive_int(name, part) for part in spec.split(",")]


MAX_POINTS = 100_000  # a grid larger than this is a typo, and its list of points alone would fill memory


def grid(program: Program, axes: Iterable[str]) -> tuple[list[str], list[dict[str, int]]]:
    """The sweep's axis names and every point of their product (usage errors: unknown or repeated
    names, more than MAX_POINTS points)."""
    parsed = [parse_axis(a) for a in axes]
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
    points = [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in parsed))]
    return names, points


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
    r = run_program(program, params, spec, seed, engine=engine)
    t = r.trace
    return {**params, "p": r.p, "work": t.work, "depth": t.depth, "steps": r.schedule.steps,
            "brent_lower": r.brent.lower, "brent_upper": r.brent.upper, "brent_holds": r.brent.holds,
            "speedup": t.work / max(r.schedule.steps, 1), "efficiency": t.work / max(r.p * r.schedule.steps, 1),
            "correct": r.comparison.correct, "max_rel_error": r.comparison.max_rel_error,
            "time_s": r.schedule.time_s, "hbm_bytes": t.bytes[("hbm", "read")] + t.bytes[("hbm", "write")],
            "peak_hbm_bytes": t.peak_hbm_bytes, "sram_bytes": t.bytes[("sram", "read")] + t.bytes[("sram", "write")],
            "sram_per_block_bytes": max((launch.sram_per_block for launch in t.launches), default=0),
            "flop": t.category("flop"), "depth_flop": t.depth_by_class["flop"]}


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
              scheduler: str | None = None, engine: str = "vector") -> list[dict[str, Any]]:
    """Run every point; with `scheduler` (a Dask distributed address) the points run on that cluster.

    The cluster's workers must be able to import pramsim and read the program file at the same path.
    """
    names, points = grid(program, axes)
    jobs = jobs or max(1, min(len(points), os.cpu_count() or 1))
    rows: list[dict[str, Any]] = []
    header = list(program.params) + ["p"] + COLUMNS
    writer = None
    handle = open(csv_path, "w", newline="") if csv_path else None
    try:
        if handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()

        def record(row: dict[str, Any]) -> None:
            rows.append(row)
            if writer and handle:
                writer.writerow(row)
                handle.flush()
            if progress:
                progress(len(rows), len(points))

        if scheduler:
            for row in _run_on_dask(scheduler, program.file, points, machine, seed, engine):
                record(row)
        elif jobs == 1:
            for point in points:
                record(run_point(program.file, point, machine, seed, engine))
        else:
            # Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only this process
            # should answer it; leaving the `with` on an exception terminates the workers at once
            # (a ProcessPoolExecutor would first finish the points already queued).
            threads = max(1, (os.cpu_count() or 1) // jobs)
            with multiprocessing.Pool(jobs, initializer=_init_worker, initargs=(threads, os.getpid())) as pool:
                for row in pool.imap_unordered(_run_point_star, [(program.file, p, machine, seed, engine) for p in points]):
                    record(row)
    finally:
        if handle:
            handle.close()
    order = {json.dumps(p, sort_keys=True): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: order.get(json.dumps({k: r[k] for k in names}, sort_keys=True), 0))
    return rows


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
