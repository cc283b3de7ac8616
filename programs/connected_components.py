"""Connected components by hooking and pointer jumping (the conditional-hooking variant of Shiloach–Vishkin).

Every vertex holds a parent pointer P; the trees of P are the components found so far, and at the
start of every round each tree is a star (every vertex points at its root) whose root is its
smallest vertex. A round has two phases:

1. hooking: one processor per directed edge (u, v) (each undirected edge both ways): if the root
   P[v] is smaller than the root P[u], write P[P[u]] = P[v]. Many edges may hook one root in the
   same step with different values: the CRCW-arbitrary PRAM lets one of them win, and it does not
   matter which. A processor that does not hook writes to a scratch cell P[n] instead, so every
   processor does the same operations whichever write wins (the counts depend on n and m only);
2. shortcutting: pointer jumping P[v] = P[P[v]] until the trees are stars again.

Every tree that is not yet a whole component either hooks onto a neighbour or is hooked onto, so
each round at least halves the number of trees in every component: ceil(log2 n) rounds suffice.
A round's hooks can chain up to as many roots as there are trees (at most n / 2^r in round r), so
round r shortcuts ceil(log2 n) - r times. Roots only ever hook onto smaller roots, so each final
root is its component's smallest vertex: the labels are canonical, as the union-find reference's.

Cost: W = Θ(m log n + n log² n), D = Θ(log² n) (declared as Θ(n log² n) for the sweep's random
graphs of about n edges). That is a log factor above Shiloach–Vishkin's O(log n) iterations of one
shortcut each, which need unconditional hooking of stagnant stars as well and then no longer
keep the smallest vertex at the root; this variant trades that depth for a proof in three lines
and canonical labels. Double buffering (hooks write a copy of P; each jump reads P, writes Q)
keeps every launch free of read/write races, as on a GPU.

Weakest PRAM model: CRCW-arbitrary (concurrent writes of different values to a root and to the
scratch cell): `--model crcw-common`, `crew` and `erew` refuse it.

Graphs: graph=random (deg·n/2 random edges), path, star, grid, or graph=FILE, an edge list
with one `u v` per line and vertex ids below n (pramsim/graphs.py).
"""
import numpy as np

from pramsim import graphs
from pramsim.dsl import gid, int32, kernel, program, zeros


@kernel
def init_parent(parent):
    v = gid()
    parent[v] = v


@kernel(readonly=("parent",))
def copy(parent, out):
    v = gid()
    out[v] = parent[v]


@kernel(readonly=("src", "dst", "parent"))
def hook(src, dst, parent, hooked, n):
    e = gid()
    ru = parent[src[e]]
    rv = parent[dst[e]]
    target = ru if rv < ru else n  # not hooking: write to the scratch cell n
    hooked[target] = rv


@kernel(readonly=("parent",))
def jump(parent, out):
    v = gid()
    out[v] = parent[parent[v]]


def make_inputs(rng, n, deg, graph):
    src, dst = graphs.both_ways(*graphs.edges(graph, n, rng, deg))
    return {"src": src, "dst": dst}


def reference(src, dst, n, deg, graph):
    return graphs.component_labels(n, src, dst)


@program(params={"n": 64, "deg": 2, "graph": "random"}, inputs=make_inputs, reference=reference,
         work="n log^2 n", depth="log^2 n",
         counts={"launches": "1 + 2 * ceil(log2(n)) + ceil(log2(n)) * (ceil(log2(n)) + 1) // 2"},
         sweep={"n": [64, 256, 1024, 4096, 16384]}, rtol=0.0)
def connected_components(src, dst, n, deg, graph):
    """Label every vertex with the smallest vertex of its component (hooking and pointer jumping)."""
    edges = src.shape[0]  # every family has edges for n >= 2; a file may have none (then no hooks)
    parent, other = zeros(n + 1, int32), zeros(n + 1, int32)  # cell n: the scratch cell of hook
    init_parent[n](parent)
    rounds = (n - 1).bit_length()  # ceil(log2 n)
    for r in range(rounds):
        copy[n](parent, other)
        if edges:
            hook[edges](src, dst, parent, other, n)
        parent, other = other, parent
        for _ in range(rounds - r):
            jump[n](parent, other)
            parent, other = other, parent
    return parent[:n]
