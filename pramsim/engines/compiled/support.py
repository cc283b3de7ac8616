"""numba support functions that every generated module imports (compiled once per process, cached
on disk by numba): the parallelism profile, barriers, checked indices, errors, and the counting of
shared-memory wavefronts in recording blocks."""
import numba
import numpy as np

from ...cost import BANKS, WARP_LANES


# The generated modules import these (compiled once per process, cached on disk by numba).
GENERATED_HEADER = """import math

import numba
import numpy as np

from pramsim.engines.compiled.support import _apply, _barrier, _block_wavefronts, _fail, _flush_profile, _ix, _running, _warp_end
"""


@numba.njit(nogil=True, cache=True)
def _flush_profile(diff, stp, nb, rs):
    """Add each lane's steps since the last barrier (rs+1 .. stp[t]) to the difference array."""
    top = 0
    for t in range(nb):
        top = max(top, stp[t])
    if top + 2 > diff.shape[0]:
        grown = np.zeros(max(top + 2, 2 * diff.shape[0]), np.int64)
        grown[:diff.shape[0]] = diff
        diff = grown
    for t in range(nb):
        if stp[t] > rs:
            diff[rs + 1] += 1
            diff[stp[t] + 1] -= 1
    return diff


@numba.njit(nogil=True, cache=True)
def _barrier(diff, ls, nb, rs):
    """A barrier: the profile takes the lanes' steps since the last one, then every lane's counters
    (rows of ls: step, flop, HBM, SRAM depth) rise to the block's maximum. Returns (diff, new step)."""
    diff = _flush_profile(diff, ls[:, 0], nb, rs)
    m0, m1, m2, m3 = ls[0, 0], ls[0, 1], ls[0, 2], ls[0, 3]
    for t in range(1, nb):
        m0 = max(m0, ls[t, 0])
        m1 = max(m1, ls[t, 1])
        m2 = max(m2, ls[t, 2])
        m3 = max(m3, ls[t, 3])
    for t in range(nb):
        ls[t, 0] = m0
        ls[t, 1] = m1
        ls[t, 2] = m2
        ls[t, 3] = m3
    return diff, m0


@numba.njit(nogil=True, cache=True)
def _ix(i, n, err, site, who, dim):
    """An index checked against its dimension: out of range records the error and reads cell 0."""
    if i < 0 or i >= n:
        _fail(err, 1, site, who, dim, i, n)
        return 0
    return i


@numba.njit(nogil=True, cache=True)
def _apply(ls, ex, nb, st, fl):
    """Charge every running lane the steps (and flop steps) of code run once for the block."""
    if st != 0:
        for t in range(nb):
            if not ex[t]:
                ls[t, 0] += st
                ls[t, 1] += fl
    return 0, 0


@numba.njit(nogil=True, cache=True)
def _running(ex, nb):
    n = 0
    for t in range(nb):
        if not ex[t]:
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def _degree(words, n, scratch):
    """The most distinct words in one bank among words[:n]; scratch: (BANKS, n+1) int64, zero column 0."""
    top = 1
    for x in range(n):
        w = words[x]
        b = w % BANKS
        c = scratch[b, 0]
        seen = False
        for y in range(1, c + 1):
            if scratch[b, y] == w:
                seen = True
                break
        if not seen:
            scratch[b, c + 1] = w
            scratch[b, 0] = c + 1
            top = max(top, c + 1)
    for x in range(n):
        scratch[words[x] % BANKS, 0] = 0
    return top


