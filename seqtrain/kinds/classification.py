"""Classification: one class per sequence; cross-entropy; accuracy and macro F1."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from seqtrain.kinds.base import Better, TaskKind, mean_cross_entropy, real_targets

if TYPE_CHECKING:
    from torch import Tensor
    from torchmetrics import MetricCollection

    from seqtrain.batch import Batch


class Classification(TaskKind):
    name = "classification"
    per_step: ClassVar[bool | None] = False
    metrics: ClassVar[dict[str, Better]] = {"acc": "max", "f1": "max"}
    smooths_labels: ClassVar[bool] = True

    def build_metrics(self) -> MetricCollection:
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        from seqtrain.batch import IGNORE_INDEX

        # Targets may carry IGNORE_INDEX (padding, or labels left out); the metrics skip them. No compute groups: each
        # metric keeps states of its own, which a mid-epoch checkpoint saves and a resume puts back (SequenceTask.epoch_sums).
        return MetricCollection({
            "acc": MulticlassAccuracy(self.num_outputs, average="micro", ignore_index=IGNORE_INDEX),
            "f1": MulticlassF1Score(self.num_outputs, average="macro", ignore_index=IGNORE_INDEX),
        }, compute_groups=False)

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        return mean_cross_entropy(preds, batch.targets, self.label_smoothing)  # (B, C) logits, (B,) class ids

    def weight(self, preds: Tensor, batch: Batch) -> Tensor:
        return real_targets(batch.targets)

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        metrics.update(preds.argmax(-1), batch.targets)


KIND = Classification
