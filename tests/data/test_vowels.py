"""Japanese Vowels: the shipped files parse to the published shape and values; data=vowels (the table loader) splits and scales them."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import torch

from seqtrain.data import DataFacts, TableDataModule
from seqtrain.data.ts_files import parse_ts
from seqtrain.shipped import asset_text, data_config_module, shipped


def load_japanese_vowels(split: str) -> tuple[list[torch.Tensor], list[str]]:
    series, labels, _ = parse_ts(asset_text(f"JapaneseVowels_{split.upper()}.ts.xz"))
    return [torch.tensor(s, dtype=torch.float32) for s in series], labels


def test_prepared_files_hold_the_raw_series() -> None:
    for split in ("train", "test"):
        series, labels, _ = parse_ts(asset_text(f"JapaneseVowels_{split.upper()}.ts.xz"))
        rows = [json.loads(line) for line in Path(shipped(f"vowels_{split}")).read_text().splitlines()]
        assert [r["sequence"] for r in rows] == series and [r["label"] for r in rows] == labels


def test_parse_matches_published_sizes() -> None:
    train, train_labels = load_japanese_vowels("train")
    test, test_labels = load_japanese_vowels("test")
    assert (len(train), len(test)) == (270, 370)
    assert all(x.shape[1] == 12 for x in train + test)
    train_lengths = [x.shape[0] for x in train]
    all_lengths = train_lengths + [x.shape[0] for x in test]
    assert (min(train_lengths), max(train_lengths)) == (7, 26)
    assert (min(all_lengths), max(all_lengths)) == (7, 29)
    assert sorted(set(train_labels + test_labels)) == [str(i) for i in range(1, 10)]
    assert collections.Counter(train_labels) == {str(i): 30 for i in range(1, 10)}  # 30 utterances per speaker
    assert collections.Counter(test_labels)["3"] == 88


def test_values_match_the_raw_ts_text() -> None:
    # Read by eye from aeon 1.6.0's JapaneseVowels_{TRAIN,TEST}.ts while building the assets.
    train, train_labels = load_japanese_vowels("train")
    test, test_labels = load_japanese_vowels("test")
    assert train[0].shape == (20, 12) and train_labels[0] == "1"
    assert train[0][:3, 0].tolist() == pytest.approx([1.860936, 1.891651, 1.939205])
    assert train[0][0, 1].item() == pytest.approx(-0.207383)
    assert train[0][-2:, 11].tolist() == pytest.approx([-0.170498, -0.175986])
    assert train[-1].shape == (9, 12) and train_labels[-1] == "9"
    assert train[-1][-1, 11].item() == pytest.approx(0.173642)
    assert test[0].shape == (19, 12) and test[0][0, 0].item() == pytest.approx(1.635533)
    assert test[-1].shape == (11, 12) and test_labels[-1] == "9"
    assert test[-1][-2:, 11].tolist() == pytest.approx([0.19286, 0.224688])


def test_parse_ts_format() -> None:
    text = "#comment\n@problemName x\n@data\n1,2,3:4,5,6:a\n\n7:8:b\n"
    series, labels, column = parse_ts(text)
    assert labels == ["a", "b"] and column == "label"
    assert series[0] == [[1, 4], [2, 5], [3, 6]]  # (T, C)
    assert series[1] == [[7, 8]]
    with pytest.raises(ValueError, match="unequal"):
        parse_ts("@data\n1,2:3:a")


def test_facts_split_and_scaling() -> None:
    dm = data_config_module("vowels", seed=0)
    assert type(dm) is TableDataModule and dm.val_fraction == 0.2
    dm.setup("fit")
    assert dm.facts == DataFacts(
        task="classification", per_step=False, num_outputs=9, num_features=12, class_names=tuple("123456789")
    )
    train, val, test = dm.split("train"), dm.split("val"), dm.split("test")
    assert (len(train), len(val), len(test)) == (216, 54, 370)
    x, y = train[0]
    assert x.dtype == torch.float32 and x.shape[1] == 12 and y.dtype == torch.long and y.shape == ()
    frames = torch.cat([x for x, _ in train])  # standardized with the training part's own statistics
    assert torch.allclose(frames.mean(0), torch.zeros(12), atol=1e-5)
    assert torch.allclose(frames.std(0, correction=0), torch.ones(12), atol=1e-4)
    assert torch.cat([x for x, _ in val]).mean(0).abs().max() > 1e-3  # ...which were not fitted on val


def test_val_carve_is_seeded() -> None:
    def val_inputs(seed: int) -> list[torch.Tensor]:
        dm = data_config_module("vowels", seed=seed, standardize=False)
        dm.setup()
        return [x for x, _ in dm.split("val")]

    a, b, c = val_inputs(0), val_inputs(0), val_inputs(1)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(p.shape == q.shape and torch.equal(p, q) for p, q in zip(a, c))


def test_saved_statistics_are_reused_not_refitted() -> None:
    fitted = data_config_module("vowels", seed=0)
    fitted.setup()
    state = fitted.state_dict()
    assert len(state["input_mean"]) == len(state["input_std"]) == 12
    other = data_config_module("vowels", seed=1)  # another val carve would give other statistics...
    other.load_state_dict(state)
    other.setup()
    assert other.state_dict() == state  # ...but the checkpoint's are used
    raw, _ = load_japanese_vowels("test")
    expected = (raw[0].double() - torch.tensor(state["input_mean"])) / torch.tensor(state["input_std"])
    assert torch.allclose(other.split("test")[0][0], expected.float(), atol=1e-6)
