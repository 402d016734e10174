"""Forecasting relative to the window (`model.relative_to`) and `data.window=auto`, from config to prediction and export."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, run_train
from seqtrain.config import ConfigError, check_options
from seqtrain.data import ForecastDataModule
from seqtrain.facts import DataFacts, fact_differences
from seqtrain.predict import Predictor
from seqtrain.resume_checks import config_changes

sys.path.insert(0, str(ROOT / "tests" / "data"))
from user_files import series_rows, write_csv  # noqa: E402


def trend_rows(n: int) -> list[dict]:
    """A rising series with a season: its test steps lie above every training step."""
    return [{"month": i, "sales": 100 + 3 * i + 10 * math.sin(i / 2)} for i in range(n)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.relative_to=first"], "model.relative_to='first'"),
        (["data=forecast", "data.columns=[load]", "data.target_columns=[temp]", "model.relative_to=last"],
         "data.target_columns ['temp'] are not among data.columns ['load']"),
        (["data=vowels", "model.relative_to=last"], "model.relative_to=last reads each target's own past values, which only forecasting data has"),
        (["data=forecast", "data.mode=many_to_many", "model.relative_to=mean"], "model.relative_to=mean needs one forecast per window"),
    ],
)
def test_bad_relative_settings_are_named_before_data_is_read(compose_train, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_options(compose_train(*overrides))
    assert message in str(error.value)


def test_auto_passes_the_config_checks_when_a_target_is_not_an_input(compose_train) -> None:
    """The recipe's `auto` never refuses a forecast of one column from others: the data settles it."""
    check_options(compose_train("data=forecast", "data.columns=[load]", "data.target_columns=[temp]", "model.relative_to=auto"))


def test_the_facts_say_which_input_each_output_forecasts(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "series.csv", series_rows(120))
    dm = ForecastDataModule(train_files=str(path), columns=["temp", "load"], target_columns=["load"], window=6, horizon=2)
    dm.setup()
    assert dm.facts.target_inputs == (1, 1)  # 'load' is input feature 1, for each of the 2 steps ahead
    other = ForecastDataModule(train_files=str(path), columns=["temp"], target_columns=["load"], window=6)
    other.setup()
    assert other.facts.target_inputs is None  # 'load' is not an input: nothing to forecast relative to


def test_checkpoints_saved_before_target_inputs_still_match_their_data() -> None:
    facts = DataFacts(task="regression", per_step=False, num_outputs=1, num_features=1, target_inputs=(0,))
    old = {k: v for k, v in facts.to_dict().items() if k != "target_inputs"}  # as a checkpoint saved before this fact
    assert fact_differences(old, facts) == {}
    assert fact_differences({**old, "target_inputs": None}, facts) == {"target_inputs": (None, [0])}
    # A resume of such a run keeps the option off; turning it on would change what it trains.
    assert config_changes({"model": {"cell": "lstm"}}, {"model": {"cell": "lstm", "relative_to": None}}) == ({}, {})
    assert "model.relative_to" in config_changes({"model": {"cell": "lstm"}}, {"model": {"cell": "lstm", "relative_to": "last"}})[1]


def test_a_short_trending_series_trains_predicts_and_exports(tmp_path: Path) -> None:
    """36 steps: `data.window=auto` says what it chose; prediction (also recursive) and export use the model's window
    and level, and the predictor on the test steps gives the run's own test metrics."""
    rows = trend_rows(36)
    path = write_csv(tmp_path / "sales.csv", rows)
    run_dir = tmp_path / "run"
    proc = run_train("data=forecast", f"data.train_files={path}", "data.window=auto", "model.relative_to=last",
                     "model.hidden_size=8", "trainer.max_epochs=3", "logger=none", "trainer.accelerator=cpu",
                     f"data.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 36 steps: 25 train (70 %); a quarter of them is 6.
    assert "data.window=auto: 6 (a quarter of the 25 training steps, at least 2, at most 48): 19 training windows" in proc.stdout + proc.stderr
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert json.loads((run_dir / "data.json").read_text())["state"]["window"] == 6

    predictor = Predictor.from_checkpoint(run_dir)
    assert predictor.datamodule.window == 6  # from the checkpoint's state, before any data is read
    test_file = write_csv(tmp_path / "test.csv", rows[28 - 6 :])  # the test steps (the last 20 %) and the window before
    measured = predictor.predict([test_file]).metrics
    for key, value in saved.items():
        assert measured[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    series = [r["sales"] for r in rows]
    three = predictor.predict(series, steps=3).table["sales"].tolist()
    assert three[1] == pytest.approx(predictor.predict([*series, three[0]]).table["sales"][0], rel=1e-5)
    # By hand: the network on the last window shifted by its last value, plus that value, in sales.
    state = json.loads((run_dir / "data.json").read_text())["state"]
    scaled = (torch.tensor(series[-6:], dtype=torch.float64) - state["shift"][0]) / state["scale"][0]
    net = predictor.model
    with torch.no_grad():
        hidden, _ = net.backbone((scaled - scaled[-1]).float()[None, :, None], None, None)  # (1, 6, H)
        change = float(net.output_layer(hidden[:, -1])[0, 0])
    expected = (change + float(scaled[-1])) * state["scale"][0] + state["shift"][0]
    assert three[0] == pytest.approx(expected, rel=1e-5)

    from seqtrain.export import export_checkpoint

    onnx_file, difference = export_checkpoint(run_dir, tmp_path / "model.onnx")
    assert difference < 1e-5
    assert json.loads(onnx_file.with_suffix(".json").read_text())["streamable"] is False
