"""Test-time reports: written in the run directory and to wandb, and agreeing with the run's own test metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_train
from seqtrain.reports import TestReports

SHORT = ["debug=smoke", "trainer.accelerator=cpu", "model.hidden_size=16", "trainer.limit_test_batches=null",
         "trainer.limit_train_batches=5"]


def test_classification_report_agrees_with_the_test_metrics(tmp_path: Path) -> None:
    proc = run_train("data=parity", "data.seq_len=8", "model=gru", *SHORT, "logger=wandb", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = json.loads((tmp_path / "metrics.json").read_text())["test"]
    confusion = pd.read_csv(tmp_path / "reports" / "confusion_matrix.csv", index_col="actual")
    assert list(confusion.index) == ["even", "odd"] and list(confusion.columns) == ["even", "odd"]
    counts = confusion.to_numpy()
    assert counts.sum() == 500  # data.num_test: every test example, once
    assert counts.trace() / counts.sum() == pytest.approx(test["test/acc"], abs=1e-6)
    per_class = pd.read_csv(tmp_path / "reports" / "per_class.csv").set_index("class")
    for i, name in enumerate(["even", "odd"]):  # by hand from the confusion matrix
        precision = counts[i, i] / counts[:, i].sum() if counts[:, i].sum() else 0.0
        recall = counts[i, i] / counts[i].sum()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert per_class.loc[name, "precision"] == pytest.approx(precision, abs=1e-6)
        assert per_class.loc[name, "recall"] == pytest.approx(recall, abs=1e-6)
        assert per_class.loc[name, "f1"] == pytest.approx(f1, abs=1e-6)
        assert per_class.loc[name, "support"] == counts[i].sum()
    assert per_class["f1"].mean() == pytest.approx(test["test/f1"], abs=1e-6)  # macro F1
    assert (tmp_path / "reports" / "confusion_matrix.png").stat().st_size > 1000
    # Logged to the (offline) wandb run as an image and tables.
    run_files = next((tmp_path / "wandb").glob("offline-run-*")) / "files"
    assert list(run_files.glob("media/images/test/confusion_matrix*.png"))
    assert list(run_files.glob("media/table/test/per_class*.table.json"))


def test_forecast_report_covers_the_test_window(tmp_path: Path) -> None:
    proc = run_train("data=sunspots", "model=gru", *SHORT, "logger=none", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = json.loads((tmp_path / "metrics.json").read_text())["test"]
    pairs = pd.read_csv(tmp_path / "reports" / "predicted_vs_actual.csv")
    rmse = math.sqrt(((pairs["predicted_0"] - pairs["actual_0"]) ** 2).mean())
    assert rmse == pytest.approx(test["test/rmse"], rel=1e-4)  # in sunspot numbers, like the metric
    forecast = pd.read_csv(tmp_path / "reports" / "forecast.csv")
    # data.test_fraction=0.2 of 3126 months: test targets are months 2500..3125, one window each.
    assert forecast["step"].tolist() == list(range(2500, 3126))
    assert forecast["actual_sunspots"].min() >= 0
    for name in ("forecast.png", "predicted_vs_actual.png"):
        assert (tmp_path / "reports" / name).stat().st_size > 1000


def test_reports_touch_nothing_before_test_time() -> None:
    """Training speed: the callback implements test hooks only."""
    hooks = {name for name in vars(TestReports) if name.startswith("on_")}
    assert hooks == {"on_test_epoch_start", "on_test_batch_end", "on_test_epoch_end"}
