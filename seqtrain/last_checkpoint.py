"""`last.ckpt`: one owner, always the newest state of the run.

Lightning's `ModelCheckpoint` has one trigger per instance (every N steps, or every validation,
or ...), and two instances writing the same `last.ckpt` interfere: the file then stops following
the run. This callback alone writes `last.ckpt`, at every point a run can be resumed from:

- every `every_n_train_steps` optimizer steps (a killed run loses little),
- after every mid-epoch validation (`val_check_interval` < 1), and at every epoch's end, after its validation and
  after early stopping and the best-model checkpoint have acted on it. Not when the epoch's own validation ends:
  Lightning resumes from a state saved there by skipping that validation, and then an early stopping checked at
  the epoch's end (every recipe's) found no `val/loss` and stopped the resumed run with an error;
- at the end of fit (a finished run's `last.ckpt` is its final state, so it can be extended),
- when the run is stopped by SIGTERM (what SLURM and most schedulers send); Lightning raises its
  `SIGTERMException` only between batches, so the state is a consistent one.

It is a `Checkpoint`, so Lightning runs it after the other callbacks (also after the best-model
`ModelCheckpoint`), and the state it saves includes what they updated at the same point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException


class LastCheckpoint(Checkpoint):
    """Writes ``<dirpath>/last.ckpt`` after every save trigger of a fit (see the module docstring)."""

    FILENAME = "last.ckpt"

    def __init__(self, dirpath: str, every_n_train_steps: int | None = 200) -> None:
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(f"every_n_train_steps must be >= 1 or None, got {every_n_train_steps}")
        self.dirpath = Path(dirpath)
        self.every_n_train_steps = every_n_train_steps
        self._saved_step = -1  # the global step of the last periodic save

    @property
    def path(self) -> Path:
        return self.dirpath / self.FILENAME

    def save(self, trainer: pl.Trainer) -> None:
        # Every rank calls this (Lightning builds the checkpoint on all of them; rank 0 writes it).
        trainer.save_checkpoint(self.path, weights_only=False)  # the whole state (False: not weights only)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        n = self.every_n_train_steps
        # Crossing a multiple of n, not landing on one: a batch may take several optimizer steps.
        if n is not None and trainer.global_step // n > max(self._saved_step, 0) // n:
            self._saved_step = trainer.global_step
            self.save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The epoch's last validation runs after its last batch: that state is saved at the epoch's end instead.
        if trainer.state.fn == "fit" and not trainer.sanity_checking and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The epoch is counted as processed here (not yet completed): Lightning resumes from this state at the next
        # epoch's start. A Checkpoint, this runs after early stopping and the best-model checkpoint have acted.
        self.save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit":
            self.save(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"saved_step": self._saved_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._saved_step = int(state_dict["saved_step"])
