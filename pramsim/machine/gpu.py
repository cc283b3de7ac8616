"""The GPU timing model: a trace's blocks on SMs, HBM as one shared bandwidth, in plain simpy.

Model (docs/machine-model.md says why each choice):

- Host and device: the host spends `program_overhead_s` (the host program's own work: zeros
  fills, events) and then `launch_overhead_s` to issue each launch; launches are asynchronous,
  so launch i starts on the device at max(when the host has issued it, when launch i-1 ends).
  Launches run one after another (a launch boundary is a global barrier).
- Occupancy: an SM holds blocks_per_sm = min(max_blocks_per_sm, max_threads_per_sm // block,
  sram_bytes_per_sm // sram_per_block) blocks. A block that needs more threads or SRAM than an SM
  has is a MachineError. The GPU's slots, sms * blocks_per_sm of them, are one simpy Container;
  blocks are dispatched in launch order onto free slots.
- Compute: a block's processors share its SM's lanes with the other resident blocks, as if the
  blocks in flight were spread evenly over the SMs (the hardware's block scheduler spreads them).
  A block dispatched while r blocks per SM are, or will still be, in flight gets
  min(block, lanes_per_sm / r) lanes and computes for max(block_depth, block_work / lanes) cycles.
- Shared memory: a block also computes for at least its shared-memory wavefronts (one warp-wide
  access takes as many as the most distinct words it touches in one bank: bank conflicts, counted
  by the executor) times the blocks per SM, at sram_bytes_per_cycle / 128 B per cycle per SM.
- Memory: every HBM transfer in flight shares one bandwidth equally (fluid processor sharing);
  a block's memory takes max(hbm_latency_cycles, accesses x hbm_dependent_latency_cycles, its
  bytes at its share of the bandwidth): one latency overlapped with the stream, as the many
  warps of a GPU do, but a thread's own accesses one after another (accesses = the block's HBM
  bytes / (ACCESS_BYTES x its threads), the HBM accesses per thread; the launch's
  class_depth["hbm"] when the trace has it). A block ends when both its compute and its memory
  are done (they overlap).
- L2 reuse: the bytes a launch reads beyond the size of the arrays it reads (read_arg_bytes) are
  re-reads, served by a second shared bandwidth, the L2's, when a wave's share of the footprint
  fits in the L2 (cached_fraction); writes all reach HBM. Without l2_bytes_per_s every byte is
  HBM traffic.
- Coalescing: a block's HBM traffic is max(its counted bytes, its warps' 32-byte sectors x 32)
  (transaction_bytes): a warp whose lanes touch scattered words moves whole sectors.
- Instruction weights: an integer // or % by a run-time divisor is int_divide_instructions
  lane-cycles of work, not one (a GPU has no integer divider; issue_factor), shared evenly over
  the launch's blocks.
- Critical-path latency: after its memory a block spends sync_cycles (shared-memory accesses,
  barrier rounds and dependent arithmetic on its longest chain, each at its latency) before it
  ends; resident blocks hide it only through the throughput terms (lanes, wavefronts, bandwidth).
- Aggregation: a cohort of identical consecutive blocks dispatched at one instant is one simpy
  process (identical blocks started together finish together under fair sharing), so a launch
  of identical blocks costs a few events per wave, not per block. A launch whose blocks differ
  so much that it fragments into more than MAX_COHORTS cohorts is redone wave by wave: each
  wave's blocks (sms * blocks_per_sm consecutive ones) become identical, with the wave's mean
  work and bytes and its maximum depth, which keeps W, bytes and D.

Brent's lower bound max(ceil(W/p), D) <= T_p holds by construction (p = sms * lanes_per_sm,
T_p = cycles): every block lasts at least its depth, and at every instant the lanes held by the
blocks in flight sum to at most p, so a launch of work W_i needs at least W_i / p cycles; each
launch's cycles are rounded up, and the launches add up.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import numpy as np
import simpy

from ..cost import BANK_BYTES, BANKS, SECTOR_BYTES, CostTrace, LaunchTrace
from ..errors import MachineError
from .schedule import LaunchTime, Schedule, Segment
from .spec import MachineSpec

MAX_COHORTS = 2000  # cohorts one launch may fragment into before it is redone wave by wave
ACCESS_BYTES = 4    # bytes per HBM access when counting a thread's accesses (fp32/int32 elements)
WAVEFRONT_BYTES = BANKS * BANK_BYTES  # what one shared-memory wavefront serves at most


@dataclass(frozen=True)
class Occupancy:
    """How a launch's blocks fit on an SM."""

    kernel: str
    threads_per_block: int
    sram_per_block_bytes: int
    blocks_per_sm: int
    limited_by: str          # "blocks" | "threads" | "sram": which limit sets blocks_per_sm
    blocks: int              # grid size
    slots: int               # sms * blocks_per_sm: blocks the GPU holds at once
    waves: int               # ceil(blocks / slots)
    occupancy: float         # resident threads / max_threads_per_sm


