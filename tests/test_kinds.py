"""Task kinds (`seqtrain.kinds`): losses and epoch means held to torch.nn's own cross-entropy over real targets."""

from __future__ import annotations

import functools

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from seqtrain.batch import IGNORE_INDEX, Batch
from seqtrain.kinds import kind_named, kind_names
from seqtrain.models import SequenceModel
from seqtrain.task import SequenceTask

V, CLASSES, T = 6, 3, 8


def tagging_batches() -> list[Batch]:
    """Tagging batches with ignored steps inside the lengths (labels left out), one with no real target at all."""
    g = torch.Generator().manual_seed(0)
    batches = []
    for lengths, ignored in (([T, 5], [(0, 2), (0, 3), (1, 4)]), ([4, 4, 4], "all"), ([T, 2, 6], [(2, 0)])):
        lengths = torch.tensor(lengths)
        inputs = torch.randint(1, V, (len(lengths), T), generator=g)
        targets = torch.randint(0, CLASSES, (len(lengths), T), generator=g)
        targets[torch.arange(T)[None, :] >= lengths[:, None]] = IGNORE_INDEX
        if ignored == "all":
            targets[:] = IGNORE_INDEX
        else:
            for row, step in ignored:
                targets[row, step] = IGNORE_INDEX
        batches.append(Batch(inputs, lengths, targets))
    return batches


def tagger() -> SequenceModel:
    torch.manual_seed(0)
    return SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, vocab_size=V, padding_idx=0,
                         num_outputs=CLASSES, per_step_targets=True)


def test_a_batch_without_real_targets_has_zero_loss_not_nan() -> None:
    kind = kind_named("tagging")(CLASSES)
    batch = tagging_batches()[1]
    preds, _ = tagger()(batch.inputs, batch.lengths)
    loss = kind.loss(preds, batch)
    assert float(loss) == 0.0 and int(kind.weight(preds, batch)) == 0
    loss.backward()  # and it trains on nothing: zero gradients, no NaN


def test_tagging_epoch_mean_is_weighted_by_real_targets() -> None:
    """val/loss = sum of cross-entropy over every non-ignored target / their count (not lengths.sum())."""
    model = tagger()
    batches = tagging_batches()
    task = SequenceTask(model, "tagging", CLASSES, functools.partial(torch.optim.SGD, lr=0.0))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    loader = DataLoader(batches, batch_size=None, collate_fn=lambda b: b)
    metrics = trainer.validate(task, dataloaders=loader, verbose=False)[0]
    with torch.no_grad():
        total = sum(F.cross_entropy(model(b.inputs, b.lengths)[0].flatten(0, 1), b.targets.flatten(),
                                    ignore_index=IGNORE_INDEX, reduction="sum") for b in batches)
    real = sum(int((b.targets != IGNORE_INDEX).sum()) for b in batches)
    assert real < sum(int(b.lengths.sum()) for b in batches)  # the case the old weighting got wrong
    assert metrics["val/loss"] == pytest.approx(float(total) / real, rel=1e-5)


def test_every_kind_names_its_metrics_and_builds_them() -> None:
    """What a kind says it logs (checked against `monitor` before data is read) is what it builds."""
    for name in kind_names():
        cls = kind_named(name)
        kind = cls(4)
        built = set(kind.build_metrics().keys()) | set(kind.epoch_metrics(torch.tensor(1.0)))
        assert built == set(cls.metrics), name
        assert cls.name == name
