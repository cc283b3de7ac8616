"""Output files: written whole or not at all, located errors for paths that cannot be written, and
sweep CSVs that two sweeps cannot interleave and a rerun cannot silently overwrite (--resume,
--overwrite). References: the CSV module's parse of the file, byte comparison with the file before,
and a fresh sweep's rows."""
import csv
import errno
import fcntl
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim import outfile, sweep
from pramsim.cli import main
from pramsim.errors import FileError
from pramsim.programs import load_program

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("n", "p", "work", "depth", "steps", "correct", "brent_holds", "program", "machine", "seed", "engine")


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def whole_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows, each checked to have exactly the header's fields; the file ends a line."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    rows = list(csv.DictReader(data.decode().splitlines()))
    for row in rows:
        assert None not in row and None not in row.values(), row
    return rows


def leftovers(folder: Path, keep: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - keep


def sweep_points(monkeypatch) -> list[dict]:
    """Record the points a sweep runs (jobs=1 runs them in this process)."""
    ran: list[dict] = []
    real = sweep.run_point

    def counting(path, point, *args):
        ran.append(dict(point))
        return real(path, point, *args)
    monkeypatch.setattr(sweep, "run_point", counting)
    return ran


# ---- the sweep CSV ------------------------------------------------------------------------------

def test_a_second_sweep_on_a_locked_csv_is_refused_and_the_file_is_untouched(tmp_path):
    out = tmp_path / "s.csv"
    assert cli("sweep", "tree_sum", "n=64,128", "-j", "1", "--csv", str(out)).exit_code == 0
    before = out.read_bytes()
    with open(tmp_path / "s.csv.lock", "w") as held:  # another process's lock, as flock sees it
        fcntl.flock(held, fcntl.LOCK_EX)
        r = cli("sweep", "tree_sum", "n=256", "-j", "1", "--csv", str(out))
    assert r.exit_code == 1, r.output
    assert f"another pramsim sweep is writing {out}" in r.output and "Traceback" not in r.output
    assert out.read_bytes() == before


def test_two_concurrent_sweep_processes_do_not_interleave(tmp_path):
    out = tmp_path / "s.csv"
    first = subprocess.Popen([sys.executable, "-m", "pramsim.cli", "sweep", "attention_chunked", "n=32..128", "-j", "1",
                              "--csv", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "s.csv.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        second = subprocess.run([sys.executable, "-m", "pramsim.cli", "sweep", "tree_sum", "n=64..1024", "-j", "1",
                                 "--csv", str(out)], cwd=ROOT, capture_output=True, text=True)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert second.returncode == 1 and "another pramsim sweep is writing" in second.stderr, second.stderr
    rows = whole_rows(out)
    assert [int(r["n"]) for r in rows] == [32, 64, 128] and {r["program"] for r in rows} == {"attention_chunked"}
    assert leftovers(tmp_path, {"s.csv"}) == set()  # the lock file is gone too


def test_rerun_on_a_csv_with_rows_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "s.csv"
    assert cli("sweep", "tree_sum", "n=64,128", "-j", "1", "--csv", str(out)).exit_code == 0
    before = out.read_bytes()
    r = cli("sweep", "tree_sum", "n=256", "-j", "1", "--csv", str(out))
    assert r.exit_code == 2 and "already exists and holds 2 rows" in r.output and "--resume" in r.output, r.output
    assert out.read_bytes() == before
    assert cli("sweep", "tree_sum", "n=256", "-j", "1", "--csv", str(out), "--overwrite").exit_code == 0
    assert [int(r["n"]) for r in whole_rows(out)] == [256]


def test_resume_runs_only_the_missing_points_and_keeps_the_rows_byte_for_byte(tmp_path, monkeypatch):
    prog = load_program("tree_sum")
    out = tmp_path / "s.csv"
    sweep.run_sweep(prog, ["n=64..256", "p=1,4"], jobs=1, csv_path=out)
    before = out.read_bytes()
    ran = sweep_points(monkeypatch)
    rows = sweep.run_sweep(prog, ["n=64..1024", "p=1,4"], jobs=1, csv_path=out, existing="resume")
    assert sorted((pt["n"], pt["p"]) for pt in ran) == [(512, 1), (512, 4), (1024, 1), (1024, 4)]
    after = out.read_bytes()
    assert after.startswith(before) and len(whole_rows(out)) == 10
    fresh = sweep.run_sweep(prog, ["n=64..1024", "p=1,4"], jobs=1)  # the reference: every point run now
    assert [[r[k] for k in KEYS] for r in rows] == [[r[k] for k in KEYS] for r in fresh]
    ran.clear()
    sweep.run_sweep(prog, ["n=64..1024", "p=1,4"], jobs=1, csv_path=out, existing="resume")
    assert ran == [] and out.read_bytes() == after  # nothing missing: nothing runs, nothing changes


def test_resume_reruns_a_torn_last_row_and_a_different_seed(tmp_path, monkeypatch):
    prog = load_program("tree_sum")
    out = tmp_path / "s.csv"
    sweep.run_sweep(prog, ["n=64..256"], jobs=1, csv_path=out)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:3]) + lines[3][:20])  # a crash in the middle of the last row
    ran = sweep_points(monkeypatch)
    sweep.run_sweep(prog, ["n=64..256"], jobs=1, csv_path=out, existing="resume")
    assert ran == [{"n": 256}]
    assert out.read_bytes().startswith(b"".join(lines[:3])) and [int(r["n"]) for r in whole_rows(out)] == [64, 128, 256]
    ran.clear()
    sweep.run_sweep(prog, ["n=64..256"], seed=5, jobs=1, csv_path=out, existing="resume")
    assert ran == [{"n": 64}, {"n": 128}, {"n": 256}]  # rows of seed 0 are not rows of seed 5
    assert [r["seed"] for r in whole_rows(out)] == ["0"] * 3 + ["5"] * 3


