"""pramsim: a parallel-algorithm simulator for a PRAM/GPU abstract machine.

Layers (docs/architecture.md): dsl + frontend (source -> ir) -> executor (semantics, cost) ->
machine (simpy schedule, T_p) -> runner/report/cli; backends/cuda lowers the same IR to numba.cuda.
"""
__version__ = "0.1.0"
