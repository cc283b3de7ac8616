"""List ranking and connected components (issue 16): results against independent answers, the
textbook counts by hand, the PRAM model each needs (refused under the weaker ones), graph
families and edge-list files (graph=FILE), and text parameters on the command line."""
from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from pramsim import graphs
from pramsim.cli import main
from pramsim.engines.vector import Executor
from pramsim.errors import ExecutionError, ParameterError
from pramsim.machine import load_machine
from pramsim.programs import load_program
from pramsim.runner import check_program, execute, parse_params, run_program
from pramsim.sweep import grid

PRAM = load_machine("pram")


def run(name, model="crcw-arbitrary", seed=0, **params):
    prog = load_program(name)
    return run_program(prog, {**prog.params, **params}, PRAM.with_processors(8), seed=seed, model=model)


def rounds(n):
    return math.ceil(math.log2(n)) if n > 1 else 0


# ---- list ranking --------------------------------------------------------------------------------

def test_list_ranks_reference_on_a_list_in_order():
    succ = np.minimum(np.arange(1, 6), 4).astype(np.int32)  # 0 -> 1 -> ... -> 4 (tail)
    assert graphs.list_ranks(succ).tolist() == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("n", [1, 2, 5, 1000, 1024])
def test_list_rank_takes_ceil_log2_n_rounds_of_n_additions(n):
    r = run("list_rank", n=n)
    assert r.comparison.correct, r.comparison.message
    k = rounds(n)
    assert r.trace.counter("launches") == 1 + k
    assert r.trace.counter("int.+") == n * k            # one addition per node per round
    assert r.trace.counter("store.hbm") == n + 2 * n * k  # rank and successor per node per round


def test_list_rank_needs_crew_and_erew_refuses_it():
    with pytest.raises(ExecutionError, match="concurrent read of rank.*EREW"):
        run("list_rank", model="erew", n=64)
    assert run("list_rank", model="crew", n=64).comparison.correct


@pytest.mark.parametrize("seed", range(6))
def test_list_rank_splice_is_exact_on_random_and_ordered_lists(seed):
    prog = load_program("list_rank_splice")
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 17, 300):
        for succ in (graphs.random_list(rng, n), np.minimum(np.arange(1, n + 1), n - 1).astype(np.int32)):
            out = execute(prog, {"n": n}, {"succ": succ}, Executor())
            walk = np.empty(n, np.int64)  # an independent answer: follow the pointers from every node
            for i in range(n):
                d, j = 0, i
                while succ[j] != j:
                    d, j = d + 1, succ[j]
                walk[i] = d
            assert out.tolist() == walk.tolist()


def test_list_rank_splice_is_work_efficient_and_erew():
    """W = Θ(n) and D = Θ(log n) over the sweep (the fits of `check`), under the EREW model."""
    res = check_program(load_program("list_rank_splice"), PRAM, ps=(1, 64), model="erew")
    assert res.passed, [p.failures for p in res.points]
    assert res.work_fit.holds and res.depth_fit.holds
    # against list_rank at n = 16384: the work per node stays flat while Wyllie's grows with log n
    per_node = [p.work / p.params["n"] for p in res.points]
    assert max(per_node) < 1.1 * min(per_node)


# ---- connected components --------------------------------------------------------------------------

@pytest.mark.parametrize("graph", ["path", "star", "grid"])
@pytest.mark.parametrize("n", [1, 2, 9, 100])
def test_connected_families_are_one_component_labelled_0(graph, n):
    r = run("connected_components", graph=graph, n=n)
    assert r.comparison.correct, r.comparison.message
    assert r.output.tolist() == [0] * n


def test_random_graphs_against_union_find():
    for seed in range(4):
        for deg in (1, 2, 4):
            assert run("connected_components", seed=seed, n=200, deg=deg).comparison.correct
    src, _ = graphs.edges("random", 50, np.random.default_rng(1), deg=3)
    assert len(src) == 75  # deg * n / 2 edges, none dropped


def test_grid_generator_edges():
    src, dst = graphs.edges("grid", 12, np.random.default_rng(0))  # 3 rows of 4
    assert len(src) == 3 * 3 + 2 * 4
    assert set(zip(src.tolist(), dst.tolist())) >= {(0, 1), (0, 4), (7, 11), (10, 11)}


