"""The LightningModule: loss, metrics and optimisation around an injected sequence model."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import Metric, MetricCollection

from seqtrain.batch import Batch
from seqtrain.errors import SeqtrainError
from seqtrain.kinds import TaskKind, kind_named
from seqtrain.models.highway import RIDGES

Stage = Literal["train", "val", "test"]
log = logging.getLogger(__name__)
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class DivergedError(SeqtrainError, RuntimeError):
    """The loss or gradient norm became non-finite; the step was not applied."""


class WeightedMean(Metric):
    """Weighted mean of scalars, e.g. a loss weighted by its batch's real targets.

    Unlike MeanMetric, it reads nothing back from the device per step (MeanMetric checks every value
    for NaN; with `nan_strategy="disable"` it skips the check but, in torchmetrics 1.9, also drops
    the weights: Lightning-AI/torchmetrics#3434), and a NaN value makes the mean NaN instead of
    being left out of it.
    """

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: Tensor, weight: float) -> None:
        self.total += value.detach() * weight
        self.weight += weight

    def compute(self) -> Tensor:
        return self.total / self.weight


class SequenceTask(pl.LightningModule):
    """Trains ``model`` (inputs, lengths -> predictions, state) for one task kind.

    Args:
        task: a task kind's name (``"classification"``, ``"regression"``, ``"tagging"``,
            ``"language_modeling"``; see `seqtrain.kinds`) or a built `TaskKind`; it owns the loss,
            the target weight of epoch means and the metrics.
        optimizer: called with the parameters, e.g. ``functools.partial(torch.optim.AdamW, lr=1e-3)``;
            None for a task that only evaluates.
        scheduler: called with the optimizer; ``scheduler_interval`` is ``"epoch"`` or ``"step"``
            (a step is a batch, also under truncated BPTT).
        tbptt_steps / tbptt_variable / tbptt_scale_lr: truncated BPTT (see `_tbptt_step`).
        label_smoothing: ε of the cross-entropy's smoothed targets (classification and tagging only; see
            `seqtrain.kinds.base.mean_cross_entropy`). The loss logged and monitored is the smoothed one.
        random_scaling: s > 1 (regression only): each training row's real-valued inputs and targets are multiplied by
            one factor drawn log-uniformly from [1/s, s] (`_randomly_scaled`); validation and test are not scaled.
        target_scale / target_shift: regression targets arrive scaled (`DataFacts.target_scale`), one
            entry per output: `original = scaled * target_scale + target_shift`. The loss is on the
            scaled values; the metrics (mse, rmse, mae) are in the data's own units.
        metadata: plain data saved in every checkpoint (resolved config, data facts) so a
            checkpoint alone can rebuild the run. None (built in Python): recorded at fit start from
            the model's and datamodule's constructor arguments (`seqtrain.checkpoint.run_metadata`).
    """

    def __init__(
        self,
        model: nn.Module,
        task: str | TaskKind,
        num_outputs: int | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        monitor: str = "val/loss",
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Literal["norm", "value"] = "norm",
        tbptt_steps: int | None = None,
        tbptt_variable: bool = False,
        tbptt_scale_lr: bool = False,
        label_smoothing: float = 0.0,
        random_scaling: float | None = None,
        target_scale: Sequence[float] | None = None,
        target_shift: Sequence[float] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if gradient_clip_val is not None and not gradient_clip_val > 0:
            raise ValueError(f"gradient_clip_val must be > 0 (clipping to 0 zeroes every gradient) or None, got {gradient_clip_val!r}")
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ValueError(f"gradient_clip_algorithm must be 'norm' or 'value', got {gradient_clip_algorithm!r}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if tbptt_steps is not None and (isinstance(tbptt_steps, bool) or not isinstance(tbptt_steps, int) or tbptt_steps < 1):
            raise ValueError(f"tbptt_steps must be an integer >= 1 or None, got {tbptt_steps!r}")
        if (tbptt_variable or tbptt_scale_lr) and tbptt_steps is None:
            raise ValueError("tbptt_variable and tbptt_scale_lr need tbptt_steps")
        if tbptt_steps is not None and getattr(model, "head_kind", "many_to_many") == "many_to_one":
            raise ValueError("tbptt_steps needs per-step targets (a many_to_many head): a many_to_one head has no loss per chunk")
        self.kind = build_kind(task, num_outputs, target_scale, target_shift, label_smoothing)
        if getattr(model, "naive_bayes", None) is not None and self.kind.name != "classification":
            raise ValueError(f"model.naive_bayes scores the classes of a sequence (task classification), but the task is "
                             f"{self.kind.name!r}; set model.naive_bayes=null")
        if random_scaling is not None:
            if isinstance(random_scaling, bool) or not isinstance(random_scaling, (int, float)) or not random_scaling > 1:
                raise ValueError(f"random_scaling must be a number > 1 (factors from [1/s, s]) or None, got {random_scaling!r}")
            if self.kind.name != "regression":
                raise ValueError(f"random_scaling multiplies real-valued inputs with their targets (task regression), but the "
                                 f"task is {self.kind.name!r}; set random_scaling=None")
        self.random_scaling = None if random_scaling is None else float(random_scaling)
        self.task = self.kind.name
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.monitor = monitor
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.tbptt_steps = tbptt_steps
        self.tbptt_variable = tbptt_variable
        self.tbptt_scale_lr = tbptt_scale_lr
        # Truncated BPTT takes one optimizer step per chunk, so it steps the optimizer itself.
        self.automatic_optimization = tbptt_steps is None
        self.metadata = metadata or {}
        # Recurrent state carried across stateful batches, per stage; detached, reset each epoch.
        self._carried: dict[Stage, Any] = {}
        self._highway_fitted = False  # `_fit_highway` fitted it in this process (a resume then replaces it)
        self._clip_groups: list[list[nn.Parameter]] | None = None  # set at fit start: parameters clipped together
        metrics = self.kind.build_metrics()
        # One collection per stage (ModuleDict cannot hold a key named "train").
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # The epoch's mean loss, weighted by real targets; summed on the device (no sync per step),
        # reduced across DDP ranks by torchmetrics.
        self.train_loss = WeightedMean()
        self.val_loss = WeightedMean()
        self.test_loss = WeightedMean()

    def forward(self, inputs: Tensor, lengths: Tensor | None = None, state: Any = None) -> tuple[Tensor, Any]:
        return self.model(inputs, lengths, state)

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        """Mean loss over real (non-padding, non-ignored) targets; the task kind's."""
        return self.kind.loss(preds, batch)

    def _step(self, batch: Batch, stage: Stage) -> Tensor:
        state = self._carried.get(stage) if batch.stateful else None
        preds, loss, reported, state = self._forward_and_loss(batch, batch.lengths, state, stage)
        if batch.stateful:
            self._carried[stage] = detach_state(state)
        preds = preds.detach()
        weight = self.kind.weight(preds, batch)
        self._log_step(stage, preds, batch, reported.detach(), weight)
        if stage == "train":
            self._log_loss_step(reported.detach())
        return loss

    def _forward_and_loss(self, batch: Batch, lengths: Tensor, state: Any, stage: Stage) -> tuple[Tensor, Tensor, Tensor, Any]:
        """The model on a batch (its rows read to `lengths`): the predictions, the loss to minimise, the loss to report
        and the state after it.

        A model of several members (`model.members`) trains each member by its own loss, as if alone: the gradient of
        the sum for a member's weights is its own loss's (`on_before_optimizer_step` clips each member's gradients by
        themselves), not the loss of the members' mean, which would make them one wide network. The loss reported is
        then the mean of the members' losses; the predictions are the mean of their outputs, as in evaluation."""
        members = stage == "train" and getattr(self.model, "members", 1) > 1
        outputs, state = run_with_resets(self.model, batch.inputs, lengths, state, batch.resets, members=members)
        if stage in ("train", "val") and (prior := getattr(self.model, "naive_bayes", None)) is not None:
            # The naive Bayes counted the training and validation rows: each is scored by the counts of the other rows
            # (leave-one-out, seqtrain.models.naive_bayes), so neither fitting nor validation sees a row's own label.
            correction = prior.leave_one_out(batch.inputs, batch.lengths, batch.targets)
            outputs = [preds + correction for preds in outputs] if members else outputs + correction
        if not members:
            loss = self.loss(outputs, batch)
            return outputs, loss, loss, state
        losses = torch.stack([self.loss(preds, batch) for preds in outputs])
        return torch.stack(outputs).mean(dim=0), losses.sum(), losses.mean(), state

    def _log_step(self, stage: Stage, preds: Tensor, batch: Batch, loss: Tensor, weight: Tensor | int) -> None:
        """Per step only device-side sums; `self.log` (about 0.1 ms a call through Lightning's result
        collection) runs once per epoch. ``weight``: the batch's real targets (the kind's count)."""
        getattr(self, f"{stage}_loss").update(loss, weight)
        self._update_metrics(getattr(self, f"{stage}_metrics"), preds, batch)

    def _log_loss_step(self, loss: Tensor) -> None:
        """`train/loss_step`, only on the steps the logger records."""
        if self._logger_records_this_step():
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)

    def _update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        self.kind.update_metrics(metrics, preds, batch)

    def _logger_records_this_step(self) -> bool:
        """Lightning's own rule for when step values reach the logger (every `trainer.log_every_n_steps` batches).

        Private API (`_LoggerConnector.should_update_logs`); without it, log every step: slower, never wrong.
        """
        connector = getattr(self.trainer, "_logger_connector", None)
        return True if connector is None else bool(connector.should_update_logs)

    def _log_epoch_metrics(self, stage: Stage) -> None:
        loss = getattr(self, f"{stage}_loss")
        if loss.update_count:  # nothing to report for an epoch without steps
            mean = loss.compute()
            self.log(f"{stage}/loss", mean, prog_bar=True)
            derived = self.kind.epoch_metrics(mean)
            if derived:
                self.log_dict({f"{stage}/{name}": value for name, value in derived.items()})
        loss.reset()
        metrics = getattr(self, f"{stage}_metrics")
        if metrics:
            self.log_dict(metrics.compute())
            metrics.reset()

    def _tbptt_step(self, batch: Batch) -> None:
        """Cut the batch into chunks of ``tbptt_steps``; forward, backward and an optimizer update per chunk.

        The state's values flow from chunk to chunk (and, for stateful batches, to the next batch),
        but it is detached at every boundary, so no gradient crosses one.

        The step convention (README, "Truncated BPTT"): every chunk updates the weights, but a batch
        is one training step, as without truncation. `global_step` (hence `trainer.max_steps`,
        `every_n_train_steps` checkpoints, `log_every_n_steps`) and `scheduler.interval=step`
        schedulers count batches: only the last chunk's update goes through the
        `LightningOptimizer`, which counts steps (Lightning's manual loop counts its `step()`
        calls); the earlier chunks call the strategy's `optimizer_step` directly, the same path
        (precision plugin, AMP scaler, `on_before_optimizer_step` clipping) without the count.
        `train/loss_step` is the batch's mean over all its chunks' real targets. The learning rate of
        a chunk shorter than `tbptt_steps` is scaled by its length only with `tbptt_scale_lr`.
        """
        optimizer = self.optimizers()
        state = self._carried.get("train") if batch.stateful else None
        sizes = chunk_sizes(batch.inputs.shape[1], self.tbptt_steps, self.tbptt_variable)
        chunks = split_into_chunks(batch, sizes)
        total, weight = 0.0, 0
        for i, chunk in enumerate(chunks):
            # Rows already finished in this chunk still run one (ignored) step: packing needs length >= 1.
            preds, loss, reported, state = self._forward_and_loss(chunk, chunk.lengths.clamp(min=1), state, "train")
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            # AWD-LSTM: a shorter chunk is a smaller sample of the gradient, so its step is scaled.
            factor = chunk.inputs.shape[1] / self.tbptt_steps if self.tbptt_scale_lr else 1.0
            with scaled_lr(optimizer.optimizer, factor):
                if i == len(chunks) - 1:
                    optimizer.step()  # counted: one global step per batch
                else:
                    self.trainer.strategy.optimizer_step(optimizer.optimizer, _no_closure)
            state = detach_state(state)
            preds, reported = preds.detach(), reported.detach()
            chunk_weight = self.kind.weight(preds, chunk)
            self._log_step("train", preds, chunk, reported, chunk_weight)
            total, weight = total + reported * chunk_weight, weight + chunk_weight
        if batch.stateful:
            self._carried["train"] = state
        if chunks:
            self._log_loss_step(total / (weight.clamp(min=1) if isinstance(weight, Tensor) else max(weight, 1)))
        scheduler = self.lr_schedulers()
        if scheduler is not None and self.scheduler_interval == "step":
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        # A finished epoch's carried state is never used again (the next starts from zeros); dropping it
        # here keeps it out of the checkpoints written from now on, e.g. a finished run's last.ckpt,
        # which a run extended with more epochs must not start its next epoch from.
        self._carried.pop("train", None)
        self._log_epoch_metrics("train")
        scheduler = self.lr_schedulers() if not self.automatic_optimization else None
        if scheduler is not None and self.scheduler_interval == "epoch" and self._epoch_complete():
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(self.trainer.callback_metrics[self.monitor])
            else:
                scheduler.step()

    def _epoch_complete(self) -> bool:
        """Whether the training epoch now ending ran all its batches: Lightning's automatic loop steps an epoch scheduler
        only then (not when `max_steps` or `max_time` ends the fit mid-epoch; the extended run steps it at that epoch's
        end). Private API (`_num_ready_batches_reached`); without it, step as before."""
        loop = getattr(self.trainer.fit_loop, "epoch_loop", None)
        ready = getattr(loop, "_num_ready_batches_reached", None)
        return True if ready is None else bool(ready())

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Check and clip here, in both modes: gradients are already unscaled under AMP.

        A non-finite gradient norm (from a non-finite loss, or an fp16 overflow the grad scaler can no
        longer absorb) stops the run before the optimizer applies it, so the weights and every
        checkpoint stay as they were.
        """
        groups = self._clip_groups or [list(self.parameters())]
        groups = [[p for p in group if p.grad is not None] for group in groups]
        params = [p for group in groups for p in group]
        if self.gradient_clip_val is not None and self.gradient_clip_algorithm == "norm":
            # Each member of an ensemble (`model.members`) by itself, as if it trained alone; the norm logged and checked
            # is the whole model's, before clipping.
            norms = [torch.nn.utils.clip_grad_norm_(group, self.gradient_clip_val) for group in groups if group]
            norm = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0] if norms else torch.tensor(0.0)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if not torch.isfinite(norm):
            # Under fp16 AMP, an overflow is routine: the grad scaler skips this step and halves its
            # scale. Only once the scale is below 1 are the unscaled gradients themselves non-finite.
            scaler = getattr(self.trainer.precision_plugin, "scaler", None)
            if scaler is not None and scaler.get_scale() >= 1.0:
                return
            raise DivergedError(
                f"non-finite gradient norm ({float(norm)}) at global step {self.global_step} "
                f"(epoch {self.current_epoch}); the step was not applied"
            )
        if self.gradient_clip_val is not None and self.gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, self.gradient_clip_val)
        if self._logger_records_this_step():  # under TBPTT, the last chunk's step of the batch
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False)

    def on_fit_start(self) -> None:
        # Walking the module tree (model and metrics) for every step's clipping costs ~25 us.
        # Clipped group by group: the members of an ensemble one by one (the task's own parameters, if any, with the
        # first), else everything together.
        groups = self.model.member_parameters() if getattr(self.model, "members", 1) > 1 else [[]]
        grouped = {id(p) for group in groups for p in group}
        groups[0] = [*groups[0], *(p for p in self.parameters() if id(p) not in grouped)]
        self._clip_groups = [[p for p in group if p.requires_grad] for group in groups]

    def on_validation_epoch_start(self) -> None:
        self._carried.pop("val", None)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_start(self) -> None:
        self._carried.pop("test", None)

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        if self.random_scaling is not None:
            batch = self._randomly_scaled(batch)
        if self.tbptt_steps is not None:
            return self._tbptt_step(batch)
        return self._step(batch, "train")

    def _randomly_scaled(self, batch: Batch) -> Batch:
        """`random_scaling`: the batch with each row's inputs and targets multiplied by one factor, log-uniform in
        [1/s, s] (torch's global generator: seeded, and restored on resume). Regression targets arrive scaled as the
        inputs are (standard or min-max, `DataFacts.target_scale`), so the factor scales both about the scaled zero; a
        model forecasting the change from the last value (`model.relative_to=last`) sees the changes scaled."""
        if not batch.inputs.is_floating_point():
            raise ValueError(f"random_scaling multiplies real-valued inputs, but this batch holds token ids "
                             f"({batch.inputs.dtype}); set random_scaling=None")
        if batch.stateful:
            raise ValueError("random_scaling draws a factor per row and batch, but this batch continues the last one's rows "
                             "(stateful data); set random_scaling=None")
        spread = math.log(self.random_scaling)
        factor = torch.exp((torch.rand(len(batch), device=batch.inputs.device) * 2 - 1) * spread)
        inputs = batch.inputs * factor.view(-1, *[1] * (batch.inputs.dim() - 1)).to(batch.inputs.dtype)
        targets = batch.targets * factor.view(-1, *[1] * (batch.targets.dim() - 1)).to(batch.targets.dtype)
        return dataclasses.replace(batch, inputs=inputs, targets=targets)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def transfer_batch_to_device(self, batch: Batch, device: torch.device, dataloader_idx: int) -> Batch:
        return batch.to(device, non_blocking=True)

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise ValueError("SequenceTask was built without an optimizer, so it can evaluate but not train")
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = {"scheduler": self.scheduler_factory(optimizer), "interval": self.scheduler_interval}
        if isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler["monitor"] = self.monitor
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _datamodule_to_fit(self, what: str, option: str) -> Any:
        """The run's seqtrain datamodule, for a part of the model fitted on its splits before training (``what``: what
        that part fits; ``option``: the model option that turns it off); refused for bare dataloaders."""
        datamodule = self.trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "split"):
            raise ValueError(f"{what}, but this run trains on bare dataloaders; pass a seqtrain datamodule or set "
                             f"{option}=None")
        return datamodule

    def _fit_naive_bayes(self) -> None:
        """`model.naive_bayes`: its counts from the datamodule's training and validation rows, before anything trains
        (in `setup`: Lightning's learning-rate finder trains inside a callback's `on_fit_start`, before this module's).
        A resumed run fits them too, and the checkpoint's then replace them (the same counts: they depend on the data
        alone); a second `fit` of the same task keeps the counts it has."""
        prior = getattr(self.model, "naive_bayes", None)
        if prior is None or prior.fitted:
            return
        datamodule = self._datamodule_to_fit("model.naive_bayes fits its counts on the datamodule's training rows",
                                             "naive_bayes")
        # Training and validation rows: the naive Bayes gains from every labelled row (a 20 % carve-out costs it
        # about 2 points of accuracy on the study's English reviews), and validation stays honest: `_step` scores
        # each of those rows leaving its own counts out.
        train, val = datamodule.split("train"), datamodule.split("val")
        rows = [*train, *(val if val is not None else [])]
        pieces = None
        if prior.words:
            tokenizer = getattr(datamodule, "tokenizer", None)
            if not hasattr(tokenizer, "pieces"):
                raise ValueError(f"model.naive_bayes=words counts the words subword tokens spell, but this data's "
                                 f"tokenizer is {tokenizer!r}; set data.tokenizer=unigram (or bpe), or naive_bayes=bigrams")
            pieces = tokenizer.pieces()
        prior.fit(rows, pieces=pieces)
        log.info("model.naive_bayes: fitted on %d training and %d validation rows (each scored leaving itself out); "
                 "alpha %g (leave-one-out accuracy %.3f), weight %.3g", len(train), len(rows) - len(train),
                 prior.chosen["alpha"], prior.chosen["leave_one_out_accuracy"], prior.chosen["weight"])

    def _fit_highway(self) -> None:
        """`model.ar_highway_fit`: the AR highway's weights to the least-squares fit on the training windows, before
        anything trains (as `_fit_naive_bayes`). A resumed run fits them too, and the checkpoint's then replace them;
        weights that are not all zero (a second `fit` of the same task, a trained task loaded to train on) are kept."""
        model = self.model
        if getattr(model, "highway_fit", None) is None or bool(model.highway.weight.any()):
            return
        train = self._datamodule_to_fit("model.ar_highway_fit fits the highway on the datamodule's training windows",
                                        "ar_highway_fit").split("train")
        windows = [train[i] for i in range(len(train))]
        device = model.highway.weight.device
        inputs = torch.stack([x for x, _ in windows]).to(device)
        targets = torch.stack([y for _, y in windows]).to(device)
        ridges, _, left_out = model.fit_highway(inputs, targets)
        self._highway_fitted = True
        log.info("model.ar_highway_fit=%s: the AR highway's %d weights per output %s the least-squares fit on %d training "
                 "windows (ridge %s per window, chosen from %s by leave-one-out error; its leave-one-out RMSE alone %s in "
                 "the scaled units)", model.highway_fit, model.highway.steps,
                 "start at" if model.highway_fit == "start" else "are kept at", len(windows),
                 ", ".join(f"{v:g}" for v in ridges.tolist()), "-".join(f"{v:g}" for v in (RIDGES[0], RIDGES[-1])),
                 ", ".join(f"{v:.4g}" for v in left_out.tolist()))

    def setup(self, stage: str) -> None:
        """The metrics adapted to the device, before Lightning moves them there (`TaskKind.metrics_on`). Built in
        Python (no `metadata`): record the model's and datamodule's constructor arguments and the data's facts, so
        that its checkpoints rebuild like those of `python train.py`."""
        for metrics in (self.train_metrics, self.val_metrics, self.test_metrics):
            self.kind.metrics_on(metrics, self.trainer.strategy.root_device)
        if stage == "fit":
            self._fit_naive_bayes()
            self._fit_highway()
        if self.metadata or stage != "fit":
            return
        from seqtrain.checkpoint import CheckpointError, run_metadata

        datamodule = self.trainer.datamodule
        try:
            if datamodule is None:
                raise CheckpointError("trained on dataloaders, not a datamodule")
            self.metadata = run_metadata(self.model, datamodule)
            # What `python train.py` saves as task.label_smoothing and task.random_scaling.
            options = {"label_smoothing": self.kind.label_smoothing, "random_scaling": self.random_scaling}
            if options := {key: value for key, value in options.items() if value}:
                self.metadata["config"]["task"] = options
        except CheckpointError as e:
            log.warning("checkpoints of this run cannot be evaluated, resumed by train.py or used by the scripts "
                        "(seqtrain cannot rebuild the model and data from them): %s", e)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqtrain"] = self.metadata

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A resumed fit: Lightning restores the checkpoint after `setup` has fitted the highway, so say that the
        checkpoint's weights, not the least-squares fit just logged, are the ones training goes on from. Not when the
        best checkpoint is loaded to validate or test after the fit (the line said `resuming` there too)."""
        if self._highway_fitted:
            self._highway_fitted = False
            if self.trainer.state.fn != "fit":
                return
            log.info("model.ar_highway_fit: resuming, so the AR highway's weights are the checkpoint's (as trained so "
                     "far), not the least-squares fit above")

    def configure_callbacks(self) -> list[pl.Callback]:
        """What every fit needs to resume exactly (random streams, carried state), also when built in Python."""
        from seqtrain.resume import ExactResume

        return [ExactResume()]

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: str | Path, map_location: str | torch.device | None = None) -> SequenceTask:  # type: ignore[override]
        """The trained task (model rebuilt from the checkpoint's config and facts, weights loaded, eval mode),
        read with ``weights_only=True``; `seqtrain.checkpoint.load_task` also gives its datamodule."""
        from seqtrain.checkpoint import load_task

        task, _ = load_task(checkpoint_path)
        return task if map_location is None else task.to(map_location)

    def carried_state(self) -> Any:
        """The recurrent state a stateful run carries into its next training batch (None: zeros).

        `seqtrain.resume.ExactResume` saves it per rank and gives it back on resume."""
        return self._carried.get("train")

    def restore_carried_state(self, state: Any) -> None:
        self._carried["train"] = state

    def epoch_sums(self) -> dict[str, Any]:
        """What the training epoch's means (`train/loss`, `train/acc`, ...) have summed so far on this rank: each
        accumulator's states and update count. A checkpoint saved mid-epoch holds them, so that the epoch resumed
        from it reports the means over all its batches, as the run never stopped (a `train/` monitor picks the best
        checkpoint by them). `seqtrain.resume.ExactResume` saves them per rank and gives them back."""
        return {name: {"count": metric.update_count, "states": dict(metric.metric_state)}
                for name, metric in self._train_accumulators()}

    def restore_epoch_sums(self, sums: dict[str, Any]) -> None:
        accumulators = dict(self._train_accumulators())
        if sums.keys() != accumulators.keys():
            raise ValueError(f"the checkpoint's epoch sums are for {sorted(sums)}, this run's for {sorted(accumulators)}")
        for name, saved in sums.items():
            metric = accumulators[name]
            for state, value in saved["states"].items():
                current = getattr(metric, state)
                setattr(metric, state, value.to(current.device, current.dtype) if isinstance(current, Tensor) else value)
            metric._update_count = saved["count"]  # torchmetrics keeps it private; `update_count` reads it
            metric._computed = None

    def _train_accumulators(self) -> list[tuple[str, Metric]]:
        return [("loss", self.train_loss), *self.train_metrics.items(keep_base=True, copy_state=False)]

    def on_train_epoch_start(self) -> None:
        self._carried.pop("train", None)  # each epoch starts from a zero state


