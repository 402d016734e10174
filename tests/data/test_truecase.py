"""Truecase: lower-cased Shakespeare tagged with the original case, contiguous splits, fixed windows."""

from __future__ import annotations

import torch

from seqtrain.data import CharVocab, DataFacts, TruecaseDataModule
from seqtrain.data.truecase import lower_with_labels


def test_lower_with_labels() -> None:
    lowered, labels = lower_with_labels("THESEUS:\nNow, fair Hippolyta")
    assert lowered == "theseus:\nnow, fair hippolyta"
    assert "".join(c.upper() if u else c for c, u in zip(lowered, labels)) == "THESEUS:\nNow, fair Hippolyta"
    assert labels.dtype.kind == "i" and labels.sum() == 9


def test_facts_windows_and_vocab_from_lowered_train_text() -> None:
    dm = TruecaseDataModule(seq_len=32, batch_size=4, max_chars=20_000)
    dm.setup()
    texts = dm.split_texts()
    assert [len(t) for t in texts.values()] == [18_000, 1_000, 1_000]
    assert dm.facts == DataFacts(
        "tagging", True, 2, vocab_size=len(dm.vocab), padding_idx=0, class_names=("lower", "upper")
    )
    assert not any(c.isupper() for c in dm.vocab.chars)
    assert len(dm.split("train")) == 18_000 // 32
    inputs, labels = dm.split("test")[3]
    original = texts["test"][3 * 32 : 4 * 32]
    assert dm.vocab.decode(inputs.tolist()) == original.lower()
    assert labels.tolist() == [int(c != c.lower()) for c in original]
    batch = next(iter(dm.train_dataloader()))
    assert batch.inputs.shape == batch.targets.shape == (4, 32)
    fresh = TruecaseDataModule(seq_len=32, batch_size=4, max_chars=20_000)
    fresh.load_state_dict(dm.state_dict())
    fresh.setup()
    assert fresh.vocab == dm.vocab and CharVocab.from_dict(dm.state_dict()["vocab"]) == dm.vocab
    assert torch.equal(fresh.split("val")[0][0], dm.split("val")[0][0])
