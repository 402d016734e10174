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
        self._on_device: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}  # (F_out,) scale, shift

    def build_metrics(self) -> MetricCollection:
        import torch
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

        # No compute groups: each metric keeps states of its own (see Classification.build_metrics). Sums in float64:
        # in the data's own units a target of 1e20 fits float32, its square does not (the metric was inf, the run
        # "completed"), and a sum over many rows overflows sooner. Apple's MPS has no float64 (`metrics_on`).
        metrics = MetricCollection(
            {"mse": MeanSquaredError(), "rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError()},
            compute_groups=False,
        )
        float_sums(metrics, torch.float64)
        return metrics

    def metrics_on(self, metrics: MetricCollection, device: torch.device) -> None:
        import torch

        if device.type == "mps":  # no float64 there: float32 sums, as before
            float_sums(metrics, torch.float32)

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        import torch.nn.functional as F

        preds, targets = self._real(preds, batch)
        return F.mse_loss(preds, targets)

    def weight(self, preds: Tensor, batch: Batch) -> int:
        # lengths live on the CPU: no device sync. Every real step holds all F_out values.
        return int(batch.lengths.sum()) if preds.dim() == 3 else len(batch)

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        import torch

        preds, targets = self._real(preds, batch)
        dtype = preds.dtype if preds.device.type == "mps" else torch.float64  # the metrics' sums (build_metrics)
        metrics.update(self._unscaled(preds.to(dtype)), self._unscaled(targets.to(dtype)))

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
        where = (values.device, values.dtype)
        if where not in self._on_device:
            self._on_device[where] = (values.new_tensor(self.target_scale), values.new_tensor(self.target_shift))
        scale, shift = self._on_device[where]
        return values * scale + shift


def float_sums(metrics: MetricCollection, dtype: torch.dtype) -> None:
    """Each metric's floating-point states (and the defaults `reset` restores) in `dtype`; counts stay integers.
    torchmetrics' own `set_dtype` converts every state, counts included (float32 counts are exact only to 2**24)."""
    import torch

    for metric in metrics.values():
        for name, default in metric._defaults.items():  # torchmetrics keeps the defaults private
            if isinstance(default, torch.Tensor) and torch.is_floating_point(default):
                metric._defaults[name] = default.to(dtype)
                setattr(metric, name, getattr(metric, name).to(dtype))


KIND = Regression
