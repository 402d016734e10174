"""Optuna pruning for one trial of a sweep: report the monitored metric at every validation, stop when told.

The sweeper (`hydra_plugins/seqtrain_sweeper`) asks the study for a trial and launches a job with
its parameters; the job finds the trial by number in the same storage, reports to it and asks the
pruner. Optuna itself is imported only when a job of a sweep reports (`trial` set).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.callbacks import Callback

if TYPE_CHECKING:
    import lightning.pytorch as pl
    import optuna

log = logging.getLogger(__name__)


class TrialPruned(Exception):
    """The pruner stopped this trial at validation `step`; not a failure (the sweeper tells Optuna PRUNED)."""

    def __init__(self, monitor: str, value: float, step: int) -> None:
        super().__init__(f"pruned at validation {step}: {monitor}={value:.6g}")
        self.monitor, self.value, self.step = monitor, value, step

    def __reduce__(self) -> tuple:  # keep the fields through pickling (submitit sends job results back pickled)
        return type(self), (self.monitor, self.value, self.step)


def open_storage(storage: str) -> optuna.storages.BaseStorage:
    """A database URL (`sqlite:///…`, `postgresql://…`) as Optuna takes it; anything else is a journal file.

    The journal file is Optuna's storage for several processes sharing one study through a file
    system (NFS included), without a database server; `optuna-dashboard <file>` opens it.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if "://" in storage:
        return optuna.storages.RDBStorage(storage)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(storage))


class OptunaPruning(Callback):
    """Report `monitor` to trial number `trial` of the study after every validation of `fit`; prune when
    `pruner` says so.

    The step is a count of validations, not the epoch: Optuna keeps only the first value reported
    at a step, and a run may validate several times an epoch (`trainer.val_check_interval`).
    Under DDP only rank 0 talks to the study; its decision is broadcast, so every rank raises
    `TrialPruned` at the same validation. With `trial=None` (not a job of an Optuna sweep) it does
    nothing.
    """

    def __init__(self, storage: str | None, study_name: str | None, trial: int | None, monitor: str, pruner: Any = None) -> None:
        self.storage, self.study_name, self.trial, self.monitor, self.pruner = storage, study_name, trial, monitor, pruner
        self.validations = 0
        self._trial: optuna.trial.Trial | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning.pytorch.trainer.states import TrainerFn

        # Only fit's validations: the final `trainer.validate` of the best checkpoint is not a step.
        if self.trial is None or trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        self.validations += 1
        if self.monitor not in trainer.callback_metrics:
            raise KeyError(f"monitor={self.monitor!r} was not logged at validation; logged: {sorted(trainer.callback_metrics)}")
        value = float(trainer.callback_metrics[self.monitor])
        prune = False
        if trainer.is_global_zero:
            trial = self._open_trial()
            trial.report(value, step=self.validations)
            prune = trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            raise TrialPruned(self.monitor, value, self.validations)

    def _open_trial(self) -> optuna.trial.Trial:
        if self._trial is None:
            import optuna

            study = optuna.load_study(study_name=self.study_name, storage=open_storage(self.storage), pruner=self.pruner)
            # Optuna addresses a running trial by its storage id; the sweeper passes the study-wide number.
            trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, self.trial)
            self._trial = optuna.trial.Trial(study, trial_id)
        return self._trial

    def state_dict(self) -> dict[str, Any]:
        return {"validations": self.validations}  # a resumed job goes on counting where it stopped

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.validations = state_dict["validations"]
