"""Bad data fails at setup with a message naming the file, the row or line, and the column; never deep in a model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from user_files import series_rows, write_csv, write_jsonl, write_parquet

from seqtrain.data import DataError, ForecastDataModule, TableDataModule, TextDataModule


def setup_error(datamodule) -> str:
    with pytest.raises(DataError) as error:
        datamodule.setup()
    return str(error.value)


def table(tmp_path: Path, **kwargs: Any) -> TableDataModule:
    return TableDataModule(cache_dir=str(tmp_path / "hf_cache"), batch_size=2, **kwargs)


def good_rows(n: int = 10) -> list[dict[str, Any]]:
    return [{"sequence": "abc"[: i % 3 + 1], "label": "xy"[i % 2]} for i in range(n)]


def test_missing_column_names_file_key_and_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", good_rows())
    message = setup_error(table(tmp_path, train_files=str(path), target_column="sentiment"))
    assert f"{path}: no column 'sentiment' (data.target_column); its columns are: sequence, label" in message


def test_missing_column_in_a_given_test_file(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", good_rows())
    test = write_csv(tmp_path / "test.csv", [{"seq": "a", "label": "x"}])
    message = setup_error(table(tmp_path, train_files=str(train), test_files=str(test)))
    assert f"{test}: no column 'sequence' (data.sequence_column)" in message


@pytest.mark.parametrize(
    ("writer", "row", "place"),
    [
        (write_csv, {"sequence": "", "label": "x"}, "row 4"),  # an empty CSV cell
        (write_jsonl, {"sequence": "", "label": "x"}, "line 4"),
        (write_jsonl, {"sequence": [], "label": "x"}, "line 4"),
    ],
)
def test_zero_length_sequence_names_the_row(tmp_path: Path, writer, row: dict, place: str) -> None:
    suffix = ".csv" if writer is write_csv else ".jsonl"
    rows = [{"sequence": ["a"] if isinstance(row["sequence"], list) else "a", "label": "x"}] * 3 + [row]
    path = writer(tmp_path / f"train{suffix}", rows + good_rows() if not isinstance(row["sequence"], list) else rows)
    message = setup_error(table(tmp_path, train_files=str(path)))
    assert message.startswith(f"{path}, {place}, column 'sequence': an empty sequence")


def test_sequence_empty_after_tokenization_names_the_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", [*good_rows(), {"sequence": "   ", "label": "x"}])
    message = setup_error(table(tmp_path, train_files=str(path), tokenizer="word", val_files=str(path), test_files=str(path)))
    assert f"{path}, row 11, column 'sequence': an empty sequence after tokenization" in message


def test_label_unseen_in_training_is_an_error_by_default(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", good_rows())
    test = write_csv(tmp_path / "test.csv", [{"sequence": "ab", "label": "x"}, {"sequence": "ab", "label": "z"}])
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(test)))
    assert f"{test}, row 2, column 'label': label 'z' was not seen in the training split" in message
    assert "data.unseen_labels=ignore" in message


@pytest.mark.parametrize("unseen_labels", ["error", "ignore"])
def test_test_label_that_is_a_training_label_with_other_spaces_is_an_error(tmp_path: Path, unseen_labels: str) -> None:
    # Training labels written "day " / "night " (a CSV written with a trailing space), test labels "day" / "night": the
    # same two classes. Neither "not seen in training" nor, with unseen_labels=ignore, dropping every test row is right.
    rows = [{"sequence": "ab" * (i + 1), "label": "day " if i % 2 else "night "} for i in range(10)]
    train = write_csv(tmp_path / "train.csv", rows)
    test = write_csv(tmp_path / "test.csv", [{"sequence": "ab", "label": "night"}, {"sequence": "abab", "label": "day"}])
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(test),
                                unseen_labels=unseen_labels))
    assert message.startswith(f"{test}, row 1, column 'label': label 'night' is not a training label, but 'night ' is")
    assert "surrounding spaces" in message and "skipinitialspace=True" in message


def test_unseen_label_that_differs_in_case_names_the_training_label(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", good_rows())
    test = write_csv(tmp_path / "test.csv", [{"sequence": "ab", "label": "X"}])
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(test)))
    assert "label 'X' was not seen in the training split (its labels: 'x', 'y'); the training split has 'x', which " \
        "differs only in upper / lower case" in message


def test_unseen_tag_names_the_step(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [{"sequence": ["a", "b"], "label": ["X", "Y"]}] * 4)
    val = write_jsonl(tmp_path / "val.jsonl", [{"sequence": ["a", "b", "c"], "label": ["X", "Y", "W"]}])
    message = setup_error(table(tmp_path, task="tagging", train_files=str(train), val_files=str(val), test_files=str(train)))
    assert f"{val}, line 1, column 'label': label 'W' (step 3) was not seen" in message


@pytest.mark.parametrize(
    ("value", "problem"),
    [("1 2 abc 4", "'abc' is not a number (step 3)"), ("1 2 nan", "'nan' is not a finite number (step 3)")],
)
def test_non_numeric_value_in_a_numeric_sequence(tmp_path: Path, value: str, problem: str) -> None:
    rows = [{"x": "1 2 3", "y": 1.0}] * 4 + [{"x": value, "y": 2.0}]
    path = write_csv(tmp_path / "train.csv", rows)
    message = setup_error(table(tmp_path, task="regression", train_files=str(path), sequence_column="x", target_column="y", sequence_kind="numbers"))
    assert f"{path}, row 5, column 'x': {problem}" in message


def test_non_numeric_regression_target(tmp_path: Path) -> None:
    rows = [{"x": [1.0, 2.0], "y": 1.5}] * 3 + [{"x": [1.0], "y": "high"}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    message = setup_error(table(tmp_path, task="regression", train_files=str(path), sequence_column="x", target_column="y"))
    assert f"{path}, line 4, column 'y': 'high' is not a number" in message


def test_ragged_feature_vectors_within_a_row(tmp_path: Path) -> None:
    rows = [{"x": [[1.0, 2.0], [3.0, 4.0]], "y": 0}] * 3 + [{"x": [[1.0, 2.0], [3.0]], "y": 1}]
    path = write_parquet(tmp_path / "train.parquet", rows)
    message = setup_error(table(tmp_path, train_files=str(path), sequence_column="x", target_column="y"))
    assert f"{path}, row 4, column 'x': ragged feature vectors: step 2 has 1 values, step 1 has 2" in message


def test_feature_count_differing_from_training(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [{"x": [[1.0, 2.0]], "y": 0}, {"x": [[1.0, 2.0]], "y": 1}])
    test = write_jsonl(tmp_path / "test.jsonl", [{"x": [[1.0, 2.0]], "y": 0}, {"x": [[1.0, 2.0, 3.0]], "y": 1}])
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(test), sequence_column="x", target_column="y"))
    assert f"{test}, line 2, column 'x': step 1 has 3 features; the training data has 2 per step" in message


def test_per_step_target_length_must_match_the_sequence(tmp_path: Path) -> None:
    rows = [{"tokens": ["a", "b"], "tags": ["X", "Y"]}] * 3 + [{"tokens": ["a", "b", "c"], "tags": ["X", "Y"]}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    message = setup_error(
        table(tmp_path, task="tagging", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="tokens", target_column="tags")
    )
    assert f"{path}, line 4, column 'tags': 2 per-step targets for 3 steps of column 'tokens'" in message


def test_char_tagging_length_is_checked_after_tokenization(tmp_path: Path) -> None:
    rows = [{"text": "ab", "case": "1 0"}, {"text": "abc", "case": "1 0"}]
    path = write_csv(tmp_path / "train.csv", rows)
    message = setup_error(
        table(tmp_path, task="tagging", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="text", target_column="case", sequence_kind="text")
    )
    assert f"{path}, row 2, column 'case': 2 per-step targets for 3 steps of column 'text' (after tokenization)" in message


def test_empty_split_after_carving(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", good_rows(5))
    message = setup_error(table(tmp_path, train_files=str(path)))
    assert re.search(r"the val split is empty: 5 rows from .*train\.csv leave none for it", message)


def test_empty_file(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", good_rows())
    empty = tmp_path / "val.jsonl"
    empty.write_text("")
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(empty)))
    assert str(empty) in message


def test_missing_file_and_unmatched_glob(tmp_path: Path) -> None:
    message = setup_error(table(tmp_path, train_files=str(tmp_path / "nope.csv")))
    assert "data.train_files: no such file" in message and "nope.csv" in message
    message = setup_error(table(tmp_path, train_files=str(tmp_path / "*.parquet")))
    assert "data.train_files: no file matches" in message


def test_no_data_given_names_both_keys(tmp_path: Path) -> None:
    message = setup_error(table(tmp_path))
    assert "data.train_files" in message and "data.hub" in message


def test_unknown_extension_asks_for_file_format(tmp_path: Path) -> None:
    path = tmp_path / "train.dat"
    path.write_text("sequence,label\nab,x\n")
    message = setup_error(table(tmp_path, train_files=str(path)))
    assert "set data.file_format" in message and "train.dat" in message


def test_text_for_language_modelling_must_be_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", [{"text": [1, 2]}] * 10)
    message = setup_error(TextDataModule(train_files=str(path), cache_dir=str(tmp_path / "hf_cache")))
    assert f"{path}: column 'text' (data.text_column) holds lists, not text" in message


def test_lm_split_too_short_for_a_window(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("a few words\n" * 30)
    message = setup_error(TextDataModule(train_files=str(path), seq_len=64, cache_dir=str(tmp_path / "hf_cache")))
    assert "the val split has" in message and "tiny.txt" in message and "data.seq_len" in message


def test_forecast_non_numeric_and_missing_values(tmp_path: Path) -> None:
    rows = series_rows(100)
    rows[41]["load"] = "12,5"
    path = write_csv(tmp_path / "series.csv", rows)
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load"], window=5))
    assert f"{path}, row 42, column 'load': '12,5' is not a number" in message
    rows = series_rows(100)
    rows[7]["temp"] = None
    path = write_jsonl(tmp_path / "series.jsonl", rows)
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load", "temp"], window=5))
    assert f"{path}, line 8, column 'temp': an empty or missing value" in message


def test_forecast_missing_column_and_short_split(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "series.csv", series_rows(100))
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["power"]))
    assert f"{path}: no column 'power' (data.columns); its columns are: month, load, temp" in message
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load"], window=75))
    assert "the train split (steps 0..69 of 100) is too short for one window (data.window=75" in message
    assert message.endswith("or lower data.window")  # 70 training steps: the window of 75 is what does not fit
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load"], horizon=11))
    assert "the val split (steps 70..79 of 100) is too short for one window (data.window=24, data.horizon=11)" in message
    # 10 val steps: no window fits an 11-step horizon, so the hint is the horizon (it was the window, which cannot help)
    assert message.endswith("or lower data.horizon (the horizon alone is longer than the split's 10 steps)")
    # window=auto (a quarter of the 70 training steps: 17) is the data's own choice: the hint is the horizon
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load"], window="auto", horizon=11))
    assert "too short for one window (data.window=17 from auto, data.horizon=11)" in message
    assert message.endswith("or lower data.horizon (the horizon alone is longer than the split's 10 steps)")
    # many_to_many windows lie inside their split (the horizon plays no part): a window of 12 in 10 val steps fits none
    message = setup_error(ForecastDataModule(train_files=str(path), columns=["load"], mode="many_to_many", window=12))
    assert "the val split (steps 70..79 of 100) is too short for one window (data.window=12, data.horizon=1)" in message
    assert message.endswith("or lower data.window")


def test_an_auto_window_for_many_to_many_fits_the_shortest_split(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`data.window=auto` with `mode=many_to_many`: a quarter of the 123 training steps (30) holds no window of a 17-step
    val split (wineind's lengths), which was refused; the window is that split's length, said in the line, and every split
    has a window whose targets are its own steps. many_to_one reads context from before its split and keeps 30."""
    import logging

    path = write_csv(tmp_path / "series.csv", series_rows(176))
    with caplog.at_level(logging.INFO, logger="seqtrain.data.forecast"):
        dm = ForecastDataModule(train_files=str(path), columns=["load"], mode="many_to_many", window="auto", val_fraction=0.1,
                                test_fraction=0.2)
        dm.setup()
    assert dm.window == 17
    assert ("data.window=auto: 17 (a quarter of the 123 training steps, at least 2, at most 48; 17, not 30: mode=many_to_many "
            "windows lie inside their split, and the val split has 17 steps)") in caplog.text
    assert len(dm.split("val")) == 1 and dm.split("val").starts == [122]  # targets 123..139: the whole val split
    assert len(dm.split("test")) >= 1
    dm = ForecastDataModule(train_files=str(path), columns=["load"], window="auto", val_fraction=0.1, test_fraction=0.2)
    dm.setup()
    assert dm.window == 30


