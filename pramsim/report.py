"""Reports: a RunResult or CheckResult as readable text, or as a JSON-able dict."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .cost import SECTOR_BYTES, WARP_LANES, CostTrace
from .machine import Schedule
from .runner import CheckResult, RunResult

_LEVEL_ORDER = {"hbm": 0, "sram": 1, "local": 2}


def _n(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _params(params: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def work_breakdown(trace: CostTrace) -> list[tuple[str, int, str]]:
    """(category, total, detail) rows: flop/int by operator, load/store by memory level."""
    rows = []
    labels = {"flop": "arithmetic (float)", "int": "index/int arithmetic", "load": "loads", "store": "stores",
              "atomic": "atomics", "shfl": "warp shuffles"}
    for cat in list(labels) + sorted({c for c, _ in trace.counts} - set(labels)):
        label = labels.get(cat, cat)
        items = sorted(((op, v) for (c, op), v in trace.counts.items() if c == cat),
                       key=lambda kv: (_LEVEL_ORDER.get(kv[0], 9), -kv[1]))
        if items:
            detail = ", ".join(f"{op} {_n(v)}" for op, v in items)
            rows.append((label, sum(v for _, v in items), detail))
    return rows


def run_text(r: RunResult) -> str:
    t = r.trace
    W, D, p, T = t.work, t.depth, r.p, r.schedule.steps
    lines = [
        f"pramsim run {r.program.name}  {_params(r.params)}  (seed {r.seed})",
        *([f"  {r.program.description}"] if r.program.description else []),
        f"machine   {r.machine.summary()}",
        *(["engine    compiled (lanes of a block run one after another between barriers)"]
          if r.engine == "compiled" else []),
        f"result    {r.comparison.message}" if r.comparison.correct is None else
        f"result    {'correct' if r.comparison.correct else 'INCORRECT'}: {r.comparison.message}",
        "",
        f"work W    {_n(W):>16} operations",
    ]
    for label, total, detail in work_breakdown(t):
        lines.append(f"  {label:<22}{_n(total):>12}   ({detail})")
    classes = ", ".join(f"{c} {v}" for c, v in t.depth_by_class.items() if v)
    lines += [
        f"depth D   {_n(D):>16} steps" + (f"   (longest chains by class: {classes})" if classes else ""),
        *(["  (each the longest chain of its class's operations alone; D's counts all operations: they need not sum to D)"]
          if classes else []),
        f"launches  {len(t.launches):>16}",
        f"memory    {_n(t.bytes[('hbm', 'read')] + t.bytes[('hbm', 'write')]):>16} bytes to/from HBM"
        f"   (peak allocated {_n(t.peak_hbm_bytes)} bytes)",
        # bank conflicts and coalescing: the GPU model's (a PRAM's memory is flat); JSON keeps them
        *(_shared_line(t) + _global_line(t) if r.machine.is_gpu else []),
        "",
        f"T_p       {_n(T):>16} {'steps' if r.brent.greedy else 'cycles'} on p = {p:,}   (simulated time of "
        + ("the greedy schedule on p processors)" if r.brent.greedy else "the blocks' schedule on the SMs)"),
        (f"Brent     max(W/p, D) = {_n(r.brent.lower)} <= T_p = {_n(T)} <= W/p + D = {_n(r.brent.upper)}   "
         f"{'holds' if r.brent.holds else 'VIOLATED'}") if r.brent.greedy else
        (f"Brent     max(W/p, D) = {_n(r.brent.lower)} <= T_p = {_n(T)} cycles   "
         f"{'holds' if r.brent.holds else 'VIOLATED'}   (W/p + D = {_n(r.brent.upper)} bounds greedy schedules only; "
         f"GPU blocks are bound to SMs)"),
        f"speedup   W/T_p = {r.speedup:,.2f}   efficiency W/(p T_p) = {r.efficiency:.1%}"
        f"   parallelism W/D = {W / max(D, 1):,.1f}",
    ]
    if r.schedule.time_s is not None:
        lines.append(predicted_line(r.schedule, r.machine.name))
    return "\n".join(lines)


def to_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON (what `--json` prints): NaN and infinities, which strict parsers refuse, are
    written as null, and each object that had some lists their paths in "non_finite" (an
    infinite max_rel_error, say, from a result with NaN in it). A list (sweep rows) is marked
    per element."""
    items = value if isinstance(value, list) else [value]
    marked = []
    for item in items:
        found: list[str] = []
        clean = _finite(item, "", found)
        if found and isinstance(clean, dict):
            clean["non_finite"] = found
        marked.append(clean)
    return json.dumps(marked if isinstance(value, list) else marked[0], allow_nan=False, **kwargs)


