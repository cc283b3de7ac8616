"""Plots (matplotlib, PNG or SVG by the file's suffix) of sweep results and schedules.

- p varied: speedup W/T_p against p, with the band Brent's theorem allows and the ideal line.
- a size varied: work and depth against it on log axes, with the declared Θ forms fitted.
- a schedule (`run --gantt`): a host row on GPU profiles, then one row per kernel.
- programs on a GPU profile's roofline (`roofline`), by predicted device time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bounds, outfile
from .errors import ParameterError
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


GANTT_MIN_BAR = 1 / 300   # of the time span: back-to-back bars narrower than this are drawn as one


@dataclass(frozen=True)
class GanttBar:
    """One drawn bar: [start, end) in the chart's unit, its utilisation, and how many segments it holds."""

    start: float
    end: float
    utilisation: float
    segments: int
    launch: int = -1         # the launch of its first segment (-1: the host row)
    last_launch: int = -1    # the launch of its last segment


def gantt_rows(schedule: Any) -> tuple[str, dict[str, list[GanttBar]]]:
    """The chart's unit and its rows: a "host" row on GPU profiles (its program overhead, then the
    launches being issued), then one row per kernel, launches one after another along it, with
    tiny back-to-back bars merged (so the bars drawn stay few whatever the launches)."""
    machine = schedule.machine
    if schedule.launch_times:      # GPU profile: microseconds, from the model's per-launch times
        unit, scale = "µs", 1e6 / machine.clock_hz
    else:
        unit, scale = "PRAM steps", 1.0
    rows: dict[str, list[GanttBar]] = {}
    if schedule.launch_times:
        issued = schedule.launch_times[-1].issued_s * 1e6
        program = machine.program_overhead_s * 1e6
        rows["host"] = [GanttBar(0.0, program, 0.0, 1), GanttBar(program, issued, 0.0, len(schedule.launch_times))]
    by_kernel: dict[str, list[GanttBar]] = {}
    for seg in schedule.segments:
        util = seg.busy / max(schedule.p * (seg.end - seg.start), 1)
        by_kernel.setdefault(seg.kernel, []).append(
            GanttBar(seg.start * scale, seg.end * scale, util, 1, seg.launch, seg.launch))
    span = max([b.end for bars in (*rows.values(), *by_kernel.values()) for b in bars], default=1.0)
    for kernel, bars in by_kernel.items():
        rows[kernel] = _merge_tiny(bars, span * GANTT_MIN_BAR)
    return unit, rows


def _merge_tiny(bars: list[GanttBar], least: float) -> list[GanttBar]:
    """Merge runs of back-to-back bars (no gap wider than `least` / 10) until each is `least` wide;
    the merged bar's utilisation is the duration-weighted mean. Bars apart stay apart."""
    out: list[GanttBar] = []
    for bar in bars:
        last = out[-1] if out else None
        if last and last.end - last.start < least and bar.start - last.end <= least / 10:
            width = (last.end - last.start) + (bar.end - bar.start)
            util = ((last.end - last.start) * last.utilisation + (bar.end - bar.start) * bar.utilisation) / max(width, 1e-300)
            out[-1] = GanttBar(last.start, bar.end, util, last.segments + bar.segments, last.launch, bar.last_launch)
        else:
            out.append(bar)
    return out


