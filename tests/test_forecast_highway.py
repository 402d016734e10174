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
@pytest.mark.parametrize("fit", [None, "start"])
def test_a_highway_run_says_what_auto_chose_exports_and_resumes_exactly(tmp_path: Path, fit: str | None) -> None:
    """`auto` is the window (said in one line); a finished run extended with `ckpt_path=last` ends where the same run
    never stopped ends (weights, the highway's included, optimizer state and step losses), with the highway fitted by
    least squares at the start too (the resume fits it again, then the checkpoint's weights replace it); the export
    holds it."""
    from test_forecast_relative import trend_rows
    from test_resume_matrix import assert_same_run, finish, resume, start
    from user_files import write_csv

    path = write_csv(tmp_path / "sales.csv", trend_rows(60))
    args = ["data=forecast", f"data.train_files={path}", "model.hidden_size=8", "model.ar_highway=auto", "data.batch_size=8",
            f"data.cache_dir={tmp_path / 'cache'}", "callbacks.last_checkpoint.every_n_train_steps=2", "trainer.max_epochs=4",
            *([f"model.ar_highway_fit={fit}"] if fit else [])]
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


# --- model.ar_highway_fit: the highway's weights from the least-squares AR fit on the training windows -----------------


def _windows(n: int = 80, steps: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, steps, 2) windows of a seasonal series (feature 0) beside noise (feature 1) and each one's next value."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n + steps, dtype=torch.float64)
    series = torch.sin(t * 2 * torch.pi / 5) + 0.02 * t + 0.1 * torch.randn(len(t), generator=g, dtype=torch.float64)
    inputs = torch.stack([torch.stack([series[i : i + steps], torch.randn(steps, generator=g, dtype=torch.float64)], 1)
                          for i in range(n)])
    return inputs.float(), series[steps : steps + n, None].float()


def _ridge_fit_by_leaving_each_window_out(a, b):
    """numpy's ridge solution for the ridge of `RIDGES` whose fits without each window (refitted N times) forecast
    the windows left out best, and that ridge."""
    import numpy as np

    from seqtrain.models.highway import RIDGES

    n, k = a.shape

    def solve(a, b, ridge):
        return np.linalg.solve(a.T @ a + ridge * n * np.eye(k), a.T @ b)

    errors = [np.mean([(a[i] @ solve(np.delete(a, i, 0), np.delete(b, i), ridge) - b[i]) ** 2 for i in range(n)])
              for ridge in RIDGES]
    ridge = RIDGES[int(np.argmin(errors))]
    return solve(a, b, ridge), ridge, float(np.sqrt(min(errors)))


def _highway_model(fit: str, relative_to: str | None = "last", steps: int = 6):
    from seqtrain.models.sequence_model import SequenceModel

    torch.manual_seed(0)
    return SequenceModel(cell="gru", hidden_size=8, num_outputs=1, num_features=2, embedding_dim=None, target_inputs=[0],
                         window=steps, relative_to=relative_to, ar_highway="auto", ar_highway_fit=fit)


@pytest.mark.parametrize("relative_to", ["last", "mean", None])
def test_the_fit_is_numpys_ridge_least_squares_and_a_silent_network_forecasts_with_it(relative_to: str | None) -> None:
    """The highway's weights are the ridge solution numpy computes on the windows in the frame the highway reads (each
    window less its last value, or its mean, or as it is), its ridge the one whose fits without each window (refitted
    one by one) forecast it best; with the network's output layer silenced, the model's forecast is that linear AR's,
    back in the series' frame."""
    import numpy as np

    inputs, targets = _windows()
    model = _highway_model("start", relative_to)
    ridges, rmse, left_out = model.fit_highway(inputs, targets)
    x = inputs[:, :, 0].double().numpy()
    level = {"last": x[:, -1], "mean": x.mean(axis=1), None: np.zeros(len(x))}[relative_to]
    a, b = x - level[:, None], targets[:, 0].double().numpy() - level
    expected, ridge, expected_left_out = _ridge_fit_by_leaving_each_window_out(a, b)
    assert float(ridges[0]) == ridge
    np.testing.assert_allclose(model.highway.weight[0].detach().double().numpy(), expected, rtol=1e-4, atol=1e-6)
    assert float(rmse[0]) == pytest.approx(float(np.sqrt(np.mean((a @ expected - b) ** 2))), rel=1e-4)
    assert float(left_out[0]) == pytest.approx(expected_left_out, rel=1e-4)
    with torch.no_grad():
        model.output_layer.weight.zero_()
        model.output_layer.bias.zero_()
        forecast = model.eval()(inputs)[0][:, 0].double().numpy()
    np.testing.assert_allclose(forecast, level + a @ expected, rtol=1e-4, atol=1e-4)


