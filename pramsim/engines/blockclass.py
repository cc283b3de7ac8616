"""Which blocks of a launch execute alike: classes for --counts-only (pramsim.engines.counts).

In a data-oblivious kernel a block's execution depends on its id only through the block-variant
uses (`oblivious.block_variant`: conditions, loop bounds and shared-memory indices computed from
block_id() or gid()) and through how many of its lanes exist (the last block may be partial).
Each such use is evaluated over every block at once, in interval arithmetic over the block's
lanes (NumPy, one vector per node): a block on which every use takes one value, the same at
every evaluation, executes exactly like any other block with the same values and lane count.
A block on which some use takes several values (the block that straddles `i < n`) runs by
itself. Blocks of one class also start at processors equal modulo SECTOR_BYTES (b·block mod 32 is
part of the key; one value when the block size is a multiple of 32): a global index affine in
gid() with integer coefficients then differs between them by a multiple of 32 elements, whole
sectors, so their global-memory sectors (coalescing) are equal too. Other global indices (affine
in block_id(), or through // and %) are not analysed: the class gets its representative's
sectors, exact when its blocks' accesses are the representative's shifted by whole sectors.

What the interval evaluation understands: constants, scalar parameters, the id intrinsics,
variables assigned once, at the kernel's top level, before the use (their definition is
substituted), + - * // % (positive constant divisor), comparisons, and/or/not, min/max, on
integers and bools. Anything else (a loop variable, a variable assigned twice, a float) is
"unknown", and the blocks run one by one: still exact, only slower.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..cost import SECTOR_BYTES
from ..lang import ir, oblivious

Interval = tuple[np.ndarray, np.ndarray]  # per block: lowest and highest value over its lanes


class Unknown(Exception):
    """The interval evaluation does not understand this expression."""


def classes(kernel: ir.Kernel, nprocs: int, block: int, scalars: dict[str, Any]) -> list[tuple[int, int, Any]]:
    """(lo, hi, members) for compiled.launch_classes: classes represented by block lo (members:
    the block ids it stands for), and (lo, hi, None) ranges of blocks that each run."""
    nblocks = -(-nprocs // block)
    if nblocks == 0:
        return []
    lanes = np.full(nblocks, block, np.int64)
    lanes[-1] = nprocs - (nblocks - 1) * block
    columns = [lanes, np.arange(nblocks, dtype=np.int64) * block % SECTOR_BYTES]  # see the module's docstring
    uses = oblivious.block_variant(kernel, oblivious.shared_arrays(kernel))
    alone = np.zeros(nblocks, bool)
    if uses:
        try:
            ev = _Evaluator(kernel, nprocs, block, nblocks, lanes, scalars)
            for use in uses:
                lo, hi = (np.broadcast_to(v, (nblocks,)) for v in ev.interval(use.expr, use.loc))
                alone |= lo != hi
                columns.append(lo)
        except Unknown:
            return [(0, nblocks, None)]
    return _group(np.stack(columns, axis=1), alone)


def _group(keys: np.ndarray, alone: np.ndarray) -> list[tuple[int, int, Any]]:
    """Blocks with equal key rows form a class (runs of equal rows found first: they are few)."""
    n = len(keys)
    change = np.r_[True, np.any(keys[1:] != keys[:-1], axis=1) | alone[1:] | alone[:-1]]
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], n]
    found: dict[bytes, list[tuple[int, int]]] = {}
    out: list[tuple[int, int, Any]] = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        if alone[a]:
            if out and out[-1][2] is None and out[-1][1] == a:
                out[-1] = (out[-1][0], b, None)
            else:
                out.append((a, b, None))
        else:
            found.setdefault(keys[a].tobytes(), []).append((a, b))
    for runs in found.values():
        members: Any = (slice(runs[0][0], runs[0][1]) if len(runs) == 1
                        else np.concatenate([np.arange(a, b) for a, b in runs]))
        out.append((runs[0][0], runs[0][0] + 1, members))
    return out


class _Evaluator:
    """Interval evaluation of block-variant expressions over all blocks of one launch."""

    def __init__(self, kernel: ir.Kernel, nprocs: int, block: int, nblocks: int, lanes: np.ndarray,
                 scalars: dict[str, Any]):
        self.scalars = scalars
        first = np.arange(nblocks, dtype=np.int64) * block
        b = np.arange(nblocks, dtype=np.int64)
        self.ids = {"gid": (first, first + lanes - 1), "block_id": (b, b), "lane": (np.zeros_like(lanes), lanes - 1),
                    "block_dim": _const(block), "num_blocks": _const(nblocks), "num_procs": _const(nprocs),
                    "warp_size": _const(32)}
        self.defs = _single_definitions(kernel)
        self.reassigned = _assigned(kernel) & set(kernel.param_names)  # not the launch's value everywhere

    def interval(self, e: ir.Expr, at: Any) -> Interval:
        if isinstance(e, ir.Const):
            if isinstance(e.value, float):
                raise Unknown
            return _const(int(e.value))
        if isinstance(e, ir.Intrinsic):
            return self.ids[e.name]
        if isinstance(e, ir.Var):
            if e.name in self.defs:
                return self.interval(self.defs[e.name], at)
            if e.name in self.reassigned:
                raise Unknown
            value = self.scalars.get(e.name)
            if isinstance(value, (bool, int, np.integer)) and not isinstance(value, float):
                return _const(int(value))
            raise Unknown
        if isinstance(e, ir.BinOp):
            return _binop(e.op, self.interval(e.left, at), self.interval(e.right, at))
        if isinstance(e, ir.Compare):
            return _compare(e.op, self.interval(e.left, at), self.interval(e.right, at))
        if isinstance(e, ir.BoolOp):
            (a, b), (c, d) = _truth(self.interval(e.left, at)), _truth(self.interval(e.right, at))
            if e.op == "and":
                return a & c, b & d
            return a | c, b | d
        if isinstance(e, ir.UnaryOp):
            lo, hi = self.interval(e.operand, at)
            if e.op == "not":
                t_lo, t_hi = _truth((lo, hi))
                return 1 - t_hi, 1 - t_lo
            if e.op == "-":
                return -hi, -lo
            raise Unknown
        if isinstance(e, ir.Call) and e.func in ("min", "max") and len(e.args) == 2:
            (a, b), (c, d) = (self.interval(x, at) for x in e.args)
            f = np.minimum if e.func == "min" else np.maximum
            return f(a, c), f(b, d)
        raise Unknown


def _truth(x: Interval) -> Interval:
    """The interval of bool(v) for v in [lo, hi]: surely true only when 0 is outside, surely false
    only when it is [0, 0] (the endpoints alone would call [-4, 3] always true)."""
    lo, hi = x
    zero_inside = (lo <= 0) & (hi >= 0)
    return (~zero_inside).astype(np.int64), ((lo != 0) | (hi != 0)).astype(np.int64)


def _const(v: int) -> Interval:
    x = np.int64(v)
    return x, x


def _binop(op: str, x: Interval, y: Interval) -> Interval:
    (a, b), (c, d) = x, y
    if op == "+":
        return a + c, b + d
    if op == "-":
        return a - d, b - c
    if op == "*" and np.ndim(c) == 0 and c == d:  # by a constant (the usual case): no four products
        return (a * c, b * c) if c >= 0 else (b * c, a * c)
    if op == "*" and np.ndim(a) == 0 and a == b:
        return _binop(op, y, x)
    if op == "*":
        products = (a * c, a * d, b * c, b * d)
        return np.minimum.reduce(products), np.maximum.reduce(products)
    if op in ("//", "%") and np.ndim(c) == 0 and c == d and c > 0:
        if op == "//":
            return a // c, b // c
        same = (a // c) == (b // c)  # within one period x % c grows with x
        return np.where(same, a % c, 0), np.where(same, b % c, c - 1)
    raise Unknown


def _compare(op: str, x: Interval, y: Interval) -> Interval:
    """A comparison's interval: 1 at the low end where it surely holds, 0 at the high end where it never does."""
    (a, b), (c, d) = x, y
    one = (a == b) & (c == d) & (a == c)  # both sides one and the same value
    apart = (b < c) | (a > d)
    sure, never = {"<": (b < c, a >= d), "<=": (b <= c, a > d), ">": (a > d, b <= c), ">=": (a >= d, b < c),
                   "==": (one, apart), "!=": (apart, one)}[op]
    return np.asarray(sure, np.int64), np.asarray(~never, np.int64)


