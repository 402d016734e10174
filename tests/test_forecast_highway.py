"""`model.ar_highway` from config to checkpoint: refusals before data is read, old checkpoints, an exact resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from seqtrain.config import ConfigError, check_options, check_targets
from seqtrain.facts import DataFacts, fact_differences
from seqtrain.resume_checks import config_changes

sys.path.insert(0, str(ROOT / "tests" / "data"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.ar_highway=0"], "model.ar_highway=0: must be an integer >= 1"),
        (["model.ar_highway=all"], "model.ar_highway='all': must be an integer >= 1"),
        (["model.ar_highway=true"], "model.ar_highway=True: must be an integer >= 1"),
        (["data=vowels", "model.ar_highway=3"], "model.ar_highway=3 reads each target's own past values, which only "
                                                "forecasting data has"),
        (["data=forecast", "data.mode=many_to_many", "model.ar_highway=3"], "model.ar_highway=3 adds one linear forecast per "
                                                                           "window, but data.mode=many_to_many"),
        (["data=forecast", "data.window=6", "model.ar_highway=12"], "model.ar_highway=12 reads the last 12 steps of each "
                                                                    "window, but data.window=6"),
        (["data=forecast", "data.columns=[load]", "data.target_columns=[temp]", "model.ar_highway=2"],
         "data.target_columns ['temp'] are not among data.columns ['load']"),
    ],
)
def test_bad_highway_settings_are_named_before_data_is_read(compose_train, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_options(compose_train(*overrides))
    assert message in str(error.value)


def test_auto_and_a_fitting_k_pass_the_checks(compose_train) -> None:
    """`auto` is settled by the data's facts (off where it cannot apply); k within the window builds."""
    check_options(compose_train("data=forecast", "data.mode=many_to_many", "model.ar_highway=auto"))
    check_options(compose_train("data=forecast", "data.columns=[load]", "data.target_columns=[temp]", "model.ar_highway=auto"))
    cfg = compose_train("data=forecast", "data.window=6", "model.ar_highway=6", "logger=none", "trainer.accelerator=cpu")
    check_options(cfg)
    check_targets(cfg)


def test_checkpoints_saved_before_the_option_still_match() -> None:
    """A checkpoint without `model.ar_highway` (and without the `window` fact) resumes and rebuilds as it was trained."""
    facts = DataFacts(task="regression", per_step=False, num_outputs=1, num_features=1, target_inputs=(0,), window=6)
    old = {k: v for k, v in facts.to_dict().items() if k != "window"}
    assert fact_differences(old, facts) == {}
    assert fact_differences({**old, "window": 12}, facts) == {"window": (12, 6)}
    assert config_changes({"model": {"cell": "lstm"}}, {"model": {"cell": "lstm", "ar_highway": None}}) == ({}, {})
    assert "model.ar_highway" in config_changes({"model": {"cell": "lstm"}}, {"model": {"cell": "lstm", "ar_highway": "auto"}})[1]


def test_an_old_forecast_checkpoint_rebuilds_without_a_highway() -> None:
    from seqtrain.checkpoint import load_checkpoint, rebuild

    checkpoint = load_checkpoint(ROOT / "tests" / "fixtures" / "pre_pipeline" / "sunspots.ckpt")
    assert "ar_highway" not in checkpoint["seqtrain"]["config"]["model"] and "window" not in checkpoint["seqtrain"]["facts"]
    model, _, facts = rebuild(checkpoint, setup=False)
    assert model.highway is None and facts.window is None


@pytest.mark.slow
def test_a_highway_run_says_what_auto_chose_exports_and_resumes_exactly(tmp_path: Path) -> None:
    """`auto` is the window (said in one line); a finished run extended with `ckpt_path=last` ends where the same run
    never stopped ends (weights, the highway's included, optimizer state and step losses); the export holds it."""
    from test_forecast_relative import trend_rows
    from test_resume_matrix import assert_same_run, finish, resume, start
    from user_files import write_csv

    path = write_csv(tmp_path / "sales.csv", trend_rows(60))
    args = ["data=forecast", f"data.train_files={path}", "model.hidden_size=8", "model.ar_highway=auto", "data.batch_size=8",
            f"data.cache_dir={tmp_path / 'cache'}", "callbacks.last_checkpoint.every_n_train_steps=2", "trainer.max_epochs=4"]
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    output = finish(start(args, whole, "run"))
    # 60 steps: 42 train (70 %); a quarter of them is 10.
    assert "model.ar_highway=auto: 10 (a linear map of each target's last 10 input steps" in output
    first = [a for a in args if not a.startswith("trainer.max_epochs")]
    finish(start([*first, "trainer.max_epochs=2"], stopped, "before"))
    resume(args, stopped)
    assert_same_run(whole, stopped)
    weights = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["model.highway.weight"]
    assert weights.shape == (1, 10) and weights.abs().sum() > 0  # it trained

    from seqtrain.export import export_checkpoint

    onnx_file, difference = export_checkpoint(whole, tmp_path / "model.onnx")
    assert difference < 1e-5
    assert json.loads(onnx_file.with_suffix(".json").read_text())["streamable"] is False
