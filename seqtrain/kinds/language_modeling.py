"""Language modelling: the next token at every step; cross-entropy in nats per token, perplexity, bits per token."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from seqtrain.kinds.base import Better, TaskKind, mean_cross_entropy, real_targets

if TYPE_CHECKING:
    from torch import Tensor
    from torchmetrics import MetricCollection

    from seqtrain.batch import Batch


class LanguageModeling(TaskKind):
    """Perplexity and bits per token are functions of the epoch's token-weighted mean loss, so they are
    derived from it once per epoch rather than updated per step."""

    name = "language_modeling"
    per_step: ClassVar[bool | None] = True
    metrics: ClassVar[dict[str, Better]] = {"ppl": "min", "bpt": "min"}
    next_step = True  # a bidirectional model would read its targets
    ties_weights = True  # output classes = input tokens

    def build_metrics(self) -> MetricCollection:
        from torchmetrics import MetricCollection

        return MetricCollection({})

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        return mean_cross_entropy(preds, batch.targets)  # (B, T, V) logits, (B, T) next tokens

    def weight(self, preds: Tensor, batch: Batch) -> Tensor:
        return real_targets(batch.targets)

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        pass  # ppl and bpt come from the epoch's mean loss

    def epoch_metrics(self, mean_loss: Tensor) -> dict[str, Tensor]:
        return {"ppl": mean_loss.exp(), "bpt": mean_loss / math.log(2)}


KIND = LanguageModeling
