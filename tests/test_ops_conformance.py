"""Every row of the operation table (pramsim/lang/ops.py), over every combination of operand kinds, through
every interpreter: the vector engine, the compiled engine, the kernel lowered to numba.cuda on numba's
CUDA simulator, and the launch-time type checker.

For each row and kind combination the table defines, one kernel statement `r = <op>(operands)`:
the value must be the same in every engine (and equal Python's own result on the same operands), the
kind the same in the vector engine (dynamic), the type checker and the compiled engine's inference
(static) and the table; the work charged must be what the table says, in both counting engines.
Combinations the table refuses (`&` on a float) must be refused by the type checker with the row's
message. Every run-time check must raise the same catalogue message from both engines.

All cases of one family share one kernel, so numba compiles a handful of kernels, not hundreds.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
import os
import textwrap
from collections import Counter

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before numba.cuda is imported (pramsim.gpu_runner does it)

import numpy as np
import pytest

from pramsim.lang import ir, ops, typecheck
from pramsim.errors import ExecutionError
from pramsim.engines.vector import Executor, _Launch
from pramsim.runtime import DeviceArray, use_backend

N = 8  # processors
XI = np.array([-3, -1, 0, 1, 2, 3, 4, 7], np.int64)            # general ints (odd and even: bools from them)
XP = np.array([1, 2, 3, 4, 1, 2, 3, 5], np.int64)              # positive ints: divisors, exponents, shifts
XF = np.array([-2.5, -1.25, -0.5, 0.75, 1.5, 2.0, 2.25, 3.5])  # general floats
XQ = np.array([0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.0, 1.75])     # positive floats: log, sqrt, bases
GENERAL = {"b": "(xi[i] % 2 == 1)", "i": "xi[i]", "f": "xf[i]"}
POSITIVE = {"b": "(xi[i] > -100)", "i": "xp[i]", "f": "xq[i]"}
_SOURCE_NAME = {"float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64"}


def _operand(op: ops.Op, position: int, kind: str) -> str:
    """An operand of `kind` for which the case is defined everywhere (no zero divisor, no log of 0,
    no negative exponent or shift, no negative base of a power)."""
    positive = (op.key in ("/", "//", "%", "<<", ">>") and position == 1) or op.key in ("log", "sqrt", "**")
    return (POSITIVE if positive else GENERAL)[kind]


def _source(op: ops.Op, args: list[str]) -> str:
    if op.family in ("binary", "compare"):
        return f"({args[0]} {op.key} {args[1]})"
    if op.family == "unary":
        return f"({op.key}{' ' if op.key == 'not' else ''}{args[0]})"
    if op.family == "conversion":
        return f"{_SOURCE_NAME.get(op.key, op.key)}({args[0]})"
    if op.key in ("min", "max", "abs"):
        return f"{op.key}({', '.join(args)})"
    return f"math.{op.key}({args[0]})"


def _python(op: ops.Op, values: list) -> object:
    """Python's own result for the operands (an independent reference for the value)."""
    if op.family in ("binary", "compare"):
        return eval(f"a {op.key} b", {}, {"a": values[0], "b": values[1]})  # noqa: S307 - our own text
    if op.family == "unary":
        return eval(f"{op.key} a", {}, {"a": values[0]})  # noqa: S307
    if op.family == "conversion":
        return float(values[0]) if op.key.startswith("float") else int(values[0])
    if op.key in ("min", "max", "abs"):
        return {"min": min, "max": max, "abs": abs}[op.key](*values)
    return getattr(math, op.key)(values[0])


def _value(text: str, p: int):
    env = {"xi": XI.tolist(), "xp": XP.tolist(), "xf": XF.tolist(), "xq": XQ.tolist(), "i": p}
    return eval(text, {}, env)  # noqa: S307 - our own operand text


def cases():
    defined, refused = [], []
    for op in ops.OPS.values():
        for kinds in itertools.product(ops.KINDS, repeat=op.arity):
            args = [_operand(op, j, k) for j, k in enumerate(kinds)]
            (defined if op.result_kind(kinds) else refused).append((op, kinds, args))
    return defined, refused


DEFINED, REFUSED = cases()
FAMILIES = sorted({op.family for op, _, _ in DEFINED})


