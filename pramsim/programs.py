"""Finding programs: the shipped ones in programs/ by name, or a user's .py file by path."""
from __future__ import annotations

import difflib
import importlib.util
import io
import sys
import types
import tokenize
from pathlib import Path
from typing import Any

from . import faults
from .dsl import Program
from .errors import Loc, PramsimError, ProgramError, offset_loc, path_exists


def programs_dir() -> Path:
    """programs/ beside the package (checkout, editable install) or <prefix>/share/pramsim/programs."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "programs", Path(sys.prefix) / "share" / "pramsim" / "programs"):
        if candidate.is_dir():
            return candidate
    raise PramsimError("cannot find the programs/ folder", hint="reinstall pramsim with `pip install -e .`")


def shipped_programs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(programs_dir().glob("*.py")) if not p.stem.startswith("_")}


def load_program(name_or_path: str) -> Program:
    """A shipped program by name, or the program defined in a .py file."""
    path = Path(name_or_path)
    exists = path_exists(path, ProgramError, "program file")
    if path.suffix == ".py" or exists:
        if not exists:
            raise ProgramError(f"program file {str(path)!r} does not exist")
        programs = load_file(path)
        if len(programs) != 1:
            names = ", ".join(p.name for p in programs)
            raise ProgramError(f"{path} defines {len(programs)} programs ({names or 'none'})",
                               hint="define exactly one @program function per file")
        return programs[0]
    shipped = shipped_programs()
    if name_or_path not in shipped:
        close = difflib.get_close_matches(name_or_path, shipped, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "`pramsim list` shows the programs"
        raise ProgramError(f"unknown program {name_or_path!r}", hint=hint + "; or pass the path of a .py file")
    programs = load_file(shipped[name_or_path])
    by_name = {p.name: p for p in programs}
    return by_name.get(name_or_path) or programs[0]


_cache: dict[Path, list[Program]] = {}


def load_file(path: Path) -> list[Program]:
    path = path.resolve()
    if path in _cache:
        return _cache[path]
    check_source_file(path)
    module_name = f"pramsim_program_{path.stem}_{abs(hash(str(path))) % 10**8}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader  # check_source_file made sure it is a readable .py file
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The file's folder is importable while it loads, so a program may import helper modules kept
    # beside it (programs/_scan.py; a leading _ keeps a file out of the shipped programs). A helper of
    # the same name that another folder's program loaded is forgotten first: each file gets its own.
    for name, folder in list(_helpers.items()):
        if folder != path.parent:
            sys.modules.pop(name, None)
            del _helpers[name]
    before = set(sys.modules)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except PramsimError:
        raise
    except SyntaxError as exc:
        raise ProgramError(f"syntax error: {exc.msg}", loc=Loc(str(path), exc.lineno or 1, (exc.offset or 1) - 1)) from None
    except (Exception, SystemExit) as exc:  # SystemExit: sys.exit() at the top level must not end pramsim
        raise faults.attribute(exc, path) from None
    finally:
        if str(path.parent) in sys.path:  # the file's own code may have removed it
            sys.path.remove(str(path.parent))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).resolve().parent == path.parent:
                _helpers[name] = path.parent
    programs = [v for v in vars(module).values() if isinstance(v, Program)]
    if not programs:
        raise ProgramError(f"{path} defines no program", hint="decorate the host function with @program(...)")
    for p in programs:
        p.file = str(path)
    _cache[path] = programs
    return programs


_helpers: dict[str, Path] = {}  # helper modules programs imported from their folders -> the folder


def kernels_of(program: Program) -> list[Any]:
    """The kernels a program's file defines, and those of the helper modules beside it that it uses
    (scan_blelloch's live in programs/_prefix_scan.py), each once, in order."""
    module = sys.modules.get(program.host.__module__)
    values = list(vars(module).values()) if module else []
    folder = Path(program.file).resolve().parent if program.file else None
    for v in list(values):  # a helper's namespace: of a function imported from it, or of the module itself
        space = vars(v) if isinstance(v, types.ModuleType) else getattr(getattr(v, "fn", v), "__globals__", None)
        file = space.get("__file__") if isinstance(space, dict) else None
        if file and space is not vars(module) and Path(file).resolve().parent == folder:
            values += space.values()
    out: list[Any] = []
    for v in values:
        if getattr(v, "__pramsim_kernel__", False) and not any(v is k for k in out):
            out.append(v)
    return out


def check_source_file(path: Path) -> None:
    """ProgramError unless `path` is a readable .py file whose text decodes in its declared encoding
    (UTF-8 unless a coding line says otherwise). Python itself does not check comments, and a bad
    byte there would otherwise surface later as "cannot read the source of kernel ...".
    """
    if path.is_dir():
        raise ProgramError(f"{path} is a folder, not a program file",
                           hint="pass the .py file that defines the @program (or a shipped name: `pramsim list`)")
    if path.suffix != ".py" or not path.is_file():
        raise ProgramError(f"{path} is not a Python (.py) file",
                           hint="a program is a .py file that defines one @program function")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProgramError(f"cannot read program file {path}: {exc.strerror or exc}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "unknown encoding" in str(exc) or "encoding problem" in str(exc):  # a bad coding line
            raise ProgramError(f"cannot read program file: {exc}", loc=Loc(str(path), 1),
                               hint="declare a known encoding, e.g. `# -*- coding: utf-8 -*-`, or none") from None
        encoding = "utf-8"  # a bad byte in the first two lines: decoding below says where
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ProgramError(f"the file is not valid {encoding}: byte {data[exc.start]:#04x} here ({exc.reason})",
                           loc=offset_loc(str(path), data, exc.start),
                           hint="save the file as UTF-8, or declare its encoding in a first-line comment "
                                "such as `# -*- coding: latin-1 -*-`") from None
