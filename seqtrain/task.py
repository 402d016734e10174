"""The LightningModule: loss, metrics and optimisation around an injected sequence model."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from seqtrain.batch import IGNORE_INDEX, Batch

TaskKind = Literal["classification", "regression", "tagging", "language_modeling"]
Stage = Literal["train", "val", "test"]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class DivergedError(RuntimeError):
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


def build_metrics(task: TaskKind, num_outputs: int) -> MetricCollection:
    """The metrics each task kind updates per step, besides its loss.

    A language model's perplexity and bits per token are functions of the epoch's mean loss, so
    they are derived from it once per epoch (`SequenceTask._log_epoch_metrics`) instead.
    """
    if task in ("classification", "tagging"):
        # Tagging targets carry IGNORE_INDEX on padding; the metrics skip those steps.
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(num_outputs, average="micro", ignore_index=IGNORE_INDEX),
                "f1": MulticlassF1Score(num_outputs, average="macro", ignore_index=IGNORE_INDEX),
            }
        )
    if task == "regression":
        return MetricCollection(
            {"mse": MeanSquaredError(), "rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError()}
        )
    if task == "language_modeling":
        return MetricCollection({})
    raise ValueError(f"task must be one of classification|regression|tagging|language_modeling, got {task!r}")


class SequenceTask(pl.LightningModule):
    """Trains ``model`` (inputs, lengths -> predictions, state) for one task kind.

    Args:
        optimizer: called with the parameters, e.g. ``functools.partial(torch.optim.AdamW, lr=1e-3)``;
            None for a task that only evaluates.
        scheduler: called with the optimizer; ``scheduler_interval`` is ``"epoch"`` or ``"step"``.
        target_scale / target_shift: regression targets arrive scaled (`DataFacts.target_scale`), one
            entry per output: `original = scaled * target_scale + target_shift`. The loss is on the
            scaled values; the metrics (mse, rmse, mae) are in the data's own units.
        metadata: plain data saved in every checkpoint (resolved config, data facts) so a
            checkpoint alone can rebuild the run.
    """

    def __init__(
        self,
        model: nn.Module,
        task: TaskKind,
        num_outputs: int,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        monitor: str = "val/loss",
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Literal["norm", "value"] = "norm",
        tbptt_steps: int | None = None,
        tbptt_variable: bool = False,
        target_scale: Sequence[float] | None = None,
        target_shift: Sequence[float] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ValueError(f"gradient_clip_algorithm must be 'norm' or 'value', got {gradient_clip_algorithm!r}")
        if tbptt_steps is not None and tbptt_steps < 1:
            raise ValueError(f"tbptt_steps must be >= 1 or None, got {tbptt_steps}")
        if (target_scale is None) != (target_shift is None):
            raise ValueError("give both target_scale and target_shift, or neither")
        if target_scale is not None and task != "regression":
            raise ValueError(f"target_scale applies to task='regression' only, got task={task!r}")
        if tbptt_variable and tbptt_steps is None:
            raise ValueError("tbptt_variable=True needs tbptt_steps")
        if tbptt_steps is not None and getattr(model, "head_kind", "many_to_many") == "many_to_one":
            raise ValueError("tbptt_steps needs per-step targets (a many_to_many head): a many_to_one head has no loss per chunk")
        self.model = model
        self.task = task
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.monitor = monitor
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.tbptt_steps = tbptt_steps
        self.tbptt_variable = tbptt_variable
        # Truncated BPTT takes one optimizer step per chunk, so it steps the optimizer itself.
        self.automatic_optimization = tbptt_steps is None
        self.metadata = metadata or {}
        # Not persistent: the data's facts (in every checkpoint) hold them, and older checkpoints still load.
        scale, shift = (None, None) if target_scale is None else (torch.tensor(target_scale), torch.tensor(target_shift))
        self.register_buffer("target_scale", scale, persistent=False)  # (F_out,)
        self.register_buffer("target_shift", shift, persistent=False)  # (F_out,)
        # Recurrent state carried across stateful batches, per stage; detached, reset each epoch.
        self._carried: dict[Stage, Any] = {}
        self._trainable: list[nn.Parameter] | None = None  # set at fit start
        metrics = build_metrics(task, num_outputs)
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
        """Mean loss over real (non-padding) targets."""
        if self.task == "regression":
            if preds.dim() == 3:  # per step: (B, T, F), padding masked by lengths
                mask = _step_mask(batch.lengths, preds.shape[1], preds.device)  # (B, T)
                return F.mse_loss(preds[mask], batch.targets[mask])
            return F.mse_loss(preds, batch.targets)
        # (B, C) or (B, T, C) logits against (B,) or (B, T) class ids; padding is IGNORE_INDEX.
        return F.cross_entropy(preds.flatten(0, -2), batch.targets.flatten(), ignore_index=IGNORE_INDEX)

    def _step(self, batch: Batch, stage: Stage) -> Tensor:
        state = self._carried.get(stage) if batch.stateful else None
        preds, state = run_with_resets(self.model, batch.inputs, batch.lengths, state, batch.resets)
        if batch.stateful:
            self._carried[stage] = detach_state(state)
        loss = self.loss(preds, batch)
        self._log_step(stage, preds.detach(), batch, loss)
        return loss

    def _log_step(self, stage: Stage, preds: Tensor, batch: Batch, loss: Tensor) -> None:
        """Per step only device-side sums; `self.log` (about 0.1 ms a call through Lightning's result
        collection) runs once per epoch, and for the step loss only on the steps the logger records."""
        # Weight epoch means by real targets; lengths live on the CPU, so this costs no device sync.
        weight = int(batch.lengths.sum()) if preds.dim() == 3 else len(batch)
        loss = loss.detach()
        getattr(self, f"{stage}_loss").update(loss, weight)
        self._update_metrics(getattr(self, f"{stage}_metrics"), preds, batch, loss, weight)
        if stage == "train" and self._logger_records_this_step():
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)

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
            if self.task == "language_modeling":  # per token: the loss is the mean cross-entropy in nats
                self.log_dict({f"{stage}/ppl": mean.exp(), f"{stage}/bpt": mean / math.log(2)})
        loss.reset()
        metrics = getattr(self, f"{stage}_metrics")
        if metrics:
            self.log_dict(metrics.compute())
            metrics.reset()

    def _tbptt_step(self, batch: Batch) -> None:
        """Cut the batch into chunks of ``tbptt_steps``; forward, backward and step per chunk.

        The state's values flow from chunk to chunk (and, for stateful batches, to the next batch),
        but it is detached at every boundary, so no gradient crosses one.
        """
        optimizer = self.optimizers()
        state = self._carried.get("train") if batch.stateful else None
        sizes = chunk_sizes(batch.inputs.shape[1], self.tbptt_steps, self.tbptt_variable)
        for chunk in split_into_chunks(batch, sizes):
            # Rows already finished in this chunk still run one (ignored) step: packing needs length >= 1.
            preds, state = run_with_resets(self.model, chunk.inputs, chunk.lengths.clamp(min=1), state, chunk.resets)
            loss = self.loss(preds, chunk)
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            # A shorter chunk is a smaller sample of the gradient: scale its step (AWD-LSTM).
            with scaled_lr(optimizer.optimizer, chunk.inputs.shape[1] / self.tbptt_steps):
                optimizer.step()  # clipping runs in on_before_optimizer_step, after AMP unscaling
            state = detach_state(state)
            self._log_step("train", preds.detach(), chunk, loss.detach())
        if batch.stateful:
            self._carried["train"] = state
        scheduler = self.lr_schedulers()
        if scheduler is not None and self.scheduler_interval == "step":
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")
        scheduler = self.lr_schedulers() if not self.automatic_optimization else None
        if scheduler is not None and self.scheduler_interval == "epoch":
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(self.trainer.callback_metrics[self.monitor])
            else:
                scheduler.step()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Check and clip here, in both modes: gradients are already unscaled under AMP.

        A non-finite gradient norm (from a non-finite loss, or an fp16 overflow the grad scaler can no
        longer absorb) stops the run before the optimizer applies it, so the weights and every
        checkpoint stay as they were.
        """
        params = [p for p in (self._trainable or self.parameters()) if p.grad is not None]
        if self.gradient_clip_val is not None and self.gradient_clip_algorithm == "norm":
            norm = torch.nn.utils.clip_grad_norm_(params, self.gradient_clip_val)  # the pre-clip norm
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
        self._trainable = [p for p in self.parameters() if p.requires_grad]

    def on_validation_epoch_start(self) -> None:
        self._carried.pop("val", None)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_start(self) -> None:
        self._carried.pop("test", None)

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def _update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch, loss: Tensor, weight: int) -> None:
        if self.task == "language_modeling":
            return  # ppl and bpt come from the epoch's mean loss
        if self.task == "regression" and preds.dim() == 3:
            mask = _step_mask(batch.lengths, preds.shape[1], preds.device)
            metrics.update(self._unscaled(preds[mask]), self._unscaled(batch.targets[mask]))
        elif self.task == "regression":
            metrics.update(self._unscaled(preds), self._unscaled(batch.targets))
        else:  # class ids from logits, (B,) or (B, T)
            metrics.update(preds.argmax(-1), batch.targets)

    def _unscaled(self, values: Tensor) -> Tensor:
        """(..., F_out) regression values back in the data's own units."""
        if self.target_scale is None:
            return values
        return values * self.target_scale + self.target_shift

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        if self.tbptt_steps is not None:
            return self._tbptt_step(batch)
        return self._step(batch, "train")

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

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqtrain"] = self.metadata

    def carried_state(self) -> Any:
        """The recurrent state a stateful run carries into its next training batch (None: zeros).

        `seqtrain.resume.ExactResume` saves it per rank and gives it back on resume."""
        return self._carried.get("train")

    def restore_carried_state(self, state: Any) -> None:
        self._carried["train"] = state

    def on_train_epoch_start(self) -> None:
        self._carried.pop("train", None)  # each epoch starts from a zero state


