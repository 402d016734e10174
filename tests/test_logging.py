"""What SequenceTask logs: the step loss and grad norm on the logger's steps, epoch means weighted by targets."""

from __future__ import annotations

import copy
import csv
import functools
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from seqtrain.batch import Batch
from seqtrain.models import SequenceModel
from seqtrain.task import SequenceTask

FEATURES, CLASSES = 3, 4
TRAIN_SIZES, VAL_SIZES = [3, 5, 2, 4, 6], [7, 1]  # unequal batches: the epoch means must weight them


def make_batches(sizes: list[int], seed: int) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    batches = []
    for size in sizes:
        lengths = torch.randint(2, 7, (size,), generator=g)
        inputs = torch.randn(size, 6, FEATURES, generator=g)
        batches.append(Batch(inputs, lengths, torch.randint(0, CLASSES, (size,), generator=g)))
    return batches


def loader(batches: list[Batch]) -> DataLoader:
    return DataLoader(batches, batch_size=None, collate_fn=lambda b: b)


def read_rows(folder: Path) -> list[dict[str, str]]:
    (path,) = folder.rglob("metrics.csv")
    with path.open() as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) for row in rows if row.get(name)]


def test_step_values_on_logged_steps_and_epoch_means_weighted_by_targets(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=None, num_features=FEATURES, num_outputs=CLASSES)
    reference = copy.deepcopy(model)  # lr 0: the weights never change, so each loss can be recomputed alone
    task = SequenceTask(model, "classification", CLASSES, optimizer=functools.partial(torch.optim.SGD, lr=0.0),
                        gradient_clip_val=1e-3)
    train, val = make_batches(TRAIN_SIZES, 1), make_batches(VAL_SIZES, 2)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=CSVLogger(tmp_path), log_every_n_steps=2,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(task, loader(train), loader(val))

    def loss_and_norm(batch: Batch) -> tuple[float, float]:
        reference.zero_grad()
        loss = F.cross_entropy(reference(batch.inputs, batch.lengths)[0], batch.targets)
        loss.backward()
        return loss.item(), torch.nn.utils.get_total_norm([p.grad for p in reference.parameters()]).item()

    train_values = [loss_and_norm(b) for b in train]
    val_losses = [loss_and_norm(b)[0] for b in val]
    rows = read_rows(tmp_path)
    # Batches 2, 4, 6, 8, 10 of the run (log_every_n_steps=2): epoch 1's 2nd and 4th, epoch 2's 1st, 3rd, 5th.
    logged = [train_values[i] for i in (1, 3, 0, 2, 4)]
    assert column(rows, "train/loss_step") == pytest.approx([loss for loss, _ in logged], abs=1e-5)
    assert column(rows, "train/grad_norm") == pytest.approx([norm for _, norm in logged], abs=1e-5)  # before clipping
    mean = sum(n * loss for n, (loss, _) in zip(TRAIN_SIZES, train_values)) / sum(TRAIN_SIZES)
    assert column(rows, "train/loss") == pytest.approx([mean, mean], abs=1e-5)
    val_mean = sum(n * loss for n, loss in zip(VAL_SIZES, val_losses)) / sum(VAL_SIZES)
    assert column(rows, "val/loss") == pytest.approx([val_mean, val_mean], abs=1e-5)
    assert len(column(rows, "train/acc")) == 2 and len(column(rows, "val/f1")) == 2  # once per epoch


def test_weighted_mean_weights_each_update_and_keeps_nan() -> None:
    from seqtrain.task import WeightedMean

    metric = WeightedMean()
    for loss, n in zip([2.0, 1.0, 4.0], [10, 30, 5]):
        metric.update(torch.tensor(loss), n)
    assert metric.compute().item() == pytest.approx((20 + 30 + 20) / 45, rel=1e-6)
    metric.update(torch.tensor(float("nan")), 1)
    assert torch.isnan(metric.compute())  # a NaN loss is reported, not dropped from the mean

