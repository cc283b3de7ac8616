"""pramsim: a parallel-algorithm simulator for a PRAM/GPU abstract machine.

Layers (docs/architecture.md): lang (frontend: source -> IR; the operation table; type checks) ->
engines (vector: the semantics and cost; compiled: the same counts from numba CPU code; cuda: the
same IR lowered to numba.cuda) -> machine (simpy schedule, T_p, predicted time) -> the user layer
(runner, report, sweep, cli). tests/test_layout.py holds the layers apart.
"""
__version__ = "0.1.0"