def test_connected_components_counts_by_hand_on_a_path():
    """n = 10, m = 9: H = 4 rounds; m directed both ways = 18 edge processors per round. A round:
    copy (1 load, 2 stores a vertex), hook (4 loads, 1 compare, 1 store an edge), mark (2 loads,
    1 compare, 2 stores a vertex), hook_stagnant (5 loads, 2 compares, 1 store an edge); round r
    shortcuts H - r times (10 jumps of 2 loads, 1 store); then H bits of flag_zeros (2 loads,
    1 compare, 1 store) and drop_ones (3 loads, 1 store), pick and label (2 loads, 1 store each),
    after init (2 stores)."""
    n, m2, h = 10, 18, 4
    r = run("connected_components", graph="path", n=n)
    jumps = h * (h + 1) // 2
    assert r.trace.counter("launches") == 3 + 6 * h + jumps
    assert r.trace.counter("int.<") == h * m2
    assert r.trace.counter("int.!=") == h * (n + m2)
    assert r.trace.counter("int.==") == h * m2 + h * n + n
    assert r.trace.counter("store.hbm") == 2 * n + h * (4 * n + 2 * m2) + n * jumps + 2 * n * h + 2 * n
    assert r.trace.counter("load.hbm") == h * (3 * n + 9 * m2) + 2 * n * jumps + 5 * n * h + 4 * n


def _edge_file(tmp_path, pairs, name="g.txt"):
    f = tmp_path / name
    f.write_text("".join(f"{u} {v}\n" for u, v in pairs))
    return str(f)


def test_connected_components_counts_depend_on_n_and_m_only(tmp_path):
    """Whichever concurrent hook wins, and whatever the components, every processor does the same
    operations: a path, a star and five separate pairs-and-a-chain with the same n and m give the
    same figures (so engines that resolve writes differently agree)."""
    n = 33
    split = _edge_file(tmp_path, [(v, v + 1) for v in range(0, 20)] + [(v, v + 3) for v in range(21, 30)] + [(31, 32)] * 3)
    a, b = run("connected_components", graph="path", n=n), run("connected_components", graph="star", n=n)
    c = run("connected_components", graph=split, n=n)
    assert c.comparison.correct and len(set(c.output.tolist())) > 1
    assert dict(a.trace.counts) == dict(b.trace.counts) == dict(c.trace.counts)
    assert a.trace.depth == b.trace.depth == c.trace.depth


MODELS = ("crcw-arbitrary", "crcw-priority")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("centre_first", [True, False])
@pytest.mark.parametrize("n", [2, 3, 16, 17, 100])
def test_star_whose_centre_has_the_largest_id(tmp_path, model, centre_first, n):
    """The reviewer's counterexample: conditional hooking alone lets the centre hook onto one leaf
    a round and the other leaves stay alone (both edge orders, so each write rule picks either end)."""
    c = n - 1
    f = _edge_file(tmp_path, [(c, v) if centre_first else (v, c) for v in range(c)])
    r = run("connected_components", model=model, graph=f, n=n)
    assert r.output.tolist() == [0] * n, r.comparison.message


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("order", ["reversed", "permuted"])
def test_paths_with_relabelled_vertices(tmp_path, model, order):
    n = 129
    rng = np.random.default_rng(3)
    label = np.arange(n)[::-1] if order == "reversed" else rng.permutation(n)
    f = _edge_file(tmp_path, [(label[i], label[i + 1]) for i in range(n - 1)])
    r = run("connected_components", model=model, graph=f, n=n)
    assert r.output.tolist() == [0] * n, r.comparison.message


