"""Attention in logarithmic depth: enough processors that every sum and max is a tree.

Inputs q, k, v have shape (batch·heads, n, d). One processor per product q[i,c]·k[j,c] (B·H·n²·d
of them), then tree reductions, one launch per level as in tree_sum: over c for the scores
(log d levels), over j for the row max and the exp-sum (log n levels each), and, after one
processor per product p[i,j]·v[j,c], over j for the weighted sums (log n levels). Every launch
has constant depth, so the depth is Θ(log n + log d) while the work stays Θ(B H n² d); the
price is Θ(B H n² d) floats of HBM for the products.
"""
import math

import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("q", "k"))
def products(q, k, prod, n, d):
    t = gid()
    bh = t // (n * n * d)
    i = (t // (n * d)) % n
    j = (t // d) % n
    c = t % d
    prod[t] = q[bh, i, c] * k[bh, j, c]


@kernel
def sum_level(a, length, stride, pairs):
    t = gid()
    row = t // pairs
    x = row * length + (t % pairs) * 2 * stride
    if (t % pairs) * 2 * stride + stride < length:
        a[x] = a[x] + a[x + stride]


@kernel
def max_level(a, length, stride, pairs):
    t = gid()
    row = t // pairs
    x = row * length + (t % pairs) * 2 * stride
    if (t % pairs) * 2 * stride + stride < length:
        a[x] = max(a[x], a[x + stride])


@kernel(readonly=("prod",))
def gather_scores(prod, s, mx, d, scale):
    t = gid()
    value = prod[t * d] * scale
    s[t] = value
    mx[t] = value


@kernel(readonly=("s", "mx"))
def exponentials(s, mx, e, total, n):
    t = gid()
    value = math.exp(s[t] - mx[(t // n) * n])
    e[t] = value
    total[t] = value


@kernel(readonly=("e", "v"))
def weigh(e, v, w, n, d):
    t = gid()
    bh = t // (n * d * n)
    i = (t // (d * n)) % n
    c = (t // n) % d
    j = t % n
    w[t] = e[(bh * n + i) * n + j] * v[bh, j, c]


@kernel(readonly=("w", "total"))
def normalise(w, total, o, n, d):
    t = gid()
    row = t // d
    o[t] = w[t * n] / total[row * n]


def tree(level_kernel, a, rows, length):
    """Reduce each of `rows` rows of `length` to its first element, one launch per level."""
    stride = 1
    while stride < length:
        pairs = -(-length // (2 * stride))
        level_kernel[rows * pairs](a, length, stride, pairs)
        stride *= 2


def make_inputs(rng, batch, heads, n, d):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 32, "d": 16}, inputs=make_inputs, reference=reference,
         work="batch heads n^2 d", depth="log n + log d",
         counts={"launches": "3 * ceil(log2(n)) + ceil(log2(d)) + 5", "flop.exp": "batch * heads * n * n"},
         sweep={"n": [4, 8, 16, 32, 64, 128]}, rtol=1e-4)
def attention_logdepth(q, k, v, batch, heads, n, d):
    """Attention with B·H·n²·d processors: scores, max, exp-sum and P·V all by tree reductions."""
    bh = batch * heads
    rows = bh * n  # one row per query
    prod = zeros(rows * n * d, np.float32)
    products[rows * n * d](q, k, prod, n, d)
    tree(sum_level, prod, rows * n, d)
    s = zeros(rows * n, np.float32)
    mx = zeros(rows * n, np.float32)
    gather_scores[rows * n](prod, s, mx, d, 1.0 / math.sqrt(d))
    tree(max_level, mx, rows, n)
    e = zeros(rows * n, np.float32)
    total = zeros(rows * n, np.float32)
    exponentials[rows * n](s, mx, e, total, n)
    tree(sum_level, total, rows, n)
    w = zeros(rows * d * n, np.float32)
    weigh[rows * d * n](e, v, w, n, d)
    tree(sum_level, w, rows * d, n)
    o = zeros(rows * d, np.float32)
    normalise[rows * d](w, total, o, n, d)
    return o