def _module(tmp_path, name: str, statements: list[str]):
    body = "\n".join(f"    r{c} = {s}\n    out[{c}, i] = r{c}" for c, s in enumerate(statements))
    path = tmp_path / f"{name}.py"
    path.write_text("import math\nfrom pramsim.dsl import *\n\n\n@kernel\ndef k(xi, xp, xf, xq, out):\n"
                    "    i = gid()\n    out[0, i] = xi[i] + xp[i] + xf[i] + xq[i]  # every array is used\n"
                    + body + "\n")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.k


def _run(backend, kern, ncases):
    out = np.zeros((ncases, N), np.float64)
    with use_backend(backend):
        dev = [backend.array(a, n) for a, n in ((XI, "xi"), (XP, "xp"), (XF, "xf"), (XQ, "xq"), (out, "out"))]
        kern[1, N](*dev)
        return backend.to_host(dev[-1])


def _expected_counts(kern) -> Counter:
    """The work the table says each statement charges: every operation under it, at its operand kinds."""
    arrays = {"xi": "i", "xp": "i", "xf": "f", "xq": "f", "out": "f"}
    variables: dict[str, str] = {}

    def leaf(e):
        if isinstance(e, ir.Load):
            return arrays[e.array]
        if isinstance(e, ir.Var):
            return variables[e.name]
        return ops.kind_of_value(e.value) if isinstance(e, ir.Const) else "i"

    counts: Counter = Counter()
    for s in kern.ir.body:
        exprs = [s.value] if isinstance(s, ir.Assign) else [*s.index, s.value]
        for e in exprs:
            for node in ir.walk_expr(e):
                if isinstance(node, ir.OPERATIONS):
                    row = ir.op_row(node)
                    charge = row.charge(tuple(ir.expr_kind(a, leaf) for a in ir.operands(node)))
                    if charge:
                        counts[(charge[0], row.key)] += N
                elif isinstance(node, ir.Load):
                    counts[("load", "hbm")] += N
        if isinstance(s, ir.Assign):
            variables[s.target] = ir.expr_kind(s.value, leaf)
        else:
            counts[("store", "hbm")] += N
    return counts


@pytest.fixture(scope="module")
def family_runs(tmp_path_factory):
    """Per family: the kernel, its cases, and its outputs and traces from every engine."""
    from pramsim import gpu_runner as gpu
    from pramsim.engines.cuda import CudaBackend
    runs = {}
    tmp = tmp_path_factory.mktemp("ops")
    for family in FAMILIES:
        fam = [c for c in DEFINED if c[0].family == family]
        kern = _module(tmp, f"conformance_{family}", [_source(op, args) for op, _, args in fam])
        engines = {}
        for engine in ("vector", "compiled"):
            ex = Executor(engine=engine)
            engines[engine] = (_run(ex, kern, len(fam)), ex)
            assert ex.notes == [], ex.notes  # the compiled engine ran it (no fallback to the vector engine)
        engines["cuda"] = (_run(CudaBackend(gpu.cuda_module()), kern, len(fam)), None)
        runs[family] = (kern, fam, engines)
    return runs


def test_every_row_is_covered():
    """Each row appears with every kind combination, defined or refused, and at least once defined."""
    seen = Counter(op.name for op, _, _ in DEFINED + REFUSED)
    assert seen == {op.name: 3 ** op.arity for op in ops.OPS.values()}
    assert {op.name for op, _, _ in DEFINED} == set(ops.OPS)
    assert {"sin", "cos"} <= set(ops.MATH)


@pytest.mark.parametrize("family", FAMILIES)
def test_values_agree_in_every_engine_and_with_python(family, family_runs):
    kern, fam, engines = family_runs[family]
    for c, (op, kinds, args) in enumerate(fam):
        want = [float(_python(op, [_value(a, p) for a in args])) for p in range(N)]
        for engine, (out, _) in engines.items():
            np.testing.assert_allclose(out[c], want, rtol=1e-12, atol=0,
                                       err_msg=f"{engine}: {_source(op, args)} with kinds {kinds}")


