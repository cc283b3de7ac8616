"""Shell completion for the command line: program names, then .py files and folders on a typed path
(docs/cli.md, "Shell completion")."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .programs import shipped_programs


def complete_program(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of a PROGRAM: the shipped names, then .py files and folders on the typed path
    (docs/cli.md, "Shell completion")."""
    from click.shell_completion import CompletionItem
    names = [n for n in shipped_programs() if n.startswith(incomplete)]
    paths = complete_path(incomplete)
    if not names and len(paths) == 1 and paths[0].endswith("/"):
        paths = complete_path(paths[0]) or paths  # one folder: offer what is in it (bash would end the word)
    return [CompletionItem(c) for c in names + paths]


def complete_path(incomplete: str) -> list[str]:
    """The .py files and folders (with a trailing /) whose path starts with `incomplete`."""
    folder, slash, stem = incomplete.rpartition("/")
    base = Path(folder or "/") if slash else Path(".")
    try:
        entries = sorted(base.iterdir())
    except OSError:  # not a folder (yet)
        return []
    return [f"{folder}{slash}{e.name}" + ("/" if e.is_dir() else "") for e in entries
            if e.name.startswith(stem) and not e.name.startswith((".", "__")) and (e.suffix == ".py" or e.is_dir())]
