"""The simpy models: schedule a program's executed work on a machine and measure T_p.

PRAM (`simulate_pram`): p processors shared by the whole launch. Launches run one after another
(a launch boundary is a global barrier). Within a launch the scheduler is Brent's greedy
level-by-level schedule: the operations at step t of the launch (the parallelism profile, every
one of which depends only on earlier steps) are spread over the p processors, taking
ceil(m_t / p) steps. Hence max(W/p, D) <= T_p <= W/p + D holds for a correct trace, and the
runner checks it. Blocks are deliberately not bound to processors here: binding a block to one
processor is not greedy, and a 256-lane block on one processor would break Brent's upper bound.
Consecutive steps that fit in p processors (one step each) are merged into one simpy timeout, so
the event count is the number of such runs, not T_p.

GPU (`simulate_gpu`, pramsim.machine.gpu): blocks as processes on SMs as resources; see there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from ..cost import CostTrace
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


def simulate(trace: CostTrace, machine: MachineSpec) -> Schedule:
    if machine.is_gpu:
        from .gpu import simulate_gpu
        return simulate_gpu(trace, machine)
    return simulate_pram(trace, machine.p, machine)


def simulate_pram(trace: CostTrace, p: int, machine: MachineSpec) -> Schedule:
    env = simpy.Environment()
    segments: list[Segment] = []
    counter = {"events": 0}

    def run_launch(index: int, profile: np.ndarray, kernel: str):
        steps = -(-profile // p)  # ceil(m_t / p)
        # Runs of one-step levels are merged; a level wider than p is its own timeout.
        wide = steps > 1
        boundaries = np.flatnonzero(np.diff(wide.astype(np.int8))) + 1
        for chunk_steps, chunk_work in zip(np.split(steps, boundaries), np.split(profile, boundaries)):
            start = env.now
            counter["events"] += 1
            yield env.timeout(int(chunk_steps.sum()))
            segments.append(Segment(index, kernel, start, env.now, int(chunk_work.sum())))

    def host():
        for i, launch in enumerate(trace.launches):
            if launch.profile.size:
                yield env.process(run_launch(i, launch.profile, launch.kernel))

    env.process(host())
    env.run()
    return Schedule(machine=machine, p=p, steps=int(env.now), segments=segments, events=counter["events"])


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
