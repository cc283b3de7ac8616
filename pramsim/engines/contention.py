"""Concurrent access to one cell in one step: what each PRAM model allows, and what contention costs.

A step is one statement executed by every active processor (reads happen before writes).
`refuse_concurrent` applies the models' rules (EREW, CREW, CRCW-common refuse some concurrent
accesses; CRCW-arbitrary and -priority resolve concurrent writes).

Two things queue this way in the vector engine: the atomics of one step (always), and every load
and store under the QRQW PRAM model (`--model qrqw`, queue-read queue-write: Gibbons, Matias and
Ramachandran). A cell serves one access per step, in the order they arrive: k accesses to a cell
in one step take k steps, so a step costs its maximum contention. The atomics of one step to one
cell apply one after another in processor order (deterministic, so runs are reproducible).

`queue_delays` gives each access its extra steps; `apply_atomic` computes an atomic's old values
and updates the array. Both take the accesses in processor order, as the vector engine lists its
active processors.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExecutionError, Loc
from ..lang import ops

MODELS = ("crcw-arbitrary", "crcw-common", "crcw-priority", "crew", "erew", "qrqw")
EXCLUSIVE_READ = {"erew"}
EXCLUSIVE_WRITE = {"erew", "crew"}
CHECKED_WRITES = EXCLUSIVE_WRITE | {"crcw-common"}  # models that look at every step's written cells
CHECKED_READS = EXCLUSIVE_READ | {"qrqw"}           # ... and at every step's read cells
_VECTOR_ROUNDS = 64  # ranks applied as vector rounds; a cell with more accesses finishes one cell at a time


def refuse_concurrent(model: str, name: str, shape: tuple[int, ...], full: tuple[np.ndarray, ...],
                      procs: np.ndarray, kind: str, values: np.ndarray | None, per_processor: bool, loc: Loc) -> None:
    """Raise where two processors (`procs`, in order) read or write (`kind`) one cell in one step and
    `model` forbids it. `full`: their indices into the backing array of `shape`, whose first
    dimension is the block or processor when `per_processor` (shared and local arrays)."""
    flat = flat_cells(full, shape)
    order = np.argsort(flat, kind="stable")
    same = np.flatnonzero(flat[order][1:] == flat[order][:-1])
    if not len(same):
        return
    if kind == "write" and model not in EXCLUSIVE_WRITE:  # crcw-common: equal values only
        v = values[order]
        differ = same[v[same] != v[same + 1]]
        if not len(differ):
            return
        same = differ
    a, b = int(procs[order][same[0]]), int(procs[order][same[0] + 1])
    cell = np.unravel_index(int(flat[order][same[0]]), shape)
    cell = cell[1:] if per_processor else cell
    what = "with different values " if kind == "write" and model == "crcw-common" else ""
    raise ExecutionError(
        f"concurrent {kind} of {name}[{', '.join(str(int(c)) for c in cell)}] {what}by processors {a} and {b} "
        f"in one step, which the {model.upper()} model forbids", loc=loc,
        hint=f"give each processor its own cell, or run with a stronger model that allows it: "
             f"{', '.join(f'--model {m}' for m in _allowing(kind, model))}")


def flat_cells(cells: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Flat cell numbers of some (multi-dimensional) indices into an array of `shape`."""
    return np.ravel_multi_index(cells, shape) if len(cells) > 1 else np.asarray(cells[0])


def _allowing(kind: str, model: str) -> list[str]:
    """The PRAM models stronger than `model` that allow a concurrent `kind` ("read"/"write") access
    (crcw-common allows concurrent writes of equal values only; qrqw allows both, at a cost)."""
    if kind == "read":
        return ["crew", "crcw-common", "crcw-arbitrary", "crcw-priority", "qrqw"]
    return (["crcw-common"] if model != "crcw-common" else []) + ["crcw-arbitrary", "crcw-priority", "qrqw"]


def _segments(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, starts, rank): the accesses sorted by cell (stable: processor order within a cell),
    where each cell's run starts in that order, and each sorted access's place in its cell's queue."""
    order = np.argsort(cells, kind="stable")
    sorted_cells = cells[order]
    new = np.r_[True, sorted_cells[1:] != sorted_cells[:-1]] if len(cells) else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    rank = np.arange(len(cells)) - np.repeat(starts, np.diff(np.r_[starts, len(cells)]))
    return order, starts, rank


