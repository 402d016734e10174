"""A batch sampler that groups sequences of similar length, so batches carry little padding."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Yield batches of indices of similar length, in a seeded random order that changes per epoch.

    Each epoch: a random permutation (seed + epoch) is cut into pools of `batch_size * bucket_factor`
    indices, each pool is sorted by length and cut into batches, and the order of all batches is
    shuffled. Pools keep the batches random (a batch never holds only the globally shortest
    sequences every epoch) while sorting inside a pool removes most padding. Every index appears
    exactly once per epoch.

    Call `set_epoch` before each epoch (Lightning does, for the `sampler` of a DataLoader, which is
    where `SequenceDataModule` puts this class); without it every epoch repeats the same order.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, seed: int = 0, bucket_factor: int = 50) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if bucket_factor < 1:
            raise ValueError(f"bucket_factor must be >= 1, got {bucket_factor}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)  # (N,)
        self.batch_size = batch_size
        self.seed = seed
        self.bucket_factor = bucket_factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=generator)
        pool_size = self.batch_size * self.bucket_factor  # a multiple of batch_size: only the last batch can be short
        batches: list[torch.Tensor] = []
        for start in range(0, n, pool_size):
            pool = order[start : start + pool_size]
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=generator):
            yield batches[i].tolist()
