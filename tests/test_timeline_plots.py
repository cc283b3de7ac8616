"""Predicted time split into device and host (report, JSON, sweep CSV), the Chrome trace, the
Gantt chart and the roofline (issue 13, "What users expect of the tool").

References are independent of the code under test: the GPU model's per-launch figures by hand on
a toy profile (tests/test_gpu_model.py's helpers), the run's own JSON for the trace and the
charts, and counts of launches and kernels.
"""
import csv
import dataclasses
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim.cli import main
from pramsim.machine import load_machine
from pramsim.machine.gpu import simulate_gpu
from pramsim.plots import GANTT_MIN_BAR, gantt_figure, gantt_rows
from pramsim.programs import load_program
from pramsim.runner import run_program
from pramsim.timeline import chrome_trace

from test_gpu_model import launch_trace, trace_of  # the toy GPU fixture is in conftest.py

H100 = load_machine("h100")
BLOCK_SUM = str(Path(__file__).resolve().parents[1] / "programs" / "block_sum.py")


def cli(*args):
    r = CliRunner().invoke(main, list(args))
    return r


def run_json(*args):
    r = cli("run", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.fixture(scope="module")
def chunked78():
    """attention_chunked at n=39 on h100: 78 launches of two kernels, host-bound."""
    prog = load_program("attention_chunked")
    return run_program(prog, {**prog.params, "n": 39}, H100)


# ---------------------------------------------------------------- device and host time apart

def test_schedule_splits_device_and_host_time_by_hand(toy):
    # Host-bound: 1 µs (1000 cycles) to issue each launch. Launch 0 (30 cycles) is issued at 1000
    # and runs 1000..1030; launch 1 (1000 cycles) is issued at 2000 and runs 2000..3000.
    launches = (launch_trace(10, 32, 320, 10, sram=512), launch_trace(1, 32, 1000, 1000, kernel_name="slow"))
    s = simulate_gpu(trace_of(*launches), dataclasses.replace(toy, launch_overhead_s=1e-6))
    assert s.device_s == pytest.approx(1030e-9) and s.host_s == pytest.approx(1970e-9)
    assert s.device_s + s.host_s == pytest.approx(s.time_s)
    assert [t.kernel for t in s.launch_times] == ["k", "slow"]
    # pytest.approx compares flat sequences only (pytest 9 refuses nested ones): one row per launch
    times = [(t.issued_s, t.start_s, t.device_s, t.host_wait_s) for t in s.launch_times]
    assert times[0] == pytest.approx((1e-6, 1e-6, 30e-9, 1e-6))
    assert times[1] == pytest.approx((2e-6, 2e-6, 1e-6, 970e-9))
    # Device-bound: launch 1 is issued at 20 cycles but waits for launch 0 to end at 40: no host wait.
    s = simulate_gpu(trace_of(*launches), dataclasses.replace(toy, launch_overhead_s=10e-9))
    assert [t.host_wait_s for t in s.launch_times] == pytest.approx([10e-9, 0.0])
    assert s.host_s == pytest.approx(10e-9)
    # No launch: all of the time is the host's.
    s = simulate_gpu(trace_of(), dataclasses.replace(toy, program_overhead_s=5e-6))
    assert (s.device_s, s.host_s, s.launch_times) == (0.0, pytest.approx(5e-6), [])


def test_run_report_and_json_show_device_and_host_time():
    d = run_json(BLOCK_SUM, "n=4096", "--machine", "h100")
    assert d["predicted_s"] == d["time_s"]                                  # the total is unchanged
    assert d["predicted_device_s"] == pytest.approx(d["steps"] / H100.clock_hz)
    assert d["predicted_device_s"] + d["predicted_host_s"] == pytest.approx(d["predicted_s"])
    assert len(d["per_launch"]) == d["launches"] == 2
    assert [x["kernel"] for x in d["per_launch"]] == ["block_reduce", "block_reduce"]
    assert sum(x["predicted_s"] for x in d["per_launch"]) == pytest.approx(d["predicted_device_s"])
    assert sum(x["host_wait_s"] for x in d["per_launch"]) == pytest.approx(d["predicted_host_s"])
    text = cli("run", BLOCK_SUM, "n=4096", "--machine", "h100").output
    m = re.search(r"predicted ([\d,.]+) µs on h100 = device ([\d,.]+) µs \+ host ([\d,.]+) µs", text)
    assert m, text
    total, device, host = (float(g.replace(",", "")) for g in m.groups())
    assert (total, device, host) == pytest.approx(
        (d["predicted_s"] * 1e6, d["predicted_device_s"] * 1e6, d["predicted_host_s"] * 1e6), abs=0.006)


def test_pram_json_has_no_predicted_time():
    d = run_json("tree_sum", "n=64", "--p", "4")
    assert (d["predicted_s"], d["predicted_device_s"], d["predicted_host_s"], d["per_launch"]) == (None, None, None, [])


def test_sweep_csv_has_device_and_host_columns(tmp_path):
    out = tmp_path / "s.csv"
    r = cli("sweep", "vector_mul", "n=1024..4096", "--machine", "h100", "-j", "1", "--csv", str(out))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3
    assert r.output.split("\n")[0].split()[-3:] == ["time_s", "device_s", "host_s"]   # the printed table too
    for row in rows:
        single = run_json("vector_mul", f"n={row['n']}", "--machine", "h100")
        assert float(row["device_s"]) == pytest.approx(single["predicted_device_s"])
        assert float(row["device_s"]) + float(row["host_s"]) == pytest.approx(float(row["time_s"]))


# ---------------------------------------------------------------- roofline

def test_roofline_takes_sizes_and_places_programs_by_device_time(tmp_path, monkeypatch):
    import pramsim.plots
    seen = {}
    real = pramsim.plots.plot_roofline

    def capture(points, peak, bw, path, machine):
        seen["points"], seen["fig"] = points, pramsim.plots.roofline_figure(points, peak, bw, machine)
        return real(points, peak, bw, path, machine)

    monkeypatch.setattr(pramsim.plots, "plot_roofline", capture)
    r = cli("roofline", "vector_mul", "matmul_tiled", "n=256", "--plot", str(tmp_path / "r.png"))
    assert r.exit_code == 0, r.output
    for point in seen["points"]:
        assert point.params == {"n": 256}
        d = run_json(point.name, "n=256", "--machine", "h100")
        assert point.device_rate == pytest.approx(d["roofline"]["flops"] / d["predicted_device_s"])
        assert point.total_rate == pytest.approx(d["roofline"]["flops"] / d["predicted_s"])
    texts = " ".join(t.get_text() for t in seen["fig"].axes[0].texts)
    ridge = H100.p * H100.clock_hz / H100.hbm_bytes_per_s
    assert f"ridge point\n{ridge:,.2f} flop/B" in texts and "compute roof" in texts and "HBM roof: 2.33 TB/s" in texts
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_roofline_refuses_a_parameter_no_program_has(tmp_path):
    r = cli("roofline", "vector_mul", "tile=8", "--plot", str(tmp_path / "r.png"))
    assert r.exit_code == 2 and "no program listed has a parameter 'tile'" in r.output


# ---------------------------------------------------------------- Chrome trace

def _x_events(trace):
    events = trace["traceEvents"]
    for e in events:  # every event carries the fields the format requires for its phase
        assert {"name", "ph", "pid", "tid"} <= e.keys()
        if e["ph"] == "X":
            assert isinstance(e["ts"], float | int) and isinstance(e["dur"], float | int) and e["dur"] >= 0
    return [e for e in events if e["ph"] == "X"]


def test_gpu_trace_is_in_microseconds_on_two_tracks(chunked78, tmp_path):
    r = cli("run", "attention_chunked", "n=39", "--machine", "h100", "--json", "--trace", str(tmp_path / "t.json"))
    assert r.exit_code == 0
    d = json.loads(r.output.split("\nschedule trace written")[0])
    trace = json.loads((tmp_path / "t.json").read_text())   # valid JSON, Trace Event Format object
    xs = _x_events(trace)
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names == {0: "host", 1: "device (132 SMs)"}
    assert {e["tid"] for e in xs} == {0, 1}                  # 78 launches, two tracks
    device = [e for e in xs if e["tid"] == 1]
    host = [e for e in xs if e["tid"] == 0]
    assert len(device) == d["launches"] == 78 and len(host) == 78 + 1   # the program, then each issue
    assert max(e["ts"] + e["dur"] for e in xs) == pytest.approx(d["predicted_s"] * 1e6)
    assert sum(e["dur"] for e in device) == pytest.approx(d["predicted_device_s"] * 1e6)
    ends = [e["ts"] + e["dur"] for e in device]
    assert all(b["ts"] >= a_end - 1e-6 for a_end, b in zip(ends, device[1:]))   # one after another
    assert sum(e["dur"] for e in host) == pytest.approx((H100.program_overhead_s + 78 * H100.launch_overhead_s) * 1e6)


def test_pram_trace_is_one_track_of_steps_with_a_note():
    prog = load_program("tree_sum")
    r = run_program(prog, {"n": 1000}, load_machine("pram").with_processors(4))
    trace = chrome_trace(r.schedule)
    xs = _x_events(json.loads(json.dumps(trace)))
    assert {e["tid"] for e in xs} == {1} and len({e["args"]["launch"] for e in xs}) == 10
    assert sum(e["dur"] for e in xs) == r.schedule.steps
    assert "one step is drawn as 1 µs" in trace["otherData"]["time_unit"]


# ---------------------------------------------------------------- Gantt chart

def test_gantt_of_78_launches_has_few_artists_and_labelled_axes(chunked78):
    unit, rows = gantt_rows(chunked78.schedule)
    assert unit == "µs" and list(rows) == ["host", "chunk_summaries", "combine"]
    # Bars apart in time stay apart (no bar covers the device's wait for the host): device time kept.
    drawn = sum(b.end - b.start for name, bars in rows.items() if name != "host" for b in bars)
    assert drawn == pytest.approx(chunked78.schedule.device_s * 1e6)
    fig = gantt_figure(chunked78.schedule)
    ax = fig.axes[0]
    artists = len(ax.collections) + len(ax.patches) + len(ax.lines) + len(ax.texts)
    assert artists <= 2 * len(rows) + 2                      # a collection (and a boundary set) per row
    assert ax.get_xlabel() == "simulated time (µs)" and "host" in ax.get_yticklabels()[0].get_text()
    assert "78 launches" in ax.get_title()


def test_gantt_merges_tiny_back_to_back_bars_keeping_the_time():
    # tree_sum n=2^20 on 64 processors: 20 launches, the first 73,728 steps, the last ones 9 steps each.
    r = run_program(load_program("tree_sum"), {"n": 2**20}, load_machine("pram").with_processors(64))
    unit, rows = gantt_rows(r.schedule)
    bars = rows["add_pairs"]
    assert unit == "PRAM steps" and len(rows) == 1
    assert len(bars) < len(r.schedule.segments)
    assert sum(b.segments for b in bars) == len(r.schedule.segments)
    assert sum(b.end - b.start for b in bars) == pytest.approx(r.schedule.steps)   # back to back, nothing lost
    least = r.schedule.steps * GANTT_MIN_BAR
    assert all(b.end - b.start >= least for b in bars[:-1] if b.segments > 1)