def test_resume_refuses_a_csv_with_other_columns(tmp_path):
    out = tmp_path / "s.csv"
    assert cli("sweep", "tree_sum", "n=64", "-j", "1", "--csv", str(out)).exit_code == 0
    before = out.read_bytes()
    r = cli("sweep", "matmul_tiled", "n=16", "-j", "1", "--csv", str(out), "--resume")
    assert r.exit_code == 2 and f"the columns of {out} are not this sweep's" in r.output, r.output
    assert out.read_bytes() == before and leftovers(tmp_path, {"s.csv"}) == set()


def test_resume_and_overwrite_need_a_csv_and_exclude_each_other(tmp_path):
    assert cli("sweep", "tree_sum", "n=64", "--resume").exit_code == 2
    r = cli("sweep", "tree_sum", "n=64", "--csv", str(tmp_path / "s.csv"), "--resume", "--overwrite")
    assert r.exit_code == 2 and "exclude each other" in r.output
    assert not (tmp_path / "s.csv").exists()


def test_a_file_size_limit_during_a_sweep_leaves_whole_rows(tmp_path):
    """The OS refuses part of the second row (RLIMIT_FSIZE, as a full disk would): the error
    names the file, and the file keeps its header and first row, whole."""
    out = tmp_path / "s.csv"
    args = ["sweep", "tree_sum", "n=64..256", "-j", "1", "--csv", str(out)]
    assert cli(*args).exit_code == 0
    header, first, second = out.read_bytes().splitlines(keepends=True)[:3]
    out.unlink()
    r = run_with_file_limit(args, len(header + first) + len(second) // 2)
    assert r.returncode == 1, r.stderr
    assert f"cannot write {out}: File too large" in r.stderr and "internal error" not in r.stderr
    assert [int(row["n"]) for row in whole_rows(out)] == [64]
    assert leftovers(tmp_path, {"s.csv"}) == set()


def run_with_file_limit(args: list[str], limit: int) -> subprocess.CompletedProcess:
    """`pramsim ARGS` where the OS refuses to let any file grow past `limit` bytes (EFBIG)."""
    def limit_files() -> None:
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails, rather than killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([sys.executable, "-m", "pramsim.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=limit_files)


# ---- other output files -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["sweep", "tree_sum", "n=64", "-j", "1", "--csv", "{d}/s.csv"],
    ["sweep", "tree_sum", "n=64..128", "-j", "1", "--plot", "{d}/s.png"],
    ["run", "tree_sum", "n=64", "--trace", "{d}/t.json"],
    ["run", "tree_sum", "n=64", "--gantt", "{d}/g.svg"],
    ["roofline", "vector_mul", "--plot", "{d}/r.png"],
])
def test_an_output_in_a_missing_folder_is_a_usage_error_before_anything_runs(tmp_path, args):
    missing = tmp_path / "no" / "such"
    r = cli(*(a.format(d=missing) for a in args))
    assert r.exit_code == 2, r.output
    assert f"the folder {missing} does not exist" in r.output and "mkdir -p" in r.output
    assert "Traceback" not in r.output
    assert not any(s in r.output for s in ("Brent", "brent_holds", "intensity"))  # refused before anything ran
    assert leftovers(tmp_path, set()) == set()


@pytest.mark.parametrize("option, name", [("--trace", "t.json"), ("--gantt", "g.png")])
def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, option, name):
    target = tmp_path / name
    target.write_bytes(b"the old file")
    r = run_with_file_limit(["run", "tree_sum", "n=1000", option, str(target)], 1000)
    assert r.returncode == 1, r.stderr
    assert f"cannot write {target}: File too large" in r.stderr and "hint:" in r.stderr
    assert target.read_bytes() == b"the old file" and leftovers(tmp_path, {name}) == set()


