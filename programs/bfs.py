"""Breadth-first search, level by level, on a graph in CSR form, by one block of 256 processors.

The frontier (the vertices at distance L) is a queue. Each level, the block's processors take its
vertices a block at a time and scan their edges; a processor that finds an unvisited neighbour u
claims it with atomic_cas(dist, u, -1, L + 1) (exactly one claimant wins) and appends u to the
next frontier. The appends are **warp-aggregated**: the 32 lanes of a warp count their finds with
register shuffles (suffix sums by shfl_down, a broadcast by a shfl_xor butterfly), one lane reserves
the warp's slots with a single atomic_add on the queue's length, and each lane writes at its
offset (suffix order: the order of a frontier does not matter). Without that, every find would be an atomic on one counter: the k finds of a step would
queue for k steps (pramsim charges contention as depth), and a level would cost its frontier's size.

Cost, with Δ the largest degree in a warp's 32 vertices: W = Θ(n + m) for graphs whose degrees
are even within a warp (paths, grids, random graphs; one hub makes its warp scan Δ edges on all
32 lanes), plus a warp's work per level: Θ(n + m + 32 · diameter) in all; D = Θ(Σ over levels of ⌈frontier / 256⌉ · Δ), that is Θ(diameter)
for bounded degree and frontiers up to 256: a path of n vertices takes Θ(n), a k×k grid Θ(k), a
star from its centre Θ(n) (one lane scans the centre's n − 1 edges). One block is the limit: the
number of levels is not known to the host (host code never reads device memory), so the levels
loop inside one kernel, and only a block can synchronise with barrier().

Graphs: graph=grid (default; diameter about 2√n), random, path, star, or an edge-list file
(pramsim/graphs.py). The source is vertex 0; unreachable vertices keep distance -1.
"""
from collections import deque

import numpy as np

from pramsim import graphs
from pramsim.dsl import (atomic_add, atomic_cas, barrier, block_dim, gid, int32, int64, kernel, lane, program,
                         require, shfl_down, shfl_xor, zeros)

BLOCK = 256  # processors, at most: a block of whole warps no larger than the graph


@kernel
def unvisited(dist, n):
    v = gid()
    if v < n:
        dist[v] = -1


@kernel(readonly=("row", "col"))
def levels(row, col, dist, frontier, sizes, n):
    t = lane()
    w = t % 32
    if t == 0:
        dist[0] = 0
        frontier[0] = 0
        sizes[0] = 1
    barrier()
    size = sizes[0]
    cur = 0
    level = 0
    while size > 0:
        k0 = 0
        while k0 < size:                 # the frontier, block_dim() vertices at a time
            k = k0 + t
            if k - w < size:             # a warp with a frontier vertex (the others skip at once)
                start = row[frontier[cur * n + k]] if k < size else 0
                deg = row[frontier[cur * n + k] + 1] - start if k < size else 0
                most = deg
                d = 16
                while d > 0:                 # the warp's largest degree: its lanes loop together
                    most = max(most, shfl_xor(most, d))
                    d = d // 2
                j = 0
                while j < most:
                    found = 0
                    u = 0
                    if j < deg:
                        u = col[start + j]
                        if atomic_cas(dist, u, -1, level + 1) == -1:
                            found = 1
                    after = found            # finds at this lane and above (suffix sums)
                    d = 1
                    while d < 32:
                        x = shfl_down(after, d)
                        if w + d < 32:
                            after = after + x
                        d = d * 2
                    base = 0                 # lane 0 holds the warp's total: it reserves that many slots
                    if w == 0 and after > 0:
                        base = atomic_add(sizes, 1, after)
                    d = 16
                    while d > 0:             # lane 0's reservation to every lane (the others add 0)
                        base = base + shfl_xor(base, d)
                        d = d // 2
                    if found == 1:           # slots in reverse lane order: the frontier's order is free
                        frontier[(1 - cur) * n + base + after - 1] = u
                    j = j + 1
            k0 = k0 + block_dim()
        barrier()
        if t == 0:
            sizes[0] = sizes[1]
            sizes[1] = 0
        barrier()
        size = sizes[0]
        cur = 1 - cur
        level = level + 1


def csr(n, src, dst):
    """Row pointers and column indices of the directed edges (src, dst), sorted by source."""
    order = np.lexsort((dst, src))
    row = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(src, minlength=n), out=row[1:])
    return row, dst[order].astype(np.int32)


def make_inputs(rng, n, deg, graph):
    row, col = csr(n, *graphs.both_ways(*graphs.edges(graph, n, rng, deg)))
    return {"row": row, "col": col}


def reference(row, col, n, deg, graph):
    """Distances from vertex 0 by a sequential BFS (-1: unreachable)."""
    dist = np.full(n, -1, np.int64)
    dist[0] = 0
    queue = deque([0])
    while queue:
        v = queue.popleft()
        for u in col[row[v]:row[v + 1]]:
            if dist[u] < 0:
                dist[u] = dist[v] + 1
                queue.append(u)
    return dist


@program(params={"n": 64, "deg": 2, "graph": "grid"}, inputs=make_inputs, reference=reference,
         # a level costs at least one warp: W = Θ(n + 32 · diameter), and a grid's diameter is about 2√n
         work="n + 64 sqrt n", depth="sqrt n", ranges={"deg": (0, None)}, rtol=0.0,
         counts={"launches": "2"},
         sweep={"n": [16, 64, 256, 1024, 4096, 16384]})
def bfs(row, col, n, deg, graph):
    """Distances from vertex 0, level by level: one block, warp-aggregated atomics for the frontier."""
    require(n >= 1, "n must be at least 1")
    dist = zeros(n, int32)
    frontier = zeros(2 * n, int32)
    sizes = zeros(2, int64)
    unvisited[n](dist, n)
    levels[1, min(BLOCK, -(-n // 32) * 32)](row, col, dist, frontier, sizes, n)
    return dist
