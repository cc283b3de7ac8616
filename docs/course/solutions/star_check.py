"""Lesson 11 solution: which vertices of a forest lie in a star (a tree of height at most 1)?

Shiloach–Vishkin's three steps, each one launch of n processors: assume every vertex is in a star;
a vertex whose grandparent is not its parent clears its own flag and its grandparent's (the root);
then a vertex keeps its flag only if its parent kept one too. Several vertices may clear one grandparent in the same step, all
writing 0: CRCW-common. W = Θ(n), D = Θ(1).
"""
import numpy as np

from pramsim.dsl import gid, int32, kernel, program, zeros


@kernel
def assume_star(star):
    star[gid()] = 1


@kernel(readonly=("parent",))
def clear_deep(parent, star):
    v = gid()
    up = parent[parent[v]]
    if up != parent[v]:
        star[v] = 0
        star[up] = 0


@kernel(readonly=("parent", "star"))
def take_parents(parent, star, out):
    v = gid()
    out[v] = min(star[v], star[parent[v]])


def make_inputs(rng, n):
    """A random forest: each vertex's parent is a smaller vertex, or itself (a root) with chance 1/4."""
    parent = np.array([i if i == 0 or rng.random() < 0.25 else rng.integers(0, i) for i in range(n)], np.int32)
    return {"parent": parent}


def reference(parent, n):
    depth = np.zeros(n, np.int64)
    for v in range(n):  # parents are smaller vertices: their depth is known already
        depth[v] = 0 if parent[v] == v else depth[parent[v]] + 1
    root = parent.copy()
    for v in range(n):
        root[v] = v if parent[v] == v else root[parent[v]]
    height = np.zeros(n, np.int64)
    np.maximum.at(height, root, depth)
    return (height[root] <= 1).astype(np.int64)


@program(params={"n": 64}, inputs=make_inputs, reference=reference)
def star_check(parent, n):
    star, out = zeros(n, int32), zeros(n, int32)
    assume_star[n](star)
    clear_deep[n](parent, star)
    take_parents[n](parent, star, out)
    return out
