"""Run `pramsim` on bad inputs and faults; report exit codes, bugs (exit 3), tracebacks and hangs.

    python scripts/fuzz_cli.py                  # the fixed cases + 160 random ones (seed 0), ~2-3 min
    python scripts/fuzz_cli.py --seed 7 --random 400 --jobs 2
    python scripts/fuzz_cli.py --fixed 5 --random 3 --json out.json

Each case is one `python -m pramsim.cli ...` subprocess with a time limit. The fixed cases are the
classes of bad input issue 13 lists (program paths, parameters, options, machine profiles,
program files, --json); the random ones put generated garbage (huge, negative, fractional,
non-ASCII, control characters, expressions, empty) into parameter values and option values of
run, check, sweep and show-cuda, into a field of a copy of the h100 profile, and into a copy of
tests/fixtures/good_saxpy.py (random bytes inserted, spans deleted, tokens replaced). A case is a finding when pramsim exits 3 ("bug in pramsim"),
prints a Python traceback, runs past the limit, or prints --json output a strict parser refuses.
Exit status: 0 when there is no finding, 1 otherwise. Not part of the test suite (tests/
test_bad_inputs.py runs a few cases).
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
H100 = ROOT / "pramsim" / "machine" / "profiles" / "h100.toml"
GOOD = (FIX / "good_saxpy.py").read_text()


@dataclass
class Case:
    kind: str                  # the class of bad input, for the summary
    args: list[str]
    strict_json: bool = False  # the output must parse as strict JSON when the exit code is 0 or 1
    files: dict[str, bytes] = field(default_factory=dict)  # written into the cases' folder first


@dataclass
class Outcome:
    case: Case
    code: int | None           # None: timed out
    seconds: float
    findings: list[str] = field(default_factory=list)
    stderr_tail: str = ""


def write_files(d: Path) -> dict[str, Path]:
    """The bad program files and machine profiles the fixed cases use, written into `d`."""
    def program(name: str, text: str | bytes) -> Path:
        path = d / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    profile = H100.read_text()
    files = {
        "latin_comment": program("latin.py", b"# caf\xe9\n" + GOOD.encode()),
        "late_bad_byte": program("late.py", GOOD.encode() + b"\n# \xff\xfe\n"),
        "nul_byte": program("nul.py", GOOD.encode() + b"\nx = 1\x00\n"),
        "bad_coding": program("coding.py", "# -*- coding: nonsense -*-\n" + GOOD),
        "bad_work": program("work.py", GOOD.replace('counts={"flop": "2*n", "store.hbm": "n"}', 'work="n ^^ 2"')),
        "bad_depth": program("depth.py", GOOD.replace('counts={"flop": "2*n", "store.hbm": "n"}', 'depth="log m"')),
        "bad_counts": program("counts.py", GOOD.replace('"2*n"', '"2 *"')),
        "huge_zeros": program("huge.py", GOOD.replace("zeros(n, np.float32)", "zeros(10**13, np.float32)")),
        "huge_zeros_2d": program("huge2.py", GOOD.replace("zeros(n, np.float32)", "zeros((2**40, 2**40))")),
        "negative_zeros": program("neg.py", GOOD.replace("zeros(n, np.float32)", "zeros(-5)")),
        "syntax": program("syntax.py", GOOD + "\ndef broken(:\n"),
        "empty": program("empty.py", ""),
        "not_py": program("prog.txt", GOOD),
        "folder.py": d / "folder.py",
    }
    files["folder.py"].mkdir(exist_ok=True)
    for name, old, new in [("nan", "hbm_bytes_per_s = 2.33e12", "hbm_bytes_per_s = nan"),
                           ("inf", "clock_hz = 1.98e9", "clock_hz = inf"),
                           ("minus_inf", "sram_latency_cycles = 30", "sram_latency_cycles = -inf"),
                           ("tiny", "hbm_bytes_per_s = 2.33e12", "hbm_bytes_per_s = 1e-300"),
                           ("huge_int", "sms = 132", "sms = 99999999999999999999999999"),
                           ("zero", "sms = 132", "sms = 0"),
                           ("string", "sms = 132", 'sms = "many"'),
                           ("digits", "sms = 132", "sms = " + "9" * 5000),
                           ("float_int", "clock_hz = 1.98e9", "clock_hz = " + "9" * 400)]:
        assert old in profile, old
        files[f"profile_{name}"] = program(f"{name}.toml", profile.replace(old, new))
    files["profile_latin"] = program("latin.toml", profile.encode() + b"# caf\xe9\n")
    files["profile_garbage"] = program("garbage.toml", bytes(range(256)))
    files["profile_empty"] = program("empty.toml", "")
    return files


def fixed_cases(f: dict[str, Path], d: Path) -> list[Case]:
    """The bad inputs issue 13 lists, and their neighbours."""
    run = ["run", "tree_sum", "n=64", "--max-time", "20"]
    cases = [
        Case("program path", ["run", str(d)]),
        Case("program path", ["run", "/dev/null"]),
        Case("program path", ["run", str(f["folder.py"])]),
        Case("program path", ["run", str(f["not_py"])]),
        Case("program path", ["run", str(d / "missing.py")]),
        Case("program path", ["check", "/dev/null"]),
        Case("program path", ["show-ir", str(d)]),
        Case("program path", ["run", "x" * 300 + ".py"]),
        Case("option", run + ["--machine", "9" * 300]),
        Case("parameter", ["run", "tree_sum", "n=2**100000000"]),
        Case("parameter", ["run", "tree_sum", "n=" + "9" * 5000]),
        Case("parameter", ["run", "tree_sum", "n=2**63"]),
        Case("parameter", ["run", "tree_sum", "n=64", "n=128"]),
        Case("parameter", ["sweep", "tree_sum", "n=64..128", "n=256"]),
        Case("parameter", ["sweep", "attention_flash", "batch=1..2**62", "heads=1..2**62", "n=1..2**62"]),
        Case("parameter", ["sweep", "tree_sum", "n=2**70..2**80"]),
        Case("option", run + ["--p", str(2**64)]),
        Case("option", ["check", "tree_sum", "--p", str(2**70), "--max-time", "20"]),
        Case("option", run + ["--seed", "-1"]),
        Case("option", ["sweep", "tree_sum", "n=64", "--seed", "-5"]),
        Case("option", ["check", "tree_sum", "--work", "n^1000"]),
        Case("option", ["check", "tree_sum", "--work", "(n^n)^n"]),
        Case("option", ["check", "tree_sum", "--depth", "log q"]),
        Case("option", ["check", "tree_sum", "--depth", "log ^"]),
        Case("option", ["sweep", "tree_sum", "n=64", "--scheduler", "tcp://::::"]),
        Case("option", ["sweep", "tree_sum", "n=64", "--scheduler", "http://x:y"]),
        Case("option", ["sweep", "tree_sum", "n=64", "--plot", str(d / "x.xyz")]),
        Case("option", run + ["--gantt", str(d / "chart")]),
        Case("option", ["roofline", "tree_sum", "--plot", str(d / "r.jpgx")]),
        Case("option", run + ["--machine", str(d)]),
        Case("option", run + ["--machine", "/dev/null"]),
        Case("option", run + ["--max-memory", "nan"]),
        Case("program file", ["run", str(f["latin_comment"])]),
        Case("program file", ["run", str(f["late_bad_byte"])]),
        Case("program file", ["run", str(f["nul_byte"])]),
        Case("program file", ["run", str(f["bad_coding"])]),
        Case("program file", ["run", str(f["bad_work"])]),
        Case("program file", ["run", str(f["bad_depth"])]),
        Case("program file", ["check", str(f["bad_counts"])]),
        Case("program file", ["run", str(f["huge_zeros"])]),
        Case("program file", ["run", str(f["huge_zeros_2d"])]),
        Case("program file", ["run", str(f["negative_zeros"])]),
        Case("program file", ["run", str(f["syntax"])]),
        Case("program file", ["run", str(f["empty"])]),
        Case("--json", ["run", str(FIX / "nan_result.py"), "--json"], strict_json=True),
        Case("--json", ["run", "tree_sum", "n=64", "--machine", "h100", "--json"], strict_json=True),
        Case("--json", ["sweep", str(FIX / "nan_result.py"), "n=16,32", "--json", "-j", "1"], strict_json=True),
    ]
    cases += [Case("machine profile", run + ["--machine", str(path)]) for key, path in f.items()
              if key.startswith("profile_")]
    return cases


# ---- random cases --------------------------------------------------------------------------------

PROGRAMS = ["tree_sum", "scan_blelloch", "matvec", "softmax", "attention_flash", "bitonic_sort"]
GARBAGE_CHARS = "0123456789-+*/.,:=_ eExXabn()[]{}'\"\\%$#@!~`^&|<>?;\t\u00e9\u2212\u00b5\u4e2d\x7f"


def garbage(rng: random.Random) -> str:
    """One bad value: a mix of the shapes that break parsers."""
    pick = rng.randrange(12)
    if pick == 0:
        return str(rng.choice([-1, 0, -(2**63), 2**63, 2**64, 10**30, -(10**30)]))
    if pick == 1:
        return f"2**{rng.choice([-3, 0, 64, 100, 10**6, 10**9])}"
    if pick == 2:
        return rng.choice(["nan", "inf", "-inf", "NaN", "1e309", "-0", "0x", "0b2", "1_", "_1", "1__0"])
    if pick == 3:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randrange(0, 4)}f}"
    if pick == 4:
        return "".join(rng.choice(GARBAGE_CHARS) for _ in range(rng.randrange(0, 12)))
    if pick == 5:
        return ""
    if pick == 6:
        return "9" * rng.choice([20, 400, 5000])
    if pick == 7:
        return rng.choice(["../", "/", "/dev/null", "/proc/self/status", "~", "-", "--", "-h", "x" * 300])
    if pick == 8:
        return rng.choice(["n", "n log n", "log^2 n", "n^", "^n", "log", "(n", "n)", "n n n n", "2^n", "n^0.5",
                           "sqrt", "1/0", "n/0", "0", "-n", "n - n"])
    if pick == 9:
        return str(rng.randrange(1, 300))          # a valid small value, among the garbage
    if pick == 10:
        return rng.choice(["1..", "..4", "4..1", "1..4:1", "1..4:0", "1,,2", ",", "1..2**70", "64..1024:x"])
    return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 6)))


def random_program_file(rng: random.Random, tag: int) -> Case:
    """good_saxpy.py with one to three random edits: a byte inserted, a span deleted, or a token
    replaced by garbage."""
    data = bytearray(GOOD.encode())
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data))
        edit = rng.randrange(3)
        if edit == 0:
            data[at:at] = bytes([rng.randrange(256)])
        elif edit == 1:
            del data[at:at + rng.randrange(1, 12)]
        else:
            end = at + rng.randrange(1, 6)
            data[at:end] = garbage(rng).encode("utf-8", "surrogatepass")
    name = f"mutant{tag}.py"
    return Case("random program file", ["run", name, "--max-time", "20"], files={name: bytes(data)})


def random_profile(rng: random.Random, tag: int) -> Case:
    """The h100 profile with one field's value replaced by garbage (or one line dropped)."""
    lines = H100.read_text().splitlines()
    fields = [i for i, line in enumerate(lines) if "=" in line and not line.startswith(("#", "source", "description"))]
    i = rng.choice(fields)
    if rng.random() < 0.2:
        del lines[i]
    else:
        key = lines[i].split("=")[0].strip()
        lines[i] = f"{key} = {garbage(rng)}"
    name = f"profile{tag}.toml"
    return Case("random profile", ["run", "tree_sum", "n=64", "--machine", name, "--max-time", "20"],
                files={name: "\n".join(lines).encode("utf-8", "surrogatepass")})


