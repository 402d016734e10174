"""Exact resume: a run killed mid-epoch continues as if nothing had happened.

Lightning restores weights, optimizer and loop counters, but not the random streams, and it
restarts a mid-epoch dataloader from the epoch's first batch. This callback saves both in every
checkpoint and puts them back: the train loader skips the batches the run had already done (the
datamodule's loaders are seeded per epoch, so the order is the same), and the random states are
restored just before the first batch, after Lightning has built its iterators.
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch


class ExactResume(pl.Callback):
    """Saves (epoch, batches done in it, random states) with each checkpoint; restores them on resume."""

    def __init__(self) -> None:
        self.epoch = 0
        self.batches_done = 0
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches_done": self.batches_done, "rng": capture_rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch, self.batches_done = trainer.current_epoch, 0
        pending = self._pending
        if pending is None or pending["epoch"] != trainer.current_epoch or pending["batches_done"] == 0:
            return
        loader = trainer.train_dataloader
        if not hasattr(loader, "skip_batches"):
            raise RuntimeError(
                f"cannot resume mid-epoch: the train dataloader ({type(loader).__name__}) has no skip_batches(n); "
                "resume from an end-of-epoch checkpoint instead"
            )
        loader.skip_batches(pending["batches_done"])  # applied to the iterator Lightning builds next
        self.batches_done = pending["batches_done"]

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._pending is not None:
            restore_rng_state(self._pending["rng"])
            self._pending = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_done += 1


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) random states, as tensors and plain data."""
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
