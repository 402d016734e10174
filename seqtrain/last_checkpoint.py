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

A periodic save and an epoch's end are written one hook later than they are taken. Lightning logs a batch's step
metrics, and an epoch's means, after the callbacks' `on_train_batch_end` / `on_train_epoch_end`; a `last.ckpt` written
there and a kill before that logging lost those rows for good: the resumed run starts after them (an epoch's training
means were missing from `metrics.csv`). The state is taken at the hook, as before (`dump_checkpoint`: nothing it holds
changes before the next batch's step), and written at the next hook (the next batch's or epoch's start, a validation's
start), after the logging; the end of fit, a SIGTERM and a mid-epoch validation's end write at once, and any other
exception writes what is pending. A kill between the two leaves the save before: an older state, whole.
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
        self._pending: dict[str, Any] | None = None  # a state taken, to write once its point's metrics are logged

    @property
    def path(self) -> Path:
        return self.dirpath / self.FILENAME

    def save(self, trainer: pl.Trainer) -> None:
        """Write the state now (it supersedes one pending)."""
        self._pending = None
        # Every rank calls this (Lightning builds the checkpoint on all of them; rank 0 writes it).
        trainer.save_checkpoint(self.path, weights_only=False)  # the whole state (False: not weights only)

    def save_once_logged(self, trainer: pl.Trainer) -> None:
        """Take the state now; `write_pending` writes it at the next hook, after Lightning has logged this point."""
        self.write_pending(trainer)
        # What `Trainer.save_checkpoint` writes, built as it builds it (Lightning has no public call for the dict alone).
        self._pending = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)

    def write_pending(self, trainer: pl.Trainer) -> None:
        if self._pending is not None:
            checkpoint, self._pending = self._pending, None
            trainer.strategy.save_checkpoint(checkpoint, self.path)
            trainer.strategy.barrier("LastCheckpoint.write_pending")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self.write_pending(trainer)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write_pending(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write_pending(trainer)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        n = self.every_n_train_steps
        # Crossing a multiple of n, not landing on one: a batch may take several optimizer steps.
        if n is not None and trainer.global_step // n > max(self._saved_step, 0) // n:
            self._saved_step = trainer.global_step
            self.save_once_logged(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The epoch's last validation runs after its last batch: that state is saved at the epoch's end instead.
        if trainer.state.fn == "fit" and not trainer.sanity_checking and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The epoch is counted as processed here (not yet completed): Lightning resumes from this state at the next
        # epoch's start. A Checkpoint, this runs after early stopping and the best-model checkpoint have acted.
        self.save_once_logged(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit":
            self.save(trainer)
        else:
            self.write_pending(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"saved_step": self._saved_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._saved_step = int(state_dict["saved_step"])