def occupancy(launch: LaunchTrace, machine: MachineSpec) -> Occupancy:
    """Blocks per SM for this launch, or a MachineError if one block does not fit on an SM."""
    machine.check_block_threads(launch.kernel, launch.block, launch.loc)
    if launch.block > machine.max_threads_per_sm:
        raise MachineError(
            f"kernel {launch.kernel!r} is launched with {launch.block:,} threads per block; an SM of "
            f"{machine.name} holds at most {machine.max_threads_per_sm:,}", loc=launch.loc,
            hint="launch with fewer threads per block: k[blocks, threads](...)")
    sram = launch.sram_per_block
    if sram > machine.sram_bytes_per_sm:
        arrays = getattr(launch, "sram_arrays", None)  # name -> bytes, if the executor records it
        which = (" (" + ", ".join(f"{name} {nbytes:,} bytes" for name, nbytes in arrays.items()) + ")"
                 if arrays else "")
        raise MachineError(
            f"kernel {launch.kernel!r} needs {sram:,} bytes of shared memory per block{which}; "
            f"an SM of {machine.name} has {machine.sram_bytes_per_sm:,}", loc=launch.loc,
            hint="use smaller tiles (shared arrays), or a machine with more shared memory per SM")
    limits = {"blocks": machine.max_blocks_per_sm, "threads": machine.max_threads_per_sm // launch.block}
    if sram > 0:
        limits["sram"] = machine.sram_bytes_per_sm // sram
    limited_by = min(limits, key=lambda k: (limits[k], k != "sram"))  # on a tie, name SRAM
    per_sm = limits[limited_by]
    slots = machine.sms * per_sm
    return Occupancy(kernel=launch.kernel, threads_per_block=launch.block, sram_per_block_bytes=sram,
                     blocks_per_sm=per_sm, limited_by=limited_by, blocks=launch.nblocks, slots=slots,
                     waves=-(-launch.nblocks // slots),
                     occupancy=per_sm * launch.block / machine.max_threads_per_sm)


class SharedBandwidth:
    """One bandwidth shared equally by every stream in flight (egalitarian processor sharing).

    `transfer(streams, nbytes)` starts `streams` identical streams of `nbytes` each and returns an
    event that fires when they are done. While n streams are in flight each moves rate / n bytes
    per cycle. Kept exact in O(log n) per change by a virtual clock: `served` is what one stream
    in flight since the beginning would have received; a stream ends when `served` reaches its
    start value plus its bytes.
    """

    def __init__(self, env: simpy.Environment, bytes_per_cycle: float):
        self.env = env
        self.rate = bytes_per_cycle
        self.served = 0.0
        self.active = 0
        self.last = 0.0
        self.heap: list[tuple[float, int, int, simpy.Event]] = []
        self.seq = 0
        self.generation = 0

    def transfer(self, streams: int, nbytes: float) -> simpy.Event:
        self._advance()
        done = self.env.event()
        heapq.heappush(self.heap, (self.served + nbytes, self.seq, streams, done))
        self.seq += 1
        self.active += streams
        self._schedule()
        return done

    def _advance(self) -> None:
        now = self.env.now
        if self.active:
            self.served += (now - self.last) * self.rate / self.active
        self.last = now

    def _schedule(self) -> None:
        self.generation += 1
        if not self.heap:
            return
        wait = max(0.0, (self.heap[0][0] - self.served) * self.active / self.rate)
        generation = self.generation
        self.env.timeout(wait).callbacks.append(lambda _: self._wake(generation))

    def _wake(self, generation: int) -> None:
        if generation != self.generation:  # superseded by a later start or end
            return
        self._advance()
        first = True
        while self.heap and (first or self.heap[0][0] <= self.served * (1 + 1e-12)):
            finish, _, streams, done = heapq.heappop(self.heap)
            self.served = max(self.served, finish)  # absorb round-off: the stream we woke for is done
            self.active -= streams
            done.succeed()
            first = False
        self._schedule()


def transaction_bytes(launch: LaunchTrace) -> np.ndarray:
    """Bytes each block's HBM accesses move: what the cost model counts, or more where a warp's
    accesses are scattered (uncoalesced), each sector a warp touches moving SECTOR_BYTES
    (LaunchTrace.block_hbm_sectors). A broadcast (lanes reading one word) is not credited below
    the counted bytes: the L1 serves it, but it still takes the load unit's cycles, which the bytes
    stand for. Older traces without sectors: the counted bytes (perfect coalescing)."""
    counted = np.asarray(launch.block_hbm_bytes, np.float64)
    sectors = getattr(launch, "block_hbm_sectors", None)
    if sectors is None:
        return counted
    return np.maximum(counted, np.asarray(sectors, np.float64) * SECTOR_BYTES)


def issue_factor(launch: LaunchTrace, machine: MachineSpec) -> float:
    """Lane-cycles a launch issues per unit of work: 1, but for integer divisions and remainders by
    a divisor known only at run time, which a GPU runs as a subroutine of int_divide_instructions
    instructions (it has no integer divider; a constant divisor becomes a multiply and shifts).
    The launch's divisions are taken to be spread over its blocks as its work is."""
    divides = getattr(launch, "runtime_divides", 0)
    if not divides or not machine.int_divide_instructions or not launch.work:
        return 1.0
    return 1.0 + (machine.int_divide_instructions - 1.0) * divides / launch.work


def cohort_kinds(launch: LaunchTrace, group: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run-length encoding of the launch's blocks in dispatch order: (counts, kinds).

    kinds[i] = (work, depth, HBM bytes, SRAM wavefronts, threads) of each of the counts[i] blocks
    of run i: the blocks the model cannot tell apart. SRAM wavefronts are the executor's count (bank
    conflicts included) or, for a trace without it, the conflict-free bytes / WAVEFRONT_BYTES.

    With `group`, consecutive blocks are first coarsened into groups of that many (mean work,
    mean bytes, max depth), which keeps the launch's work, bytes and depth.
    """
    n = launch.nblocks
    sram = getattr(launch, "block_sram_wavefronts", None)
    if sram is None and getattr(launch, "block_sram_bytes", None) is not None:
        sram = np.asarray(launch.block_sram_bytes, np.float64) / WAVEFRONT_BYTES
    threads = np.full(n, float(launch.block))
    threads[-1] = launch.nprocs - (n - 1) * launch.block   # a partial last block
    cols = [np.asarray(launch.block_work, np.float64), np.asarray(launch.block_depth, np.float64),
            transaction_bytes(launch),
            np.zeros(n) if sram is None else np.asarray(sram, np.float64), threads]
    table = np.stack([np.broadcast_to(c, (n,)) for c in cols], axis=1)
    if group:
        edges = np.append(np.arange(0, n, group), n)
        counts = np.diff(edges)
        sums = np.add.reduceat(table, edges[:-1], axis=0)
        depth = np.maximum.reduceat(table[:, 1], edges[:-1])
        table = np.repeat(sums / counts[:, None], counts, axis=0)
        table[:, 1] = np.repeat(depth, counts)
    starts = np.concatenate([[0], np.flatnonzero(np.any(table[1:] != table[:-1], axis=1)) + 1])
    return np.diff(np.append(starts, n)), table[starts]


class _TooFine(Exception):
    """A launch fragmented into more cohorts than MAX_COHORTS: redo it wave by wave."""


class _CountingEnvironment(simpy.Environment):
    """A simpy Environment that counts the events it processes (the model's cost)."""

    processed = 0

    def step(self) -> None:
        self.processed += 1
        super().step()


@dataclass
class _LaunchResult:
    kernel: str
    occupancy: Occupancy
    issued: float            # cycle at which the host has issued the launch
    start: float             # cycle the launch starts on the device (host overheads included)
    cycles: int
    cohorts: int
    events: int
    coarsened: bool


def simulate_gpu(trace: CostTrace, machine: MachineSpec) -> Schedule:
    """Schedule the trace's launches on a GPU profile: T_p in cycles, predicted seconds, details.

    The host spends `program_overhead_s`, then `launch_overhead_s` per launch to issue it; launch
    i starts on the device when it is issued and launch i-1 has ended (launches are asynchronous,
    and a launch boundary is a global barrier). HBM is idle between launches, so each launch is
    simulated on its own simpy clock (identical launches once). time_s is when the last launch
    ends: what CUDA events around the whole host program measure.
    """
    occupancies = [occupancy(launch, machine) for launch in trace.launches]  # errors before any run
    overhead_cycles = machine.launch_overhead_s * machine.clock_hz
    results: list[_LaunchResult] = []
    seen: dict[Any, tuple[float, int, int, bool]] = {}
    host = machine.program_overhead_s * machine.clock_hz  # cycle at which the host has issued the launch
    now = 0.0                                             # cycle at which the device is free
    for launch, occ in zip(trace.launches, occupancies):
        runs = cohort_kinds(launch)
        traffic = launch_traffic(launch, occ, machine) if machine.l2_bytes_per_s else (1.0, 0.0)
        issue = issue_factor(launch, machine)
        key = (occ, launch.block, runs[0].tobytes(), runs[1].tobytes(), launch.barriers,
               tuple(sorted((getattr(launch, "class_depth", None) or {}).items())), traffic, issue)
        if key not in seen:
            try:
                if len(runs[0]) > MAX_COHORTS:  # each run is at least one cohort
                    raise _TooFine
                seen[key] = (*simulate_launch(launch, occ, runs, machine, traffic, issue), False)
            except _TooFine:
                coarse = cohort_kinds(launch, group=occ.slots)
                seen[key] = (*simulate_launch(launch, occ, coarse, machine, traffic, issue, max_cohorts=None), True)
        makespan, cohorts, events, coarsened = seen[key]
        # Whole cycles; the clamp to Brent's lower bound only ever absorbs floating-point round-off.
        cycles = max(math.ceil(makespan - 1e-9), -(-launch.work // machine.p), launch.depth)
        host += overhead_cycles
        start = max(host, now)
        results.append(_LaunchResult(launch.kernel, occ, host, start, cycles, cohorts, events, coarsened))
        now = start + cycles
    steps = sum(r.cycles for r in results)
    time_s = max(now, host) / machine.clock_hz
    segments = [Segment(i, r.kernel, r.start, r.start + r.cycles, launch.work)
                for i, (r, launch) in enumerate(zip(results, trace.launches))]
    return Schedule(machine=machine, p=machine.p, steps=steps, time_s=time_s, segments=segments,
                    events=sum(r.events for r in results), details=_details(trace, machine, results, steps),
                    launch_times=_launch_times(results, machine.clock_hz))


def _launch_times(results: list[_LaunchResult], clock_hz: float) -> list[LaunchTime]:
    """The launches in seconds: when issued, when started, how long on the device, and the device's
    wait for the host before each (these waits add up to time_s - device_s)."""
    out = []
    end = 0.0
    for i, r in enumerate(results):
        out.append(LaunchTime(launch=i, kernel=r.kernel, issued_s=r.issued / clock_hz, start_s=r.start / clock_hz,
                              device_s=r.cycles / clock_hz, host_wait_s=(r.start - end) / clock_hz))
        end = r.start + r.cycles
    return out


def simulate_launch(launch: LaunchTrace, occ: Occupancy, runs: tuple[np.ndarray, np.ndarray], machine: MachineSpec,
                    traffic: tuple[float, float], issue: float,
                    max_cohorts: int | None = MAX_COHORTS) -> tuple[float, int, int]:
    """One launch on its own simpy clock: (cycles until its last block ends, cohorts, events).
    `traffic`: launch_traffic's (scale, cached); `issue`: issue_factor's lane-cycles per operation."""
    env = _CountingEnvironment()
    hbm = SharedBandwidth(env, machine.hbm_bytes_per_s / machine.clock_hz)
    l2 = SharedBandwidth(env, machine.l2_bytes_per_s / machine.clock_hz) if machine.l2_bytes_per_s else None
    scale, cached = traffic
    sync = sync_cycles(launch, machine)
    slots = simpy.Container(env, capacity=occ.slots, init=occ.slots)
    counter = {"cohorts": 0}

    def dispatch() -> Iterator[simpy.Event]:
        """Blocks in launch order onto free slots, as many at once as are free (a cohort)."""
        waiting = launch.nblocks
        procs = []
        for count, (work, depth, hbm_bytes, wavefronts, threads) in zip(runs[0].tolist(), runs[1].tolist()):
            left = count
            while left:
                taken = 0
                if slots.level == 0:
                    yield slots.get(1)
                    taken = 1
                    yield env.timeout(0)  # let the other blocks ending at this instant free their slots
                m = min(left, taken + slots.level)
                if m > taken:
                    yield slots.get(m - taken)
                in_flight = occ.slots - slots.level
                # Blocks per SM while this cohort runs: those in flight plus those still to come.
                per_sm = min(occ.blocks_per_sm, -(-(in_flight + waiting - m) // machine.sms))
                lanes = min(launch.block, machine.lanes_per_sm / per_sm)
                compute = max(depth, work * issue / lanes)
                if wavefronts:  # the SM's shared memory serves sram_bytes_per_cycle: one wavefront of 128 B
                    compute = max(compute, wavefronts * WAVEFRONT_BYTES * per_sm / machine.sram_bytes_per_cycle)
                # A thread's HBM accesses one after another, each waiting its latency.
                chain = dependent_accesses(launch, "hbm", hbm_bytes, threads) * machine.hbm_dependent_latency_cycles
                moved = hbm_bytes * scale
                streams = [(hbm, moved * (1 - cached))] + ([(l2, moved * cached)] if cached else [])
                procs.append(env.process(_cohort(env, slots, streams, m, compute,
                                                 max(machine.hbm_latency_cycles, chain), sync)))
                counter["cohorts"] += 1
                if max_cohorts is not None and counter["cohorts"] > max_cohorts:
                    raise _TooFine
                left -= m
                waiting -= m
        if procs:
            yield env.all_of(procs)

    env.process(dispatch())
    env.run()
    return env.now, counter["cohorts"], env.processed


def _cohort(env: simpy.Environment, slots: simpy.Container, streams: list[tuple[SharedBandwidth, float]], m: int,
            compute: float, latency: float, sync: float) -> Iterator[simpy.Event]:
    """m identical blocks: compute overlaps memory; the cohort ends when both are done.

    `streams`: (shared bandwidth, bytes per block) for HBM and, with a cache model, L2; they run
    side by side. `latency`: the least time the blocks' memory takes whatever the bandwidth (one
    HBM latency, or the chain of a thread's dependent accesses). `sync`: the latency of the blocks'
    shared-memory phases (barrier rounds, dependent shared accesses), which wait for the block's
    memory: a block that loads, then reduces in shared memory, cannot overlap the two."""
    start = env.now
    end = start + compute
    moving = [bw.transfer(m, nbytes) for bw, nbytes in streams if nbytes > 0]
    if moving:
        yield env.all_of(moving)
        end = max(end, start + latency)
    end = max(end, max(env.now, start + latency if moving else start) + sync)
    if end > env.now:
        yield env.timeout(end - env.now)
    yield slots.put(m)


def dependent_accesses(launch: LaunchTrace, level: str, block_bytes: float, threads: float) -> float:
    """A thread's accesses to `level` ("hbm" or "sram") on its critical path: the launch's longest
    chain of them when the trace has it (class_depth), else the block's bytes / (ACCESS_BYTES x its
    threads), the mean accesses per thread (older traces)."""
    depth = getattr(launch, "class_depth", None) or {}
    if level in depth:
        return float(depth[level])
    return block_bytes / (ACCESS_BYTES * threads) if threads else 0.0


def sync_cycles(launch: LaunchTrace, machine: MachineSpec) -> float:
    """Latency of a block's shared-memory phases on its critical path: each barrier round costs
    barrier_latency_cycles and each dependent shared access sram_latency_cycles. The other
    resident blocks hide it only through the throughput terms (a block lasts at least this long
    after its memory, whatever the occupancy): Hong & Kim's MWP/CWP view, with one block's latency
    exposed when too few warps are resident to cover it."""
    if not (machine.sram_latency_cycles or machine.barrier_latency_cycles or machine.alu_latency_cycles):
        return 0.0
    sram_bytes = getattr(launch, "block_sram_bytes", None)
    mean_sram = float(np.mean(sram_bytes)) if sram_bytes is not None and len(sram_bytes) else 0.0
    accesses = dependent_accesses(launch, "sram", mean_sram, float(launch.block))
    hbm = dependent_accesses(launch, "hbm", float(np.mean(launch.block_hbm_bytes)), float(launch.block))
    other = max(0.0, launch.depth - accesses - hbm)   # the rest of the critical path: arithmetic, index, logic
    return (accesses * machine.sram_latency_cycles + launch.barriers * machine.barrier_latency_cycles
            + other * machine.alu_latency_cycles)


def cached_fraction(launch: LaunchTrace, occ: Occupancy, machine: MachineSpec) -> float:
    """The share of a launch's HBM traffic that the L2 serves: its re-reads (launch_traffic)."""
    return launch_traffic(launch, occ, machine)[1]


def launch_traffic(launch: LaunchTrace, occ: Occupancy, machine: MachineSpec) -> tuple[float, float]:
    """(scale, cached): the launch's memory traffic is scale x its blocks' transaction_bytes, of
    which the share `cached` is re-reads served by the L2.

    A launch reads at most read_arg_bytes (the global arrays it loads from) once, from HBM, in whole
    sectors; the bytes it reads beyond that are data read again. Writes are not: a written line is
    written back to HBM (a read-modify-write launch moves its array twice). Re-reads are served at
    the L2's bandwidth, and at their counted bytes, not their sectors (a re-read sector's line is
    still in the L1 or L2 for the lanes that want its other words: attention_naive's K[j, x] over
    x), when the part of the footprint a wave of blocks works on (arg_bytes x slots / blocks) fits
    in the L2; else every sector is HBM traffic. The reads' share of the sectors is taken to be
    their share of the counted bytes. A reuse model, not a cache simulation: it assumes the
    re-reads fall while their data is cached, and charges L1 hits at the L2's bandwidth too."""
    footprint = getattr(launch, "arg_bytes", 0)
    counted = float(np.sum(launch.block_hbm_bytes))
    total = float(np.sum(transaction_bytes(launch)))
    if not footprint or total <= 0 or counted <= 0 or not machine.l2_bytes:
        return 1.0, 0.0
    if footprint * min(1.0, occ.slots / occ.blocks) > machine.l2_bytes:
        return 1.0, 0.0
    moved = getattr(launch, "bytes", None)
    if not moved:  # an older trace: reads and writes together, no sectors
        return 1.0, max(0.0, total - footprint) / total
    inflate = total / counted
    reads, writes = float(moved[("hbm", "read")]), float(moved[("hbm", "write")])
    read_footprint = getattr(launch, "read_arg_bytes", 0)
    compulsory = min(reads * inflate, read_footprint) + writes * inflate
    rereads = max(0.0, reads - read_footprint)
    traffic = compulsory + rereads
    return traffic / total, (rereads / traffic if traffic else 0.0)


def _details(trace: CostTrace, machine: MachineSpec, results: list[_LaunchResult], steps: int) -> dict[str, Any]:
    flops = trace.category("flop")
    hbm_bytes = trace.hbm_bytes
    ops_per_s = machine.p * machine.clock_hz  # one unit-cost operation per lane per cycle
    flop_s = flops / ops_per_s
    memory_s = hbm_bytes / machine.hbm_bytes_per_s
    work_s = trace.work / ops_per_s
    details: dict[str, Any] = {
        "cycles": steps,
        "roofline": {
            "flops": flops, "hbm_bytes": hbm_bytes,
            "arithmetic_intensity": flops / hbm_bytes if hbm_bytes else None,
            "ridge_point": ops_per_s / machine.hbm_bytes_per_s,
            "peak_ops_per_s": ops_per_s, "hbm_bytes_per_s": machine.hbm_bytes_per_s,
            "flop_s": flop_s, "memory_s": memory_s,
            "bound_s": max(flop_s, memory_s), "bound": "memory" if memory_s >= flop_s else "compute",
            # The model charges a lane-cycle for every operation, index arithmetic and loads too:
            "work_s": work_s, "model_bound": "memory" if memory_s >= work_s else "compute",
        },
        "gpu": {
            "launch_overhead_s": len(results) * machine.launch_overhead_s,
            "program_overhead_s": machine.program_overhead_s,
            "device_s": steps / machine.clock_hz,
            # Time the device sat idle waiting for the host to issue work (time_s - device_s).
            "host_wait_s": (results[-1].start + results[-1].cycles - steps) / machine.clock_hz if results else 0.0,
            "cohorts": sum(r.cohorts for r in results),
            "coarsened_launches": sum(r.coarsened for r in results),
            "kernels": _by_kernel(results, machine),
        },
    }
    if results:
        main = max(results, key=lambda r: r.cycles)  # the launch that takes longest speaks for the run
        details["occupancy"] = {k: v for k, v in asdict(main.occupancy).items()}
    else:
        details["occupancy"] = {"blocks_per_sm": 0, "sram_per_block_bytes": 0, "waves": 0}
    return details


def _by_kernel(results: list[_LaunchResult], machine: MachineSpec) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        k = out.setdefault(r.kernel, {"launches": 0, "cycles": 0, "blocks": 0, "waves": 0,
                                      "min_blocks_per_sm": r.occupancy.blocks_per_sm,
                                      "max_sram_per_block_bytes": 0})
        k["launches"] += 1
        k["cycles"] += r.cycles
        k["blocks"] += r.occupancy.blocks
        k["waves"] += r.occupancy.waves
        k["min_blocks_per_sm"] = min(k["min_blocks_per_sm"], r.occupancy.blocks_per_sm)
        k["max_sram_per_block_bytes"] = max(k["max_sram_per_block_bytes"], r.occupancy.sram_per_block_bytes)
    for k in out.values():
        k["seconds"] = k["cycles"] / machine.clock_hz + k["launches"] * machine.launch_overhead_s
    return out
