"""What seqtrain promises when things go wrong: divergence, kills during saves, secrets, reproducibility."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from conftest import ROOT, run_train
from seqtrain.batch import Batch
from seqtrain.checkpoint import load_checkpoint
from seqtrain.checkpoint_io import AtomicCheckpointIO
from seqtrain.models import SequenceModel
from seqtrain.task import DivergedError, SequenceTask

SMOKE = ["debug=smoke", "trainer.accelerator=cpu"]


class PoisonAfter(nn.Module):
    """Wraps a model; from call ``n`` on, its predictions are NaN (a stand-in for a blow-up)."""

    def __init__(self, model: nn.Module, n: int) -> None:
        super().__init__()
        self.model, self.n, self.calls = model, n, 0

    def forward(self, inputs: Tensor, lengths: Tensor | None = None, state: Any = None) -> tuple[Tensor, Any]:
        preds, state = self.model(inputs, lengths, state)
        self.calls += 1
        return (preds * float("nan") if self.calls >= self.n else preds), state


@pytest.mark.parametrize("tbptt_steps", [None, 4])
def test_divergence_stops_before_the_optimizer_applies_the_step(tbptt_steps: int | None) -> None:
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=None, num_features=2, num_outputs=1,
                          per_step_targets=True)
    snapshots: list[dict[str, Tensor]] = []

    class Snapshot(pl.Callback):
        def on_before_optimizer_step(self, *args: Any) -> None:  # runs before the task's own hook
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    batches = [Batch(torch.randn(2, 8, 2), torch.full((2,), 8), torch.randn(2, 8, 1)) for _ in range(5)]
    task = SequenceTask(PoisonAfter(model, n=3), "regression", 1, functools.partial(torch.optim.SGD, lr=0.1),
                        tbptt_steps=tbptt_steps)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[Snapshot()])
    with pytest.raises(DivergedError, match="non-finite gradient norm"):
        trainer.fit(task, train_dataloaders=DataLoader(batches, batch_size=None, collate_fn=lambda b: b))
    assert len(snapshots) == 3  # two good steps, then the poisoned one
    # The weights are those from just before the poisoned step: it was never applied.
    for key, value in model.state_dict().items():
        assert torch.isfinite(value).all(), key
        assert torch.equal(value, snapshots[-1][key]), key
    assert not torch.equal(snapshots[0]["output_layer.weight"], snapshots[-1]["output_layer.weight"])


def test_diverged_run_is_marked_and_keeps_its_last_good_checkpoint(tmp_path: Path) -> None:
    proc = run_train(
        "data=adding", "data.seq_len=10", "optimizer=sgd", "optimizer.lr=1e30", "optimizer.momentum=0.0",
        "trainer.gradient_clip_val=null", "callbacks.last_checkpoint.every_n_train_steps=1",
        "trainer.limit_train_batches=50", "logger=csv", *SMOKE, f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode != 0
    assert "non-finite gradient norm" in proc.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "global step" in metrics["error"]
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())


SAVER = """
import sys, torch
from seqtrain.checkpoint_io import AtomicCheckpointIO
io, path, i = AtomicCheckpointIO(), sys.argv[1], 0
while True:
    i += 1
    io.save_checkpoint({"step": i, "weights": torch.full((4_000_000,), float(i))}, path)
    print(i, flush=True)
"""


@pytest.mark.parametrize("kill_after", [0.3, 0.7, 1.1])
def test_a_kill_during_a_save_leaves_a_loadable_checkpoint(tmp_path: Path, kill_after: float) -> None:
    path = tmp_path / "last.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT)
    assert proc.stdout is not None
    proc.stdout.readline()  # one save completed
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    checkpoint = torch.load(path, weights_only=True)  # whatever the kill interrupted, this one is whole
    assert checkpoint["weights"].shape == (4_000_000,)
    assert bool((checkpoint["weights"] == checkpoint["step"]).all())
    leftovers = {p.name for p in tmp_path.iterdir()} - {"last.ckpt"}
    assert all(name.startswith(".last.ckpt.tmp-") for name in leftovers)  # a torn temporary, never the real name
    AtomicCheckpointIO().save_checkpoint({"step": 0}, path)  # the next save clears what a kill left behind
    assert {p.name for p in tmp_path.iterdir()} == {"last.ckpt"}


@pytest.mark.slow  # 14 s; the default suite's resume cases compare weights bitwise with uninterrupted runs too
def test_two_runs_with_one_seed_give_bitwise_equal_weights(tmp_path: Path) -> None:
    args = ["data=vowels", "model=gru", "model.num_layers=2", "model.dropout=0.3", "model.hidden_size=16",
            "trainer.limit_train_batches=4", "logger=none", *SMOKE]
    for name in ("a", "b"):
        proc = run_train(*args, f"hydra.run.dir={tmp_path / name}")
        assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = (torch.load(tmp_path / n / "checkpoints" / "last.ckpt", weights_only=True) for n in ("a", "b"))
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key


def test_api_key_is_written_nowhere(tmp_path: Path) -> None:
    canary = "canary0123456789abcdef0123456789abcdef0123"  # wandb keys are 40 characters
    proc = run_train("data=parity", "logger=wandb", *SMOKE, f"hydra.run.dir={tmp_path}",
                     env={"WANDB_API_KEY": canary})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert canary not in proc.stdout and canary not in proc.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in files)  # the offline run was written ...
    leaks = [p for p in files if canary.encode() in p.read_bytes()]
    assert not leaks, leaks  # ... and the key is in none of the files
