"""Token sequences cut into examples: independent windows (language modelling, tagging), or parallel streams for stateful training."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, TensorDataset, get_worker_info

from seqtrain.batch import Batch


class TokenWindows(Dataset[tuple[Tensor, Tensor]]):
    """Consecutive windows of a token sequence: inputs `ids[i*T:(i+1)*T]`, targets the same shifted by one.

    The windows do not overlap as inputs; window i's last target is window i+1's first input. A last
    partial window (fewer than T targets left) is dropped, or with `keep_last` (validation and test: every
    token but the first is then scored exactly once) kept as a shorter window, padded by the collate.
    """

    def __init__(self, ids: Tensor, seq_len: int, *, keep_last: bool = False) -> None:
        count = (len(ids) - 1) // seq_len
        self.windows = ids[: count * seq_len + 1].unfold(0, seq_len + 1, seq_len)  # (N, T+1), a view
        self.lengths = [seq_len] * count
        rest = max(0, len(ids) - 1 - count * seq_len)  # targets after the last whole window
        self.last = ids[count * seq_len :] if keep_last and rest else None  # (rest + 1,)
        if self.last is not None:
            self.lengths.append(rest)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if i < 0:
            i += len(self)
        window = self.last if i == len(self.windows) and self.last is not None else self.windows[i]
        return window[:-1], window[1:]  # (T,), (T,)

    def targets(self) -> Tensor:
        """(sum of lengths,) every target the windows hold, in order."""
        whole = self.windows[:, 1:].flatten()
        return whole if self.last is None else torch.cat([whole, self.last[1:]])


class TaggedWindows(TensorDataset):
    """Non-overlapping windows of `seq_len` ids with their per-step labels; a last partial window is dropped,
    or with `keep_last` (validation and test: every token is then scored) kept as a shorter window."""

    def __init__(self, ids: Tensor, labels: Tensor, seq_len: int, *, keep_last: bool = False) -> None:
        count = len(ids) // seq_len
        self.ids = ids[: count * seq_len].view(count, seq_len)  # (N, T)
        self.labels = labels[: count * seq_len].view(count, seq_len)  # (N, T)
        super().__init__(self.ids, self.labels)  # example i: (ids[i], labels[i]), (T,) each
        self.lengths = [seq_len] * count
        self.last = (ids[count * seq_len :], labels[count * seq_len :]) if keep_last and len(ids) > count * seq_len else None
        if self.last is not None:
            self.lengths.append(len(self.last[0]))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if i < 0:
            i += len(self)
        return self.last if i == len(self.ids) and self.last is not None else super().__getitem__(i)


class TokenStreams(IterableDataset[Batch]):
    """A token sequence as `batch_size` parallel streams in chunks: row r of chunk i continues row r of chunk i-1.

    Like `ids.view(S, -1)` cut into column blocks of `seq_len` (S = batch_size * num_replicas
    streams; this rank reads its own `batch_size` rows, so every rank gets the same number of
    batches). Inputs are `ids[:S * L]`, L = (len(ids) - 1) // S, each exactly once per epoch; the
    remaining `1 + (len(ids) - 1) % S` tokens at the end are never inputs (fewer than S + 1). The last
    chunk is shorter than `seq_len` when L is not a multiple of it, and is kept.

    starts: (N,) bool aligned with `ids`, True where a document starts; laid out like the inputs,
    it becomes each batch's `resets`, so the model's state is zeroed where one document ends and
    the next begins. None: the text is one running document.
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, *, starts: Tensor | None = None, num_replicas: int = 1,
                 rank: int = 0) -> None:
        streams = batch_size * num_replicas
        stream_len = (len(ids) - 1) // streams
        if stream_len < 1:
            raise ValueError(f"{len(ids)} tokens cannot fill {streams} streams; lower batch_size")
        rows = slice(rank * batch_size, (rank + 1) * batch_size)
        self.inputs = ids[: streams * stream_len].view(streams, stream_len)[rows]  # (B, L)
        # (B, L): the token after each input, so row r's last target is the next chunk's first input
        self.targets = ids[1 : streams * stream_len + 1].view(streams, stream_len)[rows]
        self.resets = None
        if starts is not None:
            if starts.shape != ids.shape or starts.dtype != torch.bool:
                raise ValueError(f"starts must be a bool tensor shaped like ids {tuple(ids.shape)}, got {starts.dtype} {tuple(starts.shape)}")
            self.resets = starts[: streams * stream_len].view(streams, stream_len)[rows]  # (B, L)
        self.seq_len = seq_len

    def __len__(self) -> int:
        return math.ceil(self.inputs.shape[1] / self.seq_len)

    def __iter__(self) -> Iterator[Batch]:
        # With several workers, worker w yields chunks w, w + W, ...; the DataLoader takes one
        # chunk from each worker in turn, which restores the order 0, 1, 2, ...
        worker = get_worker_info()
        start, step = (0, 1) if worker is None else (worker.id, worker.num_workers)
        for i in range(start, len(self), step):
            columns = slice(i * self.seq_len, (i + 1) * self.seq_len)
            inputs = self.inputs[:, columns].contiguous()  # (B, T); T < seq_len only for the last chunk
            lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.long)
            resets = None if self.resets is None else self.resets[:, columns].contiguous()
            yield Batch(inputs, lengths, self.targets[:, columns].contiguous(), stateful=True, resets=resets)
