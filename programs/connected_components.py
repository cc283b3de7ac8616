"""Connected components by hooking and pointer jumping (Shiloach–Vishkin / Awerbuch–Shiloach style).

Every vertex holds a parent pointer P; the trees of P are the components found so far. At the
start of every round every tree is a star (every vertex points at its root). A round:

1. conditional hooking: one processor per directed edge (u, v) (each undirected edge both ways):
   if the root P[v] is smaller than the root P[u], write P[P[u]] = P[v]. Several edges may hook
   one root with different values; any winner will do (CRCW-arbitrary);
2. marking: a root that hooked, and the root it hooked onto, are marked busy (concurrent writes
   of 1);
3. hooking stagnant stars: a root a that is not busy (it neither hooked nor was hooked onto) and
   has an edge to another tree, with round-start root b, writes P[a] = b (any winner again);
4. shortcutting: pointer jumping P[v] = P[P[v]], ceil(log2 n) - r times in round r (0-based).

No cycles: conditional hooks go to strictly smaller roots. A stagnant root a adjacent to a root b
has b > a (else a would have hooked), so b had a as a candidate and hooked: b is busy. Nothing
hooks onto a stagnant root (that would make it busy), so the path from a runs a -> b -> strictly
smaller busy roots -> a root, and never comes back.
Halving: in a component with k >= 2 trees every tree has an edge to another tree, so it hooks,
is hooked onto, or is stagnant and hooks in step 3: every new tree holds at least two old ones,
k becomes at most floor(k / 2), and after ceil(log2 n) rounds every component is one tree.
Stars again: hooks link round-start roots only (leaves keep pointing at their own root), so a
merged tree of t stars has height at most t; by halving, a component has at most n / 2^r trees at
the start of round r, so t <= n / 2^r and ceil(log2 n) - r jumps make every tree a star.
Canonical labels: the final roots are arbitrary vertices, so the smallest vertex of every
component is found by bit elimination, one bit of the vertex id from the highest down (2 launches
a bit, concurrent writes of 1 only): the alive vertices whose bit is 0 flag their root, and then
the alive ones whose bit is 1 under a flagged root drop out; the one survivor per root writes its
id for the root, and every vertex reads its root's.

Every processor does the same operations whichever concurrent write wins (a processor that does
not hook, mark, flag or pick writes to a scratch cell n instead), so the counts depend on n and m
only. Double
buffering (hooks write a copy of P; each jump reads P, writes Q) keeps launches free of read/write
races, as on a GPU.

Cost: W = Θ(m log n + n log² n), D = Θ(log² n). For the sweep's random graphs (m = n, 2n edge
processors) the rounds' Θ(n log n) part has about 36 times the constant of the jumps' Θ(n log² n)
part (1.5 n per jump), so the work is declared as `n log^2 n + 36 n log n`, and the depth as
`log^2 n + 26 log n` (3 steps a jump; 22 a round and 17 a bit, 39 for each of the ceil(log2 n)).
Launches: 3 + 6 ceil(log2 n) + ceil(log2 n)(ceil(log2 n) + 1) / 2 when the graph has edges. One jump a round (Shiloach–Vishkin's O(log n) depth) needs a longer proof;
this version keeps the full shortcut, whose bound is proved above.

Weakest PRAM model: CRCW-arbitrary (concurrent writes of different values to a root and to the
scratch cell): `--model crcw-common`, `crew` and `erew` refuse it; crcw-priority gives the same
labels.

Graphs: graph=random (deg·n/2 random edges), path, star, grid, or graph=FILE, an edge list
with one `u v` per line and vertex ids below n (pramsim/graphs.py).
"""
from pramsim import graphs
from pramsim.dsl import gid, int32, kernel, program, zeros


@kernel
def init(parent, alive):
    v = gid()
    parent[v] = v
    alive[v] = 1


@kernel(readonly=("parent",))
def copy(parent, out, busy):
    v = gid()
    out[v] = parent[v]
    busy[v] = 0