def build_kind(
    task: str | TaskKind, num_outputs: int | None, target_scale: Sequence[float] | None, target_shift: Sequence[float] | None,
    label_smoothing: float = 0.0,
) -> TaskKind:
    """A task kind from its name and the data's facts, or ``task`` itself when already built."""
    if isinstance(task, TaskKind):
        if num_outputs is not None or target_scale is not None or target_shift is not None or label_smoothing:
            raise ValueError("give num_outputs / target_scale / target_shift / label_smoothing to the TaskKind, not beside it")
        return task
    kind = kind_named(task)
    if num_outputs is None:
        raise ValueError(f"task={task!r} needs num_outputs")
    if (target_scale is not None or target_shift is not None) and kind.name != "regression":
        raise ValueError(f"target_scale applies to task='regression' only, got task={task!r}")
    if label_smoothing and not kind.smooths_labels:
        raise ValueError(f"label_smoothing applies to classification and tagging, not task={task!r}")
    if target_scale is not None or target_shift is not None:
        return kind(num_outputs, target_scale, target_shift)
    return kind(num_outputs, label_smoothing=label_smoothing) if kind.smooths_labels else kind(num_outputs)


def _no_closure() -> None:
    """Manual optimization: the gradients are already there."""


def detach_state(state: Any) -> Any:
    """Cut the graph behind a recurrent state (a tensor, or LSTM's (h, c)); keep its values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def run_with_resets(model: nn.Module, inputs: Tensor, lengths: Tensor, state: Any, resets: Tensor | None,
                    members: bool = False) -> tuple[Any, Any]:
    """``model(inputs, lengths, state)``, with each row's state zeroed before the steps where ``resets`` is True;
    with ``members``, ``model.member_outputs(...)``: each member's predictions (a list).

    A document that starts mid-chunk must not see the last one's state. The chunk is cut at every
    step where some row starts a document, each piece runs through the model's fused kernel, and
    between pieces the state of the rows starting a document is multiplied by zero (so the earlier
    steps also get no gradient from the later ones). Cost: one model call per distinct start step
    in the chunk, so documents much shorter than ``batch_size x seq_len`` tokens slow training.
    """
    call = model.member_outputs if members else model
    cuts = [] if resets is None else resets.any(0).nonzero().flatten().tolist()
    if not cuts:
        return call(inputs, lengths, state)
    bounds = [0, *(c for c in cuts if c > 0), inputs.shape[1]]
    outputs = []
    for start, end in pairwise(bounds):
        state = zero_rows(state, resets[:, start])
        preds, state = call(inputs[:, start:end], (lengths - start).clamp(1, end - start), state)
        outputs.append(preds)
    if members:
        return [torch.cat(pieces, 1) for pieces in zip(*outputs, strict=True)], state
    return torch.cat(outputs, 1), state


def zero_rows(state: Any, rows: Tensor) -> Any:
    """The state with batch rows ``rows`` ((B,) bool) set to zero; None (all zeros) stays None."""
    if state is None or not bool(rows.any()):
        return state
    if isinstance(state, tuple):
        return tuple(zero_rows(s, rows) for s in state)
    keep = (~rows).to(device=state.device, dtype=state.dtype)  # (B,)
    return state * keep[None, :, None]  # state (layers x directions, B, H)


def chunk_sizes(total: int, steps: int, variable: bool = False) -> list[int]:
    """Chunk lengths covering ``total`` steps: all ``steps``, or AWD-LSTM's variable lengths
    (``steps`` with probability 0.95, else ``steps/2``, then jittered by N(0, 5), at least 5)."""
    if not variable:
        return [min(steps, total - start) for start in range(0, total, steps)]
    sizes: list[int] = []
    while (done := sum(sizes)) < total:
        base = steps if torch.rand(()) < 0.95 else steps / 2
        size = max(5, int(base + 5 * torch.randn(()).item()))
        sizes.append(min(size, total - done))
    return sizes


def split_into_chunks(batch: Batch, sizes: list[int]) -> list[Batch]:
    """Consecutive time chunks of the given sizes; lengths count each row's real steps in the chunk."""
    chunks, start = [], 0
    for size in sizes:
        lengths = (batch.lengths - start).clamp(0, size)
        if int(lengths.max()) == 0:  # only padding left
            break
        window = slice(start, start + size)  # per-step targets only: (B, T) or (B, T, F)
        resets = None if batch.resets is None else batch.resets[:, window]
        chunks.append(Batch(batch.inputs[:, window], lengths, batch.targets[:, window], batch.stateful, resets))
        start += size
    return chunks


@contextmanager
def scaled_lr(optimizer: torch.optim.Optimizer, factor: float) -> Iterator[None]:
    """Multiply every group's learning rate by ``factor`` for one step."""
    if factor == 1.0:
        yield
        return
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved):
            group["lr"] = lr

