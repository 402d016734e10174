"""Shared fixtures: compose the project's real configs, run train.py in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker is one process of several on the machine's cores: give it one torch
    thread, as the subprocesses it starts get (two workers with two threads each on two cores run ~3x slower)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


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
    """`python train.py ARGS` offline, one thread (tests may run beside each other on 2 cores).

    The run gets a session of its own and writes to files, not pipes: when it fails or times out, what it started
    and left behind (a DDP rank whose peer died waits for it) is killed with it, and the test reads what was written
    at once instead of waiting on pipes a leftover process still holds.
    """
    full_env = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    full_env.pop("WANDB_API_KEY", None)
    full_env.update(env or {})
    command = [sys.executable, str(ROOT / "train.py"), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            out.seek(0), err.seek(0)
            raise subprocess.TimeoutExpired(command, timeout, output=out.read(), stderr=err.read()) from None
        if proc.returncode != 0:
            _kill_group(proc.pid)
        out.seek(0), err.seek(0)
        return subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # nothing of it is left
        pass