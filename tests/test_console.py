"""What a default run prints: the recipe, progress, results and paths, without dependencies' noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import ROOT, run_train

NOISE = [
    "💡 Tip",                                  # Lightning's adverts (litlogger, litmodels)
    "anonymous setting",                       # wandb 0.31 on Lightning's WandbLogger
    "FLOPs",                                   # Lightning's model summary, empty for RNNs
    "Warning:", "is deprecated",               # deprecations raised inside dependencies
    "transfer_batch_to_device",                # Lightning's note on an override seqtrain makes on purpose
    "Run history:", "Run summary:",            # wandb repeating the results at exit
]


def test_a_default_run_prints_what_the_user_needs_and_no_noise(tmp_path: Path) -> None:
    proc = run_train("experiment=vowels_bigru", "debug=smoke", "trainer.accelerator=cpu", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    for noise in NOISE:
        assert noise not in output, noise
    assert output.count("\nSequenceModel(") == 1  # the model, once (its other members inside it: `2 x SequenceModel(`)
    assert "recipe: " in output and "experiment=vowels_bigru" in output and "model: cell=gru hidden_size=64" in output
    # The small-set rule (the table defaults' for 270 series) says what it set: every row trains, so no validation.
    assert "recipe.small_classification: data.val_fraction=0" in output and "model.members=3" in output
    assert "Epoch 0: 100%" in output  # progress
    assert f"run directory: {tmp_path}" in output and "\nval: loss=" not in output and "\ntest: loss=" in output
    assert f"Run data is saved locally in {tmp_path}/wandb/offline-run-" in output  # where the wandb run is
    # The baseline beside the result, as metrics.json saves it.
    baseline = json.loads((tmp_path / "metrics.json").read_text())["baseline"]
    assert baseline["name"].startswith("always the majority class")
    assert f"\nbaseline test: acc={baseline['test']['test/acc']:.4f}  ({baseline['name']})" in output

    # Predicting with the run prints its rows and metrics, without the same noise.
    test_files = OmegaConf.load(tmp_path / "config.yaml").data.test_files
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"), str(tmp_path), "--files", test_files,
                           "--out", str(tmp_path / "predictions.csv")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    for noise in NOISE:
        assert noise not in output, noise
    assert "wrote 370 rows to" in output and "metrics: test/loss=" in output


def test_a_forecast_prints_the_linear_autoregression_and_saves_it(tmp_path: Path) -> None:
    """A seasonal series the linear autoregression fits exactly (x_t = x_(t-12)): its line beside the result, as
    metrics.json saves it, and the note naming the AR highway, which it beats the model by on validation."""
    import math

    rows = "".join(f"{t},{10 + math.sin(2 * math.pi * t / 12) + 0.5 * math.cos(4 * math.pi * t / 12):.6f}\n" for t in range(120))
    (tmp_path / "series.csv").write_text("t,load\n" + rows)
    run = tmp_path / "run"
    proc = run_train("data=forecast", f"data.train_files={tmp_path / 'series.csv'}", "data.window=16", "trainer.max_epochs=2",
                     "logger=none", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    linear = json.loads((run / "metrics.json").read_text())["baseline_linear"]
    assert linear["name"] == "a linear autoregression on the 16-step window, least squares on the training windows"
    assert f"\nlinear test: mse={linear['test']['test/mse']:.4f}  rmse={linear['test']['test/rmse']:.4f}" in output
    assert linear["test"]["test/rmse"] < 1e-3 and linear["highway"] is False
    assert "\nnote: on the val split the linear autoregression is ahead of the model" in output


def test_a_dataset_read_again_for_the_recipe_warns_of_its_files_once(tmp_path: Path) -> None:
    """The small-set rule reads a small numeric set again without its carve-out: what the first read said about the
    files (here: labels 0 and 0.0 are one class) is said once, on the console and in the run's log; what changed (the
    split) is said again."""
    rows = [f"{' '.join(str((i * 7 + t) % 5) for t in range(12))},{i % 2}" for i in range(40)]
    (tmp_path / "train.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("sequence,label\n" + "\n".join(r[:-1] + f"{int(r[-1])}.0" for r in rows[:10]) + "\n")
    run = tmp_path / "run"
    proc = run_train("data=table", f"data.train_files={tmp_path / 'train.csv'}", f"data.test_files={tmp_path / 'test.csv'}",
                     "trainer.max_epochs=1", "logger=none", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in (proc.stdout + proc.stderr, (run / "train.log").read_text()):
        assert text.count("labels written differently that are one value are one class") == 1
        assert text.count("data: the val split is carved from the training data") == 1
        assert text.count("data: no val split (data.val_fraction=0)") == 1


@pytest.mark.slow  # a second run for a display option (~7 s)
def test_lightning_summary_is_an_override_away(tmp_path: Path) -> None:
    proc = run_train("experiment=vowels_bigru", "debug=smoke", "trainer.accelerator=cpu", "logger=none",
                     "trainer.enable_model_summary=true", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Trainable params" in proc.stdout + proc.stderr
