"""Host-side cost of specialising a kernel for a CUDA launch, per launch, without and with the
per-kernel memo of `ir.shape_params` (which the CUDA backend consults at every launch).

    python scripts/bench_launch_host.py
"""
from __future__ import annotations

import sys
import timeit

from pramsim.lang import ir
from pramsim.programs import load_program

KERNELS = [("vector_mul", "mul"), ("matmul_tiled", "matmul_tiles"), ("attention_flash", "flash_tiles")]


def main() -> int:
    print(f"{'kernel':<14}{'walk the IR (µs)':>18}{'remembered (µs)':>18}")
    for program, name in KERNELS:
        prog = load_program(program)
        kernel = getattr(sys.modules[prog.host.__module__], name).ir

        def fresh() -> None:
            ir._REMEMBERED.pop(("shape_params", id(kernel)), None)
            ir.shape_params(kernel)
        n = 2000
        walk = min(timeit.repeat(fresh, number=n, repeat=5)) / n * 1e6
        memo = min(timeit.repeat(lambda: ir.shape_params(kernel), number=n, repeat=5)) / n * 1e6
        print(f"{name:<14}{walk:>18.1f}{memo:>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
