"""Bottom-up merge sort whose merges are split among processors by merge path (Green, McColl and
Bader 2012; Odeh et al. 2012).

Pass w (w = 1, 2, 4, ... < n) merges each pair of sorted runs A = src[base, base + w) and
B = src[base + w, base + 2w) (the last ones shorter or empty) into dst. The merged pair's output
is cut into chunks of c = ceil(log2 n) elements (one chunk if the pair is shorter); one processor
per chunk. Output position `diag` of the pair lies on the cross diagonal i + j = diag of the
merge grid: the processor finds by binary search the i with A[i-1] <= B[diag-i] and
B[diag-i-1] < A[i] (i elements come from A, diag - i from B; ties go to A, so the sort is stable),
then merges its c elements sequentially from there. No two processors write one cell.

Per pass: about n / c processors (n / 2w while the merged pairs are shorter than a chunk), each
O(log n) for the search and at most c steps for its chunk: Θ(n) work, Θ(log n) depth. With ceil(log2 n) passes (one launch each), W = Θ(n log n) and D = Θ(log² n).
Exactly n stores per pass. CREW: neighbouring processors' searches may read the same keys.
"""
import numpy as np

from pramsim.dsl import gid, kernel, program, zeros


@kernel(readonly=("src",))
def merge_pass(src, dst, w, chunk, per_pair, n):
    t = gid()
    base = (t // per_pair) * 2 * w
    diag = (t % per_pair) * chunk
    len_a = min(w, n - base)
    len_b = max(0, min(w, n - base - w))
    if diag >= len_a + len_b:
        return
    a0 = base
    b0 = base + w
    # merge path: the first i in [lo, hi] with A[i] > B[diag - 1 - i]
    lo = max(0, diag - len_b)
    hi = min(diag, len_a)
    while lo < hi:
        mid = (lo + hi) // 2
        if src[a0 + mid] <= src[b0 + diag - 1 - mid]:
            lo = mid + 1
        else:
            hi = mid
    ia = a0 + lo
    ib = b0 + diag - lo
    end_a = a0 + len_a
    end_b = b0 + len_b
    for k in range(min(chunk, len_a + len_b - diag)):
        if ib >= end_b or (ia < end_a and src[ia] <= src[ib]):
            dst[base + diag + k] = src[ia]
            ia += 1
        else:
            dst[base + diag + k] = src[ib]
            ib += 1


def make_inputs(rng, n):
    """Keys with many duplicates (about four copies of each), so that ties are exercised."""
    return {"a": rng.integers(0, max(1, n // 4), n).astype(np.float32)}


def reference(a, n):
    return np.sort(a.astype(np.float64))


@program(params={"n": 300}, inputs=make_inputs, reference=reference, work="n log n", depth="log^2 n",
         counts={"launches": "ceil(log2(n))", "store.hbm": "n * ceil(log2(n))"},
         sweep={"n": [16, 100, 1000, 5000, 20000]}, rtol=0.0)
def merge_sort(a, n):
    """Sort n floats by log n passes of pairwise merges, each split among processors by merge path."""
    chunk = max(1, (n - 1).bit_length())
    src, dst = a, zeros(n, np.float32)
    w = 1
    while w < n:
        per_pair = -(-2 * w // chunk)
        pairs = -(-n // (2 * w))
        merge_pass[pairs * per_pair](src, dst, w, chunk, per_pair, n)
        src, dst = dst, src
        w *= 2
    return src
