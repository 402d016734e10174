"""DDP with recurrent backbones: two CPU processes over gloo, as `trainer=ddp` runs on GPUs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_train

DDP_ON_CPU = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true"]
# What DDP says about RNNs when something is wrong: parameters without gradients, or cuDNN
# weights that lost their flat buffer (the `flatten_parameters` warning).
BAD_SIGNS = ["find_unused_parameters", "unused parameters", "flatten_parameters", "single contiguous chunk of memory"]


def check_ddp_run(proc, run_dir: Path) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Starting with 2 processes" in output
    for sign in BAD_SIGNS:
        assert sign not in output, sign
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    return metrics


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_ddp_bucketed_variable_length_batches(tmp_path: Path, model: str) -> None:
    """Vowels: packed variable-length sequences, each rank given whole length-bucketed batches."""
    proc = run_train(
        *DDP_ON_CPU, "data=vowels", "recipe=none", "data.bucket=true", f"model={model}", "model.bidirectional=true",
        "model.hidden_size=16", "debug=smoke", "logger=csv", f"hydra.run.dir={tmp_path}",
    )
    metrics = check_ddp_run(proc, tmp_path)
    assert "val/acc" in metrics["val"]


@pytest.mark.slow
def test_ddp_stateful_streams_with_truncated_bptt(tmp_path: Path) -> None:
    """Shakespeare as per-rank contiguous streams, the LSTM state carried across batches, TBPTT chunks."""
    proc = run_train(
        *DDP_ON_CPU, "data=shakespeare", "data.stateful=true", "data.max_chars=50000", "data.seq_len=32",
        "data.batch_size=4", "task.tbptt_steps=16", "model=lstm", "model.hidden_size=32", "sample_length=20",
        "debug=smoke", "logger=csv", f"hydra.run.dir={tmp_path}",
    )
    metrics = check_ddp_run(proc, tmp_path)
    assert "test/ppl" in metrics["test"]


@pytest.mark.slow
def test_ddp_experiment_recipe(tmp_path: Path) -> None:
    """A shipped recipe under DDP, with the default logger (wandb, offline) on rank 0 only."""
    proc = run_train(*DDP_ON_CPU, "experiment=vowels_bigru", "debug=smoke", f"hydra.run.dir={tmp_path}")
    check_ddp_run(proc, tmp_path)
    assert len(list(tmp_path.glob("wandb/offline-run-*"))) == 1


@pytest.mark.slow
def test_ddp_validation_counts_every_example_once(tmp_path: Path) -> None:
    """63 validation examples (7 per speaker) on 2 ranks: the DDP metrics equal one process's on the same checkpoint."""
    proc = run_train(
        *DDP_ON_CPU, "data=vowels", "data.val_fraction=0.22", "data.batch_size=16", "model=gru",
        "model.hidden_size=16", "trainer.max_epochs=1", "trainer.limit_train_batches=3", "logger=csv", "test=false",
        f"hydra.run.dir={tmp_path}",
    )
    metrics = check_ddp_run(proc, tmp_path)
    data = json.loads((tmp_path / "data.json").read_text())
    single = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / metrics["best_checkpoint"]), "--split", "val"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    alone = json.loads(single.stdout[single.stdout.index("{"):])
    assert data["facts"]["task"] == "classification"
    for key in ("val/loss", "val/acc", "val/f1"):  # a repeated example would move each of these
        assert metrics["val"][key] == pytest.approx(alone[key], rel=1e-5), key
