"""Regression: real value(s) per sequence or per step; MSE on the scaled targets, metrics in the data's units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from seqtrain.kinds.base import Better, TaskKind

if TYPE_CHECKING:
    import torch
    from torch import Tensor
    from torchmetrics import MetricCollection

    from seqtrain.batch import Batch


class Regression(TaskKind):
    """Targets (B, F_out) per sequence or (B, T, F_out) per step, padding masked by `lengths`.

    target_scale / target_shift: the targets arrive scaled (`DataFacts.target_scale`), one entry per
    output: `original = scaled * target_scale + target_shift`. The loss is on the scaled values;
    mse, rmse and mae are in the data's own units.
    """

    name = "regression"
    per_step: ClassVar[bool | None] = None  # either
    metrics: ClassVar[dict[str, Better]] = {"mse": "min", "rmse": "min", "mae": "min"}

    def __init__(self, num_outputs: int, target_scale: Sequence[float] | None = None,
                 target_shift: Sequence[float] | None = None) -> None:
        super().__init__(num_outputs)
        if (target_scale is None) != (target_shift is None):
            raise ValueError("give both target_scale and target_shift, or neither")
        if target_scale is not None and not len(target_scale) == len(target_shift) == num_outputs:
            raise ValueError(f"target_scale and target_shift need one entry per output ({num_outputs}), "
                             f"got {len(target_scale)} and {len(target_shift)}")
        self.target_scale = None if target_scale is None else tuple(float(v) for v in target_scale)
        self.target_shift = None if target_shift is None else tuple(float(v) for v in target_shift)
        self._on_device: dict[torch.device, tuple[Tensor, Tensor]] = {}  # (F_out,) scale and shift per device

    def build_metrics(self) -> MetricCollection:
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

        # No compute groups: each metric keeps states of its own (see Classification.build_metrics).
        return MetricCollection(
            {"mse": MeanSquaredError(), "rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError()},
            compute_groups=False,
        )

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        import torch.nn.functional as F

        preds, targets = self._real(preds, batch)
        return F.mse_loss(preds, targets)

    def weight(self, preds: Tensor, batch: Batch) -> int:
        # lengths live on the CPU: no device sync. Every real step holds all F_out values.
        return int(batch.lengths.sum()) if preds.dim() == 3 else len(batch)

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        preds, targets = self._real(preds, batch)
        metrics.update(self._unscaled(preds), self._unscaled(targets))

    def _real(self, preds: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        """Predictions and targets of the real steps: (N, F_out), N = B or the real steps of a per-step batch."""
        if preds.dim() != 3:
            return preds, batch.targets
        import torch

        mask = torch.arange(preds.shape[1], device=preds.device) < batch.lengths.to(preds.device, non_blocking=True)[:, None]
        return preds[mask], batch.targets[mask]  # mask (B, T)

    def _unscaled(self, values: Tensor) -> Tensor:
        """(..., F_out) values back in the data's own units."""
        if self.target_scale is None:
            return values
        if values.device not in self._on_device:
            self._on_device[values.device] = (values.new_tensor(self.target_scale), values.new_tensor(self.target_shift))
        scale, shift = self._on_device[values.device]
        return values * scale + shift


KIND = Regression
