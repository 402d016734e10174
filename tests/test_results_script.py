"""scripts/results.py runs each row's experiment, tabulates what its metrics.json says, and reports a failed run as failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # kept out of the default run's ~10 min; `pytest -m slow` runs it
def test_quick_table_holds_each_runs_metrics_and_a_failed_run(tmp_path: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "results.py"), "--quick", "--only", "vowels_bigru,sunspots_forecast,parity",
         "--set", "parity:model.hidden_size=0", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    # A failed run is a row, not a crash: every row runs and the tables are written; the exit status then says it.
    assert proc.returncode == 1 and "results.py: 1 row(s) did not complete: parity (failed)" in proc.stderr, proc.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "results.md").read_text()
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == ["vowels_bigru", "sunspots_forecast", "parity"]
    assert report["quick"] is True and report["machine"]["threads_per_run"] == 1

    # The numbers are the runs' own: read each metrics.json here, independently of the script.
    for name, metric, shown in [("vowels_bigru", "test/acc", "{:.4f} accuracy"), ("sunspots_forecast", "test/rmse", "{:.3f} RMSE")]:
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["status"] == "completed"
        row = rows[name]
        assert row["status"] == "completed" and row["metric"] == metric
        assert row["test"] == metrics["test"] and row["val"] == metrics["val"]
        assert row["seconds"] == metrics["seconds"]
        line = next(line for line in markdown.splitlines() if line.startswith(f"| `{name}` |"))
        assert shown.format(metrics["test"][metric]) in line
        assert row["baselines"] and all(len(b) == 3 for b in row["baselines"])
    window = yaml.safe_load((tmp_path / "sunspots_forecast" / "config.yaml").read_text())["data"]["window"]
    assert rows["sunspots_forecast"]["size"].endswith(f" / 312 / 626 windows of {window} months")  # the split the run used
    assert "17.33 RMSE" in markdown  # the AR(24) baseline from scripts/data_report.py

    failed = rows["parity"]
    assert failed["status"] == "failed" and not (tmp_path / "parity" / "metrics.json").exists()
    assert "model.hidden_size=0" in failed["error"] and failed["test"] == {}
    line = next(line for line in markdown.splitlines() if line.startswith("| `parity` |"))
    assert "**failed**" in line and "hidden_size" in line
