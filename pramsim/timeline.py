"""The simpy schedule as a Chrome / Perfetto trace (open it at ui.perfetto.dev or chrome://tracing).

Format: the Trace Event Format's JSON object ({"traceEvents": [...], ...}); timestamps (`ts`,
`dur`) are in microseconds, as the format defines them.

- GPU profiles: simulated time in µs (cycles / clock). Track "host" holds the program's own
  overhead and the issuing of each launch; track "device" holds the launches one after another
  (the model runs them in sequence on all SMs at once and keeps no per-SM timeline, so the device
  is one track, not one per SM).
- PRAM: one track "p processors" with each launch's stretches one after another. The PRAM has
  no clock: one step is drawn as one microsecond, and `otherData.time_unit` says so.

Either way the number of tracks is fixed (two, or one), whatever the number of launches.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import outfile
from .machine import Schedule

HOST_TID, DEVICE_TID = 0, 1


def chrome_trace(schedule: Schedule) -> dict[str, Any]:
    """The schedule as a Trace Event Format object (see the module docstring)."""
    gpu = schedule.time_s is not None  # only GPU profiles predict seconds
    events = [_meta("process_name", 0, f"pramsim on {schedule.machine.name}")]
    if gpu:
        events += [_meta("thread_name", HOST_TID, "host"), _sort(HOST_TID, 0),
                   _meta("thread_name", DEVICE_TID, f"device ({schedule.machine.sms} SMs)"), _sort(DEVICE_TID, 1)]
        events += _host_events(schedule) + _gpu_launch_events(schedule)
        other = {"time_unit": "µs of simulated time (cycles / clock)", "predicted_s": schedule.time_s,
                 "predicted_device_s": schedule.device_s, "predicted_host_s": schedule.host_s,
                 "cycles": schedule.steps}
    else:
        events += [_meta("thread_name", DEVICE_TID, f"{schedule.p:,} processors"), _sort(DEVICE_TID, 1)]
        events += _pram_events(schedule)
        other = {"time_unit": "PRAM steps: the PRAM has no clock, so one step is drawn as 1 µs", "T_p": schedule.steps}
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"machine": schedule.machine.name, "p": schedule.p, **other}}


def _meta(name: str, tid: int, value: str) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": 0, "tid": tid, "args": {"name": value}}


def _sort(tid: int, index: int) -> dict[str, Any]:
    return {"name": "thread_sort_index", "ph": "M", "pid": 0, "tid": tid, "args": {"sort_index": index}}


def _slice(name: str, cat: str, tid: int, start_us: float, dur_us: float, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "cat": cat, "ph": "X", "pid": 0, "tid": tid, "ts": start_us, "dur": max(dur_us, 0.0),
            "args": args}


def _host_events(schedule: Schedule) -> list[dict[str, Any]]:
    """The host's program overhead, then one slice per launch it issues (launch_overhead_s each)."""
    m = schedule.machine
    events = [_slice("program overhead", "host", HOST_TID, 0.0, m.program_overhead_s * 1e6, {})]
    for t in schedule.launch_times:
        events.append(_slice(f"issue {t.kernel}", "host", HOST_TID, t.issued_s * 1e6 - m.launch_overhead_s * 1e6,
                             m.launch_overhead_s * 1e6, {"launch": t.launch}))
    return events


def _gpu_launch_events(schedule: Schedule) -> list[dict[str, Any]]:
    """One slice per launch on the device track, at its predicted start and device time."""
    events = []
    for t, seg in zip(schedule.launch_times, schedule.segments):
        events.append(_slice(t.kernel, "launch", DEVICE_TID, t.start_s * 1e6, t.device_s * 1e6, {
            "launch": t.launch, "cycles": seg.end - seg.start, "busy_processor_steps": seg.busy,
            "utilisation": seg.busy / max(schedule.p * (seg.end - seg.start), 1),
            "host_wait_us": t.host_wait_s * 1e6}))
    return events


def _pram_events(schedule: Schedule) -> list[dict[str, Any]]:
    """Each stretch of each launch, in steps drawn as µs, on the processors' track."""
    return [_slice(s.kernel, "launch", DEVICE_TID, s.start, s.end - s.start, {
        "launch": s.launch, "start_steps": s.start, "end_steps": s.end, "busy_processor_steps": s.busy,
        "utilisation": s.busy / max(schedule.p * (s.end - s.start), 1)}) for s in schedule.segments]


def write_chrome_trace(schedule: Schedule, path: Path) -> Path:
    return outfile.write_text(path, json.dumps(chrome_trace(schedule)))
