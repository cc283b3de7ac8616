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

import numpy as np
import simpy

from ..cost import CostTrace
from .gpu import simulate_gpu
from .schedule import Schedule, Segment
from .spec import MachineSpec


def simulate(trace: CostTrace, machine: MachineSpec) -> Schedule:
    """The schedule of `trace` on `machine`: the PRAM model, or the GPU model (pramsim.machine.gpu)."""
    if machine.is_gpu:
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
