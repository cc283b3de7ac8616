"""Plots (matplotlib, PNG or SVG by the file's suffix) of sweep results.

- p varied: speedup W/T_p against p, with the band Brent's theorem allows and the ideal line.
- a size varied: work and depth against it on log axes, with the declared Θ forms fitted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import bounds, outfile
from .dsl import Program


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: Path) -> None:
    """Save `fig` whole or not at all (pramsim.outfile); the format is the file's suffix, as
    matplotlib reads it from a file name."""
    with outfile.atomic_open(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix[1:] or None, dpi=120)


def plot_sweep(rows: list[dict[str, Any]], program: Program, varied: list[str], path: Path) -> Path:
    plt = _pyplot()
    sizes = [v for v in varied if v != "p"]
    if not sizes and "p" in varied:
        fig = _speedup(plt, rows, program)
    elif sizes:
        fig = _work_depth(plt, rows, program, sizes[0])
    else:
        raise ValueError("nothing varies in this sweep: give a range such as n=64..4096 or p=1,2,4")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def _speedup(plt: Any, rows: list[dict[str, Any]], program: Program) -> Any:
    rows = sorted(rows, key=lambda r: r["p"])
    ps = [r["p"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    low = [r["work"] / r["brent_upper"] for r in rows]
    high = [r["work"] / r["brent_lower"] for r in rows]
    ax.fill_between(ps, low, high, alpha=0.25, label="Brent: W/(W/p+D) .. W/max(W/p,D)")
    ax.plot(ps, [r["speedup"] for r in rows], "o-", label="simulated W/T_p")
    ax.plot(ps, ps, ":", color="gray", label="ideal (p)")
    ax.axhline(rows[0]["work"] / rows[0]["depth"], ls="--", color="gray", lw=0.8, label="parallelism W/D")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("processors p")
    ax.set_ylabel("speedup W / T_p")
    params = ", ".join(f"{k}={rows[0][k]}" for k in program.params)
    ax.set_title(f"{program.name} ({params}): speedup and Brent's band")
    ax.legend(fontsize=8)
    return fig


def _work_depth(plt: Any, rows: list[dict[str, Any]], program: Program, size: str) -> Any:
    seen: dict[int, dict[str, Any]] = {}
    for r in rows:  # one row per size (work and depth do not depend on p)
        seen.setdefault(r[size], r)
    rows = [seen[k] for k in sorted(seen)]
    xs = [r[size] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, key, declared in ((axes[0], "work", program.work), (axes[1], "depth", program.depth)):
        ys = [r[key] for r in rows]
        ax.plot(xs, ys, "o", label=f"measured {key}")
        if declared and len(rows) >= 2:
            points = [{k: r[k] for k in program.params} for r in rows]
            f = bounds.fit_one(declared, points, ys)
            fitted = [f.a * bounds.evaluate(declared, p, theta=True) + f.b for p in points]
            ax.plot(xs, fitted, "-", label=f"{f.a:.3g}·{declared} {'+' if f.b >= 0 else '-'} {abs(f.b):.3g}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(size)
        ax.set_ylabel(key)
        ax.set_title(f"{program.name}: {key} vs {size}")
        ax.legend(fontsize=8)
    return fig


def plot_memory(rows: list[dict[str, Any]], program: Program, size: str, path: Path) -> Path:
    """HBM and SRAM traffic, peak HBM footprint and SRAM per block against a size, on log axes."""
    plt = _pyplot()
    seen: dict[int, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r[size], r)
    xs = sorted(seen)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(xs, [seen[x]["hbm_bytes"] for x in xs], "o-", label="HBM bytes moved (read + written)")
    ax.plot(xs, [seen[x]["peak_hbm_bytes"] for x in xs], "s-", label="peak HBM footprint (bytes)")
    if any(seen[x]["sram_bytes"] for x in xs):
        ax.plot(xs, [seen[x]["sram_bytes"] for x in xs], "^--", label="SRAM bytes moved (read + written)")
        ax.plot(xs, [seen[x]["sram_per_block_bytes"] for x in xs], "v:", label="SRAM per block (bytes)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(size)
    ax.set_ylabel("bytes")
    ax.set_title(f"{program.name}: memory traffic and footprint vs {size}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_gantt(schedule: Any, path: Path) -> Path:
    """The simpy schedule: one bar per stretch of each launch, shaded by processor utilisation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.35 * max(len({s.launch for s in schedule.segments}), 4) + 1.5))
    cmap = plt.get_cmap("viridis")
    for s in schedule.segments:
        util = s.busy / max(schedule.p * (s.end - s.start), 1)
        ax.barh(s.launch, s.end - s.start, left=s.start, color=cmap(util), edgecolor="none")
    kernels = {s.launch: s.kernel for s in schedule.segments}
    ax.set_yticks(list(kernels), [f"{i}: {k}" for i, k in kernels.items()], fontsize=7)
    ax.invert_yaxis()
    unit = "cycles" if schedule.machine.is_gpu else "steps"
    ax.set_xlabel(f"time ({unit})")
    ax.set_title(f"schedule on {schedule.machine.name}, p = {schedule.p:,}: T_p = {schedule.steps:,} {unit}")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, label="processor utilisation")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_roofline(points: list[tuple[str, float, float]], peak_ops_per_s: float, bytes_per_s: float,
                  path: Path, machine: str) -> Path:
    """Roofline: attainable op rate min(peak, intensity x bandwidth); points (label, intensity, ops/s)."""
    import numpy as np
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    xs = np.logspace(-3, 4, 200)
    ax.plot(xs, np.minimum(peak_ops_per_s, xs * bytes_per_s), "k-", lw=1.2, label=f"{machine} roofline")
    for label, intensity, rate in points:
        ax.plot(intensity, rate, "o")
        ax.annotate(label, (intensity, rate), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (flops per HBM byte)")
    ax.set_ylabel("predicted flop rate (flops/s)")
    ax.set_title(f"roofline on {machine}: programs at their predicted rates")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
