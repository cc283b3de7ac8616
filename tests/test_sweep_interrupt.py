"""Ctrl-C during `pramsim sweep --csv F`: a clear message, exit code 130, no traceback, and the rows
already written to F kept whole. SIGINT goes to the whole process group, as a terminal's Ctrl-C
does (the worker processes get it too), or to the main process only, as `kill -INT PID` does."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def data_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal's foreground job has it. A shell's background job (`cmd &`,
    as a CI runner may start the suite) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: the sweep would rightly go on (this made the test fail in such a run)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("jobs, target", [("1", "group"), ("2", "group"), ("2", "main")])
def test_interrupted_sweep_stops_cleanly_and_keeps_its_rows(tmp_path, jobs, target):
    out = tmp_path / "rows.csv"
    # n = 32 .. 1024: the first point takes a fraction of a second, each next one 2 to 4 times longer
    proc = subprocess.Popen([sys.executable, "-m", "pramsim.cli", "sweep", "attention_chunked", "n=32..1024",
                             "-j", jobs, "--csv", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 60
        # once n = 32 is done, the workers are on 64 and 128, with 256 queued
        while not data_rows(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        before = len(data_rows(out))
        assert before >= 1
        (os.killpg if target == "group" else os.kill)(proc.pid, signal.SIGINT)
        # it stops without finishing the points: all six would take minutes (n = 256 alone over 15 s)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert f"interrupted; the points already finished are in {out}" in stderr
    rows = data_rows(out)
    assert len(rows) >= before and len(rows) < 6  # 6 points in all: some were never run
    header = out.read_text().splitlines()[0].split(",")
    assert header[:5] == ["batch", "heads", "n", "d", "chunk"] and "work" in header
    for row in rows:  # each kept row is whole and a real result
        assert None not in row and None not in row.values(), row  # no missing or extra fields
        assert row["correct"] == "True" and row["brent_holds"] == "True"
        n = int(row["n"])
        assert n in {32, 64, 128, 256, 512, 1024} and int(row["work"]) > n