def random_case(rng: random.Random, tag: int = 0) -> Case:
    pick = rng.randrange(8)
    if pick == 0:
        return random_program_file(rng, tag)
    if pick == 1:
        return random_profile(rng, tag)
    cmd = rng.choice(["run", "run", "run", "check", "sweep", "show-cuda"])
    prog = rng.choice(PROGRAMS)
    args = [cmd, prog]
    if cmd in ("run", "check"):
        args += ["--max-time", "20"]   # a valid value must not start a long run
    if cmd in ("run", "sweep", "show-cuda") and rng.random() < 0.7:
        name = rng.choice(["n", "n", "d", "p", "nosuch", "", "n=n"])
        args.append(f"{name}={garbage(rng)}" if cmd != "sweep" or rng.random() < 0.5 else f"n={garbage(rng)}..{garbage(rng)}")
    elif cmd == "sweep":
        args.append(f"n={rng.choice(['16', '16,32'])}")
    options = {"run": ["--p", "--seed", "--machine", "--model", "--engine", "--max-memory", "--max-time", "--gantt"],
               "check": ["--p", "--seed", "--work", "--depth", "--model", "--max-time"],
               "sweep": ["--seed", "--jobs", "--machine", "--plot", "--plot-kind", "--scheduler", "--engine"],
               "show-cuda": []}[cmd]
    for _ in range(rng.randrange(0, 3) if options else 0):
        option = rng.choice(options)
        value = garbage(rng)
        if option in ("--gantt", "--plot") and value and not value.startswith("/"):
            value = f"out{rng.randrange(10**6)}{value[-5:]}"   # relative: written in the cases' folder
        args += [option, value]
    if cmd == "sweep" and "--jobs" not in args:
        args += ["--jobs", "1"]
    return Case(f"random {cmd}", args)


