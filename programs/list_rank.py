"""Wyllie's list ranking by pointer jumping: every node's distance to the tail in ceil(log2 n) rounds.

The list is given by successor pointers (succ[i] is the next node; the tail points to itself).
Round k doubles every pointer: rank'[i] = rank[i] + rank[succ[i]], succ'[i] = succ[succ[i]],
written to a second pair of arrays (double buffering, so that no processor reads a cell another
one writes in the same launch, as on a GPU). After round k, rank[i] = min(2^k, distance to the
tail); ceil(log2 n) rounds reach every node. Work Θ(n log n) (n processors every round, which is
why it is not work-efficient: see list_rank_splice), depth Θ(log n).

Weakest PRAM model: CREW. Writes are exclusive (node i writes only its own cells), but reads are
not: once pointers reach the tail, which points to itself, every node whose pointer reached it
reads the tail's cells in the same step (pramsim performs the loads of one statement in separate
steps, so rank[i] and rank[succ[i]] do not clash by themselves). `--model erew` refuses the run,
`--model crew` accepts it. (CLRS's EREW version gives the tail a nil successor and idles the
nodes that reach it.)
"""
from pramsim import graphs
from pramsim.dsl import gid, int32, kernel, program, zeros


@kernel(readonly=("succ",))
def init_rank(succ, rank):
    i = gid()
    rank[i] = 0 if succ[i] == i else 1


@kernel(readonly=("succ", "rank"))
def jump(succ, rank, succ_out, rank_out):
    i = gid()
    s = succ[i]
    rank_out[i] = rank[i] + rank[s]
    succ_out[i] = succ[s]


def make_inputs(rng, n):
    return {"succ": graphs.random_list(rng, n)}


def reference(succ, n):
    return graphs.list_ranks(succ)


@program(params={"n": 256}, inputs=make_inputs, reference=reference, work="n log n", depth="log n",
         counts={"launches": "1 + ceil(log2(n))", "int.+": "n * ceil(log2(n))",
                 "load.hbm": "n + 4 * n * ceil(log2(n))", "store.hbm": "n + 2 * n * ceil(log2(n))"},
         sweep={"n": [16, 64, 256, 1024, 4096]}, rtol=0.0)
def list_rank(succ, n):
    """Rank the n nodes of a linked list (distance to the tail) by pointer jumping."""
    rank, rank2, succ2 = zeros(n, int32), zeros(n, int32), zeros(n, int32)
    init_rank[n](succ, rank)
    for _ in range((n - 1).bit_length()):  # ceil(log2 n) rounds
        jump[n](succ, rank, succ2, rank2)
        succ, succ2 = succ2, succ
        rank, rank2 = rank2, rank
    return rank
