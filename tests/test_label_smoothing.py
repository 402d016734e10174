"""`task.label_smoothing`: the cross-entropy against smoothed targets, checked by hand; kept by a checkpoint."""

from __future__ import annotations

import pytest
import torch

from seqtrain.batch import IGNORE_INDEX
from seqtrain.checkpoint import saved_label_smoothing
from seqtrain.kinds.classification import Classification
from seqtrain.kinds.language_modeling import LanguageModeling
from seqtrain.kinds.tagging import Tagging
from seqtrain.task import build_kind


def smoothed_cross_entropy_by_hand(logits: torch.Tensor, targets: torch.Tensor, eps: float) -> float:
    """Mean over real targets of -sum_c q_c log p_c, with q = (1 - eps) one_hot(y) + eps / C (Szegedy et al. 2016)."""
    logits, targets = logits.reshape(-1, logits.shape[-1]).double(), targets.reshape(-1)
    num_classes = logits.shape[-1]
    losses = []
    for row, y in zip(logits, targets.tolist()):
        if y == IGNORE_INDEX:
            continue
        log_p = row - torch.logsumexp(row, 0)
        q = torch.full((num_classes,), eps / num_classes, dtype=torch.float64)
        q[y] += 1.0 - eps
        losses.append(float(-(q * log_p).sum()))
    return sum(losses) / len(losses)


class _Batch:
    def __init__(self, targets: torch.Tensor) -> None:
        self.targets = targets


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_classification_loss_is_the_smoothed_cross_entropy_over_real_targets(eps: float) -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=gen) * 3
    targets = torch.tensor([0, 3, IGNORE_INDEX, 1, 2, 3])
    loss = Classification(4, label_smoothing=eps).loss(logits, _Batch(targets))
    assert float(loss) == pytest.approx(smoothed_cross_entropy_by_hand(logits, targets, eps), rel=1e-5)


def test_tagging_smooths_each_real_step_and_skips_padding() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 3, generator=gen) * 2
    targets = torch.tensor([[0, 2, 1, IGNORE_INDEX, IGNORE_INDEX], [1, 1, 0, 2, 0]])
    loss = Tagging(3, label_smoothing=0.2).loss(logits, _Batch(targets))
    assert float(loss) == pytest.approx(smoothed_cross_entropy_by_hand(logits, targets, 0.2), rel=1e-5)
    unsmoothed = Tagging(3).loss(logits, _Batch(targets))
    assert float(unsmoothed) == pytest.approx(smoothed_cross_entropy_by_hand(logits, targets, 0.0), rel=1e-5)
    assert float(loss) != pytest.approx(float(unsmoothed))


def test_smoothing_does_not_move_the_best_logits_of_a_confident_model() -> None:
    """With ε > 0 the loss has its minimum at a finite margin: confident logits cost more than moderate ones."""
    kind = Classification(3, label_smoothing=0.1)
    targets = _Batch(torch.tensor([0]))
    losses = [float(kind.loss(torch.tensor([[m, 0.0, 0.0]]), targets)) for m in (2.0, 4.0, 30.0)]
    assert losses[1] < losses[0] and losses[1] < losses[2]  # unsmoothed, the loss falls all the way to 30
    plain = Classification(3)
    assert float(plain.loss(torch.tensor([[30.0, 0.0, 0.0]]), targets)) < float(plain.loss(torch.tensor([[4.0, 0.0, 0.0]]), targets))


@pytest.mark.parametrize("eps", [1.0, -0.1, 1.5, True, "0.1"])
def test_out_of_range_or_not_a_number_is_refused(eps: object) -> None:
    with pytest.raises(ValueError, match="label_smoothing must be a number in \\[0, 1\\)"):
        Classification(3, label_smoothing=eps)  # type: ignore[arg-type]


def test_kinds_whose_loss_is_not_a_class_cross_entropy_refuse_it() -> None:
    with pytest.raises(ValueError, match="applies to classification and tagging, not language_modeling"):
        LanguageModeling(10, label_smoothing=0.1)
    with pytest.raises(ValueError, match="applies to classification and tagging, not task='regression'"):
        build_kind("regression", 1, [1.0], [0.0], label_smoothing=0.1)
    assert build_kind("classification", 3, None, None, label_smoothing=0.1).label_smoothing == 0.1


def test_a_checkpoint_from_before_the_key_evaluates_without_smoothing() -> None:
    assert saved_label_smoothing({"config": {"model": {}, "data": {}}}) == 0.0
    assert saved_label_smoothing({"config": {"task": {"tbptt_steps": None}}}) == 0.0
    assert saved_label_smoothing({"config": {"task": {"label_smoothing": 0.1}}}) == 0.1
