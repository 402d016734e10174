"""Every file of every config group composes and instantiates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from conftest import config_options

Compose = Callable[..., DictConfig]


@pytest.mark.parametrize("option", config_options("model"))
@pytest.mark.parametrize("facts", [
    {"vocab_size": 11, "padding_idx": 0, "num_outputs": 11, "per_step_targets": True},
    {"num_features": 3, "num_outputs": 4, "per_step_targets": False},
])
def test_model_configs(compose_train: Compose, option: str, facts: dict) -> None:
    cfg = compose_train(f"model={option}")
    model = instantiate(cfg.model, **facts)
    inputs = torch.randint(1, 11, (2, 5)) if "vocab_size" in facts else torch.randn(2, 5, 3)
    preds, _ = model(inputs, torch.tensor([5, 3]))
    expected = (2, 5, 11) if facts["per_step_targets"] else (2, 4)
    assert preds.shape == expected
    assert type(model.backbone.rnn).__name__.lower() == cfg.model.cell


@pytest.mark.parametrize("option", config_options("data"))
def test_data_configs(compose_train: Compose, option: str) -> None:
    cfg = compose_train(f"data={option}")
    datamodule = instantiate(cfg.data)
    assert type(datamodule).__name__ == cfg.data._target_.rsplit(".", 1)[-1]


@pytest.mark.parametrize("option", config_options("optimizer"))
@pytest.mark.parametrize("scheduler", config_options("scheduler"))
def test_optimizer_and_scheduler_configs(compose_train: Compose, option: str, scheduler: str) -> None:
    cfg = compose_train(f"optimizer={option}", f"scheduler={scheduler}")
    params = [torch.nn.Parameter(torch.ones(3))]
    optimizer = instantiate(cfg.optimizer)(params)
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert optimizer.param_groups[0]["lr"] == cfg.optimizer.lr
    factory = instantiate(cfg.scheduler.scheduler)
    assert (factory is None) == (scheduler == "none")
    if factory is not None:
        factory(optimizer)
    assert cfg.scheduler.interval in ("epoch", "step")


@pytest.mark.parametrize("option", config_options("trainer"))
def test_trainer_configs(compose_train: Compose, option: str) -> None:
    import lightning.pytorch as pl

    cfg = compose_train(f"trainer={option}")
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        # Composes with the GPU settings intact; instantiated here on CPU with one device.
        cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.precision = "cpu", 1, "32-true"
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert isinstance(trainer, pl.Trainer)
    assert trainer.gradient_clip_val == cfg.trainer.gradient_clip_val


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_callback_and_logger_configs(compose_train: Compose, group: str) -> None:
    for option in config_options(group):
        cfg = compose_train(f"{group}={option}")
        objects = [instantiate(node) for node in cfg[group].values()] if cfg[group] else []
        assert len(objects) == len(cfg[group] or {})


@pytest.mark.parametrize("option", config_options("debug"))
def test_debug_configs(compose_train: Compose, option: str) -> None:
    cfg = compose_train(f"debug={option}")
    assert cfg.trainer.max_epochs >= 1