@kernel(readonly=("src", "dst", "parent"))
def hook(src, dst, parent, hooked, n):
    e = gid()
    ru = parent[src[e]]
    rv = parent[dst[e]]
    target = ru if rv < ru else n  # not hooking: write to the scratch cell n
    hooked[target] = rv


@kernel(readonly=("parent", "hooked"))
def mark(parent, hooked, busy, n):
    v = gid()
    to = hooked[v]
    moved = to != parent[v]  # only roots move in a hook
    me = v if moved else n
    busy[me] = 1
    onto = to if moved else n
    busy[onto] = 1


@kernel(readonly=("src", "dst", "parent", "busy"))
def hook_stagnant(src, dst, parent, busy, hooked, n):
    e = gid()
    a = parent[src[e]]
    b = parent[dst[e]]
    target = a if b != a else n
    target = target if busy[a] == 0 else n  # only a root that is not busy hooks here
    hooked[target] = b


@kernel(readonly=("parent",))
def jump(parent, out):
    v = gid()
    out[v] = parent[parent[v]]


@kernel(readonly=("parent", "alive"))
def flag_zeros(parent, alive, flag, bit, n):
    v = gid()
    root = parent[v]  # loaded by every processor, so the counts do not depend on who is alive
    zero = alive[v] * (1 - ((v >> bit) & 1))
    target = root if zero == 1 else n
    flag[target] = 1


@kernel(readonly=("parent", "flag"))
def drop_ones(parent, flag, alive, bit):
    v = gid()
    alive[v] = alive[v] * (1 - ((v >> bit) & 1) * flag[parent[v]])


@kernel(readonly=("parent", "alive"))
def pick(parent, alive, smallest, n):
    v = gid()
    root = parent[v]
    target = root if alive[v] == 1 else n
    smallest[target] = v


@kernel(readonly=("parent", "smallest"))
def label(parent, smallest, out):
    v = gid()
    out[v] = smallest[parent[v]]


def make_inputs(rng, n, deg, graph):
    src, dst = graphs.both_ways(*graphs.edges(graph, n, rng, deg))
    return {"src": src, "dst": dst}


def reference(src, dst, n, deg, graph):
    return graphs.component_labels(n, src, dst)


@program(params={"n": 64, "deg": 2, "graph": "random"}, inputs=make_inputs, reference=reference,
         work="n log^2 n + 36 n log n", depth="log^2 n + 26 log n",
         counts={"launches": "3 + 6 * ceil(log2(n)) + ceil(log2(n)) * (ceil(log2(n)) + 1) // 2"},
         sweep={"n": [64, 256, 1024, 4096, 16384]}, rtol=0.0)
def connected_components(src, dst, n, deg, graph):
    """Label every vertex with the smallest vertex of its component (hooking and pointer jumping)."""
    edges = src.shape[0]  # every family has edges for n >= 2; a file may have none (then no hooks)
    parent, other = zeros(n + 1, int32), zeros(n + 1, int32)  # cell n: the scratch cell of hook
    busy, alive = zeros(n + 1, int32), zeros(n, int32)
    init[n](parent, alive)
    rounds = (n - 1).bit_length()  # ceil(log2 n)
    for r in range(rounds):
        copy[n](parent, other, busy)
        if edges:
            hook[edges](src, dst, parent, other, n)
            mark[n](parent, other, busy, n)
            hook_stagnant[edges](src, dst, parent, busy, other, n)
        parent, other = other, parent
        for _ in range(rounds - r):
            jump[n](parent, other)
            parent, other = other, parent
    for bit in reversed(range(rounds)):  # vertex ids below n have ceil(log2 n) bits
        flag = zeros(n + 1, int32)
        flag_zeros[n](parent, alive, flag, bit, n)
        drop_ones[n](parent, flag, alive, bit)
    smallest, out = zeros(n + 1, int32), zeros(n, int32)
    pick[n](parent, alive, smallest, n)
    label[n](parent, smallest, out)
    return out
