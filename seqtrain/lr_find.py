"""Lightning's learning-rate range test (`Tuner.lr_find`), switched on with `lr_find=true`."""

from __future__ import annotations

import functools
import logging
from typing import Any

from omegaconf import DictConfig

from seqtrain.config import ConfigError

log = logging.getLogger(__name__)


def check_lr_find(cfg: DictConfig) -> None:
    """The learning-rate range test steps the optimizer itself: it needs automatic optimization."""
    if cfg.lr_find and cfg.task.tbptt_steps is not None:
        raise ConfigError(
            f"lr_find=true cannot run with task.tbptt_steps={cfg.task.tbptt_steps} (truncated BPTT steps the "
            "optimizer itself); set lr_find=false or task.tbptt_steps=null"
        )


def find_learning_rate(trainer: Any, task: Any, datamodule: Any, configured: float, resuming: bool) -> dict[str, Any]:
    """Lightning's learning-rate range test; its suggestion replaces the optimizer's lr for this run."""
    from lightning.pytorch.tuner import Tuner

    if resuming:  # the checkpoint restores the optimizer, learning rate included
        log.info("lr_find: skipped, resuming from a checkpoint keeps its optimizer (lr %s)", configured)
        return {"configured": configured, "suggested": None, "used": configured}
    # The range test takes 100 steps whatever trainer.max_epochs says (a small dataset has few per epoch).
    max_epochs, trainer.fit_loop.max_epochs = trainer.fit_loop.max_epochs, -1
    try:
        finder = Tuner(trainer).lr_find(task, datamodule=datamodule, min_lr=1e-5, max_lr=1.0, num_training=100, update_attr=False)
    finally:
        trainer.fit_loop.max_epochs = max_epochs
    suggested = finder.suggestion() if finder is not None else None
    if suggested is None:
        log.info("lr_find: no suggestion (too few steps to judge); optimizer.lr stays %s", configured)
        return {"configured": configured, "suggested": None, "used": configured}
    task.optimizer_factory = functools.partial(task.optimizer_factory, lr=suggested)
    log.info("lr_find: optimizer.lr %s -> %.3g (Lightning's Tuner.lr_find suggestion)", configured, suggested)
    return {"configured": configured, "suggested": suggested, "used": suggested}
