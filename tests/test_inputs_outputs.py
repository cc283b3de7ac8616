"""Files and faults from an adversarial review: outputs that would replace the program or each
other, resumed CSV rows that are not rows, --max-memory under --counts-only, empty Θ options,
unknown counter names, tolerances and references that cannot be compared, repeated sweep values,
plots that cannot be drawn, and CSVs reached through symlinks. Each is refused before anything
runs (usage errors: exit 2) or is a located error; none is a traceback or a silent pass.

References: the files' bytes before and after, the lines of the program text found independently
(line_of), and the points a sweep runs, recorded as they run."""
import fcntl
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim import outfile, sweep
from pramsim.cli import main
from pramsim.cost import CostTrace
from pramsim.dsl import counter_error
from pramsim.engines import blockclass
from pramsim.errors import MachineError, ProgramError
from pramsim.machine import load_machine
from pramsim.programs import load_file, load_program
from pramsim.runner import run_program

FIX = Path(__file__).parent / "fixtures"
GOOD = (FIX / "good_saxpy.py").read_text()
COUNTS = 'counts={"flop": "2*n", "store.hbm": "n"}'
RETURN = "    return 2.0 * x.astype(np.float64) + y\n"


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def program_file(tmp_path: Path, text: str, name: str = "prog.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- 1. an output that is the program file, or another output ----------------------------------------

@pytest.mark.parametrize("how", ["same name", "symlink"])
def test_check_json_out_over_the_program_file_is_refused_and_the_program_kept(tmp_path, how):
    prog = program_file(tmp_path, GOOD)
    target = prog
    if how == "symlink":
        target = tmp_path / "link.py"
        target.symlink_to(prog)
    r = cli("check", prog, "--json-out", target)
    assert r.exit_code == 2, r.output
    assert f"--json-out {target} is the file of program {prog}" in r.output and "hint:" in r.output
    assert prog.read_text() == GOOD and "PASS" not in r.output  # refused before the check ran


def test_outputs_over_the_program_or_the_machine_profile_are_refused(tmp_path):
    prog = program_file(tmp_path, GOOD)
    r = cli("run", prog, "n=16", "--trace", prog)
    assert r.exit_code == 2 and "--trace" in r.output and "would replace that file" in r.output, r.output
    picture = tmp_path / "prog.png"
    picture.symlink_to(prog)  # a plot's name must end in .png: a link named so
    r = cli("roofline", prog, "--plot", picture)
    assert r.exit_code == 2 and f"is the file of program {prog}" in r.output, r.output
    assert prog.read_text() == GOOD
    profile = tmp_path / "my.toml"
    shutil.copy(load_machine("h100").file, profile)
    r = cli("run", "tree_sum", "n=16", "-m", profile, "--trace", profile)
    assert r.exit_code == 2 and f"--trace {profile} is the --machine profile" in r.output, r.output
    assert profile.read_text() == Path(load_machine("h100").file).read_text()


@pytest.mark.parametrize("args", [
    ["sweep", "tree_sum", "n=64..128", "-j", "1", "--csv", "{d}/x.png", "--plot", "{d}/x.png"],
    ["sweep", "tree_sum", "n=64..128", "-j", "1", "--csv", "{d}/x.png", "--plot", "{d}/sub/../x.png"],
    ["run", "tree_sum", "n=64", "--trace", "{d}/t.svg", "--gantt", "{d}/./t.svg"],
])
def test_two_outputs_that_are_one_file_are_refused_before_anything_runs(tmp_path, args):
    (tmp_path / "sub").mkdir()
    r = cli(*(a.format(d=tmp_path) for a in args))
    assert r.exit_code == 2, r.output
    assert "are the same file" in r.output and "a path of its own" in r.output
    assert not any(s in r.output for s in ("Brent", "brent_holds"))
    assert {p.name for p in tmp_path.iterdir()} == {"sub"}


def test_calibrate_out_over_its_measurement_is_refused(tmp_path):
    measured = tmp_path / "m.json"
    shutil.copy(FIX / "measurement_fixture.json", measured)
    before = measured.read_bytes()
    r = cli("calibrate", "--from-json", measured, "--out", measured)
    assert r.exit_code == 2 and "the --from-json measurement" in r.output, r.output
    assert measured.read_bytes() == before
    r = cli("calibrate", "--out", tmp_path / "p.json")  # the measurement would be saved as p.json too
    assert r.exit_code == 2 and "give the profile a .toml name" in r.output, r.output


def test_same_file_follows_links_and_leaves_devices_alone(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x")
    (tmp_path / "soft").symlink_to(a)
    os.link(a, tmp_path / "hard")
    assert outfile.same_file(a, tmp_path / "soft") and outfile.same_file(tmp_path / "hard", a)
    assert not outfile.same_file(a, tmp_path / "new.csv")
    assert not outfile.same_file(Path("/dev/null"), Path("/dev/null"))  # written in place, never replaced


# ---- 2. sweep --resume checks every row it keeps -----------------------------------------------------

@pytest.mark.parametrize("bad, words", [
    ((b",tree_sum,", b",tree\x00sum,"), "program holds an unprintable character"),
    ((b"64,8,567,", b"64,8,abc,"), "work='abc' is not an integer"),
    ((b",0.7875,True,", b",0.7875,maybe,"), "correct='maybe' is not True, False or empty"),
])
def test_resume_refuses_a_malformed_row_naming_the_file_and_line(tmp_path, bad, words):
    out = tmp_path / "s.csv"
    assert cli("sweep", "tree_sum", "n=64..128", "-j", "1", "--csv", out).exit_code == 0
    old, new = bad
    data = out.read_bytes()
    assert old in data.splitlines()[1]
    out.write_bytes(data.replace(old, new, 1))
    before = out.read_bytes()
    r = cli("sweep", "tree_sum", "n=64..256", "-j", "1", "--csv", out, "--resume")
    assert r.exit_code == 2, r.output
    assert f"line 2 of {out} is not a row a sweep wrote: {words}" in r.output and "--overwrite" in r.output
    assert out.read_bytes() == before


# ---- 3. --counts-only holds --max-memory -------------------------------------------------------------

def test_counts_only_refuses_a_launch_whose_blocks_pass_max_memory_before_allocating(monkeypatch):
    """vector_mul at n = 2**26: 262,144 blocks, whose per-block figures take tens of MB; the
    launch is refused at its line before the block classes (the first per-block array) are made."""
    def never(*args):
        raise AssertionError("the block classes were computed")
    monkeypatch.setattr(blockclass, "classes", never)
    prog = load_program("vector_mul")
    with pytest.raises(MachineError) as info:
        run_program(prog, {**prog.params, "n": 2**26}, load_machine("pram"), counts_only=True, memory_limit=2**24)
    err = info.value
    assert "--max-memory" in err.message and "262,144 blocks" in err.message and "limit with --max-memory" in err.hint
    assert err.loc is not None and Path(err.loc.file).name == "vector_mul.py"


def test_counts_only_out_of_memory_is_a_machine_error_naming_max_memory(monkeypatch):
    def out_of_memory(*args):
        raise MemoryError
    monkeypatch.setattr(blockclass, "classes", out_of_memory)
    prog = load_program("tree_sum")
    with pytest.raises(MachineError) as info:
        run_program(prog, {**prog.params, "n": 4096}, load_machine("pram"), counts_only=True)
    assert "ran out of memory" in info.value.message and "--max-memory" in info.value.message
    assert not isinstance(info.value, ProgramError)  # not the program's fault


def test_cli_counts_only_large_run_is_refused_under_max_memory():
    """The run of the review: 16,777,216 blocks took 3 GB of RSS under --max-memory 1."""
    r = cli("run", "matmul_tiled", "n=32768", "--counts-only", "-m", "h100", "--max-memory", "1")
    assert r.exit_code == 1 and "over the limit of 1.00 GiB (--max-memory)" in r.output, r.output
    assert "matmul_tiled.py" in r.output and "internal error" not in r.output


# ---- 4. empty Θ options --------------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--work", "--depth"])
@pytest.mark.parametrize("form", ["", "  "])
def test_empty_theta_option_is_a_usage_error(option, form):
    r = cli("check", "tree_sum", option, form)
    assert r.exit_code == 2 and option in r.output and "is empty" in r.output, r.output
    assert "PASS" not in r.output


# ---- 5. counter names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", ['at_most={"flops": "1"}', 'counts={"load.global": "n"}', 'counts={"bytes": "n"}'])
def test_unknown_counter_name_is_a_program_error_at_the_program_line(tmp_path, table):
    text = GOOD.replace(COUNTS, table)
    path = program_file(tmp_path, text)
    with pytest.raises(ProgramError) as info:
        load_file(path)
    err = info.value
    assert (err.loc.file, err.loc.line) == (str(path), line_of(text, "@program"))
    assert "is not a counter" in err.message and "flop.OP" in err.message and "bytes.LEVEL" in err.message


def test_every_counter_a_run_produces_is_a_known_name():
    """The names CostTrace.counter reads, from runs that use every category: float and integer
    operators, loads and stores at each level, atomics, shuffles, bytes and depth classes."""
    names = {"work", "depth", "launches"}
    for name, params in [("histogram_shared", {}), ("block_sum_warp", {}), ("matmul_tiled", {}), ("softmax", {})]:
        prog = load_program(name)
        trace: CostTrace = run_program(prog, {**prog.params, **params}, load_machine("pram")).trace
        names |= {f"{c}.{op}" for c, op in trace.counts} | {c for c, _ in trace.counts}
        names |= {f"bytes.{level}.{d}" for level, d in trace.bytes} | {f"bytes.{level}" for level, _ in trace.bytes}
        names |= {f"depth.{c}" for c in trace.depth_by_class}
    assert {"atomic.hbm", "shfl.shfl_down", "load.sram", "flop.exp"} <= names  # the runs did cover these
    assert [n for n in sorted(names) if counter_error(n)] == []


# ---- 6. tolerances, references and inputs that cannot be compared ----------------------------------------

@pytest.mark.parametrize("rtol", ['float("nan")', "-1e-4", 'float("inf")', '"1e-4"'])
def test_bad_rtol_is_a_program_error_at_the_program_line(tmp_path, rtol):
    text = GOOD.replace(COUNTS, f"rtol={rtol}")
    path = program_file(tmp_path, text)
    with pytest.raises(ProgramError) as info:
        load_file(path)
    assert (info.value.loc.file, info.value.loc.line) == (str(path), line_of(text, "@program"))
    assert "rtol" in info.value.message and "finite number of at least 0" in info.value.message


@pytest.mark.parametrize("body, words", [
    ("    return None\n", "returned None"),
    ("    return 'abc'\n", "returned a str ('abc')"),
    ("    return (2.0 * x + y).astype(np.complex128)\n", "returned a complex128 array"),
])
def test_reference_that_returns_no_real_result_is_a_program_error_at_its_def(tmp_path, body, words):
    text = GOOD.replace(RETURN, body)
    path = program_file(tmp_path, text)
    r = cli("run", path, "n=16")
    assert r.exit_code == 1, r.output
    assert f"{path}:{line_of(text, 'def reference')}:" in r.output and words in r.output, r.output
    assert "correct" not in r.output and "INCORRECT" not in r.output


def test_complex_input_is_a_program_error_at_the_inputs_def(tmp_path):
    text = GOOD.replace('"x": rng.random(n).astype(np.float32)', '"x": rng.random(n).astype(np.complex64)')
    path = program_file(tmp_path, text)
    r = cli("run", path, "n=16")
    assert r.exit_code == 1, r.output
    assert f"{path}:{line_of(text, 'def inputs')}:" in r.output and "'x' as a complex64 array" in r.output
    assert "matches the NumPy reference" not in r.output


# ---- 7, 8. sweep values and plots ---------------------------------------------------------------------

def test_repeated_sweep_values_run_once_each(monkeypatch):
    ran = []
    real = sweep.run_point

    def recording(path, point, *args):
        ran.append(dict(point))
        return real(path, point, *args)
    monkeypatch.setattr(sweep, "run_point", recording)
    r = cli("sweep", "tree_sum", "n=64..256", "p=1,1,2", "-j", "1")
    assert r.exit_code == 0, r.output
    assert sorted((pt["n"], pt["p"]) for pt in ran) == [(n, p) for n in (64, 128, 256) for p in (1, 2)]


@pytest.mark.parametrize("axes, kind, words", [
    (["n=64", "p=1,2"], "memory", "--plot-kind memory"),
    (["n=64"], "auto", "nothing varies"),
])
def test_a_plot_that_cannot_be_drawn_is_refused_before_the_sweep(tmp_path, monkeypatch, axes, kind, words):
    def never(*args):
        raise AssertionError("a point ran")
    monkeypatch.setattr(sweep, "run_point", never)
    r = cli("sweep", "tree_sum", *axes, "-j", "1", "--plot", tmp_path / "m.png", "--plot-kind", kind)
    assert r.exit_code == 2 and words in r.output, r.output
    assert not (tmp_path / "m.png").exists()


# ---- 9. a CSV reached through a symlink ----------------------------------------------------------------

def test_a_csv_symlink_is_locked_and_written_as_its_target(tmp_path):
    real = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    real.write_bytes(b"")
    link.symlink_to(real)
    with open(tmp_path / "real.csv.lock", "w") as held:  # a sweep writing the target under its own name
        fcntl.flock(held, fcntl.LOCK_EX)
        r = cli("sweep", "tree_sum", "n=64", "-j", "1", "--csv", link)
    assert r.exit_code == 1 and f"another pramsim sweep is writing {link}" in r.output, r.output
    assert real.read_bytes() == b""
    assert cli("sweep", "tree_sum", "n=64", "-j", "1", "--csv", link).exit_code == 0
    assert link.is_symlink() and real.read_bytes().count(b"\r\n") == 2  # the header and the row, in the target
    assert {p.name for p in tmp_path.iterdir()} == {"real.csv", "link.csv"}