def _finite(value: Any, path: str, found: list[str]) -> Any:
    """`value` with every non-finite float replaced by None; their paths (a.b[2]) appended to found."""
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        found.append(path)
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def run_json(r: RunResult) -> dict[str, Any]:
    t = r.trace
    out: dict[str, Any] = {
        "program": r.program.name,
        "params": r.params,
        "seed": r.seed,
        "machine": r.machine.name,
        "engine": r.engine,
        "p": r.p,
        "correct": r.comparison.correct,
        "max_rel_error": r.comparison.max_rel_error,
        "message": r.comparison.message,
        "work": t.work,
        "work_by_category": {cat: t.category(cat) for cat in ("flop", "int", "load", "store")},
        "counts": {f"{c}.{op}": v for (c, op), v in sorted(t.counts.items())},
        "depth": t.depth,
        "depth_by_class": dict(t.depth_by_class),
        "launches": len(t.launches),
        "steps": r.schedule.steps,
        "brent": {"lower": r.brent.lower, "upper": r.brent.upper, "holds": r.brent.holds, "greedy": r.brent.greedy},
        "speedup": r.speedup,
        "efficiency": r.efficiency,
        "time_s": r.schedule.time_s,
        **predicted_json(r.schedule),
        "memory": {
            "hbm_read_bytes": t.bytes[("hbm", "read")], "hbm_write_bytes": t.bytes[("hbm", "write")],
            "sram_read_bytes": t.bytes[("sram", "read")], "sram_write_bytes": t.bytes[("sram", "write")],
            "peak_hbm_bytes": t.peak_hbm_bytes,
            "sram_per_block_bytes": max((launch.sram_per_block for launch in t.launches), default=0),
            "sram_wavefronts": sram_wavefronts(t),
            "hbm_sectors": hbm_sectors(t), "hbm_sector_efficiency": hbm_sector_efficiency(t),
        },
        "wall_s": r.wall_s,
    }
    out.update(r.schedule.details)
    return out


def predicted_line(s: Schedule, machine: str) -> str:
    """'predicted X µs on M = device Y µs + host Z µs': the total and its split (GPU profiles)."""
    return (f"predicted {s.time_s * 1e6:,.2f} µs on {machine} = device {s.device_s * 1e6:,.2f} µs "
            f"+ host {s.host_s * 1e6:,.2f} µs   (host: the device waiting for the host to issue work)")


def predicted_json(s: Schedule) -> dict[str, Any]:
    """predicted_s (the total, = time_s), its device and host parts, and each launch's device time
    (None and [] on the PRAM, which predicts no time)."""
    return {"predicted_s": s.time_s, "predicted_device_s": s.device_s, "predicted_host_s": s.host_s,
            "per_launch": [{"launch": t.launch, "kernel": t.kernel, "predicted_s": t.device_s, "start_s": t.start_s,
                            "host_wait_s": t.host_wait_s} for t in s.launch_times]}


def sram_wavefronts(t: CostTrace) -> int:
    """Shared-memory wavefronts of the whole trace (docs/cost-model.md, "Shared-memory wavefronts")."""
    return int(sum(int(np.sum(launch.block_sram_wavefronts)) for launch in t.launches
                   if launch.block_sram_wavefronts is not None))


def hbm_sectors(t: CostTrace) -> int:
    """Global-memory sectors of the whole trace (docs/cost-model.md, "Global-memory sectors (coalescing)")."""
    return int(sum(int(np.sum(launch.block_hbm_sectors)) for launch in t.launches
                   if launch.block_hbm_sectors is not None))


def hbm_sector_efficiency(t: CostTrace) -> float | None:
    """Coalescing efficiency: HBM bytes the accesses use / (sectors x SECTOR_BYTES); 1 = every byte
    of every sector served is used (None without sectors). Above 1 where lanes share words (a
    broadcast: 32 lanes' 4-byte reads of one word count 128 bytes, move one 32-byte sector), and
    an atomic's element counts twice in the bytes (read and written), once in the sectors."""
    sectors = hbm_sectors(t)
    return t.hbm_bytes / (sectors * SECTOR_BYTES) if sectors else None


