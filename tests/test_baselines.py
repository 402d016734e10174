"""The baselines printed beside a run's results, against hand computations on the raw files."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))

from user_files import series_rows, write_csv, write_jsonl  # noqa: E402

from seqtrain.baselines import baselines, describe, describe_linear, linear_autoregression  # noqa: E402
from seqtrain.data import ForecastDataModule, TableDataModule  # noqa: E402


def rows(labels: list[str], targets: list[float] | None = None) -> list[dict]:
    return [{"sequence": [i % 5, 1.0 + i % 3], "label": y, "value": (targets or [0.0] * len(labels))[i]} for i, y in enumerate(labels)]


def test_majority_class_accuracy_is_the_share_of_the_training_majority(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", rows(["b"] * 7 + ["a"] * 3 + ["c"] * 2))
    val = write_jsonl(tmp_path / "val.jsonl", rows(["a", "b", "c", "c"]))
    test = write_jsonl(tmp_path / "test.jsonl", rows(["b", "b", "a", "c", "c"]))
    dm = TableDataModule(train_files=str(train), val_files=str(val), test_files=str(test), cache_dir=str(tmp_path / "c"))
    dm.setup()
    out = baselines(dm, ("val", "test"))
    assert out["name"] == "always the majority class 'b', 58% of the training targets"  # 7 of 12
    assert out["val"] == {"val/acc": pytest.approx(0.25)} and out["test"] == {"test/acc": pytest.approx(0.4)}  # 1 of 4, 2 of 5


def test_regression_mean_errors_are_in_the_data_units(tmp_path: Path) -> None:
    ys = [3.0, 5.0, 10.0, 2.0, 7.5, 4.0]
    test_ys = [1.0, 6.0, 9.5]
    train = write_jsonl(tmp_path / "train.jsonl", rows(["x"] * 6, ys))
    test = write_jsonl(tmp_path / "test.jsonl", rows(["x"] * 3, test_ys))
    dm = TableDataModule(train_files=str(train), val_files=str(test), test_files=str(test), task="regression",
                         target_column="value", cache_dir=str(tmp_path / "c"))
    dm.setup()
    out = baselines(dm, ("test",))
    errors = np.array(test_ys) - np.mean(ys)
    assert out["test"]["test/rmse"] == pytest.approx(math.sqrt(np.mean(errors**2)), rel=1e-6)
    assert out["test"]["test/mae"] == pytest.approx(np.mean(np.abs(errors)), rel=1e-6)


@pytest.mark.parametrize("scale", ["standard", "minmax", "none"])
def test_forecast_persistence_is_the_previous_value(tmp_path: Path, scale: str) -> None:
    series = np.array([r["load"] for r in series_rows(100)])
    path = write_csv(tmp_path / "s.csv", [{"load": v} for v in series])
    dm = ForecastDataModule(train_files=str(path), window=5, scale=scale, val_fraction=0.1, test_fraction=0.2)
    dm.setup()
    out = baselines(dm, ("test",))
    test_start = int(100 * 0.8)  # the last 20% of the steps are test targets
    by_hand = math.sqrt(np.mean((series[test_start:] - series[test_start - 1 : -1]) ** 2))
    assert out["name"].startswith("persistence")
    assert out["test"]["test/rmse"] == pytest.approx(by_hand, rel=1e-5)


def test_forecast_targets_outside_the_inputs_fall_back_to_the_mean(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", series_rows(100))
    dm = ForecastDataModule(train_files=str(path), window=5, columns=["temp"], target_columns=["load"])
    dm.setup()
    assert baselines(dm, ("test",))["name"] == "always the training targets' mean"


@pytest.mark.parametrize(("horizon", "fit_windows"), [(1, 20_000), (3, 20_000), (1, 50)])
def test_forecast_linear_autoregression_is_exact_on_series_that_repeat_their_season(tmp_path: Path, horizon: int,
                                                                                     fit_windows: int) -> None:
    """x_t = x_(t-12), two columns of different seasons: each next value is a linear map of its column's window's
    changes from its last value (weight 1 on the step 12 back), which least squares on the training windows (or on 50
    of them) finds, for every step of a horizon; persistence is far off."""
    t = np.arange(150)
    load = 10 + np.sin(2 * np.pi * t / 12) + 0.5 * np.cos(4 * np.pi * t / 12)
    temp = 3 * np.cos(2 * np.pi * t / 6) - t % 4
    path = write_csv(tmp_path / "s.csv", [{"load": a, "temp": b} for a, b in zip(load, temp)])
    dm = ForecastDataModule(train_files=str(path), window=16, horizon=horizon, val_fraction=0.1, test_fraction=0.2)
    dm.setup()
    linear = linear_autoregression(dm, ("val", "test"), fit_windows=fit_windows)
    persistence = baselines(dm, ("test",))
    assert linear["name"].startswith("a linear autoregression on the 16-step window")
    assert linear["test"]["test/rmse"] < 1e-3 * persistence["test"]["test/rmse"]
    assert persistence["test"]["test/rmse"] > 0.3  # the season moves the series by about half a unit a step


def test_forecast_linear_autoregression_only_where_it_applies(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", series_rows(100))
    covariate = ForecastDataModule(train_files=str(path), window=5, columns=["temp"], target_columns=["load"])
    covariate.setup()
    assert linear_autoregression(covariate, ("test",)) is None  # the target is not an input: no window of its own
    per_step = ForecastDataModule(train_files=str(path), window=5, columns=["load"], mode="many_to_many")
    per_step.setup()
    assert linear_autoregression(per_step, ("test",)) is None


def test_a_linear_autoregression_ahead_on_validation_names_the_ar_highway() -> None:
    linear = {"name": "a linear autoregression", "val": {"val/rmse": 1.0}, "test": {"test/rmse": 1.1}}
    lines = describe_linear({**linear, "highway": False}, {"val": {"val/rmse": 1.5}, "test": {"test/rmse": 1.0}})
    assert lines[:2] == ["linear val: rmse=1.0000  (a linear autoregression)", "linear test: rmse=1.1000  (a linear autoregression)"]
    assert len(lines) == 3 and "model.ar_highway=auto model.ar_highway_fit=fixed" in lines[2]
    assert len(describe_linear({**linear, "highway": True}, {"val": {"val/rmse": 1.5}})) == 2  # the highway is already there
    assert len(describe_linear({**linear, "highway": False}, {"val": {"val/rmse": 0.9}})) == 2  # the model is ahead
    assert len(describe_linear({**linear, "highway": False}, {})) == 2  # no validation to judge by (the test split never does)


def test_a_model_no_better_than_its_baseline_is_warned_of() -> None:
    baseline = {"name": "always x", "val": {"val/acc": 0.6}, "test": {"test/acc": 0.5}}
    lines = describe(baseline, {"val": {"val/acc": 0.9}, "test": {"test/acc": 0.5}})
    assert lines[:2] == ["baseline val: acc=0.6000  (always x)", "baseline test: acc=0.5000  (always x)"]
    assert len(lines) == 3 and lines[2].startswith("warning: test/acc=0.5000 is no better than the baseline's 0.5000")
    regression = {"name": "mean", "test": {"test/rmse": 2.0}}
    assert len(describe(regression, {"test": {"test/rmse": 1.5}})) == 1
    assert "no better" in describe(regression, {"test": {"test/rmse": 2.5}})[-1]


def test_language_model_unigram_is_the_smoothed_training_frequencies(tmp_path: Path) -> None:
    from seqtrain.data import TextDataModule

    (tmp_path / "train.txt").write_text("aab\n" * 4)  # 16 characters: windows of 5 score all but the first
    (tmp_path / "test.txt").write_text("ab\nba\n")  # 6: targets b \n b a \n
    dm = TextDataModule(train_files=str(tmp_path / "train.txt"), val_files=str(tmp_path / "test.txt"),
                        test_files=str(tmp_path / "test.txt"), seq_len=5, batch_size=1, cache_dir=str(tmp_path / "c"))
    dm.setup()
    assert dm.facts.num_outputs == 5  # <pad>, <unk>, a, b, \n
    out = baselines(dm, ("test",))
    # training targets: a x7, b x4, \n x4; add one to each of the 5 ids: 8, 5, 5, 1, 1 of 20
    nats = -np.mean(np.log([5 / 20, 5 / 20, 5 / 20, 8 / 20, 5 / 20]))
    assert out["test"]["test/bpt"] == pytest.approx(nats / math.log(2), rel=1e-6)
    assert out["test"]["test/ppl"] == pytest.approx(math.exp(nats), rel=1e-6)