def gantt_figure(schedule: Any) -> Any:
    """The schedule chart as a matplotlib figure: one broken_barh per row, shaded by utilisation."""
    plt = _pyplot()
    unit, rows = gantt_rows(schedule)
    names = list(rows)
    fig, ax = plt.subplots(figsize=(9, max(0.45 * len(names) + 2.2, 3.4)))
    cmap = plt.get_cmap("viridis")
    for y, name in enumerate(names):
        bars = rows[name]
        colors = ["0.55" if name == "host" else cmap(b.utilisation) for b in bars]
        if name == "host":
            colors[0] = "0.35"  # the program's own overhead, before the first launch is issued
        ax.broken_barh([(b.start, b.end - b.start) for b in bars], (y - 0.4, 0.8), facecolors=colors,
                       edgecolors=colors, linewidth=0.6)  # the edge keeps sub-pixel bars visible
        # Where one launch follows another back to back, a white line shows the boundary.
        edges = [b.start for a, b in zip(bars, bars[1:]) if b.start - a.end <= 0 and b.launch != a.last_launch]
        if edges:
            ax.vlines(edges, y - 0.4, y + 0.4, colors="white", linewidth=0.5)
    if "host" in rows:
        _label_host_row(ax, rows["host"], schedule, names.index("host"))
    ax.set_yticks(range(len(names)), ["host (overhead,\nissuing launches)" if n == "host" else n for n in names],
                  fontsize=8)
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.set_xlim(0, None)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("host / kernel")
    ax.set_title(_gantt_title(schedule, unit), fontsize=9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, label="utilisation W / (p · time)", pad=0.02)
    merged = sum(b.segments > 1 for n in names if n != "host" for b in rows[n])
    if merged:
        fig.text(0.01, 0.01, f"back-to-back bars under {GANTT_MIN_BAR:.1%} of the time span are drawn merged "
                             f"({merged} merged bars; shade: their mean utilisation)", fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.04 if merged else 0, 1, 1))
    return fig


def _label_host_row(ax: Any, bars: list[GanttBar], schedule: Any, y: int) -> None:
    """Write what each host bar is inside it, where it is wide enough to hold the words."""
    span = ax.get_xlim()[1] if ax.get_xlim()[1] > 0 else 1.0
    launches = len(schedule.launch_times)
    texts = (f"program {bars[0].end:,.0f} µs",
             f"issuing {launches} launch{'es' if launches != 1 else ''} × {schedule.machine.launch_overhead_s * 1e6:,.1f} µs")
    for bar, text in zip(bars, texts):
        if bar.end - bar.start > 0.12 * span:
            ax.text((bar.start + bar.end) / 2, y, text, ha="center", va="center", fontsize=7, color="white")


def _gantt_title(schedule: Any, unit: str) -> str:
    launches = len({s.launch for s in schedule.segments})
    head = f"schedule on {schedule.machine.name}, p = {schedule.p:,}, {launches} launches: "
    if schedule.time_s is None:
        return head + f"T_p = {schedule.steps:,} steps"
    return head + (f"predicted {schedule.time_s * 1e6:,.1f} µs = device {schedule.device_s * 1e6:,.1f} µs "
                   f"+ host {schedule.host_s * 1e6:,.1f} µs")


def plot_gantt(schedule: Any, path: Path) -> Path:
    """The simulated schedule: a host row (GPU profiles), one row per kernel; see gantt_figure."""
    plt = _pyplot()
    fig = gantt_figure(schedule)
    _save(fig, path)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class RooflinePoint:
    """A program on the roofline: its flops and HBM intensity, its predicted device and total time."""

    name: str
    params: dict[str, int]     # the parameters given (shown in the label)
    intensity: float           # flops per HBM byte
    flops: float
    device_s: float            # predicted device time: what the roofline bounds
    total_s: float             # with the host overhead the device waits for

    @property
    def label(self) -> str:
        return " ".join([self.name, *(f"{k}={v}" for k, v in self.params.items())])

    @property
    def device_rate(self) -> float:
        return self.flops / self.device_s

    @property
    def total_rate(self) -> float:
        return self.flops / self.total_s


def plot_roofline(points: list[RooflinePoint], peak_ops_per_s: float, bytes_per_s: float,
                  path: Path, machine: str) -> Path:
    """Write roofline_figure to `path` (.png, .svg or .pdf)."""
    plt = _pyplot()
    fig = roofline_figure(points, peak_ops_per_s, bytes_per_s, machine)
    _save(fig, path)
    plt.close(fig)
    return path


