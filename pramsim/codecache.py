"""Generated Python modules, written to a cache folder and imported (the CUDA and compiled engines).

A module is named by the hash of its source, so numba's on-disk cache (`cache=True`), which keys
on the file, finds its compiled code again in a later process, and tracebacks can show the source.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def cache_dir(env: str, stem: str) -> Path:
    """The folder named by the environment variable `env`, else `<tmp>/<stem>_<uid>`."""
    d = Path(os.environ.get(env, Path(tempfile.gettempdir()) / f"{stem}_{os.getuid()}"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_source(source: str, fn_name: str, folder: Path, prefix: str) -> Any:
    """Write `source` to `folder/<prefix>_<hash>.py` (once), import it, return its `fn_name`."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = folder / f"{prefix}_{digest}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    mod_name = f"{prefix}_generated_{digest}"
    module = sys.modules.get(mod_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    return getattr(module, fn_name)
