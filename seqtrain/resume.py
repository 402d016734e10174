"""Exact resume: a run killed mid-epoch continues as if nothing had happened.

Lightning restores weights, optimizer and loop counters, but not the random streams, and it
restarts a mid-epoch dataloader from the epoch's first batch. This callback saves both in every
checkpoint and puts them back: on restore it tells the datamodule how many batches of the epoch
were done, so the train loader it builds next skips them (its order is a function of seed and
epoch, so they are the same batches), and the random states come back just before the first
batch, after Lightning has built its iterators.
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
        self._pending_rng: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches_done": self.batches_done, "rng": capture_rng_state()}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("callbacks", {}).get(self.state_key)
        if state is None:
            return
        self._pending_rng = state["rng"]
        if 0 < state["batches_done"] < trainer.num_training_batches or (
            state["batches_done"] > 0 and trainer.num_training_batches == float("inf")
        ):
            # Mid-epoch: the train loader, built after this restore, must start where the run stopped.
            datamodule = trainer.datamodule
            if not hasattr(datamodule, "skip_train_batches"):
                raise RuntimeError(
                    f"cannot resume mid-epoch: {type(datamodule).__name__} has no skip_train_batches(n); "
                    "resume from an end-of-epoch checkpoint instead"
                )
            datamodule.skip_train_batches(state["batches_done"])
            self.epoch, self.batches_done = state["epoch"], state["batches_done"]

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch, self.batches_done = trainer.current_epoch, 0  # (Lightning skips this hook mid-epoch)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        # Restored here rather than at load time: by now Lightning has built its iterators.
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None

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