def roofline_figure(points: list[RooflinePoint], peak_ops_per_s: float, bytes_per_s: float, machine: str) -> Any:
    """Roofline min(peak, intensity x bandwidth) with its two roofs and the ridge point labelled;
    each program at flops / predicted device time (filled), and, hollow, at flops / total time."""
    import numpy as np
    plt = _pyplot()
    ridge = peak_ops_per_s / bytes_per_s
    xs_all = [ridge] + [p.intensity for p in points]
    lo, hi = min(xs_all) / 30, max(xs_all) * 30
    fig, ax = plt.subplots(figsize=(7.6, 5.0))
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min([peak_ops_per_s / 1e4] + [p.total_rate / 3 for p in points]), peak_ops_per_s * 4)
    ax.plot(xs, np.minimum(peak_ops_per_s, xs * bytes_per_s), "k-", lw=1.4)
    ax.axvline(ridge, color="0.5", ls=":", lw=1)
    ax.plot([ridge], [peak_ops_per_s], "kD", ms=5)
    ax.annotate(f"ridge point\n{ridge:,.2f} flop/B", (ridge, peak_ops_per_s), xytext=(6, -28),
                textcoords="offset points", fontsize=8)
    ax.annotate(f"compute roof: {peak_ops_per_s / 1e12:,.1f} Top/s (p · clock)", (hi, peak_ops_per_s), xytext=(-4, 5),
                textcoords="offset points", ha="right", fontsize=8)
    colors = plt.get_cmap("tab10")
    for i, p in enumerate(points):
        c = colors(i % 10)
        ax.plot([p.intensity, p.intensity], [p.total_rate, p.device_rate], "-", color=c, lw=0.8, alpha=0.6)
        ax.plot(p.intensity, p.total_rate, "o", mfc="none", color=c, ms=5)
        ax.plot(p.intensity, p.device_rate, "o", color=c, ms=6, label=p.label)
    ax.plot([], [], "ko", ms=6, label="predicted device time")
    ax.plot([], [], "ko", mfc="none", ms=5, label="with host overhead")
    ax.set_xlabel("arithmetic intensity (flops per HBM byte)")
    ax.set_ylabel("flop rate (flops/s): flops / predicted time")
    ax.set_title(f"roofline of {machine}: programs placed by predicted device time", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()  # before the slope is measured: the layout changes the axes' aspect
    x_bw = lo * 3
    ax.annotate(f"HBM roof: {bytes_per_s / 1e12:,.2f} TB/s", (x_bw, x_bw * bytes_per_s), xytext=(0, 4),
                textcoords="offset points", fontsize=8, rotation=_slope_angle(ax, fig), rotation_mode="anchor",
                va="bottom")
    return fig


def _slope_angle(ax: Any, fig: Any) -> float:
    """Screen angle (degrees) of a slope-1 line on log-log axes, for the bandwidth roof's label."""
    import math
    fig.canvas.draw()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_window_extent()
    dx = bbox.width / math.log10(x1 / x0)
    dy = bbox.height / math.log10(y1 / y0)
    return math.degrees(math.atan2(dy, dx))


def sizes_to_plot(names: list[str], points: list[dict[str, Any]], plot_kind: str) -> list[str]:
    """The swept sizes (axes other than p that take several values); a usage error when the sweep's
    --plot of `plot_kind` would have nothing to draw."""
    varied = [n for n in names if len({str(point[n]) for point in points}) > 1]
    sizes = [n for n in varied if n != "p"]
    if plot_kind == "memory" and not sizes:
        raise ParameterError("--plot-kind memory draws traffic and footprint against a size: this sweep varies none",
                             hint="give a size range, e.g. n=64..1024, or leave out --plot-kind")
    if not varied:
        raise ParameterError("--plot: nothing varies in this sweep", hint="give a range such as n=64..4096 or p=1,2,4")
    return sizes