def test_an_unwritable_folder_is_a_located_error(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse new files as a read-only one does
        def read_only(*args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        monkeypatch.setattr(outfile.tempfile, "mkstemp", read_only)
        expected = 1
    else:
        folder.chmod(0o555)
        expected = 2  # found before the run
    r = cli("run", "tree_sum", "n=64", "--trace", str(folder / "t.json"))
    folder.chmod(0o755)
    assert r.exit_code == expected, r.output
    assert str(folder) in r.output and "internal error" not in r.output and "hint:" in r.output
    assert leftovers(folder, set()) == set()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("option", ["--trace", "--gantt", "--csv"])
def test_dev_full_is_written_in_place_and_reported(option, tmp_path):
    """A device is written directly (renaming over it would replace it): the full-disk error of
    the write itself, exit 1, and /dev/full still the device. A chart's name must end in .png,
    .svg or .pdf, so --gantt writes through a link named full.png."""
    command = ["sweep", "tree_sum", "n=64", "-j", "1"] if option == "--csv" else ["run", "tree_sum", "n=64"]
    target = "/dev/full"
    if option == "--gantt":
        target = str(tmp_path / "full.png")
        os.symlink("/dev/full", target)
    r = cli(*command, option, target)
    assert r.exit_code == 1, r.output
    assert f"cannot write {target}: No space left on device" in r.output and "internal error" not in r.output
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not any(p.startswith(".full.") for p in os.listdir("/dev")) and not os.path.exists("/dev/full.lock")


def test_atomic_open_gives_new_files_the_usual_mode_and_keeps_an_old_files_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        outfile.write_text(tmp_path / "new.txt", "x")
        old = tmp_path / "old.txt"
        old.write_text("y")
        old.chmod(0o600)
        outfile.write_text(old, "z")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE(old.stat().st_mode) == 0o600 and old.read_text() == "z"


def test_validate_refuses_an_out_folder_it_cannot_create(tmp_path):
    from pramsim import validate
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileError, match=f"cannot create the folder {blocker / 'v'}"):
        validate.prepare(blocker / "v")
