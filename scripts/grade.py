#!/usr/bin/env python3
"""Grade a directory of student submissions against the bounds an instructor sets.

    python scripts/grade.py SUBMISSIONS_DIR --work "n" --depth "log n" [--csv grades.csv]
        [--junit grades.xml] [--timeout 60] [--memory-limit 4] [--jobs N]

Each *.py file is checked with `pramsim check FILE --work ... --depth ...`: the result must
match its NumPy reference at every sweep point (with the shared-memory race check on), Brent's
theorem must hold, and the measured work and depth must follow the given Θ forms.

Each submission runs in its own process, in its own process group, in an empty temporary
folder, under a time limit (--timeout; the whole group is killed) and an address-space limit
(--memory-limit). The verdict is not read from the submission's output, which it controls: a
random nonce goes to the checker through an inherited pipe that pramsim closes before loading the
file, and the verdict is accepted only from check's --json-out file, signed with that nonce
(which is never written anywhere), from a process that exited normally with the matching code
(pramsim/verdict.py). Anything else (no
verdict, a wrong nonce, a signal, a timeout) is a FAIL with the reason.

Limit: a submission is Python running inside the checker's process. This stops the cheap tricks
(printing a passing report, os._exit(0), sys.exit(0), writing or editing the verdict file,
infinite loops, memory bombs) but not a deliberate forgery from inside the process, nor what the code does to
your files and network. Run the grader in a container without network, or as a separate
unprivileged user (docs/course/README.md).

Prints one line per submission; exit 0 if all pass.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pramsim.errors import PramsimError
from pramsim.outfile import write_text as write_text_atomic
from pramsim.verdict import NONCE_FD_ENV, verified

# Sets the limits, then becomes the checker: the limits hold before pramsim or the submission
# runs, without a preexec_fn (unsafe with --jobs threads).
LIMIT_AND_EXEC = ("import os, resource, sys; n = int(sys.argv[1]); "
                  "resource.setrlimit(resource.RLIMIT_AS, (n, n)); "
                  "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]),) * 2); "
                  "os.execv(sys.argv[3], sys.argv[3:])")
MAX_FILE_BYTES = 256 * 2**20  # a submission writing without end is stopped (SIGXFSZ), not the disk filled
STDERR_TAIL = 2000            # bytes of the checker's stderr kept for the reason when there is no verdict
POLL_S = 0.05


def grade(path: Path, work: str, depth: str, timeout: float, memory_limit: int, model: str = "crcw-arbitrary") -> dict:
    """Check one submission in its own limited process; {'file', 'pass', 'why', 'seconds'}."""
    start = time.monotonic()
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="pramsim-grade-") as tmp:
        verdict_path, err_path = Path(tmp) / "verdict.json", Path(tmp) / "stderr.txt"
        cmd = [sys.executable, "-c", LIMIT_AND_EXEC, str(memory_limit), str(MAX_FILE_BYTES),
               sys.executable, "-m", "pramsim.cli", "check", str(path.resolve()), "--work", work, "--depth", depth,
               "--model", model, "--max-time", "0", "--json-out", str(verdict_path)]
        with open(err_path, "wb") as err:
            status = run_limited(cmd, Path(tmp), nonce, err, timeout)
        passed, why = judge(status, verdict_path, nonce, read_tail(err_path), timeout)
    return {"file": path.name, "pass": passed, "why": why, "seconds": round(time.monotonic() - start, 3)}


def run_limited(cmd: list[str], cwd: Path, nonce: str, err: io.BufferedWriter, timeout: float) -> int | None:
    """Run `cmd` in a new process group with the nonce on an inherited pipe; its wait status
    (returncode: negative for a signal), or None when it ran past `timeout` and was killed.
    Stdout is discarded: nothing the submission prints is read."""
    read_end, write_end = os.pipe()
    os.write(write_end, nonce.encode())  # 32 bytes: fits the pipe's buffer, no reader needed yet
    os.close(write_end)
    # cwd is an empty folder: `python -m` puts it first on sys.path, so no file beside the
    # submission (a numpy.py, a click.py) is imported in place of the real module.
    env = {**os.environ, NONCE_FD_ENV: str(read_end),
           # One BLAS thread: predictable memory under RLIMIT_AS, and fair when --jobs run side by side.
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, pass_fds=(read_end,), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    finally:
        os.close(read_end)
    timed_out = not wait_unreaped(proc.pid, timeout)
    # The leader is not reaped yet, so its group id cannot be reused: kill the whole group (any
    # process the submission started, too), then reap.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return None if timed_out else proc.returncode


def wait_unreaped(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` s for `pid` to exit without reaping it; False if it is still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(POLL_S)
    return False


def judge(status: int | None, verdict_path: Path, nonce: str, stderr_tail: str, timeout: float) -> tuple[bool, str]:
    """(passed, reason) from how the checker ended and the verdict it left."""
    if status is None:
        return False, f"timeout: still running after {timeout:g} s (killed)"
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        return False, f"crashed: killed by {name}" + (f" ({stderr_tail})" if stderr_tail else "")
    try:
        data = json.loads(verdict_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, (f"no verdict: the process exited with code {status} before the checker finished "
                       f"(os._exit, a crash or a memory limit?)" + (f"; stderr: {stderr_tail}" if stderr_tail else ""))
    except (OSError, ValueError) as exc:
        return False, f"unreadable verdict ({exc})"
    data = verified(data, nonce)
    if data is None:
        return False, "forged verdict: it is not signed with this run's nonce"
    expected = data.get("exit_code", 0 if data.get("pass") is True else 1)
    if status != expected:
        return False, f"the verdict implies exit code {expected}, the process exited with {status}"
    if data.get("error"):
        return False, str(data["error"]).splitlines()[0]
    return data.get("pass") is True, reasons(data)


def reasons(data: dict) -> str:
    """The failed checks of a check report, or 'all checks pass'."""
    why = [f"{k}: {data[k + '_fit']['reason']}" for k in ("work", "depth")
           if data.get(k + "_fit") and not data[k + "_fit"]["holds"]]
    why += [f for p in data.get("points", []) for f in p["failures"]][:3]
    return "; ".join(why) or "all checks pass"


def read_tail(path: Path) -> str:
    """The last line of the file's last STDERR_TAIL bytes, on one line."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - STDERR_TAIL))
        lines = f.read().decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""


