"""Character-level language modelling on the shipped text of 38 Shakespeare plays."""

from __future__ import annotations

import lzma
import math
from collections.abc import Iterable, Iterator
from importlib.resources import files
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from seqtrain.batch import Batch
from seqtrain.data.datamodule import SequenceDataModule, Split, Splits, check_fraction
from seqtrain.data.facts import DataFacts
from seqtrain.data.vocab import CharVocab


def load_shakespeare() -> str:
    """The shipped plays as `NAME:\\nline...` text, about 4.8 M characters (see assets/ATTRIBUTION.md)."""
    return lzma.decompress((files("seqtrain.data") / "assets" / "shakespeare.txt.xz").read_bytes()).decode("utf-8")


class TokenWindows(Dataset[tuple[Tensor, Tensor]]):
    """Consecutive windows of a token sequence: inputs `ids[i*T:(i+1)*T]`, targets the same shifted by one.

    The windows do not overlap as inputs; window i's last target is window i+1's first input, so
    every token but the first is a target exactly once. A last partial window is dropped.
    """

    def __init__(self, ids: Tensor, seq_len: int) -> None:
        count = (len(ids) - 1) // seq_len
        self.windows = ids[: count * seq_len + 1].unfold(0, seq_len + 1, seq_len)  # (N, T+1), a view
        self.lengths = [seq_len] * count

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        window = self.windows[i]
        return window[:-1], window[1:]  # (T,), (T,)


class TokenStreams(IterableDataset[Batch]):
    """A token sequence as `batch_size` parallel streams in chunks: row r of chunk i continues row r of chunk i-1.

    Like `ids.view(S, -1)` cut into column blocks of `seq_len` (S = batch_size * num_replicas
    streams; this rank reads its own `batch_size` rows, so every rank gets the same number of
    batches). Inputs are `ids[:S * L]`, L = (len(ids) - 1) // S, each exactly once per epoch; the
    remaining `1 + (len(ids) - 1) % S` tokens at the end are never inputs (fewer than S + 1). The last
    chunk is shorter than `seq_len` when L is not a multiple of it, and is kept.
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, *, num_replicas: int = 1, rank: int = 0) -> None:
        streams = batch_size * num_replicas
        stream_len = (len(ids) - 1) // streams
        if stream_len < 1:
            raise ValueError(f"{len(ids)} tokens cannot fill {streams} streams; lower batch_size")
        rows = slice(rank * batch_size, (rank + 1) * batch_size)
        self.inputs = ids[: streams * stream_len].view(streams, stream_len)[rows]  # (B, L)
        # (B, L): the token after each input, so row r's last target is the next chunk's first input
        self.targets = ids[1 : streams * stream_len + 1].view(streams, stream_len)[rows]
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
            yield Batch(inputs, lengths, self.targets[:, columns].contiguous(), stateful=True)


class ShakespeareDataModule(SequenceDataModule):
    """Next-character prediction on the plays, split contiguously into train / val / test (val and test at the end).

    Args:
        seq_len: characters per training sequence (or per chunk of a stateful stream).
        val_fraction / test_fraction: share of the text for validation / test.
        stateful: serve each split as `batch_size` contiguous streams (see `TokenStreams`), in
            order, with `Batch.stateful=True` so the model may carry its state across batches;
            otherwise independent windows of `seq_len` (see `TokenWindows`), shuffled for training.
        max_chars: use only the first `max_chars` characters (quick runs and tests).
    """

    def __init__(
        self,
        seq_len: int = 128,
        batch_size: int = 64,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        stateful: bool = False,
        max_chars: int | None = None,
        **base: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, **base)
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        check_fraction("val_fraction", val_fraction)
        check_fraction("test_fraction", test_fraction)
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
        self.seq_len = seq_len
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.stateful = stateful
        self.max_chars = max_chars
        self.vocab: CharVocab | None = None

    def build(self, saved: dict[str, Any] | None) -> Splits:
        text = load_shakespeare()[: self.max_chars]
        val_start = len(text) - int(len(text) * self.val_fraction) - int(len(text) * self.test_fraction)
        test_start = len(text) - int(len(text) * self.test_fraction)
        texts = {"train": text[:val_start], "val": text[val_start:test_start], "test": text[test_start:]}
        # Fitted on train only, like any statistic: characters first seen in val/test become <unk>.
        self.vocab = CharVocab.fit(texts["train"]) if saved is None else CharVocab.from_dict(saved["vocab"])
        # (N,) ids per split
        ids = {name: torch.tensor(self.vocab.encode(part), dtype=torch.long) for name, part in texts.items()}
        needed = self.batch_size + 1 if self.stateful else self.seq_len + 1  # one stream token / one window
        for name, part in ids.items():
            if len(part) < needed:
                raise ValueError(
                    f"the {name} split has {len(part)} characters, fewer than the {needed} one batch needs; "
                    "lower seq_len / batch_size or raise max_chars or the split's fraction"
                )
        if self.stateful:
            splits = ids  # laid out as streams in `dataloader`, once the number of ranks is known
        else:
            splits = {name: TokenWindows(part, self.seq_len) for name, part in ids.items()}
        facts = DataFacts(
            task="language_modeling",
            per_step=True,
            num_outputs=len(self.vocab),
            vocab_size=len(self.vocab),
            padding_idx=CharVocab.pad_id,
        )
        return Splits(splits["train"], splits["val"], splits["test"], facts, {"vocab": self.vocab.to_dict()})

    def dataloader(self, split: Split) -> DataLoader:
        if not self.stateful:
            return super().dataloader(split)
        # Each rank reads its own streams, in order; an IterableDataset also keeps Lightning from
        # injecting a DistributedSampler that would deal chunks out to ranks and break the streams.
        num_replicas, rank = (1, 0) if self.trainer is None else (self.trainer.world_size, self.trainer.global_rank)
        streams = TokenStreams(self.split(split), self.batch_size, self.seq_len, num_replicas=num_replicas, rank=rank)
        return DataLoader(streams, batch_size=None, **self._loader_kwargs())

    def encode(self, text: str) -> list[int]:
        """Character ids under the fitted vocabulary (after `setup`, or straight after `load_state_dict`)."""
        return self._fitted_vocab().encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self._fitted_vocab().decode(ids)

    def _fitted_vocab(self) -> CharVocab:
        if self.vocab is None and self._saved_state is not None:
            # Generation from a checkpoint needs only the vocabulary, not the text loaded and encoded.
            self.vocab = CharVocab.from_dict(self._saved_state["vocab"])
        if self.vocab is None:
            raise RuntimeError("call ShakespeareDataModule.setup() or load_state_dict() before encode/decode")
        return self.vocab