@pytest.mark.parametrize("family", FAMILIES)
def test_kinds_agree_with_the_table(family, family_runs):
    kern, fam, engines = family_runs[family]
    ex = Executor()
    launch = _Launch(kern.ir, N, N, tuple(DeviceArray(a, n) for a, n in
                                            ((XI, "xi"), (XP, "xp"), (XF, "xf"), (XQ, "xq"),
                                             (np.zeros((len(fam), N)), "out"))), kern.ir.loc, ex.trace)
    launch.run()
    arrays = {"xi": "i", "xp": "i", "xf": "f", "xq": "f", "out": "f"}
    checker = typecheck._Checker(kern.ir, arrays, {}, kern.ir.loc)
    static = checker.block(kern.ir.body, {})
    from pramsim.lang.kinds import VarKinds
    inferred = VarKinds(kern.ir, {n: np.dtype(np.int64 if k == "i" else np.float64) for n, k in arrays.items()}, {})
    for c, (op, kinds, args) in enumerate(fam):
        want = op.result_kind(kinds)
        got = {"vector": ops.kind_of_value(launch.env[f"r{c}"]), "typecheck": static[f"r{c}"].kind,
               "compiled": inferred.vars[f"r{c}"]}
        assert set(got.values()) == {want}, f"{_source(op, args)} with kinds {kinds}: table {want}, engines {got}"


@pytest.mark.parametrize("family", FAMILIES)
def test_charges_are_the_tables_in_both_counting_engines(family, family_runs):
    kern, fam, engines = family_runs[family]
    want = _expected_counts(kern)
    for engine in ("vector", "compiled"):
        assert dict(engines[engine][1].trace.counts) == dict(want), engine
    assert engines["vector"][1].trace.depth_by_class == engines["compiled"][1].trace.depth_by_class


@pytest.mark.parametrize("op,kinds,args", REFUSED, ids=[f"{o.name}-{''.join(k)}" for o, k, _ in REFUSED])
def test_refused_kinds_are_refused_by_the_type_checker(tmp_path, op, kinds, args):
    kern = _module(tmp_path, f"refused_{abs(hash((op.name, kinds)))}", [_source(op, args)])
    with pytest.raises(ExecutionError) as info:
        typecheck.check_launch(kern.ir, tuple(DeviceArray(a, "x") for a in (XI, XP, XF, XQ, np.zeros((1, N)))),
                               kern.ir.loc)
    assert op.refusal in info.value.message and info.value.loc.line == 9


# ---- run-time checks: one case per check, the same message from both engines -------------------------

CHECK_CASES = [
    ("div_zero", "xi[i] // xz[i]"), ("div_zero", "xi[i] % xz[i]"),
    ("negative_power", "xi[i] ** (xz[i] - 1)"),
    ("shift_range", "xi[i] << (64 - 63 * xz[i])"), ("shift_range", "xi[i] >> (xz[i] - 1)"),
    *(("int_of_nan", f"{c}(xf[i] / xw[i])") for c in ("int", "int32", "int64")),
]


def test_every_check_has_a_case():
    assert {name for name, _ in CHECK_CASES} == {c.error for op in ops.OPS.values() for c in op.checks}


@pytest.mark.parametrize("error,text", CHECK_CASES)
def test_checks_raise_one_message_from_both_engines(tmp_path, error, text):
    path = tmp_path / f"check_{error}_{abs(hash(text))}.py"
    path.write_text(textwrap.dedent(f"""\
        from pramsim.dsl import *


        @kernel
        def k(xi, xf, xz, xw, out):
            i = gid()
            out[i] = xi[i] + xf[i] + xz[i] + xw[i]
            out[i] = {text}
        """))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    xz = np.array([1, 1, 1, 0, 1, 1, 1, 1], np.int64)          # processor 3 fails every check
    xw = np.where(xz == 0, 0.0, 1.0)                            # x / 0.0: an infinity or NaN at processor 3
    messages = []
    for engine in ("vector", "compiled"):
        ex = Executor(engine=engine)
        with use_backend(ex), pytest.raises(ExecutionError) as info:
            dev = [ex.array(a, n) for a, n in ((XI, "xi"), (XF, "xf"), (xz, "xz"), (xw, "xw"),
                                                 (np.zeros(N, np.float64), "out"))]
            mod.k[2, 4](*dev)
        assert info.value.loc.line == 8 and "processor 3: block 0, lane 3" in info.value.message, engine
        assert info.value.hint == ops.ERRORS[error].hint
        messages.append(str(info.value))
    assert messages[0] == messages[1]
