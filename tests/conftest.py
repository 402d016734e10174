"""Shared fixtures: compose the project's real configs, run train.py in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"


def config_options(group: str) -> list[str]:
    """Every option (file) of a config group, for parametrizing."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.fixture
def compose_train(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose configs/train.yaml with overrides, writing into tmp_path."""

    def _compose(*overrides: str) -> DictConfig:
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"paths.output_dir={tmp_path}", *overrides], return_hydra_config=True)
        # As in an app: `${hydra:...}` interpolations resolve, and the job's config has no `hydra` key.
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        return cfg

    return _compose


def run_train(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python train.py ARGS` offline, one thread (tests may run beside each other on 2 cores)."""
    full_env = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    full_env.pop("WANDB_API_KEY", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
