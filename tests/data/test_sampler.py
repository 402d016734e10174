"""BucketBatchSampler: a permutation per epoch, reproducible, and far less padding than random batches."""

from __future__ import annotations

import torch

from seqtrain.data import BucketBatchSampler
from seqtrain.shipped import data_config_module


def padded_fraction(batches: list[list[int]], lengths: list[int]) -> float:
    """Padding positions / all positions when every batch is padded to its longest sequence."""
    total = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    real = sum(lengths[i] for batch in batches for i in batch)
    return 1 - real / total


def skewed_lengths(n: int = 3000) -> list[int]:
    """Lengths 10..1000, log-uniform: most short, a long tail."""
    g = torch.Generator().manual_seed(1)
    return (10 * 100 ** torch.rand(n, generator=g)).round().long().tolist()


def test_every_index_once_per_epoch() -> None:
    lengths = skewed_lengths(1003)
    sampler = BucketBatchSampler(lengths, 16, bucket_factor=4)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert sorted(i for batch in batches for i in batch) == list(range(1003))


def test_same_seed_and_epoch_same_order_other_epoch_other_order() -> None:
    lengths = skewed_lengths(500)
    a, b = BucketBatchSampler(lengths, 8, seed=3), BucketBatchSampler(lengths, 8, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)
    assert list(BucketBatchSampler(lengths, 8, seed=4)) != list(BucketBatchSampler(lengths, 8, seed=3))


def test_bucketing_cuts_padding_on_skewed_lengths() -> None:
    lengths = skewed_lengths()
    bucketed = padded_fraction(list(BucketBatchSampler(lengths, 32)), lengths)
    perm = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random = padded_fraction([perm[i : i + 32] for i in range(0, len(perm), 32)], lengths)
    print(f"\nskewed lengths 10-1000: padded fraction {random:.3f} random vs {bucketed:.3f} bucketed")
    assert random > 0.5  # the long tail makes random batches mostly padding
    assert bucketed < random / 5


def test_vowels_real_token_fraction_with_and_without_bucketing() -> None:
    fractions = {}
    for bucket in (False, True):
        dm = data_config_module("vowels", bucket=bucket)
        dm.setup("fit")
        real = total = 0
        for batch in dm.train_dataloader():
            real += int(batch.lengths.sum())
            total += batch.inputs.shape[0] * batch.inputs.shape[1]
        fractions[bucket] = real / total
    print(f"\nvowels train real-token fraction: {fractions[False]:.3f} plain shuffle, {fractions[True]:.3f} bucketed")
    assert fractions[True] > fractions[False]
    assert fractions[True] > 0.9