def detach_state(state: Any) -> Any:
    """Cut the graph behind a recurrent state (a tensor, or LSTM's (h, c)); keep its values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def run_with_resets(model: nn.Module, inputs: Tensor, lengths: Tensor, state: Any, resets: Tensor | None) -> tuple[Tensor, Any]:
    """``model(inputs, lengths, state)``, with each row's state zeroed before the steps where ``resets`` is True.

    A document that starts mid-chunk must not see the last one's state. The chunk is cut at every
    step where some row starts a document, each piece runs through the model's fused kernel, and
    between pieces the state of the rows starting a document is multiplied by zero (so the earlier
    steps also get no gradient from the later ones). Cost: one model call per distinct start step
    in the chunk, so documents much shorter than ``batch_size x seq_len`` tokens slow training.
    """
    cuts = [] if resets is None else resets.any(0).nonzero().flatten().tolist()
    if not cuts:
        return model(inputs, lengths, state)
    bounds = [0, *(c for c in cuts if c > 0), inputs.shape[1]]
    outputs = []
    for start, end in pairwise(bounds):
        state = zero_rows(state, resets[:, start])
        preds, state = model(inputs[:, start:end], (lengths - start).clamp(1, end - start), state)
        outputs.append(preds)
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


def _step_mask(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """(B, T) bool, True on real steps."""
    return torch.arange(steps, device=device) < lengths.to(device, non_blocking=True)[:, None]