def write_csv(results: list[dict], path: Path) -> None:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=["file", "pass", "why"], extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(results)
    write_text_atomic(path, out.getvalue())


def write_junit(results: list[dict], path: Path) -> None:
    """One <testcase> per submission; a failing one has <failure message=reason>."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="pramsim grade", tests=str(len(results)),
                          failures=str(sum(not r["pass"] for r in results)), errors="0",
                          time=f"{sum(r['seconds'] for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="grade", name=r["file"], time=f"{r['seconds']:.3f}")
        if not r["pass"]:
            ET.SubElement(case, "failure", message=r["why"]).text = r["why"]
        else:
            ET.SubElement(case, "system-out").text = r["why"]
    ET.indent(suites)
    write_text_atomic(path, ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("submissions", type=Path)
    ap.add_argument("--work", required=True)
    ap.add_argument("--depth", required=True)
    ap.add_argument("--model", default="crcw-arbitrary",
                    help="the PRAM model a submission must respect, e.g. erew (default crcw-arbitrary)")
    ap.add_argument("--csv", type=Path, help="write file,pass,why rows")
    ap.add_argument("--junit", type=Path, help="write a JUnit XML report (one testcase per submission)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per submission (default 60)")
    ap.add_argument("--memory-limit", type=float, default=4.0, help="GiB of address space per submission (default 4)")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="submissions checked at once (default 1)")
    args = ap.parse_args()
    if not args.submissions.is_dir():
        ap.error(f"{args.submissions} is not a folder")
    if not all(math.isfinite(x) and x > 0 for x in (args.timeout, args.memory_limit)) or args.jobs < 1:
        ap.error("--timeout and --memory-limit must be positive numbers, --jobs at least 1")
    for report in (args.csv, args.junit):  # before the grading, not after it
        if report and not report.resolve().parent.is_dir():
            ap.error(f"the folder of {report} does not exist")
    paths = sorted(args.submissions.glob("*.py"))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda p: grade(p, args.work, args.depth, args.timeout, model=args.model, memory_limit=
                                                int(args.memory_limit * 2**30)), paths))
    for r in results:
        print(f"{'PASS' if r['pass'] else 'FAIL'}  {r['file']:<30} {r['why']}")
    try:
        if args.csv:
            write_csv(results, args.csv)
        if args.junit:
            write_junit(results, args.junit)
    except PramsimError as exc:  # a folder that is missing or not writable, a full disk
        print(exc, file=sys.stderr)
        return 2
    print(f"{sum(r['pass'] for r in results)} passed, {sum(not r['pass'] for r in results)} failed")
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
