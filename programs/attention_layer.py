"""A full self-attention layer: Q/K/V projections, attention per head, output projection.

X has shape (batch·n, d) (d the model dimension); Wq and Wo are d×d, Wk and Wv are
d×(kv_heads·d/heads). heads query heads share kv_heads key/value heads (kv_heads = heads:
multi-head, 1: multi-query, between: grouped-query attention); query head h reads key/value
head h // (heads / kv_heads). Launches: the three projections and the output projection (one
processor per output element, a d-step dot product), the scores S of every head in HBM (one
processor per (b, h, i, j)), a row softmax (one processor per row), and P·V (one processor per
(b, h, i, c)). Work Θ(batch (n d² + n² d)): the projections dominate when d ≫ n, the scores and
P·V when n ≫ d. Fewer kv_heads shrink the K/V projections and the K/V arrays by heads/kv_heads.
"""
import math

import numpy as np

from pramsim.dsl import gid, kernel, program, require, zeros


@kernel(readonly=("x", "w"))
def project(x, w, out, din, dout):
    t = gid()
    r = t // dout
    c = t % dout
    acc = 0.0
    for e in range(din):
        acc = acc + x[r, e] * w[e, c]
    out[r, c] = acc


@kernel(readonly=("qm", "km"))
def scores(qm, km, s, n, heads, group, dh, scale):
    t = gid()
    b = t // (heads * n * n)
    h = (t // (n * n)) % heads
    i = (t // n) % n
    j = t % n
    qcol = h * dh
    kcol = (h // group) * dh
    acc = 0.0
    for c in range(dh):
        acc = acc + qm[b * n + i, qcol + c] * km[b * n + j, kcol + c]
    s[t] = acc * scale


@kernel
def softmax_rows(s, n):
    row = gid() * n
    m = -math.inf
    for j in range(n):
        m = max(m, s[row + j])
    total = 0.0
    for j in range(n):
        e = math.exp(s[row + j] - m)
        s[row + j] = e
        total = total + e
    for j in range(n):
        s[row + j] = s[row + j] / total


@kernel(readonly=("p", "vm"))
def weighted(p, vm, ctx, n, heads, group, dh):
    t = gid()
    b = t // (heads * n * dh)
    h = (t // (n * dh)) % heads
    i = (t // dh) % n
    c = t % dh
    vcol = (h // group) * dh + c
    row = ((b * heads + h) * n + i) * n
    acc = 0.0
    for j in range(n):
        acc = acc + p[row + j] * vm[b * n + j, vcol]
    ctx[b * n + i, h * dh + c] = acc


def make_inputs(rng, batch, n, d, heads, kv_heads):
    dkv = kv_heads * (d // heads)
    w = 1 / math.sqrt(d)
    return {"x": rng.standard_normal((batch * n, d)).astype(np.float32),
            "wq": (w * rng.standard_normal((d, d))).astype(np.float32),
            "wk": (w * rng.standard_normal((d, dkv))).astype(np.float32),
            "wv": (w * rng.standard_normal((d, dkv))).astype(np.float32),
            "wo": (w * rng.standard_normal((d, d))).astype(np.float32)}


def reference(x, wq, wk, wv, wo, batch, n, d, heads, kv_heads):
    x, wq, wk, wv, wo = (a.astype(np.float64) for a in (x, wq, wk, wv, wo))
    dh = d // heads
    group = heads // kv_heads
    q = (x @ wq).reshape(batch, n, heads, dh).transpose(0, 2, 1, 3)
    k = (x @ wk).reshape(batch, n, kv_heads, dh).transpose(0, 2, 1, 3)
    v = (x @ wv).reshape(batch, n, kv_heads, dh).transpose(0, 2, 1, 3)
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    ctx = (p @ v).transpose(0, 2, 1, 3).reshape(batch * n, d)
    return ctx @ wo


@program(params={"batch": 1, "n": 32, "d": 32, "heads": 4, "kv_heads": 4}, inputs=make_inputs, reference=reference,
         work="batch (n d^2 + n^2 d)", depth="n + d",
         counts={"flop.exp": "batch * heads * n * n",
                 "flop.*": "batch * (2 * n * d * d + 2 * n * d * kv_heads * (d // heads) + 2 * n * n * d + heads * n * n)"},
         sweep={"n": [8, 16, 32, 64, 128, 8, 8, 8], "d": [16, 16, 16, 16, 16, 32, 64, 128]}, rtol=1e-4)
def attention_layer(x, wq, wk, wv, wo, batch, n, d, heads, kv_heads):
    """Self-attention layer with Q/K/V/O projections; kv_heads < heads gives MQA/GQA."""
    require(d % heads == 0, f"d={d} must be a multiple of heads={heads}")
    require(heads % kv_heads == 0, f"heads={heads} must be a multiple of kv_heads={kv_heads}")
    dh = d // heads
    dkv = kv_heads * dh
    rows = batch * n
    qm = zeros((rows, d), np.float32)
    km = zeros((rows, dkv), np.float32)
    vm = zeros((rows, dkv), np.float32)
    project[rows * d](x, wq, qm, d, d)
    project[rows * dkv](x, wk, km, d, dkv)
    project[rows * dkv](x, wv, vm, d, dkv)
    s = zeros(batch * heads * n * n, np.float32)
    scores[batch * heads * n * n](qm, km, s, n, heads, heads // kv_heads, dh, 1.0 / math.sqrt(dh))
    softmax_rows[batch * heads * n](s, n)
    ctx = zeros((rows, d), np.float32)
    weighted[batch * heads * n * dh](s, vm, ctx, n, heads, heads // kv_heads, dh)
    out = zeros((rows, d), np.float32)
    project[rows * d](ctx, wo, out, d, d)
    return out
