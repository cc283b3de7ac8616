"""The package's layout holds (docs/architecture.md): no import circle, no import up the layers, no
module over 600 lines. Imports are read from the source (function-level ones included), not run."""
from __future__ import annotations

import ast
from pathlib import Path

import pramsim

ROOT = Path(pramsim.__file__).parent
# Each layer may import the modules listed for it (prefixes of pramsim.<...>) and nothing else of pramsim.
CORE = ("errors", "cost", "runtime", "codecache", "progress", "outfile", "compiling")
LAYERS = {**{name: CORE for name in CORE},          # the core imports only itself
          "lang": ("lang",) + CORE,
          "limits": ("limits", "lang") + CORE,      # the limits a run is held to, checked by the engines
          "engines": ("engines", "lang", "limits") + CORE,
          "machine": ("machine",) + CORE}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path], type_checking: bool = True) -> set[str]:
    """The pramsim modules `name` imports (relative `from . import x` resolved to modules where x is one);
    type_checking=False leaves out imports under `if TYPE_CHECKING:` (annotations only, never run)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                skipped |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - node.level + 1] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("pramsim"):
                target = node.module[len("pramsim."):] if node.module != "pramsim" else ""
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}".lstrip(".")
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found |= {a.name[len("pramsim."):] for a in node.names if a.name.startswith("pramsim.")}
    return {m for m in found if m in modules and m != name and m}


def test_no_import_circle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            cycle = stack[stack.index(node):] + [node]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, stack + [node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


def test_no_import_runs_up_the_layers():
    modules = _modules()
    bad = []
    for name, path in modules.items():
        layer = name.split(".")[0]
        if layer not in LAYERS:
            continue
        for target in _imports(name, path, modules, type_checking=False):
            if not target.split(".")[0] in LAYERS[layer]:
                bad.append(f"{name} imports {target}")
    assert not bad, bad


def test_no_module_over_600_lines():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long
