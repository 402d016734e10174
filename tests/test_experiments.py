"""Every `experiment/` and `hparams_search/` config composes, passes the config checks and runs a tiny fit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import CONFIG_DIR, config_options, run_train
from omegaconf import DictConfig, OmegaConf

from seqtrain.config import check_options, check_targets

Compose = Callable[..., DictConfig]
# Tiny and fast whatever the recipe: a few batches (debug=smoke), small layers and batches, CPU.
TINY = ["debug=smoke", "trainer.accelerator=cpu", "model.hidden_size=16", "data.batch_size=8", "logger=csv"]


def data_choice(path: Path) -> str | None:
    """The `override /data: X` of a config's defaults list (None when it picks no data)."""
    for entry in (yaml.safe_load(path.read_text()) or {}).get("defaults", []):  # experiment=none is empty
        if isinstance(entry, dict) and "override /data" in entry:
            return entry["override /data"]
    return None


def experiment_data(name: str) -> str | None:
    return data_choice(CONFIG_DIR / "experiment" / f"{name}.yaml")


def with_data(names: list[str]) -> list:
    """Parameters for `names`, skipping (with the reason) those whose data config does not exist yet."""
    return [
        pytest.param(name, marks=pytest.mark.skip(reason=f"configs/data/{data}.yaml does not exist yet"))
        if (data := experiment_data(name)) and not (CONFIG_DIR / "data" / f"{data}.yaml").is_file()
        else name
        for name in names
    ]


# `hparams_search=<name>` needs the group in train.yaml's defaults (`- hparams_search: null`).
needs_hparams_search_default = pytest.mark.skipif(
    "hparams_search: null" not in (CONFIG_DIR / "train.yaml").read_text(),
    reason="configs/train.yaml lacks the `- hparams_search: null` default",
)


def available(names: list[str]) -> list[str]:
    return [n for n in names if not (d := experiment_data(n)) or (CONFIG_DIR / "data" / f"{d}.yaml").is_file()]


@pytest.mark.parametrize("name", with_data(config_options("experiment")))
def test_experiment_composes_and_passes_config_checks(compose_train: Compose, name: str) -> None:
    text = (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text()
    assert text.startswith("# @package _global_"), "an experiment sets keys of every group"
    cfg = compose_train(f"experiment={name}")
    check_options(cfg)
    check_targets(cfg)
    assert cfg.data._target_ and cfg.model._target_


def test_default_is_the_stateful_tbptt_lstm_language_model(compose_train: Compose) -> None:
    """`python train.py` = experiment=shakespeare_lm: stateful streams, truncated every data.seq_len steps."""
    cfg = compose_train()
    assert cfg == compose_train("experiment=shakespeare_lm")
    assert cfg.data._target_.endswith("TextDataModule") and cfg.data.stateful is True
    assert cfg.model.cell == "lstm" and cfg.data.seq_len == 64
    # Its keys are valid for any data: another dataset still composes and passes the checks.
    other = compose_train("data=vowels")
    check_options(other)
    check_targets(other)


def test_every_experiment_runs_a_tiny_fit(tmp_path: Path) -> None:
    """One multirun process over every experiment whose data exists: each job trains, validates (unless its config
    trains on every row: the small-set rule's data.val_fraction=0) and tests."""
    names = available(config_options("experiment"))
    proc = run_train("-m", f"experiment={','.join(names)}", *TINY, f"hydra.sweep.dir={tmp_path}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job, name in enumerate(names):
        metrics = json.loads((tmp_path / str(job) / "metrics.json").read_text())
        assert metrics["status"] == "completed", (name, metrics.get("error"))
        validates = OmegaConf.load(tmp_path / str(job) / "config.yaml").data.get("val_fraction", 0.2) != 0
        assert ("val/loss" in metrics["val"]) == validates and "test/loss" in metrics["test"], name


@needs_hparams_search_default
@pytest.mark.parametrize("name", config_options("hparams_search"))
def test_hparams_search_runs_one_trial(tmp_path: Path, name: str) -> None:
    """A search composes with its sweeper, samples one trial and records it in the study's SQLite file."""
    proc = run_train(
        "-m", f"hparams_search={name}", *TINY, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={tmp_path}", timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "optuna.journal").is_file()
    results = list(tmp_path.glob("*/metrics.json"))
    assert len(results) == 1
    assert json.loads(results[0].read_text())["status"] == "completed"
    assert "best: trial" in proc.stdout + proc.stderr