def test_regression_target_width_differing_from_training(tmp_path: Path) -> None:
    rows = [{"x": [1.0, 2.0], "y": [1.0, 2.0]}] * 3 + [{"x": [1.0], "y": [3.0]}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    message = setup_error(
        table(tmp_path, task="regression", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="x", target_column="y")
    )
    assert f"{path}, line 4, column 'y': 1 target values per row; the training data has 2" in message


def _channel_rows(n: int, lengths: tuple[int, int]) -> list[dict[str, Any]]:
    """Two-channel series written channels first (each inner list one channel's whole series), as numpy's
    (channels, steps) arrays give them with .tolist()."""
    return [{"sequence": [[float(i + t) for t in range(lengths[0])], [float(i - t) for t in range(lengths[1])]],
             "label": "xy"[i % 2]} for i in range(n)]


def test_rows_written_channels_first_are_warned_about(tmp_path: Path, caplog) -> None:
    # 10 rows of 2 channels x 24 steps: read as written, each row is 2 steps of 24 features (the transposed series).
    train = write_jsonl(tmp_path / "train.jsonl", _channel_rows(10, (24, 24)))
    datamodule = table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train))
    with caplog.at_level("WARNING", logger="seqtrain.checks.tables"):
        datamodule.setup()
    assert datamodule.facts.num_features == 24  # the layout is read as documented; the warning says what it means
    warned = [r.getMessage() for r in caplog.records if "channels first" in r.getMessage()]
    assert len(warned) == 1 and f"{train}, column 'sequence': every training row has 2 steps of 24 features" in warned[0]
    assert "x.T.tolist()" in warned[0]


