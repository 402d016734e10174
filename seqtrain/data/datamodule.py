"""The base datamodule: a subclass builds three splits and their facts, this serves them as `Batch` loaders."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePath
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities.parsing import collect_init_args
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from seqtrain.batch import Batch
from seqtrain.checks.arguments import check_positive
from seqtrain.data.collate import collate
from seqtrain.facts import DataFacts, fact_differences
from seqtrain.data.resumable import ResumableDataLoader
from seqtrain.data.sampler import BucketBatchSampler

Example = tuple[Tensor, Tensor]  # (inputs (T,) ids or (T, F) features, target)
Examples = Sequence[Example] | Dataset[Example]
Split = Literal["train", "val", "test"]


@dataclass
class Splits:
    """What `SequenceDataModule.build` returns.

    train / val / test: `(inputs, target)` examples, served by `SequenceDataModule.dataloader`
        (a subclass that overrides `dataloader` may hold anything its loader needs).
    facts: sizes the model and picks the loss.
    state: plain data fitted on the training split (vocabulary, scaling statistics); it is saved
        with checkpoints and handed back to `build` so evaluation never refits.
    """

    train: Any
    val: Any
    test: Any
    facts: DataFacts
    state: dict[str, Any] = field(default_factory=dict)


class IndexedBatches(Dataset[Batch]):
    """Examples looked up by a list of indices and collated into one `Batch`."""

    def __init__(self, examples: Examples, collate_fn: Callable[[list[Example]], Batch]) -> None:
        self.examples = examples
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, indices: list[int]) -> Batch:
        if isinstance(indices, int):
            raise TypeError("IndexedBatches is indexed by a batch (a list of indices) from BucketBatchSampler")
        return self.collate_fn([self.examples[i] for i in indices])


def example_lengths(examples: Examples) -> list[int]:
    """The length of each example's inputs (a dataset may precompute them as `.lengths`)."""
    lengths = getattr(examples, "lengths", None)
    return list(lengths) if lengths is not None else [x.shape[0] for x, _ in examples]


