"""The weights averaged over the ends of the last epochs (Lightning's `WeightAveraging`, updated once an epoch).

`callbacks.weight_average` (configs/callbacks/weight_average.yaml): the mean of the weights at the ends of epochs
`start * max_epochs` and later (stochastic weight averaging over the tail of a schedule), or their exponential
moving average with `decay`. Once the first epoch is averaged, validation, every saved checkpoint's `state_dict` (so
the best and last checkpoints, evaluation, prediction and export) and the end of training use the averaged weights;
the weights being trained and the average's state are saved beside them, so `ckpt_path=last` resumes both.

Three things differ from Lightning's callback: before the first averaged epoch, validation and checkpoints use the
weights being trained (Lightning's would use a copy of the initial weights); testing or validating a checkpoint after
fit uses the average that checkpoint holds (Lightning's reloads the trained weights saved beside it, or swaps in the
final average, when the same Trainer fitted); and `last.ckpt` saved at the end of fit keeps the trained weights beside
the average (Lightning's would save the average as both), so extending the run trains on from where it stopped.
"""
from __future__ import annotations

import logging
from typing import Any

from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import get_ema_multi_avg_fn, get_swa_avg_fn

log = logging.getLogger(__name__)


_mean = get_swa_avg_fn()


def floats_averaged(averaged: Any, current: Any, n_averaged: Any) -> Any:
    """The running mean of a floating-point tensor (torch's own update); any other tensor is the current one."""
    return _mean(averaged, current, n_averaged) if averaged.is_floating_point() else current


def floats_only(multi_avg_fn: Any) -> Any:
    """`multi_avg_fn` over the floating-point tensors; the others are copied from the current model."""

    def update(averaged: list, current: list, n_averaged: Any) -> None:
        floats: tuple[list, list] = ([], [])
        for a, c in zip(averaged, current):
            if a.is_floating_point():
                floats[0].append(a)
                floats[1].append(c)
            else:
                a.copy_(c)
        if floats[0]:
            multi_avg_fn(*floats, n_averaged)

    return update


class WeightAverage(WeightAveraging):
    """Average the weights at the ends of the epochs from `start` (a fraction of `trainer.max_epochs`; from the first
    epoch when the run has no epoch limit) on: their mean, or with `decay` their exponential moving average."""

    def __init__(self, start: float = 0.5, decay: float | None = None) -> None:
        if not 0 <= start < 1:
            raise ValueError(f"callbacks.weight_average.start={start}: a fraction of trainer.max_epochs in [0, 1)")
        if decay is not None and not 0 < decay < 1:
            raise ValueError(f"callbacks.weight_average.decay={decay}: in (0, 1), or null for the mean")
        # Floating-point weights and buffers are averaged; any other buffer (the naive Bayes' integer codes and boolean
        # word marks) is the model's own, copied (torch's average subtracted booleans and stopped the run).
        super().__init__(**({"avg_fn": floats_averaged} if decay is None else {"multi_avg_fn": floats_only(get_ema_multi_avg_fn(decay))}))
        self.start = start
        self.decay = decay
        self.first_epoch = 0
        self._trained: dict[str, Any] | None = None  # the trained weights, once training has ended
        self._trainer: Any = None  # set in setup: should_update reads where in the epoch the fit is

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else 0
        self.first_epoch = int(self.start * epochs)
        self._trained = None
        self._trainer = trainer

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        # After the epoch's last batch, not at its end: Lightning validates before the epoch-end hooks, and the
        # validation (and the checkpoint saved after it) should see the epoch it follows.
        trainer = self._trainer
        return step_idx is not None and trainer.is_last_batch and trainer.current_epoch >= self.first_epoch

    def _averaged(self) -> bool:
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    # Validation inside fit swaps the average in and back out. `trainer.validate(ckpt_path=...)` after fit does not:
    # the checkpoint it loaded already holds its average (Lightning's would swap in the final one instead).
    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._averaged() and trainer.state.fn == TrainerFn.FITTING:
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._averaged() and trainer.state.fn == TrainerFn.FITTING:
            super().on_validation_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self._averaged():  # the model in memory becomes the average; the trained weights stay for last.ckpt
            self._trained = {name: value.detach().clone() for name, value in pl_module.state_dict().items()}
            super().on_train_end(trainer, pl_module)
        else:  # early stopping, max_steps or max_time ended the fit before `start`: say that nothing was averaged
            log.warning("callbacks.weight_average: no epoch was averaged (the fit ended after %d epoch(s), before epoch "
                        "%d, start=%s of trainer.max_epochs=%s); validation, checkpoints and test use the trained weights",
                        trainer.current_epoch, self.first_epoch, self.start, trainer.max_epochs)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if self._averaged():
            super().on_save_checkpoint(trainer, pl_module, checkpoint)
            if self._trained is not None:  # saved at the end of fit (last.ckpt): extending the run trains these on
                checkpoint["current_model_state"] = self._trained

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        # Resuming a fit: the trained weights and the average, each its own. A checkpoint saved before the first
        # averaged epoch holds no average: there is none to restore yet.
        if trainer.state.fn == TrainerFn.FITTING and "averaging_state" in checkpoint:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
            # The average has begun: it goes on with every epoch, also when the resumed run's trainer.max_epochs moves
            # `start` past the epochs already trained (it skipped the epochs between, an average of no one tail).
            if self._averaged() and checkpoint["epoch"] < self.first_epoch:
                log.info("callbacks.weight_average: the checkpoint's average of %d epoch ends goes on from epoch %d "
                         "(start=%s of trainer.max_epochs=%s would begin at epoch %d, leaving a gap)",
                         int(self._average_model.n_averaged), checkpoint["epoch"], self.start, trainer.max_epochs,
                         self.first_epoch)
                self.first_epoch = checkpoint["epoch"]
