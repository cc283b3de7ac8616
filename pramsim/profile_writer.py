"""`pramsim calibrate --from-json`: a GPU machine profile written from a saved measurement.

The measurement file is one JSON object (docs/cli.md, "pramsim calibrate"). Required fields:

    device (str), driver (str), date (str)           what was measured, with what, when
    sms, max_threads_per_sm, max_threads_per_block, max_blocks_per_sm (int)    device attributes
    clock_hz (float)                                  the SM clock
    sram_bytes_per_sm, sram_bytes_per_block (int)     shared memory a block may use, per SM / per block
    memory_bytes (int)                                global memory size
    copy_bytes_per_s (float)                          grid-stride copy, bytes read + written
    fma_per_s (float)                                 fp32 fused multiply-adds per second
    empty_launch_s (float)                            host time of an empty kernel launch
    sram_bytes_per_s, sram_conflict_bytes_per_s (float)   shared memory, without / with 32-way bank conflicts
    dependent_load_latency_s (float)                  one dependent global load (pointer chase)
    l2_bytes_per_s (float)                            a working set that fits in L2

Optional: compute_capability ([major, minor]: gives the fp32 lanes per SM), command (str),
int_divide_per_s (64-bit integer divisions by a run-time divisor per second: gives
int_divide_instructions, the lane-cycles of one; measurements before 2026-11-30 lack it), and the
host terms fitted elsewhere (scripts/calibrate.py): launch_overhead_s, program_overhead_s,
hbm_dependent_latency_cycles. The profile's `source` names the device, driver, date and every
figure, and says for each profile field whether it is measured, derived or absent. The written
text is validated as `load_machine` would before it is written.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from . import outfile
from .errors import MachineError
from .machine.spec import ensure_user_profile_dir, profile_from_text

REQUIRED: dict[str, type] = {
    "device": str, "driver": str, "date": str, "sms": int, "max_threads_per_sm": int, "max_threads_per_block": int,
    "max_blocks_per_sm": int, "clock_hz": float, "sram_bytes_per_sm": int, "sram_bytes_per_block": int,
    "memory_bytes": int, "copy_bytes_per_s": float, "fma_per_s": float, "empty_launch_s": float,
    "sram_bytes_per_s": float, "sram_conflict_bytes_per_s": float, "dependent_load_latency_s": float,
    "l2_bytes_per_s": float,
}
OPTIONAL: dict[str, type] = {"compute_capability": list, "command": str, "int_divide_per_s": float,
                             "launch_overhead_s": float,
                             "program_overhead_s": float, "hbm_dependent_latency_cycles": float}
# fp32 lanes per SM by compute capability (CUDA C Programming Guide, "Arithmetic Instructions" table)
FP32_LANES = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128}


def load_measurement(path: Path) -> dict[str, Any]:
    """The measurement in `path`, every field of its type and every number positive and finite."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MachineError(f"cannot read the measurement {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MachineError(f"the measurement {path} is not JSON: {exc}", hint="pass the JSON a measurement wrote") from None
    if not isinstance(data, dict):
        raise MachineError(f"the measurement {path} must be a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise MachineError(f"the measurement {path} lacks {', '.join(missing)}",
                           hint="docs/cli.md, `pramsim calibrate`, lists the fields of a measurement")
    for key, value in data.items():
        typ = REQUIRED.get(key) or OPTIONAL.get(key)
        if typ is None:
            continue  # extra fields (raw timings, versions) are kept in the file, not used
        ok = isinstance(value, typ) or (typ is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            raise MachineError(f"field {key!r} of the measurement {path} must be {typ.__name__}, got {value!r}")
        if typ in (int, float) and not (math.isfinite(value) and value > 0):
            raise MachineError(f"field {key!r} of the measurement {path} must be a positive finite number, got {value}")
    return data


def lanes_per_sm(m: dict[str, Any]) -> tuple[int, str]:
    """fp32 lanes per SM and where the figure comes from: the compute capability's table, else the
    measured FMA rate per SM per clock (a lower bound when the FMA benchmark does not saturate)."""
    cc = tuple(m.get("compute_capability") or ())
    if cc in FP32_LANES:
        return FP32_LANES[cc], f"compute capability {cc[0]}.{cc[1]} (CUDA C Programming Guide)"
    derived = max(1, round(m["fma_per_s"] / (m["sms"] * m["clock_hz"])))
    return derived, "derived: fma_per_s / (sms x clock_hz), a lower bound if the FMA benchmark did not saturate"


def profile_text(m: dict[str, Any], name: str) -> str:
    """The TOML of the profile: figures from `m`, each labelled in `source`."""
    clock, sms = m["clock_hz"], m["sms"]
    lanes, lanes_from = lanes_per_sm(m)
    fields: dict[str, Any] = {
        "sms": sms, "lanes_per_sm": lanes, "clock_hz": float(clock), "max_threads_per_sm": m["max_threads_per_sm"],
        "max_threads_per_block": m["max_threads_per_block"], "max_blocks_per_sm": m["max_blocks_per_sm"],
        "sram_bytes_per_sm": m["sram_bytes_per_sm"], "sram_bytes_per_cycle": m["sram_bytes_per_s"] / (sms * clock),
        "hbm_bytes": m["memory_bytes"], "hbm_bytes_per_s": float(m["copy_bytes_per_s"]),
        "hbm_latency_cycles": max(1, round(m["dependent_load_latency_s"] * clock)),
        "launch_overhead_s": float(m.get("launch_overhead_s", m["empty_launch_s"])),
    }
    notes = [
        f"Measured on {m['device']} (driver {m['driver']}) on {m['date']}"
        + (f" by `{m['command']}`" if m.get("command") else "") + ". Measured figures: "
        + ", ".join(f"{k} = {m[k]:g}" if isinstance(m[k], float) else f"{k} = {m[k]}" for k in REQUIRED
                    if k not in ("device", "driver", "date")) + ".",
        "Device attributes: sms, max_threads_per_sm, max_threads_per_block, max_blocks_per_sm, clock_hz, "
        "sram_bytes_per_sm (the profile has no per-block shared-memory field; per block: "
        f"{m['sram_bytes_per_block']} bytes), hbm_bytes = memory_bytes.",
        f"lanes_per_sm: {lanes_from}.",
        "sram_bytes_per_cycle: measured, sram_bytes_per_s / (sms x clock_hz), conflict-free "
        f"(with 32-way bank conflicts: {m['sram_conflict_bytes_per_s']:g} bytes/s).",
        "hbm_bytes_per_s: measured copy, bytes read + written. l2_bytes_per_s: measured (a working set that "
        "fits in L2, re-read): the bandwidth at which the model serves a launch's re-reads.",
        "hbm_latency_cycles: measured, dependent_load_latency_s x clock_hz (pointer chase).",
    ]
    if "launch_overhead_s" in m:
        notes.append("launch_overhead_s: fitted value given in the measurement file.")
    else:
        notes.append("launch_overhead_s: the measured empty launch, a lower bound (launches with arguments cost "
                     "more: on the h100 the fit found 55.7 us against 14.7 us empty).")
    fields["l2_bytes_per_s"] = float(m["l2_bytes_per_s"])
    if "l2_bytes" in m:
        fields["l2_bytes"] = int(m["l2_bytes"])
        notes.append("l2_bytes: given in the measurement file.")
    else:
        notes.append("l2_bytes: not measured, left out (0: the model's L2 reuse term is off): set it from the "
                     "datasheet to switch it on.")
    if "int_divide_per_s" in m:
        fields["int_divide_instructions"] = max(1.0, round(sms * lanes * clock / m["int_divide_per_s"], 1))
        notes.append(f"int_divide_instructions: derived, sms x lanes_per_sm x clock_hz / int_divide_per_s "
                     f"({m['int_divide_per_s']:g}): the lane-cycles one 64-bit // by a run-time divisor takes.")
    else:
        notes.append("int_divide_instructions: not measured, left out (0: an integer division costs what an add does).")
    for key in ("program_overhead_s", "hbm_dependent_latency_cycles"):
        if key in m:
            fields[key] = float(m[key])
            notes.append(f"{key}: fitted value given in the measurement file.")
        else:
            notes.append(f"{key}: not measured, left out (0): fit it with scripts/calibrate.py.")
    if m.get("simulated"):  # a measurement pramsim calibrate made on numba's CUDA simulator
        notes.insert(0, "SIMULATED: measured on numba's CUDA simulator; every figure times a Python simulation, "
                        "not a GPU.")
    source = " ".join(notes)
    lines = [f"# Written by `pramsim calibrate --from-json` from a measurement of {m['device']} on {m['date']}.",
             f"name = {json.dumps(name)}", 'kind = "gpu"',
             f"description = {json.dumps(m['device'] + ': measured by pramsim calibrate on ' + m['date'])}",
             f"source = {json.dumps(source)}"]
    lines += [f"{key} = {value!r}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def default_name(device: str) -> str:
    """A profile name from a device name: 'NVIDIA H200' -> 'nvidia-h200'."""
    return re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-") or "gpu"


def default_out(name: str) -> Path:
    """Where a profile goes without --out: NAME.toml in the user profile folder (created if
    missing), so that `--machine NAME` finds it and `pramsim machines` lists it."""
    return ensure_user_profile_dir() / f"{name}.toml"


def write_profile(measurement: Path, out: Path | None, name: str | None) -> tuple[Path, Any]:
    """Write the profile of `measurement` to `out` (default: default_out(NAME)); return the path and
    the MachineSpec it loads as. Nothing is written if the profile would not load."""
    m = load_measurement(measurement)
    name = name or default_name(m["device"])
    out = out or default_out(name)
    outfile.check_target(out, "--out")
    text = profile_text(m, name)
    spec = profile_from_text(text, out)  # a figure outside the sane ranges is an error here, before writing
    outfile.write_text(out, text)
    return out, spec
