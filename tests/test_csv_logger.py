"""seqtrain's CSV logger keeps an earlier `metrics.csv` for a resumed run and never leaves a half-written one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from seqtrain.csv_logger import CSVLogger


def rows(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="") as f:
        return [(row["step"], row["loss"]) for row in csv.DictReader(f)]


def log(logger: CSVLogger, steps: range, value: float) -> None:
    for step in steps:
        logger.log_metrics({"loss": value + step}, step=step)
    logger.save()


def test_a_resumed_run_keeps_the_rows_before_its_first_step_and_drops_a_cut_row(tmp_path: Path) -> None:
    first = CSVLogger(tmp_path, name="csv", version="")
    log(first, range(0, 6), 0.0)
    metrics = tmp_path / "csv" / "metrics.csv"
    with open(metrics, "a") as f:
        f.write("6,10")  # a row a kill cut short: no newline
    # The resumed run restarts at step 4 (its checkpoint's) and logs a new column.
    resumed = CSVLogger(tmp_path, name="csv", version="")
    for step in range(4, 8):
        resumed.log_metrics({"loss": 100.0 + step, "val/acc": 0.5}, step=step)
    resumed.save()
    expected = [(str(s), str(float(s))) for s in range(4)] + [(str(s), str(100.0 + s)) for s in range(4, 8)]
    assert rows(metrics) == expected
    with open(metrics, newline="") as f:
        assert next(csv.reader(f)) == ["loss", "step", "val/acc"]


def test_a_fresh_run_in_the_same_directory_replaces_the_old_rows(tmp_path: Path) -> None:
    log(CSVLogger(tmp_path, name="csv", version=""), range(0, 5), 0.0)
    log(CSVLogger(tmp_path, name="csv", version=""), range(0, 2), 50.0)
    assert rows(tmp_path / "csv" / "metrics.csv") == [("0", "50.0"), ("1", "51.0")]


def test_a_failure_while_rewriting_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = CSVLogger(tmp_path, name="csv", version="")
    log(logger, range(0, 3), 0.0)
    metrics = tmp_path / "csv" / "metrics.csv"
    before = metrics.read_text()

    def killed(self, rows):  # noqa: ANN001 - the stop arrives in the middle of the rewrite
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    logger.log_metrics({"loss": 3.0, "val/acc": 0.5}, step=3)  # a new column: the whole file is rewritten
    with pytest.raises(KeyboardInterrupt):
        logger.save()
    assert metrics.read_text() == before
