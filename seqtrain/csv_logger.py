"""Lightning's `CSVLogger`, safe to resume into and to kill.

Lightning 2.6's writer does two things a resumable run cannot afford:
- it deletes `metrics.csv` when it finds one, so `ckpt_path=last` into the same run directory lost
  every row logged before the stop;
- it rewrites the file in place (truncate, then write) whenever a column appears, which happens at the
  first validation and at each epoch's end: a kill at that moment left an empty file.

Here a `metrics.csv` found at start is kept. At the first save, its rows from the steps the resumed run
logs again (step >= the first step it logs) are dropped, so the file reads as one run, and a row the
stop cut short is dropped too. Every rewrite goes to a temporary file that replaces the old one.
A fresh run in the same directory logs from step 0 and so replaces the old rows, as Lightning's does.
"""

from __future__ import annotations

import csv
from typing import Any

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class CSVLogger(LightningCSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment


class _KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Read an earlier `metrics.csv` instead of deleting it (Lightning's deletes it here)."""
        self._earlier: list[dict[str, Any]] | None = None
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            text = file.read()
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # a row the stop cut short
        reader = csv.DictReader(lines)
        self._earlier = list(reader)
        self.metrics_keys = sorted(reader.fieldnames or [])

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        if self._earlier is not None:
            first = min(int(row["step"]) for row in self.metrics)
            kept = [row for row in self._earlier if (step := _step(row)) is not None and step < first]
            self._earlier = None
            self._write(kept + self.metrics)
        elif new_keys and self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self._write([*csv.DictReader(file), *self.metrics])
        else:
            exists = self._fs.isfile(self.metrics_file_path)
            with self._fs.open(self.metrics_file_path, "a" if exists else "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                if not exists:
                    writer.writeheader()
                writer.writerows(self.metrics)
        self.metrics = []

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Write the whole file beside the old one, then replace it: a kill leaves the old or the new file."""
        partial = self.metrics_file_path + ".partial"
        with self._fs.open(partial, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)
        self._fs.mv(partial, self.metrics_file_path)


def _step(row: dict[str, Any]) -> int | None:
    try:
        return int(float(row["step"]))
    except (KeyError, TypeError, ValueError):
        return None
