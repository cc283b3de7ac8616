"""The example grader: a tree sum passes W=Θ(n), D=Θ(log n); a sequential loop fails the depth."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_grader_separates_parallel_from_sequential():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "grade.py"), str(ROOT / "tests" / "grading"),
                        "--work", "n", "--depth", "log n"], capture_output=True, text=True)
    lines = {line.split()[1]: line for line in r.stdout.splitlines() if line.startswith(("PASS", "FAIL"))}
    assert lines["tree.py"].startswith("PASS"), r.stdout
    assert lines["sequential.py"].startswith("FAIL") and "depth" in lines["sequential.py"], r.stdout
    assert r.returncode == 1
