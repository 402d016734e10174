"""A DataLoader that knows where it is in its epoch, so Lightning can save and restore it.

Lightning 2.6 saves the `state_dict()` of every train loader that has one in each checkpoint and, when
it resumes an unfinished epoch, calls `load_state_dict` on the fresh loader before iterating it; this
class counts the batches handed out in the current pass and skips that many after a restore. The count
is exact because our loaders have a length, so Lightning's fetcher prefetches nothing: every batch
handed out was trained on when a checkpoint is written. Skipped batches are still loaded (cheap for
in-memory data; keeps worker order), and the epoch's order is a function of (seed, epoch) alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """A DataLoader with `state_dict`/`load_state_dict`: (epoch, batches handed out in it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._done = 0  # batches handed out in the current pass
        self._resume: dict[str, int] | None = None  # from a checkpoint, for the next pass

    def _epoch(self) -> int | None:
        """The sampler's epoch (set by Lightning before each pass), or None for loaders without one."""
        epoch = getattr(self.sampler, "epoch", None)
        return epoch if isinstance(epoch, int) else None

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self._epoch(), "batches_done": self._done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        done = int(state["batches_done"])
        if done < 0:
            raise ValueError(f"a loader state with {done} batches done")
        self._resume = {"epoch": state["epoch"], "batches_done": done}

    def _skip_now(self) -> int:
        """Batches this pass skips: the restored count, if the pass is the restored epoch's unfinished rest."""
        resume, self._resume = self._resume, None
        if resume is None:
            return 0
        if resume["epoch"] is not None and resume["epoch"] != self._epoch():
            return 0  # Lightning moved on to the next epoch: start it from the beginning
        # A pass that had handed out all its batches was finished: the next one is a new epoch.
        return resume["batches_done"] if resume["batches_done"] < len(self) else 0

    def __iter__(self) -> Iterator[Any]:
        # A generator, so lazy: Lightning calls iter() when it builds the loader, before it sets the sampler's
        # epoch for the epoch it is about to run; the order (and, with workers, their first indices) must
        # come from that epoch, so nothing is drawn before the first batch is asked for.
        skip = self._skip_now()
        iterator = super().__iter__()
        for _ in range(skip):
            next(iterator)
        self._done = skip
        for batch in iterator:
            self._done += 1
            yield batch
