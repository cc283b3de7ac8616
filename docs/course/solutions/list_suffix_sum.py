"""Lesson 10 solution: list suffix sums by pointer jumping (each node's value plus all after it).

A weighted list ranking: val[i] starts as x[i] and the tail's successor is nil (-1), so no value is
added twice. Each round reads a node's own cells and its successor's in separate statements, and
successors are distinct: EREW. W = Θ(n log n), D = Θ(log n).
"""
import numpy as np

from pramsim.dsl import float32, gid, int32, kernel, program, zeros


@kernel(readonly=("succ", "x"))
def start(succ, x, nxt, val):
    i = gid()
    nxt[i] = -1 if succ[i] == i else succ[i]
    val[i] = x[i]


@kernel(readonly=("nxt", "val"))
def jump(nxt, val, nxt_out, val_out):
    i = gid()
    mine = val[i]
    s = nxt[i]
    if s >= 0:
        val_out[i] = mine + val[s]
        nxt_out[i] = nxt[s]
    else:
        val_out[i] = mine
        nxt_out[i] = -1


def make_inputs(rng, n):
    order = rng.permutation(n)
    succ = np.empty(n, np.int32)
    succ[order[:-1]] = order[1:]
    succ[order[-1]] = order[-1]
    return {"succ": succ, "x": rng.standard_normal(n).astype(np.float32)}


def reference(succ, x, n):
    out, node = np.zeros(n), int(np.setdiff1d(np.arange(n), succ[succ != np.arange(n)])[0])  # the head
    order = []
    for _ in range(n):
        order.append(node)
        node = succ[node]
    out[order] = np.cumsum(x[order[::-1]].astype(np.float64))[::-1]
    return out


@program(params={"n": 64}, inputs=make_inputs, reference=reference)
def list_suffix_sum(succ, x, n):
    nxt, nxt2 = zeros(n, int32), zeros(n, int32)
    val, val2 = zeros(n, float32), zeros(n, float32)
    start[n](succ, x, nxt, val)
    for _ in range((n - 1).bit_length()):  # ceil(log2 n) rounds
        jump[n](nxt, val, nxt2, val2)
        nxt, nxt2 = nxt2, nxt
        val, val2 = val2, val
    return val
