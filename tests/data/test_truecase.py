"""Truecase (`data=truecase`): the generic text loader with targets=case, over the shipped text or your own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtrain.data import DataFacts, TextDataModule
from seqtrain.data.text import lower_with_labels
from seqtrain.shipped import data_config_module


def test_lower_with_labels() -> None:
    lowered, labels = lower_with_labels("THESEUS:\nNow, fair Hippolyta")
    assert lowered == "theseus:\nnow, fair hippolyta"
    assert "".join(c.upper() if u else c for c, u in zip(lowered, labels)) == "THESEUS:\nNow, fair Hippolyta"
    assert labels.dtype.kind == "i" and labels.sum() == 9


def test_windows_tag_each_lower_cased_character_with_its_case(tmp_path: Path) -> None:
    lines = [f"Line {i}: To Be, or NOT to be.\n" for i in range(100)]
    (tmp_path / "t.txt").write_text("".join(lines))
    dm = TextDataModule(train_files=str(tmp_path / "t.txt"), targets="case", seq_len=16, batch_size=4, val_fraction=0.1, test_fraction=0.1)
    dm.setup()
    assert dm.facts == DataFacts("tagging", True, 2, vocab_size=len(dm.tokenizer), padding_idx=0, class_names=("lower", "upper"))
    assert not any(c.isupper() for c in dm.tokenizer.chars)  # fitted on the lower-cased text
    test_text = "".join(lines[90:])  # the last 10% of the lines, in order
    windows = dm.split("test")
    assert windows.lengths == [16] * (len(test_text) // 16) + [len(test_text) % 16]  # every character, the last window shorter
    for i in (0, 3, len(windows) - 2, len(windows) - 1):
        inputs, labels = windows[i]
        original = test_text[i * 16 : (i + 1) * 16]
        assert dm.decode(inputs.tolist()) == original.lower()
        assert labels.tolist() == [int(c != c.lower()) for c in original]
    batch = next(iter(dm.train_dataloader()))
    assert batch.inputs.shape == batch.targets.shape == (4, 16)
    fresh = TextDataModule(train_files=str(tmp_path / "t.txt"), targets="case", seq_len=16, batch_size=4, val_fraction=0.1, test_fraction=0.1)
    fresh.load_state_dict(dm.state_dict())
    fresh.setup()
    assert fresh.tokenizer == dm.tokenizer
    assert torch.equal(fresh.split("val")[0][0], dm.split("val")[0][0])


def test_the_shipped_config_is_the_text_loader_over_the_shipped_text() -> None:
    dm = data_config_module("truecase", max_chars=20_000, seq_len=32)
    assert type(dm) is TextDataModule and dm.targets == "case"
    dm.setup()
    assert dm.facts.task == "tagging" and len(dm.split("test")) > 0


@pytest.mark.parametrize("options", [{"tokenizer": "word"}, {"stateful": True}])
def test_case_targets_need_characters_and_independent_windows(options: dict) -> None:
    with pytest.raises(ValueError, match="targets='case'.*tokenizer='char' and stateful=false"):
        TextDataModule(train_files="x.txt", targets="case", **options)
