"""The grader and `check` as a grader uses them: a tree sum passes W=Θ(n), D=Θ(log n); a
sequential loop fails the depth; and the cheap ways a submission could fake a pass or stall the
grader (tests/grading/cheat_*.py, memory_bomb.py, race_reverse.py, timeout/host_loop.py) are
FAILs with the reason."""
import importlib.util
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pramsim.verdict import write_verdict

ROOT = Path(__file__).resolve().parents[1]
GRADE = ROOT / "scripts" / "grade.py"
SUBMISSIONS = ROOT / "tests" / "grading"


def pramsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pramsim.cli", *args], capture_output=True, text=True, timeout=120)


def grade_lines(stdout: str) -> dict[str, str]:
    return {line.split()[1]: line for line in stdout.splitlines() if line.startswith(("PASS", "FAIL"))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grader run over tests/grading/*.py with a 1 GiB memory limit, a JUnit and a CSV report."""
    out = tmp_path_factory.mktemp("grades")
    r = subprocess.run([sys.executable, str(GRADE), str(SUBMISSIONS), "--work", "n", "--depth", "log n",
                        "--memory-limit", "1", "--junit", str(out / "grades.xml"), "--csv", str(out / "grades.csv"),
                        "--jobs", "2"], capture_output=True, text=True, timeout=300)
    return r, grade_lines(r.stdout), out


def test_grader_separates_parallel_from_sequential(graded):
    r, lines, _ = graded
    assert lines["tree.py"].startswith("PASS"), r.stdout + r.stderr
    assert lines["sequential.py"].startswith("FAIL") and "depth" in lines["sequential.py"], r.stdout
    assert r.returncode == 1


def test_printed_passing_report_then_os_exit_is_a_fail(graded):
    _, lines, _ = graded
    assert lines["cheat_print_exit.py"].startswith("FAIL  cheat_print_exit.py")
    assert "no verdict: the process exited with code 0" in lines["cheat_print_exit.py"]


def test_verdict_file_written_by_the_submission_is_a_fail(graded):
    """It signs with what it finds in the environment, /proc/self/environ and the nonce pipe: all
    empty by the time the file loads."""
    _, lines, _ = graded
    assert lines["cheat_forge_verdict.py"].startswith("FAIL")
    assert "forged verdict" in lines["cheat_forge_verdict.py"]


def test_genuine_verdict_edited_at_exit_is_a_fail(graded):
    """An atexit handler turns the checker's own (failing) verdict into a pass and exits 0."""
    assert lines_fail(graded, "cheat_flip_verdict.py", "forged verdict")


def test_sys_exit_in_host_code_fails_check_run_and_grade(graded):
    path = str(SUBMISSIONS / "cheat_sys_exit.py")
    for command in ("check", "run"):
        r = pramsim(command, path)
        assert r.returncode == 1, (command, r.stdout, r.stderr)
        first = r.stderr.splitlines()[0]
        assert first.startswith(f"{path}:17:") and "called sys.exit(0)" in first and "before producing its result" in first
        assert "Traceback" not in r.stderr
    assert lines_fail(graded, "cheat_sys_exit.py", "called sys.exit(0)")


def test_sys_exit_at_a_files_top_level_fails_check(tmp_path):
    f = tmp_path / "exits.py"
    f.write_text("import sys\nraise SystemExit\n")
    r = pramsim("check", str(f))
    assert r.returncode == 1
    assert r.stderr.startswith(f"{f}:2:") and "called sys.exit() (raised SystemExit) while its file was being loaded" in r.stderr


def test_memory_bomb_fails_under_the_memory_limit(graded):
    assert lines_fail(graded, "memory_bomb.py", "MemoryError")


def test_shared_memory_race_fails_check_by_default_and_grade(graded):
    path = str(SUBMISSIONS / "race_reverse.py")
    r = pramsim("check", path)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{path}:14:") and "shared-memory race on s[63] in block 0" in r.stderr
    # Without the race check the lockstep result is right and every other check holds: the race
    # check alone fails it.
    r = pramsim("check", path, "--no-check-races")
    assert r.returncode == 0 and "PASS: race_reverse" in r.stdout, r.stdout + r.stderr
    assert lines_fail(graded, "race_reverse.py", "shared-memory race on s[63]")


def test_infinite_host_loop_is_a_timeout_and_its_processes_are_killed(tmp_path):
    pidfile = tmp_path / "child.pid"
    r = subprocess.run([sys.executable, str(GRADE), str(SUBMISSIONS / "timeout"), "--work", "n", "--depth", "log n",
                        "--timeout", "5"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PRAMSIM_TEST_PIDFILE": str(pidfile)})
    line = grade_lines(r.stdout)["host_loop.py"]
    assert line.startswith("FAIL") and "timeout: still running after 5 s (killed)" in line, r.stdout + r.stderr
    assert r.returncode == 1
    assert not alive(int(pidfile.read_text())), "the submission's own child outlived the grader's kill"


def test_junit_report_has_one_testcase_per_submission_and_the_failures(graded):
    r, lines, out = graded
    suite = ET.parse(out / "grades.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == sorted(p.name for p in SUBMISSIONS.glob("*.py"))
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {name for name, line in lines.items() if line.startswith("FAIL")}
    assert "tree.py" not in failed and "sequential.py" in failed
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == str(len(failed))
    for name in failed:  # the failure message is the reason the grader printed
        assert lines[name].endswith(cases[name].find("failure").get("message"))
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0] == "file,pass,why" and len(rows) == len(cases) + 1


def test_check_json_out_is_the_json_report(tmp_path):
    path = str(SUBMISSIONS / "tree.py")
    r = pramsim("check", path, "--json", "--json-out", str(tmp_path / "v.json"))
    assert r.returncode == 0
    assert json.loads((tmp_path / "v.json").read_text()) == json.loads(r.stdout)  # no nonce: no grader
    r = pramsim("check", str(SUBMISSIONS / "cheat_sys_exit.py"), "--json-out", str(tmp_path / "e.json"))
    data = json.loads((tmp_path / "e.json").read_text())
    assert r.returncode == 1 and data["pass"] is False and data["exit_code"] == 1 and "sys.exit(0)" in data["error"]


def test_a_verdict_is_accepted_only_with_the_nonce_and_the_matching_exit(tmp_path):
    judge = load_grader().judge
    verdict = tmp_path / "v.json"
    write_verdict(verdict, {"pass": True, "points": [], "work_fit": None, "depth_fit": None, "x": 0.1 + 0.2}, "abc")
    assert "abc" not in verdict.read_text()  # signed with the nonce, which is not written
    assert judge(0, verdict, "abc", "", 60) == (True, "all checks pass")
    assert judge(1, verdict, "abc", "", 60) == (False, "the verdict implies exit code 0, the process exited with 1")
    assert judge(0, verdict, "abd", "", 60)[1].startswith("forged verdict")
    edited = json.loads(verdict.read_text())
    edited["x"] = 0.3
    verdict.write_text(json.dumps(edited))
    assert judge(0, verdict, "abc", "", 60)[1].startswith("forged verdict")
    assert judge(-9, verdict, "abc", "", 60) == (False, "crashed: killed by SIGKILL")
    assert judge(None, verdict, "abc", "", 60) == (False, "timeout: still running after 60 s (killed)")


def lines_fail(graded, name: str, reason: str) -> bool:
    line = graded[1][name]
    assert line.startswith(f"FAIL  {name}") and reason in line, graded[0].stdout + graded[0].stderr
    return True


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie awaiting its reaper counts as dead); waits up to 5 s for it to go."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def load_grader():
    spec = importlib.util.spec_from_file_location("grade_script", GRADE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("option", [["--timeout", "nan"], ["--timeout", "inf"], ["--memory-limit", "0"],
                                    ["--junit", "/nonexistent-folder/grades.xml"]])
def test_grader_refuses_bad_limits_and_report_paths_before_grading(option):
    r = subprocess.run([sys.executable, str(GRADE), str(SUBMISSIONS), "--work", "n", "--depth", "log n", *option],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "error:" in r.stderr and not grade_lines(r.stdout)