@numba.njit(nogil=True, cache=True)
def _warp_end(bk, bw, bn, spans, scratch, ws, lo, hi):
    """Add the wavefronts of the warp's recorded shared accesses at sites lo..hi-1 to ws[site], as
    pramsim.cost.warp_wavefronts counts them; clears the counts.

    Layout (flat, written by the generated code): the k-th access of lane l at site s is at
    o = (s * capacity + k) * WARP_LANES + l; bk[o] is its instance key (the iterations of the loops
    around the site), bw[o] its first word; bn[s, l] counts the lane's accesses, spans[s] the words
    per access. The lanes' accesses with one key are one warp-wide access. Usually every lane's
    k-th access has the same key; otherwise (lanes that diverged inside a loop) accesses are grouped
    by key. Accesses past the capacity get the site's mean wavefronts per access.
    scratch: (BANKS + 1, 2 * WARP_LANES + 1) int64, zero in column 0.
    """
    cap = bk.shape[0] // (bn.shape[0] * WARP_LANES)
    words = scratch[BANKS]
    for site in range(lo, hi):
        span = spans[site]
        kmax = 0
        n = 0
        for lane in range(WARP_LANES):
            kmax = max(kmax, bn[site, lane])
            n += bn[site, lane]
        if n == 0:
            continue
        kcap = min(kmax, cap)
        base = site * cap * WARP_LANES
        aligned = True
        for k in range(kcap):
            key = -1
            for lane in range(WARP_LANES):
                if bn[site, lane] > k:
                    o = base + k * WARP_LANES + lane
                    if key == -1:
                        key = bk[o]
                    elif bk[o] != key:
                        aligned = False
        here = 0
        recorded = 0
        if aligned:
            for k in range(kcap):
                m = 0
                for lane in range(WARP_LANES):
                    if bn[site, lane] > k:
                        for j in range(span):
                            words[m] = bw[base + k * WARP_LANES + lane] + j
                            m += 1
                recorded += m // span
                here += _degree(words, m, scratch)
        else:  # group every recorded access by its key
            keys = np.empty(kcap * WARP_LANES, np.int64)
            where = np.empty(kcap * WARP_LANES, np.int64)
            m = 0
            for lane in range(WARP_LANES):
                for k in range(min(bn[site, lane], kcap)):
                    keys[m] = bk[base + k * WARP_LANES + lane]
                    where[m] = base + k * WARP_LANES + lane
                    m += 1
            order = np.argsort(keys[:m], kind="mergesort")
            recorded = m
            i = 0
            while i < m:
                g = 0
                j = i
                while j < m and keys[order[j]] == keys[order[i]] and g + span <= words.shape[0]:
                    for x in range(span):
                        words[g] = bw[where[order[j]]] + x
                        g += 1
                    j += 1
                here += _degree(words, g, scratch)
                i = j
        ws[site] += here + (n - recorded) * here // max(recorded, 1)
        for lane in range(WARP_LANES):
            bn[site, lane] = 0


@numba.njit(nogil=True, cache=True)
def _block_wavefronts(ws, accesses, recorded, slot, samples):
    """A block's shared-memory wavefronts; clears ws (per site).

    A block that recorded its accesses counts its own wavefronts; block 0 and the last block keep
    theirs as samples[slot] (per site: wavefronts, accesses). Any other block is charged, at each
    site, its accesses times the wavefronts per access of the sample whose accesses per site are
    nearest its own (the last block is often a partial tile, and so are others like it)."""
    total = 0
    if recorded:
        for site in range(ws.shape[0]):
            total += ws[site]
            if slot >= 0:
                samples[slot, site, 0] = ws[site]
                samples[slot, site, 1] = accesses[site]
            ws[site] = 0
        return total
    best = 0
    best_distance = -1
    for k in range(samples.shape[0]):
        distance = 0
        for site in range(ws.shape[0]):
            distance += abs(accesses[site] - samples[k, site, 1])
        if best_distance < 0 or distance < best_distance:
            best, best_distance = k, distance
    for site in range(ws.shape[0]):
        k = best if samples[best, site, 1] > 0 else 1 - best  # a site only the other sample reached
        if samples[k, site, 1] > 0:
            total += accesses[site] * samples[k, site, 0] // samples[k, site, 1]
    return total


@numba.njit(nogil=True, cache=True)
def _fail(err, kind, site, who, a, b, c):
    """Record the first error of this call: its kind, site, processor (or block) and values."""
    if err[0] == 0:
        err[0] = kind
        err[1] = site
        err[2] = who
        err[3] = a
        err[4] = b
        err[5] = c



