"""Synthetic memory tasks generated from a seed: the adding problem and parity."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqtrain.checks.arguments import check_positive
from seqtrain.data.datamodule import SequenceDataModule, Splits
from seqtrain.facts import DataFacts

SPLITS = ("train", "val", "test")


def split_generator(seed: int, split: str) -> torch.Generator:
    """A generator per (seed, split): each split is reproducible on its own, whatever the others' sizes."""
    return torch.Generator().manual_seed(3 * seed + SPLITS.index(split))  # distinct for every (seed, split)


class AddingDataModule(SequenceDataModule):
    """The adding problem (Hochreiter & Schmidhuber, 1997): sum the two marked values of a long sequence.

    Each step is [value ~ U(0, 1), marker in {0, 1}]; exactly one marker falls in each half of the
    sequence, and the target is the sum of the two marked values. Predicting the mean (1.0) gives
    an MSE of about 0.167, the baseline a model must beat to show memory.
    """

    def __init__(
        self, seq_len: int = 50, num_train: int = 10000, num_val: int = 1000, num_test: int = 1000, **base: Any
    ) -> None:
        super().__init__(**base)
        if seq_len < 2:
            raise ValueError(f"seq_len must be >= 2 (one marker in each half), got {seq_len}")
        check_positive(num_train=num_train, num_val=num_val, num_test=num_test)
        self.seq_len = seq_len
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}

    def generate(self, split: str) -> list[tuple[Tensor, Tensor]]:
        """One split's examples: inputs (T, 2) float32, target (1,) float32."""
        n, length, generator = self.sizes[split], self.seq_len, split_generator(self.seed, split)
        values = torch.rand(n, length, generator=generator)  # (N, T)
        first = torch.randint(0, length // 2, (n,), generator=generator)  # (N,), in the first half
        second = torch.randint(length // 2, length, (n,), generator=generator)  # (N,), in the second half
        markers = torch.zeros(n, length)
        markers[torch.arange(n), first] = 1.0
        markers[torch.arange(n), second] = 1.0
        inputs = torch.stack([values, markers], dim=-1)  # (N, T, 2)
        targets = (values * markers).sum(1, keepdim=True)  # (N, 1)
        return list(zip(inputs.unbind(0), targets.unbind(0)))

    def build(self, saved: dict[str, Any] | None) -> Splits:
        facts = DataFacts(task="regression", per_step=False, num_outputs=1, num_features=2)
        return Splits(*(self.generate(split) for split in SPLITS), facts=facts)


class ParityDataModule(SequenceDataModule):
    """Parity of random bit strings: bits are tokens 1 and 2 (0 pads), lengths uniform in [min_len, seq_len].

    `per_step=False`: classify the parity of the whole string (odd number of ones = class 1).
    `per_step=True`: tag every step with the parity of the bits so far.
    """

    def __init__(
        self,
        seq_len: int = 20,
        min_len: int | None = None,
        per_step: bool = False,
        num_train: int = 5000,
        num_val: int = 500,
        num_test: int = 500,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        check_positive(seq_len=seq_len)
        if min_len is not None and not 1 <= min_len <= seq_len:
            raise ValueError(f"min_len must be in [1, seq_len={seq_len}] or None, got {min_len}")
        check_positive(num_train=num_train, num_val=num_val, num_test=num_test)
        self.seq_len = seq_len
        self.min_len = seq_len if min_len is None else min_len
        self.per_step = per_step
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}

    def generate(self, split: str) -> list[tuple[Tensor, Tensor]]:
        """One split's examples: inputs (T,) long in {1, 2}; target () or (T,) long in {0, 1}."""
        n, generator = self.sizes[split], split_generator(self.seed, split)
        lengths = torch.randint(self.min_len, self.seq_len + 1, (n,), generator=generator)  # (N,)
        bits = torch.randint(0, 2, (n, self.seq_len), generator=generator)  # (N, T_max)
        examples = []
        for row, length in zip(bits, lengths.tolist()):
            string = row[:length]  # (T,)
            target = string.cumsum(0) % 2 if self.per_step else string.sum() % 2  # (T,) / ()
            examples.append((string + 1, target))
        return examples

    def build(self, saved: dict[str, Any] | None) -> Splits:
        facts = DataFacts(task="tagging" if self.per_step else "classification", per_step=self.per_step, num_outputs=2,
                          vocab_size=3, padding_idx=0, class_names=("even", "odd"))
        return Splits(*(self.generate(split) for split in SPLITS), facts=facts)
