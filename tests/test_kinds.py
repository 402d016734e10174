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


# --- Every combination either trains or is refused by the kind's own checks (README's table) ----------

from itertools import product  # noqa: E402

from seqtrain.kinds import DataTargets, RunChoices  # noqa: E402

MODEL_OPTIONS = {"cell": "gru", "hidden_size": 8, "num_layers": 1, "nonlinearity": "tanh", "bias": True, "dropout": 0.0, "proj_size": 0,
                 "embedding_dim": 4, "embedding_dropout": 0.0, "head_dropout": 0.0, "head": "auto", "tie_weights": False, "patch_size": 1,
                 "patch_shift": False, "patch_spectrum": False, "input_noise": 0.0, "crop": 1.0, "instance_norm": None, "differences": None, "relative_to": None, "ar_highway": None, "bag": None,
                 "bag_buckets": 64}
# Each kind with the targets its data can have: (per_step, next_step).
LAYOUTS = [("classification", False, False), ("regression", False, False), ("regression", True, False),
           ("regression", True, True), ("tagging", True, False), ("language_modeling", True, True)]


def matrix() -> list:
    cases = []
    for (kind, per_step, next_step), pooling, bidirectional, tbptt, stateful, precision in product(
        LAYOUTS, [None, "last", "mean", "max"], [False, True], [None, 4], [False, True], ["32-true", "bf16-mixed"]
    ):
        cases.append(pytest.param(kind, per_step, next_step, pooling, bidirectional, tbptt, stateful, precision,
                                  id=f"{kind}-step{int(per_step)}{'-next' if next_step else ''}-{pooling}-bi{int(bidirectional)}"
                                     f"-tbptt{tbptt}-stateful{int(stateful)}-{precision}"))
    return cases


def _batches(kind: str, per_step: bool, stateful: bool) -> list[Batch]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(2):
        lengths = torch.tensor([T, T]) if stateful else torch.tensor([T, 5])
        inputs = torch.randint(1, V, (2, T), generator=g)
        if kind == "regression":
            targets = torch.randn(2, T, 1, generator=g) if per_step else torch.randn(2, 1, generator=g)
        else:
            targets = torch.randint(0, CLASSES, (2, T) if per_step else (2,), generator=g)
            if per_step:
                targets[torch.arange(T)[None, :] >= lengths[:, None]] = IGNORE_INDEX
        out.append(Batch(inputs, lengths, targets, stateful=stateful))
    return out


def test_the_matrix_options_are_a_valid_model_config() -> None:
    # Otherwise every combination below would be "refused" by a missing field and none would train.
    from seqtrain.config import ModelOptions

    ModelOptions.model_validate({"_target_": "seqtrain.models.SequenceModel", **MODEL_OPTIONS, "pooling": None, "bidirectional": False})


@pytest.mark.parametrize(("kind", "per_step", "next_step", "pooling", "bidirectional", "tbptt", "stateful", "precision"),
                         matrix())
def test_every_combination_trains_or_is_refused(kind: str, per_step: bool, next_step: bool, pooling: str | None,
                                                bidirectional: bool, tbptt: int | None, stateful: bool,
                                                precision: str) -> None:
    from seqtrain.config import ModelOptions

    options = {**MODEL_OPTIONS, "pooling": pooling, "bidirectional": bidirectional}
    run = RunChoices(DataTargets(kind, per_step, next_step, source="data=test"), options, tbptt, stateful)
    problems = kind_named(kind).problems(run)
    # The cross-group rules of seqtrain.config (direction with carried state or chunks), as a run applies them.
    if bidirectional and (tbptt is not None or stateful):
        problems.append("bidirectional with carried state")
    try:
        ModelOptions.model_validate({"_target_": "seqtrain.models.SequenceModel", **options})
    except Exception as e:  # noqa: BLE001
        problems.append(str(e))
    if problems:
        return  # refused before any data is read (the corpus in test_refusals_config.py checks the messages)
    torch.manual_seed(0)
    outputs = CLASSES if kind != "regression" else 1
    model = SequenceModel(**options, vocab_size=V, padding_idx=0, num_outputs=V if kind == "language_modeling" else outputs,
                          per_step_targets=per_step)
    task = SequenceTask(model, kind, V if kind == "language_modeling" else outputs,
                        functools.partial(torch.optim.SGD, lr=0.1), tbptt_steps=tbptt)
    batches = _batches(kind, per_step, stateful)
    if kind == "language_modeling":
        for b in batches:
            b.targets = b.targets.clamp(max=V - 1)
    loader = DataLoader(batches, batch_size=None, collate_fn=lambda b: b)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", precision=precision, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(task, train_dataloaders=loader, val_dataloaders=loader)
    metrics = trainer.callback_metrics
    assert trainer.global_step == 2  # one step per batch, also under truncated BPTT
    assert torch.isfinite(metrics["train/loss"]) and torch.isfinite(metrics["val/loss"])
    assert {f"val/{name}" for name in kind_named(kind).logged()} <= set(metrics)