def queue_delays(cells: np.ndarray, start: Any) -> np.ndarray | None:
    """The steps each access waits in its cell's queue, beyond its own one step (None: nobody waits).

    `start` is each access's step before it (a vector, or one number for all): a depth counter's
    value. A cell serves its accesses in the order they arrive (by start, processor order among
    equals): the r-th completes at max(its own start + 1, the (r-1)-th's completion + 1), so with one
    start for all, the r-th waits r steps. Every step up to the last completion holds some access,
    so the parallelism profile has no empty steps (Brent's bounds keep holding). The values of
    atomics apply in processor order all the same (apply_atomic): only the cost is by arrival."""
    if len(cells) < 2:
        return None
    s = np.broadcast_to(np.asarray(start, np.int64), cells.shape)
    order = np.lexsort((s, cells))  # by cell, then arrival; stable, so processor order breaks ties
    c, s = cells[order], s[order]
    new = np.r_[True, c[1:] != c[:-1]]
    if new.all():
        return None
    starts = np.flatnonzero(new)
    segment = np.cumsum(new) - 1
    rank = np.arange(len(c)) - starts[segment]
    key = s - rank
    # segmented running maximum of key: offset each cell's run above all earlier runs
    span = int(key.max() - key.min()) + 1
    lifted = np.maximum.accumulate(segment * span + (key - key.min()))
    completion = lifted - segment * span + key.min() + rank + 1
    delays = np.empty(len(c), np.int64)
    delays[order] = completion - s - 1
    return delays


def apply_atomic(op: ops.AtomicOp, buf: np.ndarray, index: tuple[np.ndarray, ...], args: list[np.ndarray]) -> np.ndarray:
    """Apply the atomics of one step to `buf` at `index` (the processors' indices, in processor
    order), one after another per cell; return each one's old value (the array's dtype). A buffer
    that is not C-contiguous is a --counts-only stand-in (pramsim.engines.counts): read, not written."""
    if not buf.flags.c_contiguous:
        return buf[index]
    flat, cells = buf.reshape(-1), flat_cells(index, buf.shape)
    args = [np.asarray(a).astype(flat.dtype, copy=False) for a in args]
    old = np.empty(len(cells), flat.dtype)
    if not len(cells):
        return old
    order, starts, rank = _segments(cells)
    c = cells[order]
    a = [x[order] for x in args]
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(rank))]
    for r in range(min(len(bounds) - 1, _VECTOR_ROUNDS)):  # the r-th access of every cell at once
        at = by_rank[bounds[r]:bounds[r + 1]]
        old[order[at]] = _step(op, flat, c[at], [x[at] for x in a])
    if len(bounds) - 1 > _VECTOR_ROUNDS:  # the rest of the long queues, one cell at a time
        ends = np.r_[starts[1:], len(cells)]
        for s, e in zip(starts, ends):
            if e - s > _VECTOR_ROUNDS:
                first = s + _VECTOR_ROUNDS
                old[order[first:e]] = _sequence(op, flat, int(c[s]), [x[first:e] for x in a])
    return old


def _step(op: ops.AtomicOp, flat: np.ndarray, cells: np.ndarray, args: list[np.ndarray]) -> np.ndarray:
    """One access to each of some distinct cells."""
    before = flat[cells].copy()
    if op.name == "exch":
        flat[cells] = args[0]
    elif op.name == "cas":
        expected, new = args
        flat[cells] = np.where(before == expected, new, before)
    else:
        flat[cells] = op.update(before, args[0])
    return before


def _sequence(op: ops.AtomicOp, flat: np.ndarray, cell: int, args: list[np.ndarray]) -> np.ndarray:
    """Many accesses to one cell, in order (the ufunc's accumulate is sequential, so a float sum
    rounds as one-after-another additions would)."""
    current = flat[cell]
    if op.name == "exch":
        values = np.r_[current, args[0]].astype(flat.dtype)
        flat[cell] = values[-1]
        return values[:-1]
    if op.name == "cas":
        old = np.empty(len(args[0]), flat.dtype)
        for i, (expected, new) in enumerate(zip(*args)):
            old[i] = current
            if current == expected:
                current = new
        flat[cell] = current
        return old
    running = op.update.accumulate(np.r_[current, args[0]].astype(flat.dtype), dtype=flat.dtype)
    flat[cell] = running[-1]
    return running[:-1]
