"""A DataLoader that can resume mid-epoch: it skips the batches a run had already trained on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """`skip_batches(n)`: the next iteration starts at batch ``n`` of the epoch.

    Skipping happens on the loader's own iterator, after any sampler (distributed or bucketed)
    has ordered the epoch, so it is right for every sampler and every rank. Skipped batches are
    still loaded and collated (cheap for in-memory data), which keeps workers' order intact.
    The order itself must be a function of (seed, epoch) for the skipped prefix to be the one
    the interrupted run saw: the datamodules seed their samplers per epoch and give every loader
    its own generator, so no loader draws from the global random stream.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip_batches(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"cannot skip {n} batches")
        self._skip = n

    def __iter__(self) -> Iterator[Any]:
        iterator = super().__iter__()
        skip, self._skip = self._skip, 0
        for _ in range(skip):
            next(iterator)
        return iterator
