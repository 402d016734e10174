"""scripts/forecast_study.py: its split is the run's, and its baselines are what they say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("forecast_study", ROOT / "scripts" / "forecast_study.py")
study = importlib.util.module_from_spec(spec)
sys.modules["forecast_study"] = study  # dataclasses look their module up
spec.loader.exec_module(study)


def test_the_scripts_split_and_persistence_are_the_runs(tmp_path: Path) -> None:
    """The CSV the script writes, read by ForecastDataModule: the same val/test target steps and persistence RMSE."""
    from seqtrain.baselines import baselines
    from seqtrain.data import ForecastDataModule

    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=97)) + 50
    series = study.Series("Toy", "none", "none", lambda rows: rows, "month", "value", "a random walk")
    path = study.write_series(tmp_path / "toy.csv", series, ([f"2000-{i:03d}" for i in range(97)], values))
    dm = ForecastDataModule(train_files=str(path), window=5, scale="minmax")
    dm.setup()
    bounds = study.split_bounds(len(values))
    for split in ("val", "test"):
        assert dm.split(split).starts == list(range(*bounds[split]))  # every step of the split is a target
    ours = study.baselines(values)
    theirs = baselines(dm, ("val", "test"))
    assert theirs["val"]["val/rmse"] == pytest.approx(ours["persistence_val"], rel=1e-6)
    assert theirs["test"]["test/rmse"] == pytest.approx(ours["persistence_test"], rel=1e-6)


def test_ar_recovers_an_autoregression_and_the_season_is_found() -> None:
    y = np.zeros(200)
    y[:2] = [1.0, 0.5]
    for t in range(2, 200):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + 2.0 + (0.1 if t % 7 == 0 else 0.0)  # an AR(2) with a small kick
    coef = study.ar_fit(y, 2, 140)
    predicted = study.ar_predict(y, coef, 140, 200)
    by_hand = 0.6 * y[139:199] - 0.3 * y[138:198] + 2.0
    assert np.abs(predicted - by_hand).max() < 0.1
    months = np.arange(240)
    seasonal = 10 * np.sin(2 * np.pi * months / 12) + 0.5 * months + np.random.default_rng(1).normal(scale=0.5, size=240)
    assert study.season(seasonal[:168]) == 12
    found = study.baselines(seasonal)
    start = int(240 * 0.8)  # the test steps: the last 20 %
    assert found["season"] == 12
    assert found["seasonal_test"] == pytest.approx(np.sqrt(np.mean((seasonal[start - 12 : 228] - seasonal[start:]) ** 2)))


@pytest.mark.parametrize("tail", ["", ".astype(dtype)"])
def test_a_pmdarima_dataset_module_is_read_from_its_literal_without_running_it(tail: str) -> None:
    """`--unseen` reads pmdarima's dataset modules (numbers written in the source) with `ast`: the values in order, the
    missing ones (None, np.nan) left out, the steps as the time; no line of the module runs."""
    source = f'''
import numpy as np
raise RuntimeError("a module that runs would stop here")
def load_toy(as_series=False, dtype=np.float64):
    """The toy set: np.array([9, 9]) in a docstring is not it."""
    rslt = np.array([
        3., 1.5, -2,
        np.nan, 7, None]){tail}
    return rslt
'''
    steps, values = study._pmdarima(source)
    assert values.tolist() == [3.0, 1.5, -2.0, 7.0] and steps == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="no `rslt = np.array"):
        study._pmdarima("x = 1\n")
