"""pramsim validate --small: the pipeline (predict on h100, run lowered kernels, table) end to end."""
import json
import subprocess
import sys


def test_validate_small_writes_tables(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pramsim.cli", "validate", "--small", "--repeat", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, env={**__import__("os").environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "validation.json").read_text())
    assert data["simulated"] is True and data["profile"] == "h100"
    rows = {row["program"]: row for row in data["rows"]}
    assert set(rows) == {"vector_mul", "tree_sum", "matmul_tiled"}
    for row in rows.values():
        assert row["correct"] is True and row["predicted_s"] > 0 and row["measured_s"] > 0
    assert "numba CUDA simulator" in (tmp_path / "validation.md").read_text()