def test_random_relabelled_graphs_against_union_find():
    """200 random multigraphs (n = 2 … 300, 0 … 2n edges, self-loops and repeats allowed), their
    vertices renamed by a random permutation, under both write rules: labels equal union-find's.
    Every other graph also gets a star on a random half of the vertices centred at vertex n - 1,
    the shape that defeats conditional hooking alone."""
    prog = load_program("connected_components")
    rng = np.random.default_rng(11)
    for i in range(200):
        n = int(rng.integers(2, 301))
        m = int(rng.integers(0, 2 * n + 1))
        perm = rng.permutation(n).astype(np.int32)
        src, dst = perm[rng.integers(0, n, m)], perm[rng.integers(0, n, m)]
        if i % 2:
            leaves = rng.permutation(n - 1)[: n // 2].astype(np.int32)
            src, dst = np.concatenate([src, np.full(len(leaves), n - 1, np.int32)]), np.concatenate([dst, leaves])
        src, dst = graphs.both_ways(src, dst)
        want = graphs.component_labels(n, src, dst).tolist()
        for model in MODELS:
            out = execute(prog, {**prog.params, "n": n}, {"src": src, "dst": dst}, Executor(model))
            assert out.tolist() == want, (n, m, model)


@pytest.mark.parametrize("model,error", [("erew", "concurrent read"), ("crew", "concurrent write"),
                                         ("crcw-common", "different values")])
def test_connected_components_needs_crcw_arbitrary(model, error):
    with pytest.raises(ExecutionError, match=error):
        run("connected_components", model=model)
    for ok in ("crcw-arbitrary", "crcw-priority"):
        assert run("connected_components", model=ok).comparison.correct


# ---- graph=FILE and text parameters ----------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_a_graph_without_edges_is_n_components(tmp_path):
    f = tmp_path / "none.txt"
    f.write_text("# no edges at all\n\n")
    r = run("connected_components", graph=str(f), n=7)
    assert r.comparison.correct and r.output.tolist() == list(range(7))
    assert "hook" not in {launch.kernel for launch in r.trace.launches}


def test_edge_list_file_runs_from_the_command_line(tmp_path):
    f = tmp_path / "edges.txt"
    f.write_text("# two triangles and a lone vertex\n0 1\n1 2\n2 0\n\n3 4\n4 5\n5 3\n")
    src, dst = graphs.read_edge_list(str(f), 7)
    assert list(zip(src.tolist(), dst.tolist())) == [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]
    r = run("connected_components", graph=str(f), n=7)
    assert r.output.tolist() == [0, 0, 0, 3, 3, 3, 6]
    res = invoke("run", "connected_components", f"graph={f}", "n=7")
    assert res.exit_code == 0 and "correct" in res.output and f"graph={f}" in res.output


@pytest.mark.parametrize("text,line,message", [("0 1\n1 x\n", 2, "not two vertex ids"),
                                               ("0 1\n\n2 3 4\n", 3, "not two vertex ids"),
                                               ("0 1\n1 9\n", 2, "vertex 9 is not below n=5")])
def test_damaged_edge_list_names_the_file_and_line(tmp_path, text, line, message):
    f = tmp_path / "bad.txt"
    f.write_text(text)
    with pytest.raises(ParameterError, match=message) as exc:
        graphs.read_edge_list(str(f), 5)
    assert exc.value.loc.file == str(f) and exc.value.loc.line == line
    res = invoke("run", "connected_components", f"graph={f}", "n=5")
    assert res.exit_code == 2 and f"{f}:{line}" in res.output and message in res.output


def test_missing_edge_list_file_is_a_usage_error(tmp_path):
    res = invoke("run", "connected_components", f"graph={tmp_path / 'nope.txt'}")
    assert res.exit_code == 2 and "no such family or file" in res.output and "random, path, star, grid" in res.output


def test_text_parameters_parse_sweep_and_list():
    prog = load_program("connected_components")
    assert parse_params(prog, ["graph=star", "n=5"]) == {"n": 5, "deg": 2, "graph": "star"}
    with pytest.raises(ParameterError, match="graph is empty"):
        parse_params(prog, ["graph="])
    with pytest.raises(ParameterError, match="not an integer"):
        parse_params(prog, ["n=path"])
    names, points = grid(prog, ["n=8,16", "graph=path,star"])
    assert points == [{"n": 8, "graph": "path"}, {"n": 8, "graph": "star"},
                      {"n": 16, "graph": "path"}, {"n": 16, "graph": "star"}]
    res = invoke("list", "--json")
    entry = next(e for e in __import__("json").loads(res.output) if e["name"] == "connected_components")
    assert entry["params"]["graph"] == {"default": "random", "min": None, "max": None}

