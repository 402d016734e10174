"""TableDataModule on files the tests write: every sequence kind and task, splits, labels, scaling, max_length, state."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from user_files import (
    sentiment_rows,
    tagging_rows,
    vector_regression_rows,
    write_csv,
    write_jsonl,
    write_parquet,
)

from seqtrain.batch import IGNORE_INDEX, Batch
from seqtrain.data import DataFacts, TableDataModule
from seqtrain.data.sampler import BucketBatchSampler


def make(tmp_path: Path, **kwargs) -> TableDataModule:
    dm = TableDataModule(cache_dir=str(tmp_path / "hf_cache"), batch_size=8, **kwargs)
    dm.setup()
    return dm


def first_batch(dm: TableDataModule, split: str = "train") -> Batch:
    return next(iter(dm.dataloader(split)))


def test_text_classification_from_csv(tmp_path: Path) -> None:
    rows = sentiment_rows(60)
    dm = make(tmp_path, train_files=str(write_csv(tmp_path / "reviews.csv", rows)), sequence_column="text")
    chars = sorted(set("".join(r["text"] for r in rows)))
    assert dm.facts == DataFacts(
        "classification", False, 2, vocab_size=len(chars) + 2, padding_idx=0, class_names=("neg", "pos")
    )
    assert [len(dm.split(s)) for s in ("train", "val", "test")] == [48, 6, 6]
    label_of = {r["text"]: r["label"] for r in rows}
    for split in ("train", "val", "test"):
        for inputs, target in dm.split(split):
            assert dm.facts.class_names[int(target)] == label_of[dm.tokenizer.decode(inputs.tolist())]
    batch = first_batch(dm)
    assert batch.inputs.dtype == torch.long and batch.targets.shape == (8,)
    assert isinstance(dm.train_dataloader().sampler, BucketBatchSampler)  # lengths vary: bucketed by default


def test_carved_splits_are_seeded_and_disjoint(tmp_path: Path) -> None:
    path = str(write_csv(tmp_path / "reviews.csv", sentiment_rows(60)))
    texts = {}
    for seed in (0, 0, 1):
        dm = make(tmp_path, train_files=path, sequence_column="text", seed=seed)
        texts.setdefault(seed, []).append({s: [dm.tokenizer.decode(x.tolist()) for x, _ in dm.split(s)] for s in ("val", "test")})
    assert texts[0][0] == texts[0][1] and texts[0][0] != texts[1][0]


def test_a_class_drawn_whole_into_val_or_test_keeps_a_row_in_train(tmp_path: Path, caplog) -> None:
    # 12 classes of 2 series each; a 30 % + 30 % random draw leaves some classes with no training row.
    rows = [{"sequence": " ".join(str(c * 10 + i + k) for k in range(5)), "label": f"c{c}"} for c in range(12) for i in range(2)]
    n, seed = len(rows), 3
    order = np.random.default_rng(seed).permutation(n)  # the draw `carve` makes
    plain_train = {rows[i]["label"] for i in order[: n - 2 * int(n * 0.3)]}
    lost = {r["label"] for r in rows} - plain_train
    assert lost  # this seed does take whole classes out of train
    with caplog.at_level(logging.INFO, logger="seqtrain.data.splits"):
        dm = make(tmp_path, train_files=str(write_csv(tmp_path / "small.csv", rows)), val_fraction=0.3, test_fraction=0.3,
                  seed=seed, standardize=False)
    names = dm.facts.class_names
    seen = {split: [names[int(y)] for _, y in dm.split(split)] for split in ("train", "val", "test")}
    assert set(seen["train"]) == {r["label"] for r in rows}  # every class is learned from
    assert len(seen["train"]) == n - 2 * int(n * 0.3) + len(lost)  # one row moved back per lost class
    assert sum(map(len, seen.values())) == n
    assert f"took every row of {len(lost)} class(es)" in caplog.text and all(repr(c) in caplog.text for c in lost)


def test_a_tag_drawn_whole_into_val_or_test_keeps_a_sentence_in_train(tmp_path: Path, caplog) -> None:
    """Tagging: a rare tag whose every sentence the random draw took for val / test gets one of them back in train
    (the run would otherwise refuse val for a tag training never saw), said in the log; other tags are untouched."""
    rows = tagging_rows(60)
    rare = {i: f"R{i}" for i in (5, 17, 40)}  # three sentences, each the only one with its own tag
    for i, tag in rare.items():
        rows[i]["tags"] = [tag, *rows[i]["tags"][1:]]
    n, seed = len(rows), 0
    order = np.random.default_rng(seed).permutation(n)  # the draw `carve` makes
    train_rows = set(order[: n - 2 * int(n * 0.2)].tolist())
    lost = sorted(tag for i, tag in rare.items() if i not in train_rows)
    assert lost  # this seed does draw some of them out of train
    with caplog.at_level(logging.INFO, logger="seqtrain.data.splits"):
        dm = make(tmp_path, task="tagging", train_files=str(write_jsonl(tmp_path / "tags.jsonl", rows)), sequence_column="tokens",
                  target_column="tags", val_fraction=0.2, test_fraction=0.2, seed=seed)
    names = dm.facts.class_names
    seen = {split: {names[int(t)] for _, y in dm.split(split) for t in y.tolist()} for split in ("train", "val", "test")}
    assert seen["train"] == {tag for r in rows for tag in r["tags"]}  # every tag is learned from
    assert len(dm.split("train")) == n - 2 * int(n * 0.2) + len(lost)  # one sentence moved back per lost tag
    assert sum(len(dm.split(s)) for s in ("train", "val", "test")) == n
    assert f"took every row holding {len(lost)} tag(s)" in caplog.text and all(repr(t) in caplog.text for t in lost)


def test_tagging_from_jsonl_token_lists(tmp_path: Path) -> None:
    rows = tagging_rows(60)
    dm = make(tmp_path, task="tagging", train_files=str(write_jsonl(tmp_path / "tags.jsonl", rows)), sequence_column="tokens", target_column="tags")
    assert dm.facts.task == "tagging" and dm.facts.per_step and dm.facts.class_names == ("N", "O")
    assert dm.tokenizer.kind == "word"
    tags_of = {" ".join(r["tokens"]): r["tags"] for r in rows}
    for inputs, target in dm.split("test"):
        assert [dm.facts.class_names[i] for i in target.tolist()] == tags_of[dm.tokenizer.decode(inputs.tolist())]
    batch = first_batch(dm)
    assert batch.targets.shape == batch.inputs.shape
    padding = torch.arange(batch.inputs.shape[1]) >= batch.lengths[:, None]
    assert (batch.targets[padding] == IGNORE_INDEX).all()


def test_list_cells_written_by_pandas_read_like_the_same_rows_in_json_lines(tmp_path: Path, caplog) -> None:
    """`DataFrame.to_csv` writes list cells as Python literals (`['a', 'b']`): the tokens are detected and
    parsed as the JSON Lines file of the same rows is, not read as characters with brackets and quotes."""
    import pandas as pd

    rows = tagging_rows(60)
    pd.DataFrame(rows).to_csv(tmp_path / "tags.csv", index=False)
    assert "\"['" in (tmp_path / "tags.csv").read_text()  # the Python literal this test is about
    kwargs = {"task": "tagging", "sequence_column": "tokens", "target_column": "tags"}
    with caplog.at_level(logging.INFO, logger="seqtrain.data.parsing"):
        from_csv = make(tmp_path / "csv", train_files=str(tmp_path / "tags.csv"), **kwargs)
    assert "read as tokens (detected from all 60 non-empty rows are lists of quoted items" in caplog.text
    from_jsonl = make(tmp_path / "jsonl", train_files=str(write_jsonl(tmp_path / "tags.jsonl", rows)), **kwargs)
    assert from_csv.facts == from_jsonl.facts and from_csv.tokenizer.to_dict() == from_jsonl.tokenizer.to_dict()
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(from_csv.split(split), from_jsonl.split(split), strict=True):
            assert x.tolist() == x2.tolist() and y.tolist() == y2.tolist()


@pytest.mark.parametrize("shape", [(), (3,)], ids=["numbers", "vectors"])
def test_numpy_array_cells_written_by_pandas_read_like_the_same_rows_in_json_lines(tmp_path: Path, shape: tuple) -> None:
    """`DataFrame.to_csv` writes an array cell as numpy prints it (`[0.25 1.5 2.]`, `[[1. 2.]\\n [3. 4.]]`):
    read as the numbers they are, equal to the JSON Lines file of the same rows (quarters print exactly)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    arrays = [rng.integers(-40, 40, size=(int(rng.integers(3, 12)), *shape)) / 4 for _ in range(60)]
    labels = ["xy"[int(a.sum() > 0)] for a in arrays]
    pd.DataFrame({"sequence": arrays, "label": labels}).to_csv(tmp_path / "arrays.csv", index=False)
    assert "[" in (tmp_path / "arrays.csv").read_text() and "," not in (tmp_path / "arrays.csv").read_text().split("\n")[1].split("]")[0]
    from_csv = make(tmp_path / "csv", train_files=str(tmp_path / "arrays.csv"))
    rows = [{"sequence": a.tolist(), "label": y} for a, y in zip(arrays, labels, strict=True)]
    from_jsonl = make(tmp_path / "jsonl", train_files=str(write_jsonl(tmp_path / "arrays.jsonl", rows)))
    assert from_csv.facts == from_jsonl.facts and from_csv.facts.num_features == (shape[0] if shape else 1)
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(from_csv.split(split), from_jsonl.split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_lists_of_numpy_scalars_written_by_pandas_read_as_numbers(tmp_path: Path) -> None:
    """numpy 2 writes a list of its scalars as `[np.float64(0.25), ...]`: numbers, as the JSON Lines rows are,
    not text (it was read as characters)."""
    import pandas as pd

    rng = np.random.default_rng(1)
    sequences = [list(rng.integers(-40, 40, size=int(rng.integers(3, 12))) / 4) for _ in range(60)]  # lists of np.float64
    labels = ["xy"[int(sum(seq) > 0)] for seq in sequences]
    pd.DataFrame({"sequence": sequences, "label": labels}).to_csv(tmp_path / "scalars.csv", index=False)
    assert "np.float64(" in (tmp_path / "scalars.csv").read_text()  # the repr this test is about
    from_csv = make(tmp_path / "csv", train_files=str(tmp_path / "scalars.csv"))
    rows = [{"sequence": [float(v) for v in seq], "label": y} for seq, y in zip(sequences, labels, strict=True)]
    from_jsonl = make(tmp_path / "jsonl", train_files=str(write_jsonl(tmp_path / "scalars.jsonl", rows)))
    assert from_csv.facts == from_jsonl.facts and from_csv.facts.num_features == 1
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(from_csv.split(split), from_jsonl.split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


@pytest.mark.parametrize("vectors", [False, True])
def test_tuple_cells_written_by_pandas_read_like_the_same_rows_in_json_lines(tmp_path: Path, vectors: bool) -> None:
    """A tuple cell is written as its Python literal, `(0.25, 1.5)` (or `((1.0, 2.0), (3.0, 4.0))`): numbers or vectors,
    as the JSON Lines rows are, not text (it was read as characters)."""
    import pandas as pd

    rng = np.random.default_rng(2)
    sequences = [rng.integers(-40, 40, size=(int(rng.integers(3, 12)), 2) if vectors else int(rng.integers(3, 12))) / 4 for _ in range(60)]
    as_tuples = [tuple(tuple(float(v) for v in step) for step in seq) if vectors else tuple(float(v) for v in seq) for seq in sequences]
    labels = ["xy"[int(seq.sum() > 0)] for seq in sequences]
    pd.DataFrame({"sequence": as_tuples, "label": labels}).to_csv(tmp_path / "tuples.csv", index=False)
    assert '"((' in (tmp_path / "tuples.csv").read_text() if vectors else '"(' in (tmp_path / "tuples.csv").read_text()
    from_csv = make(tmp_path / "csv", train_files=str(tmp_path / "tuples.csv"))
    rows = [{"sequence": seq.tolist(), "label": y} for seq, y in zip(sequences, labels, strict=True)]
    from_jsonl = make(tmp_path / "jsonl", train_files=str(write_jsonl(tmp_path / "tuples.jsonl", rows)))
    assert from_csv.facts == from_jsonl.facts and from_csv.facts.num_features == (2 if vectors else 1)
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(from_csv.split(split), from_jsonl.split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


NUMBERS_WRITTEN = {"{} {} {} {}": 0, "{},{},{},{}": 0, "{}, {}, {}, {}": 0, "[{}, {}, {}, {}]": 0, "{}\t{}\t{}\t{}": 0,
                   "{};{};{};{}": 1, "{} {}; {} {}": 2, "{},{};{},{}": 2, "[[{}, {}], [{}, {}]]": 2}  # features per vector


@pytest.mark.parametrize(("written", "features"), NUMBERS_WRITTEN.items())
def test_numbers_written_with_one_separator_read_like_the_same_rows_in_json_lines(tmp_path: Path, written: str, features: int) -> None:
    """Each way of writing a cell of numbers (a decimal point, no grouping, one separator) reads as the JSON Lines file of
    the same rows: the checks for decimal commas and stray ';' leave them alone."""
    values = [[round(i / 4 - 3, 2), 1200.5 + i, -0.125, i] for i in range(40)]
    labels = ["xy"[i % 2] for i in range(40)]
    path = write_csv(tmp_path / "train.csv", [{"sequence": written.format(*v), "label": y} for v, y in zip(values, labels)])
    from_csv = make(tmp_path / "csv", train_files=str(path))
    same = [[v[i : i + features] for i in range(0, 4, features)] if features else v for v in values]
    from_jsonl = make(tmp_path / "jsonl", train_files=str(write_jsonl(tmp_path / "train.jsonl",
                                                                     [{"sequence": v, "label": y} for v, y in zip(same, labels)])))
    assert from_csv.facts == from_jsonl.facts and from_csv.facts.num_features == max(features, 1)
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(from_csv.split(split), from_jsonl.split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_sequence_kind_vectors_reads_a_row_without_semicolons_as_one_step(tmp_path: Path) -> None:
    rows = [{"sequence": f"{i} 1.5 -2" if i % 3 else f"{i} 1.5 -2; 0 1 2", "label": "xy"[i % 2]} for i in range(40)]
    dm = make(tmp_path, train_files=str(write_csv(tmp_path / "train.csv", rows)), sequence_kind="vectors", standardize=False)
    assert dm.facts.num_features == 3
    lengths = sorted(len(x) for split in ("train", "val", "test") for x, _ in dm.split(split))
    assert lengths == [1] * 26 + [2] * 14


def test_regression_on_feature_vectors_from_parquet_is_scaled_on_train(tmp_path: Path) -> None:
    rows = vector_regression_rows(60)
    dm = make(tmp_path, task="regression", train_files=str(write_parquet(tmp_path / "frames.parquet", rows)), sequence_column="frames", target_column="y")
    facts = dm.facts
    assert (facts.task, facts.per_step, facts.num_outputs, facts.num_features) == ("regression", False, 1, 3)
    train = dm.split("train")
    targets = torch.stack([y for _, y in train])  # (N, 1), scaled
    assert targets.mean().abs() < 1e-5 and (targets.std(correction=0) - 1).abs() < 1e-4
    frames = torch.cat([x for x, _ in train])  # (sum of T, 3), standardized
    assert torch.allclose(frames.mean(0), torch.zeros(3), atol=1e-5)
    # The facts undo the scaling: back to the file's own values.
    raw = {round(r["y"], 3) for r in rows}
    for _, y in dm.split("test"):
        assert round(float(y[0]) * facts.target_scale[0] + facts.target_shift[0], 3) in raw
    batch = first_batch(dm)
    assert batch.inputs.dtype == torch.float32 and batch.inputs.shape[2] == 3 and batch.targets.shape == (8, 1)


def test_numbers_in_csv_strings_with_per_step_targets(tmp_path: Path) -> None:
    rows = [{"x": " ".join(str(v) for v in range(1, n + 1)), "y": ";".join(f"{v} {-v}" for v in range(1, n + 1))} for n in range(2, 32)]
    dm = make(
        tmp_path,
        task="regression",
        per_step=True,
        train_files=str(write_csv(tmp_path / "steps.csv", rows)),
        sequence_column="x",
        target_column="y",
        standardize=False,
        scale_targets=False,
    )
    assert dm.facts == DataFacts("regression", True, 2, num_features=1)
    for x, y in dm.split("train"):
        assert x.shape == (len(x), 1) and y.shape == (len(x), 2)
        assert torch.equal(y[:, 0], x[:, 0]) and torch.equal(y[:, 1], -x[:, 0])


def test_class_labels_map_to_sorted_ids(tmp_path: Path) -> None:
    rows = [{"sequence": "ab" * (i % 5 + 1), "label": [10, 2, 1][i % 3]} for i in range(60)]
    dm = make(tmp_path, train_files=str(write_csv(tmp_path / "numbers.csv", rows)))
    assert dm.facts.class_names == ("1", "2", "10")  # numeric labels sort as numbers
    words = [{"sequence": "ab" * (i % 4 + 1), "label": w} for i, w in enumerate(["pear", "Apple", "fig"] * 20)]
    dm = make(tmp_path, train_files=str(write_csv(tmp_path / "words.csv", words)))
    assert dm.facts.class_names == ("Apple", "fig", "pear")


@pytest.mark.parametrize(("overflow", "expected"), [("truncate", [5, 5, 3]), ("split", [5, 5, 5, 5, 2, 5, 5, 3, 3])])
def test_max_length_truncates_or_splits_with_a_count_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, overflow: str, expected: list[int]
) -> None:
    rows = [{"sequence": "a" * n, "label": str(n % 2)} for n in (22, 13, 3)]
    train = write_csv(tmp_path / "train.csv", rows)
    with caplog.at_level(logging.INFO, logger="seqtrain.data"):
        dm = make(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train), max_length=5, overflow=overflow)
    assert [len(x) for x, _ in dm.split("val")] == expected
    assert "2 of 3 val sequences were longer than max_length" in caplog.text
    if overflow == "split":  # every piece keeps its row's label, and is an example of the metrics
        assert [int(y) for _, y in dm.split("val")] == [0] * 5 + [1] * 3 + [1]
        assert "split into pieces of 5 steps: 9 examples, and val metrics count each piece as one" in caplog.text


def test_unseen_labels_ignored_on_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = write_csv(tmp_path / "train.csv", [{"sequence": "ab", "label": "x"}, {"sequence": "ba", "label": "y"}])
    test = write_csv(tmp_path / "test.csv", [{"sequence": "ab", "label": "x"}, {"sequence": "bb", "label": "z"}])
    with caplog.at_level(logging.INFO, logger="seqtrain.data"):
        dm = make(tmp_path, train_files=str(train), val_files=str(train), test_files=str(test), unseen_labels="ignore")
    assert len(dm.split("test")) == 1 and "left out 1 test rows" in caplog.text
    tags_train = write_jsonl(tmp_path / "t.jsonl", [{"sequence": ["a", "b"], "label": ["X", "Y"]}])
    tags_test = write_jsonl(tmp_path / "u.jsonl", [{"sequence": ["a", "b"], "label": ["X", "Z"]}])
    dm = make(tmp_path, task="tagging", train_files=str(tags_train), val_files=str(tags_train), test_files=str(tags_test), unseen_labels="ignore")
    assert dm.split("test")[0][1].tolist() == [0, IGNORE_INDEX]


def test_saved_state_is_reused_not_refitted(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "first.csv", sentiment_rows(60, seed=0))
    dm = make(tmp_path, train_files=str(first), sequence_column="text", tokenizer="word")
    state = dm.state_dict()
    other_rows = [{"text": r["text"] + " zebra", "label": r["label"]} for r in sentiment_rows(60, seed=5)]
    other = write_csv(tmp_path / "other.csv", other_rows)
    fresh = TableDataModule(train_files=str(other), sequence_column="text", tokenizer="word", cache_dir=str(tmp_path / "hf_cache"))
    fresh.load_state_dict(state)
    fresh.setup()
    assert fresh.facts == dm.facts and fresh.state_dict() == state
    assert all(x[-1] == 1 for x, _ in fresh.split("train"))  # "zebra" was not in the saved vocabulary: <unk>
    mismatched = TableDataModule(train_files=str(other), sequence_column="text", tokenizer="bpe")
    mismatched.load_state_dict(state)
    with pytest.raises(ValueError, match="data.tokenizer='bpe', but the loaded state holds a 'word' tokenizer"):
        mismatched.setup()


def test_a_local_dataset_folder_loads_like_a_hub_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    write_csv(folder / "train.csv", sentiment_rows(40, seed=0))
    write_csv(folder / "test.csv", sentiment_rows(10, seed=1))
    dm = make(tmp_path, hub=str(folder), sequence_column="text")
    assert [len(dm.split(s)) for s in ("train", "val", "test")] == [36, 4, 10]  # val carved from train only


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"task": "ranking"}, "task"),
        ({"per_step": True}, "per_step"),
        ({"task": "tagging", "tokenizer": "bpe"}, "tokenizer"),
        ({"max_length": 0}, "max_length"),
        ({"overflow": "wrap"}, "overflow"),
        ({"unseen_labels": "drop"}, "unseen_labels"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "val_fraction"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        TableDataModule(**kwargs)
