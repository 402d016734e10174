"""End to end: `python train.py ...` in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, run_train

SMOKE = ["debug=smoke", "trainer.accelerator=cpu"]


def _check_run_dir(run_dir: Path, task: str) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert (run_dir / "config.yaml").is_file() and (run_dir / "data.json").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    best = run_dir / metrics["best_checkpoint"]  # relative to the run directory
    assert best.is_file()
    # Checkpoints hold plain data only: they load with weights_only=True.
    ckpt = torch.load(best, weights_only=True, map_location="cpu")
    assert ckpt["seqtrain"]["facts"]["task"] == task
    assert ckpt["seqtrain"]["config"]["seed"] == 42
    for stage in ("val", "test"):
        assert f"{stage}/loss" in metrics[stage]
    return metrics


def test_multirun_many_to_one_three_backbones_three_wandb_runs(tmp_path: Path) -> None:
    """rnn|lstm|gru on a many-to-one task; each job its own run dir and its own offline wandb run."""
    proc = run_train(
        "-m", "model=rnn,lstm,gru", "data=parity", "data.seq_len=8", "data.min_len=3", *SMOKE,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_ids = set()
    for job, cell in enumerate(["rnn", "lstm", "gru"]):
        run_dir = tmp_path / str(job)
        metrics = _check_run_dir(run_dir, "classification")
        assert {"val/acc", "val/f1"} <= metrics["val"].keys()
        assert f"cell: {cell}" in (run_dir / "config.yaml").read_text()
        offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
        assert len(offline_runs) == 1, offline_runs
        assert list(offline_runs[0].glob("run-*.wandb"))
        run_ids.add(offline_runs[0].name.rsplit("-", 1)[-1])
    assert len(run_ids) == 3


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_many_to_many_language_model(tmp_path: Path, model: str) -> None:
    proc = run_train(
        f"model={model}", "data=shakespeare", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8",
        "model.hidden_size=32", "logger=csv", "sample_length=40", *SMOKE, f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = _check_run_dir(tmp_path, "language_modeling")
    assert {"test/ppl", "test/bpt"} <= metrics["test"].keys()
    assert len(metrics["sample"]) > 40
    assert "sample:" in proc.stdout
    assert (tmp_path / "csv" / "metrics.csv").is_file()


def test_a_projected_lstm_carries_its_state_through_truncated_bptt(tmp_path: Path) -> None:
    """`model.proj_size`: stateful streams carry h (L, B, 8) and c (L, B, 32) from chunk to chunk, and generation reads
    the projected state; the checkpoint holds torch's projection weights."""
    proc = run_train(
        "model=lstm", "data=shakespeare", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8", "model.num_layers=2",
        "model.hidden_size=32", "model.proj_size=8", "task.tbptt_steps=16", "logger=none", "sample_length=40", *SMOKE,
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_check_run_dir(tmp_path, "language_modeling")["sample"]) > 40
    weights = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["state_dict"]
    assert weights["model.backbone.rnn.weight_hr_l1"].shape == (8, 32)
    assert weights["model.output_layer.weight"].shape[1] == 8


def test_callbacks_none_writes_no_checkpoint_and_shows_no_progress_bar(tmp_path: Path) -> None:
    """`callbacks=none` means what configs/callbacks/none.yaml says: Lightning added its own ModelCheckpoint (a file
    each epoch under checkpoints/, tested as the "best") and progress bar where the callbacks had none."""
    import json

    proc = run_train("~experiment", "data=vowels", "model=gru", "model.hidden_size=8", *SMOKE, "logger=none",
                     "callbacks=none", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.rglob("*.ckpt"))
    assert json.loads((tmp_path / "metrics.json").read_text())["best_checkpoint"] is None
    assert "Epoch 0" not in proc.stdout + proc.stderr  # no progress bar


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_a_train_monitor_picks_and_stops_by_each_epochs_own_value_whenever_the_run_validates(tmp_path: Path) -> None:
    """monitor=train/loss: the best checkpoint is the epoch with the lowest train/loss as logged for that epoch (the
    truth: metrics.csv), also when validation runs every 2nd epoch (it was scored with the epoch before's value and
    picked the wrong epoch) or twice an epoch (the run stopped at the first validation: 'could not find the monitored
    key'; early stopping likewise)."""
    import csv

    base = ["~experiment", "data=vowels", "model=gru", "model.hidden_size=8", *SMOKE, "logger=csv", "monitor=train/loss"]
    run_dir = tmp_path / "every2"
    proc = run_train(*base, "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=2", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(run_dir / "csv" / "metrics.csv") as f:
        losses = {int(r["epoch"]): float(r["train/loss"]) for r in csv.DictReader(f) if r["train/loss"]}
    best_epoch = min(losses, key=losses.get)
    saved = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    score = next(v["best_model_score"] for k, v in saved["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert float(score) == pytest.approx(losses[best_epoch]) and saved["epoch"] == best_epoch, (losses, saved["epoch"])

    proc = run_train(*base, "trainer.max_epochs=2", "trainer.val_check_interval=0.5", "callbacks=early_stopping",
                     f"hydra.run.dir={tmp_path / 'twice'}")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_missing_checkpoint_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    proc = run_train("data=parity", *SMOKE, "logger=none", "ckpt_path=last", f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0
    assert "ckpt_path='last'" in proc.stderr and "no checkpoint" in proc.stderr
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("flags", [["--help"], ["--cfg", "job"]])
def test_help_and_cfg_job_import_neither_torch_nor_lightning(flags: list[str]) -> None:
    code = (
        f"import runpy, sys; sys.argv = ['train.py', *{flags!r}]\n"
        "try:\n    runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({'torch', 'lightning', 'wandb', 'datasets'} & set(sys.modules))\n"
        "assert not heavy, f'imported at {sys.argv[1:]}: {heavy}'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
