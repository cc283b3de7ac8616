"""Standard attention O = softmax(Q Kᵀ / √d) V that materialises the N×N scores in HBM.

Inputs q, k, v have shape (batch·heads, n, d). Three launches: scores S (one processor per
(bh, i, j), a d-step dot product) written to an HBM array of batch·heads·n² floats; row softmax
in place (one processor per row: max, exp-sum, normalise loops over n); O = P V (one processor
per (bh, i, c), an n-step loop). Work Θ(B H n² d), depth Θ(n + d), peak HBM Θ(B H (n² + n d)).
"""
import math

import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("q", "k"))
def scores(q, k, s, n, d, scale):
    t = gid()
    bh = t // (n * n)
    i = (t // n) % n
    j = t % n
    acc = 0.0
    for c in range(d):
        acc = acc + q[bh, i, c] * k[bh, j, c]
    s[bh, i, j] = acc * scale


@kernel
def softmax_rows(s, n):
    t = gid()
    bh = t // n
    i = t % n
    m = -math.inf
    for j in range(n):
        m = max(m, s[bh, i, j])
    total = 0.0
    for j in range(n):
        e = math.exp(s[bh, i, j] - m)
        s[bh, i, j] = e
        total = total + e
    for j in range(n):
        s[bh, i, j] = s[bh, i, j] / total


@kernel(readonly=("p", "v"))
def weighted(p, v, o, n, d):
    t = gid()
    bh = t // (n * d)
    i = (t // d) % n
    c = t % d
    acc = 0.0
    for j in range(n):
        acc = acc + p[bh, i, j] * v[bh, j, c]
    o[bh, i, c] = acc


def make_inputs(rng, batch, heads, n, d):
    shape = (batch * heads, n, d)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in ("q", "k", "v")}


def reference(q, k, v, batch, heads, n, d):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v


@program(params={"batch": 1, "heads": 2, "n": 64, "d": 16}, inputs=make_inputs, reference=reference,
         work="batch heads n^2 d", depth="n + d",
         counts={"flop.exp": "batch * heads * n * n", "load.hbm": "batch * heads * (4*n*n*d + 3*n*n)"},
         sweep={"n": [8, 16, 32, 64, 96]}, rtol=1e-4)
def attention_naive(q, k, v, batch, heads, n, d):
    """Attention with the full score matrix S (batch·heads·n² floats) stored in HBM."""
    bh = batch * heads
    s = zeros((bh, n, n), np.float32)
    o = zeros((bh, n, d), np.float32)
    scores[bh * n * n](q, k, s, n, d, 1.0 / math.sqrt(d))
    softmax_rows[bh * n](s, n)
    weighted[bh * n * d](s, v, o, n, d)
    return o
