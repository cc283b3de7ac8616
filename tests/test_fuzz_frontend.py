"""Fuzz the frontend (and the executor behind it) with generated and mutated kernel sources.

Every source is written to a fresh file and imported with `from pramsim.dsl import *`; defining
the kernel must either succeed or raise a pramsim error (DSLError/PramsimError) located in that
file. Kernels it accepts are launched on 8 processors: again only pramsim errors may escape.
Python's own SyntaxError (a mutation that is not Python) is not the frontend's and is skipped.
"""
import importlib.util
import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pramsim.engines import vector as executor_mod
from pramsim.errors import DSLError, PramsimError
from pramsim.engines.vector import Executor
from pramsim.runtime import use_backend

_DIR = Path(tempfile.mkdtemp(prefix="pramsim_fuzz_"))
_ids = itertools.count()
_stats = {"accepted": 0, "rejected": 0, "syntax": 0, "ran": 0, "exec_error": 0}

GOOD_ATOMS = ["i", "n", "j", "x", "1", "0", "2", "-1", "2.5", "0.5", "a[i]", "b[j]", "a[0]", "b[i % n]",
              "gid()", "lane()", "block_id()", "block_dim()", "num_procs()", "math.pi"]
BAD_ATOMS = ["[1, 2]", "lambda q: q", "a[0:2]", "undefined_name", "print(i)", "'s'", "a.sum()",
             "{1: 2}", "(i, j)", "a", "k(a, b, n)", "gid(1)", "barrier()", "shared((4,), float32)",
             "(yield i)", "max(i)", "math.nope(i)", "None", "i if i else", "abs(i, j)", "float()"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", ">", "and", "or", "&", "|", "^", "<<", ">>"]
CALLS = ["math.exp({})", "math.sqrt(abs({}))", "math.log({})", "abs({})", "float({})", "int({})",
         "min({}, 1)", "max({}, 0.0)", "math.tanh({})", "math.floor({})", "-{}", "not {}", "~{}", "int32({})"]
GOOD_STMTS = ["x = {e}", "j = {e}", "a[{i}] = {e}", "b[{i}] = {e}", "x += {e}", "a[{i}] += {e}",
              "if {e}:\n    x = {e2}\nelse:\n    b[{i}] = {e2}", "for q in range({i}):\n    x = x + {e}",
              "w = 0\nwhile w < 3 and {e}:\n    w = w + 1", "if {e}:\n    return", "barrier()",
              "s = shared((8,), float32)\ns[lane()] = {e}", "t = local((2,), float64)\nt[0] = {e}", "pass",
              "w = 0\nwhile w < 3:\n    w = w + 1\n    if {e}:\n        break",
              "for q in range({i}):\n    if {e}:\n        continue\n    x = x + {e2}"]
BAD_STMTS = ["class C:\n    pass", "try:\n    x = 1\nexcept Exception:\n    pass", "def f():\n    pass",
             "global g", "del x", "assert x", "raise ValueError()", "import os", "with x:\n    pass",
             "x = y = 1", "x, j = 1, 2",
             "yield x", "return x", "x: int", "a = 1", "gid = 3", "n[0] = 1", "x[0] = 1",
             "for q in a:\n    pass", "for q in range(0, 4, j):\n    pass", "for i in range(2):\n    pass",
             "match x:\n    case 1:\n        pass", "async def g():\n    pass", "x = [q for q in range(2)]"]

expr = st.recursive(
    st.sampled_from(GOOD_ATOMS) | st.sampled_from(BAD_ATOMS).filter(lambda _: True).map(str),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(CALLS), inner).map(lambda t: t[0].format(t[1])),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(st.sampled_from(["a", "b"]), inner).map(lambda t: f"{t[0]}[{t[1]}]"),
    ),
    max_leaves=6,
)
good_expr = st.recursive(
    st.sampled_from(GOOD_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(CALLS), inner).map(lambda t: t[0].format(t[1])),
    ),
    max_leaves=5,
)
index = st.sampled_from(["i", "j", "0", "i % n", "n - 1 - i", "i + 1", "lane()", "i // 2"])


@st.composite
def statement(draw, allow_bad):
    if allow_bad and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(BAD_STMTS))
    e = expr if allow_bad else good_expr
    return draw(st.sampled_from(GOOD_STMTS)).format(e=draw(e), e2=draw(e), i=draw(index))


