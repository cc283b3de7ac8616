"""The course in docs/course: every `pramsim` command in a ```console block runs, exits as the
lesson says, and prints the key numbers the lesson quotes; every reference solution passes its
checker.

A block may start with `# exits N` (the command is expected to fail with code N, e.g. an EREW
violation) and may be preceded by `<!-- keys: "9,207" "90 steps" -->`: strings that must appear in
the command's output. Lessons whose first lines say "not yet runnable" are skipped. The commands
run concurrently (each is a separate process) so the module stays well under a minute.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import transcripts

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "course"
LESSONS = sorted(COURSE.glob("[0-9][0-9]-*.md"))
BLOCK = re.compile(r"(?:<!--\s*keys:(?P<keys>.*?)-->\s*\n)?```console\n(?P<body>.*?)\n```", re.S)


def runnable(text: str) -> bool:
    return "not yet runnable" not in "\n".join(text.splitlines()[:5]).lower()


def blocks():
    """(lesson, command, expected exit code, keys) for every `$ pramsim ...` line."""
    out = []
    for lesson in LESSONS:
        text = lesson.read_text()
        if not runnable(text):
            continue
        for m in BLOCK.finditer(text):
            lines = m.group("body").splitlines()
            code = 0
            for ln in lines:
                if ln.startswith("$ "):
                    break
                e = re.match(r"# exits (\d+)", ln)
                if e:
                    code = int(e.group(1))
            keys = re.findall(r'"([^"]*)"', m.group("keys") or "")
            for ln in lines:
                if ln.startswith("$ pramsim "):
                    out.append((lesson.name, ln[2:], code, keys))
    return out


BLOCKS = blocks()


def _run(cmd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
               MPLBACKEND="Agg")
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def _run_in_process(cmd: str) -> subprocess.CompletedProcess:
    """A plain `pramsim ...` command through click's test runner: same code path, no interpreter
    start-up per command (most of a command's time)."""
    from click.testing import CliRunner

    from pramsim.cli import main

    argv = shlex.split(cmd)[1:]
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        r = CliRunner().invoke(main, argv, catch_exceptions=True)
    finally:
        os.chdir(cwd)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return subprocess.CompletedProcess(argv, r.exit_code, r.stdout, getattr(r, "stderr", "") or "")


def _shell_only(cmd: str) -> bool:
    return any(ch in cmd for ch in "|><;&") or cmd.startswith("pramsim gpu ")


@pytest.fixture(scope="module")
def results():
    cmds = sorted({c for _, c, _, _ in BLOCKS})
    shell = [c for c in cmds if _shell_only(c)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # pipelines and GPU runs in their own processes
        futures = {c: pool.submit(_run, c) for c in shell}
        out = {c: _run_in_process(c) for c in cmds if c not in futures}
        out.update({c: f.result() for c, f in futures.items()})
    return out


def test_course_has_all_lessons_and_commands():
    names = [p.name for p in LESSONS]
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1)) and len(names) >= 12  # 01, 02, ... no gaps
    readme = (COURSE / "README.md").read_text()
    for name in names:
        assert f"]({name})" in readme, f"docs/course/README.md does not list {name}"
    for lesson in LESSONS:
        text = lesson.read_text()
        assert "## Exercises" in text, lesson.name
        if runnable(text):
            assert any(b[0] == lesson.name for b in BLOCKS), f"{lesson.name} has no runnable command"


@pytest.mark.parametrize("lesson,cmd,code,keys", BLOCKS, ids=[f"{b[0][:2]}:{b[1][:60]}" for b in BLOCKS])
def test_console_command(results, lesson, cmd, code, keys):
    r = results[cmd]
    output = r.stdout + r.stderr
    assert r.returncode == code, f"{lesson}: `{cmd}` exited {r.returncode}, expected {code}\n{output[-2000:]}"
    for key in keys:
        assert key in output, f"{lesson}: `{cmd}` output lacks {key!r}\n{output[-2000:]}"