class SequenceDataModule(LightningDataModule):
    """Base of the datamodules: subclasses implement `build`; this adds loaders, setup and checkpoint state.

    Args:
        batch_size: sequences (or, for stateful streams, parallel streams) per batch.
        num_workers: DataLoader worker processes (kept alive across epochs when > 0).
        pin_memory: pin batches for faster host-to-GPU copies; None means "when CUDA is available".
        bucket: batch training sequences of similar length together (only where lengths vary).
        seed: seeds everything random in the data: generation, splits, shuffling.
    """

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        bucket: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        # The called class's constructor arguments (its own and those passed on in **kwargs), as plain data:
        # checkpoints carry them, so a datamodule built in Python is rebuilt like a configured one.
        called = collect_init_args(inspect.currentframe(), [], classes=(LightningDataModule,))[-1]
        arguments, self.unsaved_arguments = plain_arguments(called)
        self.save_hyperparameters(arguments, logger=False)
        check_positive(batch_size=batch_size)
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.bucket = bucket
        self.seed = seed
        self._splits: Splits | None = None
        self._saved_state: dict[str, Any] | None = None

    def build(self, saved: dict[str, Any] | None) -> Splits:
        """Make the splits and facts; reuse `saved` (a checkpoint's `Splits.state`), when given, instead of fitting."""
        raise NotImplementedError

    @property
    def facts(self) -> DataFacts:
        if self._splits is None:
            raise RuntimeError(f"{type(self).__name__}.facts is known only after setup()")
        return self._splits.facts

    def setup(self, stage: str | None = None) -> None:
        """Build all splits once; later calls (Lightning calls setup again inside fit/test) do nothing."""
        if self._splits is not None:
            return
        saved = self._saved_state
        splits = self.build(None if saved is None else {k: v for k, v in saved.items() if k != "facts"})
        if saved is not None and "facts" in saved and fact_differences(saved["facts"], splits.facts):
            raise ValueError(
                f"{type(self).__name__}: the data gives {splits.facts}, the loaded state says "
                f"{DataFacts.from_dict(saved['facts'])}; was the checkpoint trained on other data?"
            )
        self._splits = splits

    def state_dict(self) -> dict[str, Any]:
        """Plain data saved in checkpoints: the facts and what was fitted on the training split."""
        if self._splits is None:
            return copy.deepcopy(self._saved_state or {})
        return {"facts": self.facts.to_dict(), **copy.deepcopy(self._splits.state)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take a checkpoint's fitted state: before `setup` it replaces fitting; after, a differing one rebuilds."""
        self._saved_state = copy.deepcopy(dict(state_dict))
        # Lightning restores a checkpoint after calling setup, so a resumed run lands here set up.
        if self._splits is not None and self.state_dict() != self._saved_state:
            self._splits = None
            self.setup()

    def serve_as_test(self, test: Any) -> None:
        """Serve ``test`` (one split as `build` makes it) as the test split, with the loaded state: new data scored
        by a trained model (`seqtrain.predict`) is laid out as the run's test split was, and no training data is read."""
        if self._saved_state is None or "facts" not in self._saved_state:
            raise RuntimeError(f"call {type(self).__name__}.load_state_dict() with a checkpoint's state first")
        state = {k: v for k, v in self._saved_state.items() if k != "facts"}
        self._splits = Splits(None, None, test, DataFacts.from_dict(self._saved_state["facts"]), state)

    def train_dataloader(self) -> DataLoader:
        # A ResumableDataLoader: Lightning saves where it is in the epoch and restores it on resume.
        return self.dataloader("train")

    def val_dataloader(self) -> DataLoader:
        return self.dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.dataloader("test")

    def dataloader(self, split: Split) -> DataLoader:
        """A loader of `Batch`es: train shuffled (bucketed by length where lengths vary), val/test in order."""
        examples = self.split(split)
        facts = self.facts
        input_padding = facts.padding_idx if facts.vocab_size is not None else 0.0
        collate_fn = partial(collate, input_padding=input_padding, per_step=facts.per_step)
        if split != "train":
            return self.loader(examples, batch_size=self.batch_size, sampler=self._eval_sampler(examples),
                               collate_fn=collate_fn)
        lengths = example_lengths(examples)
        # Trainer(overfit_batches=...) swaps the train sampler for a SequentialSampler: serve it plain examples.
        if self.trainer is not None and self.trainer.overfit_batches > 0:
            return self.loader(examples, batch_size=self.batch_size, shuffle=True, collate_fn=collate_fn)
        # The batch sampler goes in as the loader's *sampler* (batch_size=None): Lightning calls set_epoch only on
        # `loader.sampler`, and under DDP wraps it to hand each rank whole batches. Without bucketing it is a plain
        # shuffle (pools of one batch); the order is a function of (seed, epoch), so a run resumes on the same batches.
        bucket_factor = 50 if self.bucket and len(set(lengths)) > 1 else 1
        sampler = BucketBatchSampler(lengths, self.batch_size, seed=self.seed, bucket_factor=bucket_factor)
        return self.loader(IndexedBatches(examples, collate_fn), sampler=sampler, batch_size=None)

    def _eval_sampler(self, examples: Examples) -> Any:
        """Under DDP, each val/test example on exactly one rank; None (in order) on one device.

        Lightning's own DistributedSampler evens the ranks out by repeating examples, which would
        count them twice in the metrics; rank loads may differ by one batch, which evaluation allows
        (no gradient sync; the metrics are reduced once per epoch).
        """
        if self.trainer is None or self.trainer.world_size == 1:
            return None
        from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

        return UnrepeatedDistributedSampler(examples, num_replicas=self.trainer.world_size,
                                            rank=self.trainer.global_rank, shuffle=False)

    def loader(self, dataset: Any, **kwargs: Any) -> ResumableDataLoader:
        """Every loader of the datamodule: resumable mid-epoch, workers and pinning as configured, and
        its own random generator, so building one never draws from the global random stream."""
        pin_memory = torch.cuda.is_available() if self.pin_memory is None else self.pin_memory
        return ResumableDataLoader(dataset, num_workers=self.num_workers, pin_memory=pin_memory, persistent_workers=self.num_workers > 0,
                                   generator=torch.Generator().manual_seed(self.seed), **kwargs)

    def split(self, split: Split) -> Any:
        """One split as built (examples, or what a subclass's loader serves), after `setup`."""
        if self._splits is None:
            raise RuntimeError(f"call {type(self).__name__}.setup() before asking for data")
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        return getattr(self._splits, split)


def plain_arguments(arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Constructor arguments as plain data, and the names of those left out: paths become strings, tuples and
    OmegaConf containers lists and dicts; a value of any other type cannot be saved (a checkpoint could not
    load it with ``weights_only=True``), so that datamodule cannot be rebuilt from a checkpoint alone."""
    from omegaconf import Container, OmegaConf

    def plain(value: Any) -> Any:
        if isinstance(value, Container):
            value = OmegaConf.to_container(value, resolve=True)
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, PurePath):
            return str(value)
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: plain(v) for k, v in value.items()}
        raise TypeError(type(value).__name__)

    saved, unsaved = {}, []
    for name, value in arguments.items():
        try:
            saved[name] = plain(value)
        except TypeError:
            unsaved.append(name)
    return saved, unsaved
