"""`last.ckpt`: one owner, always the newest state of the run.

Lightning's `ModelCheckpoint` has one trigger per instance (every N steps, or every validation,
or ...), and two instances writing the same `last.ckpt` interfere: the file then stops following
the run. This callback alone writes `last.ckpt`, at every point a run can be resumed from:

- every `every_n_train_steps` optimizer steps (a killed run loses little),
- after every validation during fit (the epoch end, and mid-epoch with `val_check_interval`), or, in a fit
  that runs no validation (`data.val_fraction=0`, `trainer.limit_val_batches=0`), at every epoch end,
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
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not sum(trainer.num_val_batches):  # no validation to save after: the epoch's end is the point instead
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
