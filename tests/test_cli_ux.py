"""What users expect of the command line (issue 13): --version, `list --json` and `machines --json`
(strict JSON), shell completion of program names, declared parameter ranges (pad=0, chunk=0),
progress bars on stderr only when asked for, and a docs/cli.md that names every option.

References: the package metadata, the TOML profiles read with tomllib, the programs' own files,
the click command tree itself.
"""
from __future__ import annotations

import importlib.metadata
import json
import re
import textwrap
import tomllib
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from pramsim.cli import main
from pramsim.errors import DSLError, ParameterError
from pramsim.machine import available_machines
from pramsim.programs import load_file, load_program, shipped_programs

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as strict parsers (JavaScript's JSON.parse) do."""
    def refuse(name: str):
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# ---- --version, list --json, machines --json ---------------------------------------------------------

def test_version_is_the_package_metadata_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"pramsim, version {importlib.metadata.version('pramsim')}"


def test_list_json_has_every_program_with_defaults_ranges_and_bounds():
    r = invoke("list", "--json")
    assert r.exit_code == 0, r.output
    rows = strict_json(r.stdout)
    assert [row["name"] for row in rows] == list(shipped_programs())
    by_name = {row["name"]: row for row in rows}
    flash = by_name["attention_flash"]
    assert flash["params"]["pad"] == {"default": 0, "min": 0, "max": None}
    assert flash["params"]["n"] == {"default": 64, "min": 1, "max": None}
    assert by_name["attention_chunked"]["params"]["chunk"] == {"default": 0, "min": 0, "max": None}
    tree = by_name["tree_sum"]
    assert tree["bounds"]["work"] == "n" and tree["bounds"]["depth"] == "log n"
    assert tree["bounds"]["counts"]["flop.+"] == "n - 1"
    assert tree["description"].startswith("Sum n numbers")
    assert Path(tree["file"]) == ROOT / "programs" / "tree_sum.py"


def test_list_text_shows_ranges_other_than_the_default():
    r = invoke("list")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("attention_flash "))
    assert "pad=0[0..]" in line and "n=64 " in line and "n=64[" not in line


def test_machines_json_gives_every_profile_figure_as_in_its_toml():
    r = invoke("machines", "--json")
    assert r.exit_code == 0, r.output
    rows = strict_json(r.stdout)
    assert [row["name"] for row in rows] == list(available_machines())
    for row in rows:
        toml = tomllib.loads(Path(row["path"]).read_text())
        for key, value in toml.items():
            if key != "name":
                assert row["figures"][key] == value, (row["name"], key)
        assert row["summary"].startswith(row["name"] + ":")


# ---- shell completion --------------------------------------------------------------------------------

def complete(args: list[str], incomplete: str) -> list[str]:
    comp = ShellComplete(main, {}, "pramsim", "_PRAMSIM_COMPLETE")
    return [item.value for item in comp.get_completions(args, incomplete)]


@pytest.mark.parametrize("command", ["run", "check", "sweep", "show-ir", "show-cuda", "gpu", "roofline"])
def test_completion_of_shipped_program_names(command):
    assert complete([command], "tree_") == [n for n in shipped_programs() if n.startswith("tree_")] \
        == ["tree_max", "tree_sum"]


def test_completion_of_py_files_and_folders(monkeypatch):
    monkeypatch.chdir(ROOT)
    examples = sorted(p.name for p in (ROOT / "docs" / "examples").glob("*.py"))
    assert complete(["run"], "docs/examples/") == [f"docs/examples/{n}" for n in examples]
    assert complete(["run"], "docs/examples/sax") == ["docs/examples/saxpy.py"]
    assert {"docs/course/", "docs/examples/"} <= set(complete(["check"], "docs/"))
    # one folder matches: its contents are offered, so the shell does not end the word there
    assert complete(["run"], "tests/fixt") == sorted(
        f"tests/fixtures/{p.name}" for p in (ROOT / "tests" / "fixtures").iterdir() if p.suffix == ".py")
    assert complete(["run"], "no_such_dir/x") == []


def test_completion_script_is_the_documented_one():
    # docs/cli.md: eval "$(_PRAMSIM_COMPLETE=bash_source pramsim)"
    r = CliRunner().invoke(main, [], prog_name="pramsim", env={"_PRAMSIM_COMPLETE": "bash_source"})
    assert r.exit_code == 0 and "complete -o nosort -F _pramsim_completion pramsim" in r.stdout
    assert "_PRAMSIM_COMPLETE=bash_source pramsim" in (ROOT / "docs" / "cli.md").read_text()


# ---- parameter ranges --------------------------------------------------------------------------------

