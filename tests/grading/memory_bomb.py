"""A memory bomb: the host fills 4 GiB of NumPy arrays (under grade.py's --memory-limit: MemoryError)."""
import numpy as np
from pramsim.dsl import gid, kernel, program


@kernel
def step(a, stride, n):
    i = gid() * 2 * stride
    if i + stride < n:
        a[i] = a[i] + a[i + stride]


@program(params={"n": 64}, inputs=lambda rng, n: {"a": rng.random(n).astype(np.float32)},
         reference=lambda a, n: np.array([a.astype(np.float64).sum()]))
def memory_bomb(a, n):
    junk = [np.ones(2**27) for _ in range(4)]  # 4 x 1 GiB, every page written
    s = 1
    while s < n:
        step[-(-n // (2 * s))](a, s, n)
        s *= 2
    return a[: len(junk) // 4]