def indent(s, pad="    "):
    return "\n".join(pad + line for line in s.splitlines())


@st.composite
def kernel_source(draw, allow_bad=True):
    stmts = draw(st.lists(statement(allow_bad), min_size=1, max_size=6))
    body = "\n".join(["i = gid()", "j = i % n", "x = 0.0", *stmts])
    lines = body.splitlines()
    # mutations: operate on one line of the body
    for _ in range(draw(st.integers(0, 2) if allow_bad else st.just(0))):
        k = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["delete", "duplicate", "swap_op", "rename", "truncate", "dedent"]))
        line = lines[k]
        if how == "delete" and len(lines) > 1:
            del lines[k]
        elif how == "duplicate":
            lines.insert(k, line)
        elif how == "swap_op":
            for a_, b_ in (("+", "-"), ("<", ">="), ("*", "**"), ("==", "="), ("and", "or"), ("[", "("), ("i", "q")):
                if a_ in line:
                    lines[k] = line.replace(a_, b_, 1)
                    break
        elif how == "rename":
            lines[k] = line.replace("a[", "b[").replace("x", "z")
        elif how == "truncate" and line.strip():
            cut = draw(st.integers(1, len(line)))
            lines[k] = line[:cut]
        elif how == "dedent":
            lines[k] = line.lstrip()
    return "@kernel\ndef k(a, b, n):\n" + indent("\n".join(lines)) + "\n"


def define(src):
    path = _DIR / f"fuzz_{next(_ids)}.py"
    _last[:] = [path]
    path.write_text("from pramsim.dsl import *\nimport math\n" + src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError:  # not Python at all: Python's own error, before pramsim sees it
        _stats["syntax"] += 1
        return None, path
    spec.loader.exec_module(mod)
    return mod, path


# Crashes of known core bugs, each pinned by a strict xfail test in tests/test_executor.py
# (test_non_bool_vector_condition, test_negating_a_vector_comparison_is_python_int). When the core is
# fixed those tests XPASS and fail: then delete the matching entry here.
KNOWN_BUGS: tuple[str, ...] = ()  # all fixed; add a message only with a strict xfail test beside it
_known_hits = []
_last = []


def run_both(src):
    try:
        return _run_both(src)
    except PramsimError:
        raise
    except Exception as exc:
        if any(k in str(exc) for k in KNOWN_BUGS):
            _known_hits.append((type(exc).__name__, str(exc)[:80]))
            return
        raise


def _run_both(src):
    try:
        mod, path = define(src)
    except DSLError as exc:  # a DSL error says where: a line of the user's file
        _stats["rejected"] += 1
        n_lines = len(_last[0].read_text().splitlines())
        assert exc.loc is not None and exc.loc.file == str(_last[0]) and 3 <= exc.loc.line <= n_lines, exc
        return
    except PramsimError:
        _stats["rejected"] += 1
        return
    if mod is None:
        return
    _stats["accepted"] += 1
    ex = Executor()
    with use_backend(ex):
        a = ex.array(np.linspace(-1, 1, 8).astype(np.float32), "a")
        b = ex.array(np.arange(8, dtype=np.float32), "b")
        try:
            mod.k[2, 4](a, b, 8)
            _stats["ran"] += 1
        except PramsimError:
            _stats["exec_error"] += 1


@pytest.fixture(autouse=True)
def _small_loops(monkeypatch):
    monkeypatch.setattr(executor_mod, "MAX_ITERATIONS", 200)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(kernel_source(allow_bad=True))
def test_fuzzed_sources_only_raise_pramsim_errors(src):
    run_both(src)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kernel_source(allow_bad=False))
def test_well_formed_sources_only_raise_pramsim_errors(src):
    run_both(src)


def test_fuzz_covers_both_outcomes():
    """The generators reach both sides: some sources are accepted and run, some are rejected."""
    from hypothesis import find
    find(kernel_source(allow_bad=True), lambda s: "class C" in s)  # the bad statements are reachable
    run_both("@kernel\ndef k(a, b, n):\n    i = gid()\n    a[i] = b[i] + 1.0\n")
    run_both("@kernel\ndef k(a, b, n):\n    x = [1]\n")
    assert _stats["accepted"] >= 1 and _stats["rejected"] >= 1 and _stats["ran"] >= 1
