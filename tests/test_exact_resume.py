"""A run killed with SIGKILL mid-epoch and resumed with `ckpt_path=last` ends bitwise equal to one never killed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT

COMMON = ["trainer.accelerator=cpu", "trainer.log_every_n_steps=1", "test=false", "sample_length=0",
          "callbacks.last_checkpoint.every_n_train_steps=3", "trainer.num_sanity_val_steps=0"]

CASES = {
    # The bucketed sampler with shuffling, dropout between layers, two dataloader workers.
    "bucketed": ["data=vowels", "data.num_workers=2", "data.batch_size=16", "model=gru", "model.num_layers=2",
                 "model.dropout=0.5", "model.hidden_size=32", "trainer.max_epochs=3"],
    # Stateful language-model streams with truncated BPTT: the carried state must come back too.
    "stateful": ["data=shakespeare", "data.stateful=true", "data.max_chars=60000", "data.seq_len=64",
                 "data.batch_size=8", "task.tbptt_steps=16", "model=lstm", "model.num_layers=2", "model.dropout=0.3",
                 "model.hidden_size=32", "trainer.max_epochs=2", "trainer.limit_val_batches=4"],
}


def _train(args: list[str], run_dir: Path, version: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, *COMMON, "logger=csv", f"logger.csv.version={version}",
         f"hydra.run.dir={run_dir}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _step_losses(run_dir: Path, version: str) -> dict[int, float]:
    with open(run_dir / "csv" / version / "metrics.csv") as f:
        return {int(row["step"]): float(row["train/loss_step"]) for row in csv.DictReader(f) if row.get("train/loss_step")}


def _saved_step(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True, map_location="cpu")["global_step"]
    except Exception:  # noqa: BLE001 - not written yet
        return -1


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path: Path, case: str) -> None:
    args = CASES[case]
    whole = _train(args, tmp_path / "whole", "run")
    _, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err[-3000:]

    killed_dir = tmp_path / "killed"
    killed = _train(args, killed_dir, "before")
    last = killed_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while _saved_step(last) < 3 and time.time() < deadline:  # the first mid-epoch checkpoint
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    resume_step = _saved_step(last)
    assert resume_step >= 3

    resumed = _train([*args, "ckpt_path=last"], killed_dir, "after")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]

    a = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(last, weights_only=True)
    assert a["global_step"] == b["global_step"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    for sa, sb in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
        for name in sa:
            assert torch.equal(torch.as_tensor(sa[name]), torch.as_tensor(sb[name])), name
    # The per-step training losses after the resume point are the same numbers. (Rows are keyed by
    # Lightning's logging step, one per batch; resume_step counts optimizer steps, several per batch
    # under truncated BPTT.)
    whole_losses, after = _step_losses(tmp_path / "whole", "run"), _step_losses(killed_dir, "after")
    assert len(after) >= 10 and min(after) > 0
    assert {s: whole_losses[s] for s in after} == after
