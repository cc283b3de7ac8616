"""The docs' examples run and give the numbers the docs quote.

- every docs/examples/*.py runs with `pramsim run` and matches its NumPy reference, and the work,
  depth and counts quoted in docs/dsl.md and docs/cost-model.md are the measured ones, derived
  here independently by hand (textbook counts) rather than copied from a run;
- every `$ pramsim ...` command in a ```console block of docs/cli.md, dsl.md and cost-model.md
  exits with code 0 and prints the output the block shows (tests/transcripts.py says what is
  normalised);
- the README's Programs section names every shipped program.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import transcripts
from pramsim.cli import main
from pramsim.programs import shipped_programs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))


def run_json(*args):
    r = CliRunner().invoke(main, ["run", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_there_are_examples():
    assert {p.stem for p in EXAMPLES} >= {"saxpy", "block_max", "softplus_poly"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_runs_correctly_and_brent_holds(path):
    d = run_json(str(path), "--p", "3")
    assert d["correct"] is True
    assert d["brent"]["holds"] and d["brent"]["lower"] <= d["steps"] <= d["brent"]["upper"]


def test_saxpy_counts_by_hand():
    # per processor: i < n (1 int), x[i] and y[i] (2 hbm loads), * and + (2 flops), y[i] = (1 store)
    for n in (1000, 4097):
        d = run_json(str(DOCS / "examples" / "saxpy.py"), f"n={n}", "--p", "8")
        assert d["work"] == 6 * n and d["depth"] == 6
        assert d["counts"] == {"int.<": n, "load.hbm": 2 * n, "flop.*": n, "flop.+": n, "store.hbm": n}
        assert d["depth_by_class"] == {"flop": 2, "hbm": 3, "sram": 0}
        assert d["steps"] == 6 * math.ceil(n / 8)  # 6 levels, each n wide: ceil(n/8) machine steps each
    doc = (DOCS / "dsl.md").read_text()
    assert "W = 6,000" in doc and "D = 6" in doc


def test_block_max_counts_by_hand():
    b = 4
    d = run_json(str(DOCS / "examples" / "block_max.py"), f"blocks={b}", "--p", "8")
    # a 64-wide tree: 32 + 16 + ... + 1 = 63 max() per block, 6 levels deep; 64 loads + 1 store of HBM per block
    assert d["counts"]["flop.max"] == 63 * b
    assert d["depth_by_class"]["flop"] == 6
    assert d["counts"]["load.hbm"] == 64 * b and d["counts"]["store.hbm"] == b
    assert d["counts"]["load.sram"] == 2 * 63 * b + b and d["counts"]["store.sram"] == 64 * b + 63 * b
    assert d["work"] == 9204 and d["depth"] == 63
    doc = (DOCS / "dsl.md").read_text()
    assert "W = 9,204" in doc and "D = 63" in doc


def test_softplus_poly_matches_numpy_and_counts():
    n = 512
    d = run_json(str(DOCS / "examples" / "softplus_poly.py"), f"n={n}", "--p", "8")
    assert d["counts"]["flop.exp"] == n and d["counts"]["flop.log"] == n  # every |v| < 20 here
    assert d["counts"]["store.local"] == 4 * n and d["counts"]["flop.*"] == 3 * n
    assert d["work"] == 18944 and d["depth"] == 37
    assert "W = 18,944" in (DOCS / "dsl.md").read_text()


def test_cost_model_doc_quotes_tree_sum():
    # tree_sum on n = 2^k: n - 1 additions at flop depth log2 n (the textbook count)
    n = 1024
    d = run_json("tree_sum", f"n={n}", "--p", "8")
    assert d["counts"]["flop.+"] == n - 1 and d["depth_by_class"]["flop"] == int(np.log2(n))
    text = (DOCS / "cost-model.md").read_text()
    assert f"W = {d['work']:,}" in text and f"D = {d['depth']}" in text and f"T_p = {d['steps']:,}" in text


def console_commands():
    text = (DOCS / "cli.md").read_text()
    cmds = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        cmds += [line[2:] for line in block.splitlines() if line.startswith("$ pramsim ")]
    return cmds


def test_cli_doc_has_commands():
    cmds = console_commands()
    assert len(cmds) >= 6
    for sub in ("list", "machines", "run", "check", "show-ir"):
        assert any(c.split()[1] == sub for c in cmds), sub


DOC_TRANSCRIPTS = [t for doc in transcripts.REFERENCE_DOCS for t in transcripts.transcripts(doc)]


# Each runs in well under a second in this process (roofline, the slowest, about one): none is skipped.
@pytest.mark.parametrize("t", DOC_TRANSCRIPTS, ids=lambda t: f"{t.id}:{t.command[8:60]}")
def test_doc_transcript(t):
    code, stdout, stderr = transcripts.run(t)
    assert code == t.exit_code, f"{t.command}\n{stdout}{stderr}"
    if transcripts.checked(t):
        mismatch = transcripts.mismatch(t, stdout, stderr)
        assert mismatch is None, mismatch


def test_transcript_comparison_allows_cuts_and_varying_figures_only():
    t = transcripts.Transcript(DOCS / "cli.md", 1, "pramsim x", ("a", "...", '  "wall_s": 0.5', "}"), 0)
    assert transcripts.mismatch(t, f'a\nb\nc\n  "wall_s": 0.0123\n}}\n\n', "") is None
    assert transcripts.mismatch(t, f'a\nb\n  "wall_s": 0.0123\n}}\nd\n', "") is not None  # the end is not cut
    assert transcripts.mismatch(t, f'A\n  "wall_s": 0.0123\n}}\n', "") is not None
    t = transcripts.Transcript(DOCS / "cli.md", 1, "pramsim x", ('"a": 6.000000000000002, "rms": 3.1e-16',), 0)
    assert transcripts.mismatch(t, '"a": 5.999999999999998, "rms": 2.9e-17', "") is None
    assert transcripts.mismatch(t, '"a": 6.000100000000002, "rms": 2.9e-17', "") is not None


def test_readme_programs_section_names_every_shipped_program():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Programs\n", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in shipped_programs() if f"`{name}`" not in section]
    assert not missing, f"README.md's Programs section does not name {missing} (see `pramsim list`)"


@pytest.mark.parametrize("n", [1000, 4096, 5000])
def test_block_sum_program_counts_by_hand(n):
    # programs/block_sum.py (the benchmark's kernel): blocks of 1024, each a full 10-level tree
    # (1023 additions, padded with zeros), relaunched over the partials until one remains.
    d = run_json(str(ROOT / "programs" / "block_sum.py"), f"n={n}", "--p", "64")
    assert d["correct"] is True
    b1 = -(-n // 1024)
    blocks = b1 + (1 if b1 > 1 else 0)
    assert d["launches"] == (2 if b1 > 1 else 1)
    assert d["counts"]["flop.+"] == 1023 * blocks
    assert d["counts"]["load.hbm"] == n + (b1 if b1 > 1 else 0)
    assert d["counts"]["store.hbm"] == blocks
    assert d["depth_by_class"]["flop"] == 10 * d["launches"]
