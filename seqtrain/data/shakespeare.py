"""Character-level language modelling on the shipped text of 38 Shakespeare plays."""

from __future__ import annotations

import lzma
from collections.abc import Iterable
from importlib.resources import files
from typing import Any

import torch
from torch.utils.data import DataLoader

from seqtrain.data.datamodule import SequenceDataModule, Split, Splits, check_split_fractions
from seqtrain.data.facts import DataFacts
from seqtrain.data.vocab import CharVocab
from seqtrain.data.windows import TokenWindows


def load_shakespeare() -> str:
    """The shipped plays as `NAME:\\nline...` text, about 4.8 M characters (see assets/ATTRIBUTION.md)."""
    return lzma.decompress((files("seqtrain.data") / "assets" / "shakespeare.txt.xz").read_bytes()).decode("utf-8")


def split_text(text: str, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Contiguous "train" / "val" / "test" parts of `text`: val then test at the end, each a floor of its fraction."""
    val_start = len(text) - int(len(text) * val_fraction) - int(len(text) * test_fraction)
    test_start = len(text) - int(len(text) * test_fraction)
    return {"train": text[:val_start], "val": text[val_start:test_start], "test": text[test_start:]}


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
        check_split_fractions(val_fraction, test_fraction)
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
        self.seq_len = seq_len
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.stateful = stateful
        self.max_chars = max_chars
        self.vocab: CharVocab | None = None

    def build(self, saved: dict[str, Any] | None) -> Splits:
        texts = split_text(load_shakespeare()[: self.max_chars], self.val_fraction, self.test_fraction)
        # Fitted on train only, like any statistic: characters first seen in val/test become <unk>.
        self.vocab = CharVocab.fit(texts["train"]) if saved is None else CharVocab.from_dict(saved["vocab"])
        # (N,) ids per split
        ids = {name: torch.from_numpy(self.vocab.encode_array(part)) for name, part in texts.items()}
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
        return self.stream_loader(self.split(split), self.seq_len)

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
