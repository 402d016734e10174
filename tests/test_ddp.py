"""DDP with recurrent backbones: two CPU processes over gloo, as `trainer=ddp` runs on GPUs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_train

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
        *DDP_ON_CPU, "data=vowels", "data.bucket=true", f"model={model}", "model.bidirectional=true",
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
