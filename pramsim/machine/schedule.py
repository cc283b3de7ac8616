"""What the machine models produce: a schedule (T_p, predicted time and its split, segments) and
Brent's bounds on it. Its own module so that the PRAM model (sim.py) and the GPU model (gpu.py)
share the types without importing each other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spec import MachineSpec


@dataclass
class Segment:
    """A stretch of the schedule: launch `launch` kept `busy` processor-steps busy in [start, end)."""

    launch: int
    kernel: str
    start: float
    end: float
    busy: int


@dataclass(frozen=True)
class LaunchTime:
    """One launch on a GPU profile, in seconds from the start of the host program.

    `issued_s`: when the host has issued it (its program and launch overheads, and those of the
    launches before it); `start_s`: when it starts on the device, max(issued_s, the previous
    launch's end); `device_s`: how long it runs there; `host_wait_s`: how long the device sat idle
    before it, waiting for the host (start_s minus the previous launch's end, or minus 0)."""

    launch: int
    kernel: str
    issued_s: float
    start_s: float
    device_s: float
    host_wait_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.device_s


@dataclass
class Schedule:
    machine: MachineSpec
    p: int
    steps: int                          # T_p (PRAM steps, or GPU cycles turned into lane-steps)
    time_s: float | None = None         # predicted seconds (GPU profiles)
    segments: list[Segment] = field(default_factory=list)
    events: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    launch_times: list[LaunchTime] = field(default_factory=list)  # GPU profiles: one per launch, in order

    @property
    def device_s(self) -> float | None:
        """Predicted seconds the device computes (T_p cycles / clock); None on the PRAM."""
        return None if self.time_s is None else self.steps / self.machine.clock_hz

    @property
    def host_s(self) -> float | None:
        """Predicted seconds of host overhead not hidden behind the device: time_s - device_s, the
        time the device waits for the host to issue work. None on the PRAM."""
        return None if self.time_s is None else self.time_s - self.steps / self.machine.clock_hz


@dataclass(frozen=True)
class Brent:
    """Brent's bounds for T_p. `greedy` says whether the upper bound applies: it holds for greedy
    schedules (the PRAM's), not for a GPU whose blocks are bound to SMs, where only the lower
    bound max(W/p, D) <= T_p is a theorem."""

    lower: float
    upper: float
    steps: int
    holds: bool
    greedy: bool = True

    @staticmethod
    def check(work: int, depth: int, p: int, steps: int, greedy: bool = True) -> "Brent":
        lower = max(-(-work // p), depth)
        upper = work / p + depth
        holds = lower <= steps <= upper if greedy else lower <= steps
        return Brent(lower=lower, upper=upper, steps=steps, holds=holds, greedy=greedy)
