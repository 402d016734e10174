"""A callback for the start-up figure, small so that importing it in a `train.py` run costs nothing.

    python train.py ... +callbacks.stamp._target_=benchmarks.stamp.FirstBatchStamp +callbacks.stamp.path=FILE
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl


class FirstBatchStamp(pl.Callback):
    """Writes the wall-clock time of the first training batch's start and end to `path` (for the start-up figure).

    Added to a real `python train.py` run by override: `+callbacks.stamp._target_=benchmarks.stamp.FirstBatchStamp`.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.fit_start: float | None = None
        self.start: float | None = None

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.fit_start = time.time()  # config checked, data loaded and encoded, model and Trainer built

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self.start is None:
            self.start = time.time()

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self.path.exists():
            self.path.write_text(json.dumps({"fit_start": self.fit_start, "start": self.start, "end": time.time()}))
