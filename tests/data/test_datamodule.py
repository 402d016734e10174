"""Every datamodule: facts, argument checks, loader behaviour, and a real Lightning fit with checkpoint state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from lightning.pytorch import LightningModule, Trainer
from torch import nn
from torch.nn import functional as F

from seqtrain.batch import Batch
from seqtrain.data import (
    AddingDataModule,
    DataFacts,
    ParityDataModule,
    SequenceDataModule,
)
from seqtrain.data.sampler import BucketBatchSampler
from seqtrain.shipped import data_config_module

SMALL = {
    "shakespeare": lambda **kw: data_config_module("shakespeare", seq_len=32, batch_size=8, max_chars=20_000, stateful=False, **kw),
    "shakespeare_stateful": lambda **kw: data_config_module(
        "shakespeare", seq_len=32, batch_size=8, max_chars=20_000, stateful=True, **kw
    ),
    "vowels": lambda **kw: data_config_module("vowels", batch_size=16, **kw),
    "adding": lambda **kw: AddingDataModule(seq_len=20, num_train=64, num_val=16, num_test=16, batch_size=16, **kw),
    "parity": lambda **kw: ParityDataModule(
        seq_len=10, min_len=2, num_train=64, num_val=16, num_test=16, batch_size=16, **kw
    ),
    "parity_per_step": lambda **kw: ParityDataModule(
        seq_len=10, min_len=2, per_step=True, num_train=64, num_val=16, num_test=16, batch_size=16, **kw
    ),
}

EXPECTED_FACTS = {
    "vowels": DataFacts("classification", False, 9, num_features=12, class_names=tuple("123456789")),
    "adding": DataFacts("regression", False, 1, num_features=2),
    "parity": DataFacts("classification", False, 2, vocab_size=3, padding_idx=0, class_names=("even", "odd")),
    "parity_per_step": DataFacts("tagging", True, 2, vocab_size=3, padding_idx=0, class_names=("even", "odd")),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_facts_and_batches_agree(name: str) -> None:
    dm = SMALL[name]()
    with pytest.raises(RuntimeError, match="setup"):
        _ = dm.facts
    dm.setup("fit")
    dm.setup("fit")  # idempotent: Lightning calls it again
    facts = dm.facts
    if name in EXPECTED_FACTS:
        assert facts == EXPECTED_FACTS[name]
    else:
        assert facts.task == "language_modeling" and facts.per_step and facts.padding_idx == 0
        assert facts.num_outputs == facts.vocab_size == len(dm.tokenizer)
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert isinstance(batch, Batch) and batch.lengths.dtype == torch.long
        if facts.vocab_size is not None:
            assert batch.inputs.dtype == torch.long and batch.inputs.dim() == 2
            assert batch.inputs.min() >= 0 and batch.inputs.max() < facts.vocab_size
        else:
            assert batch.inputs.dtype == torch.float32 and batch.inputs.shape[2] == facts.num_features
        if facts.per_step:
            assert batch.targets.shape == batch.inputs.shape[:2]
        else:
            assert batch.targets.shape[0] == batch.inputs.shape[0] and batch.targets.dim() == (
                2 if facts.task == "regression" else 1
            )
        assert batch.stateful == (name == "shakespeare_stateful")


def test_val_and_test_keep_order_train_shuffles() -> None:
    dm = SMALL["adding"]()
    dm.setup()
    val = torch.cat([b.inputs for b in dm.val_dataloader()])
    assert torch.equal(val, torch.stack([x for x, _ in dm.split("val")]))
    train = torch.cat([b.inputs for b in dm.train_dataloader()])
    assert not torch.equal(train, torch.stack([x for x, _ in dm.split("train")]))


def test_bucketing_only_where_lengths_vary() -> None:
    """Training order always comes from BucketBatchSampler (seeded per epoch, so runs resume mid-epoch);
    it groups lengths only where they vary and bucketing is on: otherwise pools of one batch, a plain shuffle."""
    varied = SMALL["parity"]()
    varied.setup()
    assert varied.train_dataloader().sampler.bucket_factor == 50
    plain = SMALL["parity"](bucket=False)
    plain.setup()
    assert plain.train_dataloader().sampler.bucket_factor == 1
    fixed = SMALL["adding"]()
    fixed.setup()
    assert fixed.train_dataloader().sampler.bucket_factor == 1
    for dm in (varied, plain, fixed):
        assert isinstance(dm.train_dataloader().sampler, BucketBatchSampler)


def test_loader_options() -> None:
    dm = SMALL["parity"](num_workers=1, pin_memory=False)
    dm.setup()
    loader = dm.val_dataloader()
    assert loader.num_workers == 1 and loader.persistent_workers and not loader.pin_memory
    assert sum(len(b) for b in dm.train_dataloader()) == 64  # worker processes serve every example
    default = SMALL["parity"]()
    default.setup()
    assert default.val_dataloader().pin_memory == torch.cuda.is_available()
    assert not default.val_dataloader().persistent_workers


@pytest.mark.parametrize(
    ("make", "kwargs", "name"),
    [
        (SequenceDataModule, {"batch_size": 0}, "batch_size"),
        (SequenceDataModule, {"num_workers": -1}, "num_workers"),
        (AddingDataModule, {"seq_len": 1}, "seq_len"),
        (AddingDataModule, {"num_val": 0}, "num_val"),
        (ParityDataModule, {"seq_len": 0}, "seq_len"),
        (ParityDataModule, {"seq_len": 5, "min_len": 6}, "min_len"),
        (ParityDataModule, {"num_test": 0}, "num_test"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(make: type, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make(**kwargs)


def test_state_from_other_data_is_refused() -> None:
    vowels = data_config_module("vowels")
    vowels.setup()
    state = vowels.state_dict()
    state["facts"] = {**state["facts"], "num_outputs": 5}
    other = data_config_module("vowels")
    other.load_state_dict(state)
    with pytest.raises(ValueError, match="checkpoint"):
        other.setup()


class Probe(LightningModule):
    """The smallest model that consumes any of these batches; records the sampler epoch it saw."""

    def __init__(self, facts: DataFacts) -> None:
        super().__init__()
        self.facts = facts
        self.embed = nn.Embedding(facts.vocab_size, 8) if facts.vocab_size else nn.Linear(facts.num_features, 8)
        self.head = nn.Linear(8, facts.num_outputs)
        self.sampler_epochs: list[int] = []

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if batch_idx == 0:
            self.sampler_epochs.append(getattr(self.trainer.train_dataloader.sampler, "epoch", -1))
        return self._loss(batch)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch), batch_size=len(batch))

    def _loss(self, batch: Batch) -> torch.Tensor:
        hidden = self.embed(batch.inputs)  # (B, T, 8)
        if self.facts.per_step:
            return F.cross_entropy(self.head(hidden).transpose(1, 2), batch.targets)  # padding is IGNORE_INDEX
        out = self.head(hidden.mean(1))  # (B, O)
        return (
            F.mse_loss(out, batch.targets) if self.facts.task == "regression" else F.cross_entropy(out, batch.targets)
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("name", ["vowels", "shakespeare_stateful", "parity_per_step"])
def test_lightning_fit_sets_sampler_epoch_and_checkpoints_the_state(name: str, tmp_path: Path) -> None:
    dm = SMALL[name]()
    dm.setup()
    model = Probe(dm.facts)
    trainer = Trainer(
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=dm)
    if isinstance(dm.train_dataloader().sampler, BucketBatchSampler):
        assert model.sampler_epochs == [0, 1]  # Lightning called set_epoch on the bucket sampler
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)  # plain data only
    saved = checkpoint[type(dm).__qualname__]
    assert saved == dm.state_dict() and DataFacts.from_dict(saved["facts"]) == dm.facts
    fresh = SMALL[name]()
    fresh.load_state_dict(saved)
    fresh.setup()
    assert fresh.facts == dm.facts and fresh.state_dict() == saved


def test_overfit_batches_gets_plain_batches(tmp_path: Path) -> None:
    dm = SMALL["vowels"]()
    dm.setup()
    trainer = Trainer(
        overfit_batches=2,
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Probe(dm.facts), datamodule=dm)  # Lightning swaps in a SequentialSampler over plain examples
    assert trainer.global_step == 2


def test_bucketed_batches_shard_whole_across_ranks_under_lightnings_ddp_wrapper() -> None:
    dm = SMALL["parity"]()
    dm.setup()
    loader = dm.train_dataloader()
    per_rank = []
    for rank in (0, 1):  # what Lightning does to a custom sampler under DDP, on each of two ranks
        wrapper = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=rank, shuffle=True, seed=0)
        wrapper.set_epoch(1)
        per_rank.append([i for batch in wrapper for i in batch])
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == list(range(64))