def test_pad_zero_and_one_both_run():
    out = {}
    for pad in (0, 1):
        r = invoke("run", "attention_flash", "n=32", "d=32", f"pad={pad}", "--machine", "h100", "--json")
        assert r.exit_code == 0, r.output
        out[pad] = json.loads(r.stdout)
        assert out[pad]["correct"] is True and out[pad]["params"]["pad"] == pad
    assert out[0]["work"] == out[1]["work"]
    # pad = 1 lengthens the rows of the Q and K tiles (tile_r = tile_c = 16 rows of float32) by one word
    assert out[1]["memory"]["sram_per_block_bytes"] - out[0]["memory"]["sram_per_block_bytes"] == 2 * 16 * 4


def test_chunk_zero_is_the_automatic_chunk():
    r = invoke("run", "attention_chunked", "n=16", "chunk=0", "--json")
    auto = invoke("run", "attention_chunked", "n=16", "chunk=4", "--json")  # √16 = 4
    assert r.exit_code == 0 and auto.exit_code == 0, r.output + auto.output
    assert json.loads(r.stdout)["counts"] == json.loads(auto.stdout)["counts"]


@pytest.mark.parametrize("args, words", [
    (["attention_flash", "pad=-1"], ["pad=-1", "at least 0", "0.."]),
    (["tree_sum", "n=0"], ["n=0", "at least 1", "1.."]),
])
def test_out_of_range_value_names_the_range(args, words):
    r = invoke("run", *args)
    assert r.exit_code == 2
    for w in words:
        assert w in r.output, r.output


def write_program(tmp_path: Path, decorator_args: str, name: str = "prog") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(f'''\
        import numpy as np
        from pramsim.dsl import gid, kernel, program, zeros


        @kernel
        def add(a, c, n, k):
            i = gid()
            if i < n:
                c[i] = a[i] + k


        def make_inputs(rng, n, k):
            return {{"a": rng.standard_normal(n).astype(np.float32)}}


        @program({decorator_args}, inputs=make_inputs, reference=lambda a, n, k: a.astype(np.float64) + k)
        def {name}(a, n, k):
            c = zeros(n, np.float32)
            add[n](a, c, n, k)
            return c
        '''))
    return path


