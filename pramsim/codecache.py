"""Generated Python modules, written to a cache folder and imported (the CUDA and compiled engines).

A module is named by the hash of its source, so numba's on-disk cache (`cache=True`), which keys
on the file, finds its compiled code again in a later process, and tracebacks can show the source.

The folder is code that runs: pramsim imports the modules in it, and numba unpickles compiled
code from its `__pycache__` (numba's default place for a file's cache, used unless
NUMBA_CACHE_DIR is set). So it must be the user's own: it is the user's cache folder
(platformdirs: `~/.cache/pramsim/...` on Linux), created 0700, and a folder owned by someone else
or writable by group or others is refused (FileError), whether pramsim or an environment variable
chose it. A damaged cache entry (a truncated module, numba index or data file) is removed and
rebuilt once (load_source, call_rebuilding) rather than sending every later run elsewhere.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import pickletools
import stat
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from . import outfile
from .errors import FileError

T = TypeVar("T")

def cache_dir(env: str, stem: str) -> Path:
    """The folder named by the environment variable `env`, else `<user cache>/pramsim/<kind>`
    (`stem` "pramsim_cpu" -> kind "cpu"); created if missing, and checked to be private (see
    private_dir), as is NUMBA_CACHE_DIR when set."""
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:  # numba then keeps the compiled code there, not beside the modules
        private_dir(Path(numba_dir), "NUMBA_CACHE_DIR")
    if os.environ.get(env):
        return private_dir(Path(os.environ[env]), env)
    from platformdirs import user_cache_dir
    base = private_dir(Path(user_cache_dir("pramsim")), None)
    return private_dir(base / stem.removeprefix("pramsim_"), None)


def private_dir(folder: Path, env: str | None) -> Path:
    """Create `folder` (mode 0700) if missing; refuse it if another user owns it or group or
    others may write to it: pramsim and numba run code found there. `env`: the environment
    variable that named it (None: pramsim chose it), for the hint."""
    if env:
        how = f"set {env} to a folder only you can write to (e.g. mkdir -m 700 ~/pramsim-cache)"
    else:
        how = f"remove {folder} (it is only a cache; pramsim makes it again)"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(folder)
    except OSError as exc:
        raise FileError(f"cannot create the cache folder {folder}: {exc.strerror or exc}", hint=how) from None
    if not stat.S_ISDIR(info.st_mode):
        raise FileError(f"the cache folder {folder} is not a folder", hint=how)
    why = "pramsim and numba run the code kept there, so another user could make you run theirs"
    if info.st_uid != os.getuid():
        raise FileError(f"the cache folder {folder} belongs to user id {info.st_uid}, not to you ({os.getuid()}): "
                        f"{why}", hint=how)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = f"{stat.S_IMODE(info.st_mode):03o}"
        raise FileError(f"the cache folder {folder} is writable by group or others (mode {mode}): {why}",
                        hint=how if env else f"chmod 700 {folder}, or {how}")
    return folder


def load_source(source: str, fn_name: str, folder: Path, prefix: str) -> Any:
    """Write `source` to `folder/<prefix>_<hash>.py` (unless it is there, whole), import it,
    return its `fn_name`. A damaged copy (truncated, or a bad .pyc) is replaced."""
    data = source.encode()
    digest = hashlib.sha1(data).hexdigest()[:16]
    path = folder / f"{prefix}_{digest}.py"
    if not path.exists() or path.read_bytes() != data:
        outfile.write_bytes(path, data)
    mod_name = f"{prefix}_generated_{digest}"
    module = sys.modules.get(mod_name)
    if module is None:
        try:
            module = _import(mod_name, path)
        except Exception:  # a damaged .pyc beside it (Python checks only its mtime and size)
            with contextlib.suppress(OSError):
                os.unlink(importlib.util.cache_from_source(str(path)))
            module = _import(mod_name, path)
    return getattr(module, fn_name)


def _import(mod_name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def call_rebuilding(call: Callable[[], T], *functions: Any) -> T:
    """`call()`; if it fails and a numba on-disk cache entry of `functions` (numba dispatchers) or
    of the numba functions they call is damaged, remove those entries and `call()` once more.

    numba raises on an index or data file it cannot unpickle, on every later load, so without
    this a truncated file would send each later run to the fallback for good."""
    try:
        return call()
    except Exception:
        if not _remove_damaged_entries(functions):
            raise
    return call()


def _remove_damaged_entries(functions: tuple[Any, ...]) -> bool:
    """Remove the cache files of each dispatcher given whose index or data files cannot be read
    back; True if any were removed. (Their callees are register_jitable functions, compiled into
    them: no cache files of their own.)"""
    removed = False
    for dispatcher in functions:
        index = _index_path(dispatcher)
        if index is not None and not _entry_readable(index):
            for f in [index, *index.parent.glob(index.name[:-len(".nbi")] + ".*.nbc")]:
                with contextlib.suppress(OSError):
                    f.unlink()
                    removed = True
    return removed


def _index_path(dispatcher: Any) -> Path | None:
    """The numba index (.nbi) file of a dispatcher compiled with cache=True, if it has one."""
    index = getattr(getattr(getattr(dispatcher, "_cache", None), "_cache_file", None), "_index_path", None)
    return Path(index) if index and os.path.exists(index) else None


def _entry_readable(index: Path) -> bool:
    """Whether `index` unpickles as numba reads it, and every data file it names is a whole
    pickle (checked by walking its opcodes: unpickling one would import the module it is for)."""
    try:
        with open(index, "rb") as f:
            pickle.load(f)  # numba's version
            _stamp, overloads = pickle.loads(f.read())
        for name in overloads.values():
            with open(index.parent / name, "rb") as f:
                for _ in pickletools.genops(f):  # raises on a truncated or garbled pickle
                    pass
    except FileNotFoundError:
        return True  # numba treats a missing data file as a miss, and compiles again
    except Exception:
        return False
    return True