def test_rows_of_steps_are_not_taken_for_channels_first(tmp_path: Path, caplog) -> None:
    # The same series written one list per step (24 steps of 2 features; and rows of several lengths): no warning.
    rows = [{"sequence": [list(s) for s in zip(*r["sequence"])], "label": r["label"]} for r in _channel_rows(10, (24, 24))]
    rows = [{"sequence": r["sequence"] + [[0.0, 1.0]] * (i % 3), "label": r["label"]} for i, r in enumerate(rows)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    with caplog.at_level("WARNING", logger="seqtrain.checks.tables"):
        table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train)).setup()
    assert not [r for r in caplog.records if "channels first" in r.getMessage()]


def test_channels_of_different_lengths_name_the_channels_first_layout(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", _channel_rows(10, (24, 21)))
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train)))
    assert message.startswith(f"{train}, line 1, column 'sequence': ragged feature vectors: step 2 has 21 values, step 1 "
                              "has 24 (2 lists of 24+ values")
    assert "channels first" in message


@pytest.mark.parametrize("writer", [write_csv, write_jsonl])
def test_regression_targets_left_empty_are_counted_in_one_error(tmp_path: Path, writer) -> None:
    # Rows 3, 8 and 12 (from 1) have no target: one error names all three and the fix, not one row per run.
    empty = {2, 7, 11}
    rows = [{"sequence": [float(i), float(i + 1), 2.0], "y": None if i in empty else float(i)} for i in range(15)]
    if writer is write_jsonl:
        for i in empty:
            del rows[i]["y"]
    path = writer(tmp_path / f"train{'.csv' if writer is write_csv else '.jsonl'}", rows)
    message = setup_error(table(tmp_path, train_files=str(path), task="regression", target_column="y"))
    unit = "row" if writer is write_csv else "line"
    assert message.startswith(f"{path}, {unit} 3, column 'y': an empty or missing target; 3 of the file's 15 rows have "
                              f"none ({unit} 3, {unit} 8, {unit} 12)")
    assert "df.dropna(subset=['y'])" in message