def _global_line(t: CostTrace) -> list[str]:
    efficiency = hbm_sector_efficiency(t)
    if efficiency is None:
        return []
    if efficiency > 1:  # lanes reading one word share its sector (a broadcast): more bytes counted than moved
        how = f"{efficiency:.2f} bytes counted per byte moved: lanes share words"
    else:
        how = f"{efficiency:.1%} of their bytes used; 100% = fully coalesced"
    return [f"global    {_n(hbm_sectors(t)):>16} sectors of {SECTOR_BYTES} B   ({how})"]


def _shared_line(t: CostTrace) -> list[str]:
    accesses = t.counts[("load", "sram")] + t.counts[("store", "sram")]
    waves = sram_wavefronts(t)
    if not accesses or not waves:
        return []
    return [f"shared    {_n(accesses):>16} accesses in {_n(waves)} wavefronts   ({accesses / waves:.1f} lanes per "
            f"wavefront; {WARP_LANES} = full warps without bank conflicts)"]


def check_text(c: CheckResult) -> str:
    prog = c.program
    head = [f"pramsim check {prog.name}: sweep over {', '.join(c.varied) or 'one point'}, p in {list(c.ps)}"]
    if prog.work or prog.depth:
        head.append(f"  declared: W = Θ({prog.work or '?'}), D = Θ({prog.depth or '?'})"
                    + (f"; exact {prog.counts}" if prog.counts else "") + (f"; at most {prog.at_most}" if prog.at_most else ""))
    head += [f"  {pt.message}" for pt in c.points[:1] if pt.correct is None]  # --counts-only
    cols = list(c.varied) or list(prog.params)
    header = "  " + "".join(f"{k:>10}" for k in cols) + f"{'W':>14}{'D':>9}{'correct':>9}{'Brent(all p)':>14}  exact counts"
    rows = [header]
    for pt in c.points:
        brent_ok = all(b.holds for b in pt.brent.values())
        counts_ok = not [f for f in pt.failures if "declared" in f or "exceeds" in f]
        rows.append("  " + "".join(f"{pt.params[k]:>10}" for k in cols) + f"{pt.work:>14,}{pt.depth:>9,}"
                    f"{'-' if pt.correct is None else 'yes' if pt.correct else 'NO':>9}{'holds' if brent_ok else 'FAILS':>14}  "
                    f"{('ok' if counts_ok else 'FAIL') if pt.counters else '-'}")
    fits = []
    for label, fit in (("work", c.work_fit), ("depth", c.depth_fit)):
        if fit:
            fits.append(f"  {label}: {'PASS' if fit.holds else 'FAIL'} - {fit.reason}; "
                        f"fit {fit.declared.describe()}" + ("" if fit.best.form == fit.declared.form
                                                            else f"; best candidate Θ({fit.best.form})"))
    failures = [f"  - {p.params}: {f}" for p in c.points for f in p.failures]
    verdict = f"{'PASS' if c.passed else 'FAIL'}: {prog.name}"
    return "\n".join(head + [""] + rows + [""] + fits + (["", "failures:"] + failures if failures else []) + ["", verdict])


def check_json(c: CheckResult) -> dict[str, Any]:
    def fit_dict(f: Any) -> Any:
        if f is None:
            return None
        return {"declared": f.declared.form, "holds": f.holds, "reason": f.reason,
                "a": f.declared.a, "b": f.declared.b, "rms": f.declared.rms, "best": f.best.form}
    return {
        "program": c.program.name,
        "pass": c.passed,
        "ps": list(c.ps),
        "varied": c.varied,
        "work_fit": fit_dict(c.work_fit),
        "depth_fit": fit_dict(c.depth_fit),
        "points": [{"params": p.params, "work": p.work, "depth": p.depth, "correct": p.correct,
                    "counters": p.counters, "failures": p.failures,
                    "brent": {str(k): {"lower": b.lower, "upper": b.upper, "steps": b.steps, "holds": b.holds}
                              for k, b in p.brent.items()}} for p in c.points],
    }


def per_launch_table(entries: list[dict[str, Any]]) -> str:
    """`pramsim gpu`'s text report of each launch: measured and predicted device time in µs
    ('-' where there is none: the simulator measures nothing, a PRAM predicts nothing)."""
    def us(x: float | None) -> str:
        return "-" if x is None else f"{x * 1e6:,.2f}"
    lines = [f"{'launch':>6}  {'kernel':<24} {'measured µs':>12} {'predicted µs':>13}"]
    lines += [f"{e['launch']:>6}  {e['kernel']:<24} {us(e.get('measured_s')):>12} {us(e.get('predicted_s')):>13}"
              for e in entries]
    return "\n".join(lines)
