"""Truecasing: restore the capital letters of the shipped Shakespeare text from its lower-cased form (tagging)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from seqtrain.data.datamodule import SequenceDataModule, Splits, check_split_fractions
from seqtrain.data.facts import DataFacts
from seqtrain.shipped import shipped_text
from seqtrain.data.vocab import CharVocab

CLASS_NAMES = ("lower", "upper")


def split_text(text: str, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Contiguous "train" / "val" / "test" parts of `text`: val then test at the end, each a floor of its fraction."""
    val_start = len(text) - int(len(text) * val_fraction) - int(len(text) * test_fraction)
    test_start = len(text) - int(len(text) * test_fraction)
    return {"train": text[:val_start], "val": text[val_start:test_start], "test": text[test_start:]}


def lower_with_labels(text: str) -> tuple[str, np.ndarray]:
    """The text lower-cased character by character, and (len,) int64 labels: 1 where the character was upper case.

    A character whose lower case is not one character (none in the shipped text) is kept as it is.
    """
    lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text) if len(text.lower()) != len(text) else text.lower()
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lowered_codes = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
    return lowered, (codes != lowered_codes).astype(np.int64)


class TaggedWindows(Dataset[tuple[Tensor, Tensor]]):
    """Non-overlapping windows of `seq_len` ids with their per-step labels; a last partial window is dropped."""

    def __init__(self, ids: Tensor, labels: Tensor, seq_len: int) -> None:
        count = len(ids) // seq_len
        self.ids = ids[: count * seq_len].view(count, seq_len)  # (N, T)
        self.labels = labels[: count * seq_len].view(count, seq_len)  # (N, T)
        self.lengths = [seq_len] * count

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.ids[i], self.labels[i]  # (T,), (T,)


class TruecaseDataModule(SequenceDataModule):
    """Tag every character of the lower-cased plays with whether it was upper case.

    The shipped Shakespeare text is split contiguously (val and test at the end, by characters) and cut
    into fixed windows of `seq_len` characters. Context on both sides helps (a speaker's name,
    in capitals, is known by the colon after it), so a bidirectional model should beat a
    unidirectional one; predicting "lower" everywhere is right for about 92% of the characters
    (93% of the test split; see `scripts/data_report.py` for context-table baselines).

    Args:
        seq_len: characters per window.
        val_fraction / test_fraction: share of the text for validation / test.
        max_chars: use only the first `max_chars` characters (quick runs and tests).
    """

    def __init__(
        self,
        seq_len: int = 128,
        batch_size: int = 64,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
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
        self.max_chars = max_chars
        self.vocab: CharVocab | None = None

    def split_texts(self) -> dict[str, str]:
        """The contiguous train / val / test parts of the (original-case) text."""
        return split_text(shipped_text("shakespeare")[: self.max_chars], self.val_fraction, self.test_fraction)

    def build(self, saved: dict[str, Any] | None) -> Splits:
        parts = {name: lower_with_labels(text) for name, text in self.split_texts().items()}
        self.vocab = CharVocab.fit(parts["train"][0]) if saved is None else CharVocab.from_dict(saved["vocab"])
        examples = {}
        for name, (lowered, labels) in parts.items():
            if len(lowered) < self.seq_len:
                raise ValueError(
                    f"the {name} split has {len(lowered)} characters, fewer than one window of seq_len={self.seq_len}; "
                    "lower seq_len or raise max_chars or the split's fraction"
                )
            ids = torch.from_numpy(self.vocab.encode_array(lowered))  # (N,)
            examples[name] = TaggedWindows(ids, torch.from_numpy(labels), self.seq_len)
        facts = DataFacts(
            task="tagging",
            per_step=True,
            num_outputs=len(CLASS_NAMES),
            vocab_size=len(self.vocab),
            padding_idx=CharVocab.pad_id,
            class_names=CLASS_NAMES,
        )
        return Splits(examples["train"], examples["val"], examples["test"], facts, {"vocab": self.vocab.to_dict()})
