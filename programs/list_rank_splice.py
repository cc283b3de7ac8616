"""Work-efficient list ranking by random splicing (Anderson–Miller): W = Θ(n) and D = Θ(log n) expected.

The nodes are dealt into p = ceil(n / L) queues of L = ceil(log2 n) consecutive array positions,
one processor per queue. Every round each processor looks at the first node of its queue still
in the list (its current node i) and splices i out, linking i's predecessor to i's successor and
adding i's distance to its predecessor's, when i's coin shows heads and its successor is not a
current node showing heads too: no two neighbours leave in the same round, so every splice is
exclusive. Coins are a hash of (node, round), so runs are reproducible. A current node leaves with
probability at least 1/4 each round, so R = 3L rounds empty all but a few queues (in expectation
O(n / L) splice steps of p processors: W = Θ(n), D = Θ(log n)). What is left (usually nothing)
is ranked by Wyllie's pointer jumping, each processor walking its queue's remaining nodes; then
the spliced nodes are put back in reverse order of rounds: rank[i] = dist[i] + rank[succ[i]],
their successor having left later or never.

Exact counts depend on the coins, so only the launch count is declared exactly; `pramsim check`
fits W = Θ(n) and D = Θ(log n) over the sweep (the constants are large: about 150 n operations,
most of them hashing coins and bookkeeping in rounds where a node stays).

Weakest PRAM model: EREW. Every step reads cells no other processor reads in that step: a node's
successor is unique, a splice touches only its own node, predecessor and successor, which do not
splice, and the leftover's pointer jumping reads a node's own rank and its successor's in
separate statements (unlike list_rank, which reads both in one and needs CREW). `--model erew`
accepts it.
"""
from pramsim import graphs
from pramsim.dsl import device, gid, int32, int64, kernel, program, zeros

ROUNDS_PER_NODE = 3  # splicing rounds per queue slot: R = 3L


@device
def coin(i, r):
    """Heads (1) or tails (0) for node i in round r: a multiplicative hash, the same on every engine."""
    x = (int64(i) * 1103515245 + r * 40503 + 12345) % 2147483648  # 31 bits: products fit in int64
    x = ((x ^ (x >> 15)) * 1664525 + 1013904223) % 2147483648
    return (x >> 16) & 1


@kernel(readonly=("succ",))
def init_links(succ, nxt, pred, dist, current, qlen, n):
    i = gid()
    tail = succ[i] == i
    nxt[i] = -1 if tail else succ[i]
    dist[i] = 0 if tail else 1
    pred[i] = -1
    current[i] = 1 if i % qlen == 0 else 0


@kernel(readonly=("nxt",))
def link_back(nxt, pred):
    i = gid()
    s = nxt[i]
    if s >= 0:
        pred[s] = i


@kernel(readonly=("nxt", "current", "pos"))
def decide(nxt, current, pos, leave, qlen, r, n):
    q = gid()
    i = q * qlen + pos[q]
    leave[q] = 0
    if i < min(q * qlen + qlen, n):
        heads = coin(i, r)
        if heads == 1:  # tails stay: no need to look at the successor
            s = nxt[i]
            blocked = 0
            if s >= 0:
                if current[s] == 1:
                    blocked = coin(s, r)
            if blocked == 0:
                leave[q] = 1


@kernel(readonly=("leave",))
def splice(leave, nxt, pred, dist, current, pos, log, qlen, r, p, n):
    q = gid()
    log[r * p + q] = -1
    if leave[q] == 1:
        i = q * qlen + pos[q]
        before = pred[i]
        after = nxt[i]
        if before >= 0:
            nxt[before] = after
            dist[before] = dist[before] + dist[i]
        if after >= 0:
            pred[after] = before
        log[r * p + q] = i
        current[i] = 0
        pos[q] = pos[q] + 1
        if i + 1 < min(q * qlen + qlen, n):
            current[i + 1] = 1


@kernel(readonly=("nxt", "dist"))
def start_rest(nxt, dist, nxt_a, rank_a):
    i = gid()
    nxt_a[i] = nxt[i]
    rank_a[i] = dist[i]


@kernel(readonly=("pos", "nxt_a", "rank_a"))
def jump_rest(pos, nxt_a, rank_a, nxt_b, rank_b, qlen, n):
    q = gid()
    j = q * qlen + pos[q]
    end = min(q * qlen + qlen, n)
    while j < end:
        mine = rank_a[j]  # its own cell in one step, its successor's in the next: EREW
        s = nxt_a[j]
        if s >= 0:
            rank_b[j] = mine + rank_a[s]
            nxt_b[j] = nxt_a[s]
        else:
            rank_b[j] = mine
            nxt_b[j] = -1
        j += 1


@kernel(readonly=("log", "nxt", "dist"))
def put_back(log, nxt, dist, rank, r, p):
    q = gid()
    i = log[r * p + q]
    if i >= 0:
        s = nxt[i]
        if s >= 0:
            rank[i] = dist[i] + rank[s]
        else:
            rank[i] = dist[i]


def make_inputs(rng, n):
    return {"succ": graphs.random_list(rng, n)}


def reference(succ, n):
    return graphs.list_ranks(succ)


LAUNCHES = "2 + 2 * 3 * max(1, ceil(log2(n))) + 1 + ceil(log2(n)) + 3 * max(1, ceil(log2(n)))"


@program(params={"n": 256}, inputs=make_inputs, reference=reference, work="n", depth="log n",
         counts={"launches": LAUNCHES},
         sweep={"n": [64, 256, 1024, 4096, 16384]}, rtol=0.0)
def list_rank_splice(succ, n):
    """Rank the n nodes of a linked list by random splicing: work Θ(n), depth Θ(log n) expected."""
    qlen = max(1, (n - 1).bit_length())  # L = ceil(log2 n) nodes per queue
    p = -(-n // qlen)
    rounds = ROUNDS_PER_NODE * qlen
    nxt, pred, dist, current = (zeros(n, int32) for _ in range(4))
    pos, leave, log = zeros(p, int32), zeros(p, int32), zeros(rounds * p, int32)
    init_links[n](succ, nxt, pred, dist, current, qlen, n)
    link_back[n](nxt, pred)
    for r in range(rounds):
        decide[p](nxt, current, pos, leave, qlen, r, n)
        splice[p](leave, nxt, pred, dist, current, pos, log, qlen, r, p, n)
    nxt_a, rank_a, nxt_b, rank_b = (zeros(n, int32) for _ in range(4))
    start_rest[n](nxt, dist, nxt_a, rank_a)
    for _ in range((n - 1).bit_length()):  # Wyllie on what is left, ceil(log2 n) rounds
        jump_rest[p](pos, nxt_a, rank_a, nxt_b, rank_b, qlen, n)
        nxt_a, nxt_b = nxt_b, nxt_a
        rank_a, rank_b = rank_b, rank_a
    for r in range(rounds - 1, -1, -1):
        put_back[p](log, nxt, dist, rank_a, r, p)
    return rank_a
