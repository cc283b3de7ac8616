"""The docs' shell transcripts: each `$ pramsim ...` line of a ```console block and the output the
block shows after it, compared with what the command prints now (tests/test_docs.py for
docs/cli.md, dsl.md and cost-model.md, tests/test_course.py for the lessons).

What is compared: the command's stdout, followed by its stderr when the block says `# exits N`
with N != 0 (its error message). A line `...` in the doc stands for any lines (a cut); a command
shown without output is only run. Normalised on both sides, so that only what legitimately
varies is left out: trailing spaces; the checkout's path (shown as /work/main); `wall_s` (the
run's wall time); floats printed at full precision (JSON: a fit's coefficients, max_rel_error),
which BLAS/LAPACK builds round differently in the last digits: compared to 6 significant digits,
and as 0 under 1e-9 (rounding noise, like a fit's rms of 3e-16).

`python tests/transcripts.py [FILE.md ...]` rewrites the transcripts of those docs (or of the
files named) with what the commands print now: a whole output, or the head of one that ends in a
cut; a transcript cut elsewhere is left for a hand edit (listed), and so are shell pipelines
(`pramsim ... | python ...`, run by tests/test_course.py in a shell) and `pramsim gpu`.
"""
from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_ROOT = "/work/main"  # the checkout's path as the docs show it
CUT = "..."
BLOCK = re.compile(r"```console\n(?P<body>.*?\n)```", re.S)
FULL_FLOAT = re.compile(r"-?\d+\.\d{9,}(?:e[-+]?\d+)?|-?\d\.\d+e[-+]?\d+")
WALL = re.compile(r'("wall_s": )[-0-9.e+]+')


@dataclass(frozen=True)
class Transcript:
    doc: Path
    line: int              # the `$ ` line's number in the doc (1-based)
    command: str           # `pramsim ...`, without the `$ `
    shown: tuple[str, ...]  # the output lines the doc shows
    exit_code: int         # from a `# exits N` line at the block's top, else 0

    @property
    def id(self) -> str:
        return f"{self.doc.name}:{self.line}"


def transcripts(doc: Path) -> list[Transcript]:
    """Every `$ pramsim ...` command of a ```console block in `doc`, with the lines after it."""
    text = doc.read_text()
    out = []
    for m in BLOCK.finditer(text):
        first = text.count("\n", 0, m.start("body")) + 1
        lines = m.group("body").splitlines()
        starts = [i for i, ln in enumerate(lines) if ln.startswith("$ ")] + [len(lines)]
        code = next((int(e.group(1)) for ln in lines[:starts[0]] if (e := re.match(r"# exits (\d+)", ln))), 0)
        for i, j in zip(starts, starts[1:]):
            if lines[i].startswith("$ pramsim "):
                out.append(Transcript(doc, first + i, lines[i][2:], tuple(lines[i + 1:j]), code))
    return out


def checked(t: Transcript) -> bool:
    """Whether the output is compared: shown, and not `pramsim gpu`'s (GPU times, or numba's
    simulator's: seconds per run)."""
    return bool(t.shown) and not t.command.startswith("pramsim gpu ")


def _float(match: re.Match) -> str:
    x = float(match.group())
    return "0" if abs(x) < 1e-9 else f"{x:.6g}"


def normalise(lines: list[str] | tuple[str, ...]) -> list[str]:
    import pramsim
    paths = [(str(ROOT), DOC_ROOT), (str(Path(pramsim.__file__).parent), f"{DOC_ROOT}/pramsim")]
    out = []
    for line in lines:
        for real, shown in paths:
            line = line.replace(real, shown)
        out.append(FULL_FLOAT.sub(_float, WALL.sub(r"\1…", line)).rstrip())
    return out


def printed(t: Transcript, stdout: str, stderr: str) -> list[str]:
    """What the transcript should show of a run (without trailing blank lines)."""
    lines = stdout.splitlines() + (stderr.splitlines() if t.exit_code else [])
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _shows(shown: list[str], actual: list[str]) -> bool:
    """Whether the cut-separated chunks of `shown` lie in `actual` in order, the first at the top
    unless the doc starts with a cut, the last at the bottom unless it ends with one."""
    chunks: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == CUT:
            chunks.append([])
        else:
            chunks[-1].append(line)
    pos = 0
    for k, chunk in enumerate(chunks):
        if k == len(chunks) - 1:  # the last chunk ends the output (empty after a final cut)
            start = len(actual) - len(chunk)
            return (not chunk and k > 0) or (start >= pos and (k > 0 or start == 0) and actual[start:] == chunk)
        start = next((s for s in range(pos, len(actual) - len(chunk) + 1) if actual[s:s + len(chunk)] == chunk), None)
        if start is None or (k == 0 and start != 0):
            return False
        pos = start + len(chunk)
    return True


def mismatch(t: Transcript, stdout: str, stderr: str) -> str | None:
    """None if the doc shows what the command printed, else a message with the diff."""
    shown, actual = normalise(t.shown), normalise(printed(t, stdout, stderr))
    if _shows(shown, actual):
        return None
    diff = "\n".join(difflib.unified_diff(shown, actual, "doc", "now", lineterm=""))
    return (f"{t.doc.relative_to(ROOT)}:{t.line}: `{t.command}` prints something else than the doc shows "
            f"(`python tests/transcripts.py` rewrites it; `...` lines in the doc are cuts):\n{diff}")


def run(t: Transcript) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the command, in this process (click's test runner), in ROOT."""
    from click.testing import CliRunner

    from pramsim.cli import main

    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        r = CliRunner().invoke(main, shlex.split(t.command)[1:])
    finally:
        os.chdir(cwd)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _shell(command: str) -> bool:
    return any(ch in command for ch in "|><;&")


def update(doc: Path) -> list[str]:
    """Rewrite doc's transcripts with what the commands print now; the ones left for a hand edit."""
    lines = doc.read_text().splitlines(keepends=True)
    left, changed = [], False
    for t in reversed(transcripts(doc)):  # bottom up: line numbers above stay valid
        if not checked(t) or _shell(t.command):
            continue
        code, stdout, stderr = run(t)
        if mismatch(t, stdout, stderr) is None:
            continue
        actual = [line.replace(str(ROOT), DOC_ROOT).rstrip() for line in printed(t, stdout, stderr)]
        cuts = [i for i, line in enumerate(t.shown) if line.strip() == CUT]
        if not cuts:
            new = actual
        elif cuts == [len(t.shown) - 1]:
            new = actual[:cuts[0]] + [CUT]
        else:
            left.append(f"{t.id}: {t.command} (cut in the middle: edit by hand)")
            continue
        if code != t.exit_code:
            left.append(f"{t.id}: {t.command} exited {code}, the doc says {t.exit_code}")
        lines[t.line:t.line + len(t.shown)] = [line + "\n" for line in new]
        changed = True
    if changed:
        doc.write_text("".join(lines))
    return left


REFERENCE_DOCS = [ROOT / "docs" / name for name in ("cli.md", "dsl.md", "cost-model.md")]  # tests/test_docs.py


def docs() -> list[Path]:
    """The docs with transcripts: docs/cli.md, dsl.md, cost-model.md and the lessons."""
    return [*REFERENCE_DOCS, *sorted((ROOT / "docs" / "course").glob("[0-9][0-9]-*.md"))]


if __name__ == "__main__":
    import tempfile
    os.environ.setdefault("PRAMSIM_MACHINES_DIR", tempfile.mkdtemp())  # no user profiles listed
    for path in [Path(a).resolve() for a in sys.argv[1:]] or docs():
        for note in update(path):
            print(note)