def test_a_fixed_fit_is_kept_and_a_started_one_trains() -> None:
    inputs, targets = _windows()
    for fit in ("fixed", "start"):
        model = _highway_model(fit)
        model.fit_highway(inputs, targets)
        fitted = model.highway.weight.detach().clone()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.01, weight_decay=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model.train()(inputs)[0], targets).backward()
            optimizer.step()
        assert torch.equal(model.highway.weight, fitted) == (fit == "fixed"), fit


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data=forecast", "model.ar_highway_fit=start"], "model.ar_highway_fit=start fits the AR highway's weights, but "
                                                          "model.ar_highway=null"),
        (["data=forecast", "model.ar_highway=auto", "model.ar_highway_fit=yes"], "model.ar_highway_fit='yes'"),
    ],
)
def test_a_highway_fit_without_a_highway_or_of_no_kind_is_refused(compose_train, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_options(compose_train(*overrides))
    assert message in str(error.value)


def test_a_fixed_highway_run_keeps_the_fit_on_its_training_windows(tmp_path: Path) -> None:
    """`python train.py data=forecast model.ar_highway=auto model.ar_highway_fit=fixed`: the run says what it fitted, and
    its saved highway is numpy's ridge fit on the windows its datamodule trained on, after training."""
    import numpy as np

    from seqtrain.checkpoint import load_checkpoint, rebuild
    from test_forecast_relative import trend_rows
    from test_resume_matrix import finish, start
    from user_files import write_csv

    path = write_csv(tmp_path / "sales.csv", trend_rows(60))
    args = ["data=forecast", f"data.train_files={path}", "model.hidden_size=8", "model.ar_highway=auto",
            "model.ar_highway_fit=fixed", "data.batch_size=8", f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_epochs=3"]
    output = finish(start(args, tmp_path / "run", "run"))
    assert "model.ar_highway_fit=fixed: the AR highway's 10 weights per output are kept at the least-squares fit on" in output
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    model, datamodule, _ = rebuild(checkpoint)
    datamodule.setup("fit")
    train = datamodule.split("train")
    x = torch.stack([train[i][0][:, 0] for i in range(len(train))]).double().numpy()
    y = torch.stack([train[i][1][0] for i in range(len(train))]).double().numpy()
    a, b = x - x[:, -1:], y - x[:, -1]
    expected, _, _ = _ridge_fit_by_leaving_each_window_out(a, b)
    np.testing.assert_allclose(model.highway.weight[0].detach().double().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_a_second_fit_keeps_the_trained_highway(tmp_path: Path) -> None:
    """In Python: the first `fit` starts the highway at the least-squares fit and trains it; a second `fit` of the same
    task (or a trained task loaded to train on) keeps the weights it has, not the fit."""
    import functools

    import lightning.pytorch as pl

    from seqtrain.data import ForecastDataModule
    from seqtrain.models.sequence_model import SequenceModel
    from seqtrain.task import SequenceTask
    from test_forecast_relative import trend_rows
    from user_files import write_csv

    torch.set_num_threads(1)
    pl.seed_everything(0)
    data = ForecastDataModule(train_files=str(write_csv(tmp_path / "sales.csv", trend_rows(60))), columns=["sales"],
                              window=6, batch_size=8, cache_dir=str(tmp_path / "cache"))
    data.setup("fit")
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=None, relative_to="last", ar_highway="auto",
                          ar_highway_fit="start", **data.facts.model_kwargs())
    task = SequenceTask(model, task=data.facts.task, num_outputs=data.facts.num_outputs,
                        optimizer=functools.partial(torch.optim.AdamW, lr=3e-2))

    def fit(epochs: int) -> None:
        pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False, enable_checkpointing=False,
                   enable_model_summary=False).fit(task, datamodule=data)

    fit(0)  # setup only: the least-squares fit
    fitted = model.highway.weight.detach().clone()
    assert fitted.any()
    fit(2)
    trained = model.highway.weight.detach().clone()
    assert not torch.equal(trained, fitted)
    fit(0)
    assert torch.equal(model.highway.weight, trained)


def test_a_resumed_fit_goes_on_from_the_checkpoints_highway_and_says_so(tmp_path: Path, caplog) -> None:
    """Lightning restores a checkpoint after `setup` has fitted the highway: the resumed task holds the checkpoint's
    trained weights, not a new least-squares fit, and the run says so after the fit's line."""
    import functools
    import logging

    import lightning.pytorch as pl

    from seqtrain.data import ForecastDataModule
    from seqtrain.models.sequence_model import SequenceModel
    from seqtrain.task import SequenceTask
    from test_forecast_relative import trend_rows
    from user_files import write_csv

    torch.set_num_threads(1)
    data = ForecastDataModule(train_files=str(write_csv(tmp_path / "sales.csv", trend_rows(60))), columns=["sales"],
                              window=6, batch_size=8, cache_dir=str(tmp_path / "cache"))
    data.setup("fit")

    def task() -> SequenceTask:
        pl.seed_everything(0)
        model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=None, relative_to="last", ar_highway="auto",
                              ar_highway_fit="start", **data.facts.model_kwargs())
        return SequenceTask(model, task=data.facts.task, num_outputs=data.facts.num_outputs,
                            optimizer=functools.partial(torch.optim.AdamW, lr=3e-2))

    def trainer(epochs: int) -> pl.Trainer:
        return pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                          enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path)

    first = task()
    fitter = trainer(2)
    fitter.fit(first, datamodule=data)
    fitter.save_checkpoint(tmp_path / "two.ckpt")
    fresh = task()
    trainer(0).fit(fresh, datamodule=data)  # what the least-squares fit alone gives
    assert not torch.equal(fresh.model.highway.weight, first.model.highway.weight)

    resumed = task()
    with caplog.at_level(logging.INFO, logger="seqtrain.task"):
        trainer(2).fit(resumed, datamodule=data, ckpt_path=tmp_path / "two.ckpt", weights_only=True)
    assert torch.equal(resumed.model.highway.weight, first.model.highway.weight)
    lines = [r.getMessage() for r in caplog.records if r.name == "seqtrain.task"]
    fit_line = next(i for i, line in enumerate(lines) if "start at the least-squares fit" in line)
    assert "resuming, so the AR highway's weights are the checkpoint's" in lines[fit_line + 1]
    # A fit that tests its checkpoint afterwards loads it without resuming anything: no such line (there was one).
    caplog.clear()
    tested = task()
    with caplog.at_level(logging.INFO, logger="seqtrain.task"):
        trainer(1).fit(tested, datamodule=data)
        trainer(1).test(tested, datamodule=data, ckpt_path=tmp_path / "two.ckpt", weights_only=True, verbose=False)
    assert not any("resuming" in r.getMessage() for r in caplog.records if r.name == "seqtrain.task")


def test_auto_turned_off_by_the_data_says_the_fit_has_nothing_to_fit() -> None:
    from seqtrain.run import settled_ar_highway

    facts = DataFacts(task="regression", per_step=True, num_outputs=1, num_features=1, target_inputs=(0,), window=6)
    assert settled_ar_highway(facts, "fixed").endswith("forecasts at every step); model.ar_highway_fit=fixed has no "
                                                       "highway to fit")
    assert "ar_highway_fit" not in settled_ar_highway(facts)
    on = DataFacts(task="regression", per_step=False, num_outputs=1, num_features=1, target_inputs=(0,), window=6)
    assert settled_ar_highway(on, "fixed").startswith("model.ar_highway=auto: 6 (")