def test_one_very_long_series_among_short_ones_is_warned_about(tmp_path: Path, caplog) -> None:
    # 19 rows of 20 steps and, at row 7, one of 3,000: under the 10,000-step refusal, but 150 times the median (20).
    rows = [{"sequence": [float(j % 7) for j in range(3000 if i == 6 else 20)], "label": "xy"[i % 2]} for i in range(20)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    datamodule = table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train))
    with caplog.at_level("WARNING", logger="seqtrain.checks.tables"):
        datamodule.setup()
    warned = [r.getMessage() for r in caplog.records if "times the training median" in r.getMessage()]
    assert warned and warned[0].startswith(f"data: {train}, line 7, column 'sequence': a sequence of 3,000 steps, 150 "
                                           "times the training median of 20 (1 of the split's 20 rows")
    assert "data.max_length=20" in warned[0]


def test_long_series_of_spread_lengths_are_not_warned_about(tmp_path: Path, caplog) -> None:
    # Lengths from 10 to 2,900 steps: the longest is 2,900 steps but under 100 times the median (1,455).
    rows = [{"sequence": [float(j % 5) for j in range(10 + 290 * i)], "label": "xy"[i % 2]} for i in range(11)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    with caplog.at_level("WARNING", logger="seqtrain.checks.tables"):
        table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train)).setup()
    assert not [r for r in caplog.records if "times the training median" in r.getMessage()]


def test_feature_counts_that_differ_by_row_name_the_channels_first_layout(tmp_path: Path) -> None:
    # Two channels of one length within each row, another length in each row (20 + i steps), written channels first:
    # each row reads as 2 steps of 20 + i features, so the feature counts differ from row to row.
    rows = [{"sequence": [[float(t) for t in range(20 + i)], [float(-t) for t in range(20 + i)]], "label": "xy"[i % 2]}
            for i in range(10)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    message = setup_error(table(tmp_path, train_files=str(train), val_files=str(train), test_files=str(train)))
    assert message.startswith(f"{train}, line 2, column 'sequence': step 1 has 21 features; the training data has 20 per step")
    assert "channels first" in message and "x.T.tolist()" in message
