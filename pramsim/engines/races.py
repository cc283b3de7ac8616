"""Shared-memory race detection (`--check-races`): two lanes of a block touch one shared cell,
at least one writing, with no barrier between.

Per shared array and cell it remembers the last writer and the last reader (lane, line) and the
barrier epoch of the access; an access by another lane in the same epoch that conflicts is a
race. Within one statement the executor reads before it writes (PRAM semantics), but on a GPU a
read and a write of one cell by different lanes without a barrier are a race all the same, so
they are reported too. Atomics (atomic_add, ...) do not race with each other, but do with a plain
read or write of the cell by another lane in the same barrier interval (a cell that several lanes
updated atomically races with a plain access by any lane). Limits: only the last reader of a cell is remembered, so a race with an
earlier of several readers can go unseen; global (HBM) arrays are not checked (races between
blocks need atomics or a new launch, which the lockstep executor does not model).
"""
from __future__ import annotations

import numpy as np

from ..errors import ExecutionError, Loc


_CONFLICTING = {"read": "wa", "write": "wra", "atomic": "wr"}  # which earlier accesses each kind races with
_WHO = {"w": "write", "r": "read", "a": "atomic"}
_SEVERAL = -2  # the lane recorded for a cell that several lanes updated atomically: no lane is it
_VERBS = {"read": ("reads", "read"), "write": ("writes", "wrote"), "atomic": ("atomically updates", "atomically updated")}


class RaceTracker:
    def __init__(self) -> None:
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.epoch = 0

    def barrier(self) -> None:
        self.epoch += 1

    def _arrays(self, name: str, size: int) -> dict[str, np.ndarray]:
        st = self.state.get(name)
        if st is None:
            st = {f"{who}_{what}": np.full(size, -1, np.int64) for who in "wra" for what in ("epoch", "lane", "line")}
            self.state[name] = st
        return st

    def access(self, name: str, shape: tuple[int, ...], full: tuple[np.ndarray, ...], lanes: np.ndarray,
               kind: str, loc: Loc) -> None:
        """Record reads, writes or atomics (`kind`) of cells `full` (block, index...) by `lanes`; raise on a
        race. Atomics do not race with each other, only with plain reads and writes."""
        if not len(lanes):
            return
        flat = np.ravel_multi_index(full, shape)
        st = self._arrays(name, int(np.prod(shape)))
        e = self.epoch
        for other in _CONFLICTING[kind]:
            conflicts = (st[f"{other}_epoch"][flat] == e) & (st[f"{other}_lane"][flat] != lanes)
            if conflicts.any():
                k = int(np.argmax(conflicts))
                c = flat[k]
                self._raise(name, shape, c, int(lanes[k]), _VERBS[kind][0], loc.line,
                            int(st[f"{other}_lane"][c]), _VERBS[_WHO[other]][1], int(st[f"{other}_line"][c]), loc)
        if kind == "write":  # two lanes writing one cell in this very statement
            order = np.argsort(flat, kind="stable")
            dup = np.flatnonzero(flat[order][1:] == flat[order][:-1])
            if len(dup):
                i, j = order[dup[0]], order[dup[0] + 1]
                self._raise(name, shape, flat[i], int(lanes[j]), "writes", loc.line, int(lanes[i]), "writes", loc)
        prefix = kind[0]
        recorded = lanes
        if kind == "atomic":  # a cell updated by several lanes in this interval races with a plain access by any
            recorded = np.where((st["a_epoch"][flat] == e) & (st["a_lane"][flat] != lanes), _SEVERAL, lanes)
            order = np.argsort(flat, kind="stable")
            dup = np.flatnonzero(flat[order][1:] == flat[order][:-1])
            recorded[order[dup]] = recorded[order[dup + 1]] = _SEVERAL
        st[f"{prefix}_epoch"][flat] = e
        st[f"{prefix}_lane"][flat] = recorded
        st[f"{prefix}_line"][flat] = loc.line

    @staticmethod
    def _raise(name: str, shape: tuple[int, ...], cell: int, lane: int, verb: str, line: int, other_lane: int,
               other_verb: str, other_line: int, loc: Loc) -> None:
        idx = np.unravel_index(int(cell), shape)
        block, index = int(idx[0]), ", ".join(str(int(i)) for i in idx[1:])
        raise ExecutionError(
            f"shared-memory race on {name}[{index}] in block {block}: lane {lane} {verb} it (line {line}) and "
            f"{'other lanes' if other_lane == _SEVERAL else f'lane {other_lane}'} {other_verb} it (line {other_line}) "
            f"with no barrier() between", loc=loc,
            hint="put a barrier() between the write and the other lane's access")