TRANSCRIPTS = [t for lesson in LESSONS if runnable(lesson.read_text())
               for t in transcripts.transcripts(lesson) if transcripts.checked(t)]


@pytest.mark.parametrize("t", TRANSCRIPTS, ids=lambda t: t.id)
def test_console_transcript(results, t):
    """The lesson shows what the command prints (normalised: tests/transcripts.py). `pramsim gpu`'s
    output is not compared (GPU or simulator times); the commands ran once, in `results`."""
    r = results[t.command]
    mismatch = transcripts.mismatch(t, r.stdout, r.stderr)
    assert mismatch is None, mismatch


SOLUTIONS = sorted((COURSE / "solutions").glob("*.py"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[s.stem for s in SOLUTIONS])
def test_solution_passes_its_checker(results, solution):
    """Each reference solution is checked in a lesson by `pramsim check` with the exercise's bounds,
    and that check passes (exit 0, PASS line)."""
    rel = solution.relative_to(ROOT).as_posix()
    checks = [c for _, c, _, _ in BLOCKS if c.startswith(f"pramsim check {rel} ") and "--work" in c and "--depth" in c]
    assert checks, f"no lesson runs `pramsim check {rel} --work ... --depth ...`"
    for c in checks:
        r = results[c]
        assert r.returncode == 0 and f"PASS: {solution.stem}" in r.stdout, (c, r.stdout[-1500:], r.stderr[-1500:])


def test_checker_rejects_a_wrong_bound(results):
    """The exercise checkers are not vacuous: a solution fails when the bound is too tight."""
    r = _run("pramsim check docs/course/solutions/softmax_rows.py --work n^2 --depth 'log n'")
    assert r.returncode == 1 and "FAIL" in r.stdout, r.stdout[-1500:]


SHOWN_FILE = re.compile(r"<!--\s*file:\s*(?P<path>\S+)\s*-->\s*\n```python\n(?P<body>.*?)```", re.S)
SHOWN = [(lesson.name, m.group("path"), m.group("body")) for lesson in LESSONS
         for m in SHOWN_FILE.finditer(lesson.read_text())]


def _program_path(arg: str) -> Path:
    """The file a `pramsim run/check ARG` command runs: a path, or a shipped program's file."""
    from pramsim.programs import shipped_programs
    return (ROOT / arg).resolve() if arg.endswith(".py") else shipped_programs().get(arg, Path("-")).resolve()


@pytest.mark.parametrize("lesson,path,body", SHOWN, ids=[f"{s[0][:2]}:{s[1]}" for s in SHOWN])
def test_shown_file_is_the_real_file_and_the_lesson_runs_it(results, lesson, path, body):
    """A program file a lesson shows under `<!-- file: PATH -->` is that file, word for word, and a
    `pramsim run` or `check` command of the same lesson runs it and succeeds."""
    assert body == (ROOT / path).read_text(), f"{lesson} shows an outdated copy of {path}"
    runs = [c for name, c, code, _ in BLOCKS if name == lesson and code == 0 and c.split()[1] in ("run", "check")
            and _program_path(shlex.split(c)[2]) == (ROOT / path).resolve()]
    assert runs, f"no command of {lesson} runs {path}"
    for c in runs:
        assert results[c].returncode == 0, (c, results[c].stderr[-1500:])


def test_lesson_1_shows_a_whole_program_file_and_links_the_dsl_reference():
    text = (COURSE / "01-work-and-depth.md").read_text()
    shown = [body for name, _, body in SHOWN if name == "01-work-and-depth.md"]
    assert shown, "lesson 1 shows no whole program file"
    for part in ("import numpy as np", "from pramsim.dsl import", "@kernel", "def make_inputs(rng, n):",
                 "def reference(", "@program(params=", "inputs=make_inputs", "reference=reference"):
        assert part in shown[0], part
    assert "](../dsl.md)" in text and (COURSE.parent / "dsl.md").exists()