def _single_definitions(kernel: ir.Kernel) -> dict[str, ir.Expr]:
    """Variables assigned exactly once, by a statement at the kernel's top level that nothing
    before it (nor its own value) reads: their value is that expression wherever they are read."""
    count: dict[str, int] = {}
    for s in ir.walk_stmts(kernel.body):
        if isinstance(s, ir.Assign):
            count[s.target] = count.get(s.target, 0) + 1
        elif isinstance(s, ir.For):
            count[s.var] = count.get(s.var, 0) + 2
    defs: dict[str, ir.Expr] = {}
    read: set[str] = set()  # variables read so far, in program order
    for s in kernel.body:
        reads = {n.name for sub in ir.walk_stmts((s,)) for e in ir.stmt_exprs(sub)
                 for n in ir.walk_expr(e) if isinstance(n, ir.Var)}
        if isinstance(s, ir.Assign) and count.get(s.target) == 1 and s.target not in read | reads:
            defs[s.target] = s.value
        read |= reads
    return {k: v for k, v in defs.items() if k not in _assigned(kernel) & set(kernel.param_names)}


def _assigned(kernel: ir.Kernel) -> set[str]:
    """The variables a kernel assigns (loop variables too)."""
    return {s.target if isinstance(s, ir.Assign) else s.var for s in ir.walk_stmts(kernel.body)
            if isinstance(s, (ir.Assign, ir.For))}
