"""The simpy schedule as a Chrome / Perfetto trace (open it at ui.perfetto.dev or chrome://tracing).

One complete event ("ph": "X") per schedule segment. Time unit: one PRAM step (or GPU cycle) is
shown as one microsecond, since trace viewers only know time; `args` holds the true unit.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import outfile
from .machine import Schedule


def chrome_trace(schedule: Schedule) -> dict:
    unit = "cycles" if schedule.machine.is_gpu else "steps"
    events = [{"name": "process_name", "ph": "M", "pid": 0, "args": {"name": f"pramsim on {schedule.machine.name}"}}]
    for s in schedule.segments:
        events.append({
            "name": s.kernel, "cat": "launch", "ph": "X", "pid": 0, "tid": s.launch,
            "ts": s.start, "dur": max(s.end - s.start, 0),
            "args": {"launch": s.launch, f"start_{unit}": s.start, f"end_{unit}": s.end, "busy_processor_steps": s.busy,
                     "utilisation": s.busy / max(schedule.p * (s.end - s.start), 1)},
        })
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"machine": schedule.machine.name, "p": schedule.p, "T_p": schedule.steps, "unit": unit}}


def write_chrome_trace(schedule: Schedule, path: Path) -> Path:
    return outfile.write_text(path, json.dumps(chrome_trace(schedule)))