# ---- running -------------------------------------------------------------------------------------

def run_case(case: Case, timeout: float, cwd: Path) -> Outcome:
    for name, data in case.files.items():
        (cwd / name).write_bytes(data)
    start = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "pramsim.cli", *case.args], capture_output=True, timeout=timeout,
                           cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Outcome(case, None, time.perf_counter() - start, ["hang (timed out)"])
    out = Outcome(case, r.returncode, time.perf_counter() - start)
    stdout, stderr = (b.decode("utf-8", "replace") for b in (r.stdout, r.stderr))
    out.stderr_tail = stderr[-400:]
    if r.returncode == 3 or "internal error in pramsim" in stderr:
        out.findings.append("exit 3 (internal error)")
    if "Traceback (most recent call last)" in stderr + stdout:
        out.findings.append("traceback")
    if r.returncode not in (0, 1, 2, 3):
        out.findings.append(f"unexpected exit code {r.returncode}")
    if case.strict_json and r.returncode in (0, 1):
        try:
            json.loads(stdout, parse_constant=_refuse)
        except ValueError as exc:
            out.findings.append(f"not strict JSON: {exc}")
    return out


def _refuse(token: str) -> None:
    """json.loads' hook for NaN, Infinity and -Infinity, which strict JSON does not have."""
    raise ValueError(f"{token} in the output")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="seed of the random cases")
    ap.add_argument("--random", type=int, default=160, help="number of random cases")
    ap.add_argument("--fixed", type=int, default=None, help="run only the first FIXED fixed cases")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds one case may take before it is a hang")
    ap.add_argument("--json", type=Path, default=None, help="write every outcome to this file")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every case")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pramsim_fuzz_") as tmp:
        d = Path(tmp)
        cases = fixed_cases(write_files(d), d)[:args.fixed]
        rng = random.Random(args.seed)
        cases += [random_case(rng, k) for k in range(args.random)]
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, args.timeout, d), cases))
        elapsed = time.perf_counter() - start
    by_code = collections.Counter("hang" if o.code is None else o.code for o in outcomes)
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for o in outcomes:
        by_kind[o.case.kind]["hang" if o.code is None else o.code] += 1
    bad = [o for o in outcomes if o.findings]
    print(f"{len(outcomes)} cases ({len(outcomes) - args.random} fixed, {args.random} random, seed {args.seed}) "
          f"in {elapsed:.0f} s")
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_code.items(), key=str)))
    for kind, counts in sorted(by_kind.items()):
        print(f"  {kind:<20} " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=str)))
    print(f"findings: {len(bad)} (exit 3: {sum('exit 3' in ' '.join(o.findings) for o in outcomes)}, "
          f"tracebacks: {sum('traceback' in o.findings for o in outcomes)}, "
          f"hangs: {sum(o.code is None for o in outcomes)}, "
          f"non-strict JSON: {sum(any(f.startswith('not strict') for f in o.findings) for o in outcomes)})")
    for o in (outcomes if args.verbose else bad):
        print(f"- {'; '.join(o.findings) or o.code}: pramsim {' '.join(map(repr, o.case.args))[:300]}")
        if o.findings:
            print("    " + o.stderr_tail.strip().replace("\n", "\n    ")[-400:])
    if args.json:
        args.json.write_text(json.dumps([{"kind": o.case.kind, "args": o.case.args, "code": o.code,
                                          "seconds": round(o.seconds, 2), "findings": o.findings}
                                         for o in outcomes], indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