def test_declared_bounded_range_is_enforced_and_listed_in_the_error(tmp_path):
    path = write_program(tmp_path, 'params={"n": 64, "k": 0}, ranges={"k": (-2, 3)}')
    assert load_file(path)[0].ranges == {"n": (1, None), "k": (-2, 3)}
    for k in (-2, 0, 3):
        r = invoke("run", str(path), f"k={k}", "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["correct"], r.output
    r = invoke("run", str(path), "k=4")
    assert r.exit_code == 2 and "k=4 must be from -2 to 3" in r.output and "-2..3" in r.output


def test_undeclared_zero_default_allows_zero_as_before(tmp_path):
    # a file written before ranges= existed, with a default of 0: that default stays usable
    path = write_program(tmp_path, 'params={"n": 64, "k": 0}', name="old_style")
    prog = load_file(path)[0]
    assert prog.param_range("k") == (0, None) and prog.param_range("n") == (1, None)
    assert invoke("run", str(path), "k=0").exit_code == 0
    assert invoke("run", str(path), "k=-1").exit_code == 2


@pytest.mark.parametrize("ranges, words", [
    ('{"m": (0, 1)}', "not a parameter"),
    ('{"k": (3, 1)}', "is not a range"),
    ('{"k": (0.5, 1)}', "is not a range"),
    ('{"k": (1, 2)}', "default k=0 is outside its declared range 1..2"),
])
def test_malformed_ranges_are_dsl_errors_at_the_decorator(tmp_path, ranges, words):
    path = write_program(tmp_path, f'params={{"n": 64, "k": 0}}, ranges={ranges}', name=f"bad_{abs(hash(ranges))}")
    with pytest.raises(DSLError) as info:
        load_file(path)
    assert words in info.value.message
    assert info.value.loc is not None and info.value.loc.file == str(path)
    assert "@program(" in path.read_text().splitlines()[info.value.loc.line - 1]


def test_sweep_axis_accepts_values_in_range_only():
    from pramsim.sweep import grid
    flash = load_program("attention_flash")
    assert grid(flash, ["pad=0,1", "p=1"])[1] == [{"pad": 0, "p": 1}, {"pad": 1, "p": 1}]
    with pytest.raises(ParameterError, match="pad=-1 must be at least 0"):
        grid(flash, ["pad=-1,0"])
    with pytest.raises(ParameterError, match="n=0 must be at least 1"):
        grid(load_program("tree_sum"), ["n=0,4"])
    with pytest.raises(ParameterError, match="p=0"):
        grid(load_program("tree_sum"), ["p=0,1"])


# ---- progress ----------------------------------------------------------------------------------------

FORCED = {"PRAMSIM_PROGRESS": "1"}


def bar_states(stderr: str, label: str) -> list[str]:
    """The successive states of a forced bar (click rewrites one line with carriage returns, which
    text-mode pipes turn into newlines)."""
    return [part for part in re.split(r"[\r\n]", stderr) if label in part]


def test_no_progress_when_stderr_is_not_a_terminal():
    r = invoke("sweep", "tree_sum", "n=64,128", "-j", "1", "--json")
    assert r.exit_code == 0 and r.stderr == "" and len(strict_json(r.stdout)) == 2
    r = invoke("check", "tree_sum", "--p", "2", "--json", "--max-time", "0")
    assert r.exit_code == 0 and r.stderr == ""


def test_forced_sweep_progress_counts_every_point_on_stderr_only():
    r = invoke("sweep", "tree_sum", "n=64..256", "p=1,2", "-j", "1", "--json", env=FORCED)
    assert r.exit_code == 0, r.output
    assert len(strict_json(r.stdout)) == 6  # stdout: the JSON alone
    states = bar_states(r.stderr, "sweep tree_sum: points")
    assert [re.search(r"(\d+)/6", s).group(1) for s in states][-1] == "6"
    assert {f"{k}/6" for k in range(7)} <= {re.search(r"\d+/6", s).group(0) for s in states}
    assert all("elapsed " in s for s in states)


def test_forced_run_status_counts_the_launches_on_stderr_only():
    """tree_sum n=1024 launches add_pairs log2(1024) = 10 times: the status line's last count."""
    r = invoke("run", "tree_sum", "n=1024", "--json", "--max-time", "0", env=FORCED)
    assert r.exit_code == 0 and strict_json(r.stdout)["correct"] is True
    counts = re.findall(r"run tree_sum: launch (\d+) \(add_pairs\)  elapsed \d+:\d\d", r.stderr)
    assert counts and counts[-1] == "10", r.stderr


def test_forced_check_progress_counts_the_sweep_points():
    from pramsim.runner import sweep_points
    total = len(sweep_points(load_program("tree_sum")))
    r = invoke("check", "tree_sum", "--p", "2", "--json", "--max-time", "0", env=FORCED)
    assert r.exit_code == 0 and strict_json(r.stdout)["pass"] is True
    assert f"{total}/{total}" in r.stderr and "check tree_sum: points" in r.stderr


def test_progress_switch(monkeypatch):
    from pramsim import progress

    class Tty:
        def isatty(self):
            return True
    monkeypatch.setattr("sys.stderr", Tty())
    monkeypatch.delenv("PRAMSIM_PROGRESS", raising=False)
    assert progress.enabled()
    monkeypatch.setenv("PRAMSIM_PROGRESS", "0")
    assert not progress.enabled()


def test_elapsed_and_eta_text():
    from pramsim import progress

    class Bar:  # what _times reads of click's ProgressBar
        start = __import__("time").time() - 7.2
        eta_known, finished, eta = True, False, 3725.0
    assert progress._times(Bar()) == "elapsed 0:07  ETA 1:02:05"
    Bar.finished = True
    assert progress._times(Bar()) == "elapsed 0:07"


def test_forced_gpu_repeat_progress_on_the_cuda_simulator():
    import subprocess
    import sys
    env = dict(__import__("os").environ, PRAMSIM_PROGRESS="1", NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "gpu", "vector_mul", "n=64", "--repeat", "3", "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    data = strict_json(r.stdout)
    assert len(data["times_s"]) == 3
    states = bar_states(r.stderr, "gpu vector_mul: timed runs")
    assert {"0/3", "1/3", "2/3", "3/3"} <= {re.search(r"\d/3", s).group(0) for s in states}


# ---- the compiled engine's first-compile note --------------------------------------------------------

def test_compiled_engine_notes_a_kernel_compile_once_per_process(tmp_path):
    import uuid
    # a kernel no cache has seen: its source carries a fresh constant
    src = (ROOT / "docs" / "examples" / "saxpy.py").read_text()
    assert "alpha * x[i] + y[i]" in src
    path = tmp_path / "fresh_saxpy.py"
    path.write_text(src.replace("alpha * x[i] + y[i]", f"alpha * x[i] + y[i] + {uuid.uuid4().int % 997}.0 * 0.0"))
    want = "compiling kernel saxpy_kernel for the compiled engine (first time; cached afterwards)"
    first = invoke("run", str(path), "n=300", "--engine", "compiled", "--max-time", "0", "--json", env=FORCED)
    assert first.exit_code == 0, first.output
    assert first.stderr.count(want) == 1 and strict_json(first.stdout)["engine"] == "compiled"
    again = invoke("run", str(path), "n=300", "--engine", "compiled", "--max-time", "0", env=FORCED)
    assert again.exit_code == 0 and want not in again.stderr
    quiet = invoke("run", str(path), "n=500", "--engine", "compiled", "--max-time", "0")
    assert quiet.exit_code == 0 and "compiling kernel" not in quiet.stderr


def test_compile_note_reads_numbas_disk_cache(tmp_path, monkeypatch, capsys):
    """progress.note_compile against a real numba cache: before the first call there is no index,
    after it a fresh dispatcher of the same file finds one (numba's private layout; if it moves,
    the note says 'preparing' and this test fails)."""
    import importlib.util

    import numba.core.config

    from pramsim import progress
    monkeypatch.setenv("PRAMSIM_PROGRESS", "1")
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "mod_for_cache.py"
    src.write_text("import numba\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n")

    def fresh_dispatcher(tag):
        spec = importlib.util.spec_from_file_location(f"mod_for_cache_{tag}", src)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.twice
    first = fresh_dispatcher("a")
    progress.note_compile("twice", first)
    assert capsys.readouterr().err == "compiling kernel twice for the compiled engine (first time; cached afterwards)\n"
    assert first(21) == 42  # compiles and writes numba's disk cache
    progress.note_compile("twice", first)  # compiled in this process
    progress.note_compile("twice", fresh_dispatcher("b"))  # not compiled here, but on disk
    assert capsys.readouterr().err == ""
    progress.note_compile("twice", object())  # not a numba dispatcher: no guessing
    assert "preparing kernel twice" in capsys.readouterr().err


# ---- every option documented -------------------------------------------------------------------------

def cli_options() -> list[tuple[str, str]]:
    """(command, option name) for every option of every command, and of the group itself ('')."""
    out = []
    for cmd_name, cmd in [("", main), *sorted(main.commands.items())]:
        for param in cmd.params:
            if isinstance(param, click.Option):
                out += [(cmd_name, opt) for opt in param.opts + param.secondary_opts if opt not in ("-h", "--help")]
    return out


def doc_section(text: str, command: str) -> str:
    """The part of docs/cli.md about `pramsim COMMAND`: from its `## ` heading to the next one
    (the whole file's head, before the first command, for the group's own options)."""
    parts = re.split(r"^## ", text, flags=re.M)
    if not command:
        return parts[0] + "".join(p for p in parts if p.startswith("Shell completion") or p.startswith("Progress"))
    found = [p for p in parts if p.startswith(f"`pramsim {command} ") or p.startswith(f"`pramsim {command}`")]
    assert found, f"docs/cli.md has no section `## \\`pramsim {command} ...\\``"
    return "".join(found)


def test_every_picture_option_names_every_format_in_its_help():
    from pramsim.cli import PLOT_FORMATS, PlotPath
    found = {(name, param.opts[0]): param.help for name, cmd in main.commands.items() for param in cmd.params
             if isinstance(param.type, PlotPath)}
    assert set(found) == {("run", "--gantt"), ("sweep", "--plot"), ("roofline", "--plot")}
    for (name, option), text in found.items():
        assert all(fmt in text for fmt in PLOT_FORMATS), f"pramsim {name} {option}: {text!r}"


@pytest.mark.parametrize("command, option", cli_options(), ids=[f"{c or 'pramsim'} {o}" for c, o in cli_options()])
def test_every_option_is_in_its_command_section_of_cli_md(command, option):
    section = doc_section((ROOT / "docs" / "cli.md").read_text(), command)
    # written as code: `--machine NAME`, `--machine/-m`, `-v/--verbose`, `--json`
    assert re.search(rf"[`/]{re.escape(option)}[\s`=/|]", section), \
        f"docs/cli.md does not document `pramsim {command} {option}` in the command's section"


@pytest.mark.parametrize("command, option", [(c, o) for c, o in cli_options() if o.startswith("--")],
                         ids=[f"{c or 'pramsim'} {o}" for c, o in cli_options() if o.startswith("--")])
def test_every_long_option_is_in_the_readme_command_table(command, option):
    readme = (ROOT / "README.md").read_text()
    rows = [ln for ln in readme.splitlines() if ln.startswith(f"| `pramsim {command}".rstrip() + (" " if command else ""))
            or (not command and ln.startswith("`pramsim "))]
    assert rows, f"README has no row for pramsim {command}"
    assert any(re.search(rf"{re.escape(option)}\b", ln) for ln in rows), f"README's rows for `pramsim {command}` lack {option}"
