"""Graph inputs for graph programs (connected_components, bfs): generated families and edge-list files.

A program takes a text parameter `graph` (default "random") and calls `edges(graph, n, rng, deg)`
in its `inputs`:

- a family name builds a graph on the vertices 0..n-1 from the seeded generator: "random"
  (deg * n // 2 edges with uniform ends, no self-loops, repeats possible), "path" (0-1-...-(n-1)),
  "star" (vertex 0 joined to every other), "grid" (rows of ceil(n / isqrt(n)) vertices, each
  joined to its right and lower neighbour);
- anything else is the path of a text file with one undirected edge `u v` per line (0-based
  vertex ids below n; blank lines and lines starting with # are ignored). A file that is missing,
  unreadable, or has a line that is not two ids in 0..n-1 is a usage error naming the file and line.

Edges are returned once each, as two int32 arrays (src, dst); `both_ways` lists each edge in both
directions (one processor per direction); `component_labels` is the union-find reference
(every vertex labelled with the smallest vertex of its component). For the list-ranking
programs: `random_list` (a linked list in random order) and `list_ranks`, its reference.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import Loc, ParameterError

FAMILIES = ("random", "path", "star", "grid")


def edges(graph: str, n: int, rng: np.random.Generator, deg: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The edges (src, dst) of family `graph` on n vertices, or of the edge-list file `graph`."""
    if graph in FAMILIES:
        src, dst = _GENERATORS[graph](n, rng, deg)
        return np.asarray(src, np.int32), np.asarray(dst, np.int32)
    return read_edge_list(graph, n)


def _random(n: int, rng: np.random.Generator, deg: int) -> tuple[np.ndarray, np.ndarray]:
    """Exactly deg * n // 2 edges (for n >= 2), ends uniform, no self-loop (repeats possible)."""
    m = deg * n // 2 if n > 1 else 0
    src = rng.integers(0, n, m)
    return src, (src + rng.integers(1, max(n, 2), m)) % n


def _path(n: int, rng: np.random.Generator, deg: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n - 1), np.arange(1, n)


def _star(n: int, rng: np.random.Generator, deg: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n - 1, np.int64), np.arange(1, n)


def _grid(n: int, rng: np.random.Generator, deg: int) -> tuple[np.ndarray, np.ndarray]:
    width = -(-n // max(math.isqrt(n), 1))
    v = np.arange(n)
    right = v[(v % width != width - 1) & (v + 1 < n)]
    down = v[v + width < n]
    return np.concatenate([right, down]), np.concatenate([right + 1, down + width])


_GENERATORS = {"random": _random, "path": _path, "star": _star, "grid": _grid}


def read_edge_list(path: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges of a text file of `u v` lines (ids in 0..n-1); a ParameterError at the file's
    line for anything else."""
    file = Path(path)
    hint_families = f"graph= takes a family ({', '.join(FAMILIES)}) or the path of an edge-list file"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"graph={path}: no such family or file", hint=hint_families) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ParameterError(f"graph={path}: cannot read the edge-list file ({reason})",
                             hint="give a readable UTF-8 text file with one `u v` edge per line") from None
    src, dst = [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        u, v = _edge(fields, n, Loc(str(file), number))
        src.append(u)
        dst.append(v)
    return np.array(src, np.int32), np.array(dst, np.int32)


def _edge(fields: list[str], n: int, loc: Loc) -> tuple[int, int]:
    """The two vertex ids of one edge-list line."""
    if len(fields) != 2 or not all(f.isascii() and f.isdigit() for f in fields):
        raise ParameterError(f"edge-list line is not two vertex ids: {' '.join(fields)!r}", loc=loc,
                             hint="write one edge per line as `u v`, with 0-based integer vertex ids")
    u, v = int(fields[0]), int(fields[1])
    if max(u, v) >= n:
        raise ParameterError(f"vertex {max(u, v)} is not below n={n}", loc=loc,
                             hint=f"vertices are numbered 0..n-1: pass n={max(u, v) + 1} or more")
    return u, v


def both_ways(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each undirected edge as two directed ones: (src + dst, dst + src)."""
    return np.concatenate([src, dst]).astype(np.int32), np.concatenate([dst, src]).astype(np.int32)


def component_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Each vertex's component, named by its smallest vertex (union-find, the reference)."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in zip(src.tolist(), dst.tolist()):
        ru, rv = root(u), root(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)  # the smaller id stays the root: it names the component
    return np.array([root(x) for x in range(n)], np.int64)


def random_list(rng: np.random.Generator, n: int) -> np.ndarray:
    """The successor array of a linked list over 0..n-1 in random order; the tail points to itself."""
    order = rng.permutation(n).astype(np.int32)
    succ = np.empty(n, np.int32)
    succ[order[:-1]] = order[1:]
    succ[order[-1]] = order[-1]
    return succ


def list_ranks(succ: np.ndarray) -> np.ndarray:
    """Each node's distance to the tail (the node that points to itself), by one walk from the head."""
    n = len(succ)
    has_pred = np.zeros(n, bool)
    has_pred[succ[succ != np.arange(n)]] = True
    node, rank = int(np.flatnonzero(~has_pred)[0]), np.zeros(n, np.int64)
    for d in range(n - 1, -1, -1):
        rank[node] = d
        node = succ[node]
    return rank
