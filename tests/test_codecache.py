"""The folders of generated code (pramsim/codecache.py): the user's own cache folder, created 0700;
folders another user owns or others may write refused; damaged cache entries rebuilt, not a
silent fallback to the vector engine. References: os.stat of the folders, the files' bytes."""
import importlib.util
import os
import pickle
import pickletools
import py_compile
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim import codecache
from pramsim.cli import main
from pramsim.engines import compiled
from pramsim.errors import FileError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home_cache(tmp_path, monkeypatch):
    """pramsim chooses the folder: no PRAMSIM_*_CACHE; the user cache folder under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for env in ("PRAMSIM_COMPILED_CACHE", "PRAMSIM_CUDA_CACHE", "NUMBA_CACHE_DIR"):
        monkeypatch.delenv(env, raising=False)
    return tmp_path / "cache"


def as_another_user(folder: Path, monkeypatch) -> None:
    """Make `folder` someone else's: chown as root, else pretend to be another user."""
    if os.geteuid() == 0:
        os.chown(folder, 4321, -1)
    else:
        uid = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: uid + 1)


@pytest.mark.parametrize("env, stem, sub", [("PRAMSIM_COMPILED_CACHE", "pramsim_cpu", "cpu"),
                                            ("PRAMSIM_CUDA_CACHE", "pramsim_cuda", "cuda")])
def test_the_default_folder_is_in_the_user_cache_and_private(home_cache, env, stem, sub):
    folder = codecache.cache_dir(env, stem)
    assert folder == home_cache / "pramsim" / sub
    for f in (folder, folder.parent):
        info = os.stat(f)
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()


def test_a_folder_writable_by_others_is_refused(home_cache):
    folder = codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")
    folder.chmod(0o777)
    with pytest.raises(FileError, match="writable by group or others \\(mode 777\\)") as info:
        codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")
    assert f"chmod 700 {folder}" in info.value.hint


def test_a_folder_of_another_user_is_refused(home_cache, monkeypatch):
    folder = codecache.cache_dir("PRAMSIM_CUDA_CACHE", "pramsim_cuda")
    as_another_user(folder, monkeypatch)
    with pytest.raises(FileError, match="belongs to user id"):
        codecache.cache_dir("PRAMSIM_CUDA_CACHE", "pramsim_cuda")


@pytest.mark.parametrize("env", ["PRAMSIM_COMPILED_CACHE", "NUMBA_CACHE_DIR"])
def test_folders_named_by_the_environment_are_checked_the_same_way(home_cache, tmp_path, monkeypatch, env):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    shared.chmod(0o1777)  # as /tmp
    monkeypatch.setenv(env, str(shared))
    with pytest.raises(FileError, match=f"{shared} is writable by group or others") as info:
        codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")
    assert f"set {env} to a folder only you can write to" in info.value.hint
    shared.chmod(0o700)
    as_another_user(shared, monkeypatch)
    with pytest.raises(FileError, match="belongs to user id"):
        codecache.cache_dir("PRAMSIM_COMPILED_CACHE", "pramsim_cpu")


def test_the_cli_reports_an_unsafe_cache_folder_as_a_file_error(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("PRAMSIM_COMPILED_CACHE", str(shared))
    # A kernel this test process compiled before is reused from memory, never from the folder:
    # start without them (the test failed when another test on this worker had run vector_mul).
    monkeypatch.setattr(compiled, "_cache", {})
    r = CliRunner().invoke(main, ["run", "vector_mul", "n=64", "--engine", "compiled"])
    assert r.exit_code == 1, r.output
    assert f"file error: the cache folder {shared} is writable by group or others" in r.output
    assert "internal error" not in r.output and list(shared.iterdir()) == []  # nothing written there


def test_a_truncated_generated_module_or_pyc_is_rebuilt(tmp_path):
    source = "def answer():\n    return 42  # test_a_truncated_generated_module_or_pyc_is_rebuilt\n"
    assert codecache.load_source(source, "answer", tmp_path, "t")() == 42
    path, = tmp_path.glob("t_*.py")
    mod_name = f"t_generated_{path.stem[2:]}"
    path.write_text(source[:20])  # a crash while it was written, or a full disk
    del sys.modules[mod_name]
    assert codecache.load_source(source, "answer", tmp_path, "t")() == 42 and path.read_text() == source
    pyc = Path(importlib.util.cache_from_source(str(path)))  # Python checks only its source's mtime and size
    py_compile.compile(str(path), cfile=str(pyc))
    os.truncate(pyc, 20)
    del sys.modules[mod_name]
    assert codecache.load_source(source, "answer", tmp_path, "t")() == 42


def test_a_truncated_numba_index_is_rebuilt_not_a_fallback_to_the_vector_engine(tmp_path):
    """End to end, in fresh processes (numba reads its cache at a process's first call), with
    numba's default cache place: __pycache__ beside the generated module."""
    env = {**os.environ, "PRAMSIM_COMPILED_CACHE": str(tmp_path), "NUMBA_OPT": "1"}  # -O0 code is not cached
    env.pop("NUMBA_CACHE_DIR", None)

    def run() -> str:
        r = subprocess.run([sys.executable, "-m", "pramsim.cli", "run", "vector_mul", "n=64", "--engine", "compiled"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert "vector engine" not in run()
    index, = (tmp_path / "__pycache__").glob("pramsim_cpu_*.nbi")
    index.write_bytes(index.read_bytes()[:20])
    assert "vector engine" not in run()  # before: "kernel mul ran on the vector engine ... (UnpicklingError)"
    assert_readable(index)


GUARDED_CALL = """
import sys
from pathlib import Path
from pramsim import codecache
source = "import numba\\n\\n\\n@numba.njit(cache=True)\\ndef inc(x):\\n    return x + 1\\n"
fn = codecache.load_source(source, "inc", Path(sys.argv[1]), "d")
print(codecache.call_rebuilding(lambda: fn(1), fn) if sys.argv[2] == "guarded" else fn(1))
"""


def test_a_truncated_numba_data_file_is_removed_and_compiled_again(tmp_path):
    env = {**os.environ, "NUMBA_OPT": "1"}  # -O0 code is not cached
    env.pop("NUMBA_CACHE_DIR", None)

    def call(how: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", GUARDED_CALL, str(tmp_path), how], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    assert call("guarded").stdout == "2\n"
    index, = (tmp_path / "__pycache__").glob("d_*.nbi")
    data, = (tmp_path / "__pycache__").glob("d_*.nbc")
    data.write_bytes(data.read_bytes()[:100])
    unguarded = call("plain")
    assert unguarded.returncode != 0 and "Traceback" in unguarded.stderr  # numba raises, on every later call
    r = call("guarded")
    assert r.stdout == "2\n", r.stderr
    assert_readable(index)


def assert_readable(index: Path) -> None:
    """numba's index (its version, then the stamp and overloads) unpickles, and its data files are
    whole pickles (walked, not loaded: loading imports the generated module)."""
    with open(index, "rb") as f:
        pickle.load(f)
        _, overloads = pickle.loads(f.read())
    assert overloads
    for name in overloads.values():
        with open(index.parent / name, "rb") as f:
            ops = [op.name for op, _, _ in pickletools.genops(f)]
        assert ops[-1] == "STOP"
